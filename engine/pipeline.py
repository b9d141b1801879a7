"""End-to-end jobs: sensitive file in, release directory out."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .aggregates import Aggregates
from .aggregates_io import describe, write_parquet, write_tsv
from .config import threads as thread_count
from .count import count_combinations, validate_length
from .ingest import check_input
from .prepare import Preparation, describe_input, load
from .protect import k_anonymize, validate_resolution
from .release import (
    AGGREGATES_PARQUET,
    AGGREGATES_TSV,
    METADATA,
    SENSITIVE_PARQUET,
    SENSITIVE_TSV,
    check_output_dir,
    staged_directory,
    utc_now,
    write_json,
)

#: ``progress(stage, done, total)``: stage is one of read, count, write.
StageProgress = Callable[[str, int, int], None]


@dataclass
class AggregateResult:
    """What an aggregate job produced, for summaries."""

    exact: Aggregates
    released: Aggregates
    seconds: dict[str, float] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    @property
    def rare_by_length(self) -> np.ndarray:
        return self.exact.rare_by_length(self.released.resolution or 1)


def _guarantee(released: Aggregates) -> str:
    length = released.reporting_length
    if released.protection == "none":
        return "NONE: these are exact counts, as sensitive as the input data. Do not publish or share them."
    k = released.resolution
    return (
        f"k-anonymity with k={k}: every reported combination of up to {length} attributes "
        f"is shared by at least {k} records; combinations with fewer are not reported, and "
        f"every count (and the record count) is rounded down to a multiple of {k}."
    )


def aggregate(
    input_path: str | Path,
    *,
    length: int,
    resolution: int,
    out: str | Path | None = None,
    preparation: Preparation = Preparation(),
    unprotected: bool = False,
    force: bool = False,
    threads: int | None = None,
    progress: StageProgress | None = None,
) -> AggregateResult:
    """Count every combination of up to ``length`` attributes and protect the counts.

    With ``out``, writes a release directory (aggregates.parquet,
    aggregates.tsv, metadata.json) atomically. With ``unprotected=True`` the
    exact counts are written instead, named ``sensitive_aggregates.*``.
    """
    length = validate_length(length)
    resolution = validate_resolution(resolution)
    check_input(input_path)
    if out is not None:
        check_output_dir(out, force)
    report = progress or (lambda stage, done, total: None)
    seconds: dict[str, float] = {}
    with thread_count(threads):
        start = time.perf_counter()
        report("read", 0, 1)
        table = load(input_path, preparation)
        report("read", 1, 1)
        seconds["read"] = time.perf_counter() - start

        start = time.perf_counter()
        exact = count_combinations(table, length, progress=lambda d, t: report("count", d, t))
        seconds["count"] = time.perf_counter() - start
    released = exact if unprotected else k_anonymize(exact, resolution)
    result = AggregateResult(exact=exact, released=released, seconds=seconds)
    if out is None:
        return result

    start = time.perf_counter()
    report("write", 0, 3)
    parquet_name, tsv_name = (
        (SENSITIVE_PARQUET, SENSITIVE_TSV) if unprotected else (AGGREGATES_PARQUET, AGGREGATES_TSV)
    )
    with staged_directory(out, force) as stage:
        write_parquet(released, stage / parquet_name)
        report("write", 1, 3)
        write_tsv(released, stage / tsv_name)
        report("write", 2, 3)
        seconds["write"] = time.perf_counter() - start
        metadata = {
            "tool": {"name": "showcase", "version": __version__},
            "created": utc_now(),
            "kind": "aggregates",
            "input": describe_input(input_path),
            "preparation": preparation.describe(),
            "parameters": {
                "reporting_length": length,
                "resolution": resolution,
                "unprotected": unprotected,
                "threads": threads,
            },
            "privacy": {
                "mechanism": released.protection,
                "sensitive": unprotected,
                "guarantee": _guarantee(released),
            },
            "aggregates": describe(released),
            "statistics": {
                "combinations_by_length": released.by_length().tolist(),
                "rare_combinations_by_length": result.rare_by_length.tolist(),
                "rare_threshold": resolution,
            },
            "files": [parquet_name, tsv_name, METADATA],
            "seconds": {k: round(v, 3) for k, v in seconds.items()},
        }
        write_json(stage / METADATA, metadata)
        report("write", 3, 3)
    result.files = metadata["files"]
    return result
