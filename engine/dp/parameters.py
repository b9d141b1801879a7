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
from .marginals import check_key_space, public_columns
from .noise import gaussian_parameters


def check_against_table(
    table: EncodedTable, protection: DifferentialPrivacy, length: int, public_domain: bool
) -> None:
    """The checks that need the data's shape: length against columns, value count, noise range.

    Each reads public facts only, so that whether a release is refused before
    its charge never tells two neighbouring inputs apart: the length is checked
    against :func:`~showcase.engine.dp.marginals.public_columns` (a
    multi-value column's indicator columns are named by the data), and the noise
    with the smallest noise any length can get (sensitivity bound 1) and,
    when delta defaults, the largest default delta (that of 3 records) rather
    than the one of the exact record count.
    """
    check_length_fits(length, public_columns(table.schema, public_domain))
    check_key_space(table.schema, length)
    delta = protection.delta if protection.delta is not None else default_delta(3)
    for sigma in protection.split(length, delta, selection=not public_domain).sigmas:
        try:
            gaussian_parameters(sigma)
        except ParameterError:
            raise ParameterError(
                f"epsilon {protection.epsilon:g} is too small for {length} length(s) of DP marginals: "
                f"their noise (sigma {sigma:.3g}) is beyond the exact sampler's range; give a larger "
                "--epsilon or a shorter --length"
            ) from None
