"""zCDP accounting: conversions, budget split, validation."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from showcase.engine import ParameterError
from showcase.engine.dp.accountant import (
    MIN_EPSILON,
    default_delta,
    epsilon_from_rho,
    rho_from_epsilon,
    sigma_proportions,
    split_budget,
)

EPSILONS = st.floats(0.01, 50)
DELTAS = st.floats(1e-12, 0.5)


@given(epsilon=EPSILONS, delta=DELTAS)
def test_conversion_round_trips_without_exceeding_epsilon(epsilon, delta):
    rho = rho_from_epsilon(epsilon, delta)
    back = epsilon_from_rho(rho, delta)
    assert back <= epsilon * (1 + 1e-9)
    assert back == pytest.approx(epsilon, rel=1e-9)


@given(
    epsilon=EPSILONS,
    delta=DELTAS,
    length=st.integers(1, 5),
    mode=st.sampled_from(["balanced", "prioritize-long", "prioritize-short"]),
    selection=st.booleans(),
)
def test_split_spends_exactly_the_budget(epsilon, delta, length, mode, selection):
    split = split_budget(epsilon, delta, length, accuracy_mode=mode, selection=selection)
    # The parts add up to the total rho (never more), and the delta parts to delta.
    assert split.rho_spent == pytest.approx(split.rho, rel=1e-9)
    assert split.rho_spent <= split.rho * (1 + 1e-12)
    assert split.selection_delta + split.conversion_delta == pytest.approx(delta)
    assert split.epsilon_spent <= epsilon * (1 + 1e-9)
    assert split.epsilon_spent == pytest.approx(epsilon, rel=1e-6)
    assert len(split.sigmas) == length and all(s > 0 for s in split.sigmas)


def test_accuracy_modes_order_the_noise():
    long = split_budget(4, 1e-6, 3, accuracy_mode="prioritize-long").sigmas
    short = split_budget(4, 1e-6, 3, accuracy_mode="prioritize-short").sigmas
    balanced = split_budget(4, 1e-6, 3).sigmas
    assert long[0] > long[1] > long[2]
    assert short[0] < short[1] < short[2]
    assert balanced[0] == pytest.approx(balanced[2])
    explicit = split_budget(4, 1e-6, 3, proportions=[1, 2, 4]).sigmas
    assert explicit[1] / explicit[0] == pytest.approx(2) and explicit[2] / explicit[0] == pytest.approx(4)


def test_default_delta():
    assert default_delta(1000) == pytest.approx(1 / (1000 * math.log(1000)))
    assert 0 < default_delta(0) < 1


@pytest.mark.parametrize("kwargs,message", [
    ({"epsilon": 0}, "epsilon"), ({"epsilon": -1}, "epsilon"), ({"epsilon": float("inf")}, "epsilon"),
    ({"epsilon": 2e4}, "epsilon"), ({"epsilon": 5e-7}, "epsilon"),
    ({"delta": 0}, "delta"), ({"delta": 1}, "delta"), ({"delta": 1.5}, "delta"),
    ({"record_count_proportion": 0}, "record count"), ({"percentile_proportion": 1.2}, "percentile"),
    ({"record_count_proportion": 0.6, "percentile_proportion": 0.5}, "sum to less than 1"),
    ({"proportions": [1, 2]}, "one value per length"), ({"proportions": [1, 0, 1]}, "positive"),
    ({"accuracy_mode": "fastest"}, "unknown accuracy mode"),
    ({"accuracy_mode": "balanced", "proportions": [1, 1, 1]}, "not both"),
])  # fmt: skip
def test_invalid_parameters_are_rejected(kwargs, message):
    arguments = {"epsilon": 1.0, "delta": 1e-6, "length": 3, **kwargs}
    epsilon, delta, length = arguments.pop("epsilon"), arguments.pop("delta"), arguments.pop("length")
    with pytest.raises(ParameterError, match=message):
        split_budget(epsilon, delta, length, **arguments)


def test_sigma_proportions_validation():
    with pytest.raises(ParameterError, match="one value per length"):
        sigma_proportions(3, None, [1.0])


def exact_epsilon(rho: float, delta: float) -> Decimal:
    """rho + 2 sqrt(rho ln(1/delta)) for the float rho, in 60-digit decimal arithmetic (no rounding slack)."""
    with localcontext() as context:
        context.prec = 60
        r = Decimal(rho)
        return r + 2 * (r * (1 / Decimal(delta)).ln()).sqrt()


@given(epsilon=st.floats(MIN_EPSILON, 50), delta=DELTAS)
@example(epsilon=1e-6, delta=1e-12)
@example(epsilon=0.010832575100570525, delta=2.4315578123848984e-12)
def test_conversions_round_against_the_user_exactly(epsilon, delta):
    """No tolerance: the rho given for a budget never implies more than epsilon, and the epsilon
    reported for a rho is never less than it implies (SAFETY must cover the float error). The
    examples are where the textbook sqrt(L + eps) - sqrt(L) cancels: a small epsilon, a tiny delta."""
    rho = rho_from_epsilon(epsilon, delta)
    assert exact_epsilon(rho, delta) <= Decimal(epsilon)
    assert Decimal(epsilon_from_rho(rho, delta)) >= exact_epsilon(rho, delta)


def test_default_delta_clamps_small_counts_to_three_records():
    # ln(1) = 0 and ln(2) < 1 would give delta >= 0.7: below 3 records delta is that of 3.
    for n in (-4, 0, 1, 2, 3):
        assert default_delta(n) == 1 / (3 * math.log(3))
