"""DP releases on a Dask cluster equal the in-memory release for a seed, whatever the workers.

The property test runs the cluster's tasks here, in one process (a client
that runs each task when it is submitted and hands results back in a
shuffled order); one CLI test runs a real ``local[2]`` cluster.
"""

from __future__ import annotations

import random
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from showcase.cli.main import main
from showcase.datasets.table import generate_table
from showcase.engine import Preparation, read_parquet
from showcase.engine.dp.adaptive import adaptive_aggregate
from showcase.engine.dp.adaptive_options import AdaptiveOptions
from showcase.engine.dp.marginals import GroupedRecords, dp_aggregate
from showcase.engine.dp.noise import RandomSource
from showcase.engine.encode import EncodedTable
from showcase.engine.jobs.protect import dp_steps
from showcase.engine.stream import Encoder, codes_stream, no_attribute, open_stream, plan, schema_of

from .test_stream import VALUES, partitioned, same, write_parts


class _Done:
    """A task that ran at once: its result."""

    def __init__(self, value) -> None:
        self.value = value

    def result(self):
        return self.value


def _resolved(argument):
    if isinstance(argument, _Done):
        return argument.value
    if type(argument) is tuple:  # Dask resolves futures inside plain tuples (not namedtuples)
        return tuple(_resolved(a) for a in argument)
    return argument


class InProcess:
    """The few client calls :class:`~showcase.engine.distributed.ClusterRecords` makes, run here."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def scheduler_info(self) -> dict:
        return {"workers": {f"w{i}": {} for i in range(self.workers)}}

    def submit(self, function, *arguments, pure: bool = True):
        return _Done(function(*(_resolved(a) for a in arguments)))

    def scatter(self, data, broadcast: bool = False, hash: bool = True):
        return tuple(_Done(d) for d in data)


@pytest.fixture
def in_process(monkeypatch):
    """ClusterRecords on an in-process client; results arrive in the order of ``arrivals`` (a Random)."""
    from showcase.engine import distributed

    arrivals = random.Random(0)

    def as_completed(futures):
        ordered = list(futures)
        arrivals.shuffle(ordered)
        return ordered

    monkeypatch.setattr(distributed, "_dask", lambda: SimpleNamespace(as_completed=as_completed))

    def held(found, encoder, batch, workers, order):
        arrivals.seed(order)
        return distributed.ClusterRecords(found, encoder, batch, (InProcess(workers), None), dp_steps())

    return held


def _planned(tmp, rows, cuts, codebook: bool):
    """The parts written, pass 1's plan and the encoder (a codebook schema: every value, used or not)."""
    write_parts(tmp / "parts", rows, cuts, "parquet")
    stream = open_stream(tmp / "parts", None, None)
    prep = Preparation()
    none = no_attribute(stream.columns, prep.null_markers, prep.sensitive_zeros)
    schema = schema_of(stream.columns, [set(VALUES)] * len(stream.columns), none) if codebook else None
    return stream, none, schema


cases = st.tuples(
    partitioned,
    st.integers(1, 3),  # workers (two groups each)
    st.booleans(),  # a codebook's schema
    st.integers(0, 2**31),  # noise seed
    st.integers(0, 2**31),  # arrival order
)


@settings(max_examples=40, deadline=None)
@given(case=cases, length=st.integers(1, 3), percentile=st.sampled_from([30.0, 99.0]))
def test_sds_on_grouped_workers_equals_the_whole_records_release(tmp_path_factory, in_process, case, length,
                                                                 percentile):  # fmt: skip
    """Parts with values absent and parts with no rows, groups arriving in any order: the release of
    every record's attribute list built at once (:class:`WholeRecords`), byte for byte."""
    (rows, cuts, batch), workers, codebook, seed, order = case
    stream, none, schema = _planned(tmp_path_factory.mktemp("parts"), rows, cuts, codebook)
    found = plan(stream, schema=schema, batch_rows=batch)
    encoder = Encoder(found.schema, none, codebook=codebook)
    whole = codes_stream(found, encoder, batch)  # every record in memory, in the stream's order
    options = dict(epsilon=8.0, delta=1e-6, length=length, percentile=percentile, public_domain=codebook)
    expected, expected_report = dp_aggregate(whole, source=RandomSource(seed), chunk_rows=None, **options)
    held = in_process(found, encoder, batch, workers, order)
    assert held.n == whole.n_rows and held.offsets[0] == 0
    schema_only = EncodedTable(found.schema, whole.codes[:, :0])
    grouped = GroupedRecords(found.schema, held.n, held.call, chunk_rows=7)  # trimmed a few at a time
    released, report = dp_aggregate(schema_only, source=RandomSource(seed), grouped=grouped, **options)
    same(expected, released)
    assert report.deltas == expected_report.deltas and report.released == expected_report.released


