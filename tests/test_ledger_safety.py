"""The privacy ledger never loses budget and never starts afresh by accident (issue #10).

Each test checks the ledger's rows: no row for a release refused before the
charge, a 'failed' row with its reason for one that failed after it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from showcase.datasets import generate_table, write_table
from showcase.engine import ParameterError
from showcase.engine.dp.ledger import Ledger, Spent
from showcase.engine.jobs import aggregate as aggregate_job
from showcase.engine.jobs import skeleton
from showcase.engine.jobs import synthesize as synthesize_job

from .helpers import run
from .test_output_safety import one_error_line


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    path = tmp_path / "ledger.sqlite"
    monkeypatch.setenv("SHOWCASE_LEDGER", str(path))
    return path


@pytest.fixture
def cases(tmp_path):
    path = tmp_path / "cases.csv"
    write_table(generate_table(400, 4, seed=3), path)
    return path


def rows(path) -> list[tuple]:
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return db.execute("SELECT status, epsilon, reason FROM releases ORDER BY id").fetchall()


def dp(capsys, command, data, out, *extra):
    return run(capsys, command, data, "--dp", "--epsilon", 1, "-o", out, "--seed", 1, "--no-progress", *extra)


def test_run_dp_into_an_unwritable_folder_charges_nothing(tmp_path, capsys, cases, ledger):
    code, _, stderr = dp(capsys, "run", cases, "/proc/showcase-dp-out")
    assert code == 2 and "cannot write" in one_error_line(stderr)
    assert rows(ledger) == []


def test_run_dp_on_one_column_charges_nothing(tmp_path, capsys, ledger):
    data = tmp_path / "one.csv"
    data.write_text("A\n" + "\n".join("xyz"[i % 3] for i in range(300)) + "\n")
    code, _, stderr = dp(capsys, "run", data, tmp_path / "o")
    assert code == 2 and "1 column" in one_error_line(stderr)
    assert rows(ledger) == [] and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--percentile", "nan"], "percentile"),
        (["--percentile", "200"], "percentile"),
        (["-l", "3", "--thresholds", "nan,1"], "thresholds"),
        (["-l", "100"], "longer than the input's 4 columns"),
        (["--budget-total", "inf"], "budget total"),
        (["--delta", "1e-300"], "delta"),
    ],
)
def test_aggregate_dp_typos_charge_nothing(tmp_path, capsys, cases, ledger, extra, message):
    code, _, stderr = dp(capsys, "aggregate", cases, tmp_path / "o", *extra)
    assert code == 2 and message in one_error_line(stderr)
    assert rows(ledger) == []


@pytest.mark.parametrize("epsilon", ["1e308", "1e-300", "nan", "inf"])
def test_extreme_epsilon_is_refused_and_never_recorded(tmp_path, capsys, cases, ledger, epsilon):
    code, _, stderr = run(capsys, "aggregate", cases, "--dp", "--epsilon", epsilon, "-o", tmp_path / "o",
                          "--no-progress")  # fmt: skip
    assert code == 2 and "epsilon" in one_error_line(stderr)
    assert rows(ledger) == []


def test_a_failure_after_the_charge_is_recorded_failed_and_said(tmp_path, capsys, cases, ledger, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(synthesize_job, "write_parquet", broken)
    code, _, stderr = dp(capsys, "run", cases, tmp_path / "o")
    line = one_error_line(stderr)
    assert code == 1 and "No space left" in line and "stays spent" in line and "recorded as failed" in line
    assert [(status, epsilon) for status, epsilon, _ in rows(ledger)] == [("failed", 1.0)]
    assert "OSError" in rows(ledger)[0][2]
    assert not (tmp_path / "o").exists()


def test_released_only_once_the_directory_is_in_place(tmp_path, capsys, cases, ledger, monkeypatch):
    seen = []
    original = skeleton.staged_directory

    def watching(out, force=False):
        seen.append(rows(ledger))  # the ledger as the directory is about to be written
        return original(out, force)

    monkeypatch.setattr(skeleton, "staged_directory", watching)
    code, _, stderr = dp(capsys, "run", cases, tmp_path / "o")
    assert code == 0, stderr
    assert [r[0] for r in seen[0]] == ["charged"]
    assert [r[0] for r in rows(ledger)] == ["released"]


def test_a_new_ledger_says_where_it_was_created(tmp_path, capsys, cases, ledger):
    code, _, stderr = dp(capsys, "aggregate", cases, tmp_path / "a", "-l", 1)
    assert code == 0 and f"created a new privacy ledger at {ledger}" in " ".join(stderr.split())
    code, _, stderr = dp(capsys, "aggregate", cases, tmp_path / "b", "-l", 1)
    assert code == 0 and "created a new privacy ledger" not in stderr
    assert [r[0] for r in rows(ledger)] == ["released", "released"]


def _spend(capsys, cases, tmp_path, name):
    return dp(capsys, "aggregate", cases, tmp_path / name, "-l", 1, "--budget-total", 1.5)


CORRUPTIONS = {
    "truncated to 0 bytes": (lambda p: p.write_bytes(b""), "empty"),
    "table dropped": (lambda p: _sql(p, "DROP TABLE releases"), "no releases table"),
    "rows deleted": (lambda p: _sql(p, "DELETE FROM releases"), "rows were deleted"),
    "schema version changed": (lambda p: _sql(p, "PRAGMA user_version = 99"), "schema version 99"),
    "another file": (lambda p: p.write_bytes(b"not a database at all" * 100), "cannot be read"),
}


def _sql(path, statement):
    with sqlite3.connect(path) as db:
        db.execute(statement)


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_a_damaged_ledger_is_refused_not_restarted(tmp_path, capsys, cases, ledger, case):
    assert _spend(capsys, cases, tmp_path, "first")[0] == 0
    damage, message = CORRUPTIONS[case]
    damage(ledger)
    before = ledger.read_bytes()
    code, _, stderr = _spend(capsys, cases, tmp_path, "second")
    assert code == 2 and message in one_error_line(stderr) and "will not start a new budget" in stderr
    assert not (tmp_path / "second").exists()
    assert ledger.read_bytes() == before  # left for the user to restore
    code, _, stderr = run(capsys, "ledger", "show")
    assert code == 2 and message in one_error_line(stderr)


def test_the_first_ledger_format_is_upgraded_with_its_spending(tmp_path, capsys, cases, ledger):
    with sqlite3.connect(ledger) as db:
        db.executescript(
            "CREATE TABLE releases (id INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint TEXT NOT NULL, "
            "created TEXT NOT NULL, epsilon REAL NOT NULL, delta REAL NOT NULL, rho REAL, "
            "status TEXT NOT NULL, parameters TEXT NOT NULL);"
        )
        from showcase.engine.ingest import fingerprint

        db.execute("INSERT INTO releases (fingerprint, created, epsilon, delta, status, parameters) "
                   "VALUES (?, 'then', 1.0, 0, 'released', '{}')", (fingerprint(cases),))  # fmt: skip
    code, _, stderr = _spend(capsys, cases, tmp_path, "second")
    assert code == 2 and "budget exceeded" in one_error_line(stderr)
    assert Ledger(ledger).spent(fingerprint(cases)).epsilon == 1.0


def test_dataset_id_shares_one_budget_across_file_versions(tmp_path, capsys, cases, ledger):
    edited = tmp_path / "edited.csv"
    edited.write_text(cases.read_text() + cases.read_text().splitlines()[1] + "\n")
    args = ["-l", 1, "--budget-total", 1.5, "--dataset-id", "cases-2024"]
    assert dp(capsys, "aggregate", cases, tmp_path / "a", *args)[0] == 0
    code, _, stderr = dp(capsys, "aggregate", edited, tmp_path / "b", *args)
    assert code == 2 and "budget exceeded" in one_error_line(stderr)
    # Without the name, the edited file is a new input with a budget of its own.
    assert dp(capsys, "aggregate", edited, tmp_path / "c", "-l", 1, "--budget-total", 1.5)[0] == 0
    code, stdout, _ = run(capsys, "ledger", "show", "--dataset-id", "cases-2024")
    assert code == 0 and "cases-2024: 1 release(s), ε spent 1" in stdout
    # A budget with no release yet: one line saying so, not a table of headers over nothing.
    code, stdout, _ = run(capsys, "ledger", "show", "--dataset-id", "never-released")
    assert code == 0 and "budget" not in stdout and "status" not in stdout, stdout
    assert "no release is recorded for never-released" in stdout, stdout


SHOW_EACH = """
import sys
from showcase.cli.main import main
for target in sys.argv[2:]:
    for argv in (["--ledger", target], [target, "--ledger", sys.argv[1]]):
        print(main(["ledger", "show", *argv]), flush=True)
