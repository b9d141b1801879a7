"""Evaluation metrics: hand-computed values, brute-force reference, k-marginal."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from showcase.cli.main import main
from showcase.engine import Preparation, count_combinations, encode, load
from showcase.engine.evaluate import combination_metrics, join, k_marginal_score

from . import naive

SENSITIVE = [("a1", "b1", "c1"), ("a1", "b2", "c1"), ("a2", "", "c2"), ("a2", "b2", "c1"),
             ("a1", "b2", "")]  # fmt: skip
SYNTHETIC = [("a1", "b2", "c1"), ("a1", "b2", "c1"), ("a2", "b2", "")]


def arrow(rows, columns=("A", "B", "C")):
    return pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})


def evaluate_tables(sensitive_rows, release_rows, length, k):
    sensitive = encode(arrow(sensitive_rows))
    release = encode(arrow(release_rows), schema=sensitive.schema)
    joined = join(count_combinations(sensitive, length), count_combinations(release, length))
    return combination_metrics(joined, k, length)


def test_hand_computed_metrics_on_the_worked_example():
    metrics = evaluate_tables(SENSITIVE, SYNTHETIC, 3, 2)
    by_length = {m["length"]: m for m in metrics["by_length"]}
    # Worked by hand: see the test's comments in the repository history.
    assert [by_length[n]["preserved"] for n in (1, 2, 3)] == [4, 4, 1]
    assert [by_length[n]["suppressed"] for n in (1, 2, 3)] == [2, 4, 2]
    assert [by_length[n]["fabricated"] for n in (1, 2, 3)] == [0, 0, 0]
    assert [by_length[n]["leaked_rare"] for n in (1, 2, 3)] == [0, 1, 0]
    assert [by_length[n]["rare_sensitive"] for n in (1, 2, 3)] == [2, 5, 3]
    assert by_length[1]["mean_absolute_error"] == pytest.approx(5 / 6)
    assert by_length[2]["mean_absolute_error"] == pytest.approx(0.5)
    assert by_length[3]["mean_absolute_error"] == pytest.approx(1.0)
    assert by_length[1]["preserved_pct"] == pytest.approx(100 * 4 / 6, abs=1e-3)
    assert metrics["overall"]["preserved"] == 9
    buckets = {b["bucket"]: b for b in metrics["by_count_bucket"]}
    assert set(buckets) == {"1..1", "2..3"}
    assert buckets["1..1"]["sensitive_combinations"] == 10  # the rare ones


def test_fabricated_combination_is_counted():
    metrics = evaluate_tables(SENSITIVE, [("a1", "b1", "c2")], 2, 1)
    length2 = metrics["by_length"][1]
    # A:a1;B:b1 exists; A:a1;C:c2 and B:b1;C:c2 do not.
    assert length2["fabricated"] == 2 and length2["release_combinations"] == 3
    assert length2["fabricated_pct"] == pytest.approx(100 * 2 / 3, abs=1e-3)


VALUES = st.sampled_from(["", "x", "y", "z"])


@given(
    sensitive=st.lists(st.tuples(VALUES, VALUES, VALUES), min_size=1, max_size=30),
    release=st.lists(st.tuples(VALUES, VALUES, VALUES), min_size=1, max_size=30),
    length=st.integers(1, 3),
    k=st.integers(1, 4),
)
def test_metrics_equal_reference(sensitive, release, length, k):
    # The release may only use values the sensitive data has.
    known = [{r[i] for r in sensitive} | {""} for i in range(3)]
    release = [tuple(v if v in known[i] else "" for i, v in enumerate(r)) for r in release]
    metrics = evaluate_tables(sensitive, release, length, k)
    columns = ["A", "B", "C"]
    expected = naive.combination_metrics(
        naive.count_combinations(sensitive, columns, length),
        naive.count_combinations(release, columns, length),
        k,
        range(1, length + 1),
    )
    for got in metrics["by_length"]:
        want = expected[got["length"]]
        for key, value in want.items():
            assert got[key] == pytest.approx(value, abs=1e-4), key  # percentages are rounded to 4 places
    # Every sensitive combination falls in exactly one count bucket.
    buckets = metrics["by_count_bucket"]
    assert sum(b["sensitive_combinations"] for b in buckets) == metrics["overall"]["sensitive_combinations"]


def test_buckets_hold_the_largest_count_on_an_edge_and_k_marginal_compares_shares():
    """A largest count equal to a bucket edge (4 at k = 2) fell out of every bucket; the k-marginal
    compares densities, so a release that is the input twice over scores 1000."""
    rows = [("a", "x", "")] * 4 + [("b", "y", "")] * 2 + [("c", "y", "q")]  # counts 4, 2, 1, 4, 3, 1
    metrics = evaluate_tables(rows, rows, 1, 2)
    buckets = {b["bucket"]: b["sensitive_combinations"] for b in metrics["by_count_bucket"]}
    assert buckets == {"1..1": 2, "2..3": 2, "4..7": 2}
    sensitive = encode(arrow(rows))
    doubled = encode(arrow(rows * 2), schema=sensitive.schema)
    assert k_marginal_score(sensitive, doubled)["score"] == pytest.approx(1000)
    # Leakage as a share of the rare sensitive combinations (not of all of them).
    rare = evaluate_tables([("a1", "b1", ""), ("a1", "b2", ""), ("a2", "b2", "")], [("a2", "b2", "")], 2, 2)
    assert rare["overall"]["rare_sensitive"] == 5 and rare["overall"]["leaked_rare"] == 2
    assert rare["overall"]["leakage_pct"] == pytest.approx(40.0)


def pandas_k_marginal(target: pd.DataFrame, release: pd.DataFrame, group: str | None) -> float:
    """The SDNist 2.x definition, written directly in pandas."""
    target, release = target.fillna("<missing>"), release.fillna("<missing>")
    features = sorted(c for c in target.columns if c != group)
    total = 0.0
    pairs = list(itertools.combinations(features, 2))
    for pair in pairs:
        cols = ([group] if group else []) + list(pair)
        t = target.groupby(cols).size() / len(target)
        s = release.groupby(cols).size() / len(release)
        total += t.subtract(s, fill_value=0).abs().sum()
    return (2 - total / len(pairs)) * 500


def test_k_marginal_identical_shuffled_and_against_pandas(nist_national):
    prep = Preparation(
        null_markers=("N",), use_columns=["PUMA", "AGEP", "SEX", "MSP", "HISP", "RAC1P", "EDU", "DEYE"]
    )
    sensitive = load(nist_national, prep)
    assert k_marginal_score(sensitive, sensitive, group="PUMA")["score"] == pytest.approx(1000)
    rng = np.random.default_rng(0)
    shuffled_codes = np.stack([rng.permutation(c) for c in sensitive.codes])
    shuffled = type(sensitive)(sensitive.schema, shuffled_codes)
    ours = k_marginal_score(sensitive, shuffled, group="PUMA")["score"]
    assert ours < 900

    def frame(table):
        values = [np.array([None] + d.to_pylist(), dtype=object) for d in table.schema.dictionaries]
        return pd.DataFrame({n: values[c][table.codes[c]] for c, n in enumerate(table.schema.columns)})

    assert ours == pytest.approx(pandas_k_marginal(frame(sensitive), frame(shuffled), "PUMA"), abs=1e-9)
    assert k_marginal_score(sensitive, shuffled)["score"] == pytest.approx(
        pandas_k_marginal(frame(sensitive), frame(shuffled), None), abs=1e-9
    )


def test_k_marginal_by_column_against_pandas():
    """Each column's score is the k-marginal over the pairs that hold it; a scrambled column scores lowest."""
    from showcase.datasets import generate_table

    table = generate_table(3000, 6, seed=4)
    sensitive = encode(table, sensitive_zeros="all")
    rng = np.random.default_rng(1)
    codes = sensitive.codes.copy()
    codes[2] = rng.permutation(codes[2])  # column 2 loses its ties to the others
    codes[:, rng.choice(3000, 300, replace=False)] = codes[:, rng.choice(3000, 300, replace=False)]
    release = type(sensitive)(sensitive.schema, codes)
    ours = k_marginal_score(sensitive, release)["by_column"]

    def frame(t):
        values = [np.array([None] + d.to_pylist(), dtype=object) for d in t.schema.dictionaries]
        return pd.DataFrame({n: values[c][t.codes[c]] for c, n in enumerate(t.schema.columns)})

    target, other = frame(sensitive), frame(release)
    for row in ours:
        rest = [c for c in target.columns if c != row["column"]]
        mean_pairs = [
            pandas_k_marginal(target[[row["column"], c]], other[[row["column"], c]], None) for c in rest
        ]
        assert row["score"] == pytest.approx(sum(mean_pairs) / len(mean_pairs), abs=1e-9)
        assert row["sets"] == len(rest)
    assert ours[0]["column"] == sensitive.schema.columns[2]
    assert [r["score"] for r in ours] == sorted(r["score"] for r in ours)


