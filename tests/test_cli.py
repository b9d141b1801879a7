"""The command line: end to end, bad input, atomic output, help."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys

import pytest

from showcase.cli.main import app
from showcase.engine import __version__, read_parquet, read_tsv
from showcase.engine.jobs import aggregate as aggregate_job

from .conftest import as_dict
from .helpers import leftovers, run
from .test_count import WORKED


def test_aggregate_worked_example_end_to_end(tmp_path, capsys, worked_example):
    out = tmp_path / "release"
    code, stdout, stderr = run(capsys, "aggregate", worked_example, "-l", 3, "-k", 1, "-o", out)
    assert code == 0
    # Where the time went is told on the console (bench/linked_cases.py reads it), never in the release.
    assert re.search(r"Steps: read [\d.]+ s · count [\d.]+ s · write [\d.]+ s", stderr), stderr
    assert sorted(p.name for p in out.iterdir()) == ["aggregates.parquet", "aggregates.tsv", "metadata.json"]
    assert as_dict(read_parquet(out / "aggregates.parquet")) == WORKED
    assert as_dict(read_tsv(out / "aggregates.tsv")) == WORKED
    lines = (out / "aggregates.tsv").read_text().splitlines()
    assert lines[:2] == ["selections\tprotected_count", "record_count\t5"]
    assert "A:a1;B:b2;C:c1\t1" in lines
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["privacy"]["mechanism"] == "k-anonymity"
    assert meta["input"]["fingerprint"].startswith("hmac-sha256:")  # keyed, see test_release_privacy
    assert meta["statistics"]["combinations_by_length"] == [6, 8, 3]
    assert "records" in stdout and "length 3" in stdout


@pytest.mark.parametrize("command", ["aggregate", "synthesize", "run"])
def test_every_release_command_tells_where_its_time_went(tmp_path, capsys, worked_example, command):
    """The steps' times left metadata.json (they depend on the data); the console keeps them."""
    out = tmp_path / "release"
    code, _, stderr = run(capsys, command, worked_example, "-l", 2, "-k", 1, "-o", out, "--no-progress")
    assert code == 0, stderr
    assert re.search(r"Steps: read [\d.]+ s · .* · write [\d.]+ s", stderr), stderr
    assert "seconds" not in json.loads((out / "metadata.json").read_text())


