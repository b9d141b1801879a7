"""Outputs never destroy data: --force, inputs, the output checked before work, I/O errors.

Each test is a regression test of a finding of issue #10, reproduced on the
code before the fix.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from showcase.datasets import generate_table, write_table
from showcase.engine.release import is_release

from .helpers import leftovers, run


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def cases(tmp_path):
    path = tmp_path / "cases.csv"
    write_table(generate_table(300, 4, seed=2), path)
    return path


def test_force_never_deletes_a_folder_that_is_not_a_release(tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.mkdir()
    data = victim / "cases.csv"
    write_table(generate_table(200, 3, seed=1), data)
    (victim / "notes.txt").write_text("my notes")
    code, _, stderr = run(capsys, "aggregate", data, "-o", victim, "--force", "--no-progress")
    assert code == 2
    assert "not a showcase release" in one_error_line(stderr)
    assert sorted(p.name for p in victim.iterdir()) == ["cases.csv", "notes.txt"]
    assert (victim / "notes.txt").read_text() == "my notes"


@pytest.mark.parametrize("command", ["cases", "table", "codebook", "report"])
def test_force_replaces_only_single_files_showcase_wrote(tmp_path, capsys, cases, command):
    # A single output file carries no metadata.json: --force must not replace an agency's own
    # cases/victims.csv (or codebook, or report), nor a generated one they edited since.
    release = tmp_path / "release"
    assert run(capsys, "run", cases, "-k", 5, "-l", 2, "-o", release, "--no-progress")[0] == 0
    target, argv = {
        "cases": (tmp_path / "d" / "victims.csv",
                  ["datasets", "generate", "cases", "--rows", 1000, "-s", 1, "--out", tmp_path / "d"]),
        "table": (tmp_path / "t.csv",
                  ["datasets", "generate", "table", "--rows", 50, "--out", tmp_path / "t.csv"]),
        "codebook": (tmp_path / "c.yaml", ["codebook", "infer", cases, "--out", tmp_path / "c.yaml"]),
        "report": (tmp_path / "r.html", ["report", release, "--out", tmp_path / "r.html"]),
    }[command]  # fmt: skip
    target.parent.mkdir(exist_ok=True)
    target.write_text("their own data\n")
    code, _, stderr = run(capsys, *argv, "--force")
    assert code == 2 and "not written by showcase" in one_error_line(stderr)
    assert target.read_text() == "their own data\n" and leftovers(target.parent) == []
    target.unlink()
    assert run(capsys, *argv)[0] == 0
    assert run(capsys, *argv, "--force")[0] == 0  # its own output: replaced
    with target.open("a") as edited:
        edited.write("a line of theirs\n")
    code, _, stderr = run(capsys, *argv, "--force")
    assert code == 2 and "changed since" in one_error_line(stderr)
    assert target.read_text().endswith("a line of theirs\n")


def test_force_refuses_a_release_folder_holding_another_file(tmp_path, capsys, cases):
    out = tmp_path / "release"
    assert run(capsys, "aggregate", cases, "-o", out, "--no-progress")[0] == 0
    assert is_release(out)
    (out / "mine.txt").write_text("added by hand")
    code, _, stderr = run(capsys, "aggregate", cases, "-o", out, "--force", "--no-progress")
    assert code == 2 and "mine.txt" in one_error_line(stderr)
    assert (out / "mine.txt").exists()


def test_force_never_replaces_a_release_holding_the_input(tmp_path, capsys, cases):
    release = tmp_path / "release"
    assert run(capsys, "run", cases, "-k", 5, "-l", 2, "-o", release, "--no-progress")[0] == 0
    synthetic = release / "synthetic.csv"
    code, _, stderr = run(capsys, "aggregate", synthetic, "-k", 5, "-o", release, "--force", "--no-progress")
    assert code == 2 and "would replace the input" in one_error_line(stderr)
    assert synthetic.exists()
    code, _, stderr = run(
        capsys, "synthesize", "--from-aggregates", release, "-o", release, "--force", "--no-progress"
    )
    assert code == 2 and "input" in one_error_line(stderr)
    assert (release / "aggregates.parquet").exists()


def test_output_in_the_current_folder_is_refused_before_any_work(tmp_path, capsys, cases, monkeypatch):
    monkeypatch.chdir(tmp_path)
    reads = []
    monkeypatch.setattr("showcase.engine.jobs.protect.load_input", lambda *a, **k: reads.append(a))
    for out in (".", str(tmp_path)):
        code, _, stderr = run(capsys, "aggregate", cases, "-o", out, "--force", "--no-progress")
        assert code == 2 and "current folder" in one_error_line(stderr)
    assert reads == []  # refused before the input was read
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.csv"]


def test_unwritable_output_is_refused_before_any_work(capsys, cases, monkeypatch):
    reads = []
    monkeypatch.setattr("showcase.engine.jobs.protect.load_input", lambda *a, **k: reads.append(a))
    # /proc refuses new files even to root, whom permission bits would not stop.
    code, _, stderr = run(capsys, "aggregate", cases, "-o", "/proc/showcase-out", "--no-progress")
    assert code == 2 and "cannot write in /proc" in one_error_line(stderr)
    assert reads == []


def test_generate_into_a_missing_folder_is_one_line(tmp_path, capsys):
    code, _, stderr = run(capsys, "datasets", "generate", "table", "-n", 10, "-o", tmp_path / "no" / "x.csv")
    assert code == 2 and "does not exist" in one_error_line(stderr)
    code, _, stderr = run(capsys, "datasets", "generate", "table", "-n", 10, "-o", tmp_path)
    assert code == 2 and "is a folder" in one_error_line(stderr)
    assert leftovers(tmp_path) == []


def test_user_text_is_never_read_as_markup(tmp_path, capsys, cases):
    missing = tmp_path / "[/x].csv"
    code, _, stderr = run(capsys, "aggregate", missing, "-o", tmp_path / "o", "--no-progress")
    assert code == 2 and "[/x].csv: no such file" in one_error_line(stderr)
    code, _, stderr = run(
        capsys, "aggregate", cases, "--use-columns", "[/x],[bold]", "-o", tmp_path / "o", "--no-progress"
    )
    assert code == 2 and "[/x]" in one_error_line(stderr)
    out = tmp_path / "[red]release[bold]"
    code, stdout, stderr = run(capsys, "aggregate", cases, "-o", out, "--no-progress")
    assert code == 0, stderr
    assert "[red]release[bold]" in stdout


@pytest.mark.parametrize(
    "extra,message",
    [
        (["-k", "99999999999999999999"], "resolution"),
        (["-l", "100"], "longer than the input's 4 columns"),
        (["--threads", "99999999999999999999"], "threads"),
        (["--record-limit", "99999999999999999999"], "--record-limit"),
    ],
)
def test_aggregate_numbers_are_bounded(tmp_path, capsys, cases, extra, message):
    out = tmp_path / "o"
    code, _, stderr = run(capsys, "aggregate", cases, "-o", out, "--no-progress", *extra)
    assert code == 2 and message in one_error_line(stderr)
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--aggregate-counts-scale-factor", "1e308"], "--aggregate-counts-scale-factor"),
        (["--aggregate-counts-scale-factor", "nan"], "--aggregate-counts-scale-factor"),
        (["--target-number-of-records", "99999999999999999999"], "--target-number-of-records"),
    ],
)
def test_synthesis_numbers_are_bounded(tmp_path, capsys, cases, extra, message):
    out = tmp_path / "o"
    code, _, stderr = run(capsys, "run", cases, "-k", 5, "-l", 2, "--mode", "aggregate_seeded", "-o", out,
                          "--no-progress", *extra)  # fmt: skip
    assert code == 2 and message in one_error_line(stderr)
    assert not out.exists()


def test_evaluate_of_a_damaged_parquet_release_is_one_line(tmp_path, capsys, cases):
    release = tmp_path / "release"
    assert run(capsys, "aggregate", cases, "-k", 5, "-l", 2, "-o", release, "--no-progress")[0] == 0
    damaged = release / "aggregates.parquet"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    code, _, stderr = run(capsys, "evaluate", cases, release, "-o", tmp_path / "ev", "--no-progress")
    assert code == 2 and "aggregates.parquet" in one_error_line(stderr)
    assert not (tmp_path / "ev").exists()


def test_evaluate_checks_its_output_before_reading(tmp_path, capsys, cases, monkeypatch):
    release = tmp_path / "release"
    assert run(capsys, "aggregate", cases, "-k", 5, "-l", 2, "-o", release, "--no-progress")[0] == 0
    monkeypatch.chdir(tmp_path)
    reads = []
    monkeypatch.setattr("showcase.engine.jobs.evaluate.load_input", lambda *a, **k: reads.append(a))
    code, _, stderr = run(capsys, "evaluate", cases, release, "-l", 2, "-o", ".", "--no-progress")
    assert code == 2 and "current folder" in one_error_line(stderr)
    assert reads == []


def test_stale_staging_folders_are_removed_by_the_next_run_into_the_folder(tmp_path, capsys, cases):
    an_hour_ago = time.time() - 3600
    stale = []
    for name in (".release.partial-0123456789ab", ".other.partial-0123456789ab"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "aggregates.tsv").write_text("half")
        os.utime(tmp_path / name, (an_hour_ago, an_hour_ago))
        stale.append(tmp_path / name)
    (tmp_path / ".other.lock").write_text("")  # left by a writer killed with SIGKILL
    live = tmp_path / ".third.partial-0123456789ab"  # changed after this process started: kept
    live.mkdir()
    assert run(capsys, "aggregate", cases, "-o", tmp_path / "release", "--no-progress")[0] == 0
    assert not any(path.exists() for path in stale)
    assert leftovers(tmp_path) == [".third.partial-0123456789ab"]


def test_k_anonymous_metadata_never_holds_the_seed(tmp_path, capsys, cases):
    for command, extra in (("run", []), ("synthesize", ["--mode", "unseeded"])):
        out = tmp_path / command
        code, _, stderr = run(capsys, command, cases, "-k", 5, "-l", 2, "--seed", 424242, "-o", out,
                              "--no-progress", *extra)  # fmt: skip
        assert code == 0, stderr
        text = (out / "metadata.json").read_text()
        assert "424242" not in text
        assert json.loads(text)["randomness"]["seeded"] is True


@pytest.mark.skipif(os.geteuid() == 0, reason="permission bits do not stop root from reading")
def test_an_unreadable_input_is_one_line_before_any_work(tmp_path, capsys, cases):
    cases.chmod(0)
    try:
        code, stdout, stderr = run(capsys, "aggregate", cases, "-o", tmp_path / "o")  # progress bars on
    finally:
        cases.chmod(0o600)
    assert code == 2 and stdout == ""
    assert "permission denied" in one_error_line(stderr)
    assert stderr.count("\n") == 1  # no progress bar was drawn before the error
    assert not (tmp_path / "o").exists() and leftovers(tmp_path) == []


def test_force_names_the_symbolic_link_that_makes_a_folder_foreign(tmp_path, capsys, cases):
    out = tmp_path / "release"
    assert run(capsys, "aggregate", cases, "-k", 5, "-l", 2, "-o", out, "--no-progress")[0] == 0
    mine = tmp_path / "mine.tsv"
    mine.write_text("precious")
    (out / "aggregates.tsv").unlink()
    (out / "aggregates.tsv").symlink_to(mine)
    code, _, stderr = run(capsys, "aggregate", cases, "-k", 5, "-l", 2, "-o", out, "--force", "--no-progress")
    assert code == 2 and "aggregates.tsv (a symbolic link)" in one_error_line(stderr)
    assert mine.read_text() == "precious" and (out / "aggregates.tsv").is_symlink()


def test_force_says_a_folder_of_release_files_lacks_its_metadata(tmp_path, capsys, cases):
    out = tmp_path / "release"
    assert run(capsys, "aggregate", cases, "-k", 5, "-l", 2, "-o", out, "--no-progress")[0] == 0
    (out / "metadata.json").unlink()
    code, _, stderr = run(capsys, "aggregate", cases, "-k", 5, "-l", 2, "-o", out, "--force", "--no-progress")
    assert code == 2 and "it has no metadata.json" in one_error_line(stderr)
    assert sorted(p.name for p in out.iterdir()) == ["aggregates.parquet", "aggregates.tsv"]


def test_evaluate_longer_than_the_release_says_which_length_fits(tmp_path, capsys, cases):
    release = tmp_path / "release"
    assert run(capsys, "aggregate", cases, "-k", 5, "-l", 2, "-o", release, "--no-progress")[0] == 0
    code, _, stderr = run(capsys, "evaluate", cases, release, "-o", tmp_path / "ev", "--no-progress")
    assert code == 2 and "give --length 2 or less" in one_error_line(stderr)
    assert not (tmp_path / "ev").exists()
    # Refused from the release's own metadata, before the sensitive data is read or counted
    # (at 10M rows the counting bar stood at 50 % above the error).
    from showcase.engine import ParameterError, evaluate

    stages: list[str] = []
    for file in ("aggregates.parquet", "aggregates.tsv"):
        with pytest.raises(ParameterError, match="give --length 2 or less"):
            evaluate(cases, release / file, length=3, resolution=5, out=tmp_path / "ev",
                     progress=lambda stage, done, total: stages.append(stage))  # fmt: skip
    assert stages == [] and not (tmp_path / "ev").exists()


@pytest.mark.parametrize("length", [240, 300])  # 240 fits alone, not in the staging name .NAME.partial-*
def test_an_output_name_too_long_is_refused_before_any_work(tmp_path, capsys, cases, monkeypatch, length):
    reads = []
    monkeypatch.setattr("showcase.engine.jobs.protect.load_input", lambda *a, **k: reads.append(a))
    out = tmp_path / ("x" * length)
    code, _, stderr = run(capsys, "aggregate", cases, "-o", out, "--no-progress")
    assert code == 2 and f"is {length} bytes long" in one_error_line(stderr)
    code, _, stderr = run(capsys, "datasets", "generate", "table", "-n", 10, "-o", f"{out}.csv")
    assert code == 2 and "choose a shorter name" in one_error_line(stderr)
    assert reads == [] and sorted(p.name for p in tmp_path.iterdir()) == ["cases.csv"]


def test_an_input_name_too_long_for_the_file_system_is_one_line(tmp_path, capsys):
    code, _, stderr = run(capsys, "aggregate", tmp_path / ("x" * 300 + ".csv"), "-o", tmp_path / "o")
    assert code == 2 and "too long" in one_error_line(stderr).lower()


# --- findings of a review in session 19: links, files named like showcase's, sensitive kinds ---


def test_force_never_replaces_an_input_reached_through_a_link_into_the_output(tmp_path, capsys, cases):
    out = tmp_path / "r"
    assert run(capsys, "run", cases, "-k", 2, "-l", 2, "-o", out, "--no-progress")[0] == 0
    records = out / "synthetic.csv"  # a file of the release, read back as an input
    kept = records.read_bytes()
    (tmp_path / "link").symlink_to(out)
    (tmp_path / "file-link.csv").symlink_to(records)
    for given in (tmp_path / "link" / "synthetic.csv", tmp_path / "file-link.csv"):
        code, _, stderr = run(
            capsys, "aggregate", given, "-k", 2, "-l", 2, "-o", out, "--force", "--no-progress"
        )
        assert code == 2 and "would replace the input" in one_error_line(stderr)
        assert records.read_bytes() == kept


def test_a_ledger_reached_through_a_link_into_the_output_is_never_replaced(tmp_path, capsys, cases):
    out = tmp_path / "r"
    assert run(capsys, "aggregate", cases, "-k", 2, "-l", 2, "-o", out, "--no-progress")[0] == 0
    (tmp_path / "link").symlink_to(out)
    ledger = tmp_path / "link" / "ledger.sqlite"
    argv = ["aggregate", cases, "-l", 2, "--dp", "--epsilon", 1, "--ledger", ledger, "-o", out, "--force"]
    code, _, stderr = run(capsys, *argv, "--no-progress")
    assert code == 2 and "would replace the input" in one_error_line(stderr)
    assert not (out / "ledger.sqlite").exists()  # refused before anything was charged


def test_force_keeps_a_users_file_that_the_release_metadata_does_not_list(tmp_path, capsys, cases):
    out = tmp_path / "r"
    assert run(capsys, "aggregate", cases, "-k", 2, "-l", 2, "-o", out, "--no-progress")[0] == 0
    (out / "synthetic.csv").write_text("mine\n")  # an aggregates release never writes synthetic.csv
    code, _, stderr = run(capsys, "aggregate", cases, "-k", 2, "-l", 2, "-o", out, "--force", "--no-progress")
    assert code == 2 and "synthetic.csv (not listed in its metadata)" in one_error_line(stderr)
    assert (out / "synthetic.csv").read_text() == "mine\n"
    assert not is_release(out)


@pytest.mark.parametrize("command", ["prepare", "evaluate", "compare"])
def test_force_never_puts_sensitive_files_in_place_of_a_release(tmp_path, capsys, cases, command):
    out, synthetic = tmp_path / "public", tmp_path / "s"
    assert run(capsys, "run", cases, "-k", 2, "-l", 2, "-o", synthetic, "--no-progress")[0] == 0
    assert run(capsys, "aggregate", cases, "-k", 2, "-l", 2, "-o", out, "--no-progress")[0] == 0
    before = sorted(p.name for p in out.iterdir())
    argv = {
        "prepare": ["prepare", cases],
        "evaluate": ["evaluate", cases, synthetic, "-l", 2],
        "compare": ["compare", cases, "-l", 2, "-m", "aggregate:k=5"],
    }[command]
    code, _, stderr = run(capsys, *argv, "-o", out, "--force")
    assert code == 2 and "as sensitive as the input" in one_error_line(stderr)
    assert sorted(p.name for p in out.iterdir()) == before


def test_a_report_file_is_never_written_into_a_release(tmp_path, capsys, cases):
    release = tmp_path / "r"
    assert run(capsys, "run", cases, "-k", 2, "-l", 2, "-o", release, "--no-progress")[0] == 0
    before = sorted(p.name for p in release.iterdir())
    code, _, stderr = run(capsys, "report", release, "-o", release / "report.html")
    assert code == 2 and "inside the showcase output folder" in one_error_line(stderr)
    assert sorted(p.name for p in release.iterdir()) == before and is_release(release)
