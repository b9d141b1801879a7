"""``showcase synthesize`` and ``showcase run``: files, metadata, reproducibility, bad input."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from showcase.engine import (
    KAnonymity,
    Preparation,
    count_combinations,
    encode,
    load,
    read_parquet,
    read_table,
)
from showcase.engine import synthesize as synthesize_release
from showcase.engine.evaluate import align
from showcase.engine.jobs import synthesize as synthesize_job

from .conftest import write_csv
from .helpers import leftovers, run


@pytest.fixture
def cases(tmp_path):
    rng = np.random.default_rng(4)
    columns = ["sex", "age band", "region", "flag"]
    rows = []
    for _ in range(400):
        sex = ["F", "M"][rng.integers(0, 2)]
        age = ["0-17", "18-64", "65+"][rng.integers(0, 3)]
        region = ["north, east", 'the "south"', "west"][rng.integers(0, 3)] if rng.random() < 0.9 else ""
        flag = ["1", "0"][rng.integers(0, 2)]
        rows.append((sex, age, f'"{region.replace(chr(34), chr(34) * 2)}"' if region else "", flag))
    return write_csv(tmp_path / "cases.csv", columns, rows)


def synthetic_ids(out):
    table = read_table(out / "synthetic.csv")
    return table


def test_synthesize_aggregate_seeded_end_to_end(tmp_path, capsys, cases):
    out = tmp_path / "syn"
    code, stdout, stderr = run(
        capsys, "synthesize", cases, "--mode", "aggregate_seeded", "-k", 5, "-l", 3, "-o", out, "--seed", 7
    )
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == ["metadata.json", "synthetic.csv", "synthetic.parquet"]
    header = (out / "synthetic.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "sex,age band,region,flag"
    sensitive = load(cases)
    # Values come back in the input's spellings (commas and quotes included); 0 means "no attribute".
    from_csv = encode(read_table(out / "synthetic.csv"), schema=sensitive.schema)
    from_parquet = encode(read_table(out / "synthetic.parquet"), schema=sensitive.schema)
    np.testing.assert_array_equal(from_csv.codes, from_parquet.codes)
    assert from_csv.n_rows == 400 // 5 * 5
    assert set(pq.read_table(out / "synthetic.parquet").column("region").to_pylist()) <= {
        "north, east",
        'the "south"',
        "west",
        None,
    }
    released = count_combinations(sensitive, 3)
    released = released.select(released.count >= 5)
    got = count_combinations(from_csv, 3)
    keys = {tuple(r[:n]) for r, n in zip(released.attrs.tolist(), released.length)}
    assert {tuple(r[:n]) for r, n in zip(got.attrs.tolist(), got.length)} <= keys
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["kind"] == "synthetic"
    assert meta["parameters"]["mode"] == "aggregate_seeded"
    assert meta["parameters"]["weight_selection_percentile"] == 95.0
    assert meta["randomness"] == {
        "seeded": True,
        "warning": "seeded for reproducibility: this release is for testing, not for publication",
    }
    assert "7" not in json.dumps(meta["randomness"])  # never the seed itself
    assert meta["input"]["fingerprint"].startswith("hmac-sha256:")  # keyed, see test_release_privacy
    assert meta["aggregates"]["protection"] == "k-anonymity"
    assert meta["synthesis"]["records"] == 400
    assert meta["synthesis"]["record_expansion"] == 1.0
    # Shares against the sensitive data give its exact number of distinct combinations: printed, not kept.
    assert "combinations" not in meta["synthesis"]
    text = (out / "metadata.json").read_text()
    assert "north, east" not in text and "65+" not in text  # never a data value
    assert "preserved" in stdout and "expansion" in stdout
    assert "not for publication" in stderr


def test_from_aggregates_release_dir_parquet_and_tsv(tmp_path, capsys, cases):
    release = tmp_path / "release"
    assert run(capsys, "aggregate", cases, "-k", 5, "-l", 2, "-o", release)[0] == 0
    aggregates = read_parquet(release / "aggregates.parquet")
    results = {}
    for name, source in [
        ("dir", release),
        ("parquet", release / "aggregates.parquet"),
        ("tsv", release / "aggregates.tsv"),
    ]:
        out = tmp_path / name
        code, stdout, stderr = run(capsys, "synthesize", "--from-aggregates", source, "-o", out, "--seed", 1)
        assert code == 0, stderr
        meta = json.loads((out / "metadata.json").read_text())
        assert meta["parameters"]["mode"] == "aggregate_seeded"
        assert meta["synthesis"]["combinations"]["compared_with"] == "aggregates"
        assert "input" not in meta
        assert meta["aggregates"]["file"] == (source.name if name != "dir" else "aggregates.parquet")
        results[name] = (out / "synthetic.csv").read_bytes()
        assert "aggregates" in stdout
    assert results["dir"] == results["parquet"]
    table = encode(read_table(tmp_path / "tsv" / "synthetic.csv"), schema=aggregates.schema)
    assert table.n_rows == aggregates.record_count


def test_from_aggregates_compared_with_the_input(tmp_path, capsys, cases):
    release = tmp_path / "release"
    assert run(capsys, "aggregate", cases, "-k", 5, "-l", 3, "-o", release)[0] == 0
    out = tmp_path / "syn"
    code, stdout, stderr = run(capsys, "synthesize", cases, "--from-aggregates", release, "-l", 2, "-o", out)
    assert code == 0, stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert "combinations" not in meta["synthesis"]  # compared with the sensitive data: the operator's
    assert meta["parameters"]["reporting_length"] == 2
    assert "sensitive" in stdout


def test_run_aggregate_seeded_writes_one_release(tmp_path, capsys, cases):
    out = tmp_path / "release"
    code, stdout, stderr = run(
        capsys, "run", cases, "-k", 5, "-l", 3, "--mode", "aggregate_seeded", "-o", out
    )
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "aggregates.parquet",
        "aggregates.tsv",
        "metadata.json",
        "synthetic.csv",
        "synthetic.parquet",
    ]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["kind"] == "release"
    assert meta["privacy"]["mechanism"] == "k-anonymity" and meta["privacy"]["sensitive"] is False
    assert meta["aggregates"]["record_count"] == 400
    assert meta["synthesis"]["mode"] == "aggregate_seeded"
    assert meta["randomness"]["seeded"] is False
    assert meta["files"] == [
        "aggregates.parquet",
        "aggregates.tsv",
        "synthetic.csv",
        "synthetic.parquet",
        "metadata.json",
    ]
    released = read_parquet(out / "aggregates.parquet")
    synthetic = encode(read_table(out / "synthetic.parquet"), schema=load(cases).schema)
    got = count_combinations(synthetic, 3)
    aligned = align(released, synthetic.schema)
    keys = {tuple(r[:n]) for r, n in zip(aligned.attrs.tolist(), aligned.length)}
    assert {tuple(r[:n]) for r, n in zip(got.attrs.tolist(), got.length)} <= keys
    assert "Release written" in stdout and "preserved" in stdout


@pytest.mark.parametrize("mode", ["row_seeded", "unseeded", "value_seeded"])
def test_kanon_modes_through_run_and_synthesize(tmp_path, capsys, cases, mode):
    out = tmp_path / "run"
    code, _, stderr = run(capsys, "run", cases, "-k", 5, "-l", 2, "--mode", mode, "-o", out, "--seed", 3)
    assert code == 0, stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["synthesis"]["mode"] == mode
    assert "k=5" in meta["synthesis"]["guarantee"]
    # Record-seeded modes say that their output size follows the exact input size.
    assert ("exact number of sensitive records" in meta["synthesis"]["guarantee"]) == (mode != "value_seeded")
    out2 = tmp_path / "syn"
    code, _, stderr = run(capsys, "synthesize", cases, "-k", 5, "--mode", mode, "-o", out2, "--seed", 3)
    assert code == 0, stderr
    assert (out / "synthetic.csv").read_bytes() == (out2 / "synthetic.csv").read_bytes()


def test_run_defaults_to_row_seeded(tmp_path, capsys, cases):
    out = tmp_path / "r"
    assert run(capsys, "run", cases, "-o", out, "--no-progress")[0] == 0
    assert json.loads((out / "metadata.json").read_text())["synthesis"]["mode"] == "row_seeded"


@pytest.mark.parametrize("command", ["synthesize", "run"])
def test_same_seed_gives_byte_identical_files(tmp_path, capsys, cases, command):
    outputs = []
    for name in ("one", "two"):
        out = tmp_path / name
        argv = [command, cases, "--mode", "aggregate_seeded", "-k", 5, "-o", out, "--seed", 42]
        assert run(capsys, *argv)[0] == 0
        outputs.append(out)
    one, two = outputs
    names = sorted(p.name for p in one.iterdir())
    for name in names:
        if name == "metadata.json":
            # Only the creation time differs.
            a, b = (json.loads((d / name).read_text()) for d in outputs)
            for doc in (a, b):
                doc.pop("created")
            assert a == b
        else:
            assert (one / name).read_bytes() == (two / name).read_bytes(), name
    other = tmp_path / "other"
    assert (
        run(capsys, command, cases, "--mode", "aggregate_seeded", "-k", 5, "-o", other, "--seed", 43)[0] == 0
    )
    assert (other / "synthetic.csv").read_bytes() != (one / "synthetic.csv").read_bytes()


def test_engine_job_without_output(cases):
    result = synthesize_release(
        cases, mode="aggregate_seeded", protection=KAnonymity(5), seed=1, target_number_of_records=50
    )
    assert result.synthetic.n_rows == 50 and result.files == []
    assert result.record_expansion == pytest.approx(50 / 400)
    assert result.parameters["target_number_of_records"] == 50


def bad_cases(tmp_path, cases):
    """name → (argv, expected text in the error line)."""
    release = tmp_path / "release"
    other = write_csv(tmp_path / "other.csv", ["x", "y"], [("1", "2"), ("3", "4")])
    not_aggs = tmp_path / "plain.parquet"
    pq.write_table(read_table(cases), not_aggs)
    bad_tsv = tmp_path / "bad.tsv"
    bad_tsv.write_text("a\tb\n1\t2\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b\n")
    return release, {
        "unknown mode": (["synthesize", cases, "--mode", "magic"], "unknown synthesis mode"),
        "unknown run mode": (["run", cases, "--mode", "magic"], "unknown synthesis mode"),
        "k < 1": (["synthesize", cases, "-k", 0], "--resolution"),
        "run k < 1": (["run", cases, "-k", 0], "--resolution"),
        "L > reporting length": (["synthesize", "--from-aggregates", release, "-l", 4], "reporting length 2"),
        "not aggregates (csv)": (["synthesize", "--from-aggregates", cases], "not an aggregates release"),
        "not aggregates (parquet)": (
            ["synthesize", "--from-aggregates", not_aggs],
            "not a showcase aggregates",
        ),
        "not aggregates (tsv)": (["synthesize", "--from-aggregates", bad_tsv], "header"),
        "no aggregates in dir": (["synthesize", "--from-aggregates", tmp_path / "nothing"], "no such file"),
        "another schema": (["synthesize", other, "--from-aggregates", release], "unknown column"),
        "empty data": (["synthesize", empty, "-k", 2], "empty"),
        "header only": (["synthesize", header_only, "-k", 2], "no records"),
        "run empty data": (["run", empty], "empty"),
        "nothing to synthesize from": (["synthesize"], "--from-aggregates"),
        "k with aggregates": (["synthesize", "--from-aggregates", release, "-k", 3], "already protected"),
        "mode needs sensitive data": (
            ["synthesize", "--from-aggregates", release, "--mode", "row_seeded"],
            "reads the sensitive data",
        ),
        "foreign parameter": (
            ["synthesize", cases, "--mode", "aggregate_seeded", "--oversampling-ratio", "0.1"],
            "not a parameter of mode aggregate_seeded",
        ),
        "percentile > 100": (
            ["synthesize", cases, "--mode", "aggregate_seeded", "--weight-selection-percentile", 120],
            "--weight-selection-percentile",
        ),
        "scale 0": (
            ["synthesize", cases, "--mode", "aggregate_seeded", "--aggregate-counts-scale-factor", 0],
            "--aggregate-counts-scale-factor must be",
        ),
        "negative seed": (["synthesize", cases, "--seed", -1], "--seed"),
    }


def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, cases):
    release, table = bad_cases(tmp_path, cases)
    assert run(capsys, "aggregate", cases, "-k", 5, "-l", 2, "-o", release)[0] == 0
    before = leftovers(tmp_path)
    for name, (argv, message) in table.items():
        out = tmp_path / "out"
        code, stdout, stderr = run(capsys, *argv, "-o", out, "--no-progress")
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert code == 2, (name, stderr)
        assert len(lines) == 1 and lines[0].startswith("Error:"), (name, stderr)
        assert message in lines[0], (name, lines[0])
        assert "Traceback" not in stderr + stdout
        assert not out.exists() and leftovers(tmp_path) == before, name


def test_existing_output_needs_force(tmp_path, capsys, cases):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    for command in ("synthesize", "run"):
        code, _, stderr = run(capsys, command, cases, "--mode", "aggregate_seeded", "-o", out)
        assert code == 2 and "--force" in stderr
        assert (out / "keep.txt").exists()
    # --force replaces only a release showcase wrote: a folder of other files is refused, kept.
    code, _, stderr = run(capsys, "synthesize", cases, "--mode", "aggregate_seeded", "-o", out, "--force")
    assert code == 2 and "not a showcase release" in stderr and (out / "keep.txt").read_text() == "old"
    (out / "keep.txt").unlink()
    for _ in range(2):  # into the now empty folder, then over the release it holds
        code, _, stderr = run(capsys, "synthesize", cases, "--mode", "aggregate_seeded", "-o", out, "--force")
        assert code == 0 and (out / "synthetic.csv").exists(), stderr
    assert leftovers(tmp_path) == []


def test_failure_while_writing_leaves_nothing(tmp_path, capsys, cases, break_writer):
    break_writer(synthesize_job, "write_parquet")
    for command in ("synthesize", "run"):
        out = tmp_path / command
        code, _, stderr = run(capsys, command, cases, "--mode", "aggregate_seeded", "-o", out)
        assert code in (1, 130) and "Error:" in stderr
        assert not out.exists() and leftovers(tmp_path) == []


def test_help_has_examples(capsys):
    for command in ("synthesize", "run"):
        code, stdout, _ = run(capsys, command, "--help")
        assert code == 0
        assert "Example" in stdout and f"showcase {command} " in stdout


def test_preparation_options_reach_synthesis(tmp_path, capsys):
    data = write_csv(tmp_path / "d.csv", ["A", "B", "Z"], [("x", "N", "0")] * 6 + [("y", "b", "1")] * 6, ";")
    out = tmp_path / "o"
    code, _, stderr = run(
        capsys,
        "synthesize",
        data,
        "--mode",
        "aggregate_seeded",
        "-k",
        2,
        "-d",
        ";",
        "--null-marker",
        "N",
        "--sensitive-zeros",
        "Z",
        "-o",
        out,
    )
    assert code == 0, stderr
    table = read_table(out / "synthetic.csv")
    assert table.column_names == ["A", "B", "Z"]
    assert set(table.column("Z").to_pylist()) <= {"0", "1"}
    assert "N" not in table.column("B").to_pylist()
    meta = json.loads((out / "metadata.json").read_text())
    assert (
        meta["preparation"]
        == Preparation(delimiter=";", null_markers=("N",), sensitive_zeros=["Z"]).describe()
    )


def test_exact_aggregates_only_when_named_and_with_a_warning(tmp_path, capsys, cases):
    exact = tmp_path / "exact"
    assert run(capsys, "aggregate", cases, "-l", 2, "--unprotected", "-o", exact)[0] == 0
    out = tmp_path / "syn"
    code, _, stderr = run(capsys, "synthesize", "--from-aggregates", exact, "-o", out)
    assert code == 2 and "exact (unprotected)" in stderr and not out.exists()
    code, _, stderr = run(
        capsys, "synthesize", "--from-aggregates", exact / "sensitive_aggregates.parquet", "-o", out
    )
    assert code == 0 and "not marked as protected" in stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["privacy"]["mechanism"] == "none" and meta["privacy"]["sensitive"] is True
    assert "NOT marked as protected" in meta["privacy"]["guarantee"]


@pytest.mark.parametrize("argv,message", [
    (["synthesize", "--mode", "row_seeded", "--weight-selection-percentile", 90],
     "weight-selection-percentile: not a parameter of mode row_seeded"),
    (["synthesize", "--mode", "unseeded", "--use-synthetic-counts"],
     "use-synthetic-counts: not a parameter of mode unseeded"),
    (["run", "--oversampling-tries", 3], "oversampling-tries: not a parameter of mode row_seeded"),
    (["run", "--mode", "value_seeded", "--target-number-of-records", 5],
     "target-number-of-records: not a parameter of mode value_seeded"),
    (["run", "--mode", "aggregate_seeded", "--oversampling-ratio", 0.1],
     "oversampling-ratio: not a parameter of mode aggregate_seeded"),
])  # fmt: skip
def test_mode_options_of_another_mode_are_refused(tmp_path, capsys, cases, argv, message):
    out = tmp_path / "out"
    code, _, stderr = run(capsys, argv[0], cases, *argv[1:], "-o", out, "--no-progress")
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0], stderr
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("argv,message", [
    (["--mode", "value_seeded", "--oversampling-tries", 3],
     "--oversampling-tries applies only with --oversampling-ratio"),
    (["--mode", "value_seeded", "--oversampling-ratio", 1e9], "--oversampling-ratio must be a number"),
    (["--mode", "aggregate_seeded", "--aggregate-counts-scale-factor", 1e9],
     "--aggregate-counts-scale-factor must be a number"),
    (["--mode", "aggregate_seeded", "--target-number-of-records", 10**12],
     "--target-number-of-records must be an integer"),
])  # fmt: skip
def test_mode_options_are_checked_before_reading_and_named_as_options(tmp_path, capsys, argv, message):
    """The engine's names (``oversampling_tries``) are spelled as the options the user typed."""
    garbage = tmp_path / "cases.csv"
    garbage.write_bytes(b"\x00\xff" * 100)  # reading it would fail: the option must be refused first
    out = tmp_path / "out"
    code, _, stderr = run(capsys, "synthesize", garbage, *argv, "-o", out, "--no-progress")
    assert code == 2 and stderr.startswith("Error:") and message in stderr, stderr
    assert "_" not in stderr.split(":", 1)[1].split(" must ")[0].split(" applies ")[0], stderr
    assert not out.exists() and leftovers(tmp_path) == []


