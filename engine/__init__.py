"""showcase.engine: release sensitive microdata as protected aggregates and synthetic data.

The jobs are :func:`aggregate`, :func:`synthesize`, :func:`run`,
:func:`evaluate` and :func:`compare` (``showcase.engine.jobs``). Each takes a
file path, a ``pyarrow.Table`` or a data frame that speaks the Arrow PyCapsule
interface, and a protection spec (:class:`KAnonymity`,
:class:`DifferentialPrivacy` or :class:`Exact`), and returns a typed result
whose tables are Arrow (``result.to_pandas()`` one call away)::

    from showcase.engine import aggregate, KAnonymity
    result = aggregate("cases.csv", protection=KAnonymity(10), length=3, out="release/")

Underneath, data flows one way: ``load`` (read, prepare, encode) →
``count_combinations`` → ``k_anonymize`` or ``dp_aggregate`` →
``write_parquet``/``write_tsv``; synthesis modes live in
:mod:`showcase.engine.synthesize`.

The public names are imported on first use (PEP 562), so ``import
showcase.engine`` costs nothing until a name is used: the command line's
``--help`` never loads NumPy, Numba or PyArrow.
"""

from __future__ import annotations

import importlib
import sys
import types

from ._version import __version__ as __version__

#: Public name → the module (relative to this package) that defines it, and its name there.
_EXPORTS = {
    # Jobs: input in, release out (engine/jobs/).
    "aggregate": ("jobs.aggregate", "aggregate"),
    "synthesize": ("jobs.synthesize", "synthesize"),
    "run": ("jobs.run", "run"),
    "evaluate": ("jobs.evaluate", "evaluate"),
    "evaluation_folder": ("jobs.evaluate", "evaluation_folder"),
    "compare": ("jobs.compare", "compare"),
    "prepare_input": ("jobs.prepare", "prepare"),
    "serve_explorer": ("explore.server", "serve"),
    "is_loopback": ("explore.guard", "is_loopback"),
    "explorer_app": ("explore.server", "create_app"),
    "write_static_report": ("explore.report", "static_report"),
    "AggregateResult": ("jobs.results", "AggregateResult"),
    "SynthesisResult": ("jobs.results", "SynthesisResult"),
    "RunResult": ("jobs.results", "RunResult"),
    # Protection specs, chosen here and passed down.
    "KAnonymity": ("protection", "KAnonymity"),
    "DifferentialPrivacy": ("protection", "DifferentialPrivacy"),
    "Exact": ("protection", "Exact"),
    "Resources": ("resources", "Resources"),
    "Protection": ("protection", "Protection"),
    # The load path and representations.
    "Preparation": ("prepare", "Preparation"),
    "Link": ("linking", "Link"),
    "Bins": ("binning", "Bins"),
    "Constraint": ("constraints", "Constraint"),
    "parse_bin_option": ("binning", "parse_bin_option"),
    "load": ("prepare", "load"),
    "read_table": ("ingest", "read_table"),
    "fingerprint": ("ingest", "fingerprint"),
    "formula_like": ("synthesize.output", "formula_like"),
    "EncodedTable": ("encode", "EncodedTable"),
    "Schema": ("encode", "Schema"),
    "encode": ("encode", "encode"),
    "decode": ("encode", "decode"),
    "Aggregates": ("aggregates", "Aggregates"),
    "read_aggregates": ("aggregates_io", "read_aggregates"),
    "read_parquet": ("aggregates_io", "read_parquet"),
    "read_tsv": ("aggregates_io", "read_tsv"),
    "to_arrow": ("aggregates_io", "to_arrow"),
    "write_parquet": ("aggregates_io", "write_parquet"),
    "write_tsv": ("aggregates_io", "write_tsv"),
    # Building blocks for notebooks and benchmarks.
    "combinations_per_record": ("count", "combinations_per_record"),
    "count_combinations": ("count", "count_combinations"),
    "k_anonymize": ("protect", "k_anonymize"),
    "dp_aggregate": ("dp.marginals", "dp_aggregate"),
    "aggregate_seeded": ("synthesize.aggregate_seeded", "aggregate_seeded"),
    "MECHANISMS": ("mechanisms", "MECHANISMS"),
    # Errors.
    "InputError": ("errors", "InputError"),
    "ParameterError": ("errors", "ParameterError"),
    "ShowcaseError": ("errors", "ShowcaseError"),
    # What the command line needs around the jobs: signals, output locks, files, the ledger.
    "handle_signals": ("interrupts", "handle_signals"),
    "pending_signal": ("interrupts", "pending"),
    "received_signal": ("interrupts", "received"),
    "Terminated": ("interrupts", "Terminated"),
    "release_locks": ("output_lock", "release_all"),
    "lock_output": ("output_lock", "acquire"),
    "check_output_file": ("release", "check_output_file"),
    "is_release": ("release", "is_release"),
    "require_release": ("release", "require_release"),
    "staged_file": ("staging", "staged_file"),
    "Ledger": ("dp.ledger", "Ledger"),
    "dataset_key": ("dp.ledger", "dataset_key"),
    "ledger_path": ("dp.ledger", "ledger_path"),
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str):
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


class _Engine(types.ModuleType):
    """The package's module type: a submodule never hides a public name it shares.

    Importing ``showcase.engine.encode`` (the module) would otherwise set the
    package attribute ``encode`` to it, and ``from showcase.engine import
    encode`` would then give the module instead of the function.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Engine
