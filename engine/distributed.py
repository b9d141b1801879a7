"""Counting on a Dask cluster: workers count their parts with the same kernels, the client sums.

``local[N]`` starts a :class:`distributed.LocalCluster` of N worker
processes on this machine for the job; ``tcp://HOST:PORT`` connects to an
existing scheduler, whose workers must have showcase installed and read
the input at the same path (a shared file system). Both passes of
:mod:`~showcase.engine.stream` run on the workers, one task per part (a file,
or a run of a Parquet file's row groups): pass 1 returns each part's row
count and used values, pass 2 each part's counts as packed combination keys
(:class:`~showcase.engine.stream.CountSum`), summed on the client as they
arrive. Only counts travel, never records; thresholds are applied once, on
the client, after the sum.

A DP release (:class:`ClusterRecords`) keeps each task's records on its
worker as codes, encoded once, and runs the release's per-record steps
there: under ``sds`` only histograms, candidate counts and the records above
each length's contribution bound (about 1 %, their codes) come to the
client, which trims those, adds the noise and applies the thresholds once;
under ``aim``/``mst`` only exact marginal tables do.

Synthesis from released aggregates (``aggregate_seeded``, ``tree``) is split
the same way (:func:`synthesize_on_cluster`): runs of record partitions,
each with the seed the client drew for it, so the records do not depend on
the number of workers.

Dask is an optional extra (``pip install 'showcase[distributed]'``),
imported here only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import pyarrow.compute as pc

from .aggregates import NO_ATTRIBUTE, Aggregates
from .config import threads as thread_count
from .encode import Schema
from .errors import ParameterError
from .kernels.keys import key_layout, pack_rows
from .resources import parse_scheduler
from .stream import (
    CountSum,
    Encoder,
    Plan,
    Progress,
    Streamed,
    _check_cardinality,
    batches,
    check_read_as_planned,
    count_batches,
    no_attribute,
    schema_of,
    split_parts,
    unpack_keys,
    used_values,
)

if TYPE_CHECKING:  # the synthesis layer is above this one: only its type is named here
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
def _workers_deaf_to_ctrl_c() -> Iterator[None]:
    """Start local workers with SIGINT ignored, so that Ctrl-C reaches only this process.

    A terminal sends Ctrl-C to every process of the job; each worker then printed its own
    KeyboardInterrupt traceback. An ignored signal stays ignored in the processes started
    meanwhile (Python installs its handler only where SIGINT is at its default), and the
    client, which keeps its handler, stops the job and closes the cluster. (A Ctrl-C in the
    few seconds the workers take to start is lost: press it again.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def client(scheduler: str) -> Iterator[tuple[object, int | None]]:
    """A Dask client of ``scheduler`` (a local cluster made for the job, or an existing one), and
    the kernel threads each task may use (None: the worker's default)."""
    distributed = _dask()
    kind, where = parse_scheduler(scheduler)
    if kind == "local":
        per_worker = max(1, (os.cpu_count() or 1) // int(where))
        with _workers_deaf_to_ctrl_c():
            cluster = distributed.LocalCluster(
                n_workers=int(where), threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=logging.CRITICAL,
            )  # fmt: skip
        with cluster, distributed.Client(cluster) as dask_client:
            yield dask_client, per_worker
        return
    try:
        dask_client = distributed.Client(where, timeout=30)
    except OSError:
        raise ParameterError(f"--scheduler {where}: no Dask scheduler answers there") from None
    except (MemoryError, ValueError, TypeError):
        # Something else answers on that port (the dashboard, a web server): Dask reads its reply as
        # a frame header, e.g. a length of exabytes, and fails with whatever that gives.
        raise ParameterError(
            f"--scheduler {where}: what answers there is not a Dask scheduler (its port is 8786 by default; "
            "8787 is the dashboard)"
        ) from None
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
    check_read_as_planned(found, summed.records)
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


# --- one pass on a cluster: each task counts on its own dictionary, the client re-keys -----------


def id_map(source: Schema, target: Schema) -> np.ndarray:
    """The attribute id in ``target`` of every attribute id of ``source`` (same columns, its values a subset).

    Both number values in byte order within a column, so the map keeps the
    order of ids: a combination's sorted ids stay sorted.
    """
    out = np.empty(source.n_attributes, dtype=np.int64)
    for c, values in enumerate(source.dictionaries):
        position = pc.index_in(values, value_set=target.dictionaries[c]).to_numpy(zero_copy_only=False)
        out[source.offsets[c] : source.offsets[c + 1]] = target.offsets[c] + position
    return out


def rekeyed(keys: np.ndarray, source: Schema, target: Schema, length: int) -> np.ndarray:
    """Packed combination keys of ``source`` ids as keys of ``target`` ids."""
    if source is target or source.dictionaries == target.dictionaries:
        return keys
    if len(keys) == 0:
        return np.empty((0, key_layout(target.n_attributes, length)[2]), dtype=np.int64)
    radix, per_word, _ = key_layout(source.n_attributes, length)
    attrs, lengths = unpack_keys(keys.reshape(len(keys), -1), radix, per_word, length)
    mapping = id_map(source, target)
    mapped = np.where(attrs >= 0, mapping[np.maximum(attrs, 0)], NO_ATTRIBUTE).astype(np.int32)
    radix, per_word, n_words = key_layout(target.n_attributes, length)
    return pack_rows(mapped, lengths.astype(np.int64), radix, per_word, n_words)


class Rekeying:
    """Counts summed on a schema that grows as parts with new values arrive (values by byte order)."""

    def __init__(self, columns: tuple[str, ...], none: list, length: int, schema: Schema | None) -> None:
        self.columns, self.none, self.length = columns, none, length
        self.fixed = schema is not None  # a codebook's schema: every part counts on it already
        self.found: list[set] = [set() for _ in columns]
        self.schema = schema if schema is not None else schema_of(columns, self.found, none)
        self.summed = CountSum(self.schema, length)

    def add(self, schema: Schema, keys: np.ndarray, counts: np.ndarray, records: int) -> None:
        """Add counts keyed on ``schema`` (a part's own), growing the sum's schema for new values."""
        if not self.fixed:
            for mine, theirs in zip(self.found, schema.dictionaries):
                mine.update(theirs.to_pylist())
            grown = schema_of(self.columns, self.found, self.none)
            if grown.dictionaries != self.schema.dictionaries:
                old_keys, old_counts = self.summed.packed()
                moved = CountSum(grown, self.length)
                moved.add_keys(rekeyed(old_keys, self.schema, grown, self.length), old_counts,
                               self.summed.records)  # fmt: skip
                self.schema, self.summed = grown, moved
        self.summed.add_keys(rekeyed(keys, schema, self.schema, self.length), counts, records)

    @property
    def cardinalities(self) -> list[int]:
        return [len(d) for d in self.schema.dictionaries]


def _count_part_once(
    stream: Streamed, group: tuple, none: list, schema: Schema | None, length: int, batch_rows: int,
    threads: int | None, limits: tuple[int, bool, int | None],
) -> tuple[Schema, np.ndarray, np.ndarray, int]:  # fmt: skip
    """Task of the one-pass count: every batch counted on its own values, summed on the task's schema."""
    from .count import count_combinations
    from .encode import EncodedTable
    from .resources import Resources, check_resources

    memory_limit, guard, max_cardinality = limits
    resources = Resources(memory_limit=memory_limit, guard=guard)
    total = Rekeying(stream.columns, none, length, schema)
    with thread_count(threads):
        for arrays in _arrays(stream, group, batch_rows):
            if schema is None:
                found: list[set] = [set() for _ in stream.columns]
                used_values(arrays, found)
                _check_cardinality(stream.columns, found, max_cardinality)
                own = schema_of(stream.columns, found, none)
            else:
                own = schema
            codes = Encoder(own, none, codebook=schema is not None)(arrays)
            rows = codes.shape[1]
            cardinalities = [
                max(a, b) for a, b in zip(total.cardinalities, (len(d) for d in own.dictionaries))
            ]
            check_resources(
                cardinalities, total.summed.records + rows, length, resources, resident=codes.nbytes
            )
            counted = count_combinations(EncodedTable(own, codes), length)
            keys = CountSum(own, length)
            keys.add(counted)
            total.add(own, *keys.packed(), counted.record_count)
    keys, counts = total.summed.packed()
    return total.schema, keys, counts, total.summed.records


def count_once_on_cluster(
    stream: Streamed,
    cluster: tuple[object, int | None],
    *,
    length: int,
    none: list,
    resources,
    schema: Schema | None = None,
    batch_rows: int,
    max_cardinality: int | None = None,
    progress: Progress | None = None,
) -> tuple[Plan, Aggregates]:
    """Both passes in one on the cluster: the data is read once.

    Each task counts its parts on the values it sees (or on a codebook's
    ``schema``); the client unites the values into the schema the whole
    table would have (byte order, the same rules), re-keys each task's counts
    onto it and sums them, so the counts equal the two-pass and in-memory
    ones. The resource guard runs on every batch of a task (its rows and
    values so far) and on the client as the tasks' counts arrive.
    """
    from .errors import InputError
    from .resources import check_resources

    dask_client, threads = cluster
    parts = _parts(dask_client, stream)
    limits = (resources.limit, resources.guard, max_cardinality)
    total = Rekeying(stream.columns, none, length, schema)
    arguments = (stream, none, schema, length, batch_rows, threads, limits)
    for task_schema, keys, counts, records in _run(dask_client, _count_part_once, parts, *arguments,
                                                   progress=progress):  # fmt: skip
        total.add(task_schema, keys, counts, records)
        _check_cardinality(stream.columns, [set(d.to_pylist()) for d in total.schema.dictionaries],
                           max_cardinality)  # fmt: skip
        check_resources(total.cardinalities, max(total.summed.records, 1), length, resources)
    if total.summed.records == 0:
        raise InputError(f"{stream.shown}: no records")
    plan = Plan(total.schema, total.summed.records, None, stream, total.cardinalities)
    return plan, total.summed.aggregates()


# --- DP on a cluster: the records stay on the workers, the client sums tables and trims ----------


def _contiguous_groups(dask_client, stream: Streamed) -> list[tuple]:
    """Two runs of parts per worker, of about equal bytes, each a contiguous range of the stream's rows.

    Runs keep the stream's order, so a group's records are the global rows
    ``offset .. offset + rows`` (the order :func:`~showcase.engine.stream.codes_stream` reads them).
    """
    n_tasks = 2 * max(len(dask_client.scheduler_info().get("workers", {})), 1)
    parts = split_parts(stream, n_tasks).parts
    total = sum(p.size for p in parts) or 1
    groups: list[list] = [[] for _ in range(min(n_tasks, len(parts)))]
    done = 0
    for part in parts:
        # The run a part falls in: by the bytes before its middle, so runs hold about equal bytes.
        at = min(len(groups) - 1, (done + part.size // 2) * len(groups) // total)
        groups[at].append(part)
        done += part.size
    return [tuple(group) for group in groups if group]


def _encode_group(stream: Streamed, group: tuple, encoder: Encoder, batch_rows: int) -> np.ndarray:
    """Task: its parts' records as codes (columns × rows), kept on the worker."""
    pieces = [encoder(arrays) for arrays in _arrays(stream, group, batch_rows)]
    if not pieces:
        return np.zeros((len(stream.columns), 0), dtype=encoder.dtype)
    return np.concatenate(pieces, axis=1)


def _rows_of(codes: np.ndarray) -> int:
    return int(codes.shape[1])


def _group_step(step: Callable, schema: Schema, codes: np.ndarray, threads: int | None, *arguments):
    """Task: one step of a DP release (``step(schema, codes, ...)``) on a group's records."""
    with thread_count(threads):
        return step(schema, codes, *arguments)


def _histogram_of(done) -> np.ndarray:
    return done.histogram


class ClusterRecords:
    """A streamed input's records encoded on a cluster's workers and kept there, for a DP release.

    Each task encodes a contiguous run of parts once (its codes never travel);
    then the DP steps run where the codes are and return only what the client
    needs: per length, a histogram of per-record candidate numbers and counts,
    and the records above the bound (about 1 %: their codes and global row
    numbers) under ``sds``; exact 1-way and marginal tables under ``aim``/``mst``.
    :meth:`call` is :class:`~showcase.engine.dp.marginals.GroupedRecords`' way
    to its groups; :meth:`one_way` and :meth:`marginals` make this an adaptive
    mechanism's reader (:class:`~showcase.engine.dp.adaptive.CodesReader`).
    ``steps`` names the functions the workers run (``present``, ``pass``,
    ``split``, ``one_way``, ``marginals``: the DP modules' group functions,
    given by the caller, as this layer is below them).
    """

    def __init__(self, found: Plan, encoder: Encoder, batch_rows: int, cluster: tuple[object, int | None],
                 steps: dict[str, Callable], progress: Progress | None = None) -> None:  # fmt: skip
        from .errors import InputError

        distributed = _dask()
        self.client, self.threads = cluster
        self.steps = steps
        self.schema = found.schema
        groups = _contiguous_groups(self.client, found.stream)
        self.codes = [self.client.submit(_encode_group, found.stream, group, encoder, batch_rows, pure=False)
                      for group in groups]  # fmt: skip
        rows = {self.client.submit(_rows_of, codes, pure=False): g for g, codes in enumerate(self.codes)}
        counted = [0] * len(groups)
        total = sum(p.size for group in groups for p in group) or 1
        done = 0
        for future in distributed.as_completed(rows):
            g = rows[future]
            counted[g] = future.result()
            done += sum(p.size for p in groups[g])
            if progress is not None:
                progress(done, total)
        self.offsets = np.concatenate([[0], np.cumsum(counted)]).astype(np.int64).tolist()
        self.n = int(self.offsets[-1])
        if self.n != found.n_rows:
            shown = found.stream.shown
            raise InputError(f"{shown}: {self.n:,} rows now, {found.n_rows:,} in pass 1: the input changed")
        self._passes: list = []

    def _each(self, step: str, *arguments) -> list:
        """``step`` on every group, its arguments sent to each worker once; results as they come."""
        distributed = _dask()
        shared = self.client.scatter(arguments, broadcast=True, hash=False) if arguments else None
        futures = [self.client.submit(_call_step, self.steps[step], self.schema, codes, self.threads, shared,
                                      pure=False)
                   for codes in self.codes]  # fmt: skip
        return [future.result() for future in distributed.as_completed(futures)]

    def call(self, step: str, *arguments) -> list:
        """:class:`~showcase.engine.dp.marginals.GroupedRecords`' steps; a length's first pass stays on the
        workers (each record's number of candidates) until its split has run."""
        distributed = _dask()
        if step == "present":
            return self._each("present")
        if step == "pass":
            shared = self.client.scatter(arguments, broadcast=True, hash=False)
            first = self.steps["pass"]
            self._passes = [self.client.submit(_call_step, first, self.schema, codes, self.threads, shared,
                                               pure=False) for codes in self.codes]  # fmt: skip
            small = [self.client.submit(_histogram_of, done, pure=False) for done in self._passes]
            return [future.result() for future in distributed.as_completed(small)]
        level, n_candidates, bound = arguments
        shared = self.client.scatter((level,), broadcast=True, hash=False)
        futures, split = [], self.steps["split"]
        for g, (codes, done) in enumerate(zip(self.codes, self._passes, strict=True)):
            numbers = (self.threads, n_candidates, bound, self.offsets[g])
            futures.append(self.client.submit(_split_step, split, self.schema, codes, done, shared, numbers,
                                              pure=False))  # fmt: skip
        results = [future.result() for future in distributed.as_completed(futures)]
        self._passes = []  # the per-record numbers are dropped on the workers
        return results

    def one_way(self) -> list[np.ndarray]:
        total = None
        for tables in self._each("one_way"):
            total = tables if total is None else [a + b for a, b in zip(total, tables, strict=True)]
        return total

    def marginals(self, values: list[np.ndarray], flat: tuple) -> np.ndarray:
        total = np.zeros(int(flat[3][-1]), dtype=np.int64)
        for table in self._each("marginals", values, flat):
            total += table
        return total

    def release(self) -> None:
        """Drop the codes on the workers."""
        self.codes, self._passes = [], []


def _call_step(step: Callable, schema: Schema, codes: np.ndarray, threads: int | None, shared, *extra):
    return _group_step(step, schema, codes, threads, *(shared or ()), *extra)


def _split_step(split: Callable, schema: Schema, codes: np.ndarray, done, shared, numbers: tuple):
    """Task: a length's second step on a group (its first pass ``done`` read where it was kept)."""
    threads, n_candidates, bound, offset = numbers
    with thread_count(threads):
        return split(schema, codes, done, shared[0], n_candidates, bound, offset)
