"""``aggregate --dp`` and the privacy ledger, end to end."""

from __future__ import annotations

import json
import re
from concurrent.futures import ProcessPoolExecutor

import pytest

from showcase.datasets import generate_table, write_table
from showcase.engine import ParameterError, read_parquet
from showcase.engine.dp.ledger import Ledger

from .helpers import run


@pytest.fixture
def cases(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    path = tmp_path / "cases.csv"
    write_table(generate_table(3000, 6, seed=4), path)
    return path


def test_dp_release_end_to_end(cases, tmp_path, capsys):
    out = tmp_path / "dp"
    code, stdout, stderr = run(
        capsys,
        "aggregate",
        cases,
        "--dp",
        "--epsilon",
        2,
        "-l",
        2,
        "-o",
        out,
        "--seed",
        12345,
        "--no-progress",
    )
    assert code == 0, stderr
    assert "for testing only" in stderr
    meta = json.loads((out / "metadata.json").read_text())
    privacy = meta["privacy"]
    assert privacy["mechanism"] == "differential-privacy" and privacy["seeded"] is True
    assert "differential privacy per record" in privacy["guarantee"]
    assert privacy["epsilon_spent"] <= 2.0 * (1 + 1e-9)
    assert "12345" not in (out / "metadata.json").read_text()  # the seed would undo the noise
    released = read_parquet(out / "aggregates.parquet")
    assert released.protection == "differential-privacy" and len(released) > 0
    code, stdout, _ = run(capsys, "ledger", "show", cases)
    assert code == 0 and "1 release(s)" in stdout and "released" in stdout
    # At 80 columns (a captured console's width) every cell is whole: no "2026-12-06T2…".
    assert "…" not in stdout and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", stdout), stdout


def test_budget_total_refuses_the_release_that_does_not_fit(cases, tmp_path, capsys):
    args = ["aggregate", cases, "--dp", "--epsilon", 3, "-l", 1, "--budget-total", 5, "--no-progress"]
    assert run(capsys, *args, "-o", tmp_path / "a")[0] == 0
    code, _, stderr = run(capsys, *args, "-o", tmp_path / "b")
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "budget exceeded" in lines[0]
    assert not (tmp_path / "b").exists()


def _charge(path: str) -> bool:
    try:
        Ledger(path).charge("sha256:same-input", 1.0, 1e-7, budget_total=3.0)
        return True
    except ParameterError:
        return False


def test_concurrent_releases_cannot_overspend(tmp_path):
    path = str(tmp_path / "race.sqlite")
    Ledger(path)
    with ProcessPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(_charge, [path] * 12))
    assert sum(outcomes) == 3  # exactly the three that fit in the budget
    assert Ledger(path).spent("sha256:same-input").epsilon == pytest.approx(3.0)


@pytest.mark.parametrize("extra,message", [
    (["--dp"], "--epsilon"), (["--epsilon", "1"], "--epsilon"),
    (["--dp", "--epsilon", "0"], "epsilon"), (["--dp", "--epsilon", "-1"], "epsilon"),
    (["--dp", "--epsilon", "1", "--delta", "1.5"], "delta"),
    (["--dp", "--epsilon", "1", "--sigma-proportions", "1,2"], "one value per length"),
    (["--dp", "--epsilon", "1", "--fabrication-mode", "wild"], "fabrication mode"),
    (["--dp", "--epsilon", "1", "--percentile-proportion", "1.5"], "percentile"),
    (["--dp", "--epsilon", "1", "--subject-id", "nope"], "subject id"),
    (["--dp", "--epsilon", "1", "--unprotected"], "--unprotected"),
])  # fmt: skip
def test_bad_dp_parameters(cases, tmp_path, capsys, extra, message):
    out = tmp_path / "o"
    code, _, stderr = run(capsys, "aggregate", cases, "-o", out, "--no-progress", *extra)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0], stderr
    assert not out.exists()


@pytest.fixture
def subjects(tmp_path, monkeypatch):
    """300 subjects of two rows each (column id), and a codebook of columns A and B."""
    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    data = tmp_path / "d.csv"
    rows = ["id,A,B"] + [f"s{i // 2},{'xy'[i % 2]},{'pq'[i % 3 % 2]}" for i in range(600)]
    data.write_text("\n".join(rows) + "\n")
    book = tmp_path / "codebook.csv"
    book.write_text("column,value\nA,x\nA,y\nA,z\nB,p\nB,q\n")
    return data, book