"""


def test_ledger_show_on_a_non_file_is_one_line_and_never_hangs(tmp_path):
    folder, fifo = tmp_path / "folder", tmp_path / "fifo"
    folder.mkdir()
    os.mkfifo(fifo)
    targets = [str(folder), str(fifo), "/dev/zero"]
    Ledger(tmp_path / "l.sqlite").charge("sha256:other", 0.1, 1e-6)  # a ledger there: the input is read
    # In a process of its own, with a timeout: on a FIFO or /dev/zero a read would never end.
    done = subprocess.run([sys.executable, "-c", SHOW_EACH, str(tmp_path / "l.sqlite"), *targets],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.stdout.split() == ["2"] * 6, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    # An empty folder as the input is a folder of parts with none in it.
    assert len(lines) == 6 and all(
        line.startswith("Error:") and ("not a regular file" in line or "no non-empty input files" in line)
        for line in lines
    )
    assert "Traceback" not in done.stderr


def test_a_budget_total_below_epsilon_is_refused_without_creating_a_ledger(tmp_path, capsys, cases, ledger):
    code, _, stderr = dp(capsys, "aggregate", cases, tmp_path / "o", "--budget-total", 0.5)
    assert code == 2 and "above the budget total 0.5" in one_error_line(stderr)
    assert not ledger.exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", ["run", "aggregate"])
def test_an_input_refused_after_reading_creates_no_ledger(tmp_path, capsys, ledger, command):
    # Two columns and the default length 3 of run (and an explicit -l 3): refused once the input is read.
    data = tmp_path / "two.csv"
    data.write_text("A,B\n" + "\n".join(f"{'xyz'[i % 3]},{'uv'[i % 2]}" for i in range(300)) + "\n")
    code, _, stderr = dp(capsys, command, data, tmp_path / "o", "-l", 3)
    assert code == 2 and "longer than the input's 2 columns" in one_error_line(stderr)
    assert not ledger.exists() and not (tmp_path / "o").exists()


def test_a_signal_swallowed_in_a_callback_is_recorded_as_an_interruption(tmp_path, capsys, cases, ledger,
                                                                         monkeypatch):  # fmt: skip
    monkeypatch.setattr(synthesize_job, "write_parquet", swallowed_interrupt)
    code, _, stderr = dp(capsys, "run", cases, tmp_path / "o")
    line = one_error_line(stderr)
    assert code == 130 and "interrupted; nothing was written" in line and "recorded as failed" in line
    assert rows(ledger) == [("failed", 1.0, "interrupted")]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", ["run", "aggregate"])
def test_ctrl_c_after_the_charge_says_the_budget_stays_spent(tmp_path, capsys, cases, ledger, monkeypatch,
                                                             command):  # fmt: skip
    # A plain Ctrl-C (KeyboardInterrupt raised in Python code, as after a long Numba call): Typer turns it
    # into exit status 130, and the ledger's note on the exception must still reach the one error line.
    monkeypatch.setattr(aggregate_job, "write_parquet", plain_interrupt)
    code, _, stderr = dp(capsys, command, cases, tmp_path / "o")
    line = one_error_line(stderr)
    assert code == 130 and "interrupted; nothing was written" in line
    assert "stays spent" in line and "recorded as failed" in line
    assert rows(ledger) == [("failed", 1.0, "interrupted")]
    assert not (tmp_path / "o").exists()


def plain_interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def swallowed_interrupt(*args, **kwargs):
    """What Numba does when Ctrl-C lands while it compiles: the handler's exception is lost in a ctypes
    callback, and compiling then fails with an error of its own."""
    import ctypes

    from showcase.engine import interrupts

    # ctypes reports the callback's exception as unraisable ("Exception ignored ...") and goes on.
    ctypes.CFUNCTYPE(None)(lambda: interrupts._handler(signal.SIGINT, None))()
    raise RuntimeError("no compiled object yet for <Library 'best_move'>")


# --- the Ledger's own accounting ---------------------------------------------------------------


def test_the_same_file_bytes_share_one_budget_whatever_the_key(tmp_path):
    book = Ledger(tmp_path / "ledger.sqlite")
    book.charge("sha256:f", 0.8, 1e-6, key="dataset:a", budget_total=1.0)
    # Another name for the same bytes gets no fresh budget; other bytes under another name do.
    with pytest.raises(ParameterError, match="budget exceeded"):
        book.charge("sha256:f", 0.5, 1e-6, key="dataset:b", budget_total=1.0)
    book.charge("sha256:g", 0.5, 1e-6, key="dataset:b", budget_total=1.0)
    with pytest.raises(ParameterError, match="budget exceeded"):
        book.charge("sha256:h", 0.6, 1e-6, key="dataset:b", budget_total=1.0)


def test_a_dataset_counts_its_versions_released_without_its_name(tmp_path):
    """v1 released under the dataset's name and once without it, then v2 under the name: the people
    of v1 carry all three. The name's total counted only the rows charged to it."""
    book = Ledger(tmp_path / "ledger.sqlite")
    book.charge("sha256:v1", 1.0, 1e-6, key="dataset:cases", budget_total=2.0)
    book.charge("sha256:v1", 1.0, 1e-6, budget_total=2.0)
    with pytest.raises(ParameterError, match="budget exceeded"):
        book.charge("sha256:v2", 1.0, 1e-6, key="dataset:cases", budget_total=2.0)
    assert book.spent("dataset:cases", "sha256:v2").epsilon == 2.0
    # What ledger show lists is what it counts: the unnamed release of v1 too.
    assert [e["budget_key"] for e in book.entries("dataset:cases")] == ["dataset:cases", "sha256:v1"]
    assert len(book.entries("dataset:cases")) == book.spent("dataset:cases").releases
    # The reverse: bytes released without a name count what their dataset spent under it.
    other = Ledger(tmp_path / "other.sqlite")
    other.charge("sha256:v2", 1.0, 1e-6, key="dataset:cases")
    other.charge("sha256:v1", 1.0, 1e-6, key="dataset:cases")
    assert other.spent("sha256:v1", "sha256:v1").epsilon == 2.0
    assert len(other.entries(None, "sha256:v1")) == 2


