"""Privacy accounting in zero-concentrated DP (Bun & Steinke 2016).

The whole DP release spends a budget rho (zCDP). Parts compose by adding
their rho. The user's (epsilon, delta) is turned into rho with the standard
conversion of Bun & Steinke (2016, Proposition 1.3): a rho-zCDP mechanism is
(rho + 2 sqrt(rho ln(1/delta)), delta)-DP, so the largest rho that fits is

    rho = (sqrt(ln(1/delta) + epsilon) - sqrt(ln(1/delta)))^2.

Mechanism costs used here:

* discrete Gaussian noise of standard deviation sigma on counts whose L2
  sensitivity is Delta: rho = Delta^2 / (2 sigma^2) (Canonne, Kamath & Steinke
  2020); with noise sigma_k sqrt(Delta_k) on counts of L2 sensitivity
  sqrt(Delta_k) that is rho_k = 1 / (2 sigma_k^2);
* a pure epsilon0-DP mechanism (exponential-mechanism percentile):
  rho = epsilon0^2 / 2 (Bun & Steinke, Proposition 1.4);
* the record count is released first, as a pure epsilon0-DP discrete Laplace,
  and composed with the rest by plain sequential composition (its value sets
  the default delta, so it cannot wait for the zCDP conversion).

Floats are rounded against the user: a rho derived from the budget is lowered
by a relative 1e-12 and an epsilon derived from a rho is raised by the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..checks import check_choice, is_number
from ..errors import ParameterError

SAFETY = 1e-12
ACCURACY_MODES = {
    "balanced": lambda k: 1.0,
    "prioritize-long": lambda k: 1.0 / k,  # longer combinations get less noise
    "prioritize-short": lambda k: float(k),  # shorter combinations get less noise
}


#: Accepted range of epsilon: beyond it the arithmetic of the samplers breaks down
#: (1e-300 divides by zero, 1e308 overflows), long before any meaningful budget.
MIN_EPSILON, MAX_EPSILON = 1e-6, 1e4
#: Largest ratio between two sigma proportions (beyond it one length gets almost no budget and
#: its noise scale overflows).
MAX_PROPORTION_RATIO = 1e6
#: Smallest delta accepted: below it 1 - delta/2 rounds to 1 in the thresholds' quantiles.
MIN_DELTA = 1e-12


def check_epsilon(epsilon: float) -> float:
    """Epsilon, when it is a number in [MIN_EPSILON, MAX_EPSILON]."""
    if not is_number(epsilon) or not MIN_EPSILON <= epsilon <= MAX_EPSILON:
        raise ParameterError(
            f"epsilon must be a number from {MIN_EPSILON:g} to {MAX_EPSILON:g}, got {epsilon!r}"
        )
    return float(epsilon)


def check_delta(delta: float) -> float:
    """Delta, when it is a number in [MIN_DELTA, 1)."""
    if not is_number(delta) or not MIN_DELTA <= delta < 1:
        raise ParameterError(f"delta must be in [{MIN_DELTA:g}, 1), got {delta!r}")
    return float(delta)


def _probability(delta: float) -> float:
    """A delta derived inside the accountant (a share of the user's): any number in (0, 1)."""
    if not is_number(delta) or not 0 < delta < 1:
        raise ParameterError(f"delta must be in (0, 1), got {delta!r}")
    return float(delta)


def check_proportion(value: float, name: str) -> float:
    if not is_number(value) or not 0 < value < 1:
        raise ParameterError(f"{name} must be in (0, 1), got {value!r}")
    return float(value)


def rho_from_epsilon(epsilon: float, delta: float) -> float:
    """Largest rho whose (epsilon, delta)-DP conversion stays within ``epsilon``."""
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise ParameterError(f"epsilon must be a positive finite number, got {epsilon!r}")
    delta = _probability(delta)
    log_term = math.log(1 / delta)
    # (sqrt(L + eps) - sqrt(L))^2 written as (eps / (sqrt(L + eps) + sqrt(L)))^2: the same number
    # without the cancellation that, for a small epsilon and a tiny delta, loses more digits than
    # SAFETY covers.
    rho = (epsilon / (math.sqrt(log_term + epsilon) + math.sqrt(log_term))) ** 2
    return rho * (1 - SAFETY)


def epsilon_from_rho(rho: float, delta: float) -> float:
    """The epsilon of the (epsilon, delta)-DP guarantee implied by rho-zCDP."""
    if not rho > 0:
        raise ParameterError(f"rho must be positive, got {rho!r}")
    delta = _probability(delta)
    return (rho + 2 * math.sqrt(rho * math.log(1 / delta))) * (1 + SAFETY)


def default_delta(protected_records: int) -> float:
    """1 / (n ln n) for n protected records (SPEC §2.2), n clamped to at least 3."""
    n = max(int(protected_records), 3)
    return 1.0 / (n * math.log(n))


def sigma_proportions(length: int, mode: str | None, proportions: Sequence[float] | None) -> list[float]:
    """Relative noise per length 1..L: explicit ``proportions`` or a named accuracy mode."""
    if proportions is not None:
        if mode is not None:
            raise ParameterError("give sigma_proportions or an accuracy mode, not both")
        values = [float(p) for p in proportions]
        if len(values) != length:
            raise ParameterError(
                f"sigma_proportions needs one value per length 1..{length}, got {len(values)}"
            )
        if any(not math.isfinite(p) or p <= 0 for p in values):
            raise ParameterError("sigma_proportions must all be positive")
        if min(values) < max(values) / MAX_PROPORTION_RATIO:
            raise ParameterError(
                f"sigma_proportions must be within a factor {MAX_PROPORTION_RATIO:g} of each other, "
                f"got {values!r}"
            )
        return values
    mode = check_choice(mode or "balanced", tuple(ACCURACY_MODES), "accuracy mode")
    return [ACCURACY_MODES[mode](k) for k in range(1, length + 1)]


@dataclass(frozen=True)
class BudgetSplit:
    """How one (epsilon, delta) budget is spent across the parts of a DP release.

    The record count is a pure ``record_count_epsilon``-DP part (it must come
    first: the default delta depends on it); the rest, ``epsilon -
    record_count_epsilon``, is converted to ``rho`` with ``conversion_delta``
    and split in zCDP between the percentiles and each length's noise. By
    sequential composition the release is (epsilon, delta)-DP with
    delta = selection_delta + conversion_delta.
    """

    epsilon: float
    delta: float
    rho: float
    record_count_epsilon: float
    percentile_epsilons: list[float]
    sigmas: list[float]
    selection_delta: float
    conversion_delta: float
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def rho_spent(self) -> float:
        return sum(self.parts.values())

    @property
    def epsilon_spent(self) -> float:
        return self.record_count_epsilon + epsilon_from_rho(self.rho_spent, self.conversion_delta)

    def facts(self) -> dict:
        """The budget as every DP release's metadata states it (what was asked, spent and how)."""
        return {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "rho": self.rho,
            "rho_spent": self.rho_spent,
            "epsilon_spent": self.epsilon_spent,
            "record_count_epsilon": self.record_count_epsilon,
            "selection_delta": self.selection_delta,
            "conversion_delta": self.conversion_delta,
        }


def record_count_epsilon(epsilon: float, record_count_proportion: float) -> float:
    """The pure-DP share of epsilon spent on the protected record count."""
    return check_epsilon(epsilon) * check_proportion(record_count_proportion, "record count proportion")


def split_budget(
    epsilon: float,
    delta: float,
    length: int,
    *,
    record_count_proportion: float = 0.005,
    percentile_proportion: float = 0.1,
    accuracy_mode: str | None = None,
    proportions: Sequence[float] | None = None,
    selection: bool = True,
) -> BudgetSplit:
    """Split (epsilon, delta) between the record count, the percentiles and each length's noise.

    ``record_count_proportion`` of epsilon goes to the record count (pure DP).
    The rest becomes rho: ``percentile_proportion`` of it for the L percentiles
    (equally, each pure epsilon_p-DP costing epsilon_p^2/2), the remainder for
    the marginals, where length k gets noise sigma_k proportional to its sigma
    proportion. With ``selection`` (no public codebook) half of delta pays for
    choosing length-1 attributes from the data; the other half is the zCDP
    conversion's.
    """
    count_epsilon = record_count_epsilon(epsilon, record_count_proportion)
    check_proportion(percentile_proportion, "percentile proportion")
    if record_count_proportion + percentile_proportion >= 1:
        raise ParameterError("record count and percentile proportions must sum to less than 1")
    if length < 1:
        raise ParameterError(f"reporting length must be >= 1, got {length}")
    delta = check_delta(delta)
    selection_delta = delta / 2 if selection else 0.0
    conversion_delta = delta - selection_delta
    rho = rho_from_epsilon(epsilon - count_epsilon, conversion_delta)
    rho_percentiles = rho * percentile_proportion
    rho_marginals = rho - rho_percentiles
    relative = sigma_proportions(length, accuracy_mode, proportions)
    # rho_k = 1 / (2 sigma_k^2) with sigma_k = c * relative_k and sum_k rho_k = rho_marginals.
    scale2 = sum(1 / (2 * r * r) for r in relative) / rho_marginals
    sigmas = [math.sqrt(scale2) * r * (1 + SAFETY) for r in relative]
    percentile_epsilons = [math.sqrt(2 * rho_percentiles / length) * (1 - SAFETY)] * length
    parts = {f"percentile_{k + 1}": e * e / 2 for k, e in enumerate(percentile_epsilons)}
    parts.update({f"marginals_{k + 1}": 1 / (2 * s * s) for k, s in enumerate(sigmas)})
    return BudgetSplit(
        epsilon=check_epsilon(epsilon),
        delta=delta,
        rho=rho,
        record_count_epsilon=count_epsilon,
        percentile_epsilons=percentile_epsilons,
        sigmas=sigmas,
        selection_delta=selection_delta,
        conversion_delta=conversion_delta,
        parts=parts,
    )
