"""Counting on a Dask LocalCluster of 2 worker processes gives the single-process counts exactly."""

from __future__ import annotations

import json
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from showcase.cli.main import main
from showcase.datasets.table import generate_table
from showcase.engine import Exact, ParameterError, aggregate
from showcase.engine.resources import Resources

from .test_stream import nothing_to_count, partitioned, same, whole_file, write_parts


def test_local_cluster_of_two_workers_equals_one_process(tmp_path, capsys):
    table = generate_table(6000, 8, seed=5)
    parts = tmp_path / "parts"
    parts.mkdir()
    # Three files, one with several row groups (split between workers), one with no rows.
    pq.write_table(table.slice(0, 4000), parts / "a.parquet", row_group_size=1000)
    pq.write_table(table.slice(4000, 2000), parts / "b.parquet")
    pq.write_table(table.slice(0, 0), parts / "c.parquet")
    whole = tmp_path / "whole.parquet"
    pq.write_table(table, whole)
    alone = aggregate(whole, length=3, protection=Exact(), resources=Resources(stream=False))
    out = tmp_path / "release"
    flags = ["--length", "3", "--resolution", "5", "--scheduler", "local[2]", "--no-progress"]
    assert main(["aggregate", str(parts), "-o", str(out), *flags]) == 0
    capsys.readouterr()
    from showcase.engine import k_anonymize, read_parquet

    released = read_parquet(out / "aggregates.parquet")
    expected = k_anonymize(alone.exact, 5)
    assert released.record_count == expected.record_count == 6000
    from showcase.engine.aggregates_io import selections

    assert sorted(zip(selections(released).to_pylist(), released.count.tolist())) == sorted(
        zip(selections(expected).to_pylist(), expected.count.tolist())
    )


def test_missing_dask_is_one_line(tmp_path, monkeypatch):
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(generate_table(100, 4, seed=1), parts / "a.parquet")
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as when not installed
    with pytest.raises(ParameterError, match=r"pip install 'showcase\[distributed\]'"):
        aggregate(parts, resources=Resources(scheduler="local[2]"))


# --- synthesis split across workers ---------------------------------------------------------------


def _k_anonymous_release(rows: int = 3000, columns: int = 6):
    from showcase.engine import count_combinations, encode, k_anonymize

    return k_anonymize(count_combinations(encode(generate_table(rows, columns, seed=11)), 3), 5)


