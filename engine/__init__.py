"""showcase.engine: release sensitive microdata as protected aggregates and synthetic data.

The data flows one way: ``read_table`` → ``encode`` → ``count_combinations``
→ ``k_anonymize`` → ``write_parquet``/``write_tsv``; :func:`aggregate` runs
the whole job into a release directory. Synthetic records come from
:mod:`showcase.engine.synthesize` (one function per mode, and the dispatcher
``synthesize.synthesize``); :func:`synthesize_release` and :func:`run_release`
are the whole jobs (``pipeline.synthesize`` and ``pipeline.run``).

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
    "Aggregates": ("aggregates", "Aggregates"),
    "read_parquet": ("aggregates_io", "read_parquet"),
    "read_tsv": ("aggregates_io", "read_tsv"),
    "to_arrow": ("aggregates_io", "to_arrow"),
    "write_parquet": ("aggregates_io", "write_parquet"),
    "write_tsv": ("aggregates_io", "write_tsv"),
    "combinations_per_record": ("count", "combinations_per_record"),
    "count_combinations": ("count", "count_combinations"),
    "dp_aggregate_release": ("dp.job", "dp_aggregate_release"),
    "dp_aggregate": ("dp.marginals", "dp_aggregate"),
    "EncodedTable": ("encode", "EncodedTable"),
    "Schema": ("encode", "Schema"),
    "encode": ("encode", "encode"),
    "InputError": ("errors", "InputError"),
    "ParameterError": ("errors", "ParameterError"),
    "ShowcaseError": ("errors", "ShowcaseError"),
    "read_table": ("ingest", "read_table"),
    "AggregateResult": ("pipeline", "AggregateResult"),
    "RunResult": ("pipeline", "RunResult"),
    "SynthesisResult": ("pipeline", "SynthesisResult"),
    "aggregate": ("pipeline", "aggregate"),
    "read_aggregates": ("pipeline", "read_aggregates"),
    "run_release": ("pipeline", "run"),
    "synthesize_release": ("pipeline", "synthesize"),
    "Preparation": ("prepare", "Preparation"),
    "load": ("prepare", "load"),
    "k_anonymize": ("protect", "k_anonymize"),
    "aggregate_seeded": ("synthesize.aggregate_seeded", "aggregate_seeded"),
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