def test_settling_touches_only_the_entry_as_it_was_charged(tmp_path):
    """A ledger replaced during a release (a restored backup, a sync) holds another entry under the
    same id, or none: settling must refuse, not rewrite it or lose the charge without a word."""
    book = Ledger(tmp_path / "ledger.sqlite")
    mine = book.charge("sha256:f", 0.5, 1e-6)
    book.settle(mine, "failed", reason="killed", fingerprint="sha256:f")
    with pytest.raises(ParameterError, match="no longer this release's charge"):
        book.settle(mine, "released", 0.1, fingerprint="sha256:f")  # already settled
    assert book.entries()[0]["status"] == "failed" and book.entries()[0]["reason"] == "killed"
    theirs = book.charge("sha256:g", 0.5, 1e-6)
    with pytest.raises(ParameterError, match="no longer this release's charge"):
        book.settle(theirs, "released", 0.1, fingerprint="sha256:f")  # another input's entry
    with pytest.raises(ParameterError, match="no longer this release's charge"):
        book.raise_delta(99, 1e-3, fingerprint="sha256:f")  # no such entry
    book.settle(theirs, "released", 0.1, fingerprint="sha256:g")
    assert book.entries()[1]["status"] == "released"


def test_a_refused_charge_records_nothing(tmp_path):
    book = Ledger(tmp_path / "ledger.sqlite")
    book.charge("sha256:f", 0.7, 1e-6, budget_total=1.0)
    with pytest.raises(ParameterError, match="budget exceeded"):
        book.charge("sha256:f", 0.4, 1e-6, budget_total=1.0)
    assert book.spent("sha256:f") == Spent(1, 0.7, 1e-6)
    assert [e["epsilon"] for e in book.entries()] == [0.7]
    book.charge("sha256:f", 0.3, 1e-6, budget_total=1.0)  # what is left still fits


