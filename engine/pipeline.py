"""End-to-end jobs: sensitive file (or released aggregates) in, release directory out.

* :func:`aggregate`: k-anonymous (or exact) aggregates.
* :func:`synthesize`: synthetic records with one of the synthesis modes.
* :func:`run`: both into one release directory.

Each job checks every parameter and the output directory before reading
anything, and writes its directory atomically (all files or none).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import __version__
from .aggregates import PROTECTION_K_ANONYMITY, PROTECTION_NONE, Aggregates
from .aggregates_io import describe, read_parquet, read_tsv, write_parquet, write_tsv
from .config import threads as thread_count
from .config import validate_threads
from .count import check_length_fits, count_combinations, validate_length
from .encode import EncodedTable
from .errors import InputError, ParameterError
from .evaluate import align, combination_metrics, join
from .ingest import check_input, fingerprint
from .output_lock import locks_for_call
from .prepare import Preparation, describe_input, load
from .protect import k_anonymize, round_down, validate_resolution
from .randomness import describe_seed, make_rng
from .release import (
    AGGREGATES_PARQUET,
    AGGREGATES_TSV,
    METADATA,
    SENSITIVE_PARQUET,
    SENSITIVE_TSV,
    SYNTHETIC_CSV,
    SYNTHETIC_PARQUET,
    check_output_dir,
    utc_now,
    write_json,
)
from .staging import staged_directory
from .synthesize import (
    AGGREGATE_MODES,
    AGGREGATE_SEEDED,
    ROW_SEEDED,
    SENSITIVE_MODES,
    TREE,
    VALUE_SEEDED,
    check_parameters,
    validate_mode,
)
from .synthesize import synthesize as synthesize_codes
from .synthesize.output import write_csv as write_synthetic_csv
from .synthesize.output import write_parquet as write_synthetic_parquet

#: ``progress(stage, done, total)``: stage is one of read, count, synthesize, check, write.
StageProgress = Callable[[str, int, int], None]
#: Reporting length of the combination check when none is given.
DEFAULT_LENGTH = 3


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


@locks_for_call
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
    validate_threads(threads)
    check_input(input_path)
    if out is not None:
        check_output_dir(out, force, inputs=[input_path])
    report = progress or (lambda stage, done, total: None)
    seconds: dict[str, float] = {}
    with thread_count(threads):
        start = time.perf_counter()
        report("read", 0, 1)
        table = load(input_path, preparation)
        check_length_fits(length, table.n_columns)
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
    with staged_directory(out, force) as stage:
        files = _write_aggregate_files(stage, released, unprotected, report, steps=3)
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
            **_aggregate_sections(result, resolution),
            "files": [*files, METADATA],
            "seconds": {k: round(v, 3) for k, v in seconds.items()},
        }
        write_json(stage / METADATA, metadata)
        report("write", 3, 3)
    result.files = metadata["files"]
    return result


def _write_aggregate_files(
    stage: Path, released: Aggregates, unprotected: bool, report: StageProgress, steps: int
) -> list[str]:
    """Write the Parquet and TSV aggregates into ``stage``; returns their names."""
    parquet_name, tsv_name = (
        (SENSITIVE_PARQUET, SENSITIVE_TSV) if unprotected else (AGGREGATES_PARQUET, AGGREGATES_TSV)
    )
    report("write", 0, steps)
    write_parquet(released, stage / parquet_name)
    report("write", 1, steps)
    write_tsv(released, stage / tsv_name)
    report("write", 2, steps)
    return [parquet_name, tsv_name]


def _aggregate_sections(result: AggregateResult, resolution: int) -> dict:
    """The privacy, aggregates and statistics sections of a release's metadata."""
    released = result.released
    return {
        "privacy": {
            "mechanism": released.protection,
            "sensitive": released.protection == PROTECTION_NONE,
            "guarantee": _guarantee(released),
        },
        "aggregates": describe(released),
        "statistics": {
            "combinations_by_length": released.by_length().tolist(),
            "rare_combinations_by_length": result.rare_by_length.tolist(),
            "rare_threshold": resolution,
        },
    }


# --------------------------------------------------------------------------- synthesis


