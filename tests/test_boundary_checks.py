"""Privacy parameters are refused at the library's boundary, in one line, whatever their type.

Each case here once passed silently or crashed with a Python error deep in
the engine (an audit of the public API): a truthy string taken as True, a
subject array of the wrong length truncating the records, numpy integers
reaching ``json.dumps``, a seeded release losing its "not for publication"
mark when its aggregates were passed in memory.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from showcase.datasets import generate_table, write_table
from showcase.engine import DifferentialPrivacy, KAnonymity, ParameterError, aggregate, encode, synthesize
from showcase.engine.checks import check_flag, check_seed, is_integer, is_number, validate_length
from showcase.engine.config import validate_threads
from showcase.engine.dp.marginals import dp_aggregate
from showcase.engine.dp.noise import RandomSource
from showcase.engine.mechanisms import mechanism_seeds, parse_mechanism
from showcase.engine.randomness import make_rng
from showcase.engine.synthesize.aggregate_seeded import aggregate_seeded


@pytest.fixture(scope="module")
def table():
    return encode(generate_table(400, 4, seed=3))


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    path = tmp_path_factory.mktemp("checks") / "cases.csv"
    write_table(generate_table(400, 4, seed=3), path)
    return path


def test_numbers_and_integers_accept_numpy_scalars_and_refuse_bools():
    assert all(is_number(v) for v in (1, 0.5, np.float32(0.5), np.int64(3), np.float64(2)))
    assert not any(is_number(v) for v in (True, np.bool_(True), float("nan"), float("inf"), "1", None))
    assert all(is_integer(v) for v in (3, np.int64(3), np.uint8(3)))
    assert not any(is_integer(v) for v in (True, np.bool_(False), 2.0, 2.5, "2", None))


@pytest.mark.parametrize("value", ["no", "", 0, 1, None, [True]])
def test_a_flag_must_be_a_bool(value):
    with pytest.raises(ParameterError, match="must be True or False"):
        check_flag(value, "public_domain")
    assert check_flag(np.bool_(True), "x") is True and check_flag(False, "x") is False


@pytest.mark.parametrize("seed", ["7", -1, 2.5, float("nan"), True])
def test_a_bad_seed_is_refused_under_k_anonymity_too(cases, seed):
    with pytest.raises(ParameterError, match="seed"):
        aggregate(cases, protection=KAnonymity(5), length=2, seed=seed)
    with pytest.raises(ParameterError, match="seed"):
        check_seed(seed)
    assert check_seed(np.int64(7)) == 7 and type(check_seed(np.int64(7))) is int


@pytest.mark.parametrize("length", [True, 2.5, "2", 0, 10**9])
def test_a_bad_length_is_refused_before_anything_is_built(table, length):
    with pytest.raises(ParameterError, match="reporting length"):
        validate_length(length)
    with pytest.raises(ParameterError, match="reporting length"):
        DifferentialPrivacy(1.0).check(length)
    with pytest.raises(ParameterError, match="reporting length"):
        dp_aggregate(table, epsilon=1.0, length=length)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"epsilon": 1.0, "sigma_proportions": 5}, "list of numbers"),
        ({"epsilon": 1.0, "sigma_proportions": [1e-300, 1.0]}, "within a factor"),
        ({"epsilon": 1.0, "sigma_proportions": [1e300, 1.0]}, "within a factor"),
        ({"epsilon": 1.0, "accuracy_mode": []}, "accuracy mode"),
        ({"epsilon": 1.0, "fabrication_mode": ["balanced"]}, "fabrication mode"),
        ({"epsilon": 1.0, "percentile": True}, "percentile"),
        ({"epsilon": 1.0, "percentile": 1e-300}, "two decimals"),
        ({"epsilon": 1.0, "percentile": 99.123}, "two decimals"),
        ({"epsilon": 1.0, "thresholds": ["a"]}, "thresholds"),
    ],
)
def test_dp_keywords_pass_the_same_checks_as_a_spec(table, options, message):
    with pytest.raises(ParameterError, match=message):
        DifferentialPrivacy(**options).check(2)
    with pytest.raises(ParameterError, match=message):
        dp_aggregate(table, length=2, **options)


def test_numpy_scalars_are_taken_as_numbers():
    spec = DifferentialPrivacy(np.float32(1.0), delta=np.float64(1e-6), percentile=np.int64(99))
    assert (spec.epsilon, spec.delta, spec.percentile) == (1.0, 1e-6, 99.0)
    assert KAnonymity(np.int64(5)).k == 5


def test_dp_aggregate_refuses_what_it_cannot_check_later(table):
    with pytest.raises(ParameterError, match="public_domain must be True or False"):
        dp_aggregate(table, epsilon=1.0, length=2, public_domain="no")
    with pytest.raises(ParameterError, match="one id per row"):
        dp_aggregate(table, epsilon=1.0, length=2, subject=np.arange(5))
    with pytest.raises(ParameterError, match="RandomSource"):
        dp_aggregate(table, epsilon=1.0, length=2, source=5)
    with pytest.raises(ParameterError, match="protection must be DifferentialPrivacy"):
        dp_aggregate(table, length=2, protection=KAnonymity(5))


def test_seeded_dp_aggregates_stay_seeded_in_memory(tmp_path, table, cases):
    seeded, _ = dp_aggregate(table, epsilon=1.0, length=2, source=RandomSource(3))
    unseeded, _ = dp_aggregate(table, epsilon=1.0, length=2)
    assert seeded.seeded and not unseeded.seeded
    released = aggregate(cases, protection=DifferentialPrivacy(1.0), length=2, seed=11).released
    synthesize(aggregates=released, mode="tree", out=tmp_path / "s")
    meta = json.loads((tmp_path / "s" / "metadata.json").read_text())
    assert meta["randomness"]["seeded"] is True and "not for publication" in meta["privacy"]["warning"]


def test_numpy_record_targets_reach_the_metadata_as_ints(tmp_path, cases):
    released = aggregate(cases, protection=KAnonymity(5), length=2).released
    result = synthesize(
        aggregates=released, mode="tree", target_number_of_records=np.int64(50), out=tmp_path / "t"
    )
    assert result.synthetic.n_rows == 50
    assert json.loads((tmp_path / "t" / "metadata.json").read_text())["synthesis"]


def test_aggregate_seeded_refuses_a_truthy_string_and_a_missing_generator(cases):
    released = aggregate(cases, protection=KAnonymity(5), length=2).released
    with pytest.raises(ParameterError, match="use_synthetic_counts must be True or False"):
        aggregate_seeded(released, rng=make_rng(1), use_synthetic_counts="no")
    with pytest.raises(ParameterError, match="numpy Generator"):
        aggregate_seeded(released, rng=None)
    with pytest.raises(ParameterError, match="use_synthetic_counts must be True or False"):
        synthesize(aggregates=released, mode="aggregate_seeded", use_synthetic_counts="no")


def test_a_comparison_without_a_seed_leaves_every_mechanism_to_the_os():
    assert mechanism_seeds(None, 3) == [None, None, None]
    seeded = mechanism_seeds(5, 3)
    assert seeded == mechanism_seeds(5, 3) and len(set(seeded)) == 3


@pytest.mark.parametrize(
    "spec",
    [
        "dp:epsilon=nan",
        "dp:epsilon=inf",
        "dp:epsilon=1,delta=2",
        "aggregate:k=99999999999",
        "aggregate:k=5,L=1000",
        "value_seeded:k=2,oversampling_ratio=1e9",
        "value_seeded:k=2,oversampling_ratio=0.1,oversampling_tries=10000000",
        "value_seeded:k=2,oversampling_tries=3",  # tries mean nothing without a ratio
    ],
)
def test_mechanism_specs_are_range_checked_when_parsed(spec):
    with pytest.raises(ParameterError, match="mechanism"):
        parse_mechanism(spec)


def test_thread_counts_are_shown_as_given():
    with pytest.raises(ParameterError, match="got '2'"):
        validate_threads("2")
    assert validate_threads(np.int64(1)) == 1
