"""Case data as it is kept: multi-value cells, several rows per subject, a linked perpetrators table.

Every result is checked against a plain reference built with pandas: split
the cells, group by subject, merge the linked table, then count.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from math import comb

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings

from showcase.engine import (
    DifferentialPrivacy,
    Exact,
    InputError,
    KAnonymity,
    Link,
    ParameterError,
    Preparation,
    aggregate,
    combinations_per_record,
    run,
)
from showcase.engine.aggregates_io import read_aggregates
from showcase.engine.prepare import load_input

from .helpers import run as cli


def labelled(aggregates) -> dict[tuple[str, ...], int]:
    """Aggregates → {("COL:value", ...): count}, multi-value attributes under their column's name."""
    schema = aggregates.schema
    values = schema.attribute_values().to_pylist()
    groups = [schema.groups[c] for c in schema.attribute_columns]
    return {
        tuple(sorted(f"{groups[a]}:{values[a]}" for a in row[: int(n)])): int(c)
        for row, n, c in zip(aggregates.attrs, aggregates.length, aggregates.count)
    }


def subject_sets(frame: pd.DataFrame, subject: str, multi: dict[str, str]) -> list[set[str]]:
    """The reference: per subject (in first-row order), the set of its ``COL:value`` attributes."""
    sets: dict[str, set[str]] = {}
    for row in frame.to_dict("records"):
        mine = sets.setdefault(row[subject], set())
        for name, cell in row.items():
            if name == subject or cell is None or cell == "":
                continue
            parts = cell.split(multi[name]) if name in multi else [cell]
            mine |= {f"{name}:{part.strip()}" for part in parts if part.strip()}
    return list(sets.values())


def reference_counts(sets: list[set[str]], length: int) -> Counter:
    counts: Counter = Counter()
    for attributes in sets:
        for k in range(1, length + 1):
            counts.update(tuple(sorted(c)) for c in itertools.combinations(sorted(attributes), k))
    return counts


CASES = pd.DataFrame(
    {
        "vid": ["v1", "v2", "v1", "v3", "v2", "v4"],
        "sex": ["F", "M", "F", "M", "M", ""],
        "exploitation": ["labour;sexual", "labour", "sexual", "", "begging ; labour", "labour"],
        "region": ["north", "south", "east", "south", "south", "north"],
    }
)
PERPETRATORS = pd.DataFrame(
    {
        "vid": ["v1", "v1", "v2", "v3", "v3", "v3", "v1"],
        "gender": ["M", "F", "M", "M", "", "M", "M"],
        "role": ["recruiter", "exploiter;recruiter", "", "transporter", "recruiter", "", "exploiter"],
    }
)


def test_multi_value_cells_split_into_attributes_and_join_back(tmp_path):
    table = pa.Table.from_pandas(CASES.drop(columns="vid"), preserve_index=False)
    prep = Preparation(multi_value={"exploitation": ";"})
    loaded = load_input(table, prep)
    assert loaded.table.schema.columns == (
        "sex", "exploitation:begging", "exploitation:labour", "exploitation:sexual", "region",
    )  # fmt: skip
    result = run(table, protection=KAnonymity(1), preparation=prep, length=2, out=tmp_path / "r", seed=1)
    assert result.synthesis.synthetic.n_rows == 6
    written = pd.read_csv(tmp_path / "r" / "synthetic.csv", dtype=str, keep_default_na=False)
    assert list(written.columns) == ["sex", "exploitation", "region"]
    # row_seeded with k=1 reproduces the records: the cells come back as sets of the same values
    got = Counter(frozenset(c.split(";")) - {""} for c in written["exploitation"])
    want = Counter(frozenset(p.strip() for p in c.split(";")) - {""} for c in CASES["exploitation"])
    assert got == want


def test_per_subject_counts_equal_a_groupby_reference(tmp_path):
    table = pa.Table.from_pandas(CASES, preserve_index=False)
    prep = Preparation(subject_id="vid", multi_value={"exploitation": ";"})
    result = aggregate(table, protection=Exact(), preparation=prep, length=3, out=tmp_path / "a")
    sets = subject_sets(CASES, "vid", {"exploitation": ";", "region": "\0"})
    assert labelled(result.released) == reference_counts(sets, 3)
    assert result.released.record_count == 4  # subjects, not rows
    loaded = load_input(table, prep)
    assert loaded.changes["became_multi_value"] == {"region": 1}  # v1 was seen north and east
    meta = json.loads((tmp_path / "a" / "metadata.json").read_text())
    assert meta["aggregates"]["multi_value"] == [["exploitation", ";"], ["region", ";"]]


