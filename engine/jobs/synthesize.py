"""The synthesize job: synthetic records from sensitive data or from released aggregates.

The steps here (mode parameters, the synthesis, the combination check, the
synthetic files and the metadata section) are shared with :mod:`.run`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ..aggregates import PROTECTION_K_ANONYMITY, PROTECTION_NONE, Aggregates, restrict_length
from ..aggregates_io import describe, read_aggregates
from ..constraints import Constraint, enforce, from_release, merged
from ..constraints import describe as describe_constraints
from ..count import count_combinations, validate_length
from ..encode import EncodedTable
from ..errors import ParameterError
from ..evaluate import align, combination_metrics, join
from ..fingerprint_key import publishable
from ..guarantees import synthesis_guarantee
from ..ingest import Source, fingerprint
from ..output_lock import locks_for_call
from ..prepare import Preparation, check_source
from ..protect import k_anonymize, round_down
from ..protection import DifferentialPrivacy, KAnonymity, check_protection
from ..randomness import describe_seed, make_rng
from ..release import METADATA, SYNTHETIC_CSV, SYNTHETIC_PARQUET
from ..synthesize import (
    AGGREGATE_MODES,
    AGGREGATE_SEEDED,
    FITTED,
    ROW_SEEDED,
    SENSITIVE_MODES,
    SPLIT_MODES,
    TREE,
    check_parameters,
    split_work,
    validate_mode,
)
from ..synthesize import synthesize as synthesize_codes
from ..synthesize.aggregate_seeded import DEFAULT_FIT_SWEEPS
from ..synthesize.output import held_columns, write_csv, write_parquet
from .protect import read
from .results import SynthesisResult
from .skeleton import Job, StageProgress, Writer

#: Reporting length of the combination check when neither it nor aggregates give one.
DEFAULT_LENGTH = 3


def mode_parameters(mode: str, resolution: int | None, parameters: dict) -> dict:
    """Validated parameters of ``mode``, with the resolution for the k-anonymity modes."""
    given = dict(parameters)
    if mode in SENSITIVE_MODES:
        given["resolution"] = resolution
    return check_parameters(mode, given)


def effective_parameters(mode: str, given: dict, synthetic: EncodedTable) -> dict:
    """The parameters as used, defaults filled in where they are known (for metadata)."""
    if mode != AGGREGATE_SEEDED:
        return {k: v for k, v in given.items() if k != "resolution"}
    return {
        "weight_selection_percentile": float(given.get("weight_selection_percentile", 95.0)),
        "use_synthetic_counts": bool(given.get("use_synthetic_counts", False)),
        "aggregate_counts_scale_factor": float(given.get("aggregate_counts_scale_factor", 1.0)),
        "target_number_of_records": synthetic.n_rows,
        "fit_sweeps": int(given["fit_sweeps"]) if given.get("fit_sweeps") is not None else DEFAULT_FIT_SWEEPS,
    }


def synthesize_step(
    job: Job,
    mode: str,
    given: dict,
    *,
    table: EncodedTable | None,
    source: Aggregates | None,
    rng,
    scheduler: str | None = None,
    constraints: Sequence[Constraint] = (),
) -> EncodedTable:
    """The job's synthesize step: records from the aggregates or from the sensitive table.

    With ``scheduler`` the records of a :data:`SPLIT_MODES` mode are built on a Dask cluster.
    No record holds one of the declared ``constraints`` (impossible combinations).
    """
    _check_record_count(mode, given, source)
    with job.step("synthesize") as tick:
        if scheduler is not None:
            from ..distributed import client, synthesize_on_cluster

            work = split_work(mode, source, rng=rng, constraints=constraints, **given)
            filled, finished = work.progress(lambda d, t: tick(d, max(t, 1)))
            with client(scheduler) as cluster:
                codes = synthesize_on_cluster(work, cluster, progress=filled)
            synthetic = work.table(codes, progress=finished)
            if constraints:
                enforce(synthetic, constraints)  # the last check synthesize() makes in one process
            return synthetic
        return synthesize_codes(mode, source if mode in AGGREGATE_MODES else table, rng=rng,
                                progress=lambda d, t: tick(d, max(t, 1)), constraints=constraints,
                                **given)  # fmt: skip


#: The modes that synthesize as many records as the aggregates count (unless told another number).
_COUNTED_MODES = ("tree", "pairwise", "fitted")


def _check_record_count(mode: str, given: dict, source: Aggregates | None) -> None:
    """Refuse, saying why, to synthesize the aggregates' record count of records when it is 0."""
    if mode not in _COUNTED_MODES or source is None or given.get("target_number_of_records"):
        return
    counted = source.marginals if mode == "fitted" and source.marginals is not None else source
    if counted.record_count < 1:
        raise ParameterError(
            f"the aggregates' record count is 0 (a DP release of very few records can count 0): mode {mode} "
            "has no records to make; give --target-number-of-records N, or release with a larger --epsilon"
        )


