"""The DP percentile: its exact output distribution, and that it lands near the truth."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from showcase.engine import ParameterError
from showcase.engine.dp import percentile as percentile_module
from showcase.engine.dp.noise import RandomSource
from showcase.engine.dp.percentile import dp_percentile


def mechanism_pmf(values: np.ndarray, upper: int, q: float, epsilon: float, prior: float) -> np.ndarray:
    """P(c) ∝ exp(eps u(c) / (2 max(q, 1-q)) - prior c / (upper+1)), straight from the definition."""
    c = np.arange(upper + 1)
    below = np.array([(values <= x).sum() for x in c], dtype=float)
    above = len(values) - below
    utility = -np.abs((1 - q) * below - q * above)
    log_weights = epsilon * utility / (2 * max(q, 1 - q)) - prior * c / (upper + 1)
    weights = np.exp(log_weights - log_weights.max())
    return weights / weights.sum()


@pytest.mark.statistical
@pytest.mark.parametrize(("q", "epsilon", "prior"), [(0.9, 0.4, 16.0), (0.5, 1.0, 0.0), (0.99, 0.2, 4.0)])
def test_output_follows_the_exponential_mechanism(q, epsilon, prior):
    rng = np.random.default_rng(5)
    values = rng.binomial(30, 0.4, size=60)
    upper = 40
    source = RandomSource(seed=17)
    draws = np.array([dp_percentile(values, upper, q * 100, epsilon, source, prior) for _ in range(8_000)])
    pmf = mechanism_pmf(values, upper, q, epsilon, prior)
    expected = pmf * len(draws)
    observed = np.bincount(draws, minlength=upper + 1)
    # Bins expecting < 5 draws are pooled so the chi-square approximation holds.
    small = expected < 5
    assert observed[small].sum() < 50 + 2 * expected[small].sum()
    obs, exp = observed[~small], expected[~small]
    assert stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue > 1e-4
    # The same draws are far from a mechanism with half the epsilon.
    wrong = mechanism_pmf(values, upper, q, epsilon / 2, prior)[~small]
    assert stats.chisquare(obs, wrong * obs.sum() / wrong.sum()).pvalue < 1e-10


@pytest.mark.parametrize(("n", "epsilon", "tolerance"), [(30_000, 0.035, 0.03), (2_000, 0.04, 0.25)])
def test_lands_near_the_true_percentile(n, epsilon, tolerance):
    """Per-record combination counts shaped like the ACS ones at L=3 (99th percentile ~ 900 of 1140).

    The budget is the one a whole run at epsilon=1 gives each length's percentile.
    The old prior (one e-fold per unit) returned single digits here; the
    tolerance is wide for 2,000 records because so little budget cannot pin a
    percentile down (the mechanism's own spread, not the prior, dominates).
    """
    rng = np.random.default_rng(3)
    upper = math.comb(20, 3)
    values = np.minimum(rng.binomial(upper, 0.6, size=n) - rng.poisson(150, size=n).clip(0), upper).clip(0)
    true = np.percentile(values, 99, method="higher")
    estimates = [dp_percentile(values, upper, 99, epsilon, RandomSource(seed=s)) for s in range(15)]
    assert abs(np.median(estimates) - true) <= tolerance * true, (true, estimates)


def test_stays_off_the_flat_tail_of_a_wide_range():
    """Above the data's maximum every value scores the same; the prior keeps the choice near the data."""
    values = np.random.default_rng(1).integers(0, 40, size=50_000)
    upper = 100_000
    estimates = [dp_percentile(values, upper, 95, 0.05, RandomSource(seed=s)) for s in range(10)]
    assert max(estimates) < 100, estimates
    without_prior = [dp_percentile(values, upper, 95, 0.05, RandomSource(seed=s), 0.0) for s in range(10)]
    assert max(without_prior) < 100  # enough data: the scores alone suffice here ...
    few = values[:200]
    with_prior = [dp_percentile(few, upper, 95, 0.05, RandomSource(seed=s)) for s in range(10)]
    assert np.median(with_prior) < 20_000
    # ... but with 200 records and no prior the choice is uniform over the tail.
    flat = [dp_percentile(few, upper, 95, 0.05, RandomSource(seed=s), 0.0) for s in range(10)]
    assert np.median(flat) > 20_000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"percentile": 0}, "percentile"),
        ({"percentile": 101}, "percentile"),
        ({"epsilon": 0.0}, "epsilon"),
        ({"epsilon": float("nan")}, "epsilon"),
        ({"prior_efolds": -1.0}, "prior"),
        ({"upper": -1}, "upper"),
    ],
)
def test_parameters_are_validated(kwargs, message):
    arguments = {
        "values": np.arange(10),
        "upper": 20,
        "percentile": 50,
        "epsilon": 1.0,
        "source": RandomSource(seed=1),
    } | kwargs
    with pytest.raises(ParameterError, match=message):
        dp_percentile(**arguments)


@pytest.mark.parametrize("epsilon", [0.1, 1 / 3, 0.7, 2.0, 1e-6])
def test_epsilon_is_rounded_down_to_a_dyadic_rational(epsilon, monkeypatch):
    """The sampler gets eps_num / eps_den <= epsilon (never more spent than charged), within 2**-20."""
    seen = []
    kernel = percentile_module.exponential_quantile

    def spy(histogram, q_num, q_den, eps_num, eps_den, *rest):
        seen.append(Fraction(int(eps_num), int(eps_den)))
        return kernel(histogram, q_num, q_den, eps_num, eps_den, *rest)

    monkeypatch.setattr(percentile_module, "exponential_quantile", spy)
    dp_percentile(np.arange(200) % 37, 40, 90, epsilon, RandomSource(seed=1))
    assert seen and all(epsilon - 2**-20 < used <= Fraction(epsilon) for used in seen)


def test_values_above_the_public_range_count_at_its_top():
    # q = 0.9 and every value clipped to 50: 50 scores 0.8 n above every smaller answer, so with
    # n = 100 and epsilon = 1 another answer has probability below exp(-40) per draw. (Clipped to
    # 49 instead, 49 and 50 would tie and 49 win about 58 % of the draws.)
    for seed in range(20):
        assert dp_percentile(np.full(100, 57), 50, 90, 1.0, RandomSource(seed=seed)) == 50