def test_conflicting_values_are_refused_when_strict_and_under_dp(tmp_path):
    table = pa.Table.from_pandas(CASES, preserve_index=False)
    with pytest.raises(InputError, match=r"column\(s\) 'region' hold different values"):
        load_input(table, Preparation(subject_id="vid", multi_value={"exploitation": ";"}, strict=True))
    spec = DifferentialPrivacy(1.0, ledger=tmp_path / "l.sqlite")
    with pytest.raises(InputError, match="'region'") as error:
        aggregate(table, protection=spec, length=2, out=tmp_path / "dp",
                  preparation=Preparation(subject_id="vid", multi_value={"exploitation": ";"}))  # fmt: skip
    assert "north" not in str(error.value) and not (tmp_path / "dp").exists()


def test_dp_sensitivity_is_per_subject(tmp_path):
    """The combinations a subject contributes (what DP bounds) are those of the union of its rows."""
    table = pa.Table.from_pandas(CASES, preserve_index=False)
    prep = Preparation(subject_id="vid", multi_value={"exploitation": ";", "region": ";"})
    merged = load_input(table, prep).table
    sets = subject_sets(CASES, "vid", {"exploitation": ";", "region": ";"})
    for length in (1, 2, 3):
        assert combinations_per_record(merged, length).tolist() == [comb(len(s), length) for s in sets]


def linked_reference(victims: pd.DataFrame, perps: pd.DataFrame, multi: dict[str, str]) -> list[set[str]]:
    """The pandas reference of a linked release: victims merged with their perpetrators' attributes."""
    sets = subject_sets(victims, "vid", {})
    order = list(dict.fromkeys(victims["vid"]))
    merged = victims[["vid"]].drop_duplicates().merge(perps, on="vid", how="left")
    for row in merged.to_dict("records"):
        mine = sets[order.index(row["vid"])]
        for name, cell in row.items():
            if name == "vid" or not isinstance(cell, str) or not cell:
                continue
            parts = cell.split(multi[name]) if name in multi else [cell]
            mine |= {f"perp_{name}:{part.strip()}" for part in parts if part.strip()}
    counts = perps["vid"].value_counts()
    for vid, mine in zip(order, sets):
        n = int(counts.get(vid, 0))
        mine.add("perp_count:" + {0: "none", 1: "1", 2: "2", 3: "3"}.get(n, "4-5" if n <= 5 else "6+"))
    return sets


def test_a_linked_table_joins_as_a_pandas_merge(tmp_path):
    victims = CASES[["vid", "sex"]]
    perps_path = tmp_path / "perps.csv"
    PERPETRATORS.to_csv(perps_path, index=False)
    prep = Preparation(links=[Link(perps_path, on="vid", multi_value=[("role", ";")])])
    table = pa.Table.from_pandas(victims, preserve_index=False)
    result = aggregate(table, protection=Exact(), preparation=prep, length=3, out=tmp_path / "a")
    assert labelled(result.released) == reference_counts(
        linked_reference(victims, PERPETRATORS, {"role": ";"}), 3
    )
    assert prep.subject_id == "vid"  # the link key is the subject


def test_max_linked_keeps_at_most_p_rows_per_subject_chosen_at_random():
    victims = pa.table({"vid": [f"v{i}" for i in range(50)], "sex": ["F", "M"] * 25})
    perps = pd.DataFrame({"vid": [f"v{i % 50}" for i in range(400)], "n": [str(i) for i in range(400)]})
    seen = set()
    for seed in range(3):
        path = f"/tmp/showcase-test-perps-{seed}.csv"
        perps.to_csv(path, index=False)
        loaded = load_input(victims, Preparation(links=[Link(path, on="vid", max_linked=3)]), seed=seed)
        schema, codes = loaded.table.schema, loaded.table.codes
        kept = [c for c, name in enumerate(schema.columns) if name.startswith("perp_n:")]
        per_victim = (codes[kept] > 0).sum(axis=0)
        assert per_victim.max() == 3 and loaded.changes["linked_rows_dropped"]["perp_"] == 400 - 150
        seen.add(tuple(schema.columns[c] for c in kept))
        # The band counts every linked row (8 each), not the 3 kept: the cap must not hide how many.
        band = schema.columns.index("perp_count")
        labels = schema.dictionaries[band].to_pylist()
        assert {labels[code - 1] for code in codes[band]} == {"6+"}
    assert len(seen) > 1  # which rows stay is random


