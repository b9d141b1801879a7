"""Every option that more than one command takes, declared once, and the values built from them.

Options come in groups, each gathered into one value before the command
body runs: :data:`READ` (how the input is read) → :class:`Read`,
:data:`RELEASE` (where and how a release is written) → :class:`Release`,
:data:`MODE` (the synthesis mode and its parameters) → :class:`Mode`,
:data:`DP` (``--dp`` and the mechanism's options) → :class:`Dp`. A command
names a group by taking a parameter whose default is the group, and is
wrapped with :func:`command`, which puts the group's options in that place of
its signature::

    @options.command
    def aggregate(input: Path = options.INPUT, read: options.Read = options.READ) -> None:
        preparation = read.preparation()

Defaults of options whose presence matters are None: the engine supplies the
defaults (stated in the help), and the command can refuse an option that does
not apply. Nothing here imports the engine's heavy modules: ``--help`` stays fast.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
import typer.core

from . import console


class _Group(typer.core.TyperGroup):
    """A command group whose --help, when not given, is False rather than None.

    Typer converts a None flag value through Pydantic, which takes longer to
    import than the whole rest of ``showcase --help``; a False one it passes as it is.
    """

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.default = False
        return option


def typer_app(help: str, **settings: Any) -> typer.Typer:
    """A Typer app (or sub-app) of this command line: plain help (fast to print), --help cheap to parse."""
    return typer.Typer(help=help, cls=_Group, no_args_is_help=True, rich_markup_mode=None, **settings)


def _option(name: str, annotation: Any, default: Any, *declarations: str, **settings: Any):
    """One option of a group, as the parameter of a command signature."""
    return _shared(name, annotation, typer.Option(default, *declarations, **settings))


def _shared(name: str, annotation: Any, info: Any) -> inspect.Parameter:
    """An option declared on its own (``info``), as the parameter of a group."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=info, annotation=annotation)


def _table(
    helps: dict[str, str], types: dict[str, Any] | None = None, settings: dict[str, dict] | None = None
) -> tuple[inspect.Parameter, ...]:
    """Options from a table ``'--long -s' → help``, in its order.

    Each is a ``str`` unless ``types`` names another type, with default None
    (False for a ``bool`` flag) and the extra Typer ``settings`` of its row.
    """
    parameters = []
    for flags, help in helps.items():
        declarations = flags.split()
        kind = (types or {}).get(flags, str)
        default, annotation = (False, bool) if kind is bool else (None, kind | None)
        name = declarations[0].lstrip("-").replace("-", "_")
        extra = (settings or {}).get(flags, {})
        parameters.append(_option(name, annotation, default, *declarations, help=help, **extra))
    return tuple(parameters)


@dataclass(frozen=True)
class Group:
    """Options that go together, and how their values become one value (``gather(**values)``)."""

    options: tuple[inspect.Parameter, ...]
    gather: Callable[..., Any]