def refused_from(tmp_path, capsys, tsv: str, mode: str) -> str:
    """The one error line of ``synthesize --from-aggregates`` on aggregates ``tsv``; nothing written."""
    aggregates = tmp_path / "aggregates.tsv"
    aggregates.write_text(tsv)
    out = tmp_path / "o"
    code, _, stderr = run(capsys, "synthesize", "--from-aggregates", aggregates, "--mode", mode, "-o", out,
                          "--no-progress")  # fmt: skip
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("Warning:")]
    assert code == 2 and len(lines) == 1, stderr
    assert not out.exists() and leftovers(tmp_path) == []
    return lines[0]


@pytest.mark.parametrize("mode", ["tree", "pairwise"])
def test_aggregates_that_count_no_records_say_so_and_how_to_go_on(tmp_path, capsys, mode):
    # A DP release of very few records can have a noisy record count of 0.
    empty = "selections\tprotected_count\nrecord_count\t0\nA:x\t3\nB:y\t3\nA:x;B:y\t3\n"
    line = refused_from(tmp_path, capsys, empty, mode)
    assert "record count is 0" in line and "--target-number-of-records" in line
    out = tmp_path / "o"
    code, _, _ = run(capsys, "synthesize", "--from-aggregates", tmp_path / "aggregates.tsv", "--mode", mode,
                     "-o", out, "--target-number-of-records", 4, "--no-progress")  # fmt: skip
    assert code == 0 and read_table(out / "synthetic.csv").num_rows == 4


