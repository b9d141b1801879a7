"""README.md: its Python examples run as written, in the folder of the quick start (on smaller data)."""

from __future__ import annotations

import re
from pathlib import Path

from .helpers import run as cli

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    """The README's ```python blocks, in order."""
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_readme_python_examples_run_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    text = README.read_text(encoding="utf-8")
    # The quick start's folder (smaller): cases/ and release/, then the table the API section names.
    assert "showcase datasets generate cases --rows 100000 --seed 1 --out cases" in text
    assert cli(capsys, "datasets", "generate", "cases", "--rows", 1000, "--seed", 1, "--out", "cases")[0] == 0
    (tmp_path / "release").mkdir()  # the quick start's release: the examples must not write over it
    generate = re.search(r"after `showcase (datasets generate table [^`]*)`", text)
    assert generate is not None, "the API section says how its cases.csv is made"
    argv = generate.group(1).replace("--rows 10000", "--rows 2000").split() + ["--columns", "6"]
    assert cli(capsys, *argv)[0] == 0
    blocks = python_blocks(text)
    assert len(blocks) == 2
    namespace: dict = {}  # one notebook: the second block uses the first's imports
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - the README's own examples
    assert (tmp_path / "dp-release" / "synthetic.csv").exists() and (
        tmp_path / "linked" / "metadata.json"
    ).exists()
    assert list((tmp_path / "release").iterdir()) == []
