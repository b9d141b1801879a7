"""``aggregate --dp``: a differentially private aggregates release, end to end."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import __version__
from ..aggregates import Aggregates
from ..aggregates_io import describe, write_parquet, write_tsv
from ..config import threads as thread_count
from ..config import validate_threads
from ..encode import EncodedTable, Schema, encode
from ..errors import InputError, ParameterError, ShowcaseError
from ..ingest import check_input, fingerprint, read_table
from ..interrupts import Terminated
from ..output_lock import locks_for_call
from ..prepare import Preparation, describe_input
from ..randomness import describe_seed, make_rng
from ..release import (
    AGGREGATES_PARQUET,
    AGGREGATES_TSV,
    METADATA,
    SYNTHETIC_CSV,
    SYNTHETIC_PARQUET,
    check_output_dir,
    utc_now,
    write_json,
)
from ..staging import staged_directory
from ..synthesize.output import write_csv as write_records_csv
from ..synthesize.output import write_parquet as write_records_parquet
from .ledger import Ledger, dataset_key, ledger_path
from .marginals import dp_aggregate
from .noise import RandomSource
from .parameters import check_against_table, check_release_parameters

Progress = Callable[[str, int, int], None]


@dataclass
class DpResult:
    released: Aggregates
    report: dict
    seconds: dict
    #: The ledger file, when this release created it (no ledger was there before).
    ledger_created: Path | None = None


def read_codebook(path: str | Path, columns: Sequence[str]) -> Schema:
    """A public codebook: a CSV with columns ``column,value``, one row per possible value."""
    table = read_table(path)
    if table.column_names[:2] != ["column", "value"]:
        raise InputError(f"{path}: a codebook needs the header 'column,value'")
    names = table.column("column").cast(pa.string()).to_pylist()
    values = table.column("value").cast(pa.string()).to_pylist()
    unknown = sorted({n for n in names if n not in set(columns)})
    if unknown:
        raise InputError(f"{path}: codebook names unknown column(s) {', '.join(map(repr, unknown))}")
    dictionaries = []
    for name in columns:
        mine = sorted({v for n, v in zip(names, values) if n == name and v}, key=str.encode)
        if not mine:
            raise InputError(f"{path}: codebook lists no values for column {name!r}")
        dictionaries.append(pa.array(mine, pa.string()))
    return Schema(tuple(columns), tuple(dictionaries))


def _subject_ids(table: pa.Table, column: str) -> np.ndarray:
    """One integer per row; rows without a subject id are subjects of their own."""
    ids = pc.dictionary_encode(table.column(column)).combine_chunks()
    codes = pc.fill_null(ids.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    empty = ids.dictionary.to_pylist()
    blank = [i for i, v in enumerate(empty) if v in ("", None)]
    missing = (codes < 0) | np.isin(codes, blank)
    codes[missing] = -1 - np.arange(int(missing.sum()))  # distinct negative ids
    return codes


@dataclass
class _Release:
    """A DP release between its checks and its settlement in the ledger."""

    book: Ledger
    entry: int
    epsilon: float


def _reason(problem: BaseException) -> str:
    """Why a charged release failed, in words that hold no data value."""
    if isinstance(problem, ShowcaseError):
        return str(problem)
    if isinstance(problem, Terminated):
        return "terminated (SIGTERM)"
    if isinstance(problem, KeyboardInterrupt):
        return "interrupted"
    return f"unexpected {type(problem).__name__}"


@contextlib.contextmanager
def _settled(release: _Release) -> Iterator[_Release]:
    """Mark the release failed, with its reason, if the block raises; say so in the error."""
    try:
        yield release
    except BaseException as problem:
        with contextlib.suppress(ShowcaseError):
            release.book.settle(release.entry, "failed", reason=_reason(problem))
        problem.add_note(
            f"the release's budget (epsilon {release.epsilon:g}) stays spent in the privacy ledger "
            f"{release.book.path} (entry {release.entry}, recorded as failed)"
        )
        raise


def _check_inputs(input_path, codebook, out, force, ledger) -> None:
    """The input files and the output location, before anything is read."""
    check_input(input_path)
    if codebook is not None:
        check_input(codebook)
    if out is not None:
        check_output_dir(out, force, inputs=[input_path, codebook, ledger_path(ledger)])


@locks_for_call
def dp_aggregate_release(
    input_path: str | Path,
    *,
    epsilon: float,
    length: int = 3,
    delta: float | None = None,
    out: str | Path | None = None,
    preparation: Preparation = Preparation(),
    seed: int | None = None,
    codebook: str | Path | None = None,
    subject_id: str | None = None,
    budget_total: float | None = None,
    ledger: str | Path | None = None,
    dataset_id: str | None = None,
    force: bool = False,
    threads: int | None = None,
    progress: Progress | None = None,
    **mechanism: object,
) -> DpResult:
    """Read sensitive data, release DP aggregates (SPEC §2.2), record it in the ledger.

    ``mechanism`` takes the options of :func:`~showcase.engine.dp.marginals.dp_aggregate`
    (record_count_proportion, percentile_proportion, percentile, accuracy_mode,
    sigma_proportions, fabrication_mode, thresholds). ``dataset_id`` keys the
    budget on a named dataset instead of the file's fingerprint. Every
    parameter and the output are checked before the ledger is charged; the
    release is marked released only once ``out`` is in place.
    """
    epsilon, delta, length = check_release_parameters(epsilon, delta, length, budget_total, mechanism)
    key = dataset_key(dataset_id) if dataset_id is not None else None
    validate_threads(threads)
    RandomSource(seed)  # checks the seed
    _check_inputs(input_path, codebook, out, force, ledger)
    book = Ledger(ledger)
    tick = progress or (lambda stage, done, total: None)
    table, subject, schema, seconds = _read(input_path, preparation, codebook, subject_id, tick)
    check_against_table(table, epsilon, delta, length, mechanism, public_domain=schema is not None)
    parameters = _parameters(epsilon, delta, length, subject_id, codebook, seed, dataset_id, mechanism)
    release = _charge(book, input_path, key, epsilon, delta, budget_total, parameters)
    with _settled(release):
        result = _noise(table, subject, schema, release, epsilon, delta, length, seed, threads, mechanism,
                        seconds, tick)  # fmt: skip
        if out is not None:
            _write(out, force, result, input_path, preparation, parameters, seed, subject_id, tick)
        book.settle(release.entry, "released", result.report["rho"])
    result.ledger_created = book.path if book.created else None
    return result


def _read(input_path, preparation: Preparation, codebook, subject_id, tick):
    """The encoded table, subject ids and public schema (codebook) of a DP release."""
    start = time.perf_counter()
    tick("read", 0, 1)
    raw = read_table(
        input_path,
        delimiter=preparation.delimiter,
        use_columns=preparation.use_columns,
        record_limit=preparation.record_limit,
    )
    subject = None
    if subject_id is not None:
        if subject_id not in raw.column_names:
            raise ParameterError(f"unknown subject id column {subject_id!r}")
        subject = _subject_ids(raw, subject_id)
        raw = raw.drop_columns([subject_id])
        if raw.num_columns == 0:
            raise ParameterError(f"the subject id {subject_id!r} is the input's only column")
    schema = read_codebook(codebook, raw.column_names) if codebook else None
    table: EncodedTable = encode(
        raw, null_markers=preparation.null_markers, sensitive_zeros=preparation.sensitive_zeros, schema=schema
    )
    tick("read", 1, 1)
    return table, subject, schema, {"read": time.perf_counter() - start}


def _parameters(epsilon, delta, length, subject_id, codebook, seed, dataset_id, mechanism) -> dict:
    """The release's parameters, as the ledger and the metadata record them (never the seed)."""
    parameters = {"epsilon": epsilon, "delta": delta, "reporting_length": length,
                  "subject_id": subject_id, "codebook": codebook is not None,
                  "seeded": seed is not None,
                  **{k: v for k, v in mechanism.items() if v is not None}}  # fmt: skip
    if dataset_id is not None:
        parameters["dataset_id"] = dataset_id
    return parameters