def test_a_dp_linked_release_bounds_linked_rows_and_says_so(tmp_path):
    victims = pa.table({"vid": [f"v{i}" for i in range(200)], "sex": ["F", "M"] * 100})
    perps = pd.DataFrame({"vid": [f"v{i % 200}" for i in range(1400)], "g": ["M", "F"] * 700})
    perps.to_csv(tmp_path / "p.csv", index=False)
    spec = DifferentialPrivacy(5.0, ledger=tmp_path / "l.sqlite")
    prep = Preparation(links=[Link(tmp_path / "p.csv", on="vid")])
    run(victims, protection=spec, preparation=prep, length=2, out=tmp_path / "r", seed=3)
    meta = json.loads((tmp_path / "r" / "metadata.json").read_text())
    assert meta["preparation"]["links"][0]["max_linked"] == 5
    header = (tmp_path / "r" / "synthetic.csv").read_text().splitlines()[0]
    assert header == "sex,perp_g,perp_count"


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 5), min_size=3, max_size=25),
    seed=st.integers(0, 2**16),
    k=st.integers(2, 4),
)
def test_k_anonymity_holds_per_subject(tmp_path_factory, sizes, seed, k):
    """Every released count is ≥ k subjects and equals the reference count of subjects."""
    rng = np.random.default_rng(seed)
    vid = np.repeat([f"s{i}" for i in range(len(sizes))], sizes)
    frame = pd.DataFrame({
        "vid": vid,
        "a": rng.choice(["x", "y", ""], len(vid)),
        "b": [";".join(rng.choice(["p", "q", "r"], rng.integers(0, 3), replace=False)) for _ in vid],
    })  # fmt: skip
    table = pa.Table.from_pandas(frame, preserve_index=False)
    prep = Preparation(subject_id="vid", multi_value={"b": ";", "a": ";"})
    out = tmp_path_factory.mktemp("k") / "a"
    length = min(2, load_input(table, prep).table.n_columns)  # values may be too few for two columns
    released = aggregate(table, protection=KAnonymity(k), preparation=prep, length=length, out=out).released
    released = labelled(released)
    reference = reference_counts(subject_sets(frame, "vid", {"a": ";", "b": ";"}), length)
    assert all(count >= k for count in released.values())
    for combination, count in released.items():
        assert count == reference[combination] // k * k
    assert set(released) == {c for c, n in reference.items() if n >= k}


def test_aggregates_with_multi_value_columns_read_back(tmp_path):
    table = pa.Table.from_pandas(CASES, preserve_index=False)
    prep = Preparation(subject_id="vid", multi_value={"exploitation": ";", "region": ";"})
    result = aggregate(table, protection=Exact(), preparation=prep, length=2, out=tmp_path / "a")
    for name in ("sensitive_aggregates.parquet", "sensitive_aggregates.tsv"):
        back, _ = read_aggregates(tmp_path / "a" / name)
        assert back.schema.multi_value == (("exploitation", ";"), ("region", ";"))
        assert labelled(back) == labelled(result.released)


