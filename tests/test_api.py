"""The Python API: jobs take a path, a pyarrow.Table or a PyCapsule data frame; specs validate once."""

from __future__ import annotations

import json

import hypothesis.strategies as st
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given

from showcase.datasets import generate_table, write_table
from showcase.engine import (
    DifferentialPrivacy,
    Exact,
    InputError,
    KAnonymity,
    ParameterError,
    Preparation,
    aggregate,
    run,
    synthesize,
)

from .conftest import as_dict


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "cases.csv"
    write_table(generate_table(600, 6, seed=11), path)
    return path


class CapsuleOnly:
    """A table that offers nothing but the Arrow PyCapsule stream (as polars or DuckDB do)."""

    def __init__(self, table: pa.Table):
        self._table = table

    def __arrow_c_stream__(self, requested_schema=None):
        return self._table.__arrow_c_stream__(requested_schema)


def as_strings(path) -> pa.Table:
    import pyarrow.csv as pacsv

    names = pacsv.read_csv(path).column_names
    options = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False)
    return pacsv.read_csv(path, convert_options=options)


@pytest.mark.parametrize("kind", ["table", "pandas", "capsule"])
def test_in_memory_inputs_count_what_the_file_counts(cases, kind):
    table = as_strings(cases)
    source = {"table": table, "pandas": table.to_pandas(), "capsule": CapsuleOnly(table)}[kind]
    from_file = aggregate(cases, protection=KAnonymity(5), length=3)
    from_memory = aggregate(source, protection=KAnonymity(5), length=3)
    assert as_dict(from_memory.released) == as_dict(from_file.released)
    assert as_dict(from_memory.exact) == as_dict(from_file.exact)


def test_in_memory_input_is_written_with_its_fingerprint(tmp_path, cases):
    table = as_strings(cases)
    result = aggregate(table, protection=KAnonymity(5), length=2, out=tmp_path / "r")
    meta = json.loads((tmp_path / "r" / "metadata.json").read_text())
    assert meta["input"]["format"] == "table"
    assert meta["input"]["fingerprint"].startswith("hmac-sha256:")  # keyed, see test_release_privacy
    again = aggregate(table, protection=KAnonymity(5), length=2, out=tmp_path / "s")
    assert json.loads((tmp_path / "s" / "metadata.json").read_text())["input"] == meta["input"]
    assert result.files == again.files


def test_results_are_arrow_with_pandas_one_call_away(cases):
    result = run(cases, protection=KAnonymity(5), length=2, seed=1)
    records = result.to_arrow()
    assert records.num_rows == result.synthesis.synthetic.n_rows
    assert records.column_names == list(result.synthesis.synthetic.schema.columns)
    frame = result.to_pandas()
    assert frame.shape == (records.num_rows, records.num_columns)
    counts = result.aggregate.to_arrow()
    assert counts.num_rows == len(result.aggregate.released)
    assert int(np.asarray(counts.column("count")).sum()) == int(result.aggregate.released.count.sum())


def test_dp_and_k_anonymity_return_the_same_result_type(tmp_path, cases):
    kanon = aggregate(cases, protection=KAnonymity(5), length=2)
    dp = aggregate(cases, protection=DifferentialPrivacy(4, ledger=tmp_path / "l.sqlite"), length=2, seed=2)
    assert type(kanon) is type(dp)
    assert dp.exact is None and dp.privacy["mechanism"] == "differential-privacy"
    assert kanon.privacy["mechanism"] == "k-anonymity"
    with pytest.raises(AttributeError, match="no exact counts"):
        dp.rare_by_length  # noqa: B018


def test_anything_but_a_spec_is_refused(cases):
    for wrong in (10, "k-anonymity", None, {"k": 10}):
        with pytest.raises(ParameterError, match="protection must be"):
            aggregate(cases, protection=wrong)
    with pytest.raises(ParameterError, match="protection must be KAnonymity"):
        synthesize(cases, protection=DifferentialPrivacy(1))
    with pytest.raises(ParameterError, match="protection must be"):
        run(cases, protection=Exact())


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda c, t: run(c, protection=DifferentialPrivacy(1, ledger=t), mode="row_seeded"),
            "reads the sensitive",
        ),
        (lambda c, t: run(c, protection=DifferentialPrivacy(1, ledger=t), length=1), "length 2 or more"),
        (lambda c, t: run(c, mode="row_seeded", weight_selection_percentile=50), "not a parameter"),
        (
            lambda c, t: aggregate(c, protection=DifferentialPrivacy(1, thresholds=[1, 2]), length=2),
            "thresholds",
        ),
    ],
)
def test_options_that_do_not_apply_are_refused_before_any_work(tmp_path, cases, call, message):
    ledger = tmp_path / "ledger.sqlite"
    with pytest.raises(ParameterError, match=message):
        call(cases, ledger)
    assert not ledger.exists()  # refused before the ledger was opened