#: The subjects' rows differ in both columns: under DP they are declared multi-value.
MULTI = ["--multi-value", "A", "--multi-value", "B"]


def test_codebook_and_subject_id(tmp_path, capsys, subjects):
    data, book = subjects
    out = tmp_path / "o"
    args = ["aggregate", data, "--dp", "--epsilon", 5, "--subject-id", "id", *MULTI, "--no-progress"]
    code, _, stderr = run(capsys, *args, "-l", 2, "--codebook", book, "-o", out, "--seed", 7)
    assert code == 0, stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["privacy"]["public_domain"] is True and meta["privacy"]["selection_delta"] == 0
    assert "per subject" in meta["privacy"]["guarantee"]
    assert meta["privacy"]["candidates_by_length"][0] == 5  # every codebook value
    # 300 subjects, not 600 rows; the count's Laplace noise has scale 1/(5 * 0.005) = 40, so an
    # unseeded run would miss this window about 2 % of the time: the seed pins one draw.
    assert abs(meta["aggregates"]["record_count"] - 300) < 150
    bad = tmp_path / "bad.csv"
    bad.write_text("column,value\nA,x\n")
    code, _, stderr = run(capsys, *args, "--codebook", bad, "-o", tmp_path / "o2")
    assert code == 2 and "no values for column 'B'" in stderr


@pytest.mark.parametrize("command", ["aggregate", "run"])
def test_rows_without_a_subject_are_refused_before_any_budget_is_spent(tmp_path, capsys, subjects, command):
    data, _ = subjects
    lines = data.read_text().splitlines()
    lines[5] = "," + lines[5].split(",", 1)[1]  # one row without its subject id
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "o"
    code, _, stderr = run(capsys, command, data, "--dp", "--epsilon", 1, "--subject-id", "id", "-o", out,
                          "--no-progress")  # fmt: skip
    assert code == 2 and "the subject id 'id' is empty in 1 row(s)" in stderr and stderr.count("\n") == 1
    assert not out.exists()
    ledger = tmp_path / "ledger.sqlite"
    assert not ledger.exists() or Ledger(ledger).entries() == []  # nothing charged


#: Options given where they do not apply, for both aggregate and run: (options, the error).
NOT_APPLYING = [
    (["--dp", "--epsilon", "1", "-k", "5"], "-k/--resolution: k-anonymity only"),
    (["--dp", "--epsilon", "1", "--resolution", "5"], "-k/--resolution: k-anonymity only"),
    (["--epsilon", "1", "--ledger", "book.sqlite"], "--epsilon, --ledger: DP options, used with --dp only"),
    (["--budget-total", "3"], "--budget-total: DP options, used with --dp only"),
    (["--on", "id"], "--on: used with --link only"),
    (["--fabrication-mode", "minimize"], "--fabrication-mode: DP options, used with --dp only"),
    (["--dp", "--delta", "1e-6"], "--dp needs --epsilon"),
    (["--dp", "--epsilon", "1", "--thresholds", "a,b"], "--thresholds must be comma-separated numbers"),
]


@pytest.mark.parametrize("command,extra,message", [
    *[(command, extra, message) for command in ("aggregate", "run") for extra, message in NOT_APPLYING],
    ("aggregate", ["--seed", "3"], "--seed: used with --dp only"),
    ("run", ["--dp", "--epsilon", "1", "--mode", "row_seeded"], "mode row_seeded reads the sensitive data"),
    ("run", ["--dp", "--epsilon", "1", "--oversampling-ratio", "0.1"], "not a parameter of mode fitted"),
    ("run", ["--dp", "--epsilon", "1", "--mode", "pairwise", "-l", "1"], "needs --length 2 or more"),
])  # fmt: skip
def test_options_that_do_not_apply_are_refused(cases, tmp_path, capsys, command, extra, message):
    out = tmp_path / "o"
    code, _, stderr = run(capsys, command, cases, "-o", out, "--no-progress", *extra)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0], stderr
    assert not out.exists() and not (tmp_path / "ledger.sqlite").exists()  # nothing written, nothing charged


