"""Options of the adaptive DP mechanisms (``mst``, ``aim``), checked at construction; nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ParameterError
from .accountant import check_proportion

ADAPTIVE = ("mst", "aim")
#: Share of the AIM rounds' budget spent on choosing (the rest on measuring), as in AIM.
AIM_SELECTION = 0.1


@dataclass(frozen=True)
class AdaptiveOptions:
    """The options of an adaptive release (see :func:`adaptive_aggregate`), checked at construction."""

    algorithm: str = "aim"
    length: int = 2
    rounds: int | None = None
    one_way_proportion: float = 0.1
    record_count_proportion: float = 0.005
    #: Share of each AIM round's budget spent on choosing what to measure.
    selection_proportion: float = AIM_SELECTION

    def __post_init__(self) -> None:
        if self.algorithm not in ADAPTIVE:
            raise ParameterError(
                f"unknown adaptive mechanism {self.algorithm!r}; choose {', '.join(ADAPTIVE)}"
            )
        if self.length not in (2, 3):
            raise ParameterError(
                f"the {self.algorithm} mechanism measures marginals of 2 or 3 columns, got {self.length}"
            )
        if self.algorithm == "mst" and self.length != 2:
            raise ParameterError("the mst mechanism measures pairs only: use --length 2 (or aim for triples)")
        if self.rounds is not None and (
            isinstance(self.rounds, bool)
            or not isinstance(self.rounds, int)
            or not 1 <= self.rounds <= 10_000
        ):
            raise ParameterError(f"rounds must be an integer from 1 to 10000, got {self.rounds!r}")
        check_proportion(self.one_way_proportion, "one-way proportion")
        check_proportion(self.record_count_proportion, "record count proportion")
        check_proportion(self.selection_proportion, "selection proportion")

    def n_rounds(self, n_columns: int, rho: float) -> int:
        """AIM's rounds: as given, else one per column plus more as the budget allows (sigma >= ~4)."""
        if self.rounds is not None:
            return self.rounds
        by_budget = int(rho * (1 - self.one_way_proportion) * (1 - self.selection_proportion) * 2 * 16)
        return max(n_columns, min(by_budget, 8 * n_columns))
