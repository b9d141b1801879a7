"""The aggregate job: counts of every combination of up to L attributes, protected, in a release."""

from __future__ import annotations

from pathlib import Path

from ..aggregates import Aggregates
from ..aggregates_io import write_parquet, write_tsv
from ..constraints import describe
from ..count import validate_length
from ..fingerprint_key import publishable
from ..ingest import Source
from ..output_lock import locks_for_call
from ..prepare import Preparation
from ..protection import Exact, KAnonymity, Protection
from ..release import AGGREGATES_PARQUET, AGGREGATES_TSV, SENSITIVE_PARQUET, SENSITIVE_TSV
from ..resources import Resources
from .protect import aggregate_parameters, aggregate_sections, check_request, inputs, protected_counts
from .results import AggregateResult
from .skeleton import Job, StageProgress, Writer

#: Reporting length when none is given.
DEFAULT_LENGTH = 3


def aggregate_files(released: Aggregates) -> dict[str, Writer]:
    """The aggregates files of a release: Parquet and SDS TSV (``sensitive_*`` when exact)."""
    exact = released.protection == Exact.name
    parquet, tsv = (SENSITIVE_PARQUET, SENSITIVE_TSV) if exact else (AGGREGATES_PARQUET, AGGREGATES_TSV)
    return {parquet: lambda path: write_parquet(released, path), tsv: lambda path: write_tsv(released, path)}


@locks_for_call
def aggregate(
    source: Source,
    *,
    protection: Protection = KAnonymity(),
    length: int | None = None,
    out: str | Path | None = None,
    preparation: Preparation = Preparation(),
    seed: int | None = None,
    force: bool = False,
    threads: int | None = None,
    progress: StageProgress | None = None,
    resources: Resources | None = None,
) -> AggregateResult:
    """Count every combination of up to ``length`` attributes of ``source`` and protect the counts.

    ``source`` is a file (CSV/TSV/Parquet/Arrow), a :class:`pyarrow.Table` or
    a data frame with the Arrow PyCapsule interface. ``protection`` is
    :class:`~showcase.engine.protection.KAnonymity` (default k = 10),
    :class:`~showcase.engine.protection.DifferentialPrivacy` or
    :class:`~showcase.engine.protection.Exact`. With ``out``, writes a release
    directory (aggregates.parquet, aggregates.tsv, metadata.json; exact counts
    as ``sensitive_aggregates.*``) atomically. ``length`` defaults to 3.
    ``seed`` makes DP noise reproducible, for tests only. ``resources``
    (:class:`~showcase.engine.resources.Resources`) sets the memory limit of
    the resource guard (default: half the machine's memory), streaming of
    large inputs (directories, globs, large files: read in row batches) and
    a Dask scheduler to count on.

    Example::

        from showcase.engine import aggregate, KAnonymity
        result = aggregate("cases.csv", protection=KAnonymity(10), length=3)
        result.to_pandas()
    """
    length = validate_length(DEFAULT_LENGTH if length is None else length)
    resources = Resources() if resources is None else resources
    from ..stream import streams

    streamed = streams(source, resources)
    preparation = check_request(
        source, protection, preparation, seed, length, streamed=streamed, scheduler=resources.scheduler
    )
    job = Job("aggregates", out=out, force=force, inputs=inputs(source, protection, preparation),
              threads=threads, progress=progress)  # fmt: skip
    with protected_counts(job, source, protection, length, preparation, seed, resources=resources) as counted:
        result = counted.result
        if out is not None:
            result.files = job.write(
                aggregate_files(result.released),
                lambda: {
                    "input": publishable(counted.loaded.description),
                    "preparation": preparation.describe(),
                    "parameters": aggregate_parameters(counted, protection, length, threads),
                    "resources": resources.describe(),
                    **aggregate_sections(counted),
                    # Public, from the codebook: kept so that a synthesis from this release honours them.
                    **({"constraints": describe(preparation.constraints)} if preparation.constraints else {}),
                },
            )
    return result
