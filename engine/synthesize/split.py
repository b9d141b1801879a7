"""Synthesis as independent partitions: the same records whether one process or many build them.

The modes that read only released aggregates and draw each fixed-size
partition of records from its own stream (``aggregate_seeded``, ``tree``)
describe their work as a :class:`SplitWork`: the seeds of every partition,
drawn up front from the caller's generator, and a module-level ``fill``
function that builds any run of partitions from a picklable ``payload``
alone. This machine runs ``fill`` once over all partitions; a Dask cluster
(:func:`~showcase.engine.distributed.synthesize_on_cluster`) runs it over
runs of partitions on its workers and puts the pieces side by side. Either
way a seed gives byte-identical records, whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..encode import EncodedTable, Schema

#: ``fill(payload, first, stop, progress=None)``: codes ``(n_columns, records)`` of partitions first..stop-1.
Fill = Callable[..., np.ndarray]
#: ``progress(done, total)``.
Progress = Callable[[int, int], None]
#: Work units of one record built, where one proposal of a finishing fit is one unit: a record
#: of aggregate_seeded takes about as long as 10 proposals at L = 3 (30k × 20 generated rows).
RECORD_UNITS = 10


@dataclass(frozen=True)
class SplitWork:
    """``n_records`` records in ``n_parts`` partitions of ``partition_size``, built by ``fill``."""

    schema: Schema
    n_records: int
    partition_size: int
    n_parts: int
    dtype: np.dtype
    fill: Fill
    payload: tuple
    #: Run once over every record on the caller's side (e.g. a fit across partitions), or None:
    #: ``finish(codes, progress=None)``.
    finish: Callable[..., np.ndarray] | None = None
    #: The work ``finish`` does, in units (a fit's proposals), to show both steps on one bar.
    finish_units: int = 0

    def runs(self, n_runs: int) -> list[tuple[int, int]]:
        """About ``n_runs`` runs of consecutive partitions, ``(first, stop)``, of about equal size."""
        n_runs = max(1, min(int(n_runs), self.n_parts))
        bounds = np.linspace(0, self.n_parts, n_runs + 1).round().astype(np.int64)
        return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]

    def progress(self, progress: Progress | None) -> tuple[Progress | None, Progress | None]:
        """``progress`` shared by building the records and ``finish``, each in proportion to its work.

        Returns what to give ``fill`` and :meth:`table`: one bar over both steps, so that
        it does not stand at 100 % while a fit runs on for minutes.
        """
        if progress is None or self.finish is None:
            return progress, None
        built, units = self.n_records * RECORD_UNITS, self.finish_units
        total = max(built + units, 1)

        def filled(done: int, of: int) -> None:
            progress(built * done // max(of, 1), total)

        def finished(done: int, of: int) -> None:
            progress(built + units * done // max(of, 1), total)

        return filled, finished

    def table(self, codes: np.ndarray, progress: Progress | None = None) -> EncodedTable:
        """The records (codes of every partition, in order, then ``finish``ed) on the work's schema.

        ``progress`` follows ``finish`` (see :meth:`progress`).
        """
        if self.finish is not None:
            codes = self.finish(codes, progress=progress)
        return EncodedTable(self.schema, np.ascontiguousarray(codes, dtype=self.dtype))
