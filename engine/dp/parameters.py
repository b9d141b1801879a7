"""The checks of a DP release that need the data's shape, run before the ledger is charged.

A typo must never cost budget: the parameters themselves are checked when the
:class:`~showcase.engine.protection.DifferentialPrivacy` spec is built (and
against the reporting length by its ``check``); :func:`check_against_table`
adds what needs the table (its columns, its values), still before
:meth:`Ledger.charge <showcase.engine.dp.ledger.Ledger.charge>`.
"""

from __future__ import annotations

from ..count import check_length_fits
from ..encode import EncodedTable
from ..errors import ParameterError
from ..protection import DifferentialPrivacy
from .accountant import default_delta
from .marginals import check_key_space
from .noise import gaussian_parameters


def check_against_table(
    table: EncodedTable, protection: DifferentialPrivacy, length: int, public_domain: bool,
    n_rows: int | None = None,
) -> None:  # fmt: skip
    """The checks that need the data's shape: length against columns, value count, noise range.

    The noise check uses the smallest noise any length can get (sensitivity
    bound 1) and, when delta defaults, the default for the exact record count
    (``n_rows`` when the records are held elsewhere, else the table's):
    a budget that cannot be sampled even then is refused before it is charged.
    """
    check_length_fits(length, table.n_columns)
    check_key_space(table.schema, length)
    rows = table.n_rows if n_rows is None else n_rows
    delta = protection.delta if protection.delta is not None else default_delta(rows)
    for sigma in protection.split(length, delta, selection=not public_domain).sigmas:
        try:
            gaussian_parameters(sigma)
        except ParameterError:
            raise ParameterError(
                f"epsilon {protection.epsilon:g} is too small for {length} length(s) of DP marginals: "
                f"their noise (sigma {sigma:.3g}) is beyond the exact sampler's range; give a larger "
                "--epsilon or a shorter --length"
            ) from None