def check_step(
    job: Job, synthetic: EncodedTable, reference: Aggregates, length: int, resolution: int
) -> dict:
    """Combination metrics of the synthetic records against ``reference`` (lengths 1..length)."""
    with job.step("check", total=None) as tick:
        counted = count_combinations(synthetic, length, progress=lambda d, t: tick(d, t + 1))
        metrics = combination_metrics(join(reference, counted), resolution, length)
        metrics["synthetic_by_length"] = counted.by_length().tolist()
        tick(1, 1)
    return metrics


def synthetic_files(synthetic: EncodedTable, join_multi_value: bool = True) -> dict[str, Writer]:
    """The synthetic records' files of a release: CSV and Parquet in the input's spellings.

    A multi-value column is one cell of its values joined by its delimiter
    (``join_multi_value``), or one 0/1 column per value.
    """
    return {
        SYNTHETIC_CSV: lambda path: write_csv(synthetic, path, join_multi_value),
        SYNTHETIC_PARQUET: lambda path: write_parquet(synthetic, path, join_multi_value),
    }


def synthesis_section(
    result: SynthesisResult, protected_records: int, guarantee: str, constraints: Sequence[Constraint] = ()
) -> dict:
    """The synthesis part of metadata.json: never a data row nor an exact sensitive count.

    The record expansion is taken against ``protected_records``, the input's
    record count as released (rounded down to a multiple of k, or noisy), not the exact one.
    The shares of combinations preserved are stated only against the released
    aggregates: against the sensitive data they give its exact number of
    distinct combinations (synthetic ones over the share), an evaluation's
    statistic, which the command prints for its operator instead.
    """
    n = result.synthetic.n_rows
    section = {
        "mode": result.mode,
        "parameters": result.parameters,
        "guarantee": guarantee,
        "records": n,
        "columns": list(held_columns(result.synthetic).schema.columns),
        "protected_input_records": protected_records,
        "record_expansion": round(n / protected_records, 6) if protected_records else None,
    }
    if constraints:
        section["constraints_enforced"] = len(constraints)
    if result.metrics is not None and result.reference != "sensitive data":
        section["combinations"] = {
            "compared_with": result.reference,
            "reporting_length": result.length,
            "preserved_pct": result.metrics["overall"]["preserved_pct"],
            "preserved_pct_by_length": [m["preserved_pct"] for m in result.metrics["by_length"]],
            "synthetic_by_length": result.metrics["synthetic_by_length"],
        }
    return section


#: Preparation options that only say how to read INPUT, with the flag that gives each.
_READING_OPTIONS = {
    "delimiter": "--delimiter", "use_columns": "--use-columns", "record_limit": "--record-limit",
    "null_markers": "--null-marker", "sensitive_zeros": "--sensitive-zeros", "subject_id": "--subject-id",
    "sheet": "--sheet", "multi_value": "--multi-value", "links": "--link", "bins": "--bin",
    "drop_unknown": "--drop-unknown",
}  # fmt: skip


def _refuse_reading_options(preparation: Preparation) -> None:
    """Synthesis from aggregates alone reads no INPUT: refuse options that would be silently unused."""
    default = Preparation()
    given = [flag for name, flag in _READING_OPTIONS.items()
             if getattr(preparation, name) != getattr(default, name)]  # fmt: skip
    if given:
        raise ParameterError(
            f"{', '.join(given)}: options for reading INPUT, and synthesis from --from-aggregates alone "
            "reads none (the release's columns are used as they are); drop them"
        )