@given(k=st.one_of(st.integers(max_value=0), st.integers(min_value=2**31), st.booleans(), st.floats()))
def test_k_outside_its_range_is_refused_at_construction(k):
    with pytest.raises(ParameterError, match="resolution"):
        KAnonymity(k)


@given(
    epsilon=st.one_of(st.floats(max_value=9.9e-7), st.floats(min_value=1.01e4), st.just(float("nan"))),
)
def test_epsilon_outside_its_range_is_refused_at_construction(epsilon):
    with pytest.raises(ParameterError, match="epsilon"):
        DifferentialPrivacy(epsilon)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"delta": 1.0}, "delta"),
        ({"delta": 0.0}, "delta"),
        ({"record_count_proportion": 0.6, "percentile_proportion": 0.5}, "sum to less than 1"),
        ({"percentile": 0}, "percentile"),
        ({"fabrication_mode": "wild"}, "fabrication mode"),
        ({"accuracy_mode": "wild"}, "accuracy mode"),
        ({"sigma_proportions": "12"}, "sigma proportions"),
        ({"budget_total": -1}, "budget total"),
        ({"dataset_id": " "}, "dataset-id"),
    ],
)
def test_dp_options_are_checked_at_construction(options, message):
    with pytest.raises(ParameterError, match=message):
        DifferentialPrivacy(1.0, **options)


def test_a_spec_is_a_frozen_value():
    spec = DifferentialPrivacy(2, thresholds=[3, 4])
    assert spec.thresholds == (3.0, 4.0) and spec == DifferentialPrivacy(2.0, thresholds=(3, 4))
    with pytest.raises(AttributeError):
        spec.epsilon = 100  # type: ignore[misc]
    spec.check(3)
    with pytest.raises(ParameterError, match="thresholds"):
        spec.check(4)
    assert "ledger" not in spec.describe() and spec.describe()["thresholds"] == [3.0, 4.0]


@pytest.mark.parametrize("kind", ["aggregate", "run"])
def test_a_dp_job_protects_subjects_not_rows(tmp_path, kind):
    """With a subject id, the DP job counts subjects (all rows of one together), for aggregate and run.

    The rows of a subject differ, so its columns are declared multi-value (DP requires it).
    """
    rows = generate_table(600, 4, seed=3)
    subjects = pa.array([f"s{i // 6}" for i in range(rows.num_rows)])  # 100 subjects of 6 rows each
    table = rows.append_column("subject", subjects)
    job = {"aggregate": aggregate, "run": run}[kind]

    def released(preparation):
        spec = DifferentialPrivacy(1e4, ledger=tmp_path / f"{kind}-{preparation.subject_id}.sqlite")
        result = job(table, protection=spec, length=2, preparation=preparation, seed=4)
        return (result.aggregate if kind == "run" else result).released

    with pytest.raises(InputError, match="declare them multi-value"):
        released(Preparation(subject_id="subject"))
    multi = {name: ";" for name in rows.column_names}
    per_subject = released(Preparation(subject_id="subject", multi_value=multi))
    assert abs(per_subject.record_count - 100) <= 1  # eps 50 on the count: noise well under 1
    assert "subject" not in per_subject.schema.columns
    per_row = released(Preparation(use_columns=list(rows.column_names)))
    assert abs(per_row.record_count - 600) <= 1


def test_a_column_with_too_many_values_is_refused_by_name_and_count(tmp_path, capsys):
    from .helpers import run as cli

    path = tmp_path / "ids.csv"
    path.write_text("case_ref,sex\n" + "".join(f"secret-{i},{'fm'[i % 2]}\n" for i in range(12)))
    message = r"column 'case_ref' has 12 distinct values, more than the limit of 10:"
    with pytest.raises(InputError, match=message):
        aggregate(path, protection=KAnonymity(2), preparation=Preparation(max_cardinality=10))
    out = tmp_path / "o"
    code, stdout, stderr = cli(capsys, "aggregate", path, "-k", 2, "--max-cardinality", 10, "-o", out)
    assert code == 2 and "case_ref" in stderr and "secret" not in stderr + stdout
    assert not out.exists()
    kept = aggregate(path, protection=KAnonymity(2), length=1, preparation=Preparation(max_cardinality=12))
    assert kept.exact.by_length().tolist() == [14]
    assert aggregate(path, protection=KAnonymity(2), length=1).exact is not None  # default limit 10,000
    with pytest.raises(ParameterError, match="max cardinality"):
        Preparation(max_cardinality=0)
    assert "max_cardinality" not in Preparation().describe()
    assert Preparation(max_cardinality=50).describe()["max_cardinality"] == 50