def write(path, rows, columns=("A", "B", "C")):
    path.write_text("\n".join([",".join(columns)] + [",".join(r) for r in rows]) + "\n")
    return path


def test_evaluate_command_writes_json_and_html(tmp_path, capsys):
    sensitive = write(tmp_path / "s.csv", SENSITIVE)
    release = write(tmp_path / "synthetic.csv", SYNTHETIC)
    out = tmp_path / "eval"
    code = main(
        ["evaluate", str(sensitive), str(release), "-l", "3", "-k", "2", "-o", str(out), "--no-progress"]
    )
    assert code == 0, capsys.readouterr().err
    result = json.loads((out / "evaluation.json").read_text())
    assert result["record_expansion"] == pytest.approx(0.6)
    assert result["overall"]["preserved"] == 9
    html = (out / "report.html").read_text()
    assert html.count("<svg") == 3 + 3  # three metric charts, one per column
    assert "<script" not in html and "http" not in html.replace('xmlns="http://www.w3.org', "")
    assert "Not for publication" in html and "exact statistics" in html


def test_report_never_names_rare_values(tmp_path, capsys):
    rows = [("common", "x", "y")] * 12 + [("RAREVALUE", "x", "y")]
    sensitive = write(tmp_path / "s.csv", rows)
    out = tmp_path / "eval"
    code = main(
        ["evaluate", str(sensitive), str(sensitive), "-l", "2", "-k", "5", "-o", str(out), "--no-progress"]
    )
    assert code == 0
    assert "RAREVALUE" not in (out / "report.html").read_text()
    assert "RAREVALUE" not in (out / "evaluation.json").read_text()


