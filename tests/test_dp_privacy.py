"""Privacy tests that fail when privacy breaks (see docs/testing.md for what each guards).

Each test checks one piece of the DP guarantee of SPEC §2.2 on outputs whose
true values are known, against the numbers the accountant reports:

1. the noise on each length's counts, as drawn, is the discrete Gaussian of
   variance sigma_k^2 Delta_k that the reported rho_k pays for;
2. contribution bounding: no record adds to more than Delta_k candidates, the
   kept ones are a uniform subset, and Delta_k enters the noise as sqrt(Delta_k);
3. partition selection: the length-1 threshold is SPEC's formula, and a value
   held by one record is released with probability below its delta share;
4. an audit on neighbouring datasets (several columns, L = 2, records with
   many candidates) whose empirical lower bound on epsilon stays below the
   claim, and exceeds it when the noise is halved.

Tests that show their own power break the mechanism on purpose (monkeypatch)
and check that the same assertion then fails.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from statistics import NormalDist

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from showcase.engine import encode
from showcase.engine import protection as protection_module
from showcase.engine.dp import audit as audit_module
from showcase.engine.dp import marginals as marginals_module
from showcase.engine.dp.audit import audit_neighbours, gaussian_epsilon
from showcase.engine.dp.marginals import SELECTION_MARGIN, combinations_table, dp_aggregate, records
from showcase.engine.dp.noise import RandomSource
from showcase.engine.kernels.dp_marginals import Level, Records, candidates_per_record

from .conftest import as_dict

pytestmark = pytest.mark.statistical


def uniform_table(rows: int, columns: int, values: int, seed: int) -> pa.Table:
    """Every record holds one of ``values`` values in every column (so all have the same candidates)."""
    rng = np.random.default_rng(seed)
    return pa.table({f"c{j}": [f"v{x}" for x in rng.integers(0, values, rows)] for j in range(columns)})


def exact_counts(table: pa.Table, length: int) -> dict:
    """Reference counts {((column, value), ...): n} by pandas groupby, one per column subset."""
    frame = table.to_pandas()
    out = {}
    for k in range(1, length + 1):
        for subset in itertools.combinations(table.column_names, k):
            for values, n in frame.groupby(list(subset)).size().items():
                values = values if isinstance(values, tuple) else (values,)
                out[tuple(zip(subset, values))] = int(n)
    return out


def discrete_gaussian_pmf(scale: float) -> tuple[np.ndarray, np.ndarray]:
    reach = int(14 * scale + 10)
    support = np.arange(-reach, reach + 1)
    weights = np.exp(-(support.astype(float) ** 2) / (2 * scale**2))
    return support, weights / weights.sum()


def noise_misfits(residuals: np.ndarray, scale: float) -> list[str]:
    """Ways ``residuals`` are not discrete Gaussian of parameter ``scale`` (empty: they fit).

    Fixed seeds make the test deterministic; each check uses a 1e-5-level
    bound, so the right noise passes and a scale 25 % off fails by a wide
    margin (the variance is then off by 44 % or 56 %).
    """
    support, pmf = discrete_gaussian_pmf(scale)
    variance = float((pmf * support**2).sum())
    n = len(residuals)
    problems = []
    if abs(residuals.mean()) > 4.5 * math.sqrt(variance / n):
        problems.append(f"mean {residuals.mean():.3g}")
    ratio = residuals.var() / variance
    if abs(ratio - 1) > 4.5 * math.sqrt(2 / n):
        problems.append(f"variance ratio {ratio:.3f}")
    # Goodness of fit on equal-probability bins of the theoretical distribution.
    cdf = np.cumsum(pmf)
    edges = np.searchsorted(cdf, np.linspace(0, 1, 11)[1:-1])
    observed = np.bincount(np.searchsorted(support[edges], residuals, side="left"), minlength=10)
    expected = np.diff(np.concatenate([[0.0], cdf[edges], [1.0]])) * n
    if stats.chisquare(observed, expected).pvalue < 1e-5:
        problems.append("shape")
    return problems


NOISE_SEEDS = range(12)


@pytest.fixture(scope="module")
def noise_data():
    """30,000 records, 8 columns of 6 values: every record has 8, 28 and 56 candidates at L = 1..3."""
    arrow = uniform_table(30_000, 8, 6, seed=4)
    return encode(arrow), exact_counts(arrow, 3)


def residuals_by_length(noise_data, strict: bool = True) -> tuple[list[np.ndarray], list[float]]:
    """noisy - true per length over several seeded releases, and the accountant's scale per length.

    ``strict`` asserts that nothing was thresholded away or trimmed (broken noise may lose a
    handful of the 13,000 candidates a release; that does not hide a wrong scale).
    """
    table, exact = noise_data
    residuals: list[list[int]] = [[], [], []]
    scales = []
    for seed in NOISE_SEEDS:
        aggregates, report = dp_aggregate(table, epsilon=4.0, delta=1e-6, length=3, source=RandomSource(seed))
        # The counts are far above thresholds and sub-counts, so every candidate is
        # released untouched; every record is below the bounds, so none is trimmed.
        assert report.deltas == [8, 28, 56]
        assert report.candidates == [48, 28 * 36, 56 * 216]
        assert report.released == report.candidates or not strict
        # sigma_k from the rho the accountant charges for length k: rho_k = 1 / (2 sigma_k^2).
        sigmas = [math.sqrt(1 / (2 * report.split.parts[f"marginals_{k}"])) for k in (1, 2, 3)]
        assert sum(report.split.parts.values()) <= report.split.rho * (1 + 1e-9)
        scales = [s * math.sqrt(d) for s, d in zip(sigmas, report.deltas)]
        for combo, count in as_dict(aggregates).items():
            residuals[len(combo) - 1].append(count - exact[combo])
    return [np.array(r) for r in residuals], scales


def test_noise_as_drawn_matches_the_accounted_scale_per_length(noise_data):
    residuals, scales = residuals_by_length(noise_data)
    for k, (r, scale) in enumerate(zip(residuals, scales), start=1):
        assert noise_misfits(r, scale) == [], f"length {k}"


def _scaled_noise(factor):
    real = marginals_module.discrete_gaussian
    return marginals_module, "discrete_gaussian", lambda n, sigma, source: real(n, sigma * factor, source)


def _unaccounted_sigmas(factor):
    real = protection_module.split_budget  # the budget split every DP spec makes

    def split(*args, **kwargs):
        result = real(*args, **kwargs)
        object.__setattr__(result, "sigmas", [s * factor for s in result.sigmas])  # rho parts unchanged
        return result

    return protection_module, "split_budget", split


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(_scaled_noise(0.75), id="noise-25%-small"),
        pytest.param(_scaled_noise(1.25), id="noise-25%-large"),
        pytest.param(_unaccounted_sigmas(2 / 3), id="sigma-a-third-below-its-rho"),
        pytest.param(
            (marginals_module, "noise_scale", lambda sigma, bound: sigma), id="sensitivity-1-for-delta-k"
        ),
    ],
)
def test_noise_check_fails_on_broken_noise(noise_data, monkeypatch, fault):
    module, name, broken = fault
    monkeypatch.setattr(module, name, broken)
    residuals, scales = residuals_by_length(noise_data, strict=False)
    assert all(noise_misfits(r, s) for r, s in zip(residuals, scales))


# --- 2. contribution bounding --------------------------------------------------------------


def disjoint_records(rows: int) -> pa.Table:
    """Every value belongs to one record, so its candidates are its own: 5 columns, or 3 for every third."""
    return pa.table({f"c{j}": [f"r{r}" if (j < 3 or r % 3) else None for r in range(rows)] for j in range(5)})


def reference_candidates(ptr: np.ndarray, attrs: np.ndarray, k: int) -> list[list[tuple]]:
    """Per record, its k-combinations of attribute ids (all distinct columns here), in order."""
    return [list(itertools.combinations(attrs[ptr[r] : ptr[r + 1]].tolist(), k)) for r in range(len(ptr) - 1)]


def kept_subsets(k: int, bound: int, seeds) -> tuple[list[list[tuple]], list[list[frozenset]]]:
    """Run the trimming kernel on disjoint records; per seed, the candidates each record kept."""
    table = encode(disjoint_records(600))
    schema = table.schema
    ptr, attrs = records(table)
    per_record_ref = reference_candidates(ptr, attrs, k)
    combos = sorted({c for cs in per_record_ref for c in cs})
    index = {c: i for i, c in enumerate(combos)}
    candidates = np.array(combos, dtype=np.int32)
    n_attributes = schema.n_attributes
    csr = Records(ptr, attrs, schema.attribute_columns.astype(np.int64), int(np.diff(ptr).max()))
    level = Level(
        k,
        combinations_table(candidates, n_attributes),
        combinations_table(np.empty((0, 1)), n_attributes),
        np.ones(n_attributes, dtype=np.bool_),
    )
    shape = (csr, level)
    per_record = candidates_per_record(csr, level)
    assert per_record.tolist() == [len(cs) for cs in per_record_ref]
    kept = []
    for seed in seeds:
        counts = marginals_module._trimmed_counts(shape, per_record, bound, len(combos), RandomSource(seed))
        assert set(np.unique(counts)) <= {0, 1}  # disjoint candidates: each is one record's
        kept.append([frozenset(c for c in cs if counts[index[c]]) for cs in per_record_ref])
    return per_record_ref, kept


@pytest.mark.parametrize("k,bound", [(1, 4), (2, 4), (2, 1)])
def test_trimming_keeps_a_uniform_subset_of_bound_candidates(k, bound):
    per_record, kept = kept_subsets(k, bound, range(6))
    m = 5 if k == 1 else 10  # records with all 5 columns; every third has 3
    subsets = Counter()
    for run in kept:
        for cs, chosen in zip(per_record, run):
            assert chosen <= set(cs)
            assert len(chosen) == min(len(cs), bound)  # never more than Delta_k; all when under it
            if len(cs) == m:
                subsets[tuple(sorted(cs.index(c) for c in chosen))] += 1
    # Records with 5 (k = 1) or 10 (k = 2) candidates: every bound-subset equally likely.
    cells = list(itertools.combinations(range(m), bound))
    observed = np.array([subsets[c] for c in cells])
    assert observed.sum() == 6 * 400
    assert stats.chisquare(observed).pvalue > 1e-4


def test_release_trims_to_the_reported_bound_and_scales_noise_by_its_root(monkeypatch):
    """dp_aggregate passes each length's Delta_k to trimming and noise: a spy on both."""
    seen = []
    trim, noise = marginals_module.bounded_counts, marginals_module.discrete_gaussian

    def spy_trim(held, level, candidates, histogram, bound, source):
        counts = trim(held, level, candidates, histogram, bound, source)
        values = np.arange(len(histogram))  # its top is C(columns, k): a record's most, so nothing is clipped
        seen.append(
            {
                "bound": bound,
                "kept": int(counts.sum()),
                "allowed": int((np.minimum(values, bound) * histogram).sum()),
                "candidates": int((values * histogram).sum()),
            }
        )
        return counts

    def spy_noise(n, sigma, source):
        seen[-1]["scale"] = sigma
        return noise(n, sigma, source)

    monkeypatch.setattr(marginals_module, "bounded_counts", spy_trim)
    monkeypatch.setattr(marginals_module, "discrete_gaussian", spy_noise)
    table = encode(uniform_table(3000, 6, 3, seed=2).append_column("d", pa.array([None, "x"] * 1500)))
    # The median: about half the records (those with column d) are above it and trimmed.
    _, report = dp_aggregate(table, epsilon=4.0, length=3, percentile=50.0, source=RandomSource(3))
    assert [s["bound"] for s in seen] == report.deltas
    for k, step in enumerate(seen, start=1):
        assert step["kept"] == step["allowed"], f"length {k}: a record contributed beyond Delta_k"
        assert step["scale"] == pytest.approx(report.split.sigmas[k - 1] * math.sqrt(step["bound"]))
    assert any(s["allowed"] < s["candidates"] for s in seen)  # some records were trimmed


