"""The run job: protected aggregates and synthetic records of one input, in one release."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..constraints import describe as describe_constraints
from ..count import validate_length
from ..errors import ParameterError
from ..fingerprint_key import publishable
from ..guarantees import synthesis_guarantee
from ..ingest import Source
from ..output_lock import locks_for_call
from ..prepare import Preparation
from ..protection import DifferentialPrivacy, KAnonymity, check_protection
from ..randomness import describe_seed, make_rng
from ..resources import Resources
from ..synthesize import (
    AGGREGATE_MODES,
    FITTED,
    ROW_SEEDED,
    SENSITIVE_MODES,
    SPLIT_MODES,
    TREE,
    validate_mode,
)
from .aggregate import aggregate_files
from .protect import aggregate_sections, check_request, inputs, named_by_the_data, protected_counts
from .results import RunResult, SynthesisResult
from .skeleton import Job, StageProgress
from .synthesize import (
    check_step,
    effective_parameters,
    mode_parameters,
    synthesis_section,
    synthesize_step,
    synthetic_files,
)

#: Reporting lengths when none is given: DP spends no budget on triples its synthesis does not use.
DEFAULT_LENGTH, DEFAULT_DP_LENGTH = 3, 2
#: The DP mechanism of ``run --dp`` when none is given: aim, chosen by measurement (bench/RESULTS.md,
#: issue 15); sds for subjects and linked tables, which aim does not protect.
DEFAULT_DP_ALGORITHM = "aim"
#: Its length: rounds choose among pairs and triples (triples paid for themselves at every epsilon measured).
DEFAULT_ADAPTIVE_LENGTH = 3


def _plan(protection, length: int | None, mode: str | None) -> tuple[int, str]:
    """The length and mode of a run, refusing what does not go with the protection."""
    check_protection(protection, (KAnonymity, DifferentialPrivacy))
    dp = isinstance(protection, DifferentialPrivacy)
    length = validate_length(length if length is not None else DEFAULT_DP_LENGTH if dp else DEFAULT_LENGTH)
    adaptive = dp and protection.algorithm not in (None, "sds")
    mode = validate_mode(mode if mode is not None else (FITTED if adaptive else TREE) if dp else ROW_SEEDED)
    if dp and mode not in AGGREGATE_MODES:
        raise ParameterError(
            f"a DP run synthesizes from the DP aggregates alone: mode {', '.join(AGGREGATE_MODES)}; "
            f"mode {mode} reads the sensitive data"
        )
    if mode == FITTED and not adaptive:
        raise ParameterError(
            "fitted synthesis needs a DP release of measured marginals: --mechanism mst or aim"
        )
    if dp and mode != "aggregate_seeded" and length < 2:
        raise ParameterError(f"the {mode} synthesis of a DP run needs --length 2 or more")
    return length, mode


def _default_algorithm(protection: DifferentialPrivacy, preparation: Preparation, mode: str | None) -> str:
    """aim, unless the run asks for what only sds does: subjects, linked tables, multi-value columns
    without a codebook listing their values, sds options or modes."""
    resolved = preparation.resolved()  # a codebook may name the subject id or linked tables
    default = DifferentialPrivacy(epsilon=protection.epsilon)
    sds_options = ("percentile", "percentile_proportion", "accuracy_mode", "sigma_proportions",
                   "fabrication_mode", "thresholds")  # fmt: skip
    if (
        resolved.subject_id is not None
        or resolved.links
        or named_by_the_data(resolved)
        or any(getattr(protection, name) != getattr(default, name) for name in sds_options)
        or mode not in (None, FITTED)
    ):
        return "sds"
    return DEFAULT_DP_ALGORITHM


def _run_resources(resources: Resources | None, dp: bool, mode: str) -> Resources | None:
    """The resources a run counts under.

    Inputs stream as for ``showcase aggregate`` (directories, globs, files over
    2 GiB). A mode that synthesizes from the released counts never holds the
    records and may count on a Dask cluster; one that synthesizes from the
    sensitive records keeps all their codes (read in batches) and counts them
    in memory. The guard's options are for k-anonymous runs.
    """
    resources = Resources() if resources is None else resources
    if mode in SENSITIVE_MODES and resources.scheduler is not None:
        raise ParameterError(
            f"mode {mode} synthesizes from every record, so a run holds the input whole: "
            f"--mode {' or '.join(AGGREGATE_MODES[:3])} synthesizes from the counts, which --scheduler counts"
        )
    if dp:
        if resources.memory_limit != Resources().memory_limit or not resources.guard:
            raise ParameterError(
                "--memory-limit and --no-resource-guard apply to k-anonymous runs: a DP run measures "
                "bounded marginals (aim, mst) or candidates of released combinations (sds)"
            )
        return replace(resources, guard=False)
    return resources


@locks_for_call
def run(
    source: Source,
    *,
    protection: KAnonymity | DifferentialPrivacy = KAnonymity(),
    length: int | None = None,
    mode: str | None = None,
    out: str | Path | None = None,
    preparation: Preparation = Preparation(),
    seed: int | None = None,
    force: bool = False,
    threads: int | None = None,
    progress: StageProgress | None = None,
    join_multi_value: bool = True,
    resources: Resources | None = None,
    **parameters,
) -> RunResult:
    """Protected aggregates and synthetic records of one input, in one release directory.

    Writes aggregates.parquet, aggregates.tsv, synthetic.csv,
    synthetic.parquet and metadata.json atomically. Under k-anonymity
    ``mode`` is any synthesis mode (default ``row_seeded``; ``aggregate_seeded``
    synthesizes from the released aggregates) and ``length`` defaults to 3.
    Under DP the records come from the DP aggregates alone (post-processing:
    the release is as private as the aggregates), ``mode`` is ``tree``
    (default), ``pairwise`` or ``aggregate_seeded``, and ``length`` defaults to 2.
    Multi-value cells are joined in the files, or 0/1 columns without ``join_multi_value``.
    Under k-anonymity the resource guard of ``resources`` (default: half the
    machine's memory) refuses, before counting, a length and columns whose
    combinations may not fit. Directories and globs of parts are streamed: a
    mode that synthesizes from the counts never holds the records (and counts
    on ``resources.scheduler`` when given); one that reads every record
    (``row_seeded`` and the other sensitive modes) keeps all their codes.
    """
    if isinstance(protection, DifferentialPrivacy) and protection.algorithm is None:
        protection = replace(protection, algorithm=_default_algorithm(protection, preparation, mode))
    if isinstance(protection, DifferentialPrivacy) and protection.algorithm == "aim" and length is None:
        length = DEFAULT_ADAPTIVE_LENGTH  # chosen by default or by name alike
    length, mode = _plan(protection, length, mode)
    dp = isinstance(protection, DifferentialPrivacy)
    resources = _run_resources(resources, dp, mode)
    given = mode_parameters(mode, None if dp else protection.k, parameters)
    from ..stream import streams

    streamed = streams(source, resources)
    preparation = check_request(
        source, protection, preparation, seed, length, streamed=streamed, scheduler=resources.scheduler
    )
    job = Job("release", out=out, force=force, inputs=inputs(source, protection, preparation),
              threads=threads, progress=progress)  # fmt: skip
    rng = make_rng(seed)
    extra = {"mode": mode, **{k: v for k, v in given.items() if k != "resolution"}}
    with protected_counts(job, source, protection, length, preparation, seed, extra, resources,
                          keep_records=mode in SENSITIVE_MODES) as counted:  # fmt: skip
        aggregated, table = counted.result, counted.loaded.table
        released = aggregated.released
        constraints = preparation.constraints
        scheduler = resources.scheduler if mode in SPLIT_MODES else None
        synthetic = synthesize_step(job, mode, given, table=table, source=released, rng=rng,
                                    scheduler=scheduler, constraints=constraints)  # fmt: skip
        metrics = None if dp else check_step(job, synthetic, aggregated.exact, length, protection.k)
        exact = aggregated.exact  # a streamed input's table holds the schema only: count from the counts
        input_records = table.n_rows if exact is None else exact.record_count
        synthesis = SynthesisResult(
            synthetic=synthetic, mode=mode, parameters=effective_parameters(mode, given, synthetic),
            length=length, input_records=input_records,
            reference="sensitive data" if metrics is not None else "aggregates", metrics=metrics,
            seconds=job.seconds, protection=protection.name if mode not in SENSITIVE_MODES else "k-anonymity",
        )  # fmt: skip
        result = RunResult(aggregate=aggregated, synthesis=synthesis, seconds=job.seconds)
        if out is not None:
            resolution = None if dp else protection.k
            guarantee = synthesis_guarantee(mode, resolution, released, length)

            def sections() -> dict:
                parameters = counted.dp_parameters or {
                    "reporting_length": length, "resolution": resolution, "mode": mode,
                    **synthesis.parameters, "threads": threads,
                }  # fmt: skip
                return {
                    "input": publishable(counted.loaded.description),
                    "preparation": preparation.describe(),
                    "parameters": parameters,
                    "randomness": describe_seed(seed),
                    "resources": resources.describe(),
                    **aggregate_sections(counted),
                    "synthesis": synthesis_section(
                        synthesis, int(released.record_count), guarantee, constraints
                    ),  # fmt: skip
                    **({"constraints": describe_constraints(constraints)} if constraints else {}),
                }

            files = {**aggregate_files(released), **synthetic_files(synthetic, join_multi_value)}
            result.files = synthesis.files = aggregated.files = job.write(files, sections)
    return result
