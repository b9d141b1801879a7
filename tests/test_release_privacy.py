"""Red-team checks: what a release carries must be no more than its guarantee allows (SPEC §2–§3).

Each test here was written against a leak found by reading the code as an
attacker would, failed on the code before its fix, and guards the fix.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.csv  # noqa: F401  (pa.csv)
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from showcase.engine import aggregate, synthesize
from showcase.engine.errors import InputError
from showcase.engine.prepare import Preparation
from showcase.engine.protection import DifferentialPrivacy, KAnonymity

from .helpers import run


def _numbers(labels: list[str]) -> set[int]:
    """Every whole number written in ``labels`` (bin labels such as ``22-33``, ``<22``, ``46+``)."""
    return {int(n) for label in labels for n in re.findall(r"\d+", label)}


@settings(max_examples=15)
@given(
    high=st.integers(100, 10**6),
    low=st.integers(0, 9),
    bins=st.integers(2, 8),
    seed=st.integers(0, 2**16),
)
def test_k_anonymous_quantile_bins_never_name_an_outlier_value(high, low, bins, seed):
    """Exact quantile bins without a public range: the lowest and the highest bin are open.

    One record holds the largest value and one the smallest; a label such
    as ``46-999`` would print the largest value of a single record in a
    k-anonymous release (its bin holds k records, its label names one).
    """
    rng = np.random.default_rng(seed)
    middle = rng.integers(10, 61, size=60).tolist()
    values = [*middle, high, low]
    table = pa.table({"age": [str(v) for v in values], "sex": [("F", "M")[v % 2] for v in values]})
    prep = Preparation(bins={"age": f"quantiles:{bins}"})
    released = aggregate(table, protection=KAnonymity(5), length=1, preparation=prep).released
    schema = released.on_released_schema().schema
    labels = schema.dictionaries[schema.column_index("age")].to_pylist()
    assert labels, "the middle bins hold far more than k records"
    named = _numbers(labels)
    for outlier in (high, high + 1, low):
        assert outlier not in named, f"{outlier} is one record's value, and the labels {labels} name it"


def _cases(extra: int) -> pa.Table:
    """300 records of three columns, plus ``extra`` records that hold values nobody else holds."""
    rng = np.random.default_rng(7)
    rows = [(f"a{rng.integers(3)}", f"b{rng.integers(3)}", f"c{rng.integers(2)}") for _ in range(300)]
    rows += [(f"rare_a{i}", f"rare_b{i}", "c0") for i in range(extra)]
    return pa.table({name: [row[i] for row in rows] for i, name in enumerate("abc")})


def _published(folder) -> dict:
    """A release's metadata.json without what differs between any two runs or inputs.

    ``created`` is the clock's; ``input`` is the fingerprint SPEC §2 asks
    for, which differs for any two inputs.
    """
    document = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    return {key: value for key, value in document.items() if key not in ("created", "input")}


def test_dp_metadata_holds_nothing_of_the_input_outside_the_noisy_counts(tmp_path, monkeypatch):
    """Apart from its noisy outputs, a DP release's metadata is the same for any input.

    Two inputs, one ten times the other and above the streaming size: the
    metadata held every step's time (which grows with the rows and the
    combinations the data has) and whether the file was streamed (its size in
    bytes against a threshold). Neither is protected by the noise. The
    sections that carry the noisy counts (``privacy``, ``aggregates``,
    ``statistics``) and the keyed fingerprint are left out of the comparison.
    """
    import showcase.engine.stream as stream

    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    pa.csv.write_csv(_cases(0), small)
    pa.csv.write_csv(pa.concat_tables([_cases(0)] * 10), large)
    monkeypatch.setattr(stream, "STREAM_ABOVE", small.stat().st_size + 1)
    noisy = ("privacy", "aggregates", "statistics")
    documents = []
    for source in (small, large):
        out = tmp_path / f"release-{source.stem}"
        aggregate(source, protection=DifferentialPrivacy(epsilon=1, delta=1e-6), length=2, out=out, seed=3)
        documents.append({key: value for key, value in _published(out).items() if key not in noisy})
    assert documents[0] == documents[1], "the DP metadata depends on the input outside its noise"


def test_synthesis_from_dp_aggregates_publishes_nothing_of_the_reference_input(tmp_path, monkeypatch):
    """``synthesize INPUT --from-aggregates DP_RELEASE``: the input is only the check's reference.

    The records come from the DP aggregates alone, and the metadata calls the
    release differentially private; so the metadata must not change when the
    sensitive input does. It printed the share of the input's distinct
    combinations the records preserve, which gives their exact number.
    """
    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    released = aggregate(_cases(0), protection=DifferentialPrivacy(epsilon=4, delta=1e-6), length=2,
                         seed=3).released  # fmt: skip
    documents = []
    for extra in (0, 5):
        out = tmp_path / f"synthetic-{extra}"
        synthesize(_cases(extra), aggregates=released, mode="tree", out=out, seed=11)
        documents.append(_published(out))
    assert documents[0]["privacy"]["mechanism"] == "differential-privacy"
    assert documents[0] == documents[1], "the published metadata depends on the sensitive input"


def _ages(decimal: bool) -> pa.Table:
    """300 records with whole ages from 10 to 59 and a sex; with ``decimal``, one more aged 15.5."""
    rng = np.random.default_rng(5)
    ages = [str(a) for a in rng.integers(10, 60, size=300)] + (["15.5"] if decimal else [])
    return pa.table({"age": ages, "sex": [("F", "M")[i % 2] for i in range(len(ages))]})


def test_dp_bin_labels_do_not_depend_on_one_records_value(tmp_path, monkeypatch):
    """Under DP, width bins are labelled as their spelling says, not as the data are.

    The label style (``10-19`` for whole numbers, ``[10, 20)`` otherwise) was
    chosen from the data when no column had quantile bins: one record aged
    15.5 relabelled every released age bin, which no noise hides. Now the
    neighbour is refused (not whole numbers), as DP quantile bins already were.
    """
    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    prep = Preparation(bins={"age": "width:10"})
    dp = DifferentialPrivacy(epsilon=8, delta=1e-6, algorithm="sds")
    whole = aggregate(_ages(False), protection=dp, length=1, preparation=prep, seed=1).released
    schema = whole.on_released_schema().schema
    labels = schema.dictionaries[schema.column_index("age")].to_pylist()
    assert labels and all(re.fullmatch(r"\d+-\d+", label) for label in labels), labels
    try:
        neighbour = aggregate(_ages(True), protection=dp, length=1, preparation=prep, seed=1).released
    except InputError as refused:
        assert "whole numbers" in str(refused)
    else:
        schema = neighbour.on_released_schema().schema
        relabelled = schema.dictionaries[schema.column_index("age")].to_pylist()
        assert all(re.fullmatch(r"\d+-\d+", label) for label in relabelled), relabelled


SECRET = "onlyonevictimhasthis"


def _multi_value_cases(path) -> None:
    """400 records with a multi-value cell; one record alone holds the value :data:`SECRET`."""
    rng = np.random.default_rng(9)
    lines = ["region,means"]
    for _ in range(400):
        means = sorted(rng.choice(["debt", "threats", "documents"], 2))
        lines.append(f"r{rng.integers(3)},{';'.join(means)}")
    lines.append(f"r0,threats;{SECRET}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


JOBS = {
    "aggregate": ["aggregate", "-l", 2, "-k", 5],
    "run row_seeded": ["run", "-l", 2, "-k", 5, "--seed", 4],
    "run aggregate_seeded": ["run", "-l", 2, "-k", 5, "--mode", "aggregate_seeded", "--seed", 4],
    "synthesize unseeded": ["synthesize", "-l", 2, "-k", 5, "--mode", "unseeded", "--seed", 4],
    "synthesize value_seeded": ["synthesize", "-l", 2, "-k", 5, "--mode", "value_seeded", "--seed", 4],
    "run --dp sds": ["run", "--dp", "--epsilon", 2, "--mechanism", "sds", "--seed", 4],
    "run --dp": ["run", "--dp", "--epsilon", 2, "--seed", 4],
}


@pytest.mark.parametrize(
    ("job", "flags"),
    [
        (job, flags)
        for job in JOBS
        for flags in [(), ("--flag-multi-value",)]
        if job != "aggregate" or not flags
    ],
    ids=lambda value: (" ".join(value) or "joined") if isinstance(value, tuple) else value,
)
def test_a_value_one_record_holds_is_written_nowhere(tmp_path, capsys, monkeypatch, job, flags):
    """Each value of a multi-value column is an indicator column named ``COL:value``.

    The release suppressed the value one record holds, but the column's name
    still carried it into the files: the aggregates' Parquet metadata,
    metadata.json's column lists and, with ``--flag-multi-value``, a header
    of the synthetic files. No byte of any file of the release may hold it.
    """
    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    cases = tmp_path / "cases.csv"
    _multi_value_cases(cases)
    argv = JOBS[job]
    out = tmp_path / "release"
    code, _, err = run(capsys, argv[0], cases, *argv[1:], "--multi-value", "means", *flags, "--no-progress",
                       "-o", out)  # fmt: skip
    assert code == 0, err
    for file in sorted(out.iterdir()):
        assert SECRET.encode() not in file.read_bytes(), f"{file.name} names the value one record holds"


@pytest.mark.parametrize("mechanism", ["aim", "mst"])
def test_adaptive_mechanisms_refuse_multi_value_columns_named_by_the_data(tmp_path, capsys, monkeypatch,
                                                                          mechanism):  # fmt: skip
    """aim and mst measure every column: a multi-value column's indicators ``COL:value`` are columns.

    Without a codebook that lists every value, which columns exist is the
    set of values in the data: their number sized the 1-way noise, the
    exponential mechanism chose among them, and the measured marginals named
    them in the metadata (``means:onlyonevictimhasthis``), whatever the
    noise. Refused (sds thresholds every value), with nothing written.
    """
    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    cases = tmp_path / "cases.csv"
    _multi_value_cases(cases)
    out = tmp_path / "release"
    code, _, err = run(capsys, "run", cases, "--dp", "--epsilon", 2, "--mechanism", mechanism,
                       "--multi-value", "means", "--no-progress", "-o", out)  # fmt: skip
    assert code == 2 and "multi-value" in err and "sds" in err, err
    assert not out.exists()


def test_dp_metadata_does_not_count_the_datas_distinct_values(tmp_path, monkeypatch):
    """sds without a public codebook: length 1's candidates are every attribute of the data.

    Their number is the exact count of distinct values, which the metadata
    published as ``candidates_by_length[0]``: adding three records with new
    values moved it by three, deterministically. Longer candidates are built
    from released combinations only, so their numbers stay.
    """
    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    dp = DifferentialPrivacy(epsilon=4, delta=1e-6, algorithm="sds")
    published = []
    for extra in (0, 3):
        facts = aggregate(_cases(extra), protection=dp, length=2, seed=5).privacy
        assert facts["public_domain"] is False and len(facts["candidates_by_length"]) == 2
        published.append(facts["candidates_by_length"][0])
    assert published[0] == published[1], f"length 1's candidates count the data's values: {published}"


def test_an_evaluation_says_it_is_not_for_publication(tmp_path, capsys):
    """SPEC §5: an evaluation holds exact statistics of the sensitive data and is marked so.

    It was written into the release folder by default, which users publish (now beside it), and
    its text said it held "no sensitive record" beside the exact record count.
    """
    cases = tmp_path / "cases.csv"
    _multi_value_cases(cases)
    release = tmp_path / "release"
    assert run(capsys, "aggregate", cases, "-l", 2, "-k", 5, "--no-progress", "-o", release)[0] == 0
    code, _, err = run(capsys, "evaluate", cases, release, "-l", 2, "-k", 5, "--no-progress")
    assert code == 0, err
    evaluation = tmp_path / "release-evaluation"
    assert not (release / "evaluation.json").exists()
    document = json.loads((evaluation / "evaluation.json").read_text(encoding="utf-8"))
    assert document["sensitive_records"] == 401  # exact: what makes it private
    assert document["publishable"] is False and "Not for publication" in document["contents"]
    assert "Not for publication" in (evaluation / "report.html").read_text(encoding="utf-8")


def test_records_from_a_seeded_dp_release_are_not_for_publication_either(tmp_path, capsys, monkeypatch):
    """A seeded DP release's noise can be recomputed from its seed: it is marked not for publication.

    Records synthesized from it later, without a seed of their own, are as
    exposed as its counts; their metadata said ``"seeded": false`` and
    "as private as the aggregates", and nothing of the seed. They must carry
    the warning on.
    """
    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    cases = tmp_path / "cases.csv"
    _multi_value_cases(cases)
    release, synthetic = tmp_path / "release", tmp_path / "synthetic"
    code, _, err = run(capsys, "aggregate", cases, "--dp", "--epsilon", 2, "-l", 2, "--seed", 8,
                       "--no-progress", "-o", release)  # fmt: skip
    assert code == 0, err
    code, _, err = run(capsys, "synthesize", "--from-aggregates", release, "--no-progress", "-o", synthetic)
    assert code == 0, err
    document = json.loads((synthetic / "metadata.json").read_text(encoding="utf-8"))
    assert document["randomness"]["seeded"] is True
    assert "not for publication" in document["randomness"]["warning"]
    assert "not for publication" in document["privacy"]["warning"]


def test_fitted_records_keep_their_values_when_a_public_value_is_not_released(tmp_path, capsys, monkeypatch):
    """mst with a codebook's multi-value column, one of whose listed values no record holds.

    The released schema drops that value's indicator column; the fitted
    records must still put every other value in its own column (a shifted
    mapping wrote each value's records under the next value's name).
    """
    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    cases, codebook = tmp_path / "cases.csv", tmp_path / "codebook.yaml"
    _multi_value_cases(cases)
    codebook.write_text(
        "showcase_codebook: 1\ncolumns:\n  region:\n    values: [r0, r1, r2]\n  means:\n"
        f"    values: [debt, documents, neverseen, threats, {SECRET}]\n    multi_value: ';'\n",
        encoding="utf-8",
    )
    out = tmp_path / "release"
    argv = ["run", cases, "--codebook", codebook, "--dp", "--epsilon", 50, "--mechanism", "mst"]
    for seed in range(1, 30):  # the first release whose noise leaves 'neverseen' out (most do)
        code, _, err = run(capsys, *argv, "--seed", seed, "--no-progress", "-o", out, "--force")
        assert code == 0, err
        released = {}
        for line in (out / "aggregates.tsv").read_text(encoding="utf-8").splitlines()[2:]:
            selection, count = line.split("\t")
            if ";" not in selection and selection.startswith("means:"):
                released[selection.split(":", 1)[1]] = int(count)
        if "neverseen" not in released:  # the case this test is about: a dropped indicator column
            break
    assert "neverseen" not in released
    synthetic = pa.csv.read_csv(out / "synthetic.csv").column("means").to_pylist()
    held = {value: sum(value in (cell or "").split(";") for cell in synthetic) for value in released}
    for value, count in released.items():
        assert abs(held[value] - count) <= 0.2 * count + 10, (value, held[value], count)


@pytest.mark.parametrize("mode", ["row_seeded", "aggregate_seeded"])
def test_a_multi_value_column_with_no_value_released_stays_in_the_files(tmp_path, capsys, mode):
    """Dropping indicator columns must not drop the input's column: it stays, empty (SPEC §3)."""
    cases = tmp_path / "cases.csv"
    rows = [f"r{i % 3},{'' if i % 50 else f'zqx{i}'}" for i in range(300)]
    cases.write_text("region,means\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "release"
    code, _, err = run(capsys, "run", cases, "-l", 2, "-k", 10, "--mode", mode, "--multi-value", "means",
                       "--seed", 1, "--no-progress", "-o", out)  # fmt: skip
    assert code == 0, err
    assert (out / "synthetic.csv").read_text(encoding="utf-8").splitlines()[0] == "region,means"
    assert b"zqx" not in b"".join(file.read_bytes() for file in out.iterdir())


def test_the_published_input_fingerprint_lets_nobody_test_a_guess(tmp_path, monkeypatch):
    """SPEC §2's input fingerprint, published as a plain SHA-256, is an oracle: whoever knows every
    record but one hashes each candidate input and sees which matches. It is keyed with the owner's
    secret: the owner can match a release to its input, nobody else can."""
    from showcase.engine.ingest import fingerprint

    data = tmp_path / "cases.csv"
    pa.csv.write_csv(_cases(0), data)
    monkeypatch.setenv("SHOWCASE_KEY", str(tmp_path / "owner" / "fingerprint.key"))
    aggregate(data, protection=KAnonymity(5), length=2, out=tmp_path / "r1")
    published = json.loads((tmp_path / "r1" / "metadata.json").read_text())["input"]["fingerprint"]
    guess = fingerprint(data)  # what an attacker holding a candidate input computes
    assert published != guess and guess.split(":")[1] not in published
    assert (tmp_path / "owner" / "fingerprint.key").stat().st_mode & 0o077 == 0  # the owner's only
    aggregate(data, protection=KAnonymity(5), length=2, out=tmp_path / "r2")
    assert json.loads((tmp_path / "r2" / "metadata.json").read_text())["input"]["fingerprint"] == published
    monkeypatch.setenv("SHOWCASE_KEY", str(tmp_path / "other" / "fingerprint.key"))
    aggregate(data, protection=KAnonymity(5), length=2, out=tmp_path / "r3")
    assert json.loads((tmp_path / "r3" / "metadata.json").read_text())["input"]["fingerprint"] != published


def test_dp_percentile_range_does_not_count_the_datas_multi_value_values(tmp_path, monkeypatch):
    """The range of the percentile step comes from public facts only.

    Without a codebook, each value of a multi-value column is a column of its
    own (``means:debt``). The per-record candidate count was ranged over
    ``comb(columns, k)``, counting the columns the data named: one record
    with a value nobody else holds widened the range at every length, and
    the range shapes the percentile mechanism's prior and so its output.
    """
    import showcase.engine.dp.marginals as marginals

    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    ranges: list[list[int]] = []
    percentile = marginals.dp_percentile_of_histogram

    def spy(histogram, *args, **kwargs):
        ranges[-1].append(len(histogram))
        return percentile(histogram, *args, **kwargs)

    monkeypatch.setattr(marginals, "dp_percentile_of_histogram", spy)
    for extra in (0, 1):
        cases = tmp_path / f"cases-{extra}.csv"
        _multi_value_cases(cases)
        if not extra:  # the same records but the one that holds SECRET
            cases.write_text("\n".join(cases.read_text().splitlines()[:-1]) + "\n")
        ranges.append([])
        aggregate(cases, protection=DifferentialPrivacy(epsilon=2, delta=1e-6), length=4, seed=1,
                  preparation=Preparation(multi_value={"means": ";"}))  # fmt: skip
    assert ranges[0] == ranges[1], "the percentile's range depends on the values the data holds"
    assert len(ranges[0]) == 4


def test_evaluation_and_comparison_documents_key_the_input_fingerprint_too(tmp_path, monkeypatch, capsys):
    """They are the owner's documents, but they get shared: the same oracle must not be in them."""
    from showcase.engine.ingest import fingerprint

    from .helpers import run as cli

    data = tmp_path / "cases.csv"
    pa.csv.write_csv(_cases(0), data)
    monkeypatch.setenv("SHOWCASE_KEY", str(tmp_path / "owner" / "fingerprint.key"))
    assert cli(capsys, "run", data, "-k", 5, "-l", 2, "-o", tmp_path / "r", "--no-progress")[0] == 0
    assert cli(capsys, "evaluate", data, tmp_path / "r", "-l", 2, "-o", tmp_path / "e")[0] == 0
    assert (
        cli(capsys, "compare", data, "-l", 2, "-m", "aggregate:k=5", "-o", tmp_path / "c", "--no-progress")[0]
        == 0
    )
    guess = fingerprint(data).split(":")[1]
    for document in (tmp_path / "e" / "evaluation.json", tmp_path / "c" / "comparison.json"):
        shown = json.loads(document.read_text())["sensitive"]["fingerprint"]
        assert shown.startswith("hmac-sha256:") and guess not in shown


def test_whether_a_dp_release_is_refused_before_its_charge_does_not_depend_on_one_record(
    tmp_path, monkeypatch
):
    """The checks before the charge read public facts only.

    A reporting length was checked against the columns a multi-value column
    makes (one per value the data holds), and the noise range against the
    default delta of the exact record count: adding one record turned a
    refusal into a release. Neighbours must now both release or both be refused,
    and with the same noise.
    """
    monkeypatch.setenv("SHOWCASE_LEDGER", str(tmp_path / "ledger.sqlite"))
    rows = "a,b\n" + "p,x\nq,x\n" * 250
    for name, extra in (("without", ""), ("with", "p,x;y\n")):
        (tmp_path / f"{name}.csv").write_text(rows + extra)
    sigmas = []
    for name in ("without", "with"):
        result = aggregate(tmp_path / f"{name}.csv", protection=DifferentialPrivacy(epsilon=4, delta=1e-6),
                           length=3, seed=1, preparation=Preparation(multi_value={"b": ";"}))  # fmt: skip
        sigmas.append(result.privacy["sigmas"])
    assert sigmas[0] == sigmas[1] and len(sigmas[0]) == 3
    # The noise check: an epsilon at the edge of the sampler's range is refused for every input or none.
    (tmp_path / "small.csv").write_text("a\n" + "p\n" * 5)
    (tmp_path / "large.csv").write_text("a\n" + "p\n" * 5000)
    outcomes = set()
    for epsilon in np.geomspace(5e-5, 5e-4, 12):
        refused = []
        for name in ("small", "large"):
            try:
                from showcase.engine.dp.parameters import check_against_table
                from showcase.engine.prepare import load_input

                loaded = load_input(tmp_path / f"{name}.csv", Preparation())
                check_against_table(loaded.table, DifferentialPrivacy(epsilon=float(epsilon)), 1, False)
                refused.append(False)
            except Exception:  # noqa: BLE001 - any refusal counts
                refused.append(True)
        assert refused[0] == refused[1], epsilon
        outcomes.add(refused[0])
    assert outcomes == {True, False}  # the sweep crosses the edge