# --- 3. partition selection ----------------------------------------------------------------


def spec_selection_threshold(sigma: float, bound: int, delta: float) -> float:
    """SPEC §2.2: 1 + sigma_1 sqrt(Delta_1) PhiInv((1 - delta/2)^(1/Delta_1))."""
    return 1 + sigma * math.sqrt(bound) * NormalDist().inv_cdf((1 - delta / 2) ** (1 / bound))


def test_length_one_threshold_is_the_spec_formula_for_the_reported_parameters():
    table = encode(uniform_table(5000, 5, 4, seed=9))
    for epsilon in (0.5, 4.0):
        _, report = dp_aggregate(table, epsilon=epsilon, length=2, source=RandomSource(1))
        split = report.split
        assert split.selection_delta == pytest.approx(split.delta / 2)
        sigma_1 = math.sqrt(1 / (2 * split.parts["marginals_1"]))
        expected = spec_selection_threshold(sigma_1, report.deltas[0], split.selection_delta)
        assert report.thresholds[0] == pytest.approx(expected + SELECTION_MARGIN, rel=1e-9)
        assert report.thresholds[0] > 10


def singleton_release_rate(trials: int) -> tuple[int, int, float]:
    """Records whose 3 values nobody else holds: how many had any value released, over seeds."""
    rows = 2000
    table = encode(pa.table({f"c{j}": [f"c{j}r{r}" for r in range(rows)] for j in range(3)}))
    hits = 0
    for seed in range(trials):
        aggregates, report = dp_aggregate(table, epsilon=1.0, delta=0.2, length=1, source=RandomSource(seed))
        assert report.deltas == [3]
        released = {key[0][1][key[0][1].index("r") :] for key in as_dict(aggregates)}
        hits += len(released)  # one record per "rN" suffix
    return hits, trials * rows, report.split.selection_delta


