"""Empirical privacy audit: how well can one record's presence be told from a DP release?

Run a mechanism many times on two neighbouring datasets (one record apart),
score every output with one number, and turn the two samples of scores into
an empirical lower bound on epsilon at a given delta. If the bound exceeds
the epsilon a release claims, the release is not as private as it says.

Two bounds are reported:

* ``gaussian``: the scores of a mechanism with Gaussian noise are Gaussian
  with one variance on both sides, so their standardised mean gap ``mu``
  makes the pair a mu-Gaussian-DP test (Dong, Roth & Su 2019), and a
  mechanism that lets a test reach ``mu`` is no better than ``epsilon(mu,
  delta)``-DP. The bound uses the lower end of a confidence interval of
  ``mu``; it is tight enough to see noise a fraction too small.
* ``threshold``: assumption-free (Jagielski, Ullman & Oprea 2020): for each
  cut of the scores, Clopper–Pearson bounds of the two error rates give
  ``epsilon >= ln((1 - delta - FNR) / FPR)``. It needs far more trials to
  reach the claimed epsilon and is reported for reference.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ..aggregates import Aggregates
from ..encode import EncodedTable
from ..errors import ParameterError
from .marginals import DpReport, noise_scale
from .noise import RandomSource

_NORMAL = NormalDist()
#: Cuts tried by the assumption-free bound: quantiles of the upper half of all scores.
CUTS = 64


def gaussian_epsilon(mu: float, delta: float) -> float:
    """The smallest epsilon such that mu-Gaussian DP implies (epsilon, delta)-DP.

    mu-GDP is (epsilon, delta)-DP exactly when
    ``Phi(-epsilon/mu + mu/2) - e^epsilon Phi(-epsilon/mu - mu/2) <= delta``
    (Dong, Roth & Su 2019, Corollary 2.13); found by bisection.
    """
    if not 0 < delta < 1:
        raise ParameterError(f"delta must be in (0, 1), got {delta!r}")
    if not mu > 0:
        return 0.0

    def excess(epsilon: float) -> float:
        return (
            _NORMAL.cdf(-epsilon / mu + mu / 2)
            - math.exp(epsilon) * _NORMAL.cdf(-epsilon / mu - mu / 2)
            - delta
        )

    low, high = 0.0, 1.0
    if excess(low) <= 0:
        return 0.0
    while excess(high) > 0:
        high *= 2
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if excess(middle) > 0 else (low, middle)
    return high


def _beta_quantile_bound(successes: int, trials: int, confidence: float) -> float:
    """Clopper–Pearson upper bound of a binomial rate, by bisection on the binomial tail."""
    if successes >= trials:
        return 1.0
    target = 1 - confidence

    i = np.arange(successes + 1)
    log_choose = np.cumsum(np.log((trials - i + 1) / np.maximum(i, 1)) * (i > 0))  # log C(trials, i)

    def tail(p: float) -> float:  # P(X <= successes) under rate p, summed in logs (no underflow)
        if p >= 1:
            return 0.0
        logs = log_choose + i * math.log(p if p > 0 else 1e-300) + (trials - i) * math.log1p(-p)
        top = logs.max()
        return float(math.exp(top) * np.exp(logs - top).sum())

    low, high = successes / trials, 1.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if tail(middle) > target else (low, middle)
    return high


@dataclass(frozen=True)
class AuditResult:
    """Empirical lower bounds on epsilon from scores of neighbouring releases."""

    trials: int
    delta: float
    confidence: float
    mu: float
    mu_interval: tuple[float, float]
    variance_ratio: float
    gaussian: float
    gaussian_interval: tuple[float, float]
    threshold: float

    @property
    def lower_bound(self) -> float:
        """The Gaussian bound at the low end of the interval: epsilon is at least this."""
        return self.gaussian_interval[0]


def audit_scores(
    without: np.ndarray, with_record: np.ndarray, delta: float, confidence: float = 0.95
) -> AuditResult:
    """Lower bounds on epsilon from scores of releases without and with one record.

    Scores must be larger, on average, when the record is present.
    ``confidence`` is two-sided for the Gaussian interval and one-sided for
    each Clopper–Pearson error rate.
    """
    a = np.asarray(without, dtype=np.float64)
    b = np.asarray(with_record, dtype=np.float64)
    if len(a) < 10 or len(b) < 10:
        raise ParameterError("an audit needs at least 10 scores on each side")
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence must be in (0, 1), got {confidence!r}")
    pooled = math.sqrt((a.var(ddof=1) * (len(a) - 1) + b.var(ddof=1) * (len(b) - 1)) / (len(a) + len(b) - 2))
    if pooled == 0:
        raise ParameterError("the scores do not vary: is any noise drawn?")
    mu = float((b.mean() - a.mean()) / pooled)
    # Standard error of a standardised mean difference (Hedges & Olkin).
    se = math.sqrt(1 / len(a) + 1 / len(b) + mu * mu / (2 * (len(a) + len(b))))
    z = _NORMAL.inv_cdf(1 - (1 - confidence) / 2)
    low, high = max(mu - z * se, 0.0), max(mu + z * se, 0.0)
    return AuditResult(
        trials=len(a) + len(b),
        delta=delta,
        confidence=confidence,
        mu=mu,
        mu_interval=(low, high),
        variance_ratio=float(b.var(ddof=1) / a.var(ddof=1)) if a.var() > 0 else math.inf,
        gaussian=gaussian_epsilon(mu, delta),
        gaussian_interval=(gaussian_epsilon(low, delta), gaussian_epsilon(high, delta)),
        threshold=threshold_epsilon(a, b, delta, confidence),
    )


def threshold_epsilon(without: np.ndarray, with_record: np.ndarray, delta: float, confidence: float) -> float:
    """Assumption-free lower bound: the best cut ``score > t`` with Clopper–Pearson error rates."""
    a, b = np.sort(without), np.sort(with_record)
    best = 0.0
    for cut in np.unique(np.quantile(np.concatenate([a, b]), np.linspace(0.5, 1, CUTS, endpoint=False))):
        false_positive = int(len(a) - np.searchsorted(a, cut, side="right"))
        false_negative = int(np.searchsorted(b, cut, side="right"))
        fpr = _beta_quantile_bound(false_positive, len(a), confidence)
        fnr = _beta_quantile_bound(false_negative, len(b), confidence)
        if 1 - delta - fnr > 0 and fpr > 0:
            best = max(best, math.log((1 - delta - fnr) / fpr))
    return best


def record_attributes(table: EncodedTable, row: int) -> np.ndarray:
    """Attribute ids of one record of ``table``, ascending."""
    codes = table.codes[:, row].astype(np.int64)
    present = codes != 0
    return codes[present] + table.schema.offsets[:-1][present] - 1


def record_score(aggregates: Aggregates, scales: Sequence[float], attributes: np.ndarray) -> float:
    """How much the release says the record is there: released counts of its combinations.

    Sums, over every combination of ``attributes`` up to the reporting length,
    its released count (0 if not released) divided by the noise variance of
    its length, ``scales[k - 1] ** 2``: the most powerful linear test when
    the record adds one to each of them.
    """
    wanted = {tuple(c) for k in range(1, len(scales) + 1) for c in itertools.combinations(attributes, k)}
    score = 0.0
    for row, n, count in zip(aggregates.attrs, aggregates.length, aggregates.count):
        key = tuple(int(a) for a in row[: int(n)])
        if key in wanted:
            score += float(count) / scales[int(n) - 1] ** 2
    return score


def audit_neighbours(
    release: Callable[[EncodedTable, RandomSource], tuple[Aggregates, DpReport]],
    without: EncodedTable,
    with_record: EncodedTable,
    row: int,
    trials: int,
    *,
    seed: int = 0,
    confidence: float = 0.95,
) -> AuditResult:
    """Audit ``release`` on neighbouring tables: ``with_record`` is ``without`` plus record ``row``.

    Both tables must share one schema. Each side runs ``trials`` seeded
    releases (independent streams); each output is scored with
    :func:`record_score`, weighting lengths by the noise scales the first
    release reports. The bound is taken at that release's delta.
    """
    attributes = record_attributes(with_record, row)
    scores: list[list[float]] = [[], []]
    scales: list[float] = []
    delta = 0.5
    for trial in range(trials):
        for side, table in enumerate((without, with_record)):
            aggregates, report = release(table, RandomSource(seed * 1_000_003 + 2 * trial + side))
            if not scales:  # one set of weights for every score, or their changes add variance
                scales = getattr(report, "noise_scales", None) or [
                    noise_scale(s, bound) for s, bound in zip(report.split.sigmas, report.deltas)
                ]
                delta = report.split.delta
            scores[side].append(record_score(aggregates, scales, attributes))
    return audit_scores(np.array(scores[0]), np.array(scores[1]), delta, confidence)