def read_aggregates(path: str | Path) -> tuple[Aggregates, Path]:
    """Read an aggregates release: a release directory, or its ``.parquet`` / SDS ``.tsv`` file.

    A directory must hold ``aggregates.parquet`` (preferred) or
    ``aggregates.tsv``; exact ``sensitive_aggregates.*`` are read only when
    the file is named explicitly. Returns the aggregates and the file read.
    """
    path = Path(path)
    if path.is_dir():
        for name in (AGGREGATES_PARQUET, AGGREGATES_TSV):
            if (path / name).is_file():
                return read_aggregates(path / name)
        if any((path / name).exists() for name in (SENSITIVE_PARQUET, SENSITIVE_TSV)):
            raise InputError(
                f"{path} holds only exact (unprotected) aggregates; name the file itself "
                "to synthesize from them"
            )
        raise InputError(f"{path}: no {AGGREGATES_PARQUET} or {AGGREGATES_TSV} in this directory")
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if not path.is_file() or path.stat().st_size == 0:
        raise InputError(f"{path}: not an aggregates file (it is empty or not a file)")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return read_parquet(path), path
    if suffix == ".tsv":
        return read_tsv(path), path
    raise InputError(
        f"{path}: not an aggregates release; give a release directory, aggregates.parquet or an SDS .tsv"
    )


def restrict_length(aggregates: Aggregates, length: int) -> Aggregates:
    """Only the combinations of up to ``length`` attributes (at most the reporting length)."""
    if length > aggregates.reporting_length:
        raise ParameterError(
            f"length {length} is longer than the aggregates' reporting length {aggregates.reporting_length}"
        )
    if length == aggregates.reporting_length:
        return aggregates
    keep = aggregates.length <= length
    return replace(
        aggregates,
        reporting_length=length,
        attrs=np.ascontiguousarray(aggregates.attrs[keep][:, :length]),
        length=aggregates.length[keep],
        count=aggregates.count[keep],
    )


@dataclass
class SynthesisResult:
    """What a synthesis produced, for summaries.

    ``metrics`` compares the synthetic records' combinations of up to
    ``length`` attributes with ``reference``: the exact counts of the
    sensitive data when the job read it, else the aggregates synthesized from
    (see :func:`showcase.engine.evaluate.combination_metrics`).
    """

    synthetic: EncodedTable
    mode: str
    parameters: dict
    length: int
    input_records: int
    reference: str
    metrics: dict | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    #: Protection of the records: k-anonymity, or that of the aggregates they came from.
    protection: str = PROTECTION_K_ANONYMITY

    @property
    def record_expansion(self) -> float:
        """Synthetic records per input record (per aggregates record when there was no input)."""
        return self.synthetic.n_rows / self.input_records if self.input_records else 0.0


@dataclass
class RunResult:
    """What :func:`run` produced: the aggregates and the synthetic records."""

    aggregate: AggregateResult
    synthesis: SynthesisResult
    files: list[str] = field(default_factory=list)


def _mode_parameters(mode: str, resolution: int | None, parameters: dict) -> dict:
    """Validated parameters of ``mode``, with the resolution for the k-anonymity modes."""
    given = dict(parameters)
    if mode in SENSITIVE_MODES:
        given["resolution"] = resolution
    return check_parameters(mode, given)


def _effective_parameters(mode: str, given: dict, synthetic: EncodedTable) -> dict:
    """The parameters as used, defaults filled in where this module knows them (for metadata)."""
    if mode != AGGREGATE_SEEDED:
        return {k: v for k, v in given.items() if k != "resolution"}
    return {
        "weight_selection_percentile": float(given.get("weight_selection_percentile", 95.0)),
        "use_synthetic_counts": bool(given.get("use_synthetic_counts", False)),
        "aggregate_counts_scale_factor": float(given.get("aggregate_counts_scale_factor", 1.0)),
        "target_number_of_records": synthetic.n_rows,
    }


def _synthesis_guarantee(mode: str, resolution: int | None, source: Aggregates | None, length: int) -> str:
    if mode in SENSITIVE_MODES:
        seeded_by_records = (
            " The number of synthetic records follows the exact number of sensitive records (each "
            "seeds one), which k-anonymity does not hide."
            if mode != VALUE_SEEDED
            else ""
        )
        return (
            f"k-anonymity with k={resolution}: every combination of attributes in the synthetic "
            f"records, of any length, is shared by at least {resolution} records of the sensitive data."
            + seeded_by_records
        )
    assert source is not None
    if source.protection == PROTECTION_K_ANONYMITY:
        protection = f"k-anonymous with k={source.resolution}"
    elif source.protection == PROTECTION_NONE:
        protection = "NOT marked as protected: if they are exact counts, so is the risk of the records"
    else:
        protection = f"protected by {source.protection}"
    if mode != AGGREGATE_SEEDED:
        return (
            f"Built only from released aggregates ({protection}), never from sensitive records: as "
            "private as the aggregates. Every attribute is one the aggregates report; longer "
            "combinations come from a model of the released pairs and need not be in the aggregates."
        )
    return (
        f"Built only from released aggregates ({protection}), never from sensitive records; no "
        f"synthetic record holds a combination of up to {length} attributes that the aggregates "
        "do not report."
    )