def _choose_mode(mode: str | None, aggregates, resolution: int | None, source: Source | None) -> str:
    """The mode to use, and the refusals of what does not go with it."""
    if source is None and aggregates is None:
        raise ParameterError("give the sensitive input or aggregates to synthesize from (--from-aggregates)")
    if mode is None and isinstance(aggregates, tuple):
        # An adaptive DP release's measured marginals are fitted; other DP aggregates suppress many
        # longer combinations: complete records down a tree.
        if aggregates[0].marginals is not None:
            mode = FITTED
        elif aggregates[0].protection == "differential-privacy":
            mode = TREE
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
    if source is not None and aggregates is None and resolution is None:
        raise ParameterError(f"mode {mode} on sensitive data needs a resolution (k)")
    return mode


def _check_scheduler(scheduler: str | None, mode: str) -> None:
    """Refuse a scheduler that is malformed or given with a mode that is built in one process."""
    if scheduler is None:
        return
    from ..distributed import require
    from ..resources import parse_scheduler

    parse_scheduler(scheduler)
    if mode not in SPLIT_MODES:
        raise ParameterError(
            f"--scheduler splits {' and '.join(SPLIT_MODES)} synthesis across workers; mode {mode} "
            "runs in one process (drop --scheduler)"
        )
    require()


def _sources(job: Job, source, aggregates, length, preparation):
    """Read the aggregates (restricted to ``length``) and the sensitive table, as given."""
    released = released_file = None
    if aggregates is not None:
        if isinstance(aggregates, Aggregates):
            released = aggregates
        elif isinstance(aggregates, tuple):  # read already, to choose the mode
            released, released_file = aggregates
        else:
            released, released_file = read_aggregates(aggregates)
        length = length or released.reporting_length
        released = restrict_length(released, length)
    length = length or DEFAULT_LENGTH
    loaded = None
    if source is not None:
        loaded = read(job, source, preparation, length)
        if released is not None:
            align(released, loaded.table.schema)  # aggregates of another table fail here, in one line
    return released, released_file, loaded, length


@locks_for_call
def synthesize(
    source: Source | None = None,
    *,
    aggregates: str | Path | Aggregates | None = None,
    protection: KAnonymity | None = None,
    mode: str | None = None,
    length: int | None = None,
    out: str | Path | None = None,
    preparation: Preparation = Preparation(),
    seed: int | None = None,
    force: bool = False,
    threads: int | None = None,
    progress: StageProgress | None = None,
    check: bool = True,
    join_multi_value: bool = True,
    scheduler: str | None = None,
    **parameters,
) -> SynthesisResult:
    """Synthesize records and, with ``out``, write a release directory atomically.

    Give the sensitive ``source`` (a path or a table; modes ``row_seeded``
    (default), ``unseeded``, ``value_seeded`` with ``protection=KAnonymity(k)``;
    or ``aggregate_seeded``, which first k-anonymizes the counts of up to
    ``length`` attributes in memory and synthesizes from those only), or
    ``aggregates`` (a release directory, an aggregates ``.parquet``/SDS
    ``.tsv`` or an :class:`Aggregates`: modes ``aggregate_seeded`` (implied),
    ``tree`` (implied for DP aggregates) or ``pairwise``). With both, the
    records come from the aggregates alone and the input is only the
    reference of the combination check.

    ``parameters`` are the mode's own (see
    :data:`showcase.engine.synthesize.MODE_PARAMETERS`). ``length`` (default 3,
    or the aggregates' reporting length) is also the longest combination
    checked when ``check``. Writes synthetic.csv, synthetic.parquet and
    metadata.json (multi-value cells joined, or as 0/1 columns without
    ``join_multi_value``). The same ``seed`` gives byte-identical synthetic files.

    ``scheduler`` (``local[N]`` or ``tcp://HOST:PORT``) builds the records of
    ``aggregate_seeded`` or ``tree`` on a Dask cluster, byte-identical to one process's.
    """
    if protection is not None:
        check_protection(protection, (KAnonymity,))
    resolution = protection.k if protection is not None else None
    files = [source, aggregates if isinstance(aggregates, (str, Path)) else None]
    if mode is None and isinstance(aggregates, (str, Path)):
        aggregates = read_aggregates(aggregates)  # (aggregates, file): read once, here and below
    mode = _choose_mode(mode, aggregates, resolution, source)
    if length is not None:
        length = validate_length(length)
    given = mode_parameters(mode, resolution, parameters)
    _check_scheduler(scheduler, mode)
    if source is not None:
        check_source(source, preparation)
    else:
        _refuse_reading_options(preparation)
    job = Job("synthetic", out=out, force=force, inputs=files, threads=threads, progress=progress)
    rng = make_rng(seed)
    released, released_file, loaded, length = _sources(job, source, aggregates, length, preparation)
    table = loaded.table if loaded is not None else None
    exact = None
    if table is not None and (mode in AGGREGATE_MODES or check):
        with job.step("count", total=None) as tick:
            exact = count_combinations(table, length, progress=tick)
    if released is None and mode in AGGREGATE_MODES:
        released = k_anonymize(exact, resolution)
    # The codebook's constraints, and those of the release synthesized from (its metadata.json).
    constraints = merged(preparation.resolved().constraints, from_release(released_file))
    synthetic = synthesize_step(job, mode, given, table=table, source=released, rng=rng,
                                scheduler=scheduler, constraints=constraints)  # fmt: skip
    metrics = None
    if check:
        k_check = resolution or (released.resolution if released is not None else None) or 1
        metrics = check_step(job, synthetic, exact if exact is not None else released, length, k_check)
    result = SynthesisResult(
        synthetic=synthetic, mode=mode, parameters=effective_parameters(mode, given, synthetic),
        length=length, input_records=table.n_rows if table is not None else released.record_count,
        reference="sensitive data" if exact is not None else "aggregates", metrics=metrics,
        seconds=job.seconds, prepared=loaded.changes if loaded is not None else {},
        protection=PROTECTION_K_ANONYMITY if mode in SENSITIVE_MODES else released.protection,
    )  # fmt: skip
    if out is not None:
        result.files = job.write(
            synthetic_files(synthetic, join_multi_value),
            lambda: _metadata(
                result, loaded, preparation, released, released_file, resolution, seed, threads, constraints
            ),
        )
    return result


