"""``showcase compare``: mechanisms side by side, specs validated, peers optional."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest

from showcase.engine import ParameterError
from showcase.engine.mechanisms import mechanism_seeds, parse_mechanism

from .helpers import compare
from .test_evaluate import SENSITIVE, write

THREE = [("a1", "b1", "c1"), ("a2", "b2", "c2"), ("a1", "b2", "c1")]


def compared(tmp_path, capsys, rows, mechanisms: list[str], *options) -> Path:
    """``showcase compare`` of ``rows`` at L = 2; its output folder, once it succeeded."""
    out = tmp_path / "cmp"
    code, _, stderr = compare(capsys, write(tmp_path / "s.csv", rows), out, mechanisms, "-l", 2, *options)
    assert code == 0, stderr
    return out


def test_parse_mechanism_specs():
    parsed = parse_mechanism("aggregate:k=5,L=2")
    assert parsed.name == "aggregate" and parsed.params == {"k": 5, "L": 2}
    assert parse_mechanism("pac-synth:epsilon=0.5").params == {"epsilon": 0.5}
    for bad, message in [
        ("nope:k=1", "unknown mechanism"),
        ("aggregate", "needs k"),
        ("aggregate:k=x", "must be a int"),
        ("aggregate:q=1", "takes"),
        ("pac-synth:epsilon=-1", "positive"),
        ("row_seeded:k=0", "positive"),
    ]:
        with pytest.raises(ParameterError, match=message):
            parse_mechanism(bad)


def test_compare_aggregate_mechanisms(tmp_path, capsys):
    out = compared(tmp_path, capsys, SENSITIVE * 4, ["aggregate:k=2", "aggregate:k=8"], "-k", 2, "--seed", 7)
    rows = list(csv.DictReader((out / "comparison.csv").read_text().splitlines()))
    assert [r["mechanism"] for r in rows] == ["aggregate:k=2", "aggregate:k=8"]
    # A larger k suppresses more and never fabricates.
    assert float(rows[0]["preserved_pct"]) > float(rows[1]["preserved_pct"])
    assert all(float(r["fabricated_pct"]) == 0 for r in rows)
    document = json.loads((out / "comparison.json").read_text())
    assert document["parameters"]["seeded"] is True and "seed" not in document["parameters"]
    assert all(e["seeded"] is True and "seed" not in e for e in document["evaluations"])
    html = (out / "report.html").read_text()
    assert html.count("<svg") >= 4 and "aggregate:k=8" in html


def test_comparison_outputs_never_hold_a_seed(tmp_path, capsys):
    """A DP mechanism's seed would give its noise away: outputs say "seeded" only."""
    out = compared(tmp_path, capsys, THREE * 50, ["dp:epsilon=4", "row_seeded:k=2"], "--seed", 987654321)
    derived = mechanism_seeds(987654321, 2)
    for name in ("comparison.json", "comparison.csv", "report.html"):
        text = (out / name).read_text()
        assert "987654321" not in text and not any(str(seed) in text for seed in derived), name
    document = json.loads((out / "comparison.json").read_text())
    assert [row["seeded"] for row in document["summary"]] == [True, True]


def test_dp_mechanisms_at_two_budgets(tmp_path, capsys):
    out = compared(tmp_path, capsys, THREE * 100, ["dp:epsilon=1", "dp:epsilon=8"], "-k", 2, "--seed", 3)
    rows = list(csv.DictReader((out / "comparison.csv").read_text().splitlines()))
    assert all(0 < float(r["k_marginal"]) <= 1000 for r in rows)
    assert "k-marginal score by ε" in (out / "report.html").read_text()


def test_pac_synth_peer_runs_when_installed(tmp_path, capsys):
    pytest.importorskip("pacsynth")
    # pac-synth cannot be seeded, and on 90 records its own noise left it with no records, or
    # a negative record count, in about 2 runs of 500; on 300 it made 298 or more in 500 of 500.
    out = compared(tmp_path, capsys, THREE * 100, ["pac-synth:epsilon=8"], "-k", 2)
    row = next(csv.DictReader((out / "comparison.csv").read_text().splitlines()))
    assert row["seeded"] == "not seedable" and float(row["k_marginal"]) > 0


def test_missing_peer_and_bad_spec_are_one_line_errors(tmp_path, capsys, monkeypatch):
    import builtins

    sensitive = write(tmp_path / "s.csv", SENSITIVE)
    real_import = builtins.__import__

    def no_snsynth(name, *args, **kwargs):
        if name == "snsynth":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_snsynth)
    for spec, message in [
        ("mst:epsilon=1", "pip install smartnoise-synth"),
        ("bogus:k=1", "unknown mechanism"),
    ]:
        code, _, stderr = compare(capsys, sensitive, tmp_path / "o", [spec])
        err = [line for line in stderr.splitlines() if line.strip()]
        assert code == 2 and len(err) == 1 and message in err[0]
        assert not (tmp_path / "o").exists()


