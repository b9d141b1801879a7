"""Declared constraints (impossible combinations): the codebook syntax, the kernels, every synthesis mode.

The guarantee is a property: whatever the table and the constraints, no
synthetic record of any mode holds every value of a declared constraint, and
each mode keeps its own guarantee (k-anonymity, presence in the aggregates).
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from showcase.engine import encode
from showcase.engine.codebook import read_codebook_file
from showcase.engine.constraints import Constraint, enforce, from_list, to_list, violations
from showcase.engine.constraints import encode as encode_rules
from showcase.engine.count import count_combinations
from showcase.engine.dp.adaptive import adaptive_aggregate
from showcase.engine.dp.adaptive_options import AdaptiveOptions
from showcase.engine.dp.noise import RandomSource
from showcase.engine.encode import EncodedTable
from showcase.engine.errors import InputError, ParameterError
from showcase.engine.kernels.constraints import violates_with
from showcase.engine.kernels.row_synthesis import Rule, row_seeded_records
from showcase.engine.protect import k_anonymize
from showcase.engine.randomness import stream_seeds
from showcase.engine.synthesize import synthesize
from showcase.engine.synthesize.aggregate_seeded import aggregate_seeded
from showcase.engine.synthesize.consolidate import PARTITION_SIZE, support_index
from showcase.engine.synthesize.fitted import fitted
from showcase.engine.synthesize.pairwise import pairwise
from showcase.engine.synthesize.row_seeded import first_pass
from showcase.engine.synthesize.tree import tree

from . import naive_synthesis as naive

# --- a slow reference --------------------------------------------------------------------------


def record_values(table) -> list[dict]:
    """Each record as {column: value spelling}, without the columns it has no attribute for."""
    values = [d.cast(pa.string()).to_pylist() for d in table.schema.dictionaries]
    rows = []
    for column in table.codes.T:
        rows.append({table.schema.columns[c]: values[c][v - 1] for c, v in enumerate(column.tolist()) if v})
    return rows


def naive_violates(row: dict, constraints) -> bool:
    return any(all(row.get(col) in vals for col, vals in c.columns) for c in constraints)


# --- strategies ---------------------------------------------------------------------------------


@st.composite
def tables(draw, max_rows=150):
    """Small skewed categorical tables with missing cells (values v0, v1, ...; v0 the most frequent)."""
    n_cols = draw(st.integers(2, 5))
    n_rows = draw(st.integers(20, max_rows))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    columns = {}
    for i in range(n_cols):
        n_values = draw(st.integers(1, 4))
        cells = [""] + [f"v{j}" for j in range(n_values)]
        p = np.array([0.3] + [2.0 / (j + 1) for j in range(n_values)])
        columns[f"c{i}"] = [cells[j] for j in rng.choice(len(cells), size=n_rows, p=p / p.sum())]
    return pa.table(columns)


@st.composite
def constraint_lists(draw, names, max_constraints=3):
    """Constraints over ``names``: 2-3 columns each, each with 1-2 of the values v0..v3."""
    found = []
    for _ in range(draw(st.integers(1, max_constraints))):
        columns = draw(st.lists(st.sampled_from(names), min_size=2, max_size=3, unique=True))
        entry = tuple(
            (
                c,
                tuple(
                    draw(
                        st.lists(
                            st.sampled_from(["v0", "v1", "v2", "v3"]), min_size=1, max_size=2, unique=True
                        )
                    )
                ),
            )  # fmt: skip
            for c in columns
        )
        found.append(Constraint(entry))
    return tuple(found)


@st.composite
def cases(draw):
    data = draw(tables())
    return data, draw(constraint_lists(data.column_names))


def assert_none_violate(out, constraints):
    rows = record_values(out)
    bad = [i for i, row in enumerate(rows) if naive_violates(row, constraints)]
    assert bad == [], f"{len(bad)} records violate a declared constraint"
    assert not violations(out, constraints).any()


def sub_combinations_present(aggregates, out, length):
    """Whether every combination of length <= L of every record of ``out`` is in ``aggregates``."""
    present = {
        frozenset(map(int, row[:n])) for row, n in zip(aggregates.attrs, aggregates.length, strict=True)
    }
    offsets = out.schema.offsets
    for column in out.codes.T:
        ids = [int(offsets[c] + v - 1) for c, v in enumerate(column.tolist()) if v]
        for n in range(1, min(length, len(ids)) + 1):
            for combo in itertools.combinations(ids, n):
                if frozenset(combo) not in present:
                    return False
    return True


# --- the kernels against the reference ------------------------------------------------------------


@given(cases(), st.integers(0, 2**32 - 1))
def test_kernel_checks_match_the_reference(case, seed):
    data, constraints = case
    table = encode(data)
    rows = record_values(table)
    expected = [naive_violates(row, constraints) for row in rows]
    assert violations(table, constraints).tolist() == expected
    # violates_with: set one column of a record to another value, on a record with some columns cleared.
    rules = encode_rules(constraints, table.schema)
    rng = np.random.default_rng(seed)
    values = [d.cast(pa.string()).to_pylist() for d in table.schema.dictionaries]
    for r in rng.choice(table.n_rows, size=min(20, table.n_rows), replace=False):
        record = table.codes[:, r].copy()
        record[rng.random(len(record)) < 0.3] = 0
        c = int(rng.integers(0, len(record)))
        v = int(rng.integers(0, len(values[c]) + 1))
        changed = record.copy()
        changed[c] = v
        row = {table.schema.columns[j]: values[j][x - 1] for j, x in enumerate(changed.tolist()) if x}
        on_c = [k for k in constraints if table.schema.columns[c] in dict(k.columns)]
        assert violates_with(record, c, v, rules) == naive_violates(row, on_c)


@given(cases())
def test_enforce_keeps_a_subset_of_every_record_and_leaves_no_violation(case):
    data, constraints = case
    table = encode(data)
    before = table.codes.copy()
    changed = enforce(table, constraints)
    assert not violations(table, constraints).any()
    kept = (table.codes == before) | (table.codes == 0)
    assert kept.all()
    assert changed == int((table.codes != before).any(axis=0).sum())


# --- every synthesis mode -----------------------------------------------------------------------


@settings(max_examples=25)
@given(cases(), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_no_mode_emits_a_declared_impossible_combination(case, k, seed):
    data, constraints = case
    table = encode(data)
    length = 3
    aggregates = k_anonymize(count_combinations(table, length), k)
    for mode in ("row_seeded", "unseeded", "value_seeded"):
        out = synthesize(mode, table, rng=np.random.default_rng(seed), resolution=k, constraints=constraints)
        assert_none_violate(out, constraints)
        assert naive.rare_records(table.codes, out.codes, k) == []  # k-anonymity kept
        if mode == "row_seeded":  # exact protected attribute counts: the attributes were refused, not blanked
            assert naive.attribute_counts(out.codes) == Counter(naive.protected_counts(table.codes, k))
    out = synthesize("aggregate_seeded", aggregates, rng=np.random.default_rng(seed), constraints=constraints)
    assert_none_violate(out, constraints)
    assert sub_combinations_present(aggregates, out, length)
    if (aggregates.length == 2).any():
        for mode in ("tree", "pairwise"):
            out = synthesize(mode, aggregates, rng=np.random.default_rng(seed), constraints=constraints)
            assert_none_violate(out, constraints)


@settings(max_examples=25)
@given(cases(), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_row_seeded_refuses_attributes_as_it_grows(case, k, seed):
    """The grouped first pass refuses the same attributes as the plain pass, and no record violates."""
    data, constraints = case
    table = encode(data)
    index = support_index(table, k)
    seeds = stream_seeds(np.random.default_rng(seed), -(-table.n_rows // PARTITION_SIZE))
    rules = encode_rules(constraints, table.schema)
    rule = Rule(k, index.exit_hits, index.list_max)
    plain = row_seeded_records(index.arrays, rule, seeds, PARTITION_SIZE, 1, rules)
    assert not violations(EncodedTable(table.schema, plain), constraints).any()
    for split_cost in (0, 4000):
        assert np.array_equal(first_pass(table, index, k, seeds, split_cost=split_cost, rules=rules), plain)


@settings(max_examples=25)
@given(cases(), st.integers(0, 2**32 - 1))
def test_growing_modes_avoid_violations_themselves(case, seed):
    """The aggregate-fed samplers choose around the constraints: no record is left to repair."""
    data, constraints = case
    table = encode(data)
    aggregates = count_combinations(table, 3)
    out = aggregate_seeded(aggregates, rng=np.random.default_rng(seed), constraints=constraints)
    assert_none_violate(out, constraints)
    assert sub_combinations_present(aggregates, out, 3)
    if (aggregates.length == 2).any():
        for mode in (tree, pairwise):
            assert_none_violate(mode(aggregates, rng=np.random.default_rng(seed), constraints=constraints),
                                constraints)  # fmt: skip


@settings(max_examples=10)
@given(cases(), st.sampled_from(["mst", "aim"]), st.integers(0, 2**16))
def test_fitted_records_never_violate(case, algorithm, seed):
    data, constraints = case
    table = encode(data)
    options = AdaptiveOptions(algorithm=algorithm, length=2, rounds=3)
    aggregates, _, measurements = adaptive_aggregate(
        table, epsilon=4.0, delta=1e-6, options=options, source=RandomSource(seed), seed=seed
    )
    assume(measurements.record_count >= 1)  # the noisy count of a small table may be 0
    out = fitted(aggregates, rng=np.random.default_rng(seed), constraints=constraints)
    assert out.n_rows == measurements.record_count
    assert_none_violate(out, constraints)


def test_married_children_are_redrawn_not_dropped():
    """Tree synthesis on a table where the constraint bites: records stay complete and follow the data."""
    rng = np.random.default_rng(5)
    n = 4000
    age = rng.choice(["child", "adult"], size=n, p=[0.3, 0.7])
    married = np.where(age == "child", "never", rng.choice(["never", "married"], size=n))
    married[:40] = "married"  # a few impossible records in the data itself
    table = encode(pa.table({"age": age.tolist(), "marital": married.tolist()}))
    child = Constraint((("age", ("child",)), ("marital", ("married",))), name="married child")
    aggregates = count_combinations(table, 2)
    plain = tree(aggregates, rng=np.random.default_rng(1))
    assert violations(plain, [child]).sum() > 0  # without the constraint the model makes some
    out = tree(aggregates, rng=np.random.default_rng(1), constraints=[child])
    assert not violations(out, [child]).any()
    assert (out.codes != 0).all()  # complete records
    ages = np.array(record_values(out))
    share = np.mean([row["age"] == "child" for row in ages])
    assert abs(share - 0.3) < 0.03


def test_no_constraint_changes_nothing():
    table = encode(pa.table({"a": ["x", "y"] * 50, "b": ["p", "q", "q", "p"] * 25}))
    aggregates = count_combinations(table, 2)
    for mode in ("aggregate_seeded", "tree", "pairwise"):
        plain = synthesize(mode, aggregates, rng=np.random.default_rng(3))
        none = synthesize(mode, aggregates, rng=np.random.default_rng(3), constraints=())
        assert np.array_equal(plain.codes, none.codes)


# --- the codebook --------------------------------------------------------------------------------

CODEBOOK = """\
showcase_codebook: 1
columns:
  age: {bins: {edges: [0, 15, 100]}}
  marital: {values: [never, married, widowed]}
  tags: {multi_value: ";", values: [a, b]}
  free: {}