def test_bad_linked_inputs_are_one_line_errors(tmp_path, capsys):
    victims = tmp_path / "v.csv"
    CASES.to_csv(victims, index=False)
    orphans = tmp_path / "orphans.csv"
    pd.DataFrame({"vid": ["v1", "nobody"], "g": ["M", "F"]}).to_csv(orphans, index=False)
    keyless = tmp_path / "keyless.csv"
    pd.DataFrame({"victim": ["v1"], "g": ["M"]}).to_csv(keyless, index=False)
    blank = tmp_path / "blank.csv"
    pd.DataFrame({"vid": ["v1", "", "  "], "g": ["M", "F", "F"]}).to_csv(blank, index=False)
    strangers = tmp_path / "strangers.csv"
    pd.DataFrame({"vid": ["V1", "nobody"], "g": ["M", "F"]}).to_csv(strangers, index=False)
    cases = [
        (["--link", orphans, "--on", "vid"], "1 row(s) whose 'vid' matches no row of the input (check"),
        (["--link", strangers, "--on", "vid"], "2 row(s) whose 'vid' matches no row of the input (none"),
        (["--link", blank, "--on", "vid"], "2 row(s) with an empty 'vid'"),
        (["--link", keyless, "--on", "vid"], "no key column 'vid'"),
        (["--link", orphans], "--link needs --on KEY"),
        (["--link", keyless, "--on", "victim"], "or with --link its --on key); the input has vid"),
        (["--multi-value", "nothere"], "unknown multi-value column(s) 'nothere'"),
        (["--max-linked", "3"], "--max-linked: used with --link only"),
    ]
    for options, message in cases:
        out = tmp_path / "out"
        code, _, stderr = cli(capsys, "aggregate", victims, "--multi-value", "exploitation", *options,
                              "-o", out, "--no-progress")  # fmt: skip
        assert code == 2 and message in stderr and stderr.count("\n") == 1, (options, stderr)
        assert "nobody" not in stderr and not out.exists()


def test_the_command_line_releases_linked_case_data(tmp_path, capsys):
    victims, perps = tmp_path / "victims.csv", tmp_path / "perps.csv"
    CASES.to_csv(victims, index=False)
    PERPETRATORS.to_csv(perps, index=False)
    out = tmp_path / "release"
    code, stdout, stderr = cli(
        capsys, "run", victims, "--subject-id", "vid", "--multi-value", "exploitation", "--multi-value",
        "role", "--link", perps, "-k", "1", "-l", "2", "-o", out, "--seed", "2", "--no-progress",
    )  # fmt: skip
    assert code == 0, stderr
    header = (out / "synthetic.csv").read_text().splitlines()[0].split(",")
    assert header == ["sex", "exploitation", "region", "perp_gender", "perp_role", "perp_count"]
    assert "region" in stdout + stderr  # the summary names the column that became multi-value


def test_a_multi_value_delimiter_that_never_occurs_is_reported():
    table = pa.table({"a": ["x", "y", "x"], "b": ["1", "2", "3"]})
    loaded = load_input(table, Preparation(multi_value={"a": "|"}))
    assert loaded.changes["delimiter_never_found"] == ["a"]
    with pytest.raises(ParameterError, match="delimiter"):
        Preparation(multi_value={"a": ""})


AGES = pd.DataFrame({"vid": [f"v{i}" for i in range(12)],
                     "age": ["3", "17", "18", "20", "21", "35", "", "64", "18", "99", "-9", "40"],
                     "sex": ["F", "M"] * 6})  # fmt: skip


def test_binned_counts_equal_a_pandas_cut_reference(tmp_path):
    table = pa.Table.from_pandas(AGES.drop(columns="vid"), preserve_index=False)
    prep = Preparation(bins={"age": "edges:0,18,21,65:open"}, null_markers=("-9",))
    result = aggregate(table, protection=Exact(), preparation=prep, length=2, out=tmp_path / "a")
    ages = pd.to_numeric(AGES["age"].replace({"": None, "-9": None}))
    bands = pd.cut(
        ages, [-np.inf, 0, 18, 21, 65, np.inf], right=False, labels=["<0", "0-17", "18-20", "21-64", "65+"]
    )
    frame = pd.DataFrame({"age": [str(b) if isinstance(b, str) else "" for b in bands.astype(object)],
                          "sex": AGES["sex"], "id": range(12)})  # fmt: skip
    assert labelled(result.released) == reference_counts(subject_sets(frame, "id", {}), 2)


def test_bins_that_do_not_cover_the_data_are_one_line_errors(tmp_path, capsys):
    data = tmp_path / "ages.csv"
    AGES.to_csv(data, index=False)
    out = tmp_path / "o"
    code, _, stderr = cli(capsys, "aggregate", data, "--bin", "age=edges:0,18,65", "-o", out, "--no-progress")
    assert code == 2 and "value(s) fall outside the bins" in stderr and stderr.count("\n") == 1
    assert "99" not in stderr and not out.exists()