def test_a_peer_panic_becomes_a_one_line_error(monkeypatch):
    from showcase.engine import ShowcaseError, mechanism_runs

    class PanicException(BaseException):  # as pyo3 raises when Rust code panics
        pass

    def panics(*args):
        raise PanicException("adding noise to number of records resulted in a negative number\nat lib.rs")

    monkeypatch.setattr(mechanism_runs, "_pac_synth", panics)
    with pytest.raises(ShowcaseError, match="pac-synth failed on this input .adding noise"):
        mechanism_runs.pac_synth(None, {"epsilon": 1.0}, 2, 0)


def test_repeats_and_an_epsilon_sweep_summarise_every_run(tmp_path, capsys):
    """--repeat runs each stochastic mechanism N times (seeds independent); the summary is their
    mean, sample standard deviation and Student-t 95 % interval; --epsilon makes one line per ε."""
    import statistics

    out = compared(tmp_path, capsys, THREE * 400, ["dp:L=2", "aggregate:k=2"], "-k", 2, "--seed", 5,
                   "--repeat", 3, "--epsilon", "1,8")  # fmt: skip
    document = json.loads((out / "comparison.json").read_text())
    summary = {row["mechanism"]: row for row in document["summary"]}
    assert list(summary) == ["dp:L=2,epsilon=1", "dp:L=2,epsilon=8", "aggregate:k=2"]
    assert [summary[m]["runs"] for m in summary] == [3, 3, 1]
    assert document["parameters"]["epsilons"] == [1.0, 8.0] and document["parameters"]["repeat"] == 3
    for name in ("dp:L=2,epsilon=1", "dp:L=2,epsilon=8"):
        runs = [e for e in document["evaluations"] if e["mechanism"] == name]
        scores = [e["k_marginal"]["score"] for e in runs]
        assert [e["run"] for e in runs] == [1, 2, 3] and len(set(scores)) == 3  # independent seeds
        row = summary[name]
        # The summary is over the runs' rows, whose scores are rounded to 2 places; itself to 4.
        shown = [round(score, 2) for score in scores]
        mean, sd = statistics.fmean(shown), statistics.stdev(shown)
        assert row["k_marginal"] == pytest.approx(mean, abs=1e-4)
        assert row["k_marginal_sd"] == pytest.approx(sd, abs=1e-4)
        assert row["k_marginal_high"] - row["k_marginal"] == pytest.approx(4.303 * sd / 3**0.5, abs=3e-3)
        assert row["epsilon"] in (1.0, 8.0) and all(e["peak_mib"] > 0 for e in runs)
    assert "k_marginal_sd" not in summary["aggregate:k=2"]
    csv_rows = list(csv.DictReader((out / "comparison.csv").read_text().splitlines()))
    assert [r["mechanism"] for r in csv_rows] == list(summary)
    html = (out / "report.html").read_text()
    assert html.count('class="line"') == 1 and html.count('class="band"') == 1  # one mechanism family
    derived = mechanism_seeds(5, 7)
    for name in ("comparison.json", "comparison.csv", "report.html"):
        assert not any(str(seed) in (out / name).read_text() for seed in derived), name


@pytest.mark.parametrize(
    "options,message",
    [
        (["-m", "dp:epsilon=2", "--epsilon", "1"], "names its own epsilon"),
        (["-m", "dp", "--epsilon", "0"], "epsilon must be"),
        (["-m", "dp", "--epsilon", "one"], "--epsilon must be comma-separated numbers"),
        (["-m", "dp:epsilon=1", "--repeat", "0"], "--repeat"),
    ],
)
def test_bad_sweeps_are_one_line_errors(tmp_path, capsys, options, message):
    from .helpers import run

    sensitive = write(tmp_path / "s.csv", THREE * 10)
    code, _, stderr = run(capsys, "compare", sensitive, *options, "-o", tmp_path / "o", "--no-progress")
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0], stderr
    assert not (tmp_path / "o").exists()


def test_student_t_quantiles():
    from scipy import stats

    from showcase.engine.jobs.compare import t975

    for df in range(1, 400):
        assert t975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=2e-3), df


def test_peak_memory_sees_an_allocation_inside_the_block():
    import numpy as np

    from showcase.engine.peak_memory import PeakMemory, resident_bytes

    if resident_bytes() is None:
        pytest.skip("no /proc/self/statm on this system")
    before = resident_bytes()
    with PeakMemory() as peak:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        block[::512] += 1
        # Held for 10 sampling intervals with the GIL released (as a mechanism's kernels release it):
        # freed at once, the block could come and go before the sampling thread ran (1 run in 3).
        time.sleep(10 * peak.interval)
        del block
    assert peak.bytes - before >= 48 * 2**20


@pytest.mark.browser
def test_the_report_table_fits_the_page(tmp_path, capsys):
    """Full mechanism names wrap inside the page's width: no sideways scrolling at 1,000 px."""
    from .test_report_browser import browse

    long_name = "value_seeded:k=2,oversampling_ratio=0.25,oversampling_tries=20"
    out = compared(tmp_path, capsys, THREE * 50, [long_name, "row_seeded:k=2", "dp:L=2"], "-k", 2,
                   "--epsilon", "2,6", "--seed", 1)  # fmt: skip

    def widths(page):
        page.wait_for_load_state("load")
        return {
            "scroll": page.evaluate("document.documentElement.scrollWidth"),
            "client": page.evaluate("document.documentElement.clientWidth"),
            "names": page.locator("table.results td:first-child").all_inner_texts(),
        }

    found = browse((out / "report.html").as_uri(), widths, "comparison-table.png", size=(1000, 800))
    assert found["errors"] == [] and found["scroll"] <= found["client"]
    assert long_name in found["names"]


