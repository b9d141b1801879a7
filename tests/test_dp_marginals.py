"""DP marginals: structure of the release, parameters, per-subject counting.

The privacy properties themselves (noise scale, trimming, selection, audit) are in
test_dp_privacy.py.
"""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
import pyarrow as pa
import pytest

from showcase.datasets import generate_table
from showcase.engine import ParameterError, encode
from showcase.engine.config import threads
from showcase.engine.dp import marginals as marginals_module
from showcase.engine.dp.marginals import dp_aggregate, fabrication_etas, records
from showcase.engine.dp.noise import RandomSource

from .conftest import as_dict


@pytest.fixture(scope="module")
def cases():
    table = generate_table(4000, 8, seed=21)
    return encode(table.cast(pa.schema([(n, pa.string()) for n in table.column_names])))


def release(table, seed=1, **kwargs):
    kwargs.setdefault("epsilon", 4.0)
    kwargs.setdefault("length", 3)
    return dp_aggregate(table, source=RandomSource(seed), **kwargs)


def test_release_is_closed_and_normalised(cases):
    aggregates, report = release(cases)
    counts = as_dict(aggregates)
    assert aggregates.protection == "differential-privacy"
    assert len(counts) == len(aggregates) > 0
    for combo, count in counts.items():
        assert count > 0
        for sub in itertools.combinations(combo, len(combo) - 1):
            if sub:
                # Candidates need every sub-combination released; counts never exceed them.
                assert sub in counts, (combo, sub)
                assert count <= counts[sub]
    assert report.released == aggregates.by_length().tolist()
    assert abs(report.record_count - cases.n_rows) < 200


def test_no_value_is_held_by_more_records_than_the_release_counts():
    """The record count is every single attribute's sub-combination: a value every record holds is
    capped by the noisy record count (it exceeded it in about half the seeds)."""
    table = encode(pa.table({"a": ["x"] * 400, "b": ["y"] * 400}))
    for seed in range(12):
        aggregates, _ = release(table, seed=seed, epsilon=5.0, length=2)
        assert aggregates.count.max(initial=0) <= aggregates.record_count, seed


def test_progress_moves_between_a_lengths_two_passes(cases, monkeypatch):
    """A length's two passes over the records (histogram, then bounded counts) are a step each:
    at 3M rows the bar stood 13 s within length 3 before."""
    reports = []
    histograms = []
    pass_over = marginals_module.bounded_counts

    def bounded(*args, **kwargs):
        histograms.append(list(reports))  # what had been reported when the second pass began
        return pass_over(*args, **kwargs)

    monkeypatch.setattr(marginals_module, "bounded_counts", bounded)
    release(cases, progress=lambda done, total: reports.append((done, total)))
    assert reports == [(1, 6), (2, 6), (3, 6), (4, 6), (5, 6), (6, 6)]
    assert histograms == [reports[:1], reports[:3], reports[:5]]


def test_same_seed_same_release_any_thread_count(cases):
    with threads(1):
        one, _ = release(cases, seed=5)
    with threads(2):
        many, _ = release(cases, seed=5)
    assert as_dict(one) == as_dict(many)
    other, _ = release(cases, seed=6)
    assert as_dict(other) != as_dict(one)


def test_budget_parts_and_guarantee(cases):
    _, report = release(cases, epsilon=2.0, delta=1e-6)
    facts = report.describe()
    assert facts["epsilon_spent"] <= 2.0 * (1 + 1e-9)
    assert facts["rho_spent"] == pytest.approx(facts["rho"], rel=1e-9)
    assert facts["selection_delta"] + facts["conversion_delta"] == pytest.approx(1e-6)
    assert len(facts["sensitivity_bounds"]) == 3


def test_default_delta_uses_the_protected_count(cases):
    _, report = release(cases)
    n = report.record_count
    assert report.split.delta == pytest.approx(1 / (n * math.log(n)))


