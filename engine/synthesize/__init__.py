"""Synthetic microdata (SPEC §3): one entry point, :func:`synthesize`, for every mode.

k-anonymity modes read the sensitive data (an
:class:`~showcase.engine.encode.EncodedTable`) and never emit a combination
that fewer than k sensitive records share:

* ``row_seeded``: each sensitive record seeds a synthetic one;
* ``unseeded``: records sampled from joint distributions of the data;
* ``value_seeded``: seeded from single-attribute counts, bounded oversampling.

``aggregate_seeded`` reads only released aggregates
(:class:`~showcase.engine.aggregates.Aggregates`) and never emits a
combination of length <= L absent from them; its records are then fitted to
the released counts under the same guarantee (``fit_sweeps``, 20 by default, 0
for the records as built; see :mod:`.aggregate_fit`). ``tree`` and ``pairwise`` also
read only released aggregates and complete every record from the released 1-
and 2-combinations: ``tree`` samples down a Chow–Liu tree of the columns (see
:mod:`.tree`; the mode for DP aggregates, where aggregate-seeded records stop
early), ``pairwise`` pools every released pair (see :mod:`.pairwise`).
``fitted`` fits records to every marginal an adaptive DP release measured
(``mst``, ``aim``; see :mod:`.fitted`).

Every mode returns codes on the schema of its input, 0 where a record has no
attribute for a column; :mod:`.output` turns them back into the input's spellings.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..aggregates import Aggregates
from ..checks import check_flag
from ..constraints import Constraint, enforce
from ..encode import EncodedTable
from ..errors import ParameterError
from ..protect import validate_resolution
from ..randomness import check_rng

ROW_SEEDED = "row_seeded"
UNSEEDED = "unseeded"
VALUE_SEEDED = "value_seeded"
AGGREGATE_SEEDED = "aggregate_seeded"
PAIRWISE = "pairwise"
TREE = "tree"
FITTED = "fitted"
#: Every mode, in the order the CLI lists them.
MODES = (ROW_SEEDED, UNSEEDED, VALUE_SEEDED, AGGREGATE_SEEDED, TREE, PAIRWISE, FITTED)
#: Modes that read only released aggregates.
AGGREGATE_MODES = (AGGREGATE_SEEDED, TREE, PAIRWISE, FITTED)
#: Modes that read the sensitive data (and need a resolution k).
SENSITIVE_MODES = (ROW_SEEDED, UNSEEDED, VALUE_SEEDED)
#: Modes whose records can be built in independent runs of partitions, e.g. on a Dask cluster.
SPLIT_MODES = (AGGREGATE_SEEDED, TREE)

#: The parameters each mode accepts besides its input and ``rng`` (defaults: None = the mode's own).
MODE_PARAMETERS: dict[str, tuple[str, ...]] = {
    ROW_SEEDED: ("resolution",),
    UNSEEDED: ("resolution",),
    VALUE_SEEDED: ("resolution", "oversampling_ratio", "oversampling_tries"),
    AGGREGATE_SEEDED: (
        "weight_selection_percentile",
        "use_synthetic_counts",
        "aggregate_counts_scale_factor",
        "target_number_of_records",
        "fit_sweeps",
    ),
    PAIRWISE: ("target_number_of_records",),
    TREE: ("target_number_of_records",),
    FITTED: ("target_number_of_records",),
}


def validate_mode(mode: str) -> str:
    """The mode name, or a one-line error listing the modes."""
    if mode not in MODES:
        raise ParameterError(f"unknown synthesis mode {mode!r}; choose one of {', '.join(MODES)}")
    return mode


def check_parameters(mode: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters that were given (not None), refusing any that ``mode`` does not use."""
    validate_mode(mode)
    given = {name: value for name, value in parameters.items() if value is not None}
    foreign = sorted(set(given) - set(MODE_PARAMETERS[mode]))
    if foreign:
        names = ", ".join(name.replace("_", "-") for name in foreign)
        raise ParameterError(f"{names}: not a parameter of mode {mode}")
    if mode in SENSITIVE_MODES:
        if "resolution" not in given:
            raise ParameterError(f"mode {mode} needs a resolution (k)")
        given["resolution"] = validate_resolution(given["resolution"])
    if mode == AGGREGATE_SEEDED:
        from .aggregate_seeded import validate_parameters

        validate_parameters(
            given.get("weight_selection_percentile", 95.0),
            given.get("aggregate_counts_scale_factor", 1.0),
            given.get("target_number_of_records"),
        )
        from .aggregate_seeded import check_fit_sweeps

        check_fit_sweeps(given.get("fit_sweeps"))
        if "use_synthetic_counts" in given:
            given["use_synthetic_counts"] = check_flag(given["use_synthetic_counts"], "use_synthetic_counts")
    if "target_number_of_records" in given:
        from .aggregate_seeded import check_target

        given["target_number_of_records"] = check_target(given["target_number_of_records"])
    if mode == VALUE_SEEDED:
        from .value_seeded import validate_oversampling

        validate_oversampling(given.get("oversampling_ratio"), given.get("oversampling_tries"))
    return given


