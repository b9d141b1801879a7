"""What the command-line tests share: run a command, list what a failed write left behind."""

from __future__ import annotations

from pathlib import Path


def run(capsys, *argv) -> tuple[int, str, str]:
    """``showcase ARGV``, every argument as a string: its exit code, stdout and stderr."""
    # Imported here, so that a test module of the engine can import this one without the CLI.
    from showcase.cli.main import main

    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def compare(capsys, sensitive: Path, out: Path, mechanisms: list[str], *options) -> tuple[int, str, str]:
    """``showcase compare SENSITIVE -m SPEC ... -o OUT OPTIONS --no-progress``, as ``run`` returns it."""
    specs = [arg for spec in mechanisms for arg in ("-m", spec)]
    return run(capsys, "compare", sensitive, *specs, "-o", out, *options, "--no-progress")


def leftovers(folder: Path) -> list[str]:
    """The hidden entries of ``folder``: the partial files and folders of a write that did not finish."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