def test_fabrication_modes_order_thresholds(cases):
    thresholds = {
        mode: release(cases, fabrication_mode=mode)[1].thresholds[1:]
        for mode in ("uncontrolled", "balanced", "minimize")
    }
    assert thresholds["uncontrolled"] == [0.0, 0.0]
    assert all(b < m for b, m in zip(thresholds["balanced"], thresholds["minimize"]))
    fixed = release(cases, thresholds=[3, 7])[1].thresholds[1:]
    assert fixed == [3.0, 7.0]


def test_subject_rows_count_once():
    # Subject s1 has three rows with A=x; without subjects A=x counts 3 + others.
    table = pa.table({"A": ["x", "x", "x"] + ["x", "y"] * 400, "B": ["b"] * 803})
    encoded = encode(table)
    subject = np.array([0, 0, 0] + list(range(1, 801)), dtype=np.int64)
    ptr, attrs = records(encoded, subject)
    assert len(ptr) - 1 == 801
    assert np.diff(ptr)[0] == 2  # subject 0: A=x and B=b, once each
    aggregates, report = release(encoded, subject=subject, epsilon=400.0, length=2)
    assert abs(report.record_count - 801) < 5
    # Per subject, A=x is held by 401 subjects (not 403 rows) and so is (A=x, B=b); the
    # noise is far below the gap of 2 (checked), so the released counts show which was used.
    scales = [s * math.sqrt(d) for s, d in zip(report.split.sigmas, report.deltas)]
    assert max(scales) < 0.25
    counts = as_dict(aggregates)
    assert counts[(("A", "x"),)] == 401
    assert counts[(("A", "x"), ("B", "b"))] == 401
    assert counts[(("B", "b"),)] == 801


def test_public_codebook_needs_no_selection_delta(cases):
    aggregates, report = release(cases, public_domain=True)
    assert report.split.selection_delta == 0
    assert report.candidates[0] == cases.schema.n_attributes


@pytest.mark.parametrize("kwargs,message", [
    ({"epsilon": 0}, "epsilon"), ({"epsilon": -2}, "epsilon"), ({"delta": 2.0}, "delta"),
    ({"length": 0}, "length"), ({"fabrication_mode": "lots"}, "fabrication mode"),
    ({"thresholds": [1]}, "thresholds"), ({"accuracy_mode": "x"}, "accuracy mode"),
    ({"sigma_proportions": [1, 1]}, "one value per length"),
    ({"record_count_proportion": 0.0}, "record count"), ({"percentile": 150}, "percentile"),
])  # fmt: skip
def test_invalid_parameters(cases, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        release(cases, **kwargs)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"delta": 1e-7, "percentile": 90.0, "fabrication_mode": "minimize"},
        {"accuracy_mode": "prioritize-long", "percentile_proportion": 0.2},
        {"thresholds": [3.0, 5.0], "sigma_proportions": [1.0, 2.0, 3.0], "record_count_proportion": 0.01},
    ],
)
def test_a_protection_spec_gives_the_release_its_keywords_give(cases, options):
    """``protection=DifferentialPrivacy(...)`` takes every option from the spec, its split included."""
    from showcase.engine.protection import DifferentialPrivacy

    spec = DifferentialPrivacy(epsilon=2.0, **options)
    by_spec, spec_report = release(cases, epsilon=None, protection=spec)
    by_keywords, keyword_report = release(cases, epsilon=2.0, **options)
    assert as_dict(by_spec) == as_dict(by_keywords)
    assert spec_report.describe() == keyword_report.describe()
    assert spec_report.split == spec.split(3, spec_report.split.delta, selection=True)


def test_a_protection_spec_and_epsilon_together_are_refused(cases):
    from showcase.engine.protection import DifferentialPrivacy

    with pytest.raises(ParameterError, match="either a protection spec or epsilon"):
        release(cases, epsilon=1.0, protection=DifferentialPrivacy(epsilon=1.0))
    with pytest.raises(ParameterError, match="need an epsilon"):
        release(cases, epsilon=None)