def test_k_anonymous_release_and_rare_statistics(tmp_path, capsys, worked_example):
    out = tmp_path / "r"
    code, stdout, _ = run(capsys, "aggregate", worked_example, "-l", 3, "-k", 2, "-o", out, "--no-progress")
    assert code == 0
    released = as_dict(read_parquet(out / "aggregates.parquet"))
    assert released == {c: (n // 2) * 2 for c, n in WORKED.items() if n >= 2}
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["statistics"]["rare_combinations_by_length"] == [2, 5, 3]
    assert meta["aggregates"]["record_count"] == 4  # 5 rounded down to a multiple of 2


def test_unprotected_needs_the_flag_and_says_so(tmp_path, capsys, worked_example):
    out = tmp_path / "s"
    code, _, stderr = run(capsys, "aggregate", worked_example, "-k", 5, "-o", out, "--unprotected")
    assert code == 0
    assert "sensitive" in stderr.lower()
    assert sorted(p.name for p in out.iterdir()) == [
        "metadata.json",
        "sensitive_aggregates.parquet",
        "sensitive_aggregates.tsv",
    ]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["privacy"]["sensitive"] is True and "NONE" in meta["privacy"]["guarantee"]
    assert as_dict(read_parquet(out / "sensitive_aggregates.parquet")) == WORKED


def test_ingestion_options_reach_the_engine(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("A;B;Z\nx;N;0\nx;b;0\ny;b;1\n")
    out = tmp_path / "o"
    code, _, _ = run(capsys, "aggregate", data, "-l", 2, "-k", 1, "-o", out, "-d", ";", "--null-marker", "N",
                     "--sensitive-zeros", "Z", "--use-columns", "A,Z", "--record-limit", 2)  # fmt: skip
    assert code == 0
    got = as_dict(read_parquet(out / "aggregates.parquet"))
    assert got == {(("A", "x"),): 2, (("Z", "0"),): 2, (("A", "x"), ("Z", "0")): 2}


BAD = {
    "missing file": (None, [], "no such file"),
    "empty file": (b"", [], "empty"),
    "header only": (b"A,B\n", [], "no records"),
    "ragged rows": (b"A,B\n1,2\n3\n", [], "ragged"),
    "not utf-8": (b"A,B\n\xff,2\n", [], "UTF-8"),
    "duplicate columns": (b"A,A\n1,2\n", [], "duplicate"),
    "tab-separated .csv": (b"A\tB\n1\t2\n", [], "give --delimiter tab"),
    "name spanning lines": (b'"A\nB",C\n1,2\n', [], "unclosed quote"),
    "unknown use_columns": (b"A,B\n1,2\n", ["--use-columns", "A,Q"], "'Q'"),
    "L < 1": (b"A,B\n1,2\n", ["--length", "0"], "--length"),
    "K < 1": (b"A,B\n1,2\n", ["--resolution", "0"], "--resolution"),
    "bad delimiter": (b"A,B\n1,2\n", ["--delimiter", ",,"], "delimiter"),
    "unknown sensitive zeros": (b"A,B\n1,2\n", ["--sensitive-zeros", "C"], "in --sensitive-zeros"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, case):
    content, extra, message = BAD[case]
    data = tmp_path / "in.csv"
    if content is not None:
        data.write_bytes(content)
    out = tmp_path / "out"
    code, stdout, stderr = run(capsys, "aggregate", data, "-o", out, "--no-progress", *extra)
    assert code == 2
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), stderr
    assert message in lines[0]
    assert "Traceback" not in stderr + stdout
    assert not out.exists() and leftovers(tmp_path) == []


def test_existing_output_needs_force_and_force_replaces_only_a_release(tmp_path, capsys, worked_example):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    code, _, stderr = run(capsys, "aggregate", worked_example, "-o", out)
    assert code == 2 and "--force" in stderr
    code, _, stderr = run(capsys, "aggregate", worked_example, "-o", out, "--force", "-k", 1)
    assert code == 2 and "not a showcase release" in stderr and "keep.txt" in stderr
    assert (out / "keep.txt").read_text() == "old"
    release = tmp_path / "release"
    assert run(capsys, "aggregate", worked_example, "-o", release, "-k", 2)[0] == 0
    code, _, _ = run(capsys, "aggregate", worked_example, "-o", release, "--force", "-k", 1)
    assert code == 0
    assert json.loads((release / "metadata.json").read_text())["parameters"]["resolution"] == 1
    assert leftovers(tmp_path) == []


def test_failure_while_writing_leaves_nothing(tmp_path, capsys, worked_example, break_writer):
    break_writer(aggregate_job, "write_tsv")
    out = tmp_path / "out"
    code, _, stderr = run(capsys, "aggregate", worked_example, "-o", out)
    assert code in (1, 130) and "Error:" in stderr
    assert not out.exists() and leftovers(tmp_path) == []


def _leaf_commands(group, path=()) -> list[list[str]]:
    """The path of every command under the click ``group`` that is not itself a group."""
    found = []
    for name, command in group.commands.items():
        sub = getattr(command, "commands", None)
        found += _leaf_commands(command, (*path, name)) if sub else [[*path, name]]
    return found


def test_every_command_has_help_with_an_example(capsys):
    import typer

    commands = _leaf_commands(typer.main.get_command(app))
    assert len(commands) >= 13 and ["ledger", "show"] in commands
    for path in commands:
        code, stdout, _ = run(capsys, *path, "--help")
        assert code == 0
        assert "Example" in stdout and f"showcase {' '.join(path)} " in stdout, path
    code, stdout, _ = run(capsys, "--help")
    assert code == 0 and "showcase " in stdout
    assert app.info.name == "showcase"


def test_version(capsys):
    code, stdout, _ = run(capsys, "--version")
    assert code == 0 and stdout.strip() == f"showcase {__version__}"


def test_generate_then_aggregate_with_the_console_script(tmp_path):
    data = tmp_path / "cases.parquet"
    exe = [sys.executable, "-m", "showcase.cli.main"]
    done = subprocess.run(
        exe
        + [
            "datasets",
            "generate",
            "table",
            "--rows",
            "2000",
            "--columns",
            "6",
            "--seed",
            "5",
            "--out",
            str(data),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        exe + ["aggregate", str(data), "-l", "2", "-k", "5", "-o", str(tmp_path / "rel"), "--no-progress"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert read_parquet(tmp_path / "rel" / "aggregates.parquet").record_count == 2000
    again = subprocess.run(
        exe + ["datasets", "generate", "table", "--out", str(data)], capture_output=True, text=True
    )
    assert again.returncode == 2 and "--force" in again.stderr


@pytest.mark.parametrize("command", ["aggregate", "run", "synthesize"])
def test_an_error_before_any_work_is_the_only_line_even_with_progress_bars(tmp_path, capsys, command):
    code, out, stderr = run(capsys, command, tmp_path / "missing.csv", "-o", tmp_path / "o")
    assert code == 2 and out == ""
    assert stderr.startswith("Error:") and stderr.count("\n") == 1, repr(stderr)


@pytest.mark.parametrize("stream", [[], ["--stream"]])
def test_a_gzip_cut_short_is_one_line_in_memory_and_streamed(tmp_path, capsys, stream):
    # Over 1 MiB before the cut, so that the header, read from the first MiB, is whole.
    text = "A,B\n" + "".join(f"a{i % 997},b{i * 7919 % 1009}\n" for i in range(300_000))
    packed = gzip.compress(text.encode())
    data = tmp_path / "cases.csv.gz"
    data.write_bytes(packed[: len(packed) // 2])
    out = tmp_path / "out"
    code, _, stderr = run(capsys, "aggregate", data, "-l", 2, "-k", 2, "-o", out, "--no-progress", *stream)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "damaged or cut short" in lines[0], stderr
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("mistake", ["semicolons", "unknown column"])
def test_a_mistake_found_while_reading_is_the_only_line_even_with_progress_bars(tmp_path, capsys, mistake):
    # The reading bar has started (0 %) when these are found: it must not stay on screen above the error.
    data = tmp_path / "cases.csv"
    data.write_text("sex;age\nf;20\nm;30\n" if mistake == "semicolons" else "sex,age\nf,20\nm,30\n")
    extra = ["--use-columns", "sex,agee"] if mistake == "unknown column" else []
    code, out, stderr = run(capsys, "aggregate", data, *extra, "-o", tmp_path / "o")
    assert code == 2 and out == "" and not (tmp_path / "o").exists()
    assert stderr.startswith("Error:") and stderr.count("\n") == 1, repr(stderr)


def test_a_summary_title_stays_on_one_line_however_long_the_path(tmp_path, capsys, worked_example):
    # Rich wraps a table's title to the table's width: "written to .../out in" then "0.0 s" below it.
    out = tmp_path / ("a-long-folder-name-" * 3) / "release"
    out.parent.mkdir()
    code, stdout, _ = run(capsys, "aggregate", worked_example, "-k", "1", "-o", out, "--no-progress")
    assert code == 0
    first = stdout.splitlines()[0]
    assert first.startswith(f"Aggregates written to {out} in ") and first.endswith(" s"), stdout


@pytest.mark.parametrize("command", [["serve"], ["report", "--out", "r.html"]])
def test_a_release_that_is_not_there_is_named_so(tmp_path, capsys, monkeypatch, command):
    """``serve nosuch`` said "not a release directory", as if the folder held something else."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine\n")
    for folder, said in (("nosuch", "nosuch: no such folder"), ("mine", "mine: not a release directory")):
        code, _, stderr = run(capsys, command[0], folder, *command[1:])
        assert code == 2 and said in stderr, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


@pytest.mark.parametrize(
    "command", [["aggregate"], ["run"], ["synthesize", "--mode", "unseeded"], ["aggregate", "--unprotected"]]
)
def test_k_of_one_is_named_as_no_protection(tmp_path, capsys, worked_example, command):
    """``-k 1`` releases what one record holds alone: k-anonymity in name only, so it is said."""
    for k in ("1", "2"):
        out = tmp_path / f"{command[0]}-{len(command)}-{k}"
        argv = [*command[1:], "-k", k, "-o", out, "--no-progress"]
        code, _, stderr = run(capsys, command[0], worked_example, *argv)
        assert code == 0, stderr
        warned = "-k 1 protects nothing" in stderr
        assert warned == (k == "1" and "--unprotected" not in command), (k, stderr)
        # The release says so too, where it outlives the console: its metadata's guarantees.
        meta = json.loads((out / "metadata.json").read_text())
        stated = [meta["privacy"]["guarantee"], meta.get("synthesis", {}).get("guarantee", "")]
        unprotected = k == "1" or "--unprotected" in command
        assert all(text.startswith("NONE") for text in stated if text) == unprotected, stated


def test_values_a_spreadsheet_would_run_are_named_and_kept_as_they_are(tmp_path, capsys):
    """OWASP's CSV injection: the files keep every value exactly, and the command says which columns
    hold names or values that start like a formula; "-5" is a number, not a formula."""
    rows = ["sex,note,=cmd,n"] + [
        f"{'FM'[i % 2]},{['=1+2', '-5', 'ok'][i % 3]},a,-{i % 3}" for i in range(60)
    ]
    (tmp_path / "in.csv").write_text("\n".join(rows) + "\n")
    code, _, stderr = run(capsys, "run", tmp_path / "in.csv", "-k", "2", "-l", "2", "-o", tmp_path / "o",
                          "--no-progress")  # fmt: skip
    assert code == 0, stderr
    warnings = [line for line in stderr.splitlines() if "like a formula" in line]
    assert len(warnings) == 1 and "'note'" in warnings[0] and "'=cmd'" in warnings[0], stderr
    assert "'n'" not in warnings[0] and "'sex'" not in warnings[0]
    assert "=1+2" in (tmp_path / "o" / "synthetic.csv").read_text()  # kept exactly
    (tmp_path / "plain.csv").write_text("sex,n\n" + "F,-1\nM,2\n" * 20 + "F,=rare\n")  # k suppresses it
    code, _, stderr = run(capsys, "aggregate", tmp_path / "plain.csv", "-k", "2", "-l", "2",
                          "-o", tmp_path / "p", "--no-progress")  # fmt: skip
    assert code == 0 and "like a formula" not in stderr, stderr