def test_dp_quantile_bins_are_charged_to_the_budget_and_stay_in_the_public_range(tmp_path):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"age": rng.integers(0, 90, 3000).astype(str), "sex": rng.choice(["F", "M"], 3000)})
    spec = DifferentialPrivacy(2.0, ledger=tmp_path / "l.sqlite")
    prep = Preparation(bins={"age": "quantiles:4:0..89"})
    result = aggregate(pa.Table.from_pandas(frame), protection=spec, preparation=prep, length=2,
                       out=tmp_path / "a", seed=9)  # fmt: skip
    privacy = result.privacy
    assert privacy["epsilon"] == 2.0 and privacy["binning_epsilon"] == pytest.approx(0.1)
    # The counts got the rest; what was spent counts both (it had left the edges' 0.1 out).
    assert privacy["epsilon_spent"] == pytest.approx(2.0)
    edges = privacy["binning_edges"]["age"]
    assert edges[0] == 0 and edges[-1] == 90 and all(0 <= e <= 90 for e in edges)
    assert all(abs(e - q) < 10 for e, q in zip(edges[1:-1], (22, 45, 67)))  # near the true quartiles
    assert "quantile bin edges" in privacy["guarantee"]


def test_a_linked_tables_numeric_column_is_binned_too(tmp_path):
    perps = pd.DataFrame({"vid": ["v1", "v1", "v2"], "age": ["19", "44", "30"]})
    perps.to_csv(tmp_path / "p.csv", index=False)
    victims = pa.table({"vid": ["v1", "v2"], "sex": ["F", "M"]})
    prep = Preparation(links=[Link(tmp_path / "p.csv", on="vid")], bins={"age": "width:10"})
    columns = load_input(victims, prep).table.schema.columns
    assert columns == ("sex", "perp_age:10-19", "perp_age:30-39", "perp_age:40-49", "perp_count")


def record_sets(table) -> Counter:
    """The records of an encoded table as a multiset of ``COL:value`` label sets."""
    schema = table.schema
    values = [d.cast(pa.string()).to_pylist() for d in schema.dictionaries]
    records = Counter()
    for r in range(table.n_rows):
        labels = [f"{schema.groups[c]}:{values[c][v - 1]}" for c, v in enumerate(table.codes[:, r]) if v]
        records[frozenset(labels)] += 1
    return records


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=15), seed=st.integers(0, 2**16), data=st.data())
def test_dp_sees_neighbouring_records_when_one_subject_goes(sizes, seed, data):
    """Removing every row of one subject removes exactly one record and changes no other.

    So the record-level DP guarantee of the mechanism (tested in test_dp_privacy)
    is a guarantee per subject, whatever the number of rows a subject has.
    """
    rng = np.random.default_rng(seed)
    vid = np.repeat([f"s{i}" for i in range(len(sizes))], sizes)
    frame = pd.DataFrame({
        "vid": vid,
        "a": rng.choice(["x", "y", ""], len(vid)),
        "b": [";".join(rng.choice(["p", "q", "r"], rng.integers(0, 3), replace=False)) for _ in vid],
    })  # fmt: skip
    prep = Preparation(subject_id="vid", multi_value={"a": ";", "b": ";"}, strict=True)
    gone = data.draw(st.integers(0, len(sizes) - 1))
    full = load_input(pa.Table.from_pandas(frame, preserve_index=False), prep, dp=True).table
    rest = frame[frame["vid"] != f"s{gone}"]  # read as a DP release reads it: never refused for its content
    without = load_input(pa.Table.from_pandas(rest, preserve_index=False), prep, dp=True).table
    assert full.n_rows == len(sizes) and without.n_rows == len(sizes) - 1
    removed = record_sets(full) - record_sets(without)
    assert sum(removed.values()) == 1 and record_sets(without) <= record_sets(full)
    assert set(removed) == {
        frozenset(subject_sets(frame[frame["vid"] == f"s{gone}"], "vid", {"a": ";", "b": ";"})[0])
    }