def test_evaluate_writes_beside_the_release_never_into_it(tmp_path, capsys):
    # SPEC §5: a release directory holds only publishable files; an evaluation is the data owner's.
    sensitive = write(tmp_path / "s.csv", SENSITIVE)
    release = tmp_path / "release"
    assert main(["aggregate", str(sensitive), "-l", "3", "-k", "2", "-o", str(release), "--no-progress"]) == 0
    published = sorted(p.name for p in release.iterdir())
    assert main(["evaluate", str(sensitive), str(release), "-l", "3", "-k", "2", "--no-progress"]) == 0
    assert sorted(p.name for p in release.iterdir()) == published
    beside = tmp_path / "release-evaluation"
    assert f"{beside}(notforpublication)" in "".join(capsys.readouterr().out.split())  # (wrapped)
    result = json.loads((beside / "evaluation.json").read_text())
    assert result["release_kind"] == "aggregates"
    assert result["overall"]["fabricated"] == 0 and result["overall"]["leaked_rare"] == 0
    assert (beside / "report.html").exists()
    code = main(["evaluate", str(sensitive), str(release), "-l", "3", "-k", "2", "--no-progress"])
    assert code == 2 and "--force" in capsys.readouterr().err
    # A release file gets a folder named after it, beside it.
    synthetic = tmp_path / "synthetic.csv"
    synthetic.write_text(sensitive.read_text())
    assert main(["evaluate", str(sensitive), str(synthetic), "-l", "2", "-k", "2", "--no-progress"]) == 0
    assert (tmp_path / "synthetic-evaluation" / "evaluation.json").exists()
    # A file of a release folder: the evaluation goes beside the folder, and never into it.
    inside = release / "aggregates.parquet"
    assert main(["evaluate", str(sensitive), str(inside), "-l", "3", "-k", "2", "--no-progress"]) == 0
    assert sorted(p.name for p in release.iterdir()) == published
    assert (tmp_path / "release-aggregates-evaluation" / "evaluation.json").exists()
    capsys.readouterr()
    for command in (["evaluate", str(sensitive), str(inside), "-l", "3", "-k", "2"],
                    ["aggregate", str(sensitive), "-l", "2", "-k", "2"]):  # fmt: skip
        assert main([*command, "--out", str(release / "more"), "--no-progress"]) == 2
        assert "inside the showcase output folder" in capsys.readouterr().err
    assert sorted(p.name for p in release.iterdir()) == published