def test_run_dp_takes_every_dp_option_and_an_aggregate_fed_mode(cases, tmp_path, capsys):
    out = tmp_path / "o"
    code, stdout, stderr = run(
        capsys, "run", cases, "--dp", "--epsilon", 4, "-l", 2, "--mode", "pairwise",
        "--target-number-of-records", 100, "--fabrication-mode", "minimize", "--percentile", 95,
        "--record-count-proportion", 0.01, "--accuracy-mode", "prioritize-long", "--budget-total", 10,
        "--dataset-id", "cases-1", "-o", out, "--seed", 3, "--no-progress",
    )  # fmt: skip
    assert code == 0, stderr
    assert "DP release" in stdout and "for testing only" in stderr
    meta = json.loads((out / "metadata.json").read_text())
    parameters = meta["parameters"]
    assert parameters["fabrication_mode"] == "minimize" and parameters["percentile"] == 95
    assert parameters["record_count_proportion"] == 0.01 and parameters["accuracy_mode"] == "prioritize-long"
    assert parameters["dataset_id"] == "cases-1" and parameters["budget_total"] == 10
    assert meta["synthesis"]["mode"] == "pairwise" and meta["synthesis"]["records"] == 100
    assert Ledger(tmp_path / "ledger.sqlite").spent("dataset:cases-1").epsilon == pytest.approx(4.0)


def test_run_dp_codebook_and_subject_id(tmp_path, capsys, subjects):
    data, book = subjects
    out = tmp_path / "o"
    dp = ["--dp", "--epsilon", 5, "--subject-id", "id", *MULTI, "--codebook", book]
    code, _, stderr = run(capsys, "run", data, *dp, "-o", out, "--seed", 7, "--no-progress")
    assert code == 0, stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["privacy"]["public_domain"] is True and meta["privacy"]["selection_delta"] == 0
    assert "per subject" in meta["privacy"]["guarantee"]
    assert meta["parameters"]["subject_id"] == "id" and meta["parameters"]["codebook"] is True
    assert "id" not in meta["synthesis"]["columns"]  # the subject column is no attribute
    assert meta["synthesis"]["columns"] == ["A:x", "A:y", "A:z", "B:p", "B:q"]  # one per value
    assert (out / "synthetic.csv").read_text().splitlines()[0] == "A,B"  # joined again in the files


@pytest.mark.parametrize("command", ["aggregate", "run"])
def test_a_large_default_delta_is_warned_of(tmp_path, capsys, monkeypatch, command):
    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    few, many = tmp_path / "few.csv", tmp_path / "many.csv"
    write_table(generate_table(100, 4, seed=4), few)  # delta = 1/(n ln n) near 0.002
    write_table(generate_table(3000, 4, seed=4), many)  # near 4e-5
    argv = [command, "--dp", "--epsilon", 10, "-l", 2, "--seed", 1, "--no-progress"]
    code, _, stderr = run(capsys, argv[0], few, *argv[1:], "-o", tmp_path / "a")
    assert code == 0 and "is large" in stderr and "--delta" in stderr
    code, _, stderr = run(capsys, argv[0], many, *argv[1:], "-o", tmp_path / "b")
    assert code == 0 and "is large" not in stderr
    code, _, stderr = run(capsys, argv[0], few, *argv[1:], "--delta", 1e-6, "-o", tmp_path / "c")
    assert code == 0 and "is large" not in stderr


@pytest.mark.parametrize(
    ("mechanism", "length"), [([], 3), (["--mechanism", "aim"], 3), (["--mechanism", "sds"], 2)]
)
def test_run_dp_default_length_follows_the_mechanism_named_or_not(cases, tmp_path, capsys, mechanism, length):
    """aim chooses among pairs and triples, by default or by name (named, it had got sds's 2)."""
    out = tmp_path / "o"
    code, _, stderr = run(capsys, "run", cases, "--dp", "--epsilon", 4, *mechanism, "-o", out, "--seed", 3,
                          "--ledger", tmp_path / "ledger.sqlite", "--no-progress")  # fmt: skip
    assert code == 0, stderr
    assert json.loads((out / "metadata.json").read_text())["parameters"]["reporting_length"] == length