def _charge(book: Ledger, input_path, key, epsilon, delta, budget_total, parameters) -> _Release:
    """Charge the ledger; the delta charged is the requested one or, when it defaults, filled
    in after the release (never lower than what is used)."""
    entry = book.charge(
        fingerprint(input_path), epsilon, delta or 0.0, key=key, budget_total=budget_total,
        parameters=parameters,
    )  # fmt: skip
    return _Release(book, entry, epsilon)


def _noise(table, subject, schema, release: _Release, epsilon, delta, length, seed, threads, mechanism,
           seconds, tick) -> DpResult:  # fmt: skip
    """Draw the DP marginals (after the charge) and record the delta used."""
    start = time.perf_counter()
    with thread_count(threads):
        released, report = dp_aggregate(
            table, epsilon=epsilon, length=length, delta=delta, public_domain=schema is not None,
            subject=subject, source=RandomSource(seed),
            progress=lambda d, t: tick("noise", d, t),
            **{k: v for k, v in mechanism.items() if v is not None},
        )  # fmt: skip
    seconds["release"] = time.perf_counter() - start
    facts = report.describe()
    release.book.raise_delta(release.entry, facts["delta"])
    return DpResult(released, facts, seconds)


def guarantee(facts: dict, subject_id: str | None) -> str:
    unit = f"subject (all rows sharing a {subject_id!r})" if subject_id else "record"
    return (
        f"({facts['epsilon']:g}, {facts['delta']:.3g})-differential privacy per {unit}: "
        f"a pure {facts['record_count_epsilon']:.4g}-DP record count, and "
        f"rho = {facts['rho']:.4g} zero-concentrated DP for everything else, converted with "
        f"epsilon = rho + 2 sqrt(rho ln(1/delta)) (Bun & Steinke 2016) at delta = "
        f"{facts['conversion_delta']:.3g}"
        + (
            f", plus {facts['selection_delta']:.3g} for choosing attributes from the data"
            if facts["selection_delta"]
            else ""
        )
        + ". Noise is exact discrete Gaussian (counts) and discrete Laplace (record count)."
    )