def command(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with each parameter defaulting to a :class:`Group` replaced by the group's options.

    Typer reads the returned function's signature; when it is called, the
    values of each group's options are gathered into the group's value,
    passed to ``function`` under the parameter's name.
    """
    signature = inspect.signature(function, eval_str=True)
    groups = {p.name: p.default for p in signature.parameters.values() if isinstance(p.default, Group)}
    parameters: list[inspect.Parameter] = []
    for parameter in signature.parameters.values():
        group = groups.get(parameter.name)
        # Keyword-only throughout, so that options with defaults may come before arguments without.
        parameters += group.options if group else [parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)]

    def call(**values: Any) -> Any:
        for name, group in groups.items():
            values[name] = group.gather(**{option.name: values.pop(option.name) for option in group.options})
        return function(**values)

    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(call, attribute, getattr(function, attribute))
    call.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    call.__annotations__ = {p.name: p.annotation for p in parameters}
    return call


def split_list(value: str | None) -> list[str] | None:
    """``'a, b,c'`` → ``['a', 'b', 'c']``."""
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def column_list(value: str | None) -> list[str] | None:
    """``'a, b,c'`` → ``['a', ' b', 'c']``: names kept as typed, for the engine to match exactly first
    (a column may be named ``"sp "`` beside ``"sp"``), then with surrounding spaces ignored."""
    if value is None:
        return None
    return [part for part in value.split(",") if part.strip()]


def numbers(text: str | None, flag: str) -> list[float] | None:
    """``'5,10'`` → ``[5.0, 10.0]``, or a usage error naming ``flag``."""
    if text is None:
        return None
    try:
        return [float(part) for part in split_list(text) or []]
    except ValueError:
        raise typer.BadParameter(f"{flag} must be comma-separated numbers, got {text!r}") from None


def given(**values: Any) -> dict[str, Any]:
    """The ``values`` that were given (not None): the engine's defaults stand for the others."""
    return {name: value for name, value in values.items() if value is not None}


def refuse(flags: dict[str, Any], reason: str) -> None:
    """A usage error (one line, exit status 2) naming the ``flags`` given (not None, not False)."""
    named = [flag for flag, value in flags.items() if value is not None and value is not False]
    if named:
        raise typer.BadParameter(f"{', '.join(named)}: {reason}")


# Options of several commands, declared on their own.

INPUT = typer.Argument(
    ..., metavar="INPUT", help="Sensitive microdata: .csv, .tsv, .parquet, .arrow, .xlsx or .xlsm."
)
FORCE = typer.Option(
    False, "--force", help="Replace --out if it is a release showcase wrote (never any other folder)."
)
PROGRESS = typer.Option(True, "--progress/--no-progress", help="Show progress bars.")
GROUP_COLUMN = typer.Option(
    None, "--group-column", help="Column added to every k-marginal. Default: PUMA if present."
)
SEED = typer.Option(
    None, "--seed", min=0, help="Seed for reproducible noise and records, for testing only: the "
    "metadata marks a seeded release as not for publication (and never holds the seed). "
    "Default: the OS's secure randomness."
)  # fmt: skip
#: The longest combination and the k of rare combinations where a release is compared with its input.
COMPARED_LENGTH = typer.Option(3, "--length", "-l", min=1, help="Longest combination compared.")
RARE_K = typer.Option(10, "--resolution", "-k", min=1, help="k: combinations with fewer records are rare.")
LEDGER = typer.Option(
    None, "--ledger", help="Privacy ledger file. Default: $SHOWCASE_LEDGER, else ~/.showcase/ledger.sqlite."
)


def length(help: str) -> Any:
    """``--length/-l`` of a release: the longest combination counted (``help`` says how; default None)."""
    return typer.Option(None, *COMPARED_LENGTH.param_decls, min=1, help=help)


def resolution(help: str) -> Any:
    """``--resolution/-k`` of a release: the k of k-anonymity (``help`` says what it does; default None)."""
    return typer.Option(None, *RARE_K.param_decls, min=1, help=help)


# How the input is read.


@dataclass(frozen=True)
class Read:
    """The ingestion options, as given."""

    delimiter: str | None = None
    use_columns: str | None = None
    record_limit: int | None = None
    null_marker: list[str] | None = None
    sensitive_zeros: str | None = None
    sheet: str | None = None
    max_cardinality: int | None = None
    subject_id: str | None = None
    multi_value: list[str] | None = None
    strict: bool = False
    link: Path | None = None
    on: str | None = None
    link_columns: str | None = None
    link_prefix: str | None = None
    max_linked: int | None = None
    bin: list[str] | None = None
    codebook: Path | None = None
    drop_unknown: bool = False

    def preparation(self):
        """The engine's :class:`~showcase.engine.Preparation` of these options."""
        from showcase.engine import Preparation

        zeros: str | list[str] | None = self.sensitive_zeros
        if zeros is not None:
            zeros = "all" if zeros.strip().lower() == "all" else column_list(zeros)
        return Preparation(
            delimiter=self.delimiter,
            use_columns=column_list(self.use_columns),
            record_limit=self.record_limit,
            null_markers=tuple(self.null_marker or ()),
            sensitive_zeros=zeros,
            subject_id=self.subject_id,
            codebook=self.codebook,
            drop_unknown=self.drop_unknown,
            sheet=self.sheet,
            multi_value=multi_values(self.multi_value),
            strict=self.strict,
            links=self.links(),
            bins=self.bins(),
            **given(max_cardinality=self.max_cardinality),
        )

    def bins(self) -> dict:
        """``--bin COL=SPEC`` (repeatable) as column → the engine's Bins."""
        from showcase.engine import parse_bin_option

        return dict(parse_bin_option(text) for text in self.bin or [])

    def links(self) -> list:
        """The linked table of ``--link``, or none (the link options refused without it)."""
        from showcase.engine import Link

        options = {"--on": self.on, "--link-columns": self.link_columns, "--link-prefix": self.link_prefix,
                   "--max-linked": self.max_linked}  # fmt: skip
        if self.link is None:
            shown = " (a codebook's links take theirs from its links: entries, e.g. max_linked: 5)"
            refuse(options, "used with --link only" + (shown if self.codebook is not None else ""))
            return []
        on = self.on or self.subject_id
        if on is None:
            raise typer.BadParameter("--link needs --on KEY, the column both tables share (the victim id)")
        return [Link(self.link, on, use_columns=column_list(self.link_columns),
                     max_linked=self.max_linked, **given(prefix=self.link_prefix))]  # fmt: skip


def multi_values(items: list[str] | None) -> dict[str, str]:
    """``--multi-value COL`` or ``COL=DELIM`` (repeatable; ``;`` by default) as column → delimiter."""
    values = {}
    for item in items or []:
        name, equals, delimiter = item.partition("=")
        if not name.strip() or (equals and not delimiter):
            raise typer.BadParameter(f"--multi-value takes COLUMN or COLUMN=DELIMITER, got {item!r}")
        values[name.strip()] = delimiter or ";"
    return values


READ = Group(
    _table(
        {
            "--delimiter -d": "Field separator of a text input: any one character, e.g. ';', '|' or 'tab'. "
            "Default: ',' (tab for .tsv).",
            "--use-columns": "Comma-separated columns to keep, e.g. 'sex,age_band'. Default: all.",
            "--record-limit": "Use only the first N rows of the input (before rows are merged into "
            "subjects).",
            "--null-marker": "A value meaning 'no attribute' (repeatable), e.g. N. "
            "Empty cells always mean 'no attribute'.",
            "--sensitive-zeros": "Columns where 0 is a real value ('A,B' or 'all'). "
            "Elsewhere 0 means 'no attribute', as for 0/1 indicator columns.",
            "--sheet": "The sheet of an .xlsx/.xlsm input to read, by name. Default: the first sheet.",
            "--max-cardinality": "Refuse a column with more distinct values than this (an id or a raw "
            "number: bin or drop it). Default: 10000.",
            "--subject-id": "Column identifying a subject (e.g. the victim id): the rows of each subject "
            "are merged into one record, so privacy is per subject, not per row.",
            "--multi-value": "A column whose cells hold several values (repeatable): COL (split on ';') "
            "or COL=DELIM, e.g. 'means_of_control' or 'sectors=|'. Each value becomes an attribute "
            "COL:value. A column of a --link table may be named too.",
            "--strict": "With --subject-id: refuse a column whose values differ within a subject "
            "instead of making it multi-value (always so under --dp).",
            "--link": "A table linked to the input, one-to-many on --on (e.g. perpetrators of each "
            "victim): its columns join each subject as multi-value perp_* attributes, plus perp_count.",
            "--on": "The key column of --link, shared by both tables. Default: --subject-id.",
            "--link-columns": "Comma-separated columns of --link to keep (leave out its own ids). "
            "Default: all.",
            "--link-prefix": "Prefix of the --link columns in the release. Default: perp_.",
            "--max-linked": "Keep at most this many --link rows per subject, dropped at random beyond "
            "(stated in the metadata). Default: all; 5 under --dp.",
            "--codebook": "A codebook: YAML/JSON (columns, allowed values, bins, multi-value columns, "
            "subject id, links; draft one with 'showcase codebook infer') or a CSV 'column,value'. "
            "When it lists every value, they are the public domain: under --dp no δ is spent "
            "choosing attributes from the data.",
            "--drop-unknown": "Drop values outside a YAML/JSON codebook instead of refusing the input.",
            "--bin": "Bin a numeric column (repeatable), of the input or of --link: COL=width:10, "
            "COL=edges:0,18,25,60:open (open: add <first and last+ bins; open-above or "
            "open-below: only one of them), COL=quantiles:4:0..120 "
            "(under --dp: DP quantiles in that public range, 5% of ε). End with :ctdc for labels "
            "like 18--20 (default: 18-20).",
        },
        types={
            "--record-limit": int,
            "--null-marker": list[str],
            "--max-cardinality": int,
            "--multi-value": list[str],
            "--strict": bool,
            "--link": Path,
            "--max-linked": int,
            "--bin": list[str],
            "--codebook": Path,
            "--drop-unknown": bool,
        },  # fmt: skip
        settings={
            "--record-limit": {"min": 1},
            "--null-marker": {"metavar": "<str>"},
            "--sheet": {"metavar": "NAME"},
            "--max-cardinality": {"min": 1},
            "--multi-value": {"metavar": "COL[=DELIM]"},
            "--link": {"metavar": "TABLE"},
            "--on": {"metavar": "KEY"},
            "--max-linked": {"min": 1},
            "--bin": {"metavar": "COL=SPEC"},
        },
    ),
    Read,
)


# Where and how a release is written.


@dataclass(frozen=True)
class Release:
    """The output options of a release: the folder, replacing it, threads, progress bars, the seed."""

    out: Path
    force: bool = False
    threads: int | None = None
    progress: bool = True
    seed: int | None = None

    def job(self) -> dict[str, Any]:
        """The keywords every job takes from these options (the progress bars are the command's)."""
        return {"out": self.out, "seed": self.seed, "force": self.force, "threads": self.threads}

    def run(self, job: Callable[..., Any], *arguments: Any, **keywords: Any) -> tuple[Any, float]:
        """``job(*arguments, **keywords)`` with these options and progress bars: its result and seconds."""
        started = time.perf_counter()
        with console.stage_progress(self.progress) as progress:
            result = job(*arguments, progress=progress, **keywords, **self.job())
        console.steps(getattr(result, "seconds", {}))
        return result, time.perf_counter() - started

    def warn_if_seeded(self, dp: bool = False) -> None:
        """Warn that a seeded release (its DP noise, or its records) is for testing only."""
        if self.seed is None:
            return
        if dp:
            console.warning("seeded DP release: for testing only, never publish it")
        else:
            console.warning("--seed: the records are reproducible; use them for testing, "
                            "not for publication.")  # fmt: skip


RELEASE = Group(
    (
        _option("out", Path, ..., "--out", "-o", help="Release directory to create."),
        _shared("force", bool, FORCE),
        _option("threads", int | None, None, "--threads", min=1,
                help="Threads for the kernels. Default: all cores."),
        _shared("progress", bool, PROGRESS),
        _shared("seed", int | None, SEED),
    ),
    Release,
)  # fmt: skip


# How a job may use the machine: the resource guard, streaming, a Dask scheduler.


@dataclass(frozen=True)
class Scale:
    """The resource options, as given."""

    memory_limit: str | None = None
    no_resource_guard: bool = False
    stream: bool | None = None
    scheduler: str | None = None

    def resources(self):
        """The engine's :class:`~showcase.engine.Resources` of these options (checked: one line if bad)."""
        from showcase.engine import Resources

        return Resources(memory_limit=self.memory_limit, guard=not self.no_resource_guard,
                         stream=self.stream, scheduler=self.scheduler)  # fmt: skip


MEMORY_LIMIT = _option("memory_limit", str | None, None, "--memory-limit", metavar="SIZE",
                       help="Memory the job may plan for, e.g. 6GiB or 50% (of RAM); counting that may "
                       "need more is refused before it starts (run: k-anonymous runs only). "
                       "Default: 50%.")  # fmt: skip
NO_RESOURCE_GUARD = _option("no_resource_guard", bool, False, "--no-resource-guard",
                            help="Count even when the estimate is above --memory-limit (--force is for "
                            "--out; run: k-anonymous runs only).")  # fmt: skip


SCALE = Group(
    (
        MEMORY_LIMIT,
        NO_RESOURCE_GUARD,
        _option("stream", bool | None, None, "--stream/--in-memory",
                help="Read the input in row batches and sum their counts, or load it whole. Default: "
                "stream directories, globs ('parts/*.csv') and files over 2 GiB."),
        _option("scheduler", str | None, None, "--scheduler", metavar="local[N]|tcp://HOST:PORT",
                help="Count on Dask: N local worker processes, or an existing scheduler whose workers "
                "see the input at the same path. Needs pip install 'showcase[distributed]'."),
    ),
    Scale,
)  # fmt: skip


# The synthesis mode and its parameters.


@dataclass(frozen=True)
class Mode:
    """The synthesis mode (None: the engine's default) and the mode parameters given (not None)."""

    mode: str | None
    parameters: dict[str, Any] = field(default_factory=dict)
    join_multi_value: bool = True

    def job(self, length: int | None) -> dict[str, Any]:
        """The keywords of a synthesizing job: the mode and ``length`` if given, and the parameters."""
        joined = {} if self.join_multi_value else {"join_multi_value": False}
        return {**given(mode=self.mode, length=length), **joined, **self.parameters}


def _mode(mode: str | None, use_synthetic_counts: bool, join_multi_value: bool, **parameters: Any) -> Mode:
    chosen = given(use_synthetic_counts=True if use_synthetic_counts else None, **parameters)
    return Mode(mode, chosen, join_multi_value)


MODE = Group(
    _table(
        {
            "--mode -m": "Synthesis mode. From sensitive records: row_seeded (the default), unseeded, "
            "value_seeded. From aggregates alone: aggregate_seeded (the default from k-anonymous "
            "aggregates), tree (the default from sds DP aggregates: every record complete, drawn down a "
            "Chow-Liu tree of the released pairs), pairwise (every record complete, from all released "
            "pairs pooled) or fitted (the default from an aim or mst release: records fitted to every "
            "measured marginal).",
            "--weight-selection-percentile": "aggregate_seeded: percentile of the length-L "
            "sub-combination counts that weighs an attribute once a record is longer than L. Default: 95.",
            "--use-synthetic-counts": "aggregate_seeded: weigh by what is left of each count after the "
            "records already synthesized.",
            "--aggregate-counts-scale-factor": "aggregate_seeded: multiply every aggregate count by this "
            "before synthesis. Default: 1.",
            "--target-number-of-records": "aggregate_seeded, tree, pairwise, fitted: records to synthesize. "
            "Default: the aggregates' record count (times the scale factor).",
            "--fit-sweeps": "aggregate_seeded: then move the records toward every released count (empty "
            "cells included), never leaving the aggregates; proposals per cell, 0 (no fit) to 10000. "
            "Default: 20.",
            "--oversampling-ratio": "value_seeded: how far above its count a combination may be "
            "synthesized (0.1 = 10 %).",
            "--oversampling-tries": "value_seeded: attempts to sample an attribute that does not "
            "oversample before a record is finished.",
        },
        types={
            "--weight-selection-percentile": float,
            "--use-synthetic-counts": bool,
            "--aggregate-counts-scale-factor": float,
            "--target-number-of-records": int,
            "--fit-sweeps": int,
            "--oversampling-ratio": float,
            "--oversampling-tries": int,
        },  # fmt: skip
        settings={
            "--weight-selection-percentile": {"min": 0.0, "max": 100.0},
            "--target-number-of-records": {"min": 0},
            "--fit-sweeps": {"min": 0, "max": 10_000},
            "--oversampling-ratio": {"min": 0.0},
            "--oversampling-tries": {"min": 0},
        },
    )
    + (
        _option(
            "join_multi_value",
            bool,
            True,
            "--join-multi-value/--flag-multi-value",
            help="Write each multi-value column as one cell of its values joined by its "
            "delimiter, or as one 0/1 column per value (COL:value).",
        ),
    ),  # fmt: skip
    _mode,
)


# Differential privacy.


@dataclass(frozen=True)
class Dp:
    """``--dp`` and the DP options given (flag → value, only those not None)."""

    enabled: bool
    given: dict[str, Any] = field(default_factory=dict)

    def specs(self, read: Read, resolution: int | None, unprotected: bool = False) -> tuple[Any, Any]:
        """The engine's protection and preparation: DP with ``--dp``, else k-anonymity (or exact counts).

        Refuses DP options without ``--dp``, ``--dp`` without ``--epsilon``,
        and the k-anonymity options ``-k`` and ``--unprotected`` with ``--dp``.
        """
        from showcase.engine import DifferentialPrivacy, Exact, KAnonymity

        if not self.enabled:
            refuse(self.given, "DP options, used with --dp only")
            if not unprotected:
                warn_if_unprotected(resolution)
            return (Exact if unprotected else KAnonymity)(**given(k=resolution)), read.preparation()
        if "--epsilon" not in self.given:
            raise typer.BadParameter("--dp needs --epsilon (the privacy budget ε > 0)")
        refuse({"-k/--resolution": resolution}, "k-anonymity only; a --dp release has no k")
        refuse({"--unprotected": unprotected}, "cannot be combined with --dp")
        spec = {flag[2:].replace("-", "_"): value for flag, value in self.given.items()}
        if "mechanism" in spec:
            spec["algorithm"] = spec.pop("mechanism")
        for name in ("thresholds", "sigma_proportions"):
            if name in spec:
                spec[name] = numbers(spec[name], "--" + name.replace("_", "-"))
        return DifferentialPrivacy(**spec), read.preparation()


def warn_if_unprotected(resolution: int | None) -> None:
    """Warn that ``-k 1`` is k-anonymity in name only."""
    if resolution == 1:
        console.warning(
            "-k 1 protects nothing: combinations held by a single record are released as they are "
            "(use k >= 2)"
        )


def _dp(dp: bool, **values: Any) -> Dp:
    given = {"--" + name.replace("_", "-"): value for name, value in values.items() if value is not None}
    return Dp(dp, given)


#: The DP options but --dp itself: help (each shown after "DP: ").
_DP_HELP = {
    "--epsilon": "total privacy budget ε, from 1e-6 to 1e4.",
    "--mechanism": "which marginals are measured: sds (every combination up to L), "
    "mst (1-way, then a spanning tree of pairs chosen by the exponential mechanism) or aim (rounds "
    "that measure the pair or triple worst fitted so far); mst and aim synthesize with mode fitted. "
    "Default: sds for aggregate; aim for run (the best k-marginal score measured at ε = 1, 4 and 10), "
    "or sds where aim cannot protect the input (subjects, linked tables, multi-value columns without "
    "a codebook) or an sds option or another mode is given.",
    "--rounds": "mst/aim: AIM's rounds (marginals measured). Default: from the budget.",
    "--one-way-proportion": "mst/aim: share of the budget for the 1-way marginals. Default: 0.1.",
    "--delta": "δ in [1e-12, 1). Default: 1/(n ln n) for the protected record count n.",
    "--fabrication-mode": "thresholds for lengths >= 2: uncontrolled, balanced, minimize or "
    "progressive. Default: balanced.",
    "--thresholds": "fixed thresholds for lengths 2..L instead, e.g. '5,10'.",
    "--accuracy-mode": "noise split over lengths: balanced, prioritize-long or prioritize-short. "
    "Default: balanced (the same noise for every length).",
    "--sigma-proportions": "relative noise per length 1..L instead, e.g. '1,1,2'.",
    "--percentile": "percentile of per-record combination counts that bounds each record's "
    "contribution. Default: 99.",
    "--percentile-proportion": "share of the budget for those percentiles. Default: 0.1.",
    "--record-count-proportion": "share of ε for the record count. Default: 0.005.",
    "--budget-total": "refuse the release if this input's total ε in the ledger would exceed this.",
    "--ledger": LEDGER.help[0].lower() + LEDGER.help[1:],
    "--dataset-id": "charge the budget to this named dataset in the ledger, not to the file's "
    "fingerprint (which changes with any edit of the file), e.g. 'cases-2024'.",
}

DP = Group(
    _table(
        {
            "--dp": "Release differentially private counts instead of k-anonymous ones "
            "(needs --epsilon). The options below apply only with --dp.",
            **{flag: f"DP: {help}" for flag, help in _DP_HELP.items()},
        },
        types={
            "--dp": bool,
            "--epsilon": float,
            "--rounds": int,
            "--one-way-proportion": float,
            "--delta": float,
            "--percentile": float,
            "--percentile-proportion": float,
            "--record-count-proportion": float,
            "--budget-total": float,
            "--ledger": Path,
        },  # fmt: skip
    ),
    _dp,
)


def report_preparation(result) -> None:
    """Say what preparing the input changed: rows merged into subjects, columns made multi-value, ...

    Under DP the notes give no counts: a terminal or a CI log is not where exact
    statistics of the input belong (``showcase prepare`` shows them to the data owner).
    """
    changes = getattr(result, "prepared", None) or getattr(result, "changes", None) or {}
    exact = not _is_dp(result)

    def counted(number: int, words: str) -> str:
        return f"{number:,} {words}" if exact else words

    if "subjects" in changes and changes["subjects"] != changes["rows"]:
        rows, subjects = counted(changes["rows"], "rows"), counted(changes["subjects"], "subjects")
        hidden = "" if exact else " (counts left out under --dp; showcase prepare shows them)"
        console.note(f"merged {rows} into {subjects}{hidden}")
    for name, subjects in changes.get("became_multi_value", {}).items():
        console.note(f"column {name!r} became multi-value: its values differ within "
                     f"{counted(subjects, 'subject(s)') if exact else 'some subjects'} "
                     "(--strict refuses instead)")  # fmt: skip
    for prefix, rows in changes.get("linked_rows", {}).items():
        dropped = changes.get("linked_rows_dropped", {}).get(prefix, 0)
        extra = f"{dropped:,} more" if exact else "rows"
        kept = f"; {extra} dropped at random beyond the cap per subject" if dropped else ""
        console.note(f"linked {counted(rows, prefix + '* rows')} to their subjects{kept}")
    for name in changes.get("delimiter_never_found", []):
        console.warning(f"multi-value column {name!r}: its delimiter never occurs (is it the right one?)")


def report_spreadsheet(result) -> None:
    """Warn when a released name or value starts as a spreadsheet formula would (=, +, -, @)."""
    from showcase.engine import formula_like

    found: list[str] = []
    parts = {id(p): p for p in (getattr(result, "aggregate", result), getattr(result, "synthesis", result))}
    for part in parts.values():
        if getattr(part, "released", None) is not None:  # the values the files name, not the data's
            found += formula_like(part.released.on_released_schema().schema)
        if getattr(part, "synthetic", None) is not None:
            found += formula_like(part.synthetic.schema, part.synthetic.codes)
    if found:
        names = ", ".join(repr(n) for n in list(dict.fromkeys(found))[:8])
        console.warning(
            f"column(s) {names} have names or values that start like a formula (=, +, -, @): a spreadsheet "
            "opening the CSV/TSV files may run them; import those columns as text, or use the Parquet files"
        )


def _is_dp(result) -> bool:
    """Whether ``result`` (a job's, or a run's with its aggregate) is a differentially private release."""
    privacy = getattr(getattr(result, "aggregate", result), "privacy", None) or {}
    return privacy.get("epsilon") is not None


#: Above this delta a DP release gets a warning: the default 1/(n ln n) only reaches it below
#: about 200 protected records, where the guarantee's chance of failing is no longer negligible.
LARGE_DELTA = 1e-3


def report_ledger(result) -> None:
    """Say where a DP release created a new privacy ledger (there was none before); warn of a large δ."""
    privacy = getattr(getattr(result, "aggregate", result), "privacy", None) or {}
    delta = privacy.get("delta")
    if isinstance(delta, float) and delta > LARGE_DELTA:
        console.warning(
            f"δ = {delta:.2g} is large (the chance that the DP guarantee fails): with this few records the "
            "default 1/(n ln n) cannot be small; give --delta 1e-6 or release more records together"
        )
    if getattr(result, "ledger_created", None) is not None:
        console.note(
            f"created a new privacy ledger at {result.ledger_created}; it records this and later "
            "DP releases (keep it and back it up: without it earlier releases are forgotten)"
        )