def _check_combinations(
    synthetic: EncodedTable, reference: Aggregates, length: int, resolution: int, report: StageProgress
) -> dict:
    """Combination metrics of the synthetic records against ``reference`` (lengths 1..length)."""
    counted = count_combinations(synthetic, length, progress=lambda d, t: report("check", d, t + 1))
    metrics = combination_metrics(join(reference, counted), resolution, length)
    metrics["synthetic_by_length"] = counted.by_length().tolist()
    report("check", 1, 1)
    return metrics


def _synthesize_step(
    mode: str,
    given: dict,
    *,
    table: EncodedTable | None,
    source: Aggregates | None,
    rng: np.random.Generator,
    report: StageProgress,
) -> EncodedTable:
    report("synthesize", 0, 1)
    if mode in AGGREGATE_MODES:
        synthetic = synthesize_codes(
            mode, source, rng=rng, progress=lambda d, t: report("synthesize", d, max(t, 1)), **given
        )
    else:
        synthetic = synthesize_codes(mode, table, rng=rng, **given)
    report("synthesize", 1, 1)
    return synthetic


def _write_synthetic_files(
    stage: Path, synthetic: EncodedTable, report: StageProgress, step: int, steps: int
):
    write_synthetic_csv(synthetic, stage / SYNTHETIC_CSV)
    report("write", step + 1, steps)
    write_synthetic_parquet(synthetic, stage / SYNTHETIC_PARQUET)
    report("write", step + 2, steps)
    return [SYNTHETIC_CSV, SYNTHETIC_PARQUET]


def _synthesis_section(result: SynthesisResult, protected_records: int, guarantee: str) -> dict:
    """The synthesis part of metadata.json: never a data row nor an exact sensitive count.

    The record expansion is taken against ``protected_records``, the input's
    record count as released (rounded down to a multiple of k), not the exact one.
    """
    n = result.synthetic.n_rows
    section = {
        "mode": result.mode,
        "parameters": result.parameters,
        "guarantee": guarantee,
        "records": n,
        "columns": list(result.synthetic.schema.columns),
        "protected_input_records": protected_records,
        "record_expansion": round(n / protected_records, 6) if protected_records else None,
    }
    if result.metrics is not None:
        section["combinations"] = {
            "compared_with": result.reference,
            "reporting_length": result.length,
            "preserved_pct": result.metrics["overall"]["preserved_pct"],
            "preserved_pct_by_length": [m["preserved_pct"] for m in result.metrics["by_length"]],
            "synthetic_by_length": result.metrics["synthetic_by_length"],
        }
    return section