def test_record_count_noise_is_laplace_of_scale_one_over_its_epsilon(cases, monkeypatch):
    """The record count is pure (epsilon * proportion)-DP: discrete Laplace of scale 1 / that."""
    drawn = []
    laplace = marginals_module.discrete_laplace

    def spy(n, scale, source):
        drawn.append((n, scale, laplace(n, scale, source)))
        return drawn[-1][2]

    monkeypatch.setattr(marginals_module, "discrete_laplace", spy)
    _, report = release(cases, epsilon=2.0, record_count_proportion=0.01, length=1)
    (n, scale, noise), *_ = drawn
    assert n == 1 and scale == pytest.approx(1 / (2.0 * 0.01), rel=1e-12)
    assert report.record_count == max(cases.n_rows + int(noise[0]), 0)


@pytest.mark.parametrize("mode", ["balanced", "minimize", "progressive"])
def test_adaptive_thresholds_are_scale_times_the_normal_quantile(cases, mode):
    """Lengths >= 2: threshold sigma_k sqrt(Delta_k) PhiInv(1 - eta/2), a zero count passes w.p. eta/2."""
    _, report = release(cases, fabrication_mode=mode)
    etas = fabrication_etas(mode, 3)
    for k in (2, 3):
        scale = report.split.sigmas[k - 1] * math.sqrt(report.deltas[k - 1])
        expected = scale * NormalDist().inv_cdf(1 - etas[k - 2] / 2)
        assert report.thresholds[k - 1] == pytest.approx(expected, rel=1e-12)


def test_a_noisy_count_must_exceed_its_threshold_not_equal_it(cases, monkeypatch):
    """No noise (patched to 0) and a fixed length-2 threshold equal to some counts: those are not released."""
    seen = {}
    trim = marginals_module.bounded_counts

    def spy(held, level, candidates, histogram, bound, source):
        seen[len(candidates[0])] = counts = trim(held, level, candidates, histogram, bound, source)
        return counts

    monkeypatch.setattr(marginals_module, "bounded_counts", spy)
    monkeypatch.setattr(marginals_module, "discrete_gaussian", lambda n, sigma, source: np.zeros(n, np.int64))
    release(cases, length=2, thresholds=[0])
    pairs = seen[2][seen[2] > 0]
    threshold = int(np.median(pairs))
    _, report = release(cases, length=2, thresholds=[threshold])
    assert (seen[2] == threshold).sum() > 0
    assert report.released[1] == (seen[2] > threshold).sum()


@pytest.mark.parametrize("thresholds", [[-1.0, 2.0], [2.0, 2e15], [1.0]])
def test_a_spec_refuses_thresholds_out_of_range_before_any_charge(thresholds):
    """DifferentialPrivacy.check (before the ledger charge): one threshold per length, each in [0, 1e15]."""
    from showcase.engine.protection import DifferentialPrivacy

    spec = DifferentialPrivacy(epsilon=1.0, thresholds=thresholds)
    with pytest.raises(ParameterError, match="thresholds needs 2 values from 0 to"):
        spec.check(3)
    DifferentialPrivacy(epsilon=1.0, thresholds=[0.0, 1e15]).check(3)


def test_values_a_record_loses_to_the_bound_are_never_selected(monkeypatch):
    """Partition selection counts each record's kept values only: a value present in one record
    but trimmed by the contribution bound has count 0 and must never be released, whatever the
    threshold (it was a candidate, so the chance to name it grew with the record's width)."""
    rows = 400
    columns = {f"c{j}": ["x" if j < 3 else ""] * rows for j in range(15)}  # most records: 3 values
    for j in range(15):
        columns[f"c{j}"][0] = f"secret{j}"  # record 0 alone holds 15 values; the bound keeps few
    table = encode(pa.table(columns))
    monkeypatch.setattr(marginals_module, "selection_threshold", lambda *args: -math.inf)
    aggregates, report = release(table, seed=3, epsilon=2.0, delta=1e-6, length=1)
    names = aggregates.schema.attribute_values().to_pylist()
    shown = [names[a] for a in aggregates.attrs[:, 0].tolist()]
    secrets = [v for v in shown if str(v).startswith("secret")]
    assert report.deltas[0] < 15 and len(secrets) <= report.deltas[0], (report.deltas, secrets)