def test_a_value_held_by_one_record_is_released_with_probability_below_its_delta_share(monkeypatch):
    hits, n, selection_delta = singleton_release_rate(5)
    # Each record's chance to have any of its 3 values released is below selection_delta / 2
    # (here 0.05): the hit count is not significantly above that rate.
    assert stats.binomtest(hits, n, selection_delta / 2, alternative="greater").pvalue > 1e-4
    monkeypatch.setattr(marginals_module, "selection_threshold", lambda scale, bound, delta: 0.0)
    hits, n, selection_delta = singleton_release_rate(2)
    assert stats.binomtest(hits, n, selection_delta / 2, alternative="greater").pvalue < 1e-12


# --- 4. audit on neighbouring datasets -----------------------------------------------------


@pytest.fixture(scope="module")
def neighbours():
    """2,000 records with all 6 columns (6 + 15 candidates each at L = 2), and one more."""
    base = uniform_table(2000, 6, 3, seed=3)
    extra = pa.table({name: ["v0"] for name in base.column_names})
    with_record = encode(pa.concat_tables([base, extra]))
    return encode(base, schema=with_record.schema), with_record


def audit(neighbours, trials=400):
    without, with_record = neighbours
    return audit_neighbours(
        lambda table, source: dp_aggregate(table, epsilon=2.0, delta=1e-5, length=2, source=source),
        without,
        with_record,
        row=with_record.n_rows - 1,
        trials=trials,
        seed=1,
    )