@settings(max_examples=60, deadline=None)
@given(
    cells=st.lists(st.sets(st.sampled_from(["a", "b c", "d-e", "ü", "0", "x,y"]), max_size=4), min_size=1,
                   max_size=30).filter(any),
    delimiter=st.sampled_from([";", "|", " / "]),
)  # fmt: skip
def test_multi_value_cells_split_and_join_back_to_the_same_sets(cells, delimiter):
    """(A column with no value at all has no attribute, and so no column in the files.)"""
    from showcase.engine.encode import decode
    from showcase.engine.multivalue import output_columns

    text = [delimiter.join(sorted(cell)) for cell in cells]
    table = pa.table({"m": pa.array(text, pa.string()), "other": pa.array(["k"] * len(text), pa.string())})
    loaded = load_input(table, Preparation(multi_value={"m": delimiter}, sensitive_zeros=["m"]))
    decoded = decode(loaded.table)
    names, columns = output_columns(loaded.table.schema, [c.cast(pa.string()) for c in decoded.columns])
    assert names == ["m", "other"]
    back = [set(cell.split(delimiter)) if cell else set() for cell in columns[0].to_pylist()]
    assert back == [set(cell) for cell in cells]


def test_flagged_multi_value_files_read_back_as_the_joined_ones(tmp_path):
    """--flag-multi-value writes one 0/1 column per value; evaluation reads either form the same."""
    from showcase.engine import evaluate

    table = pa.Table.from_pandas(CASES, preserve_index=False)
    prep = Preparation(subject_id="vid", multi_value={"exploitation": ";", "region": ";"})
    metrics = []
    for join in (True, False):
        out = tmp_path / f"r{join}"
        run(
            table,
            protection=KAnonymity(1),
            preparation=prep,
            length=2,
            out=out,
            seed=4,
            join_multi_value=join,
        )
        header = (out / "synthetic.csv").read_text().splitlines()[0].split(",")
        if join:
            assert header == ["sex", "exploitation", "region"]
        else:
            assert header[:4] == ["sex", "exploitation:begging", "exploitation:labour", "exploitation:sexual"]
            assert set(pd.read_csv(out / "synthetic.csv", dtype=str)["exploitation:labour"].dropna()) == {"1"}
        document = evaluate(
            table, out / "synthetic.csv", preparation=prep, length=2, resolution=1, out=tmp_path / f"e{join}"
        )
        metrics.append(
            {key: document[key] for key in ("overall", "by_length", "k_marginal", "release_records")}
        )
    assert metrics[0] == metrics[1]


@pytest.mark.parametrize("prefix", ["", "perp_"])
def test_a_linked_column_named_like_an_input_column_is_refused(tmp_path, capsys, prefix):
    """Linked columns become multi-value: a clash shows in their names, not in their indicator columns."""
    victims = tmp_path / "v.csv"
    CASES.assign(gender=CASES["sex"], perp_gender=CASES["sex"]).to_csv(victims, index=False)
    perps = tmp_path / "p.csv"
    PERPETRATORS.to_csv(perps, index=False)
    out = tmp_path / "out"
    code, _, stderr = cli(capsys, "aggregate", victims, "--subject-id", "vid", "--link", perps,
                          "--link-prefix", prefix, "-o", out, "--no-progress")  # fmt: skip
    assert code == 2 and stderr.count("\n") == 1, stderr
    assert f"'{prefix}gender'" in stderr
    assert "give the linked table another prefix" in stderr and not out.exists()


def test_a_csv_codebook_leaves_a_linked_tables_values_to_the_data(tmp_path):
    """A ``column,value`` codebook lists the input's own columns: a value seen once in a linked
    table must still pass DP's selection, and the count of candidate values stays unpublished."""
    rng = np.random.default_rng(2)
    vids = [f"v{i}" for i in range(400)]
    pd.DataFrame({"vid": vids, "sex": rng.choice(["F", "M"], 400)}).to_csv(tmp_path / "v.csv", index=False)
    perps = pd.DataFrame({"vid": vids, "relation": rng.choice(["partner", "family"], 400)})
    perps = pd.concat([perps, pd.DataFrame({"vid": ["v0"], "relation": ["landlord"]})])
    perps.to_csv(tmp_path / "p.csv", index=False)
    (tmp_path / "codebook.csv").write_text("column,value\nsex,F\nsex,M\n")
    own = Preparation(subject_id="vid", codebook=tmp_path / "codebook.csv")
    linked = Preparation(
        subject_id="vid", codebook=tmp_path / "codebook.csv", links=[Link(tmp_path / "p.csv", on="vid")]
    )
    assert load_input(tmp_path / "v.csv", own).public_domain
    assert not load_input(tmp_path / "v.csv", linked).public_domain
    for seed in range(5):
        spec = DifferentialPrivacy(20.0, ledger=tmp_path / "l.sqlite")
        result = aggregate(tmp_path / "v.csv", protection=spec, preparation=linked, length=1,
                           out=tmp_path / f"r{seed}", seed=seed)  # fmt: skip
        released = labelled(read_aggregates(tmp_path / f"r{seed}" / "aggregates.parquet")[0])
        assert ("perp_relation:landlord",) not in released and ("perp_relation:partner",) in released
        assert result.privacy["candidates_by_length"] == [None]