def _metadata(
    result, loaded, preparation, released, released_file, resolution, seed, threads, constraints
) -> dict:
    """The sections of a synthetic release's metadata."""
    mode, length = result.mode, result.length
    if loaded is not None and mode in SENSITIVE_MODES:
        protected_records = int(round_down(loaded.table.n_rows, resolution))
    else:
        protected_records = int(released.record_count)
    sections: dict = {}
    if loaded is not None:
        sections["input"] = publishable(loaded.description)
        sections["preparation"] = preparation.describe()
    if mode in AGGREGATE_MODES:
        sections["aggregates"] = describe(released)
        if released_file is not None:
            sections["aggregates"].update(file=released_file.name, fingerprint=fingerprint(released_file))
    guarantee = synthesis_guarantee(mode, resolution, released, length)
    randomness = describe_seed(seed)
    # Records from aggregates not marked as protected (exact counts, or an SDS .tsv) are as sensitive
    # as those aggregates may be: marked so, as an --unprotected aggregates release is.
    privacy = {"mechanism": result.protection, "sensitive": result.protection == PROTECTION_NONE,
               "guarantee": guarantee}  # fmt: skip
    if released is not None and released.seeded or _seeded_release(released_file):
        # The release's noise can be recomputed from its seed, and so can what follows from it.
        warning = "synthesized from a seeded release: for testing, not for publication"
        randomness = {"seeded": True, "warning": warning}
        privacy["warning"] = warning
    if result.reference == "sensitive data" and result.protection == DifferentialPrivacy.name:
        # Records from DP aggregates checked against the sensitive input: the check is the data
        # owner's (its shares give the input's exact number of distinct combinations), not the release's.
        result = replace(result, metrics=None)
    return {
        **sections,
        "parameters": {"mode": mode, "reporting_length": length, "resolution": resolution,
                       **result.parameters, "threads": threads},
        "randomness": randomness,
        "privacy": privacy,
        "synthesis": synthesis_section(result, protected_records, guarantee, constraints),
        **({"constraints": describe_constraints(constraints)} if constraints else {}),
    }  # fmt: skip


def _seeded_release(aggregates_file: Path | None) -> bool:
    """Whether the DP release of ``aggregates_file`` (its metadata.json beside it) says its noise was seeded.

    A seeded k-anonymous release has no noise: its counts are what they would be unseeded.
    """
    if aggregates_file is None:
        return False
    try:
        doc = json.loads(Path(aggregates_file).with_name(METADATA).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(doc, dict):
        return False
    sections = [doc.get(name) for name in ("privacy", "parameters")]
    return any(isinstance(section, dict) and section.get("seeded") is True for section in sections)
