"""A YAML codebook through the load path, and ``showcase prepare``."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from showcase.engine import DifferentialPrivacy, Exact, InputError, ParameterError, Preparation, aggregate
from showcase.engine.prepare import load_input

from .helpers import run as cli
from .test_linked import labelled

VICTIMS = pd.DataFrame({
    "vid": ["v1", "v2", "v3", "v4", "v5", "v6"],
    "sex": ["F", "M", "F", "F", "M", ""],
    "age": ["17", "34", "", "25", "61", "40"],
    "control": ["threats;debt", "debt", "", "threats", "documents", "debt;documents"],
})  # fmt: skip
PERPS = pd.DataFrame(
    {"vid": ["v1", "v1", "v2", "v4"], "gender": ["M", "F", "M", "M"], "pid": ["p1", "p2", "p3", "p4"]}
)

CODEBOOK = """showcase_codebook: 1
subject_id: vid
columns:
  sex: {values: [F, M, X]}
  age: {bins: {edges: [0, 18, 30, 60], open: true}}
  control: {multi_value: ";", values: [debt, documents, threats, violence]}
links:
  - table: perps.csv
    on: vid
    columns:
      gender: {values: [F, M]}
"""


@pytest.fixture
def cases(tmp_path):
    VICTIMS.to_csv(tmp_path / "victims.csv", index=False)
    PERPS.to_csv(tmp_path / "perps.csv", index=False)
    (tmp_path / "codebook.yaml").write_text(CODEBOOK)
    return tmp_path


def test_a_public_codebook_is_the_domain_even_of_values_never_seen(cases):
    loaded = load_input(cases / "victims.csv", Preparation(codebook=cases / "codebook.yaml"))
    schema = loaded.table.schema
    assert loaded.public_domain
    assert schema.dictionaries[schema.column_index("sex")].to_pylist() == ["F", "M", "X"]  # X never occurs
    assert "control:violence" in schema.columns  # nor does violence
    assert [c for c in schema.columns if c.startswith("perp_count:") or c == "perp_count"] == ["perp_count"]
    assert "pid" not in " ".join(schema.columns)  # the link lists its columns: its ids stay out


def test_a_dp_release_on_a_public_codebook_spends_no_delta_on_choosing(cases):
    spec = DifferentialPrivacy(3.0, ledger=cases / "l.sqlite")
    result = aggregate(cases / "victims.csv", protection=spec, length=2, out=cases / "dp", seed=1,
                       preparation=Preparation(codebook=cases / "codebook.yaml"))  # fmt: skip
    assert result.privacy["public_domain"] is True and result.privacy["selection_delta"] == 0


def test_values_outside_the_codebook_are_refused_by_count_or_dropped(cases, capsys):
    book = cases / "codebook.yaml"
    book.write_text(CODEBOOK.replace("[debt, documents, threats, violence]", "[debt, threats]"))
    with pytest.raises(InputError, match=r"column 'control' has 1 value\(s\) outside the codebook"):
        load_input(cases / "victims.csv", Preparation(codebook=book))
    out = cases / "o"
    code, _, stderr = cli(
        capsys, "aggregate", cases / "victims.csv", "--codebook", book, "-o", out, "--no-progress"
    )
    assert code == 2 and "outside the codebook" in stderr and "documents" not in stderr and not out.exists()
    loaded = load_input(cases / "victims.csv", Preparation(codebook=book, drop_unknown=True))
    assert loaded.changes["dropped_unknown"] == {"control": 1}
    assert not any(c.startswith("control:documents") for c in loaded.table.schema.columns)


def test_a_codebook_naming_missing_columns_is_refused(cases, capsys):
    book = cases / "codebook.yaml"
    book.write_text(
        CODEBOOK.replace("  sex: {values: [F, M, X]}", "  sex: {values: [F, M, X]}\n  region: {}")
    )
    code, _, stderr = cli(capsys, "prepare", cases / "victims.csv", "--codebook", book, "-o", cases / "p",
                          "--no-progress")  # fmt: skip
    assert code == 2 and "'region'" in stderr and stderr.count("\n") == 1


def test_options_must_agree_with_the_codebook(cases):
    with pytest.raises(ParameterError, match="both as an option and in the codebook"):
        Preparation(codebook=cases / "codebook.yaml", subject_id="sex").resolved()
    same = Preparation(codebook=cases / "codebook.yaml", subject_id="vid").resolved()
    assert same.subject_id == "vid" and same.public_values


def test_prepare_writes_the_subject_level_table_and_what_changed(cases, capsys):
    out = cases / "prepared"
    book = cases / "codebook.yaml"
    code, stdout, stderr = cli(
        capsys, "prepare", cases / "victims.csv", "--codebook", book, "-o", out, "--no-progress"
    )
    assert code == 0, stderr
    table = pq.read_table(out / "prepared.parquet").to_pandas()
    assert list(table.columns) == ["vid", "sex", "age", "control", "perp_gender", "perp_count"]
    assert "6 records × 6 columns" in stdout, stdout  # what the file holds, the subject id included
    assert table.set_index("vid").loc["v1"].tolist() == [
        "F",
        "<0" if False else "0-17",
        "debt;threats",
        "F;M",
        "2",
    ]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["sensitive"] is True and meta["records"] == 6 and meta["public_domain"] is True
    assert meta["changes"]["binned"]["age"]["edges"][:4] == [0, 18, 30, 60]
    assert meta["changes"]["split_cells"]["control"] == 2  # "threats;debt" and "debt;documents"
    # The prepared table released again (as a plain input) gives the same counts as the raw input.
    again = aggregate(
        out / "prepared.parquet",
        protection=Exact(),
        length=2,
        out=cases / "a2",
        preparation=Preparation(subject_id="vid", multi_value={"control": ";", "perp_gender": ";"}),
    )
    first = aggregate(cases / "victims.csv", protection=Exact(), length=2, out=cases / "a1",
                      preparation=Preparation(codebook=cases / "codebook.yaml"))  # fmt: skip
    assert labelled(again.released) == labelled(first.released)