def _write(
    out,
    force,
    result: DpResult,
    input_path,
    preparation,
    parameters,
    seed,
    subject_id,
    tick,
    synthetic: EncodedTable | None = None,
) -> None:
    start = time.perf_counter()
    with staged_directory(out, force) as stage:
        tick("write", 0, 3)
        write_parquet(result.released, stage / AGGREGATES_PARQUET)
        tick("write", 1, 3)
        write_tsv(result.released, stage / AGGREGATES_TSV)
        tick("write", 2, 3)
        files = [AGGREGATES_PARQUET, AGGREGATES_TSV]
        synthesis = {}
        if synthetic is not None:
            write_records_csv(synthetic, stage / SYNTHETIC_CSV)
            write_records_parquet(synthetic, stage / SYNTHETIC_PARQUET)
            files += [SYNTHETIC_CSV, SYNTHETIC_PARQUET]
            synthesis = {"synthesis": {
                "mode": "tree", "records": synthetic.n_rows,
                "record_expansion": synthetic.n_rows / max(result.released.record_count, 1),
                "randomness": describe_seed(seed) if seed is None else {"seeded": True},
                "guarantee": "post-processing of the DP aggregates: no other access to the data",
            }}  # fmt: skip
        result.seconds["write"] = time.perf_counter() - start
        privacy = {
            "mechanism": "differential-privacy",
            "sensitive": False,
            "guarantee": guarantee(result.report, subject_id),
            "seeded": seed is not None,
            **result.report,
        }
        if seed is not None:
            privacy["warning"] = (
                "seeded for reproducibility: the noise can be recomputed from "
                "the seed, so this release is for testing, not for publication"
            )
        write_json(stage / METADATA, {
            "tool": {"name": "showcase", "version": __version__},
            "created": utc_now(),
            "kind": "aggregates",
            "input": describe_input(input_path),
            "preparation": preparation.describe(),
            "parameters": parameters,
            "privacy": privacy,
            "aggregates": describe(result.released),
            "statistics": {"combinations_by_length": result.released.by_length().tolist()},
            **synthesis,
            "files": [*files, METADATA],
            "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
        })  # fmt: skip
        tick("write", 3, 3)


@locks_for_call
def dp_run_release(
    input_path: str | Path,
    *,
    epsilon: float,
    out: str | Path,
    length: int = 2,
    delta: float | None = None,
    preparation: Preparation = Preparation(),
    seed: int | None = None,
    budget_total: float | None = None,
    ledger: str | Path | None = None,
    dataset_id: str | None = None,
    force: bool = False,
    threads: int | None = None,
    progress: Progress | None = None,
) -> tuple[DpResult, EncodedTable]:
    """DP aggregates and synthetic records from them alone, in one release directory.

    The records come from :func:`~showcase.engine.synthesize.tree.tree` (a
    Chow–Liu tree over the released pairs) on the released aggregates
    (post-processing: the directory as a whole is as private as the aggregates).
    The release is marked released in the ledger only once ``out`` is in place.
    """
    from ..synthesize.tree import tree

    epsilon, delta, length = check_release_parameters(epsilon, delta, length, budget_total, {})
    if length < 2:
        raise ParameterError("the tree synthesis of run --dp needs --length 2 or more")
    key = dataset_key(dataset_id) if dataset_id is not None else None
    validate_threads(threads)
    RandomSource(seed)
    _check_inputs(input_path, None, out, force, ledger)
    book = Ledger(ledger)
    tick = progress or (lambda stage, done, total: None)
    table, subject, schema, seconds = _read(input_path, preparation, None, None, tick)
    check_against_table(table, epsilon, delta, length, {}, public_domain=False)
    parameters = {
        "epsilon": epsilon,
        "delta": delta,
        "reporting_length": length,
        "synthesis": "tree",
        "seeded": seed is not None,
    }
    if dataset_id is not None:
        parameters["dataset_id"] = dataset_id
    release = _charge(book, input_path, key, epsilon, delta, budget_total, parameters)
    with _settled(release):
        result = _noise(table, subject, schema, release, epsilon, delta, length, seed, threads, {},
                        seconds, tick)  # fmt: skip
        start = time.perf_counter()
        tick("synthesize", 0, 1)
        synthetic = tree(result.released, rng=make_rng(seed))
        tick("synthesize", 1, 1)
        result.seconds["synthesize"] = time.perf_counter() - start
        _write(out, force, result, input_path, preparation, parameters, seed, None, tick, synthetic=synthetic)
        book.settle(release.entry, "released", result.report["rho"])
    result.ledger_created = book.path if book.created else None
    return result, synthetic