@locks_for_call
def synthesize(
    input_path: str | Path | None = None,
    *,
    aggregates: str | Path | Aggregates | None = None,
    mode: str | None = None,
    length: int | None = None,
    resolution: int | None = None,
    out: str | Path | None = None,
    preparation: Preparation = Preparation(),
    seed: int | None = None,
    force: bool = False,
    threads: int | None = None,
    progress: StageProgress | None = None,
    check: bool = True,
    **parameters,
) -> SynthesisResult:
    """Synthesize records and, with ``out``, write a release directory atomically.

    Give the sensitive ``input_path`` (modes ``row_seeded`` (default),
    ``unseeded``, ``value_seeded`` with ``resolution`` k; or
    ``aggregate_seeded``, which first k-anonymizes the counts of up to
    ``length`` attributes in memory and synthesizes from those only), or
    ``aggregates`` (a release directory, an aggregates ``.parquet``/SDS
    ``.tsv`` or an :class:`Aggregates`: mode ``aggregate_seeded``, implied).
    With both, the records come from the aggregates alone and the input is
    only the reference of the combination check; the aggregates must then be
    on the input's columns and values.

    ``parameters`` are the mode's own (``weight_selection_percentile``,
    ``use_synthetic_counts``, ``aggregate_counts_scale_factor``,
    ``target_number_of_records``; ``oversampling_ratio``,
    ``oversampling_tries``). ``length`` (default 3, or the aggregates'
    reporting length) is also the longest combination checked when ``check``.

    Writes synthetic.csv, synthetic.parquet and metadata.json. The same
    ``seed`` gives byte-identical synthetic files.
    """
    if input_path is None and aggregates is None:
        raise ParameterError("give the sensitive input or aggregates to synthesize from (--from-aggregates)")
    if mode is None and isinstance(aggregates, (str, Path)):
        # DP aggregates suppress many longer combinations: complete records down a tree.
        mode = TREE if read_aggregates(aggregates)[0].protection == "differential-privacy" else None
    if mode is None:
        mode = AGGREGATE_SEEDED if aggregates is not None else ROW_SEEDED
    validate_mode(mode)
    if aggregates is not None and mode not in AGGREGATE_MODES:
        raise ParameterError(
            f"synthesizing from aggregates uses mode {', '.join(AGGREGATE_MODES)}; "
            f"mode {mode} reads the sensitive data"
        )
    if aggregates is not None and resolution is not None:
        raise ParameterError("resolution (k) is not used with aggregates: they are already protected")
    if input_path is not None and aggregates is None and resolution is None:
        raise ParameterError(f"mode {mode} on sensitive data needs a resolution (k)")
    if resolution is not None:
        resolution = validate_resolution(resolution)
    if length is not None:
        length = validate_length(length)
    given = _mode_parameters(mode, resolution, parameters)
    validate_threads(threads)
    if input_path is not None:
        check_input(input_path)
    if out is not None:
        sources = [input_path, aggregates if isinstance(aggregates, (str, Path)) else None]
        check_output_dir(out, force, inputs=sources)
    rng = make_rng(seed)
    report = progress or (lambda stage, done, total: None)
    seconds: dict[str, float] = {}

    with thread_count(threads):
        start = time.perf_counter()
        source: Aggregates | None = None
        source_file: Path | None = None
        if aggregates is not None:
            if isinstance(aggregates, Aggregates):
                source = aggregates
            else:
                source, source_file = read_aggregates(aggregates)
            length = length or source.reporting_length
            source = restrict_length(source, length)
        length = length or DEFAULT_LENGTH
        table = None
        if input_path is not None:
            report("read", 0, 1)
            table = load(input_path, preparation)
            check_length_fits(length, table.n_columns)
            report("read", 1, 1)
            if source is not None:
                align(source, table.schema)  # aggregates of another table fail here, in one line
        seconds["read"] = time.perf_counter() - start

        exact = None
        if table is not None and (mode in AGGREGATE_MODES or check):
            start = time.perf_counter()
            exact = count_combinations(table, length, progress=lambda d, t: report("count", d, t))
            seconds["count"] = time.perf_counter() - start
        if source is None and mode in AGGREGATE_MODES:
            source = k_anonymize(exact, resolution)

        start = time.perf_counter()
        synthetic = _synthesize_step(mode, given, table=table, source=source, rng=rng, report=report)
        seconds["synthesize"] = time.perf_counter() - start

        reference = exact if exact is not None else source
        metrics = None
        if check:
            start = time.perf_counter()
            k_check = resolution or (source.resolution if source is not None else None) or 1
            metrics = _check_combinations(synthetic, reference, length, k_check, report)
            seconds["check"] = time.perf_counter() - start
    result = SynthesisResult(
        synthetic=synthetic,
        mode=mode,
        parameters=_effective_parameters(mode, given, synthetic),
        length=length,
        input_records=table.n_rows if table is not None else source.record_count,
        reference="sensitive data" if exact is not None else "aggregates",
        metrics=metrics,
        seconds=seconds,
        protection=PROTECTION_K_ANONYMITY if mode in SENSITIVE_MODES else source.protection,
    )
    if out is None:
        return result

    if table is not None and mode in SENSITIVE_MODES:
        protected_records = int(round_down(table.n_rows, resolution))
    else:
        protected_records = int(source.record_count)
    start = time.perf_counter()
    with staged_directory(out, force) as stage:
        report("write", 0, 3)
        files = _write_synthetic_files(stage, synthetic, report, 0, 3)
        seconds["write"] = time.perf_counter() - start
        inputs: dict = {}
        if input_path is not None:
            inputs["input"] = describe_input(input_path)
            inputs["preparation"] = preparation.describe()
        if mode in AGGREGATE_MODES:
            inputs["aggregates"] = describe(source)
            if source_file is not None:
                inputs["aggregates"].update(file=source_file.name, fingerprint=fingerprint(source_file))
        metadata = {
            "tool": {"name": "showcase", "version": __version__},
            "created": utc_now(),
            "kind": "synthetic",
            **inputs,
            "parameters": {
                "mode": mode,
                "reporting_length": length,
                "resolution": resolution,
                **result.parameters,
                "threads": threads,
            },
            "randomness": describe_seed(seed),
            "privacy": {
                "mechanism": result.protection,
                "guarantee": _synthesis_guarantee(mode, resolution, source, length),
            },
            "synthesis": _synthesis_section(
                result, protected_records, _synthesis_guarantee(mode, resolution, source, length)
            ),
            "files": [*files, METADATA],
            "seconds": {k: round(v, 3) for k, v in seconds.items()},
        }
        write_json(stage / METADATA, metadata)
        report("write", 3, 3)
    result.files = metadata["files"]
    return result