@pytest.mark.parametrize("mode", ["tree", "pairwise"])
def test_aggregates_without_pairs_say_which_mode_works(tmp_path, capsys, mode):
    singles = "selections\tprotected_count\nrecord_count\t6\nA:x\t3\nB:y\t3\n"
    line = refused_from(tmp_path, capsys, singles, mode)
    assert "these have none" in line and "choose --mode aggregate_seeded" in line


def test_a_length_with_nothing_released_is_not_shown_as_nothing_preserved():
    # An AIM release at L = 3 measured triples only: its summary said "length 2 … 0 … 0.0 %", as if the
    # records kept none of the released pairs, when there were none to keep.
    from types import SimpleNamespace

    from showcase.cli.synthesize import synthesis_rows

    metrics = {
        "by_length": [
            {"length": 1, "sensitive_combinations": 4, "preserved_pct": 100.0},
            {"length": 2, "sensitive_combinations": 0, "preserved_pct": 0.0},
        ],
        "synthetic_by_length": [4, 6],
        "overall": {"sensitive_combinations": 4, "preserved_pct": 100.0},
    }
    result = SimpleNamespace(input_records=10, synthetic=SimpleNamespace(n_rows=10), record_expansion=1.0,
                             metrics=metrics, length=2)  # fmt: skip
    rows = synthesis_rows(result)
    assert rows[1][3] == "100.0 %" and rows[2] == ["length 2", "0", "6", "–"] and rows[3][3] == "100.0 %"


