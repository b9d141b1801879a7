"""showcase.engine: release sensitive microdata as protected aggregates and synthetic data.

The data flows one way: ``read_table`` → ``encode`` → ``count_combinations``
→ ``k_anonymize`` → ``write_parquet``/``write_tsv``; :func:`aggregate` runs
the whole job into a release directory.
"""

__version__ = "0.1.0"

from .aggregates import Aggregates  # noqa: E402
from .aggregates_io import read_parquet, read_tsv, to_arrow, write_parquet, write_tsv  # noqa: E402
from .count import combinations_per_record, count_combinations  # noqa: E402
from .encode import EncodedTable, Schema, encode  # noqa: E402
from .errors import InputError, ParameterError, ShowcaseError  # noqa: E402
from .ingest import read_table  # noqa: E402
from .pipeline import AggregateResult, aggregate  # noqa: E402
from .prepare import Preparation, load  # noqa: E402
from .protect import k_anonymize  # noqa: E402

__all__ = [
    "Aggregates",
    "AggregateResult",
    "EncodedTable",
    "InputError",
    "ParameterError",
    "Preparation",
    "Schema",
    "ShowcaseError",
    "__version__",
    "aggregate",
    "combinations_per_record",
    "count_combinations",
    "encode",
    "k_anonymize",
    "load",
    "read_parquet",
    "read_table",
    "read_tsv",
    "to_arrow",
    "write_parquet",
    "write_tsv",
]