def test_adaptive_dp_mechanisms_compare_like_the_others(tmp_path, capsys):
    """dp-aim and dp-mst (run --dp's adaptive marginals and fitted synthesis) as compare mechanisms."""
    rows = [("a1", "b1", "c1"), ("a2", "b2", "c2"), ("a1", "b2", "c2"), ("a2", "b1", "c1")] * 150
    out = compared(tmp_path, capsys, rows, ["dp-aim", "dp-mst"], "-k", 2, "--epsilon", "8", "--seed", 2)
    summary = {r["mechanism"]: r for r in json.loads((out / "comparison.json").read_text())["summary"]}
    assert set(summary) == {"dp-aim:epsilon=8", "dp-mst:epsilon=8"}
    for row in summary.values():
        assert row["release_kind"] == "synthetic" and row["seeded"] is True
        assert 0.9 < row["record_expansion"] < 1.1 and row["k_marginal"] > 800


def test_the_console_table_shows_whole_mechanism_names(tmp_path, capsys):
    """At 80 columns (a captured console's width) a long name wraps: no "value_seeded:k=2,ov…"."""
    long_name = "value_seeded:k=2,oversampling_ratio=0.25,oversampling_tries=20"
    out = tmp_path / "cmp"
    code, stdout, stderr = compare(capsys, write(tmp_path / "s.csv", THREE * 50), out,
                                   [long_name, "row_seeded:k=2"], "-l", 2, "-k", 2, "--seed", 1)  # fmt: skip
    assert code == 0, stderr
    assert "…" not in stdout, stdout
    lines = stdout.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.strip().startswith("───"))
    first_cells = "".join(line.split()[0] for line in lines[rule + 1 :] if line.strip())
    assert long_name in first_cells and "row_seeded:k=2" in first_cells, stdout
    # Every column is there, whole, within the 80 columns (at 1M rows "MAE" printed as "MA").
    table = lines[rule - 2 :]  # the title above is one line of its own, however long its path
    assert "MAE" in table[1].split() and max(len(line) for line in table) <= 80, stdout


def test_a_table_of_wide_figures_keeps_every_column_whole_at_80_columns(capsys, monkeypatch):
    """Figures keep their width and the name column gives way (at 1M rows "1234.56" lost its "6")."""
    from showcase.cli import console

    monkeypatch.setenv("COLUMNS", "80")
    header = ["mechanism", "runs", "seconds", "expansion", "k-marginal", "preserved %", "fabricated %", "MAE"]
    rows = [["aggregate:k=10", "1", "12.3", "1.000", "998.1", "43.2", "0.0", "12.46"],
            ["unseeded:k=10", "5", "35.2", "1.000", "912.5 ± 12.3", "38.1", "0.0", "123.45"],
            ["dp:epsilon=4", "1", "10.1", "1.000", "850.2", "61.2", "12.3", "1234.56"]]  # fmt: skip
    console.table("Comparison", header, rows)
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80, lines
    rule = next(i for i, line in enumerate(lines) if line.strip().startswith("───"))
    assert lines[rule - 1].split()[1:] == ["runs", "seconds", "expansion", "k-marginal", "%", "%", "MAE"]
    body = [line.split() for line in lines[rule + 1 :] if line.strip()]
    cells = [line[1:] for line in body if len(line) > 1]
    assert cells == [row[1:4] + row[4].split() + row[5:] for row in rows], lines
    assert "".join(line[0] for line in body) == "".join(row[0] for row in rows), lines


def test_a_mechanism_that_cannot_run_is_reported_and_the_others_go_on(tmp_path, capsys):
    # At epsilon 0.001 the DP release of 12 records holds no pair and no records to synthesize.
    sensitive = write(tmp_path / "s.csv", SENSITIVE * 4)
    out = tmp_path / "cmp"
    specs = ["aggregate:k=2", "dp:epsilon=0.001"]
    code, _, stderr = compare(capsys, sensitive, out, specs, "-l", 2, "--seed", 3)
    assert code == 0 and "dp:epsilon=0.001 (run 1) could not run" in stderr
    document = json.loads((out / "comparison.json").read_text())
    assert [r["mechanism"] for r in document["summary"]] == ["aggregate:k=2"]
    assert [f["mechanism"] for f in document["failed"]] == ["dp:epsilon=0.001"]
    assert "Could not run" in (out / "report.html").read_text()
    code, _, stderr = compare(
        capsys, sensitive, tmp_path / "none", ["dp:epsilon=0.001"], "-l", 2, "--seed", 3
    )
    assert code == 2 and "no mechanism could run" in stderr and not (tmp_path / "none").exists()
