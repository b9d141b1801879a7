"""SIGTERM, SIGKILL and a second writer while a release is written or swapped in (issue #10).

The writer runs as a real process paused at a named point of the swap by the
test hook ``SHOWCASE_TEST_PAUSE_AT`` (see :mod:`showcase.engine.staging`);
the test kills it there and checks that ``--out`` holds the old or the new
release, complete, and that nothing is left beside it after the next run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from showcase.cli.main import main
from showcase.datasets import generate_table, write_table
from showcase.engine.release import is_release

from .helpers import leftovers

EXE = [sys.executable, "-m", "showcase.cli.main"]
OLD_K, NEW_K = 2, 1


@pytest.fixture
def setup(tmp_path, capsys):
    """An input, and an existing release of it (k = OLD_K) at tmp_path/release."""
    data = tmp_path / "in" / "cases.csv"
    data.parent.mkdir()
    write_table(generate_table(200, 3, seed=6), data)
    out = tmp_path / "release"
    assert main(["aggregate", str(data), "-k", str(OLD_K), "-l", "2", "-o", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    return data, out


def start_writer(data, out, point: str, **env) -> subprocess.Popen:
    """A writer replacing ``out`` (k = NEW_K) that stops at ``point`` and says so."""
    argv = EXE + [
        "aggregate",
        str(data),
        "-k",
        str(NEW_K),
        "-l",
        "2",
        "-o",
        str(out),
        "--force",
        "--no-progress",
    ]
    writer = subprocess.Popen(
        argv,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "SHOWCASE_TEST_PAUSE_AT": point, "SHOWCASE_TEST_PAUSE_SECONDS": "60", **env},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = writer.stderr.readline()
        if line.startswith(f"paused at {point}"):
            return writer
        if not line and writer.poll() is not None:
            break
    writer.kill()
    raise AssertionError(f"the writer never reached {point}")


def release_k(out) -> int:
    """The k of the complete release at ``out`` (fails if it is missing or incomplete)."""
    assert is_release(out), sorted(p.name for p in out.iterdir()) if out.exists() else "no --out"
    names = {p.name for p in out.iterdir()}
    assert names == {"aggregates.parquet", "aggregates.tsv", "metadata.json"}
    return json.loads((out / "metadata.json").read_text())["parameters"]["resolution"]


def finish(writer: subprocess.Popen) -> int:
    try:
        _, stderr = writer.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        writer.kill()
        raise
    writer.stderr_text = stderr
    return writer.returncode


CASES = [
    # (signal, point, forced two-rename swap, k expected at --out, exit status)
    (signal.SIGTERM, "staged", False, OLD_K, 143),
    (signal.SIGKILL, "staged", False, OLD_K, -9),
    (signal.SIGTERM, "swapped", False, NEW_K, 143),
    (signal.SIGKILL, "swapped", False, NEW_K, -9),
    (signal.SIGTERM, "aside", True, NEW_K, 143),
    (signal.SIGKILL, "aside", True, OLD_K, -9),
]


@pytest.mark.parametrize("sig,point,two_renames,expected,status", CASES)
def test_a_killed_swap_leaves_the_old_or_the_new_release(tmp_path, capsys, setup, sig, point, two_renames,
                                                         expected, status):  # fmt: skip
    data, out = setup
    writer = start_writer(data, out, point, **({"SHOWCASE_TEST_NO_EXCHANGE": "1"} if two_renames else {}))
    if not (two_renames and point == "aside"):
        assert release_k(out) in (OLD_K, NEW_K)  # at the pause itself
    writer.send_signal(sig)
    assert finish(writer) == status
    if sig == signal.SIGTERM:
        assert "Traceback" not in writer.stderr_text and "Error:" in writer.stderr_text
    if sig == signal.SIGKILL and point == "aside":
        assert not out.exists()  # the one gap of the two-rename swap: the next run restores it
    else:
        assert release_k(out) == expected
    if sig == signal.SIGKILL:
        # The next run (a new process) into the same folder restores or removes what was left.
        argv = EXE + ["aggregate", str(data), "-l", "1", "-o", str(tmp_path / "other"), "--no-progress"]
        assert subprocess.run(argv, capture_output=True, timeout=60).returncode == 0
    capsys.readouterr()
    assert release_k(out) == expected
    assert leftovers(tmp_path) == []


def test_sigterm_while_working_removes_the_staging_folder(tmp_path, setup):
    data, _ = setup
    out = tmp_path / "fresh"
    writer = start_writer(data, out, "staged")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".fresh.partial-")]
    writer.send_signal(signal.SIGTERM)
    assert finish(writer) == 143
    assert "terminated" in writer.stderr_text and "Traceback" not in writer.stderr_text
    assert not out.exists() and leftovers(tmp_path) == []


def test_a_second_writer_fails_fast_while_the_first_holds_the_output(tmp_path, capsys, setup):
    data, out = setup
    first = start_writer(data, out, "staged")
    try:
        started = time.monotonic()
        argv = EXE + ["aggregate", str(data), "-k", "3", "-o", str(out), "--force", "--no-progress"]
        second = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "another showcase process is writing" in lines[0]
        assert time.monotonic() - started < 50  # it did not wait for the first to finish
    finally:
        first.send_signal(signal.SIGTERM)
        finish(first)
    assert release_k(out) == OLD_K
    # Once the first is gone, the output is free again.
    assert (
        main(["aggregate", str(data), "-k", "3", "-l", "2", "-o", str(out), "--force", "--no-progress"]) == 0
    )
    capsys.readouterr()
    assert release_k(out) == 3 and leftovers(tmp_path) == []


def test_ctrl_c_swallowed_while_compiling_still_exits_130_and_leaves_nothing(tmp_path, capsys, setup,
                                                                            monkeypatch):  # fmt: skip
    from showcase.engine.jobs import synthesize as synthesize_job

    from .test_ledger_safety import swallowed_interrupt

    data, _ = setup
    monkeypatch.setattr(synthesize_job, "write_parquet", swallowed_interrupt)
    out = tmp_path / "fresh"
    code = main(["run", str(data), "-k", "2", "-l", "2", "-o", str(out), "--no-progress"])
    stderr = capsys.readouterr().err
    assert code == 130 and stderr.startswith("Error: interrupted; nothing was written"), stderr
    assert stderr.count("\n") == 1 and "RuntimeError" not in stderr
    assert not out.exists() and leftovers(tmp_path) == []
