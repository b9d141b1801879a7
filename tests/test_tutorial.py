"""docs/linked-cases.md: every command of the walk-through runs, in order, as written."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pyarrow.parquet as pq

from .helpers import run as cli

TUTORIAL = Path(__file__).resolve().parents[1] / "docs" / "linked-cases.md"


def commands(text: str) -> list[list[str]]:
    """The ``showcase`` commands of the bash blocks, in order, as argument lists (without ``showcase``)."""
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [line for block in blocks for line in block.splitlines() if line.startswith("showcase ")]
    return [shlex.split(line)[1:] for line in lines]


def test_the_linked_cases_tutorial_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    steps = commands(TUTORIAL.read_text(encoding="utf-8"))
    assert [s[0] for s in steps] == [
        "datasets", "codebook", "codebook", "prepare", "run", "aggregate", "evaluate", "ledger", "report",
    ]  # fmt: skip
    for argv in steps:
        code, stdout, stderr = cli(capsys, *argv, *(["--no-progress"] if argv[0] in PROGRESS else []))
        assert code == 0, (argv, stderr)
    prepared = pq.read_table(tmp_path / "prepared" / "prepared.parquet")
    assert prepared.num_rows == 10_000 and "perp_relation_to_victim" in prepared.column_names
    ages = set(prepared.column("age").drop_null().to_pylist())
    assert ages and all(re.fullmatch(r"\d+--\d+|\d+\+|<0", age) for age in ages)  # CTDC's bands
    meta = json.loads((tmp_path / "release" / "metadata.json").read_text())
    assert meta["privacy"]["public_domain"] is True and "per subject" in meta["privacy"]["guarantee"]
    assert meta["preparation"]["links"][0]["max_linked"] == 5
    header = (tmp_path / "release" / "synthetic.csv").read_text().splitlines()[0].split(",")
    assert "perp_gender" in header and "perp_count" in header and "means_of_control" in header
    assert (tmp_path / "release-evaluation" / "evaluation.json").exists() and (
        tmp_path / "kanon" / "aggregates.tsv"
    ).exists()
    assert (tmp_path / "draft.yaml").read_text().startswith("# showcase codebook: a DRAFT")
    report = (tmp_path / "release-report.html").read_text()
    assert "SHOWCASE_STATIC" in report and "perp_relation_to_victim" in report


#: Commands that draw progress bars (turned off in the test's captured output).
PROGRESS = {"prepare", "run", "aggregate", "evaluate"}
