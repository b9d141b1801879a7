"""Binning numeric columns: spellings, edges, labels, errors that hide values, DP quantile edges."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from showcase.engine import InputError, ParameterError
from showcase.engine.binning import (
    Bins,
    bin_column,
    bin_edges,
    bin_labels,
    describe,
    dp_quantile_edges,
    numeric_values,
    parse_bin_option,
    parse_bins,
)
from showcase.engine.dp.noise import RandomSource

# ---------------------------------------------------------------------------- spellings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("width:10", Bins("width", width=10)),
        ("width:2.5:from=1", Bins("width", width=2.5, origin=1)),
        ("width:10:from=0", Bins("width", width=10, origin=0)),
        ("width:10:0..120", Bins("width", width=10, lower=0, upper=120)),
        ("width:5:open:ctdc", Bins("width", width=5, open_ends=True, labels="ctdc")),
        ("edges:0,18,30,50", Bins("edges", edges=(0, 18, 30, 50))),
        ("edges:0,18,30,50:open", Bins("edges", edges=(0, 18, 30, 50), open_ends=True)),
        ("edges:-1.5,0,2.5e1:ctdc", Bins("edges", edges=(-1.5, 0, 25), labels="ctdc")),
        ("edges:0,18:open:range", Bins("edges", edges=(0, 18), open_ends=True)),
        ("quantiles:4", Bins("quantiles", count=4)),
        ("quantiles:4:0..120", Bins("quantiles", count=4, lower=0, upper=120)),
        ("quantiles:3:-10..10:ctdc", Bins("quantiles", count=3, lower=-10, upper=10, labels="ctdc")),
    ],
)
def test_every_spelling_parses(text, expected):
    assert parse_bins(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "width",
        "width:",
        "width:ten",
        "width:10:by=2",
        "bins:4",
        "edges:",
        "edges:0,,10",
        "edges:0;10",
        "quantiles:4.5",
        "quantiles:four",
        "quantiles:4:0-120",
        "quantiles:4:0..x",
        "width:nan",
        "width:inf",
    ],
)
def test_bad_spellings_name_the_expected_forms(text):
    with pytest.raises(ParameterError, match=r"expected width:W.*edges:E1,E2.*quantiles:N"):
        parse_bins(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("width:0", "positive"),
        ("width:-5", "positive"),
        ("edges:5", "at least 2"),
        ("edges:0,10,10", "strictly increasing"),
        ("edges:10,0", "strictly increasing"),
        ("quantiles:1", "from 2"),
        ("quantiles:4:open", "open ends"),
        ("quantiles:4:10..10", "lower < upper"),
        ("edges:0,10:from=3", "origin"),
        ("edges:0,10:0..20", "public range"),
        ("width:10:open:open", "twice"),
        ("width:10:ctdc:range", "twice"),
    ],
)
def test_inconsistent_spellings_say_what_is_wrong(text, message):
    with pytest.raises(ParameterError, match=message):
        parse_bins(text)


def test_bin_option_splits_at_the_spec():
    assert parse_bin_option("age=width:10") == ("age", Bins("width", width=10))
    assert parse_bin_option("a=b=edges:0,1") == ("a=b", Bins("edges", edges=(0, 1)))
    name, bins = parse_bin_option("x=width:10:from=5")
    assert (name, bins.origin) == ("x", 5)
    for bad in ("age", "=width:10", "age:width:10", "age=bins:3"):
        with pytest.raises(ParameterError, match="COLUMN=SPEC"):
            parse_bin_option(bad)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "squares"}, "kind"),
        ({"kind": "width"}, "need a width"),
        ({"kind": "width", "width": 10, "count": 3}, "count applies to quantile"),
        ({"kind": "width", "width": True}, "number"),
        ({"kind": "edges", "edges": (0, math.nan)}, "finite"),
        ({"kind": "quantiles", "count": 4, "lower": 0}, "both ends"),
        ({"kind": "quantiles", "count": True}, "whole number"),
        ({"kind": "quantiles", "count": 4, "labels": "roman"}, "labels"),
        ({"kind": "edges", "edges": (0, 1), "open_ends": "yes"}, "open ends"),
    ],
)
def test_bins_validate_their_fields(fields, message):
    with pytest.raises(ParameterError, match=message):
        Bins(**fields)


@pytest.mark.parametrize(
    "doc",
    [
        {"edges": [0, 18, 30], "labels": "ctdc", "open": True},
        {"edges": [0, 18, 30], "open": "above"},
        {"width": 10, "from": 5, "open": "below"},
        {"width": 10, "from": 5},
        {"width": 2.5, "range": [0, 100]},
        {"quantiles": 4, "range": [0, 120]},
        {"quantiles": 3},
    ],
)
def test_codebook_entries_round_trip(doc):
    bins = Bins.from_dict(doc)
    assert bins.to_dict() == doc
    assert Bins.from_dict(bins.to_dict()) == bins


def test_codebook_entries_match_the_cli():
    assert Bins.from_dict({"edges": [0, 18, 30], "labels": "ctdc", "open": True}) == parse_bins(
        "edges:0,18,30:open:ctdc"
    )
    assert Bins.from_dict({"quantiles": 4, "range": [0, 120]}) == parse_bins("quantiles:4:0..120")
    assert Bins.from_dict({"edges": [0, 9], "open": "above"}) == parse_bins("edges:0,9:open-above")
    assert Bins.from_dict({"edges": [0, 9], "open": "below"}) == parse_bins("edges:0,9:open-below")


def test_one_open_end_adds_one_bin_and_outside_values_are_refused():
    """An age has no bin below 0: open-above bins refuse -1 as outside, and describe says which end."""
    above = parse_bins("edges:0,18,30:open-above")
    assert bin_edges(np.array([1.0]), above) == (0, 18, 30, math.inf)
    assert describe(above, bin_edges(np.array([1.0]), above))["open"] == "above"
    below = parse_bins("edges:0,18:open-below")
    assert describe(below, bin_edges(np.array([1.0]), below))["open"] == "below"
    with pytest.raises(InputError, match="outside the bins"):
        labels_of([-1, 5], "edges:0,18,30:open-above")
    with pytest.raises(ParameterError, match="open ends must be"):
        Bins("edges", edges=(0, 1), open_ends="left")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"width": 10, "colour": "red"}, "unknown bins key"),
        ({"width": 10, "edges": [0, 1]}, "exactly one"),
        ({}, "exactly one"),
        ({"edges": "0,18"}, "list"),
        ({"quantiles": 4, "range": [0]}, r"\[lower, upper\]"),
        ([("width", 10)], "mapping"),
    ],
)
def test_bad_codebook_entries(doc, message):
    with pytest.raises(ParameterError, match=message):
        Bins.from_dict(doc)


# ---------------------------------------------------------------------------- labels


def labels_of(values, spec, **options):
    return bin_column(pa.array(values), parse_bins(spec), "age", **options).to_pylist()


def test_integer_labels_in_both_styles():
    ages = [0, 8, 9, 17, 18, 20, 21, 47, 48, 90]
    spec = "edges:0,9,18,21,48"
    assert labels_of(ages, spec + ":open") == [
        "0-8", "0-8", "9-17", "9-17", "18-20", "18-20", "21-47", "21-47", "48+", "48+"
    ]  # fmt: skip
    assert labels_of(ages, spec + ":open:ctdc") == [
        "0--8", "0--8", "9--17", "9--17", "18--20", "18--20", "21--47", "21--47", "48+", "48+"
    ]  # fmt: skip
    assert labels_of([-1, 3], "edges:0,5:open:ctdc") == ["<0", "0--4"]
    assert labels_of([0, 9, 60], spec + ":open-above:ctdc") == ["0--8", "9--17", "48+"]
    assert labels_of([-3, 0, 20], spec + ":open-below") == ["<0", "0-8", "18-20"]
    assert labels_of([20, 29], "width:10") == ["20-29", "20-29"]
    assert labels_of([4, 5], "edges:4,5,6") == ["4", "5"]  # a one-value bin is the value alone


def test_decimal_labels_are_half_open_intervals():
    assert labels_of([0.5, 2.5, 4.9], "width:2.5") == ["[0, 2.5)", "[2.5, 5)", "[2.5, 5)"]
    assert labels_of([0.5, 2.5, 4.9], "width:2.5:ctdc") == ["[0, 2.5)", "[2.5, 5)", "[2.5, 5)"]
    assert labels_of([-0.5, 1.5, 7.25], "edges:0,2.5:open") == ["<0", "[0, 2.5)", "2.5+"]


def test_integer_labels_on_fractional_edges_hold_whole_numbers():
    assert bin_labels((0, 2.5, 5, 7.5), integers=True) == ["0-2", "3-4", "5-7"]
    assert bin_labels((-math.inf, 2.5, math.inf), integers=True, style="ctdc") == ["<3", "3+"]


def test_the_label_style_can_be_fixed_rather_than_read_from_the_data():
    assert labels_of([1.0, 2.0], "edges:0,2,4", integers=False) == ["[0, 2)", "[2, 4)"]
    with pytest.raises(InputError, match=r"'age': 1 value\(s\) are not whole numbers") as caught:
        labels_of([1.0, 2.5], "edges:0,2,4", integers=True)
    assert "2.5" not in str(caught.value)


# ---------------------------------------------------------------------------- edges


def test_a_value_on_an_edge_goes_to_the_upper_bin_and_the_last_edge_is_exclusive():
    assert labels_of([17, 18, 29, 30], "edges:0,18,30,50") == ["0-17", "18-29", "18-29", "30-49"]
    with pytest.raises(InputError, match="outside the bins"):
        labels_of([50], "edges:0,18,30,50")
    assert labels_of([50], "edges:0,18,30,50:open") == ["50+"]
    assert labels_of([0.0, 2.5, 5.0], "edges:0,2.5,5,7.5") == ["[0, 2.5)", "[2.5, 5)", "[5, 7.5)"]


def test_values_outside_the_bins_give_the_count_not_the_values():
    with pytest.raises(InputError) as caught:
        labels_of([-7, 5, 123, 456, 119], "edges:0,60,120")
    message = str(caught.value)
    assert message == (
        "column 'age': 3 value(s) fall outside the bins [0, 120): widen the bins or add open ends"
    )
    for secret in ("-7", "123", "456"):
        assert secret not in message


def test_non_numbers_give_the_count_not_the_values():
    column = pa.array(["12", "secret", "7.5", "n/a", "0x1F", "nan", "inf", "1e999"]).dictionary_encode()
    with pytest.raises(InputError) as caught:
        bin_column(column, parse_bins("width:10"), "age")
    message = str(caught.value)
    assert message == (
        "column 'age': 6 value(s) are not numbers (give them as null markers, or do not bin this column)"
    )
    for secret in ("secret", "n/a", "0x1F", "1e999"):
        assert secret not in message


def test_columns_of_other_types_are_refused_by_name():
    with pytest.raises(InputError, match="'flag' holds bool values"):
        bin_column(pa.array([True, False]), parse_bins("width:1"), "flag")


def test_nulls_empties_and_null_markers_stay_null():
    column = pa.chunked_array([["4", "", None, "N", " 12 "], ["NA", "7"]])
    labels = bin_column(column, parse_bins("width:10"), "age", null_markers=["N", "NA"])
    assert labels.type == pa.string()
    assert labels.to_pylist() == ["0-9", None, None, None, "10-19", None, "0-9"]
    # As the CSV reader gives it: dictionary chunks, each with its own dictionary.
    encoded = pa.chunked_array([pa.array(c).dictionary_encode() for c in (["4", "N", None], ["", "17"])])
    labels = bin_column(encoded, parse_bins("width:10"), "age", null_markers=["N"])
    assert labels.to_pylist() == ["0-9", None, None, None, "10-19"]


def test_numeric_columns_and_numeric_null_markers():
    column = pa.array([3, -1, None, 15], pa.int16())
    assert bin_column(column, parse_bins("width:10"), "age", null_markers=["-1"]).to_pylist() == [
        "0-9",
        None,
        None,
        "10-19",
    ]
    floats = pa.array([0.5, math.nan, None, 1.25])
    assert np.isnan(numeric_values(floats, "x")[1:3]).all()
    assert labels_of([0.5, math.nan, None, 1.25], "width:1") == ["[0, 1)", None, None, "[1, 2)"]


def test_an_all_null_column_bins_to_nulls():
    assert labels_of([None, None], "width:10") == [None, None]
    assert bin_column(pa.array(["", "N"]), parse_bins("width:10"), "age", ["N"]).to_pylist() == [None, None]


@given(
    values=st.lists(st.integers(-1000, 1000), min_size=1, max_size=60),
    width=st.integers(1, 50),
    origin=st.integers(-20, 20),
)
def test_width_bins_follow_floor_on_integers(values, width, origin):
    bins = Bins("width", width=width, origin=origin)
    got = bin_column(pa.array(values), bins, "x").to_pylist()
    starts = [origin + math.floor((x - origin) / width) * width for x in values]
    expected = [f"{s}-{s + width - 1}" if width > 1 else str(s) for s in starts]
    assert got == expected


@given(
    values=st.lists(st.floats(-100, 100).map(lambda x: round(x, 3)), min_size=1, max_size=60),
    exponent=st.integers(-3, 4),
    origin=st.integers(-20, 20),
)
def test_width_bins_follow_floor_on_decimals(values, exponent, origin):
    width = 2.0**exponent  # a power of two keeps edge arithmetic exact
    values = [v + 0.001 if float(v).is_integer() else v for v in values]  # non-integral data
    edges = bin_edges(np.array(values), Bins("width", width=width, origin=origin))
    labels = bin_column(pa.array(values), Bins("width", width=width, origin=origin), "x").to_pylist()
    names = bin_labels(edges, integers=False)
    for x, label in zip(values, labels):
        k = math.floor((x - origin) / width)
        assert label == names[k - math.floor((edges[0] - origin) / width)]
        assert label == f"[{_spell(origin + k * width)}, {_spell(origin + (k + 1) * width)})"


def _spell(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def test_width_bins_over_a_public_range_cover_it_whatever_the_data():
    bins = parse_bins("width:10:0..120")
    assert bin_edges(np.array([33.0]), bins) == tuple(float(e) for e in range(0, 140, 10))
    with pytest.raises(InputError, match=r"1 value\(s\) fall outside the bins \[0, 130\)"):
        labels_of([33, 130], "width:10:0..120")
    assert labels_of([-5, 135], "width:10:0..120:open") == ["<0", "130+"]


def test_too_many_width_bins_are_refused():
    with pytest.raises(ParameterError, match="wider width"):
        bin_edges(np.array([0.0, 1e9]), parse_bins("width:1"))


def quantile_reference(values: np.ndarray, count: int, low=None, high=None) -> tuple[float, ...]:
    """Exact quantile edges, straight from numpy.quantile; open ends (±inf) without a public range."""
    if low is None:
        low, high = -math.inf, math.inf
    clipped = np.clip(values, low, high)
    inner = np.quantile(clipped, [i / count for i in range(1, count)])
    if np.all(clipped == np.round(clipped)):
        inner = np.ceil(inner)
    edges = sorted({float(e) for e in inner if low < e < high + 1})
    return (float(low), *edges, float(high) + 1)


@given(
    values=st.lists(st.integers(0, 200), min_size=1, max_size=80),
    count=st.integers(2, 8),
)
def test_quantile_bins_on_integers_match_numpy(values, count):
    data = np.array(values, dtype=float)
    bins = Bins("quantiles", count=count)
    edges = bin_edges(data, bins)
    assert edges == quantile_reference(data, count)
    assert len(edges) - 1 <= count
    labels = bin_column(pa.array(values), bins, "x").to_pylist()
    expected = bin_labels(edges, integers=True)
    assert labels == [expected[np.searchsorted(edges, x, side="right") - 1] for x in values]


@given(
    values=st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=80),
    count=st.integers(2, 6),
)
def test_quantile_bins_on_decimals_match_numpy(values, count):
    data = np.array(values)
    assert bin_edges(data, Bins("quantiles", count=count)) == quantile_reference(data, count)


def test_quantile_bins_in_a_public_range_clip_for_the_quantiles():
    data = np.array([-50.0, 1, 2, 3, 4, 5, 6, 7, 8, 500])
    bins = parse_bins("quantiles:2:0..10")
    assert bin_edges(data, bins) == quantile_reference(data, 2, 0, 10)
    assert bin_edges(data, bins)[0] == 0 and bin_edges(data, bins)[-1] == 11


def test_tied_quantiles_merge_into_fewer_bins():
    data = np.array([5.0] * 50 + [6.0])
    edges = bin_edges(data, parse_bins("quantiles:4"))
    assert edges == (-math.inf, 5.0, math.inf)
    assert labels_of([5] * 50 + [6], "quantiles:4")[0] == "5+"


def test_quantile_bins_without_values_or_range_are_refused():
    with pytest.raises(InputError, match="at least one value"):
        bin_edges(np.array([]), parse_bins("quantiles:4"))
    assert bin_edges(np.array([]), parse_bins("quantiles:4:0..9")) == (0.0, 10.0)


def test_given_edges_override_the_computed_ones():
    labels = bin_column(pa.array([1, 50, 99]), parse_bins("quantiles:4:0..99"), "x", edges=(0, 40, 100))
    assert labels.to_pylist() == ["0-39", "40-99", "40-99"]
    with pytest.raises(ParameterError, match="strictly increasing"):
        bin_column(pa.array([1]), parse_bins("quantiles:4:0..99"), "x", edges=(0, 40, 40, 100))


# ---------------------------------------------------------------------------- DP quantile edges


def ages(n: int = 4000, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.round(rng.normal(45, 18, n)), 0, 110)


@pytest.mark.parametrize("count", [2, 3, 4, 5])
def test_dp_edges_with_a_large_epsilon_land_on_the_true_quantiles(count):
    data = ages()
    bins = Bins("quantiles", count=count, lower=0, upper=120)
    edges = dp_quantile_edges(data, bins, epsilon=50.0 * (count - 1), source=RandomSource(seed=11))
    assert edges[0] == 0 and edges[-1] == 121
    truth = [np.quantile(data, i / count, method="inverted_cdf") + 1 for i in range(1, count)]
    assert len(edges) == count + 1
    assert np.all(np.abs(np.array(edges[1:-1]) - truth) <= 2)


@given(
    values=st.lists(st.integers(-30, 150), min_size=0, max_size=50),
    count=st.integers(2, 6),
    epsilon=st.floats(0.01, 5),
    seed=st.integers(0, 2**32),
)
def test_dp_edges_always_lie_in_the_public_range(values, count, epsilon, seed):
    bins = Bins("quantiles", count=count, lower=10, upper=100)
    edges = dp_quantile_edges(np.array(values, dtype=float), bins, epsilon, RandomSource(seed=seed))
    assert edges[0] == 10 and edges[-1] == 101
    assert all(a < b for a, b in zip(edges, edges[1:]))
    assert all(float(e).is_integer() for e in edges)
    assert 2 <= len(edges) <= count + 1


def test_dp_edges_are_reproducible_with_a_seed():
    data = ages(500)
    bins = parse_bins("quantiles:4:0..120")
    first = dp_quantile_edges(data, bins, 0.5, RandomSource(seed=42))
    assert dp_quantile_edges(data, bins, 0.5, RandomSource(seed=42)) == first
    runs = {dp_quantile_edges(data, bins, 0.5, RandomSource(seed=s)) for s in range(20)}
    assert len(runs) > 1  # the seed matters: the edges are noisy at a small epsilon


def test_dp_edges_bin_the_column():
    data = ages(1000)
    bins = parse_bins("quantiles:4:0..120:ctdc")
    edges = dp_quantile_edges(data, bins, 10.0, RandomSource(seed=5))
    labels = bin_column(pa.array(data.astype(int).astype(str)), bins, "age", edges=edges)
    assert labels.null_count == 0
    assert set(labels.to_pylist()) <= set(bin_labels(edges, integers=True, style="ctdc"))


def test_dp_edges_need_a_public_range():
    with pytest.raises(ParameterError, match="public range"):
        dp_quantile_edges(ages(100), parse_bins("quantiles:4"), 1.0, RandomSource(seed=1))


@pytest.mark.parametrize(
    ("bins", "values", "epsilon", "message"),
    [
        ("quantiles:4:0..120", np.array([1.5, 2.0]), 1.0, "whole numbers"),
        ("quantiles:4:0..120.5", np.array([1.0]), 1.0, "whole-number range"),
        ("quantiles:4:0..120", np.array([1.0]), 0.0, "epsilon"),
        ("quantiles:4:0..120", np.array([1.0, math.nan]), 1.0, "without nulls"),
        ("width:10", np.array([1.0]), 1.0, "quantile bins"),
    ],
)
def test_dp_edges_refuse_bad_parameters(bins, values, epsilon, message):
    with pytest.raises(ParameterError, match=message):
        dp_quantile_edges(values, parse_bins(bins), epsilon, RandomSource(seed=1))


# ---------------------------------------------------------------------------- metadata


def test_describe_marks_data_derived_edges():
    data = np.array([1.0, 5, 9])
    exact = parse_bins("quantiles:2")
    assert describe(exact, bin_edges(data, exact)) == {
        "kind": "quantiles",
        "edges": [5],
        "labels": "range",
        "open": True,
        "dp": False,
        "data_derived": True,
    }
    private = parse_bins("quantiles:2:0..120")
    doc = describe(private, dp_quantile_edges(data, private, 1.0, RandomSource(seed=2)), dp=True)
    assert doc["dp"] is True and doc["data_derived"] is False
    edges = parse_bins("edges:0,18,30:open:ctdc")
    assert describe(edges, bin_edges(data, edges)) == {
        "kind": "edges",
        "edges": [0, 18, 30],
        "labels": "ctdc",
        "open": True,
        "data_derived": False,
    }
    assert describe(parse_bins("width:10"), (0, 10))["data_derived"] is True
    assert describe(parse_bins("width:10:0..99"), (0, 10))["data_derived"] is False
