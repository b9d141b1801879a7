"""showcase.engine: release sensitive microdata as protected aggregates and synthetic data.

The data flows one way: ``read_table`` → ``encode`` → ``count_combinations``
→ ``k_anonymize`` → ``write_parquet``/``write_tsv``; :func:`aggregate` runs
the whole job into a release directory. Synthetic records come from
:mod:`showcase.engine.synthesize` (one function per mode, and the dispatcher
``synthesize.synthesize``); :func:`synthesize_release` and :func:`run_release`
are the whole jobs (``pipeline.synthesize`` and ``pipeline.run``).
"""

__version__ = "0.1.0"

from .aggregates import Aggregates  # noqa: E402
from .aggregates_io import read_parquet, read_tsv, to_arrow, write_parquet, write_tsv  # noqa: E402
from .count import combinations_per_record, count_combinations  # noqa: E402
from .dp.job import dp_aggregate_release  # noqa: E402
from .dp.marginals import dp_aggregate  # noqa: E402
from .encode import EncodedTable, Schema, encode  # noqa: E402
from .errors import InputError, ParameterError, ShowcaseError  # noqa: E402
from .ingest import read_table  # noqa: E402
from .pipeline import AggregateResult, RunResult, SynthesisResult, aggregate, read_aggregates  # noqa: E402
from .pipeline import run as run_release  # noqa: E402
from .pipeline import synthesize as synthesize_release  # noqa: E402
from .prepare import Preparation, load  # noqa: E402
from .protect import k_anonymize  # noqa: E402
from .synthesize.aggregate_seeded import aggregate_seeded  # noqa: E402

__all__ = [
    "Aggregates",
    "AggregateResult",
    "RunResult",
    "SynthesisResult",
    "EncodedTable",
    "InputError",
    "ParameterError",
    "Preparation",
    "Schema",
    "ShowcaseError",
    "__version__",
    "aggregate",
    "aggregate_seeded",
    "combinations_per_record",
    "count_combinations",
    "dp_aggregate",
    "dp_aggregate_release",
    "encode",
    "k_anonymize",
    "load",
    "read_aggregates",
    "read_parquet",
    "read_table",
    "read_tsv",
    "run_release",
    "synthesize_release",
    "to_arrow",
    "write_parquet",
    "write_tsv",
]