@settings(max_examples=20, deadline=None)
@given(case=cases, mechanism=st.sampled_from([("aim", 2), ("aim", 3), ("mst", 2)]))
def test_aim_and_mst_on_grouped_workers_equal_in_memory(tmp_path_factory, in_process, case, mechanism):
    """The workers' summed marginal tables give the in-memory release for a seed (selection, noise, fit)."""
    algorithm, length = mechanism
    (rows, cuts, batch), workers, codebook, seed, order = case
    stream, none, schema = _planned(tmp_path_factory.mktemp("parts"), rows, cuts, codebook)
    found = plan(stream, schema=schema, batch_rows=batch)
    encoder = Encoder(found.schema, none, codebook=codebook)
    whole = codes_stream(found, encoder, batch)
    options = dict(epsilon=8.0, delta=1e-6, options=AdaptiveOptions(algorithm=algorithm, length=length),
                   public_domain=codebook, seed=seed)  # fmt: skip
    expected, expected_report, _ = adaptive_aggregate(whole, source=RandomSource(seed), **options)
    held = in_process(found, encoder, batch, workers, order)
    schema_only = EncodedTable(found.schema, whole.codes[:, :0])
    released, report, _ = adaptive_aggregate(schema_only, source=RandomSource(seed), reader=held, **options)
    same(expected, released)
    assert report.describe() == expected_report.describe()


def test_dp_aggregates_on_two_workers_equal_one_process(tmp_path, capsys):
    """The CLI with --scheduler local[2] (sds with a low percentile, and aim) writes the single-machine
    release; the ledger is charged once per release, on the client."""
    from showcase.engine.dp.ledger import Ledger

    table = generate_table(3000, 6, seed=4)
    whole = tmp_path / "whole.parquet"
    pq.write_table(table, whole)
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(table.slice(0, 1900), parts / "a.parquet", row_group_size=500)
    pq.write_table(table.slice(0, 0), parts / "b.parquet")
    pq.write_table(table.slice(1900), parts / "c.parquet")
    for mechanism, extra in (("sds", ["--percentile", "60"]), ("aim", [])):
        released = {}
        for name, source, cluster in (("alone", whole, []), ("cluster", parts, ["--scheduler", "local[2]"])):
            out = tmp_path / f"{mechanism}-{name}"
            argv = ["aggregate", str(source), "-o", str(out), "-l", "3", "--dp", "--epsilon", "4",
                    "--seed", "3", "--mechanism", mechanism, "--ledger", str(tmp_path / f"{name}.sqlite"),
                    "--no-progress", *extra, *cluster]  # fmt: skip
            assert main(argv) == 0, capsys.readouterr().err
            released[name] = read_parquet(out / "aggregates.parquet")
        same(released["alone"], released["cluster"])
        assert len(released["alone"].count) > 50
    capsys.readouterr()
    alone, cluster = Ledger(tmp_path / "alone.sqlite"), Ledger(tmp_path / "cluster.sqlite")
    assert len(cluster.entries()) == len(alone.entries()) == 2
    assert [(e["rho"], e["status"], e["epsilon"]) for e in cluster.entries()] == [
        (e["rho"], e["status"], e["epsilon"]) for e in alone.entries()
    ]
    assert {e["status"] for e in cluster.entries()} == {"released"}
    # A DP run (aim, then fitted records) counted on the cluster writes the single-machine release.
    for name, source, cluster_flags in (
        ("alone", whole, []),
        ("cluster", parts, ["--scheduler", "local[2]"]),
    ):
        out, ledger = tmp_path / f"run-{name}", tmp_path / f"run-{name}.sqlite"
        argv = ["run", str(source), "-o", str(out), "--dp", "--epsilon", "4", "--seed", "3",
                "--ledger", str(ledger), "--no-progress", *cluster_flags]  # fmt: skip
        assert main(argv) == 0, capsys.readouterr().err
    for file in ("aggregates.tsv", "synthetic.csv"):
        assert (tmp_path / "run-alone" / file).read_bytes() == (tmp_path / "run-cluster" / file).read_bytes()


def test_subjects_are_refused_on_a_cluster_in_one_line(tmp_path, capsys):
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(generate_table(100, 4, seed=1), parts / "a.parquet")
    column = generate_table(100, 4, seed=1).column_names[0]
    argv = ["aggregate", str(parts), "-o", str(tmp_path / "out"), "--dp", "--epsilon", "1",
            "--subject-id", column, "--scheduler", "local[2]", "--ledger", str(tmp_path / "l.sqlite"),
            "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--scheduler releases DP counts of one record per row" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_the_guard_counts_the_records_a_cluster_brings_to_the_client():
    """sds brings the records above the bound (twice the percentile's share, the bound being noisy);
    aim and mst only marginal tables; the guard then sees those, not the whole table."""
    from showcase.engine import DifferentialPrivacy
    from showcase.engine.jobs.protect import client_records
    from showcase.engine.resources import estimate

    n = 100_000_000
    assert client_records(n, DifferentialPrivacy(epsilon=1.0)) == 2_000_001
    assert client_records(n, DifferentialPrivacy(epsilon=1.0, percentile=50.0)) == n
    assert client_records(n, DifferentialPrivacy(epsilon=1.0, algorithm="aim")) == 0
    cards = [5] * 20
    on_client = estimate(cards, 2_000_001, 3, dp=True, resident=2_000_001 * 36)
    in_one_process = estimate(cards, n, 3, dp=True, resident=n * 20)
    assert in_one_process.bytes - on_client.bytes >= n * 20  # the codes of every record stay on the workers
