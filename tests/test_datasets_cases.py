"""The fake trafficking-case generator: deterministic, keyed tables, configured marginals, the CLI."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from showcase.datasets import cases, generate_cases, write_cases

from .helpers import run

N = 40_000


@pytest.fixture(scope="module")
def tables() -> tuple[pa.Table, pa.Table]:
    return generate_cases(N, seed=11)


def within(observed: float, expected: float, n: int, ses: float = 5.0) -> bool:
    """Whether a share observed over ``n`` trials is within ``ses`` binomial standard errors."""
    return abs(observed - expected) <= ses * math.sqrt(expected * (1 - expected) / n)


def column(table: pa.Table, name: str) -> np.ndarray:
    """A column as a NumPy object array of strings (None for missing)."""
    array = table.column(name).combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return np.array(array.to_pylist(), dtype=object)


def test_same_seed_same_tables_other_seed_other_tables():
    first, again, other = generate_cases(2_000, 5), generate_cases(2_000, 5), generate_cases(2_000, 6)
    assert first[0].equals(again[0]) and first[1].equals(again[1])
    assert not first[0].equals(other[0]) and not first[1].equals(other[1])


def test_several_chunks_are_still_deterministic(monkeypatch):
    monkeypatch.setattr(cases, "CHUNK_ROWS", 700)
    first, again = generate_cases(2_000, 3), generate_cases(2_000, 3)
    assert first[0].equals(again[0]) and first[1].equals(again[1])
    assert first[0].num_rows == 2_000
    assert pc.count_distinct(first[1].column("perpetrator_id")).as_py() == first[1].num_rows


def test_sizes_outside_the_range_are_refused_in_one_line():
    from showcase.engine import ParameterError

    for victims in (999, cases.MAX_VICTIMS + 1):
        with pytest.raises(ParameterError, match="from 1,000 to 10,000,000"):
            generate_cases(victims, 0)


def test_keys(tables):
    victims, perpetrators = tables
    assert victims.num_rows == N
    assert pc.count_distinct(victims.column("victim_id")).as_py() == N
    assert pc.count_distinct(perpetrators.column("perpetrator_id")).as_py() == perpetrators.num_rows
    assert column(victims, "victim_id")[0] == "V0000001"
    known = pc.is_in(perpetrators.column("victim_id"), value_set=victims.column("victim_id").combine_chunks())
    assert pc.all(known).as_py()


def test_perpetrators_per_victim(tables):
    victims, perpetrators = tables
    counts = pc.value_counts(perpetrators.column("victim_id").combine_chunks())
    per_victim = np.zeros(N)
    per_victim[: len(counts)] = counts.field("counts").to_numpy()
    standard_error = per_victim.std() / math.sqrt(N)
    assert abs(per_victim.mean() - cases.PERPETRATORS_MEAN) <= 5 * standard_error
    assert within((per_victim == 0).mean(), cases.NO_PERPETRATOR_RATE, N)
    assert 10 < per_victim.max() <= cases.PERPETRATORS_MAX  # a few victims with many


def test_victim_marginals_follow_the_configuration(tables):
    victims, _ = tables
    gender = column(victims, "gender")
    known = gender[gender != None]  # noqa: E711 - element-wise
    assert within(1 - known.size / N, cases.GENDER_MISSING_RATE, N)
    for value, share in cases.expected_shares("gender").items():
        assert within((known == value).mean(), share, known.size), value
    citizenship = column(victims, "citizenship")
    given = citizenship[citizenship != None]  # noqa: E711
    expected = cases.expected_shares("citizenship")
    top = max(expected, key=expected.get)
    values, counts = np.unique(given.astype(str), return_counts=True)
    assert values[counts.argmax()] == top
    assert within(counts.max() / given.size, expected[top], given.size)
    assert len(values) >= 60  # a long tail
    for name, rate in [("age", cases.AGE_MISSING_RATE), ("months_trafficked", cases.MONTHS_MISSING_RATE)]:
        assert within(victims.column(name).null_count / N, rate, N), name
    means = victims.column(cases.MEANS_OF_CONTROL[0][0])
    assert within(means.null_count / N, cases.MEANS_MISSING_RATE, N)


def test_numbers_are_numbers_in_range(tables):
    victims, _ = tables
    assert pa.types.is_integer(victims.schema.field("age").type)
    assert pa.types.is_integer(victims.schema.field("months_trafficked").type)
    age = victims.column("age").drop_null().to_numpy()
    assert age.min() >= 0 and age.max() <= 75 and 0.05 < (age < 18).mean() < 0.5
    months = victims.column("months_trafficked").drop_null().to_numpy()
    assert months.min() >= 0 and months.max() <= cases.MONTHS_MAX
    years = victims.column("year_of_registration").to_numpy()
    assert years.min() >= 2002 and years.max() <= 2023 and np.median(years) >= 2015


def test_columns_depend_on_each_other(tables):
    victims, _ = tables
    sexual = column(victims, "isSexualExploitation") == "1"
    age = victims.column("age").to_numpy(zero_copy_only=False)
    minors = np.nan_to_num(age, nan=99) < 18
    known = ~np.isnan(age)
    assert minors[sexual & known].mean() > minors[~sexual & known].mean() + 0.03
    labour = column(victims, "isForcedLabour") == "1"
    male = column(victims, "gender") == "Male"
    assert male[labour].mean() > male[~labour].mean() + 0.2


@pytest.mark.parametrize(
    "joined, flags",
    [
        ("means_of_control", cases.MEANS_OF_CONTROL),
        ("type_of_exploitation", cases.EXPLOITATION_TYPES),
        ("labour_sector", cases.LABOUR_SECTORS),
        ("sex_sector", cases.SEX_SECTORS),
    ],
)
def test_multi_value_columns_agree_with_their_flags(tables, joined, flags):
    victims, _ = tables
    cells = column(victims, joined)
    matrix = np.stack([column(victims, name) == "1" for name, _ in flags], axis=1)
    shorts = np.array([short for _, short in flags], dtype=object)
    for cell, row in zip(cells, matrix):
        assert (set(cell.split(";")) if cell else set()) == set(shorts[row])
    if joined != "type_of_exploitation":  # every victim has at least one type
        assert (cells == None).sum() > 0  # noqa: E711 - empty when none or missing


def test_sectors_only_where_their_exploitation_applies(tables):
    victims, _ = tables
    labour = column(victims, "isForcedLabour") == "1"
    sex = column(victims, "isSexualExploitation") == "1"
    assert (column(victims, "labour_sector")[~labour] == None).all()  # noqa: E711
    assert (column(victims, "sex_sector")[~sex] == None).all()  # noqa: E711
    assert (column(victims, "type_of_exploitation") != None).all()  # noqa: E711


def test_recruiter_relation_is_multi_valued_sometimes(tables):
    victims, _ = tables
    cells = column(victims, "recruiter_relation")
    given = cells[cells != None]  # noqa: E711
    assert within(1 - given.size / N, cases.RECRUITER_MISSING_RATE, N)
    parts = [cell.split(";") for cell in given]
    assert all(set(p) <= set(cases.RECRUITER_RELATIONS) for p in parts)
    assert 0 < sum(len(p) == 2 for p in parts) < 0.1 * len(parts)


def test_perpetrator_marginals_and_dependence(tables):
    victims, perpetrators = tables
    m = perpetrators.num_rows
    gender = column(perpetrators, "gender")
    known = gender[gender != None]  # noqa: E711
    assert within(1 - known.size / m, cases.PERPETRATOR_GENDER_MISSING_RATE, m)
    assert within(
        (known == "Male").mean(), cases.expected_shares("perpetrator_gender")["Male"], known.size, 8
    )
    assert set(column(perpetrators, "age_band")) - {None} <= set(cases.AGE_BANDS)
    assert set(column(perpetrators, "citizenship_un_region")) - {None} <= set(cases.UN_REGIONS)
    # Intimate partners mostly where the victim's recruiter was one.
    lookup = dict(zip(column(victims, "victim_id"), column(victims, "recruiter_relation")))
    relation = column(perpetrators, "relation_to_victim")
    owners = column(perpetrators, "victim_id")
    partner = relation == "Intimate Partner"
    recruited = np.array([(lookup[v] or "").startswith("Intimate Partner") for v in owners])
    assert partner[recruited].mean() > 3 * partner[~recruited].mean()


def test_written_files_read_back(tmp_path):
    for fmt in ("csv", "parquet"):
        names = cases.case_file_names(fmt)
        rows = write_cases(3_000, 2, tmp_path / names[0], tmp_path / names[1])
        victims, perpetrators = generate_cases(3_000, 2)
        assert rows == (victims.num_rows, perpetrators.num_rows)
    read = pq.read_table(tmp_path / "victims.parquet")
    assert read.column("means_of_control").to_pylist() == victims.column("means_of_control").to_pylist()
    lines = (tmp_path / "perpetrators.csv").read_text().splitlines()
    assert len(lines) == perpetrators.num_rows + 1


def test_cli_writes_three_files_refuses_a_non_empty_folder_and_force_keeps_the_rest(tmp_path, capsys):
    out = tmp_path / "cases"
    code, stdout, stderr = run(capsys, "datasets", "generate", "cases", "--rows", "1000", "--out", out)
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [
        ".showcase-files.json", "codebook.yaml", "perpetrators.csv", "victims.csv"
    ]  # fmt: skip
    assert "1,000 victims" in stdout and stdout.count("\n") == 1
    from showcase.engine.codebook import read_codebook_file

    book = read_codebook_file(out / "codebook.yaml")
    assert book.is_public_domain and book.links[0].table == out / "perpetrators.csv"
    before = (out / "victims.csv").read_bytes()

    (out / "notes.txt").write_text("mine")
    code, stdout, stderr = run(
        capsys, "datasets", "generate", "cases", "--rows", "1000", "--out", out, "-s", "1"
    )
    assert code == 2 and stdout == "" and "--force" in stderr and stderr.count("\n") == 1
    assert (out / "victims.csv").read_bytes() == before

    argv = ["datasets", "generate", "cases", "--rows", "1000", "--out", out, "-s", "1", "--force"]
    code, _, stderr = run(capsys, *argv)
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [
        ".showcase-files.json",
        "codebook.yaml",
        "notes.txt",
        "perpetrators.csv",
        "victims.csv",
    ]
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "victims.csv").read_bytes() != before

    code, _, stderr = run(capsys, *argv, "--format", "parquet")
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [
        ".showcase-files.json", "codebook.yaml", "notes.txt", "perpetrators.csv", "perpetrators.parquet",
        "victims.csv", "victims.parquet",
    ]  # fmt: skip


def test_cli_refuses_bad_arguments_in_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "new"
    for extra, message in [
        (["--rows", "10"], "from 1,000"),
        (["--rows", "0"], "from 1,000"),
        (["--format", "xlsx"], "csv or parquet"),
    ]:
        code, stdout, stderr = run(capsys, "datasets", "generate", "cases", "--out", out, *extra)
        assert code == 2 and stdout == "" and message in stderr and stderr.count("\n") == 1
        assert not out.exists()
    file = tmp_path / "file"
    file.write_text("x")
    code, _, stderr = run(capsys, "datasets", "generate", "cases", "--out", file)
    assert code == 2 and "not a folder" in stderr and file.read_text() == "x"
    code, _, stderr = run(capsys, "datasets", "generate", "cases", "--out", tmp_path / "a" / "b")
    assert code == 2 and "create it first" in stderr


def test_cli_help_has_an_example(capsys):
    code, stdout, _ = run(capsys, "datasets", "generate", "cases", "--help")
    assert code == 0 and "Example" in stdout and "showcase datasets generate cases" in stdout
    assert "1,000 to 10,000,000" in stdout and "x>=1" not in stdout  # one range, the one checked