@pytest.mark.parametrize("protection", [["-k", "1"], ["--dp", "--epsilon", "4", "--ledger", "LEDGER"]])
def test_preparation_notes_give_counts_only_outside_dp(tmp_path, capsys, protection):
    """Under DP the console gets no exact statistic of the input: not the rows, subjects or linked rows."""
    victims, perps = tmp_path / "victims.csv", tmp_path / "perps.csv"
    CASES.to_csv(victims, index=False)
    PERPETRATORS.to_csv(perps, index=False)
    protection = [str(tmp_path / "l.sqlite") if p == "LEDGER" else p for p in protection]
    code, _, stderr = cli(
        capsys, "aggregate", victims, "--subject-id", "vid", "--link", perps, "--max-linked", "1",
        "--multi-value", "exploitation", "--multi-value", "region", *protection,
        "-l", "1", "-o", tmp_path / "out", "--no-progress",
    )  # fmt: skip
    assert code == 0, stderr
    notes = [line for line in stderr.splitlines() if line.startswith("Note:") and "ledger" not in line]
    rows, subjects = len(CASES), CASES["vid"].nunique()
    assert any("merged" in n for n in notes) and any("linked" in n for n in notes), notes
    exact = f"merged {rows:,} rows into {subjects:,} subjects"
    assert (exact in stderr) == ("--dp" not in protection), stderr
    if "--dp" in protection:
        assert not any(ch.isdigit() for note in notes for ch in note), notes


def test_the_linked_row_cap_holds_under_dp(tmp_path):
    """Under DP a victim's linked rows are capped (default 5) before counting: the bound on what
    one subject adds. The cap's metadata alone said so; here the records are read."""
    vids = [f"v{i}" for i in range(100)]
    pd.DataFrame({"vid": vids, "sex": ["F", "M"] * 50}).to_csv(tmp_path / "v.csv", index=False)
    perps = pd.DataFrame({"vid": np.repeat(vids, 8), "role": [f"r{j}" for j in range(8)] * 100})
    perps.to_csv(tmp_path / "p.csv", index=False)
    capped = Preparation(links=[Link(tmp_path / "p.csv", on="vid", max_linked=2)], strict=True)
    loaded = load_input(tmp_path / "v.csv", capped, seed=1, dp=True)
    schema = loaded.table.schema
    roles = [c for c, name in enumerate(schema.columns) if name.startswith("perp_role:")]
    held = (loaded.table.codes[roles] > 0).sum(axis=0)
    assert held.max() == 2 and loaded.changes["linked_rows_dropped"] == {"perp_": 600}
    counts = loaded.table.codes[schema.columns.index("perp_count")]
    assert set(schema.dictionaries[schema.columns.index("perp_count")].to_pylist()) == {"6+"} and counts.all()
    # The job's default under DP is 5 rows.
    spec = DifferentialPrivacy(4.0, ledger=tmp_path / "l.sqlite")
    prep = Preparation(links=[Link(tmp_path / "p.csv", on="vid")], strict=True)
    result = aggregate(
        tmp_path / "v.csv", protection=spec, preparation=prep, length=1, out=tmp_path / "o", seed=1
    )
    assert result.prepared["linked_rows_dropped"] == {"perp_": 300}


def test_a_linked_column_is_multi_value_whatever_the_data(tmp_path):
    """A linked column's values are indicator columns even when no subject has two of them: the
    release's structure must not depend on whether one subject has a second perpetrator."""
    pd.DataFrame({"vid": ["a", "b", "c"], "g": ["M", "F", "M"]}).to_csv(tmp_path / "p.csv", index=False)
    victims = pa.table({"vid": ["a", "b", "c"], "sex": ["F", "M", "F"]})
    schema = load_input(victims, Preparation(links=[Link(tmp_path / "p.csv", on="vid")])).table.schema
    assert schema.columns == ("sex", "perp_g:F", "perp_g:M", "perp_count")