@pytest.mark.parametrize("mode", ["row_seeded", "unseeded", "value_seeded", "aggregate_seeded"])
def test_the_written_records_keep_their_guarantee_through_the_job(tmp_path, capsys, mode):
    """What ``run`` writes, read back from its file: no record (k-anonymous modes) or no combination
    up to L (aggregate_seeded) rarer than k in the input. On a table with many rare combinations,
    so that a k passed on wrong, or records built from the exact counts, cannot hide."""
    from showcase.datasets import generate_table

    from . import naive_synthesis
    from .conftest import as_dict

    path = tmp_path / "input.parquet"
    pq.write_table(generate_table(1500, 8, seed=5), path)
    out = tmp_path / "release"
    code, _, stderr = run(capsys, "run", path, "-k", 5, "-l", 3, "--mode", mode, "-o", out, "--seed", 1,
                          "--no-progress")  # fmt: skip
    assert code == 0, stderr
    sensitive = load(path)
    written = read_table(out / "synthetic.parquet")
    synthetic = encode(written.select(list(sensitive.schema.columns)), schema=sensitive.schema)
    exact = as_dict(count_combinations(sensitive, 3))
    assert sum(1 for n in exact.values() if n < 5) > 100  # rare combinations abound
    if mode == "aggregate_seeded":
        made = as_dict(count_combinations(synthetic, 3))
        assert made and all(exact.get(combination, 0) >= 5 for combination in made)
    else:
        assert synthetic.n_rows and naive_synthesis.rare_records(sensitive.codes, synthetic.codes, 5) == []
