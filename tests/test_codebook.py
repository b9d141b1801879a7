"""Codebooks in YAML/JSON: reading and validating, drafting from the data, and ``showcase codebook``."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from showcase.datasets import generate_cases
from showcase.engine import InputError, Link, Preparation
from showcase.engine.binning import Bins
from showcase.engine.codebook import (
    Codebook,
    ColumnSpec,
    LinkSpec,
    check_columns,
    draft_text,
    infer_codebook,
    read_codebook_file,
)

from .helpers import run

HEAD = "showcase_codebook: 1\n"


def write(folder: Path, text: str, name: str = "codebook.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def plain(table: pa.Table) -> pa.Table:
    fields = [
        pa.field(f.name, pa.string() if pa.types.is_dictionary(f.type) else f.type) for f in table.schema
    ]
    return table.cast(pa.schema(fields))


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("cases")
    victims, perpetrators = generate_cases(2000, seed=1)
    pacsv.write_csv(plain(victims), folder / "victims.csv")
    pacsv.write_csv(plain(perpetrators), folder / "perpetrators.csv")
    return folder / "victims.csv", folder / "perpetrators.csv"


@pytest.fixture
def perps(tmp_path) -> Path:
    path = tmp_path / "perps.csv"
    path.write_text("victim_id,gender,role\nV1,Male,recruiter\n", encoding="utf-8")
    return path


def full(tmp_path: Path, perps: Path) -> Codebook:
    columns = {
        "gender": ColumnSpec(("Female", "Male")),
        "age": ColumnSpec(bins=Bins("edges", edges=(0, 18, 30, 50), open_ends=True, labels="ctdc")),
        "control": ColumnSpec(("debt bondage", "threats"), multi_value=";"),
        "citizenship": ColumnSpec(),
    }
    own = {"gender": ColumnSpec(("Female", "Male")), "role": ColumnSpec(("recruiter",), multi_value="|")}
    link = LinkSpec(perps, "victim_id", "perp_", 5, own)
    return Codebook(columns, "victim_id", ("N/A", "-99"), ("age",), ",", (link,), tmp_path / "codebook.yaml")


@pytest.mark.parametrize("name", ["codebook.yaml", "codebook.yml", "codebook.json"])
def test_write_then_read_gives_the_same_codebook(tmp_path, perps, name):
    book = full(tmp_path, perps)
    path = book.write(tmp_path / name)
    again = read_codebook_file(path)
    assert again == Codebook(**{**book.__dict__, "path": path})
    assert list(again.columns) == ["gender", "age", "control", "citizenship"]
    if name.endswith(".json"):
        assert json.loads(path.read_text())["links"][0]["table"] == "perps.csv"  # relative to the codebook


def test_a_codebook_in_another_folder_still_finds_its_link(tmp_path, perps):
    (tmp_path / "sub").mkdir()
    path = full(tmp_path, perps).write(tmp_path / "sub" / "codebook.yaml")
    assert read_codebook_file(path).links[0].table == perps
    assert "table: ../perps.csv" in path.read_text()


def test_the_fields_make_a_preparation(tmp_path, perps):
    book = full(tmp_path, perps)
    fields = book.preparation_fields()
    preparation = Preparation(**fields)
    assert list(preparation.use_columns) == ["gender", "age", "control", "citizenship", "victim_id"]
    assert preparation.multi_value == (("control", ";"),)
    assert preparation.subject_id == "victim_id" and preparation.null_markers == ("N/A", "-99")
    (link,) = preparation.links
    assert isinstance(link, Link) and link.use_columns == ["gender", "role"]
    assert link.multi_value == (("role", "|"),) and link.max_linked == 5 and link.prefix == "perp_"
    assert book.bins() == {"age": book.columns["age"].bins}
    assert book.link_bins() == {"perp_": {}}


def test_allowed_values_include_bin_labels_and_prefixed_linked_columns(tmp_path, perps):
    allowed = full(tmp_path, perps).allowed_values()
    assert allowed["gender"] == ("Female", "Male")
    assert allowed["age"] == ("<0", "0--17", "18--29", "30--49", "50+")
    assert allowed["perp_gender"] == ("Female", "Male") and allowed["perp_role"] == ("recruiter",)
    assert "citizenship" not in allowed


@pytest.mark.parametrize(
    "columns, public",
    [
        ("gender: {values: [F, M]}", True),
        ("age: {bins: {edges: [0, 18, 120]}}", True),
        ("age: {bins: {width: 10, range: [0, 99]}}", True),
        ("age: {bins: {width: 10}}", False),  # labels depend on the data's range
        ("age: {bins: {quantiles: 4, range: [0, 120]}}", False),
        ("gender: {}", False),
        ("gender: null", False),
    ],
)
def test_public_domain_needs_every_column_to_list_its_values(tmp_path, columns, public):
    book = read_codebook_file(write(tmp_path, f"{HEAD}columns:\n  {columns}\n"))
    assert book.is_public_domain is public


def test_a_link_of_all_columns_is_not_a_public_domain(tmp_path, perps):
    text = f"{HEAD}columns:\n  gender: {{values: [F, M]}}\nlinks:\n  - {{table: perps.csv, on: victim_id}}\n"
    book = read_codebook_file(write(tmp_path, text))
    assert not book.is_public_domain and book.subject == "victim_id"
    listed = text.replace("on: victim_id}", "on: victim_id, columns: {gender: {values: [M]}}}")
    assert read_codebook_file(write(tmp_path, listed)).is_public_domain


def test_an_unquoted_on_key_is_read_as_on(tmp_path, perps):
    text = f"{HEAD}columns:\n  gender: {{}}\nlinks:\n  - table: perps.csv\n    on: victim_id\n"
    assert read_codebook_file(write(tmp_path, text)).links[0].on == "victim_id"


def test_numbers_in_values_are_read_as_their_digits(tmp_path):
    book = read_codebook_file(write(tmp_path, f"{HEAD}columns:\n  year: {{values: [2015, '2016']}}\n"))
    assert book.columns["year"].values == ("2015", "2016")


BAD = [
    ("columns:\n  a: {}\n", "not a showcase codebook"),
    ("showcase_codebook: 2\ncolumns:\n  a: {}\n", "showcase_codebook: this showcase reads"),
    (HEAD + "colums:\n  a: {}\n", "unknown key 'colums' (did you mean 'columns'?)"),
    (HEAD + "columns:\n  a: {value: [x]}\n", "columns.a: unknown key 'value' (did you mean 'values'?)"),
    (HEAD + "columns: [a, b]\n", "columns: must be a mapping"),
    (HEAD + "columns: {}\n", "columns: lists no column"),
    (HEAD + "subject_id: id\n", "no 'columns'"),
    (HEAD + "columns:\n  a: {values: []}\n", "columns.a.values: is empty"),
    (HEAD + "columns:\n  a: {values: x}\n", "columns.a.values: must be a list"),
    (HEAD + "columns:\n  a: {values: [x, y, x]}\n", "columns.a.values[2]: repeats values[0]"),
    (HEAD + "columns:\n  a: {values: [x, '']}\n", "columns.a.values[1]: is empty"),
    (HEAD + "columns:\n  a: {values: [x, yes]}\n", "columns.a.values[1]: must be text, not true/false"),
    (HEAD + "columns:\n  a: {values: [x, 1.5]}\n", "columns.a.values[1]: must be text, not a decimal"),
    (HEAD + "columns:\n  a: {multi_value: ';', values: ['x;y']}\n", "columns.a.values[0]: holds the"),
    (HEAD + "columns:\n  a: {multi_value: ';', bins: {width: 10}}\n", "a column is multi-value or binned"),
    (HEAD + "columns:\n  a: {values: [x], bins: {width: 10}}\n", "columns.a: give values or bins, not both"),
    (HEAD + "columns:\n  age: {bins: {edges: [0, 30, 18]}}\n", "columns.age.bins: bin edges must"),
    (HEAD + "columns:\n  age: {bins: {width: -1}}\n", "columns.age.bins: bin width must be positive"),
    (HEAD + "columns:\n  age: {bins: {size: 5}}\n", "columns.age.bins: unknown bins key(s) 'size'"),
    (HEAD + "columns:\n  age: {bins: {width: 0.001, range: [0, 1000]}}\n", "columns.age.bins: bin width"),
    (HEAD + "columns:\n  a: [x, y]\n", "columns.a: must be a mapping with values"),
    (HEAD + "columns:\n  'odd name': {values: [x, x]}\n", "columns['odd name'].values[1]: repeats"),
    (HEAD + "subject_id: a\ncolumns:\n  a: {}\n", "subject_id: 'a' is also listed under columns"),
    (HEAD + "columns:\n  a: {}\nnull_markers: [N/A, {x: 1}]\n", "null_markers[1]: must be text, not a"),
    (HEAD + "columns:\n  a: {}\nsensitive_zeros: [b]\n", "sensitive_zeros[0]: 'b' is not a column"),
    (HEAD + "columns:\n  a: {}\ndelimiter: ';;'\n", "delimiter: delimiter must be one character"),
    (HEAD + "columns:\n  a: {}\n  a: {}\n", "line 4: the key 'a' is given twice"),
    (HEAD + "columns:\n  a: {}\nlinks:\n  - {table: perps.csv}\n", "links[0]: a link needs 'on'"),
    (HEAD + "columns:\n  a: {}\nlinks:\n  - {on: victim_id}\n", "links[0]: a link needs 'table'"),
    (HEAD + "columns:\n  a: {}\nlinks:\n  - {table: nope.csv, on: id}\n", "links[0].table: no such file"),
    (HEAD + "columns:\n  a: {}\nlinks: {table: perps.csv}\n", "links: must be a list"),
    (HEAD + "columns:\n  a: {}\nlinks:\n  - {table: perps.csv, on: id, tabel: x}\n", "links[0]: unknown key"),
    (HEAD + "subject_id: v\ncolumns:\n  a: {}\nlinks:\n  - {table: perps.csv, on: w}\n",
     "links[0].on: 'w' is not the subject id 'v'"),
    (HEAD + "columns:\n  a: {}\nlinks:\n  - {table: perps.csv, on: id, max_linked: 0}\n",
     "links[0].max_linked: must be a positive whole number"),
    (HEAD + "columns:\n  a: {}\nlinks:\n  - {table: perps.csv, on: id}\n  - {table: perps.csv, on: id}\n",
     "links[1].prefix: 'perp_' is the prefix of links[0] too"),
    (HEAD + "columns:\n  a: {}\nlinks:\n  - {table: perps.csv, on: id, columns: {id: {}}}\n",
     "links[0].columns: lists the key 'id'"),
    (HEAD + "columns:\n  perp_g: {}\nlinks:\n  - {table: perps.csv, on: id, columns: {g: {values: []}}}\n",
     "links[0].columns.g.values: is empty"),
    (HEAD + "columns:\n  perp_g: {}\nlinks:\n  - {table: perps.csv, on: id, columns: {g: {}}}\n",
     "links[0].columns.g: the release column 'perp_g' is also an input column"),
    (HEAD + "columns:\n  a: {values: [x\n", "not valid YAML (line"),
]  # fmt: skip


@pytest.mark.parametrize("text, message", BAD)
def test_every_problem_is_one_line_naming_the_file_and_the_key(tmp_path, perps, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as raised:
        read_codebook_file(path)
    problem = str(raised.value)
    assert problem.startswith(f"{path}: ") and message in problem, problem
    assert "\n" not in problem


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"showcase_codebook": 1, "columns": {"a": {}, "a": {}}}', "the key 'a' is given twice"),
        (
            '{"showcase_codebook": 1, "columns": {"a": {"values": [true]}}}',
            "columns.a.values[0]: must be text",
        ),
        ('{"showcase_codebook": 1, "columns": ', "not valid JSON (line 1"),
    ],
)
def test_json_problems_are_one_line_too(tmp_path, text, message):
    path = write(tmp_path, text, "codebook.json")
    with pytest.raises(InputError, match=None) as raised:
        read_codebook_file(path)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_file_that_is_no_codebook_is_refused(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_codebook_file(tmp_path / "missing.yaml")
    with pytest.raises(InputError, match=r"\.yaml, \.yml or \.json"):
        read_codebook_file(write(tmp_path, "column,value\n", "codebook.csv"))
    with pytest.raises(InputError, match="not a showcase codebook"):
        read_codebook_file(write(tmp_path, "- just\n- a list\n"))


def test_problems_never_show_a_value(tmp_path):
    secret = "Jane Doe 1971"
    for text in (f"{HEAD}columns:\n  a: {{values: ['{secret}', '{secret}']}}\n",
                 f"{HEAD}columns:\n  a: {{values: ['{secret}', [1]]}}\n",
                 f"{HEAD}columns:\n  a: {{values: ['{secret}'\n"):  # fmt: skip
        with pytest.raises(InputError) as raised:
            read_codebook_file(write(tmp_path, text))
        assert secret not in str(raised.value)


def test_check_columns_names_missing_columns(tmp_path, perps):
    book = full(tmp_path, perps)
    check_columns(book, ["victim_id", "gender", "age", "control", "citizenship", "other"])
    with pytest.raises(
        InputError, match=r"codebook.yaml names column\(s\) 'age', 'victim_id' that the input"
    ):
        check_columns(book, ["gender", "control", "citizenship"])
    everything = ["victim_id", "gender", "age", "control", "citizenship"]
    with pytest.raises(InputError, match=r"links\[0\] names column\(s\) 'role' that perps.csv does not have"):
        check_columns(book, everything, {"perp_": ["victim_id", "gender"]})


def test_infer_drafts_the_cases_codebook(cases):
    victims, perpetrators = cases
    book = infer_codebook(victims, links=[Link(perpetrators, "victim_id")])
    assert book.subject_id == "victim_id" and "victim_id" not in book.columns
    for name in ("age", "months_trafficked"):
        bins = book.columns[name].bins
        assert bins is not None and bins.kind == "width" and book.columns[name].values is None
    assert book.columns["age"].bins.to_dict() == {"width": 10}
    for name in ("means_of_control", "type_of_exploitation"):
        assert book.columns[name].multi_value == ";"
    assert book.columns["type_of_exploitation"].values == ("forced labour", "other", "sexual exploitation")
    assert book.columns["gender"].values == ("Female", "Male", "Transgender/NonConforming")
    assert book.columns["citizenship"] == ColumnSpec()  # more than 50 values: none listed
    (link,) = book.links
    assert (
        link.table == perpetrators
        and "perpetrator_id" not in link.columns
        and "victim_id" not in link.columns
    )
    assert link.columns["gender"].values == ("Female", "Male")
    assert not book.is_public_domain


def test_infer_suggests_the_subject_id_without_a_link(cases):
    victims, _ = cases
    book = infer_codebook(victims, max_values=30)
    assert book.subject_id == "victim_id"
    assert book.columns["year_of_registration"].values is not None  # 22 years
    assert any("victim_id" in note for note in book.notes)


def test_the_draft_lists_no_raw_age_and_reads_back(cases, tmp_path):
    victims, perpetrators = cases
    book = infer_codebook(victims, links=[Link(perpetrators, "victim_id")])
    text = draft_text(book, tmp_path)
    header = text[: text.index("showcase_codebook")]
    assert "PUBLIC" in header and "ISO-3" in header and "rare values" in header
    assert all(line.startswith("#") or not line for line in header.splitlines())
    ages = {str(a) for a in plain(pacsv.read_csv(victims)).column("age").to_pylist() if a is not None}
    assert not ages & set(book.allowed_values().get("age", ()))
    assert "age:\n    bins: {width: 10}\n" in text
    back = read_codebook_file(write(tmp_path, text))
    assert back.columns == book.columns and back.subject_id == "victim_id"
    assert back.links[0].table == perpetrators and back.links[0].columns == book.links[0].columns
    Preparation(**back.preparation_fields())


# ---------------------------------------------------------------------------- command line


def test_cli_infer_prints_the_draft(capsys, cases):
    victims, _ = cases
    code, out, err = run(capsys, "codebook", "infer", victims, "--max-values", "10")
    assert code == 0, err
    assert out.startswith("# showcase codebook: a DRAFT") and "subject_id: victim_id" in out


def test_cli_infer_writes_out_and_refuses_an_existing_file(capsys, cases, tmp_path):
    victims, perpetrators = cases
    out = tmp_path / "codebook.yaml"
    link = ["--link", perpetrators, "--on", "victim_id"]
    code, printed, err = run(capsys, "codebook", "infer", victims, *link, "--out", out)
    assert code == 0, err
    assert "Wrote a draft codebook" in printed and "review it" in err
    assert read_codebook_file(out).links[0].table == perpetrators
    before = out.read_text()
    code, _, err = run(capsys, "codebook", "infer", victims, "--out", out)
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1
    assert out.read_text() == before
    code, _, err = run(capsys, "codebook", "infer", victims, "--out", out, "--force")
    assert code == 0, err
    assert "links:" not in out.read_text()
    # No staging file left; the manifest lists what showcase wrote (engine/written_files.py).
    assert sorted(p.name for p in tmp_path.iterdir()) == [".showcase-files.json", "codebook.yaml"]


def test_cli_infer_writes_json(capsys, cases, tmp_path):
    victims, _ = cases
    out = tmp_path / "codebook.json"
    code, _, err = run(capsys, "codebook", "infer", victims, "--out", out)
    assert code == 0, err
    assert json.loads(out.read_text())["subject_id"] == "victim_id"
    assert read_codebook_file(out).subject_id == "victim_id"


def test_cli_infer_refuses_bad_options(capsys, cases, tmp_path):
    victims, perpetrators = cases
    for argv, message in [
        (["--on", "victim_id"], "--on applies with --link only"),
        (["--link", perpetrators], "--link needs --on"),
        (["--out", tmp_path / "codebook.txt"], ".yaml, .yml or .json"),
        (["--subject-id", "nope"], "no column 'nope'"),
    ]:
        code, _, err = run(capsys, "codebook", "infer", victims, *argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_cli_check(capsys, cases, tmp_path):
    victims, perpetrators = cases
    text = (
        f"{HEAD}subject_id: victim_id\ncolumns:\n"
        "  gender: {values: [Female, Male, Transgender/NonConforming]}\n"
        f"links:\n  - table: {perpetrators.as_posix()}\n    on: victim_id\n"
        "    columns: {gender: {values: [Female, Male]}}\n"
    )
    path = write(tmp_path, text)
    code, out, err = run(capsys, "codebook", "check", path)
    assert code == 0, err
    assert out.strip() == "ok: 2 columns, 1 links, public domain: yes"
    code, out, err = run(capsys, "codebook", "check", path, victims)
    assert code == 0 and out.startswith("ok: 2 columns"), err
    wrong = write(tmp_path, text.replace("  gender:", "  sex:"), "wrong.yaml")
    code, _, err = run(capsys, "codebook", "check", wrong, victims)
    assert code == 2 and "names column(s) 'sex' that the input does not have" in err
    bad = write(tmp_path, f"{HEAD}columns:\n  a: {{values: []}}\n", "bad.yaml")
    code, _, err = run(capsys, "codebook", "check", bad)
    assert code == 2 and "columns.a.values: is empty" in err and len(err.strip().splitlines()) == 1
    # A value the codebook does not list is found by the check, as a release would refuse it.
    narrow = write(tmp_path, text.replace(", Transgender/NonConforming", ""), "narrow.yaml")
    code, _, err = run(capsys, "codebook", "check", narrow, victims)
    assert code == 2 and "outside the codebook" in err and len(err.strip().splitlines()) == 1, err


def test_check_and_infer_say_what_they_read_on_a_terminal(capsys, cases, tmp_path, monkeypatch):
    """Reading a whole input (6-12 s at 1M linked records) shows a spinner saying so on a terminal;
    it is gone once done, and a captured (non-terminal) stderr gets nothing."""
    import io

    from rich.console import Console

    from showcase.cli import console

    victims, perpetrators = cases
    values = "[Female, Male, Transgender/NonConforming]"
    path = write(tmp_path, f"{HEAD}columns:\n  gender: {{values: {values}}}\n")
    code, _, err = run(capsys, "codebook", "check", path, victims)
    assert code == 0 and err == "", err
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=80)
    elsewhere = Console(file=io.StringIO())
    monkeypatch.setattr(console, "_console", lambda stderr: terminal if stderr else elsewhere)
    assert run(capsys, "codebook", "check", path, victims)[0] == 0
    assert f"reading {victims.name} against the codebook" in screen.getvalue()
    code, _, _ = run(capsys, "codebook", "infer", victims, "--link", perpetrators, "--on", "victim_id")
    assert code == 0 and f"reading {victims.name} and 1 linked table(s)" in screen.getvalue()


def test_an_unknown_linked_column_names_the_flag_that_gave_it(capsys, cases, tmp_path):
    victims, perpetrators = cases
    argv = ["aggregate", victims, "--link", perpetrators, "--on", "victim_id", "--link-columns", "nope"]
    code, _, err = run(capsys, *argv, "-o", tmp_path / "a", "--no-progress")
    assert code == 2 and "unknown column(s) in --link-columns: 'nope'" in err, err
    code, _, err = run(
        capsys, "aggregate", victims, "--use-columns", "nope", "-o", tmp_path / "b", "--no-progress"
    )
    assert code == 2 and "unknown column(s) in --use-columns: 'nope'" in err, err


def test_a_draft_is_no_public_domain_until_its_mark_is_deleted(tmp_path, capsys):
    """``codebook infer`` lists the values it saw in the sensitive data, a value held by one record
    included: used as it is under DP, that value skipped the noisy selection and was released by
    name. A draft says ``draft: true``; until that line goes, its values are chosen from the data."""
    from showcase.engine import DifferentialPrivacy, aggregate
    from showcase.engine.prepare import load_input

    rows = ["sex,city"] + [f"{'FM'[i % 2]},{'ab'[i % 3 == 0]}" for i in range(300)] + ["F,lonely"]
    data = tmp_path / "people.csv"
    data.write_text("\n".join(rows) + "\n")
    draft = tmp_path / "draft.yaml"
    code, _, err = run(capsys, "codebook", "infer", data, "--out", draft)
    assert code == 0, err
    assert "\ndraft: true\n" in draft.read_text() and "lonely" in draft.read_text()
    assert read_codebook_file(draft).draft and not read_codebook_file(draft).is_public_domain
    code, out, err = run(capsys, "codebook", "check", draft, data)
    assert code == 0 and "public domain: no (a draft" in out, err
    assert not load_input(data, Preparation(codebook=draft)).public_domain
    result = aggregate(data, protection=DifferentialPrivacy(4.0, ledger=tmp_path / "l.sqlite"), length=1,
                       preparation=Preparation(codebook=draft), out=tmp_path / "release", seed=1)  # fmt: skip
    assert result.privacy["selection_delta"] > 0  # the values were chosen from the data, and paid for
    reviewed = tmp_path / "reviewed.yaml"
    reviewed.write_text(draft.read_text().replace("\ndraft: true\n", "\n"))
    assert load_input(data, Preparation(codebook=reviewed)).public_domain
    draft.write_text(draft.read_text().replace("draft: true", "draft: 'yes'"))
    with pytest.raises(InputError, match="draft: must be true or false"):
        read_codebook_file(draft)