def test_raise_delta_only_ever_raises_it(tmp_path):
    book = Ledger(tmp_path / "ledger.sqlite")
    release = book.charge("sha256:f", 0.5, 1e-7)
    book.raise_delta(release, 1e-5)
    book.raise_delta(release, 1e-9)
    assert book.entries()[0]["delta"] == 1e-5


def test_a_ledger_in_a_missing_folder_is_refused_before_any_work(tmp_path, capsys, cases, ledger):
    """A mistyped --ledger would start a new, empty budget in a new folder: refused, nothing made."""
    typo = tmp_path / "ledgers-typo" / "ledger.sqlite"
    code, _, stderr = dp(capsys, "aggregate", cases, tmp_path / "a", "--ledger", typo)
    assert code == 2 and "does not exist" in one_error_line(stderr)
    assert not typo.parent.exists() and not (tmp_path / "a").exists()
    (tmp_path / "ledgers").mkdir()  # the folder exists: a new ledger is made there, as before
    code, _, stderr = dp(
        capsys, "aggregate", cases, tmp_path / "b", "--ledger", tmp_path / "ledgers" / "l.sqlite"
    )
    assert code == 0 and (tmp_path / "ledgers" / "l.sqlite").exists()


def test_a_dataset_name_is_one_budget_however_its_letters_are_encoded():
    from showcase.engine import dataset_key

    assert dataset_key("caf\u00e9") == dataset_key("cafe\u0301") == dataset_key(" caf\u00e9 ")