def _mode_function(mode: str):
    """The mode's function, imported on first use."""
    try:
        module = importlib.import_module(f"{__name__}.{mode}")
    except ModuleNotFoundError as missing:
        if missing.name != f"{__name__}.{mode}":
            raise
        raise ParameterError(f"synthesis mode {mode} is not available in this version") from None
    return getattr(module, mode)


def synthesize(
    mode: str,
    source: EncodedTable | Aggregates,
    *,
    rng: np.random.Generator,
    progress=None,
    constraints: Sequence[Constraint] = (),
    **parameters: Any,
) -> EncodedTable:
    """Synthesize records with ``mode`` from ``source`` and return their codes.

    ``source`` is the sensitive :class:`EncodedTable` for the k-anonymity
    modes and an :class:`Aggregates` for ``aggregate_seeded`` (which never
    reads sensitive data). ``parameters`` are the mode's own (see
    :data:`MODE_PARAMETERS`); ``None`` values mean "the mode's default".
    ``progress(done, total)`` is passed to modes that report progress.
    No record violates one of the declared ``constraints`` (impossible
    combinations, see :mod:`showcase.engine.constraints`): every mode avoids
    them as records grow (a k-anonymity mode refuses the attribute like a
    failed k-test, a sampler draws among the allowed values, the fit refuses
    the move); :func:`~showcase.engine.constraints.enforce` is a last check
    that would clear an attribute of any record left violating one.
    Returns the records as an :class:`EncodedTable` on the source's schema.
    """
    constraints = tuple(constraints)
    table = _synthesize(mode, source, rng, progress, constraints, parameters)
    if constraints:
        enforce(table, constraints)
    return table


def _synthesize(
    mode: str,
    source: EncodedTable | Aggregates,
    rng: np.random.Generator,
    progress,
    constraints: tuple[Constraint, ...],
    parameters: dict[str, Any],
) -> EncodedTable:
    given = check_parameters(mode, parameters)
    check_rng(rng)
    if mode in AGGREGATE_MODES and not isinstance(source, Aggregates):
        raise ParameterError(f"{mode} synthesizes from aggregates, not from sensitive records")
    if mode == FITTED:
        return _mode_function(mode)(source, rng=rng, constraints=constraints, progress=progress, **given)
    if mode in (TREE, PAIRWISE):
        return _mode_function(mode)(source, rng=rng, constraints=constraints, **given)
    if mode == AGGREGATE_SEEDED:
        from .aggregate_seeded import aggregate_seeded

        return aggregate_seeded(source, rng=rng, progress=progress, constraints=constraints, **given)
    if not isinstance(source, EncodedTable):
        raise ParameterError(f"mode {mode} synthesizes from the sensitive records, not from aggregates")
    codes = _mode_function(mode)(source, rng=rng, constraints=constraints, progress=progress, **given)
    # The k-anonymity modes return bare codes on the sensitive table's schema.
    table = codes if isinstance(codes, EncodedTable) else EncodedTable(source.schema, codes)
    return shuffled(table, rng)


def shuffled(table: EncodedTable, rng: np.random.Generator) -> EncodedTable:
    """``table``'s records in a uniformly random order.

    Modes that read sensitive records build record ``i`` from (or next to)
    sensitive record ``i`` (row_seeded's first pass keeps a subset of each one's
    attributes), so the order would link a synthetic record to the person in
    the same row of the input to anyone who knows that order (a date, a case
    number). Shuffling makes the order independent of the input's.
    """
    order = rng.permutation(table.n_rows)
    return EncodedTable(table.schema, np.ascontiguousarray(table.codes[:, order]))


def split_work(
    mode: str, source: Aggregates, *, rng: np.random.Generator, constraints: Sequence[Constraint] = (),
    **parameters: Any,
):  # fmt: skip
    """The work of ``mode`` as independent partitions (a :class:`~.split.SplitWork`), seeds from ``rng``.

    Only the :data:`SPLIT_MODES`, which read released aggregates alone. Building
    every partition gives the records :func:`synthesize` gives for the same ``rng``.
    """
    given = check_parameters(mode, parameters)
    if mode not in SPLIT_MODES:
        raise ParameterError(
            f"mode {mode} is built in one process; {' and '.join(SPLIT_MODES)} can be split across workers"
        )
    if not isinstance(source, Aggregates):
        raise ParameterError(f"{mode} synthesizes from aggregates, not from sensitive records")
    return importlib.import_module(f"{__name__}.{mode}").split(
        source, rng=rng, constraints=constraints, **given
    )
