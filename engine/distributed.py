"""Counting on a Dask cluster: workers count their parts with the same kernels, the client sums.

``local[N]`` starts a :class:`distributed.LocalCluster` of N worker
processes on this machine for the job; ``tcp://HOST:PORT`` connects to an
existing scheduler, whose workers must have showcase installed and read
the input at the same path (a shared file system). Both passes of
:mod:`~showcase.engine.stream` run on the workers, one task per part (a file,
or a run of a Parquet file's row groups): pass 1 returns each part's row
count and used values, pass 2 each part's counts as packed combination keys
(:class:`~showcase.engine.stream.CountSum`), summed on the client as they
arrive. Only counts travel, never records; thresholds and noise are applied
once, on the client, after the sum.

Synthesis from released aggregates (``aggregate_seeded``, ``tree``) is split
the same way (:func:`synthesize_on_cluster`): runs of record partitions,
each with the seed the client drew for it, so the records do not depend on
the number of workers.

Dask is an optional extra (``pip install 'showcase[distributed]'``),
imported here only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import numpy as np

from .aggregates import Aggregates
from .config import threads as thread_count
from .encode import Schema
from .errors import ParameterError
from .resources import parse_scheduler
from .stream import (
    CountSum,
    Encoder,
    Plan,
    Progress,
    Streamed,
    _check_cardinality,
    batches,
    count_batches,
    no_attribute,
    schema_of,
    split_parts,
    used_values,
)
from .synthesize.split import SplitWork


def _dask():
    try:
        import distributed
    except ImportError:
        raise ParameterError(
            "--scheduler needs Dask: pip install 'showcase[distributed]' (dask and distributed)"
        ) from None
    return distributed


def require() -> None:
    """Refuse, in one line, a scheduler when Dask is not installed (before any data is read)."""
    _dask()


@contextlib.contextmanager
def client(scheduler: str) -> Iterator[tuple[object, int | None]]:
    """A Dask client of ``scheduler`` (a local cluster made for the job, or an existing one), and
    the kernel threads each task may use (None: the worker's default)."""
    distributed = _dask()
    kind, where = parse_scheduler(scheduler)
    if kind == "local":
        per_worker = max(1, (os.cpu_count() or 1) // int(where))
        cluster = distributed.LocalCluster(n_workers=int(where), threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=40)  # fmt: skip
        with cluster, distributed.Client(cluster) as dask_client:
            yield dask_client, per_worker
        return
    try:
        dask_client = distributed.Client(where, timeout=30)
    except OSError:
        raise ParameterError(f"--scheduler {where}: no Dask scheduler answers there") from None
    with dask_client:
        yield dask_client, None


def _arrays(stream: Streamed, group: tuple, batch_rows: int) -> Iterator[list]:
    """The non-empty batches of a task's parts, in order."""
    for part in group:
        for arrays, _ in batches(stream, part, batch_rows):
            if arrays and len(arrays[0]):
                yield arrays


def _values_of_part(stream: Streamed, group: tuple, batch_rows: int) -> tuple[int, list[set]]:
    """Task of pass 1: its parts' number of rows and each column's used values."""
    found: list[set] = [set() for _ in stream.columns]
    rows = 0
    for arrays in _arrays(stream, group, batch_rows):
        rows += len(arrays[0])
        used_values(arrays, found)
    return rows, found


def _count_part(
    stream: Streamed, group: tuple, encoder: Encoder, length: int, batch_rows: int, threads: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Task of pass 2: its parts' counts (gathered into full batches), summed, as packed keys."""
    summed = CountSum(encoder.schema, length)
    with thread_count(threads):
        count_batches(_arrays(stream, group, batch_rows), encoder, batch_rows, length, summed)
    keys, counts = summed.packed()
    return keys, counts, summed.records


def _run(dask_client, function: Callable, parts, *arguments, progress: Progress | None = None) -> Iterator:
    """``function(stream, group, ...)`` for every group of parts on the cluster; results as they complete."""
    distributed = _dask()
    total = sum(p.size for group in parts for p in group) or 1
    futures = {dask_client.submit(function, *arguments[:1], group, *arguments[1:], pure=False): group
               for group in parts}  # fmt: skip
    done = 0
    for future in distributed.as_completed(futures):
        result = future.result()
        done += sum(p.size for p in futures[future])
        if progress is not None:
            progress(done, total)
        yield result


def plan_on_cluster(
    stream: Streamed,
    cluster: tuple[object, int | None],
    *,
    null_markers=(),
    sensitive_zeros=None,
    schema: Schema | None = None,
    batch_rows: int,
    max_cardinality: int | None = None,
    progress: Progress | None = None,
) -> Plan:
    """Pass 1 on the cluster: rows and used values per part, united on the client."""
    none = no_attribute(stream.columns, null_markers, sensitive_zeros)
    dask_client = cluster[0]
    parts = _parts(dask_client, stream)
    found: list[set] = [set() for _ in stream.columns]
    n_rows = 0
    for rows, values in _run(dask_client, _values_of_part, parts, stream, batch_rows, progress=progress):
        n_rows += rows
        for mine, theirs in zip(found, values):
            mine.update(theirs)
        _check_cardinality(stream.columns, found, max_cardinality)
    from .errors import InputError

    if n_rows == 0:
        raise InputError(f"{stream.shown}: no records")
    schema = schema_of(stream.columns, found, none) if schema is None else schema
    return Plan(schema, n_rows, None, stream, [len(d) for d in schema.dictionaries])


def count_on_cluster(
    found: Plan, length: int, encoder: Encoder, batch_rows: int, cluster: tuple[object, int | None],
    progress: Progress | None = None,
) -> Aggregates:  # fmt: skip
    """Pass 2 on the cluster: each part counted by a worker, the partial counts summed here."""
    dask_client, threads = cluster
    summed = CountSum(found.schema, length)
    parts = _parts(dask_client, found.stream)
    for keys, counts, records in _run(dask_client, _count_part, parts, found.stream, encoder, length,
                                      batch_rows, threads, progress=progress):  # fmt: skip
        summed.add_keys(keys, counts, records)
    return summed.aggregates()


def _parts(dask_client, stream: Streamed) -> list[tuple]:
    """The tasks: two groups of parts per worker, of about equal bytes (parts split where Parquet allows).

    A task counts its parts in full batches, so the kernels' cost per call is
    paid per batch, not per file.
    """
    n_tasks = 2 * max(len(dask_client.scheduler_info().get("workers", {})), 1)
    parts = split_parts(stream, n_tasks).parts
    groups: list[list] = [[] for _ in range(min(n_tasks, len(parts)))]
    load = [0] * len(groups)
    for part in sorted(parts, key=lambda p: -p.size):
        lightest = load.index(min(load))
        groups[lightest].append(part)
        load[lightest] += part.size
    return [tuple(group) for group in groups if group]


def synthesize_on_cluster(work: SplitWork, cluster: tuple[object, int | None],
                          progress: Progress | None = None) -> np.ndarray:  # fmt: skip
    """Synthesis split across the cluster: runs of partitions built by workers, placed side by side here.

    Every partition's seed was drawn on the client (:class:`~.synthesize.split.SplitWork`),
    so the records are byte-identical to a single process's, whatever the number of workers.
    The payload (the release and the seeds, never a sensitive record) goes to every worker once.
    """
    distributed = _dask()
    dask_client, threads = cluster
    n_workers = max(len(dask_client.scheduler_info().get("workers", {})), 1)
    runs = work.runs(4 * n_workers)
    payload = dask_client.scatter(work.payload, broadcast=True)
    futures = {dask_client.submit(_fill_run, work.fill, payload, first, stop, threads, pure=False):
               (first, stop) for first, stop in runs}  # fmt: skip
    pieces: dict[int, np.ndarray] = {}
    done = 0
    for future in distributed.as_completed(futures):
        first, stop = futures[future]
        pieces[first] = future.result()
        done += pieces[first].shape[1]
        if progress is not None:
            progress(done, work.n_records)
    ordered = [pieces[first] for first, _ in runs]
    return np.concatenate(ordered, axis=1) if ordered else np.zeros((len(work.schema.columns), 0), np.int32)


def _fill_run(fill, payload: tuple, first: int, stop: int, threads: int | None) -> np.ndarray:
    """Task: partitions ``first..stop - 1`` built on a worker with ``threads`` kernel threads."""
    with thread_count(threads):
        return fill(payload, first, stop)