@pytest.mark.parametrize("mode", ["aggregate_seeded", "tree"])
@settings(max_examples=6, deadline=None)
@given(cuts=st.lists(st.integers(1, 4), min_size=0, max_size=3), seed=st.integers(0, 2**32 - 1))
def test_runs_of_partitions_rebuild_the_whole_synthesis(mode, cuts, seed):
    """Any way of cutting the partitions into runs gives the records of one call, byte for byte."""
    from showcase.engine.randomness import make_rng
    from showcase.engine.synthesize import split_work, synthesize

    release = _k_anonymous_release()
    n = 4 * 4096 + 17  # five partitions, the last one short
    whole = synthesize(mode, release, rng=make_rng(seed), target_number_of_records=n)
    work = split_work(mode, release, rng=make_rng(seed), target_number_of_records=n)
    bounds = sorted({0, work.n_parts, *(c for c in cuts if c < work.n_parts)})
    pieces = [work.fill(work.payload, a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    rebuilt = work.table(np.concatenate(pieces, axis=1))
    assert rebuilt.schema.columns == whole.schema.columns
    np.testing.assert_array_equal(rebuilt.codes, whole.codes)
    assert work.runs(3) == [(0, 2), (2, 3), (3, 5)]


def test_synthesis_on_two_workers_is_byte_identical_to_one_process(tmp_path, capsys):
    table = generate_table(4000, 6, seed=2)
    data = tmp_path / "data.parquet"
    pq.write_table(table, data)
    release = tmp_path / "release"
    assert main(["aggregate", str(data), "-o", str(release), "-l", "3", "-k", "5", "--no-progress"]) == 0
    for mode in ("aggregate_seeded", "tree"):
        files = {}
        for name, extra in (("alone", []), ("cluster", ["--scheduler", "local[2]"])):
            out = tmp_path / f"{mode}-{name}"
            argv = ["synthesize", "--from-aggregates", str(release), "--mode", mode, "--seed", "7",
                    "--target-number-of-records", "9000", "-o", str(out), "--no-progress",
                    *extra]  # fmt: skip
            assert main(argv) == 0, capsys.readouterr().err
            files[name] = (out / "synthetic.csv").read_bytes()
        assert files["alone"] == files["cluster"]
        assert files["alone"].count(b"\n") == 9001
    capsys.readouterr()


def test_a_mode_built_in_one_process_refuses_a_scheduler(tmp_path, capsys):
    data = tmp_path / "data.csv"
    generate_table(200, 4, seed=1).to_pandas().to_csv(data, index=False)
    argv = ["synthesize", str(data), "--mode", "row_seeded", "-k", "5", "--scheduler", "local[2]",
            "-o", str(tmp_path / "out"), "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--scheduler splits aggregate_seeded and tree" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_evaluation_counted_on_two_workers_equals_evaluating_in_memory(tmp_path, capsys):
    table = generate_table(3000, 6, seed=8)
    whole = tmp_path / "whole.parquet"
    pq.write_table(table, whole)
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(table.slice(0, 1800), parts / "a.parquet", row_group_size=600)
    pq.write_table(table.slice(1800), parts / "b.parquet")
    release = tmp_path / "release"
    argv = ["synthesize", str(whole), "-k", "5", "--seed", "2", "-o", str(release), "--no-progress"]
    assert main(argv) == 0
    documents = {}
    for name, source, extra in (("whole", whole, []), ("cluster", parts, ["--scheduler", "local[2]"])):
        out = tmp_path / f"eval-{name}"
        argv = ["evaluate", str(source), str(release / "synthetic.parquet"), "-l", "3", "-k", "5",
                "-o", str(out), "--no-progress", *extra]  # fmt: skip
        assert main(argv) == 0, capsys.readouterr().err
        document = json.loads((out / "evaluation.json").read_text())
        documents[name] = {k: v for k, v in document.items() if k not in ("seconds", "sensitive", "created")}
    assert documents["whole"]["k_marginal"]["score"] > 0
    assert documents["cluster"] == documents["whole"]
    capsys.readouterr()


@settings(max_examples=40, deadline=None)
@given(case=partitioned, tasks=st.integers(1, 4), length=st.integers(1, 4))
def test_one_pass_tasks_rekeyed_on_the_client_equal_in_memory(tmp_path_factory, case, tasks, length):
    """What workers and the client do in a one-pass count: each task counts on the values it sees,
    the client re-keys onto the united schema; the sum is the in-memory count, schema included."""
    from showcase.engine import Preparation
    from showcase.engine.distributed import Rekeying, _count_part_once
    from showcase.engine.stream import no_attribute, open_stream

    rows, cuts, batch = case
    assume(not nothing_to_count(rows))  # refused before any count, in memory and streamed (test_stream)
    tmp = tmp_path_factory.mktemp("parts")
    write_parts(tmp / "parts", rows, cuts, "parquet")
    stream = open_stream(tmp / "parts", None, None)
    prep = Preparation()
    none = no_attribute(stream.columns, prep.null_markers, prep.sensitive_zeros)
    groups = [tuple(stream.parts[i::tasks]) for i in range(tasks)]  # tasks see different values
    total = Rekeying(stream.columns, none, length, None)
    limits = (1 << 40, True, None)
    for group in reversed(groups):  # results arrive in any order
        if group:
            total.add(*_count_part_once(stream, group, none, None, length, batch, None, limits))
    whole = aggregate(whole_file(tmp, rows, "parquet"), length=length, protection=Exact(),
                      resources=Resources(stream=False))  # fmt: skip
    same(whole.exact, total.summed.aggregates())


def test_a_fitted_aggregate_seeded_split_in_runs_is_the_whole_synthesis():
    """The fit runs once over every record after the runs (on the client): the same records as one call."""
    from showcase.engine.randomness import make_rng
    from showcase.engine.synthesize import split_work, synthesize

    release = _k_anonymous_release(1500, 5)
    n = 2 * 4096 + 5
    whole = synthesize("aggregate_seeded", release, rng=make_rng(4), target_number_of_records=n, fit_sweeps=1)
    work = split_work("aggregate_seeded", release, rng=make_rng(4), target_number_of_records=n, fit_sweeps=1)
    pieces = [work.fill(work.payload, a, b) for a, b in work.runs(3)]
    np.testing.assert_array_equal(work.table(np.concatenate(pieces, axis=1)).codes, whole.codes)
    unfitted = synthesize("aggregate_seeded", release, rng=make_rng(4), target_number_of_records=n)
    assert (unfitted.codes != whole.codes).any()  # the fit did move records


@pytest.mark.parametrize("mode", ["aggregate_seeded", "tree"])
def test_a_split_synthesis_keeps_declared_constraints(mode):
    """Workers get the constraints in their payload: runs give the records of one call, none impossible."""
    from showcase.engine.constraints import Constraint, violations
    from showcase.engine.randomness import make_rng
    from showcase.engine.synthesize import split_work, synthesize

    release = _k_anonymous_release(1500, 5)
    schema = release.on_released_schema().schema
    first, second = schema.columns[:2]
    rule = Constraint(
        ((first, (schema.dictionaries[0][0].as_py(),)), (second, (schema.dictionaries[1][0].as_py(),)))
    )
    n = 2 * 4096 + 9
    whole = synthesize(mode, release, rng=make_rng(6), target_number_of_records=n, constraints=[rule])
    work = split_work(mode, release, rng=make_rng(6), target_number_of_records=n, constraints=[rule])
    rebuilt = work.table(np.concatenate([work.fill(work.payload, a, b) for a, b in work.runs(3)], axis=1))
    np.testing.assert_array_equal(rebuilt.codes, whole.codes)
    assert int(violations(rebuilt, [rule]).sum()) == 0
    free = synthesize(mode, release, rng=make_rng(6), target_number_of_records=n)
    assert int(violations(free, [rule]).sum()) > 0  # the rule does bite without enforcement


def test_a_port_where_something_else_answers_is_one_line_not_a_memory_error(tmp_path, capsys):
    # E.g. the dashboard's port (an HTTP server): Dask read the reply as a frame length of ~3 EiB and
    # the user saw "unexpected MemoryError".
    import socket
    import threading

    from .helpers import run

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 4)

    threading.Thread(target=answer, daemon=True).start()
    data = tmp_path / "cases.csv"
    data.write_text("a,b\nx,y\nx,z\n")
    try:
        code, _, stderr = run(capsys, "aggregate", data, "--scheduler", f"tcp://127.0.0.1:{port}",
                              "-o", tmp_path / "out", "--no-progress")  # fmt: skip
    finally:
        server.close()
    assert code == 2 and not (tmp_path / "out").exists()
    assert stderr.startswith("Error: --scheduler") and stderr.count("\n") == 1, stderr


def test_local_workers_leave_ctrl_c_to_the_client():
    """A terminal's Ctrl-C goes to every process of the job: local workers ignore it (each printed a
    KeyboardInterrupt traceback), and the client keeps its own handler to stop the job."""
    import signal

    from showcase.engine.distributed import client

    before = signal.getsignal(signal.SIGINT)
    with client("local[2]") as (dask_client, _):
        ignored = dask_client.run(lambda: signal.getsignal(signal.SIGINT) == signal.SIG_IGN)
        assert len(ignored) == 2 and all(ignored.values()), ignored
        assert signal.getsignal(signal.SIGINT) is before
