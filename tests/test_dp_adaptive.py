"""Adaptive DP marginals (mst, aim), the exact exponential mechanism, and marginal-fitting synthesis.

Guarantees checked: the exponential mechanism's output distribution is
exactly exp(epsilon score / (2 sensitivity)) (and a wrong scale is
rejected); scores move by at most their stated sensitivity when one record is
added; the accounting adds up to the budget; an audit on neighbouring
datasets stays below the claimed epsilon and goes above it when the noise is
too small; the fitting kernels match slow references; fitting reads only the
measured marginals and returns exactly the released record count.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from showcase.engine import encode
from showcase.engine.dp import adaptive as adaptive_module
from showcase.engine.dp import model as model_module
from showcase.engine.dp.adaptive import adaptive_aggregate, as_aggregates, mst_scores
from showcase.engine.dp.adaptive_options import AdaptiveOptions
from showcase.engine.dp.audit import audit_neighbours
from showcase.engine.dp.exponential import LIMIT, dyadic_epsilon, exponential_mechanism
from showcase.engine.dp.model import Fitter, Marginal, Measurements, counts_of, project, strides
from showcase.engine.dp.noise import RandomSource
from showcase.engine.errors import ParameterError
from showcase.engine.kernels.constraints import no_rules
from showcase.engine.kernels.marginal_fit import all_marginal_counts, local_search, move_gain
from showcase.engine.kernels.rng import new_state
from showcase.engine.synthesize.fitted import fitted

# --- the exponential mechanism --------------------------------------------------------------


def em_frequencies(scores, sensitivity, epsilon, n, seed=7):
    source = RandomSource(seed)
    picks = [exponential_mechanism(np.array(scores), sensitivity, epsilon, source) for _ in range(n)]
    return np.bincount(picks, minlength=len(scores))


def em_probabilities(scores, sensitivity, epsilon):
    weights = np.exp(epsilon * np.array(scores, dtype=float) / (2 * sensitivity))
    return weights / weights.sum()


@pytest.mark.statistical
def test_exponential_mechanism_draws_exactly_its_distribution():
    scores, epsilon = [0, 1, 2, 5, 5, -3], 1.0
    observed = em_frequencies(scores, 1, epsilon, 20_000)
    expected = em_probabilities(scores, 1, epsilon) * observed.sum()
    assert stats.chisquare(observed, expected).pvalue > 1e-6
    # Power: the same samples reject the distribution of a sensitivity (scale) off by a factor 2.
    wrong = em_probabilities(scores, 2, epsilon) * observed.sum()
    assert stats.chisquare(observed, wrong).pvalue < 1e-20


def test_exponential_mechanism_rounds_epsilon_down_and_checks_its_input():
    # A large spread at a tiny epsilon still works (dyadic epsilon, 62-bit arithmetic).
    assert 0 <= exponential_mechanism(np.array([0, 10**9]), 1, 1e-6, RandomSource(1)) <= 1
    with pytest.raises(ParameterError, match="integer scores"):
        exponential_mechanism(np.array([0.5, 1.0]), 1, 1.0, RandomSource(1))
    with pytest.raises(ParameterError, match="sensitivity"):
        exponential_mechanism(np.array([0, 1]), 0, 1.0, RandomSource(1))
    with pytest.raises(ParameterError, match="epsilon"):
        exponential_mechanism(np.array([0, 1]), 1, float("nan"), RandomSource(1))


@given(epsilon=st.floats(1e-6, 1e4), spread=st.integers(0, 2**40), sensitivity=st.integers(1, 1000))
def test_dyadic_epsilon_never_exceeds_epsilon_and_fits_62_bits(epsilon, spread, sensitivity):
    eps_num, eps_den = dyadic_epsilon(epsilon, spread, sensitivity)
    assert Fraction(eps_num, eps_den) <= Fraction(epsilon)
    assert Fraction(eps_num + 1, eps_den) > Fraction(epsilon)  # the largest such fraction: floor
    assert eps_num * max(spread, 1) < LIMIT and 2 * sensitivity * eps_den < LIMIT


# --- scores and their sensitivity -------------------------------------------------------------


codes_strategy = st.integers(2, 4).flatmap(
    lambda cols: st.tuples(
        st.lists(st.integers(2, 4), min_size=cols, max_size=cols),
        st.integers(1, 40),
        st.integers(0, 2**32 - 1),
    )
)


def random_codes(radix, n, seed):
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray(np.stack([rng.integers(0, r, n) for r in radix], axis=1).astype(np.int32))


@settings(max_examples=60, deadline=None)
@given(codes_strategy)
def test_scores_move_by_at_most_one_when_a_record_is_added(case):
    radix_list, n, seed = case
    radix = np.array(radix_list, dtype=np.int64)
    codes = random_codes(radix, n, seed)
    added = np.concatenate([codes, random_codes(radix, 1, seed + 1)])
    rng = np.random.default_rng(seed)
    singles = [rng.uniform(0, n, r) for r in radix]  # any fixed released 1-way tables
    pairs = list(itertools.combinations(range(len(radix)), 2))
    before = mst_scores(codes, radix, singles, n, pairs)
    after = mst_scores(added, radix, singles, n, pairs)
    assert np.abs(after - before).max() <= 1
    # AIM's score: L1 distance of true counts from a fixed model, same sensitivity.
    model = random_codes(radix, n, seed + 2)
    for cols in pairs:
        a = np.abs(counts_of(codes, radix, cols) - counts_of(model, radix, cols)).sum()
        b = np.abs(counts_of(added, radix, cols) - counts_of(model, radix, cols)).sum()
        assert abs(int(a) - int(b)) <= 1


def test_mst_scores_are_zero_for_independent_exact_margins():
    # Two independent columns whose released 1-way tables are exact: the estimate is the truth.
    codes = np.array([[a, b] for a in range(2) for b in range(3) for _ in range(4)], dtype=np.int32)
    radix = np.array([2, 3])
    singles = [np.array([12.0, 12.0]), np.array([8.0, 8.0, 8.0])]
    assert mst_scores(codes, radix, singles, 24, [(0, 1)]).tolist() == [0]
    dependent = np.array([[a, a] for a in range(2) for _ in range(12)], dtype=np.int32)
    # Half the mass sits on 2 of 6 cells: L1 from uniform-by-column independence is 24.
    assert (
        mst_scores(dependent, radix, [np.array([12.0, 12.0]), np.array([12.0, 12.0, 0.0])], 24, [(0, 1)])[0]
        > 0
    )


# --- the kernels against slow references ------------------------------------------------------


def reference_counts(codes, radix, cols):
    out = Counter()
    for row in codes:
        cell = 0
        for c in cols:
            cell = cell * radix[c] + int(row[c])
        out[cell] += 1
    size = int(np.prod([radix[c] for c in cols]))
    return np.array([out[i] for i in range(size)])


def flat(measurements: Measurements, n: int):
    """The flat arrays the kernels take, as the Fitter builds them, targets scaled to ``n``."""
    ms = measurements.marginals
    radix = measurements.radix
    m_cols = np.array([c for m in ms for c in m.columns], dtype=np.int64)
    m_ptr = np.cumsum([0] + [len(m.columns) for m in ms]).astype(np.int64)
    m_strides = np.concatenate([strides(radix, m.columns) for m in ms]).astype(np.int64)
    m_offset = np.cumsum([0] + [m.noisy.size for m in ms]).astype(np.int64)
    target = np.concatenate([project(m.noisy, n) for m in ms])
    weight = np.array([1 / m.sigma for m in ms])
    holding = [[k for k, m in enumerate(ms) if c in m.columns] for c in range(len(radix))]
    c_ptr = np.cumsum([0] + [len(h) for h in holding]).astype(np.int64)
    c_marg = np.array([k for h in holding for k in h], dtype=np.int64)
    return m_cols, m_ptr, m_strides, m_offset, target, weight, c_ptr, c_marg


def reference_error(codes, measurements, target, weight):
    """Weighted L1 error of ``codes`` against the flat targets, counted in plain Python."""
    total, start = 0.0, 0
    for m, w in zip(measurements.marginals, weight, strict=True):
        counts = reference_counts(codes, measurements.radix, m.columns)
        total += w * np.abs(counts - target[start : start + counts.size]).sum()
        start += counts.size
    return total


def random_measurements(radix_list, n, seed) -> Measurements:
    rng = np.random.default_rng(seed)
    radix = np.array(radix_list)
    values = [np.arange(1, r, dtype=np.int64) for r in radix]
    marginals = [Marginal((c,), 2.0, rng.normal(n / r, 3, r)) for c, r in enumerate(radix)]
    for cols in itertools.combinations(range(len(radix)), 2):
        if rng.random() < 0.7:
            size = int(np.prod(radix[list(cols)]))
            marginals.append(Marginal(cols, 1.0 + rng.random(), rng.normal(n / size, 3, size)))
    return Measurements(values, marginals, n)


@settings(max_examples=40, deadline=None)
@given(codes_strategy)
def test_kernels_match_the_slow_references(case):
    radix_list, n, seed = case
    measurements = random_measurements(radix_list, n, seed)
    radix = measurements.radix
    codes = random_codes(radix, n, seed)
    m_cols, m_ptr, m_strides, m_offset, target, weight, c_ptr, c_marg = flat(measurements, n)
    current = np.zeros(int(m_offset[-1]), dtype=np.int64)
    all_marginal_counts(codes, m_cols, m_ptr, m_strides, m_offset, current)
    for k, m in enumerate(measurements.marginals):
        expected = reference_counts(codes, radix, m.columns)
        assert current[m_offset[k] : m_offset[k + 1]].tolist() == expected.tolist()
    # A move's gain is the change of the whole error, recounted from scratch.
    rng = np.random.default_rng(seed)
    r, c = int(rng.integers(n)), int(rng.integers(len(radix)))
    v = int(rng.integers(radix[c]))
    args = (m_cols, m_ptr, m_strides, m_offset, target, current, weight, c_ptr, c_marg)
    gain = move_gain(codes, r, c, v, *args)
    moved = codes.copy()
    moved[r, c] = v
    change = reference_error(moved, measurements, target, weight) - reference_error(
        codes, measurements, target, weight
    )
    assert gain == pytest.approx(change, abs=1e-9)
    # The search never raises the error, keeps its counts true, and keeps codes in range.
    before = reference_error(codes, measurements, target, weight)
    local_search(
        codes,
        radix,
        m_cols,
        m_ptr,
        m_strides,
        m_offset,
        target,
        current,
        weight,
        c_ptr,
        c_marg,
        500,
        new_state(seed),
        no_rules(),
    )
    assert reference_error(codes, measurements, target, weight) <= before + 1e-9
    assert ((codes >= 0) & (codes < radix[None, :])).all()
    recount = np.zeros_like(current)
    all_marginal_counts(codes, m_cols, m_ptr, m_strides, m_offset, recount)
    assert (recount == current).all()


def test_projection_is_non_negative_and_sums_to_the_total():
    noisy = np.array([5.0, -3.0, 0.5, 10.0, -1.0])
    out = project(noisy, 12)
    assert (out >= 0).all() and out.sum() == pytest.approx(12)
    # Order is kept and equal shifts everywhere above the cut: 10 and 5 both lose the same amount.
    assert out[3] - out[0] == pytest.approx(5.0)


# --- fitting synthesis: only measured marginals in, the released record count out ---------------


def test_fitting_reads_only_measured_marginals_and_meets_them():
    # No sensitive table exists here: the measurements are written by hand.
    schema_table = encode(pa.table({"a": ["x", "y", "z"], "b": ["p", "q", "q"]}))
    n = 1000
    target = np.zeros((4, 3))
    target[1, 1], target[2, 2], target[3, 2], target[0, 0] = 500, 300, 150, 50  # a determines b
    measurements = Measurements(
        [np.array([1, 2, 3]), np.array([1, 2])],
        [
            Marginal((0,), 5.0, target.sum(axis=1)),
            Marginal((1,), 5.0, target.sum(axis=0)),
            Marginal((0, 1), 5.0, target.ravel() + np.random.default_rng(0).normal(0, 2, 12)),
        ],
        n,
    )
    aggregates = as_aggregates(schema_table.schema, measurements)
    out = fitted(aggregates, rng=np.random.default_rng(1))
    assert out.n_rows == n
    pairs = Counter(zip(out.codes[0].tolist(), out.codes[1].tolist(), strict=True))
    # The records follow the measured pair table (a small noise and projection aside).
    assert abs(pairs[1, 1] - 500) <= 25 and abs(pairs[2, 2] - 300) <= 25 and abs(pairs[0, 0] - 50) <= 25
    assert pairs[1, 2] <= 25  # independent columns would put about 225 records here
    with pytest.raises(ParameterError, match="measured marginals"):
        fitted(replace(aggregates, marginals=None), rng=np.random.default_rng(1))


def test_the_fit_runs_in_pieces_that_report_progress_and_give_the_same_records(monkeypatch):
    # At 1M records the fit of a DP run is ~100M proposals (a minute on 2 cores): as one kernel call its
    # bar stood at 0 % and Ctrl-C waited for it to end. In runs of proposals it reports progress between
    # them, stops at the first report after a Ctrl-C, and the records are those of one long call.
    measurements = random_measurements([3, 4, 2, 5], 400, seed=2)
    columns = {f"c{c}": [f"v{i % (r - 1)}" for i in range(12)] for c, r in enumerate([3, 4, 2, 5])}
    aggregates = as_aggregates(encode(pa.table(columns)).schema, measurements)
    whole = fitted(aggregates, rng=np.random.default_rng(3), sweeps=6)
    monkeypatch.setattr(model_module, "FIT_CHUNK", 97)
    reports = []
    pieces = fitted(
        aggregates, rng=np.random.default_rng(3), sweeps=6, progress=lambda d, t: reports.append((d, t))
    )
    assert (pieces.codes == whole.codes).all()
    total = 6 * 400 * 4
    assert reports[-1] == (total, total) and len(reports) == -(-total // 97)
    assert [d for d, _ in reports] == sorted({d for d, _ in reports}) and {t for _, t in reports} == {total}

    def interrupt(done, total):
        raise KeyboardInterrupt

    calls = []
    monkeypatch.setattr(model_module, "local_search", lambda *args: calls.append(args[-3]) or 0)
    with pytest.raises(KeyboardInterrupt):
        fitted(aggregates, rng=np.random.default_rng(3), sweeps=6, progress=interrupt)
    assert calls == [97]  # one run of proposals, then the Ctrl-C


def test_a_dp_run_shows_its_fit_on_the_synthesizing_bar(monkeypatch, tmp_path):
    from showcase.engine import DifferentialPrivacy, run

    monkeypatch.setattr(model_module, "FIT_CHUNK", 1000)
    reports = []
    table = uniform_table(300, 4, 3, seed=4)
    protection = DifferentialPrivacy(4.0, ledger=tmp_path / "ledger.sqlite")
    run(table, protection=protection, seed=1, progress=lambda stage, d, t: reports.append((stage, d, t)))
    fit = [(d, t) for stage, d, t in reports if stage == "synthesize"]
    assert any(0 < d < t for d, t in fit) and fit[-1][0] == fit[-1][1] > 0


@pytest.mark.parametrize("algorithm", ["mst", "aim"])
def test_an_adaptive_release_reports_its_rounds_on_the_dp_bar(algorithm, tmp_path):
    # At 1M rows AIM's 20 rounds take about 17 s: without reports the job showed no bar for 25 s.
    from showcase.engine import DifferentialPrivacy, aggregate

    reports = []
    protection = DifferentialPrivacy(4.0, algorithm=algorithm, ledger=tmp_path / "ledger.sqlite")
    aggregate(uniform_table(300, 5, 3, seed=4), protection=protection, length=2, seed=1,
              progress=lambda stage, d, t: reports.append((stage, d, t)))  # fmt: skip
    rounds = [(d, t) for stage, d, t in reports if stage == "noise"]
    assert len(rounds) >= 3 and rounds[-1][0] == rounds[-1][1]
    assert [d for d, _ in rounds] == sorted(d for d, _ in rounds) and len({t for _, t in rounds}) == 1


# --- the mechanisms: accounting, outputs, privacy audit -----------------------------------------


def uniform_table(rows: int, columns: int, values: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({f"c{j}": [f"v{x}" for x in rng.integers(0, values, rows)] for j in range(columns)})


@pytest.mark.parametrize("algorithm", ["mst", "aim"])
def test_adaptive_release_spends_its_budget_and_releases_measured_cells(algorithm):
    table = encode(uniform_table(3000, 5, 3, seed=2))
    options = AdaptiveOptions(algorithm=algorithm, length=2, rounds=6)
    aggregates, report, measurements = adaptive_aggregate(
        table, epsilon=2.0, delta=1e-6, options=options, source=RandomSource(4), seed=4
    )
    split = report.split
    assert split.rho_spent == pytest.approx(split.rho, rel=1e-9) and split.rho_spent <= split.rho
    assert split.epsilon_spent <= 2.0
    assert abs(aggregates.record_count - 3000) < 2000  # discrete Laplace of scale 1 / (0.005 ε) = 100
    measured = {tuple(m["columns"]) for m in report.describe()["measured_marginals"]}
    assert all((f"c{j}",) in measured for j in range(5))
    pairs = [m for m in measured if len(m) == 2]
    assert len(pairs) == (4 if algorithm == "mst" else len(pairs)) and pairs
    # Every released pair cell belongs to a measured pair.
    names = table.schema.columns
    columns = table.schema.attribute_columns
    for row in aggregates.attrs[aggregates.length == 2]:
        assert (names[columns[row[0]]], names[columns[row[1]]]) in measured
    synthetic = fitted(aggregates, rng=np.random.default_rng(0))
    assert synthetic.n_rows == aggregates.record_count == measurements.record_count


def audit(algorithm, trials=150):
    base = uniform_table(1500, 2, 3, seed=3)  # one pair: the mechanism measures it every time
    extra = pa.table({name: ["v0"] for name in base.column_names})
    with_record = encode(pa.concat_tables([base, extra]))
    without = encode(base, schema=with_record.schema)
    options = AdaptiveOptions(algorithm=algorithm, length=2, rounds=3)

    def release(table, source):
        _, report, measurements = adaptive_aggregate(
            table, epsilon=2.0, delta=1e-5, options=options, public_domain=True, source=source, seed=0
        )
        # The raw noisy cells: what the mechanism outputs (the projected aggregates are post-processing,
        # whose shift by the noisy record count would only blunt the audit).
        return as_aggregates(table.schema, measurements, projected=False), report

    return audit_neighbours(release, without, with_record, row=with_record.n_rows - 1, trials=trials, seed=1)


@pytest.mark.statistical
@pytest.mark.parametrize("algorithm", ["mst", "aim"])
def test_audit_stays_below_the_claim_and_fails_when_the_noise_is_too_small(algorithm, monkeypatch):
    assert audit(algorithm).lower_bound < 2.0
    real = adaptive_module.discrete_gaussian
    monkeypatch.setattr(
        adaptive_module, "discrete_gaussian", lambda n, sigma, source: real(n, sigma / 4, source)
    )
    assert audit(algorithm).lower_bound > 2.0


def test_fitter_records_match_the_release_count_and_improve_the_error():
    measurements = random_measurements([3, 4, 2], 500, 9)
    fitter = Fitter(measurements, seed=1)
    before = fitter.error()
    fitter.fit(5)
    assert fitter.codes.shape == (500, 3) and fitter.error() < before


def test_an_adaptive_release_file_keeps_its_measurements_and_is_fitted_again(tmp_path, capsys):
    """aggregates.parquet carries the noisy marginals: fitted synthesis from the file alone gives the
    records it gives in memory, and synthesize --from-aggregates picks fitted for it."""
    from showcase.cli.main import main
    from showcase.engine.aggregates_io import read_parquet, write_parquet

    table = encode(uniform_table(2000, 4, 3, seed=6))
    options = AdaptiveOptions(algorithm="aim", length=3, rounds=5)
    aggregates, _, _ = adaptive_aggregate(table, epsilon=3.0, options=options, source=RandomSource(2), seed=2)
    write_parquet(aggregates, tmp_path / "aggregates.parquet")
    back = read_parquet(tmp_path / "aggregates.parquet")
    assert back.marginals is not None
    assert len(back.marginals.marginals) == len(aggregates.marginals.marginals)
    for mine, theirs in zip(back.marginals.marginals, aggregates.marginals.marginals, strict=True):
        assert mine.columns == theirs.columns
        np.testing.assert_array_equal(mine.noisy, theirs.noisy)
        assert mine.sigma == theirs.sigma
    in_memory = fitted(aggregates, rng=np.random.default_rng(3))
    from_file = fitted(back, rng=np.random.default_rng(3))
    assert in_memory.schema.columns == from_file.schema.columns
    np.testing.assert_array_equal(from_file.codes, in_memory.codes)
    for mine, theirs in zip(from_file.schema.dictionaries, in_memory.schema.dictionaries, strict=True):
        assert mine.to_pylist() == theirs.to_pylist()
    out = tmp_path / "synthetic"
    argv = ["synthesize", "--from-aggregates", str(tmp_path / "aggregates.parquet"), "-o", str(out),
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert "fitted synthetic data" in capsys.readouterr().out