@locks_for_call
def run(
    input_path: str | Path,
    *,
    length: int,
    resolution: int,
    out: str | Path | None = None,
    mode: str = ROW_SEEDED,
    preparation: Preparation = Preparation(),
    seed: int | None = None,
    force: bool = False,
    threads: int | None = None,
    progress: StageProgress | None = None,
    **parameters,
) -> RunResult:
    """k-anonymous aggregates and synthetic records of one input, in one release directory.

    Writes aggregates.parquet, aggregates.tsv, synthetic.csv,
    synthetic.parquet and metadata.json atomically. ``mode`` is any synthesis
    mode; ``aggregate_seeded`` synthesizes from the released (k-anonymous)
    aggregates written beside the records.
    """
    length = validate_length(length)
    resolution = validate_resolution(resolution)
    validate_mode(mode)
    given = _mode_parameters(mode, resolution, parameters)
    validate_threads(threads)
    check_input(input_path)
    if out is not None:
        check_output_dir(out, force, inputs=[input_path])
    rng = make_rng(seed)
    report = progress or (lambda stage, done, total: None)
    seconds: dict[str, float] = {}
    with thread_count(threads):
        start = time.perf_counter()
        report("read", 0, 1)
        table = load(input_path, preparation)
        check_length_fits(length, table.n_columns)
        report("read", 1, 1)
        seconds["read"] = time.perf_counter() - start

        start = time.perf_counter()
        exact = count_combinations(table, length, progress=lambda d, t: report("count", d, t))
        seconds["count"] = time.perf_counter() - start
        released = k_anonymize(exact, resolution)

        start = time.perf_counter()
        synthetic = _synthesize_step(mode, given, table=table, source=released, rng=rng, report=report)
        seconds["synthesize"] = time.perf_counter() - start

        start = time.perf_counter()
        metrics = _check_combinations(synthetic, exact, length, resolution, report)
        seconds["check"] = time.perf_counter() - start
    aggregated = AggregateResult(exact=exact, released=released, seconds=seconds)
    synthesis = SynthesisResult(
        synthetic=synthetic,
        mode=mode,
        parameters=_effective_parameters(mode, given, synthetic),
        length=length,
        input_records=table.n_rows,
        reference="sensitive data",
        metrics=metrics,
        seconds=seconds,
    )
    result = RunResult(aggregate=aggregated, synthesis=synthesis)
    if out is None:
        return result

    start = time.perf_counter()
    guarantee = _synthesis_guarantee(mode, resolution, released, length)
    with staged_directory(out, force) as stage:
        files = _write_aggregate_files(stage, released, False, report, steps=5)
        files += _write_synthetic_files(stage, synthetic, report, 2, 5)
        seconds["write"] = time.perf_counter() - start
        metadata = {
            "tool": {"name": "showcase", "version": __version__},
            "created": utc_now(),
            "kind": "release",
            "input": describe_input(input_path),
            "preparation": preparation.describe(),
            "parameters": {
                "reporting_length": length,
                "resolution": resolution,
                "mode": mode,
                **synthesis.parameters,
                "threads": threads,
            },
            "randomness": describe_seed(seed),
            **_aggregate_sections(aggregated, resolution),
            "synthesis": _synthesis_section(synthesis, int(released.record_count), guarantee),
            "files": [*files, METADATA],
            "seconds": {k: round(v, 3) for k, v in seconds.items()},
        }
        write_json(stage / METADATA, metadata)
        report("write", 5, 5)
    result.files = synthesis.files = aggregated.files = metadata["files"]
    return result