def test_audit_lower_bound_stays_below_the_claimed_epsilon(neighbours):
    result = audit(neighbours)
    assert 0.7 < result.variance_ratio < 1.4  # one variance on both sides: the Gaussian bound applies
    assert result.lower_bound < 2.0
    assert result.threshold < 2.0


def test_audit_lower_bound_exceeds_the_claim_when_the_noise_is_halved(neighbours, monkeypatch):
    module, name, broken = _unaccounted_sigmas(0.5)
    monkeypatch.setattr(module, name, broken)
    assert audit(neighbours).lower_bound > 2.0


def test_gaussian_epsilon_matches_the_gdp_formula():
    # mu-GDP at delta: for mu = 1, epsilon(delta = 0.0127) = 1 by the closed form.
    delta = NormalDist().cdf(-0.5) - math.e * NormalDist().cdf(-1.5)
    assert gaussian_epsilon(1.0, delta) == pytest.approx(1.0, abs=1e-9)
    assert gaussian_epsilon(0.0, 1e-5) == 0.0
    assert gaussian_epsilon(2.0, 1e-5) > gaussian_epsilon(1.0, 1e-5)


@pytest.mark.parametrize("successes,trials", [(0, 400), (5, 400), (300, 2000), (1500, 2000), (1999, 2000)])
def test_clopper_pearson_bound_matches_the_beta_quantile(successes, trials):
    # The assumption-free audit bound rests on it; large counts must not underflow to the point estimate.
    expected = stats.beta.ppf(0.95, successes + 1, trials - successes)
    assert audit_module._beta_quantile_bound(successes, trials, 0.95) == pytest.approx(expected, rel=1e-6)