@pytest.mark.parametrize("rows,columns,message", [
    ([("a1", "b1")], ("A", "B"), "missing column"),
    ([("a1", "b1", "c1", "d")], ("A", "B", "C", "D"), "unknown column"),
    ([("a9", "b1", "c1")], ("A", "B", "C"), "absent from the sensitive data"),
])  # fmt: skip
def test_bad_release_one_line_exit_2(tmp_path, capsys, rows, columns, message):
    sensitive = write(tmp_path / "s.csv", SENSITIVE)
    release = write(tmp_path / "r.csv", rows, columns)
    out = tmp_path / "eval"
    code = main(["evaluate", str(sensitive), str(release), "-o", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], err
    assert not out.exists()


def test_a_release_of_other_columns_is_named_and_the_fix_said(tmp_path, capsys):
    sensitive = write(tmp_path / "s.csv", SENSITIVE)
    release = write(tmp_path / "r.csv", [("a1", "x")], ("A", "Z"))
    out = tmp_path / "e"
    code = main(["evaluate", str(sensitive), str(release), "-l", "2", "-o", str(out), "--no-progress"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1
    assert "r.csv: the release's columns differ from the sensitive data's" in lines[0]
    assert "missing column(s) 'B', 'C'; unknown column(s) 'Z'" in lines[0]
    assert "the input it was made from" in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("kind", ["aggregates", "synthetic"])
def test_the_counting_bar_of_an_evaluation_ends_full(tmp_path, kind):
    # Evaluating an aggregates release counts only the sensitive data: its bar stood at 50 % to the end.
    from showcase.engine import evaluate

    sensitive = write(tmp_path / "s.csv", SENSITIVE)
    release = tmp_path / "release"
    made = (
        ["aggregate", "-l", "3"] if kind == "aggregates" else ["synthesize", "--mode", "unseeded", "-l", "3"]
    )
    assert main([made[0], str(sensitive), *made[1:], "-k", "2", "-o", str(release), "--no-progress"]) == 0
    reports = []
    evaluate(sensitive, release, length=3, resolution=2, out=tmp_path / "e",
             progress=lambda stage, d, t: reports.append((stage, d, t)))  # fmt: skip
    counted = [(d, t) for stage, d, t in reports if stage == "count"]
    assert counted and counted[-1][0] == counted[-1][1] and all(d <= t for d, t in counted)


def test_the_metrics_bar_moves_through_the_k_marginal(tmp_path):
    # At 1M linked records the metrics bar stood at 0 % for 14 s: the k-marginal's sets now report.
    from showcase.engine import evaluate

    sensitive = write(tmp_path / "s.csv", SENSITIVE)
    release = tmp_path / "release"
    made = ["synthesize", str(sensitive), "--mode", "unseeded", "-l", "2", "-k", "2", "-o", str(release)]
    assert main([*made, "--no-progress"]) == 0
    reports = []
    evaluate(sensitive, release, length=2, resolution=2, out=tmp_path / "e",
             progress=lambda stage, d, t: reports.append((stage, d, t)))  # fmt: skip
    fractions = [d / t for stage, d, t in reports if stage == "evaluate"]
    n_columns = len(SENSITIVE[0])
    assert len(fractions) >= n_columns * (n_columns - 1) // 2, fractions  # one report per pair at least
    assert fractions == sorted(fractions) and fractions[0] == 0 and fractions[-1] == 1, fractions


def test_column_distributions_name_a_multi_value_columns_values():
    """The Quality page grouped any name holding ':' ("Q1: age") as a multi-value column's value."""
    from showcase.engine import Preparation
    from showcase.engine.evaluate import column_distributions
    from showcase.engine.prepare import load_input

    table = pa.table({"Q1: age": ["young", "old"] * 10, "means": ["debt;threats", "debt"] * 10})
    loaded = load_input(table, Preparation(multi_value={"means": ";"})).table
    found = {d["column"]: d for d in column_distributions(loaded, loaded, 2)}
    assert "group" not in found["Q1: age"] and "value" not in found["Q1: age"]
    assert {(d["group"], d["value"]) for name, d in found.items() if name != "Q1: age"} == {
        ("means", "debt"),
        ("means", "threats"),
    }


def test_the_delimiter_is_the_sensitive_inputs_not_the_releases(tmp_path, capsys):
    """``--delimiter ';'`` reads the input; the release showcase wrote is Parquet and comma-separated
    CSV, and was refused ("--delimiter applies to .csv and .tsv inputs only") or misread."""
    sensitive = tmp_path / "semi.csv"
    sensitive.write_text("A;B\n" + "a;x\n" * 4 + "b;y\n" * 4)
    release = tmp_path / "release"
    argv = ["-d", ";", "-k", "2", "-l", "2", "--no-progress"]
    assert main(["run", str(sensitive), "--seed", "1", "-o", str(release), *argv]) == 0
    for target, out in ((release, "e1"), (release / "synthetic.csv", "e2")):
        code = main(["evaluate", str(sensitive), str(target), "-o", str(tmp_path / out), *argv])
        assert code == 0, capsys.readouterr().err
        result = json.loads((tmp_path / out / "evaluation.json").read_text())
        assert result["overall"]["fabricated"] == 0 and result["overall"]["preserved_pct"] == 100.0


def test_a_release_of_no_records_is_evaluated_not_refused(tmp_path, capsys):
    """value_seeded with k above every count writes a header and no record: that is a release to
    score (everything suppressed), not an unreadable input."""
    sensitive = tmp_path / "few.csv"
    sensitive.write_text("A,B\n" + "a,x\nb,y\n" * 3)
    release = tmp_path / "release"
    argv = ["-k", "10", "-l", "2", "--no-progress"]
    assert (
        main(["run", str(sensitive), "--mode", "value_seeded", "--seed", "1", "-o", str(release), *argv]) == 0
    )
    assert (release / "synthetic.csv").read_text().strip() == "A,B"
    assert main(["evaluate", str(sensitive), str(release), "-o", str(tmp_path / "e"), *argv]) == 0, (
        capsys.readouterr()
    )
    result = json.loads((tmp_path / "e" / "evaluation.json").read_text())
    assert (
        result["overall"]["preserved"] == 0
        and result["overall"]["suppressed"] == result["overall"]["sensitive_combinations"]
    )
    (tmp_path / "empty.csv").write_text("A,B\n")
    assert (
        main(["evaluate", str(tmp_path / "empty.csv"), str(release), "-o", str(tmp_path / "e2"), *argv]) == 2
    )
    assert "no records" in capsys.readouterr().err


def test_a_release_is_evaluated_against_exact_aggregates_as_against_the_records(tmp_path, capsys):
    """SPEC §4: the sensitive side may be the data's unprotected aggregates. Every metric, the
    k-marginal included, equals the one computed from the records; protected counts are refused."""
    from showcase.datasets import generate_table, write_table

    records = tmp_path / "cases.csv"
    write_table(generate_table(2000, 6, seed=3), records)
    argv = ["-k", "5", "-l", "3", "--no-progress"]
    assert main(["run", str(records), "--seed", "2", "-o", str(tmp_path / "release"), *argv]) == 0
    assert main(["aggregate", str(records), "--unprotected", "-l", "3", "-o", str(tmp_path / "exact"),
                 "--no-progress"]) == 0  # fmt: skip
    release = str(tmp_path / "release")

    def evaluated(sensitive, name):
        assert main(["evaluate", str(sensitive), release, "-o", str(tmp_path / name), *argv]) == 0, (
            capsys.readouterr().err
        )
        document = json.loads((tmp_path / name / "evaluation.json").read_text())
        return {k: v for k, v in document.items() if k not in ("created", "seconds", "sensitive")}

    reference = evaluated(records, "from_records")
    assert reference["k_marginal"]["score"] > 0
    for name, sensitive in (
        ("folder", tmp_path / "exact"),
        ("tsv", tmp_path / "exact" / "sensitive_aggregates.tsv"),
    ):
        assert evaluated(sensitive, name) == reference, name
    # Counts too short for the length asked, protected counts, and options that read records: refused.
    for sensitive, extra, message in (
        (tmp_path / "exact", ["-l", "4"], "give --length 3 or less"),
        (tmp_path / "release", [], "these counts are protected (k-anonymity)"),
        (
            tmp_path / "exact",
            ["--use-columns", "sex"],
            "--use-columns: the sensitive side is exact aggregates",
        ),
    ):
        code = main(["evaluate", str(sensitive), release, "-o", str(tmp_path / "refused"), *argv, *extra])
        assert code == 2 and message in capsys.readouterr().err
        assert not (tmp_path / "refused").exists()
