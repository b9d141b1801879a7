"""Where compiled kernels are cached: one folder per engine source version."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from showcase.engine.config import ENGINE_ROOT, max_threads, source_stamp

SHOW_CACHE = "import numba, showcase.engine.count; print(numba.config.CACHE_DIR)"  # loads the kernels


def cache_dir_in(env: dict) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SHOW_CACHE], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_stamp_changes_with_any_source_file(tmp_path):
    copy = tmp_path / "engine"
    shutil.copytree(ENGINE_ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = source_stamp(copy)
    assert before == source_stamp(ENGINE_ROOT)
    kernel = copy / "kernels" / "support.py"
    kernel.write_text(kernel.read_text() + "\n# changed\n")
    assert source_stamp(copy) != before


def test_kernels_are_cached_per_source_version(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    assert cache_dir_in(env) == str(tmp_path / "showcase" / "numba" / source_stamp())
    # A cache folder chosen by the user wins.
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")
    assert cache_dir_in(env) == str(tmp_path / "mine")


def test_an_unwritable_cache_folder_leaves_numba_default(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(blocked)
    assert cache_dir_in(env) == ""


def test_the_suite_runs_kernels_on_at_least_two_threads():
    # Thread-independence tests compare threads(1) with threads(2); conftest makes sure
    # Numba has 2 even on a 1-core machine, so those tests never compare a run with itself.
    assert max_threads() >= 2