constraints:
"""


def codebook_with(tmp_path, constraints: str):
    path = tmp_path / "codebook.yaml"
    path.write_text(CODEBOOK + constraints, encoding="utf-8")
    return read_codebook_file(path)


def test_codebook_reads_and_round_trips_constraints(tmp_path):
    book = codebook_with(tmp_path, "  - name: married child\n    reason: under 15\n    age: 0-14\n"
                         "    marital: [married, widowed]\n  - {free: x, tags: [a, b]}\n")  # fmt: skip
    first, second = book.constraints
    assert first == Constraint((("age", ("0-14",)), ("marital", ("married", "widowed"))), "married child",
                               "under 15")  # fmt: skip
    assert second.columns == (("free", ("x",)), ("tags", ("a", "b")))
    again = tmp_path / "again.yaml"
    book.write(again)
    assert read_codebook_file(again).constraints == book.constraints
    assert from_list(to_list(book.constraints)) == book.constraints


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "  - {age: 0-14, marrital: married}\n",
            r"constraints\[0\]\.marrital: 'marrital' is not a column.*"
            r"did you mean 'marital'",
        ),  # fmt: skip
        (
            "  - {age: 0-14, marital: divorced}\n",
            r"constraints\[0\]\.marital\[0\]: is not one of the column's values",
        ),
        (
            "  - {age: 5-9, marital: married}\n",
            r"constraints\[0\]\.age\[0\]: is not one of the column's bin labels",
        ),
        ("  - {age: 0-14}\n", r"constraints\[0\]: an impossible combination names at least 2 columns"),
        (
            "  - {name: x, age: 0-14}\n",
            r"constraints\[0\]: an impossible combination names at least 2 columns",
        ),
        ("  - [age, marital]\n", r"constraints\[0\]: must be a mapping"),
        ("  {age: 0-14}\n", r"constraints: must be a list"),
        ("  - {age: 0-14, marital: []}\n", r"constraints\[0\]\.marital: lists no value"),
        ("  - {age: 0-14, free: ''}\n", r"constraints\[0\]\.free\[0\]: is empty"),
    ],
)
def test_codebook_refuses_bad_constraints(tmp_path, entry, message):
    with pytest.raises(InputError, match=message) as caught:
        codebook_with(tmp_path, entry)
    assert "\n" not in str(caught.value)
    assert "divorced" not in str(caught.value)  # a value is never repeated back


# --- end to end ----------------------------------------------------------------------------------


@pytest.fixture
def children(tmp_path):
    """A CSV where some children are married (impossible), and a codebook declaring so."""
    rng = np.random.default_rng(1)
    n = 1500
    age = rng.choice(["0-14", "15-99"], n, p=[0.3, 0.7])
    marital = np.where(age == "0-14", "never", rng.choice(["never", "married", "widowed"], n))
    marital[:60] = "married"
    sex = rng.choice(["F", "M"], n)
    data = tmp_path / "people.csv"
    data.write_text(
        "age,marital,sex\n" + "".join(f"{a},{m},{s}\n" for a, m, s in zip(age, marital, sex, strict=True))
    )
    book = tmp_path / "codebook.yaml"
    book.write_text(
        "showcase_codebook: 1\ncolumns:\n  age: {values: ['0-14', '15-99']}\n"
        "  marital: {values: [never, married, widowed]}\n  sex: {values: [F, M]}\n"
        "constraints:\n  - {name: married child, age: '0-14', marital: [married, widowed]}\n"
    )
    return data, book


def impossible_rows(path) -> int:
    lines = path.read_text().splitlines()[1:]
    return sum(
        1 for line in lines if line.startswith("0-14,") and line.split(",")[1] in ("married", "widowed")
    )


def test_cli_releases_honour_the_codebook_constraints(capsys, tmp_path, children):
    import json

    from .helpers import run

    data, book = children
    assert impossible_rows(data) > 0
    releases = {
        "kanon": ["-k", "5"],
        "kanon_aggregate": ["-k", "5", "--mode", "aggregate_seeded"],
        "dp": ["--dp", "--epsilon", "4"],
        "dp_tree": ["--dp", "--epsilon", "4", "--mechanism", "sds"],
    }
    for name, options in releases.items():
        code, _, err = run(capsys, "run", data, "--codebook", book, "--out", tmp_path / name, "--seed", "3",
                           "--no-progress", *options)  # fmt: skip
        assert code == 0, err
        assert impossible_rows(tmp_path / name / "synthetic.csv") == 0, name
        metadata = json.loads((tmp_path / name / "metadata.json").read_text())
        assert metadata["constraints"]["enforced"] == 1 and metadata["synthesis"]["constraints_enforced"] == 1
    # A later synthesis from the release honours the constraints its metadata states, without the codebook.
    code, _, err = run(capsys, "synthesize", "--from-aggregates", tmp_path / "dp_tree", "--mode", "pairwise",
                       "--out", tmp_path / "again", "--seed", "4", "--no-progress")  # fmt: skip
    assert code == 0, err
    assert impossible_rows(tmp_path / "again" / "synthetic.csv") == 0
    # So does one from an aggregates release (showcase aggregate keeps them in its metadata.json).
    code, _, err = run(capsys, "aggregate", data, "--codebook", book, "-k", "5", "-l", "2",
                       "--out", tmp_path / "counts", "--no-progress")  # fmt: skip
    assert code == 0, err
    code, _, err = run(capsys, "synthesize", "--from-aggregates", tmp_path / "counts", "--mode", "tree",
                       "--out", tmp_path / "from_counts", "--seed", "5", "--no-progress")  # fmt: skip
    assert code == 0, err
    assert impossible_rows(tmp_path / "from_counts" / "synthetic.csv") == 0
    metadata = json.loads((tmp_path / "from_counts" / "metadata.json").read_text())
    assert metadata["constraints"]["declared"][0]["name"] == "married child"
    # Evaluation counts the violating records, of each side.
    code, _, err = run(capsys, "evaluate", data, tmp_path / "dp", "--codebook", book, "-k", "5",
                       "--length", "2", "--out", tmp_path / "evaluation", "--no-progress")  # fmt: skip
    assert code == 0, err
    found = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())["constraints"]
    assert found == {"declared": 1, "synthetic_violating_records": 0,
                     "sensitive_violating_records": impossible_rows(data)}  # fmt: skip
    report = (tmp_path / "evaluation" / "report.html").read_text()
    assert "records violating the 1 declared constraint(s)" in report


def test_cli_refuses_a_bad_constraint_in_one_line_and_writes_nothing(capsys, tmp_path, children):
    from .helpers import run

    data, book = children
    book.write_text(book.read_text().replace("marital: [married, widowed]", "marital: [maried]"))
    code, _, err = run(
        capsys, "run", data, "--codebook", book, "-k", "5", "--out", tmp_path / "r", "--no-progress"
    )
    assert code == 2
    assert "constraints[0].marital[0]: is not one of the column's values" in err
    assert not (tmp_path / "r").exists()


def test_codebook_check_counts_the_constraints(capsys, children):
    from .helpers import run

    data, book = children
    code, out, err = run(capsys, "codebook", "check", book, data)
    assert code == 0, err
    assert out.strip() == "ok: 3 columns, 0 links, public domain: yes, 1 constraints"


def test_api_takes_constraints_in_the_preparation():
    import showcase.engine as sc

    rng = np.random.default_rng(2)
    age = rng.choice(["child", "adult"], 800).tolist()
    marital = [("never" if a == "child" else m) for a, m in zip(age, rng.choice(["never", "married"], 800))]
    marital[:20] = ["married"] * 20
    data = pa.table({"age": age, "marital": marital})
    child = sc.Constraint((("age", ("child",)), ("marital", ("married",))), name="married child")
    preparation = sc.Preparation(constraints=[child])
    for protection in (sc.KAnonymity(5), sc.DifferentialPrivacy(8.0)):
        result = sc.run(data, protection=protection, preparation=preparation, seed=1, length=2)
        assert not violations(result.synthesis.synthetic, [child]).any()
    with pytest.raises(ParameterError, match="Constraint values"):
        sc.Preparation(constraints=[{"age": "child"}])


def test_fitting_toward_impossible_cells_never_reaches_them():
    """Measured marginals that put 40% of the records on an impossible cell: moves and swaps refuse it."""
    from showcase.engine.dp.adaptive import as_aggregates
    from showcase.engine.dp.model import Marginal, Measurements

    schema = encode(pa.table({"age": ["adult", "child"], "marital": ["married", "never"]})).schema
    n = 2000
    pair = np.zeros((3, 3))  # rows: age missing/adult/child; columns: marital missing/married/never
    pair[1, 1], pair[1, 2], pair[2, 1], pair[2, 2] = 200, 600, 800, 400  # child & married: 800
    measurements = Measurements(
        [np.array([1, 2]), np.array([1, 2])],
        [
            Marginal((0,), 1.0, pair.sum(axis=1)),
            Marginal((1,), 1.0, pair.sum(axis=0)),
            Marginal((0, 1), 1.0, pair.ravel()),
        ],  # fmt: skip
        n,
    )
    aggregates = as_aggregates(schema, measurements)
    child = Constraint((("age", ("child",)), ("marital", ("married",))))
    assert violations(fitted(aggregates, rng=np.random.default_rng(1)), [child]).sum() > 600
    out = fitted(aggregates, rng=np.random.default_rng(1), constraints=[child])
    assert out.n_rows == n and not violations(out, [child]).any()


def test_a_multi_value_column_matches_through_its_indicators():
    import showcase.engine as sc

    data = pa.table({"tags": ["a;b", "a", "b", "", "c"] * 40, "x": ["1", "1", "1", "1", "2"] * 40})
    table = sc.load(data, sc.Preparation(multi_value={"tags": ";"}))
    either = Constraint((("tags", ("a", "c")), ("x", ("1",))))
    assert violations(table, [either]).tolist() == [True, True, False, False, False] * 40
    out = synthesize("row_seeded", table, rng=np.random.default_rng(1), resolution=5, constraints=[either])
    assert not violations(out, [either]).any() and out.n_rows > 0


def test_compare_keeps_and_counts_the_codebook_constraints(capsys, tmp_path, children, monkeypatch):
    """``showcase compare`` tells this project's synthesizers the constraints and counts each release's
    violating records; the count is real: synthesizers not told the constraints (as peers) make some."""
    import csv

    from showcase.engine.jobs import compare as compare_job

    from .helpers import compare

    data, book = children
    mechanisms = ["row_seeded:k=5", "aggregate_seeded:k=5", "dp:epsilon=4", "dp-aim:epsilon=4"]

    def violating(name: str) -> dict:
        code, _, err = compare(capsys, data, tmp_path / name, mechanisms, "--codebook", book, "-l", "2",
                               "--seed", "5", "--repeat", "2")  # fmt: skip
        assert code == 0, err
        rows = list(csv.DictReader((tmp_path / name / "comparison.csv").read_text().splitlines()))
        return {r["mechanism"]: float(r["violating_records"]) for r in rows}

    kept = violating("kept")
    assert set(kept) == set(mechanisms) and all(v == 0 for v in kept.values()), kept
    assert "records breaking a constraint" in (tmp_path / "kept" / "report.html").read_text()
    untold = compare_job.run_mechanism
    monkeypatch.setattr(compare_job, "run_mechanism", lambda m, t, n, s, c=(): untold(m, t, n, s))
    assert sum(violating("untold").values()) > 0


@pytest.mark.parametrize(
    "link",
    ["{table: p.csv, on: vid}", "{table: p.csv, on: vid, columns: {relation: {values: [family, partner]}}}"],
)
def test_a_constraint_can_name_the_band_of_linked_rows(tmp_path, capsys, link):
    """``perp_count`` is a column of every linked release, so a codebook may constrain it; a band
    that does not exist is refused by name."""
    import pandas as pd

    from .helpers import run

    rng = np.random.default_rng(4)
    vids = [f"v{i}" for i in range(600)]
    pd.DataFrame({"vid": vids, "sex": rng.choice(["F", "M"], 600)}).to_csv(tmp_path / "v.csv", index=False)
    linked = np.repeat(vids, rng.choice([1, 2, 7], 600))
    pd.DataFrame({"vid": linked, "relation": rng.choice(["family", "partner"], len(linked))}).to_csv(
        tmp_path / "p.csv", index=False
    )
    book = tmp_path / "codebook.yaml"
    base = ("showcase_codebook: 1\ncolumns:\n  sex: {values: [F, M]}\nsubject_id: vid\n"
            f"links:\n  - {link}\nconstraints:\n")  # fmt: skip
    book.write_text(base + "  - {sex: F, perp_count: [6+, '2']}\n")
    assert read_codebook_file(book).constraints[0].columns[1] == ("perp_count", ("6+", "2"))
    code, _, err = run(capsys, "synthesize", tmp_path / "v.csv", "--codebook", book, "-k", "5",
                       "--out", tmp_path / "out", "--seed", "1", "--no-progress")  # fmt: skip
    assert code == 0, err
    records = pd.read_csv(tmp_path / "out" / "synthetic.csv", dtype=str, keep_default_na=False)
    assert set(records["perp_count"]) >= {"1", "2", "6+"}
    assert not ((records["sex"] == "F") & records["perp_count"].isin(["6+", "2"])).any()
    assert ((records["sex"] == "M") & (records["perp_count"] == "6+")).any()
    book.write_text(base + "  - {sex: F, perp_count: 7+}\n")
    with pytest.raises(
        InputError, match=r"constraints\[0\]\.perp_count\[0\]: is not one of the column's values"
    ):
        read_codebook_file(book)