def test_the_same_parts_share_one_budget_however_they_are_named(tmp_path, capsys, ledger, monkeypatch):
    """A folder, a glob, an absolute glob typed from elsewhere: one input to the ledger. The paths
    as typed were part of the fingerprint, so each spelling got a fresh budget."""
    parts = tmp_path / "data" / "parts"
    parts.mkdir(parents=True)
    table = generate_table(600, 4, seed=3)
    write_table(table.slice(0, 300), parts / "a.csv")
    write_table(table.slice(300), parts / "b.csv")
    monkeypatch.chdir(tmp_path / "data")
    code, _, stderr = dp(capsys, "aggregate", "parts", tmp_path / "o1", "-l", 1, "--budget-total", 1.5)
    assert code == 0, stderr
    for spelling in ("parts/*.csv", str(parts / "*.csv"), "./parts"):
        code, _, stderr = dp(capsys, "aggregate", spelling, tmp_path / "o2", "-l", 1, "--budget-total", 1.5)
        assert code == 2 and "budget exceeded" in stderr, (spelling, stderr)
    for spelling in ("parts", "parts/*.csv"):
        code, stdout, stderr = run(capsys, "ledger", "show", spelling)
        assert code == 0 and "released" in stdout, (spelling, stdout, stderr)
    # A folder holding one file is that file.
    (parts / "b.csv").unlink()
    code, _, stderr = dp(capsys, "aggregate", "parts", tmp_path / "o3", "-l", 1)
    assert code == 0, stderr
    code, stdout, _ = run(capsys, "ledger", "show", parts / "a.csv")
    assert code == 0 and stdout.count("released") == 1, stdout
