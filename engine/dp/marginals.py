"""DP marginals (SPEC §2.2): noisy counts of attribute combinations up to length L.

For k = 1..L: candidates (k = 1: every attribute, from the data or a public
codebook; k >= 2: combinations all of whose (k-1)-subsets were released),
a DP percentile Delta_k of the per-record number of candidates, counts where
each record contributes to at most Delta_k candidates (a random subset when it
has more), discrete Gaussian noise of standard deviation sigma_k sqrt(Delta_k)
on every candidate (zero counts included), and a threshold. Then the counts
are normalised so no combination exceeds a sub-combination (post-processing).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from statistics import NormalDist

import numba
import numpy as np
import pyarrow as pa

from ..aggregates import NO_ATTRIBUTE, Aggregates
from ..checks import check_flag, validate_length
from ..encode import EncodedTable, Schema, encode
from ..errors import ParameterError
from ..kernels.dp_marginals import (
    Dense,
    Level,
    Records,
    Trimming,
    candidates_per_record,
    cap_by_subsets,
    dense_candidate_counts,
    dense_counts_of_rows,
    extend_candidates,
    trimmed_counts,
)
from ..kernels.keys import combination_table
from ..protection import FABRICATION_MODES, DifferentialPrivacy, check_protection
from ..resources import DP_CHUNK_ROWS, DP_DENSE_ENTRIES
from .accountant import (
    BudgetSplit,
    default_delta,
    record_count_epsilon,
)
from .noise import RandomSource, discrete_gaussian, discrete_laplace
from .percentile import dp_percentile_of_histogram

PROTECTION_DP = "differential-privacy"
#: Subjects (several rows each) may hold up to this many values per column in the public
#: range of the per-record candidate count; above it they are trimmed like any record.
SUBJECT_VALUES_PER_COLUMN = 4
#: Without a codebook, a multi-value column's values are indicator columns named by the data;
#: the public range of the per-record candidate count counts each such column as this many
#: columns, however many values the data holds (a record holding more is trimmed like any record).
MULTI_VALUE_PUBLIC_WIDTH = 8


@dataclass
class DpReport:
    """Non-sensitive facts of a DP release, for metadata and the ledger."""

    split: BudgetSplit
    record_count: int
    deltas: list[int] = field(default_factory=list)
    thresholds: list[float] = field(default_factory=list)
    candidates: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    fabrication_mode: str = "balanced"
    public_domain: bool = False

    def describe(self) -> dict:
        """The facts as a release publishes them.

        Without a public domain, length 1's candidates are every attribute of
        the data: their number is an exact statistic of it, published as None.
        """
        s = self.split
        candidates = list(self.candidates)
        if candidates and not self.public_domain:
            candidates[0] = None
        return {
            **s.facts(),
            "percentile_epsilons": s.percentile_epsilons,
            "sigmas": s.sigmas,
            "rho_parts": s.parts,
            "sensitivity_bounds": self.deltas,
            "thresholds": self.thresholds,
            "candidates_by_length": candidates,
            "released_by_length": self.released,
            "fabrication_mode": self.fabrication_mode,
            "public_domain": self.public_domain,
        }


def fabrication_etas(mode: str, length: int) -> list[float]:
    """The adaptive eta for lengths 2..L of a named fabrication mode (eta = 1: threshold 0)."""
    if mode not in FABRICATION_MODES:
        raise ParameterError(f"unknown fabrication mode {mode!r}; choose {', '.join(FABRICATION_MODES)}")
    n = max(length - 1, 0)
    if mode == "uncontrolled":
        return [1.0] * n
    if mode == "balanced":
        return [0.5] * n
    if mode == "minimize":
        return [0.05] * n
    return [0.5 - 0.45 * (i / max(n - 1, 1)) for i in range(n)]  # progressive: 0.5 → 0.05


def records(table: EncodedTable, subject: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CSR attribute lists, one per record, or one per subject (union of its rows)."""
    offsets = table.schema.offsets
    codes = table.codes
    present = codes != 0
    ids = np.where(present, codes.astype(np.int64) + offsets[:-1, None] - 1, -1).T  # rows × cols
    if subject is None:
        counts = present.sum(axis=0)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return ptr, ids[ids >= 0].astype(np.int64)
    order = np.argsort(subject, kind="stable")
    rows = np.repeat(subject[order], ids.shape[1])
    flat = ids[order].reshape(-1)
    keep = flat >= 0
    pairs = np.unique(np.stack([rows[keep], flat[keep]], axis=1), axis=0)
    _, starts, counts = np.unique(pairs[:, 0], return_index=True, return_counts=True)
    all_subjects = np.unique(subject)
    per_subject = np.zeros(len(all_subjects), dtype=np.int64)
    per_subject[np.searchsorted(all_subjects, pairs[starts, 0])] = counts
    ptr = np.concatenate([[0], np.cumsum(per_subject)]).astype(np.int64)
    return ptr, pairs[:, 1].astype(np.int64)


#: Extra units above SPEC §2.2's partition-selection threshold: the discrete
#: Gaussian's tail at an integer can exceed the continuous tail the formula uses.
SELECTION_MARGIN = 1


def noise_scale(sigma: float, bound: int) -> float:
    """Standard deviation of the noise on counts whose records contribute to <= ``bound`` cells.

    The counts then have L2 sensitivity sqrt(bound); noise sigma * sqrt(bound)
    costs rho = 1 / (2 sigma^2), whatever the bound (see :mod:`.accountant`).
    """
    return sigma * math.sqrt(bound)


def selection_threshold(scale: float, bound: int, selection_delta: float) -> float:
    """Length-1 threshold when attributes come from the data (SPEC §2.2 partition selection).

    ``1 + scale * PhiInv((1 - selection_delta / 2) ** (1 / bound))`` plus
    :data:`SELECTION_MARGIN`: a record holding ``bound`` values that no other
    record holds gets any of them released with probability below
    ``selection_delta / 2``, the share of delta this step is charged.
    """
    # 1 - (1 - d/2)^(1/bound), computed without rounding a tiny tail to 0, read off the lower tail.
    tail = -math.expm1(math.log1p(-selection_delta / 2) / bound)
    return 1 + SELECTION_MARGIN - scale * NormalDist().inv_cdf(tail)


def adaptive_threshold(scale: float, eta: float) -> float:
    """``scale * PhiInv(1 - eta / 2)``: a zero-count candidate passes with probability eta / 2."""
    return 0.0 if eta >= 1 else scale * NormalDist().inv_cdf(1 - eta / 2)


#: Records are counted in this many fixed partitions, each with its own random stream,
#: so a seeded release does not depend on the number of threads.
PARTITIONS = 8


def combinations_table(combos: np.ndarray, n_attributes: int):
    """The :class:`~showcase.engine.kernels.keys.Table` of ``combos`` (rows of sorted ids) → their row."""
    combos = np.ascontiguousarray(combos, dtype=np.int32)
    lengths = np.full(len(combos), combos.shape[1], dtype=np.int64)
    return combination_table(combos, lengths, n_attributes, max(combos.shape[1], 1))[0]


def _trimmed_counts(
    shape: tuple[Records, Level], per_record: np.ndarray, bound: int, n_candidates: int, source: RandomSource
) -> np.ndarray:
    """Counts with each record's contribution bounded by ``bound`` (random subsets)."""
    n = len(per_record)
    bounds = np.linspace(0, n, PARTITIONS + 1).astype(np.int64)
    # Draws needed: `bound` per record above the bound, plus rejection slack.
    over = np.where(per_record > bound, bound, 0)
    need = max(np.add.reduceat(over, bounds[:-1]).max(initial=0) if n else 0, 0)
    size = int(need * 1.25) + 256
    streams = [source.stream() for _ in range(PARTITIONS)]
    states = np.zeros((PARTITIONS, 2), dtype=np.int64)
    todo = np.ones(PARTITIONS, dtype=np.bool_)
    local = np.zeros((PARTITIONS, n_candidates), dtype=np.int32)
    most = int(per_record.max(initial=0))
    while todo.any():
        words = np.stack([stream.words(size) for stream in streams])
        trimmed_counts(*shape, Trimming(bound, most, bounds, words, states, todo, local))
        todo = states[:, 1] == 1  # ran out of words: replay with the same words and more
        size *= 4
    return local.sum(axis=0, dtype=np.int64)


#: Records per chunk of a chunked release: the attribute lists (CSR, int64) of at most this
#: many records exist at once (the resource guard's figure).
CHUNK_ROWS = DP_CHUNK_ROWS
#: Entries of one length's dense candidate index at most (int32 each, and as much again
#: for its flags and for each thread's histogram); above it records are enumerated from
#: their attribute lists.
DENSE_INDEX_LIMIT = DP_DENSE_ENTRIES


class WholeRecords:
    """Every record's attribute list at once (subjects: the union of a subject's rows)."""

    def __init__(self, table: EncodedTable, subject: np.ndarray | None) -> None:
        ptr, attrs = records(table, subject)
        column = table.schema.attribute_columns.astype(np.int64)
        self.csr = Records(ptr, attrs, column, int(np.diff(ptr).max(initial=0)))
        self.column = column
        self.n = int(ptr.shape[0] - 1)
        self._per_record = np.zeros(0, dtype=np.int64)

    def present(self, n_attributes: int) -> np.ndarray:
        present = np.zeros(n_attributes, dtype=bool)
        present[self.csr.attrs] = True
        return present

    def histogram(self, level: Level, candidates: np.ndarray, upper: int) -> np.ndarray:
        self._per_record = candidates_per_record(self.csr, level)
        return per_record_histogram(self._per_record, upper)

    def counts(self, level: Level, candidates: np.ndarray, bound: int, source: RandomSource) -> np.ndarray:
        return _trimmed_counts((self.csr, level), self._per_record, bound, len(candidates), source)


class _Forward:
    """One partition's word stream, read forward from where its last record stopped."""

    def __init__(self, source: RandomSource) -> None:
        self.stream = source.stream()
        self.position = 0

    def words(self, n: int) -> np.ndarray:
        return self.stream.window(self.position, n)

    def advance(self, used: int) -> None:
        self.position += used
        self.stream.forget(self.position)


@dataclass
class GroupPass:
    """One length's dense pass over a group of records: what its second step reads again."""

    #: Each record's number of candidates (not clipped).
    per_record: np.ndarray
    #: Every candidate's untrimmed count over the group (None: no dense index, see :func:`group_split`).
    untrimmed: np.ndarray | None
    #: The per-record numbers' histogram over [0, upper] (clipped at upper): all that leaves the group.
    histogram: np.ndarray
    dense: Dense | None


@dataclass
class Above:
    """A group's records above the bound (its share of the trimming) and the counts of the others."""

    #: Candidate counts of the group's records at or below the bound (they count in full).
    below: np.ndarray
    #: The records above the bound: their global row numbers (ascending), codes and numbers of candidates.
    rows: np.ndarray
    codes: np.ndarray
    per_record: np.ndarray


def _group_csr(schema: Schema, codes: np.ndarray, rows: slice | np.ndarray) -> Records:
    chunk = np.ascontiguousarray(codes[:, rows])
    ptr, attrs = records(EncodedTable(schema, chunk))
    return Records(ptr, attrs, schema.attribute_columns.astype(np.int64), int(np.diff(ptr).max(initial=0)))


def _chunks(n: int, chunk_rows: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, chunk_rows):
        yield start, min(n, start + chunk_rows)


def group_present(schema: Schema, codes: np.ndarray, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """Which attributes some record of ``codes`` (columns × rows) holds."""
    present = np.zeros(schema.n_attributes, dtype=bool)
    for c, values in enumerate(schema.dictionaries):
        seen = np.zeros(len(values) + 1, dtype=bool)
        for start, stop in _chunks(codes.shape[1], chunk_rows):
            seen[codes[c, start:stop]] = True
        present[schema.offsets[c] : schema.offsets[c] + len(values)] = seen[1:]
    return present


def group_pass(schema: Schema, codes: np.ndarray, level: Level, candidates: np.ndarray, upper: int,
               chunk_rows: int = CHUNK_ROWS, dense: bool = True) -> GroupPass:  # fmt: skip
    """One length's first pass over a group of records (``codes``, columns × rows), a chunk at a time.

    With a dense index (``dense`` and the candidates fit :data:`DENSE_INDEX_LIMIT`)
    the codes are read straight: each record's number of candidates and every
    candidate's untrimmed count; else each chunk's attribute lists are enumerated.
    """
    index = dense_index(candidates, schema) if dense else None
    n = codes.shape[1]
    per_record = np.empty(n, dtype=np.int32)
    untrimmed = np.zeros(len(candidates), dtype=np.int64) if index is not None else None
    threads = numba.get_num_threads()
    for start, stop in _chunks(n, chunk_rows):
        if index is not None:
            mine, counts = dense_candidate_counts(codes, index, start, stop, len(candidates), threads)
            per_record[start:stop] = mine
            untrimmed += counts
        else:
            csr = _group_csr(schema, codes, slice(start, stop))
            per_record[start:stop] = candidates_per_record(csr, level)
    return GroupPass(per_record, untrimmed, per_record_histogram(per_record, upper, chunk_rows), index)


def group_split(schema: Schema, codes: np.ndarray, done: GroupPass, level: Level, n_candidates: int,
                bound: int, offset: int, chunk_rows: int = CHUNK_ROWS) -> Above:  # fmt: skip
    """The second pass over a group whose first row is global row ``offset``: the counts of its records
    at or below ``bound``, and the records above it (about 1 %) to be trimmed in global row order."""
    over = np.flatnonzero(done.per_record > bound)
    if done.dense is not None and done.untrimmed is not None:
        below = done.untrimmed - dense_counts_of_rows(codes, done.dense, over, n_candidates)
    else:
        below = np.zeros(n_candidates, dtype=np.int64)
        for start, stop in _chunks(codes.shape[1], chunk_rows):
            rows = start + np.flatnonzero(done.per_record[start:stop] <= bound)
            if len(rows):
                below += _full_counts(_group_csr(schema, codes, rows), level, n_candidates)
    return Above(below, offset + over.astype(np.int64), np.ascontiguousarray(codes[:, over]),
                 done.per_record[over].astype(np.int64))  # fmt: skip


def _full_counts(csr: Records, level: Level, n_candidates: int) -> np.ndarray:
    """Untrimmed candidate counts of every record of ``csr`` (none is above the bound: no words drawn)."""
    n = csr.ptr.shape[0] - 1
    most = int(candidates_per_record(csr, level).max(initial=0))
    local = np.zeros((1, n_candidates), dtype=np.int32)
    piece = np.array([0, n], dtype=np.int64)
    no_words, states = np.zeros((1, 1), dtype=np.int64), np.zeros((1, 2), dtype=np.int64)
    trimming = Trimming(max(most, 1), most, piece, no_words, states, np.ones(1, dtype=np.bool_), local)
    trimmed_counts(csr, level, trimming)
    return local[0].astype(np.int64)


#: Random words (8 bytes each) that one chunk of records above the bound may draw: it bounds the
#: trimming's memory whatever their number. Every record above the bound draws about ``bound`` words,
#: so at 100M rows (700k above a bound of 1,047) one chunk of them all drew 2 GiB of words at once.
TRIM_WORDS = 1 << 23


def trim_above(schema: Schema, level: Level, n: int, above: Sequence[Above], n_candidates: int, bound: int,
               source: RandomSource, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:  # fmt: skip
    """Bounded counts: the groups' counts below the bound plus their records above it trimmed here.

    ``n`` is the number of records of every group together. The records above
    the bound are trimmed in global row order in the :data:`PARTITIONS` fixed
    record ranges, each partition's words read forward from chunk to chunk
    (:class:`_Forward`): the counts of :class:`WholeRecords` for a seed,
    whatever the groups and the order they arrive in.
    """
    bounds = np.linspace(0, n, PARTITIONS + 1).astype(np.int64)
    streams = [_Forward(source) for _ in range(PARTITIONS)]
    total = np.zeros(n_candidates, dtype=np.int64)
    for piece in above:
        total += piece.below
    rows = np.concatenate([a.rows for a in above] + [np.empty(0, np.int64)])
    if len(rows) == 0:
        return total
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    codes = np.concatenate([a.codes for a in above if len(a.rows)], axis=1)[:, order]
    per_record = np.concatenate([a.per_record for a in above])[order]
    # The words carry on from chunk to chunk, so the chunk size changes memory, not the counts.
    for start, stop in _chunks(len(rows), max(1, min(chunk_rows, TRIM_WORDS // max(bound, 1)))):
        mine = rows[start:stop]
        csr = _group_csr(schema, codes, slice(start, stop))
        cuts = np.searchsorted(mine, bounds)
        for p in range(PARTITIONS):
            if cuts[p] < cuts[p + 1]:
                counts = per_record[start + cuts[p] : start + cuts[p + 1]]
                total += _trim_piece(csr, level, cuts[p : p + 2], counts, bound, n_candidates, streams[p])
    return total


class ChunkedRecords:
    """The records as codes (one value per column), their attribute lists built a chunk at a time.

    The same release as :class:`WholeRecords` for a seed, whatever ``chunk_rows``:
    contribution bounding keeps the :data:`PARTITIONS` fixed record ranges, and a
    partition's random words carry on from chunk to chunk where its last record
    stopped. With ``dense``, a length whose candidates fit a dense index by column
    set (:data:`DENSE_INDEX_LIMIT`) is read straight from the codes in one pass
    that finds each record's number of candidates and every candidate's
    untrimmed count; then only the records above the bound (they draw random
    words) get attribute lists: their untrimmed contributions are taken off and
    their trimmed ones added. The records are one group of :func:`group_pass`,
    :func:`group_split` and :func:`trim_above`, the steps a cluster's workers
    run on their groups (:class:`GroupedRecords`).
    """

    def __init__(self, table: EncodedTable, chunk_rows: int = CHUNK_ROWS, dense: bool = True) -> None:
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
            raise ParameterError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
        self.table = table
        self.codes = table.codes
        self.n = int(table.codes.shape[1])
        self.chunk_rows = chunk_rows
        self.dense = dense
        self.column = table.schema.attribute_columns.astype(np.int64)
        self._pass: GroupPass | None = None

    def present(self, n_attributes: int) -> np.ndarray:
        return group_present(self.table.schema, self.codes, self.chunk_rows)

    def histogram(self, level: Level, candidates: np.ndarray, upper: int) -> np.ndarray:
        self._pass = group_pass(self.table.schema, self.codes, level, candidates, upper, self.chunk_rows,
                                self.dense)  # fmt: skip
        return self._pass.histogram

    def counts(self, level: Level, candidates: np.ndarray, bound: int, source: RandomSource) -> np.ndarray:
        assert self._pass is not None, "histogram() first"
        schema, n_candidates = self.table.schema, len(candidates)
        above = group_split(schema, self.codes, self._pass, level, n_candidates, bound, 0, self.chunk_rows)
        self._pass = None
        return trim_above(schema, level, self.n, [above], n_candidates, bound, source, self.chunk_rows)


class GroupedRecords:
    """Records held in groups elsewhere (a cluster's workers), read through ``call``.

    ``call(step, *arguments)`` runs ``step`` (``"present"``, ``"pass"`` or
    ``"split"``: :func:`group_present`, :func:`group_pass`, :func:`group_split`
    with the group's schema, codes and first row) on every group and returns
    the results in any order. Only histograms, candidate counts and the records
    above the bound (their codes) come back; the bound is chosen here, and the
    trimming and noise happen here, once.
    """

    def __init__(
        self, schema: Schema, n: int, call: Callable[..., list], chunk_rows: int = CHUNK_ROWS
    ) -> None:
        self.schema = schema
        self.n = n
        self.call = call
        self.chunk_rows = chunk_rows
        self.column = schema.attribute_columns.astype(np.int64)

    def present(self, n_attributes: int) -> np.ndarray:
        present = np.zeros(n_attributes, dtype=bool)
        for mine in self.call("present"):
            present |= mine
        return present

    def histogram(self, level: Level, candidates: np.ndarray, upper: int) -> np.ndarray:
        total = np.zeros(upper + 1, dtype=np.int64)
        for histogram in self.call("pass", level, candidates, upper):
            total += histogram
        return total

    def counts(self, level: Level, candidates: np.ndarray, bound: int, source: RandomSource) -> np.ndarray:
        above = self.call("split", level, len(candidates), bound)
        return trim_above(self.schema, level, self.n, above, len(candidates), bound, source, self.chunk_rows)


def _trim_piece(csr: Records, level: Level, piece: np.ndarray, per_record: np.ndarray, bound: int,
                n_candidates: int, stream: _Forward) -> np.ndarray:  # fmt: skip
    """Bounded counts of the records ``piece[0] .. piece[1]`` of ``csr``, one partition's, from its words."""
    need = int(np.where(per_record > bound, bound, 0).sum())
    size = int(need * 1.25) + 256
    states = np.zeros((1, 2), dtype=np.int64)
    todo = np.ones(1, dtype=np.bool_)
    local = np.zeros((1, n_candidates), dtype=np.int32)
    most = int(per_record.max(initial=0))
    while True:
        words = stream.words(size)[None, :]
        trimmed_counts(csr, level, Trimming(bound, most, piece.astype(np.int64), words, states, todo, local))
        if states[0, 1] == 0:
            break
        size *= 4  # ran out of words: replay with the same words and more
    stream.advance(int(states[0, 0]))
    return local[0].astype(np.int64)


def dense_index(candidates: np.ndarray, schema: Schema, limit: int = DENSE_INDEX_LIMIT) -> Dense | None:
    """The :class:`~showcase.engine.kernels.dp_marginals.Dense` index of ``candidates`` (rows of sorted
    ids, distinct columns); None when its column sets' key spaces exceed ``limit`` entries."""
    column = schema.attribute_columns.astype(np.int64)
    offsets = np.asarray(schema.offsets, dtype=np.int64)
    ids = candidates.astype(np.int64)
    cols = column[ids]
    codes = ids - offsets[cols] + 1
    sets, which = np.unique(cols, axis=0, return_inverse=True)
    which = which.reshape(-1)
    radices = np.array([len(d) + 1 for d in schema.dictionaries], dtype=np.int64)[sets]
    strides = np.ones_like(radices)  # the first column least significant: sets sharing it share a prefix
    for j in range(1, sets.shape[1]):
        strides[:, j] = strides[:, j - 1] * radices[:, j - 1]
    sizes = [int(np.prod([int(r) for r in row], dtype=object)) for row in radices]
    if sum(sizes) > limit:
        return None
    starts = np.zeros(len(sizes) + 1, dtype=np.int64)
    starts[1:] = np.cumsum(sizes)
    index = np.full(int(starts[-1]), -1, dtype=np.int32)
    index[starts[which] + (codes * strides[which]).sum(axis=1)] = np.arange(len(ids), dtype=np.int32)
    return Dense(sets, strides, starts, index)


def per_record_histogram(per_record: np.ndarray, upper: int, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """Histogram over [0, upper] of the per-record counts (clipped at ``upper``), a chunk at a time."""
    if upper < 0 or upper >= 1 << 40:
        raise ParameterError(f"percentile range upper bound must be in [0, 2**40), got {upper}")
    histogram = np.zeros(upper + 1, dtype=np.int64)
    for start in range(0, len(per_record), chunk_rows):
        part = np.minimum(per_record[start : start + chunk_rows], upper)
        histogram += np.bincount(part, minlength=upper + 1)
    return histogram


#: What a release reads its records through (the histogram of a length, then its bounded counts).
Held = WholeRecords | ChunkedRecords | GroupedRecords


def bounded_counts(source_records: Held, level: Level, candidates: np.ndarray, histogram: np.ndarray,
                   bound: int, source: RandomSource) -> np.ndarray:  # fmt: skip
    """Candidate counts where each record contributes to at most ``bound`` candidates (random subsets).

    ``histogram`` is the length's histogram of per-record candidate numbers (the bound was read from it).
    """
    return source_records.counts(level, candidates, bound, source)


@dataclass(frozen=True)
class Mechanism:
    """The options of one DP marginals release: a protection spec, built from keywords if need be."""

    spec: DifferentialPrivacy

    @classmethod
    def of(
        cls, protection: DifferentialPrivacy | None, epsilon: float | None, delta, options: dict
    ) -> Mechanism:
        """The spec's mechanism when there is one, else that of ``epsilon``, ``delta`` and ``options``."""
        if protection is not None:
            check_protection(protection, (DifferentialPrivacy,))
            if epsilon is not None or delta is not None:
                raise ParameterError("give either a protection spec or epsilon and the DP options, not both")
            return cls(protection)
        if epsilon is None:
            raise ParameterError("DP aggregates need an epsilon (or a DifferentialPrivacy protection)")
        return cls.from_keywords(epsilon, delta, **options)

    epsilon = property(lambda self: self.spec.epsilon)
    delta = property(lambda self: self.spec.delta)
    record_count_proportion = property(lambda self: self.spec.record_count_proportion)
    percentile = property(lambda self: self.spec.percentile)
    fabrication_mode = property(lambda self: self.spec.fabrication_mode)

    @property
    def thresholds(self) -> list[float] | None:
        return None if self.spec.thresholds is None else list(self.spec.thresholds)

    def split(self, length: int, delta: float, selection: bool) -> BudgetSplit:
        """The spec's budget split (:meth:`~showcase.engine.protection.DifferentialPrivacy.split`)."""
        return self.spec.split(length, delta, selection=selection)

    @classmethod
    def from_keywords(cls, epsilon: float, delta: float | None, **options) -> Mechanism:
        """The mechanism of a spec built from the keywords (so they pass the spec's own checks)."""
        return cls(DifferentialPrivacy(epsilon, delta, **options))

    def check(self, length: int) -> None:
        """The checks :func:`dp_aggregate` makes before it reads any data: the spec's, at ``length``."""
        self.spec.check(length)


@dataclass
class _Release:
    """What every length of one release reads: the records, the schema, the budget, the noise."""

    schema: Schema
    records: Held
    mechanism: Mechanism
    split: BudgetSplit
    public_domain: bool
    per_column: int
    source: RandomSource
    etas: list[float]


def dp_aggregate(
    table: EncodedTable | pa.Table,
    *,
    epsilon: float | None = None,
    length: int = 3,
    delta: float | None = None,
    record_count_proportion: float = 0.005,
    percentile_proportion: float = 0.1,
    percentile: float = 99.0,
    accuracy_mode: str | None = None,
    sigma_proportions: Sequence[float] | None = None,
    fabrication_mode: str = "balanced",
    thresholds: Sequence[float] | None = None,
    protection: DifferentialPrivacy | None = None,
    public_domain: bool = False,
    subject: np.ndarray | None = None,
    source: RandomSource | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk_rows: int | None = CHUNK_ROWS,
    dense: bool = True,
    grouped: GroupedRecords | None = None,
) -> tuple[Aggregates, DpReport]:
    """Differentially private counts of every combination up to ``length`` (SPEC §2.2).

    Parameters
    ----------
    protection
        A :class:`~showcase.engine.protection.DifferentialPrivacy` spec: every
        option (epsilon, delta and the mechanism's) comes from it, and the
        budget split is its own. Without it, ``epsilon`` and the keywords that
        follow it give them.
    public_domain
        The schema's values are public (a codebook), so length-1 candidates need
        no selection step and no delta. Pass True only for a schema built from
        a public codebook, never from the data: a value seen only in the data
        would then be released without passing a noisy threshold.
    subject
        One id per row: privacy is then per subject (all its rows together).
    thresholds
        Fixed thresholds for lengths 2..L (a noisy count must exceed them),
        instead of the fabrication mode's adaptive ones.
    chunk_rows, dense
        How the records are read (:class:`ChunkedRecords`): ``chunk_rows`` at a
        time, candidates found in a dense index by column set where it fits;
        ``chunk_rows=None`` builds every record's attribute list at once (as
        subjects always are). The release is the same for a seed either way.
    grouped
        The records held in groups elsewhere (a cluster's workers,
        :class:`GroupedRecords`); ``table`` then gives the schema only. The
        release is that of the same records in memory, for a seed.
    """
    options = dict(
        record_count_proportion=record_count_proportion, percentile_proportion=percentile_proportion,
        percentile=percentile, accuracy_mode=accuracy_mode, sigma_proportions=sigma_proportions,
        fabrication_mode=fabrication_mode, thresholds=thresholds,
    )  # fmt: skip
    mechanism = Mechanism.of(protection, epsilon, delta, options)
    length = validate_length(length)
    public_domain = check_flag(public_domain, "public_domain")
    if source is not None and not isinstance(source, RandomSource):
        raise ParameterError(f"source must be a RandomSource (or None for the OS's CSPRNG), got {source!r}")
    if isinstance(table, pa.Table):
        table = encode(table)
    if not isinstance(table, EncodedTable):
        raise ParameterError(f"table must be an EncodedTable or a pyarrow Table, got {type(table).__name__}")
    if subject is not None and len(subject) != table.n_rows:
        raise ParameterError(f"subject needs one id per row ({table.n_rows:,}), got {len(subject):,}")
    mechanism.check(length)
    check_key_space(table.schema, length)
    if grouped is not None:
        if subject is not None:
            raise ParameterError("records held in groups are one record per row: no subject ids")
        held: Held = grouped
    elif subject is not None or chunk_rows is None:
        held = WholeRecords(table, subject)
    else:
        held = ChunkedRecords(table, chunk_rows, dense)
    by_subject = subject is not None
    release, protected_count = _start(table, held, by_subject, length, mechanism, public_domain, source)
    report = DpReport(release.split, protected_count, fabrication_mode=mechanism.fabrication_mode,
                      public_domain=public_domain)  # fmt: skip
    released: list[tuple[np.ndarray, np.ndarray]] = []
    for k in range(1, length + 1):
        candidates = _candidates(release, k, released)
        if candidates is None:
            break
        report.candidates.append(int(len(candidates)))
        if len(candidates) == 0:
            released.append((candidates, np.empty(0, dtype=np.int64)))
            break
        # Two passes over the records per length (the histogram, the bounded counts): a step each.
        halfway = None if progress is None else partial(progress, 2 * k - 1, 2 * length)
        released.append(_release_length(release, k, candidates, released, report, halfway))
        if progress is not None:
            progress(2 * k, 2 * length)
    normalized = _normalize(released, release.schema.n_attributes, protected_count)
    aggregates = _as_aggregates(release.schema, length, normalized, protected_count)
    return replace(aggregates, seeded=release.source.seeded), report


def check_key_space(schema: Schema, length: int) -> None:
    """Refuse a schema whose combinations of ``length`` ids do not fit one key word."""
    base = schema.n_attributes + 1
    if base**length >= 2**62:
        raise ParameterError(
            "too many attribute values for DP marginals at this length; bin or drop high-cardinality columns"
        )


def _start(
    table: EncodedTable,
    held: Held,
    by_subject: bool,
    length: int,
    mechanism: Mechanism,
    public_domain: bool,
    source: RandomSource | None,
) -> tuple[_Release, int]:
    """The records, then the protected record count (it sets the default delta), then the split."""
    source = source or RandomSource()
    schema: Schema = table.schema
    eps_count = record_count_epsilon(mechanism.epsilon, mechanism.record_count_proportion)
    noisy_count = int(held.n + discrete_laplace(1, 1 / eps_count, source)[0])
    protected_count = max(noisy_count, 0)
    delta = mechanism.delta if mechanism.delta is not None else default_delta(protected_count)
    split = mechanism.split(length, delta, not public_domain)
    per_column = 1 if not by_subject else SUBJECT_VALUES_PER_COLUMN
    etas = fabrication_etas(mechanism.fabrication_mode, length)
    return _Release(schema, held, mechanism, split, public_domain, per_column, source, etas), protected_count


def public_columns(schema: Schema, public_domain: bool) -> int:
    """How many columns a record may hold attributes of, counted from public facts only.

    The range of the percentile step (the per-record candidate count) must not
    depend on the data. With a codebook every column is public; without one,
    a multi-value column's indicator columns are as many as the data has
    values, so each multi-value column counts :data:`MULTI_VALUE_PUBLIC_WIDTH`.
    """
    if public_domain or not schema.multi_value:
        return len(schema.columns)
    names = {name for name, _ in schema.multi_value}
    plain = sum(1 for group in schema.groups if group not in names)
    return plain + MULTI_VALUE_PUBLIC_WIDTH * len(names)


def _candidates(release: _Release, k: int, released: list) -> np.ndarray | None:
    """Length-k candidates (rows of sorted ids); None when no (k-1)-combination was released.

    k = 1: every attribute of the codebook, or every attribute some record
    holds; k >= 2: the combinations all of whose (k-1)-subsets were released.
    """
    n_attributes = release.schema.n_attributes
    if k == 1:
        if release.public_domain:
            return np.arange(n_attributes, dtype=np.int32)[:, None]
        present = release.records.present(n_attributes)
        return np.flatnonzero(present).astype(np.int32)[:, None]
    previous, _ = released[-1]
    if len(previous) == 0:
        return None
    singles = released[0][0][:, 0].astype(np.int64)
    return extend_candidates(
        previous, combinations_table(previous, n_attributes), singles, release.records.column
    )


def _release_length(
    release: _Release, k: int, candidates: np.ndarray, released: list, report: DpReport,
    counted: Callable[[], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The released combinations of length k and their noisy counts (SPEC §2.2, one length).

    ``counted()`` is told when the pass over the records for the percentile's histogram is done
    (the bounded counts' pass follows).
    """
    split, source, held = release.split, release.source, release.records
    n_attributes = release.schema.n_attributes
    allowed = np.zeros(n_attributes, dtype=np.bool_)
    allowed[(candidates if k == 1 else released[0][0])[:, 0]] = True
    previous = released[-1][0] if k >= 3 else np.empty((0, 1))
    level = Level(k, combinations_table(candidates, n_attributes), combinations_table(previous, n_attributes),
                  allowed)  # fmt: skip
    upper = math.comb(public_columns(release.schema, release.public_domain) * release.per_column, k)
    epsilon_k = split.percentile_epsilons[k - 1]
    histogram = held.histogram(level, candidates, upper)
    if counted is not None:
        counted()
    bound = max(1, dp_percentile_of_histogram(histogram, release.mechanism.percentile, epsilon_k, source))
    report.deltas.append(bound)
    counts = bounded_counts(held, level, candidates, histogram, bound, source)
    scale = noise_scale(split.sigmas[k - 1], bound)
    noisy = counts + discrete_gaussian(len(candidates), scale, source)
    threshold = _threshold(release, k, scale, bound)
    report.thresholds.append(float(threshold))
    keep = noisy > threshold
    if k == 1 and not release.public_domain:
        # Partition selection: the candidates are the values records keep after the bound (at most
        # `bound` each), not every value present; a record's trimmed values (count 0) never show.
        keep &= counts > 0
    report.released.append(int(keep.sum()))
    return candidates[keep], noisy[keep].astype(np.int64)


def _threshold(release: _Release, k: int, scale: float, bound: int) -> float:
    """What a length-k noisy count must exceed: partition selection, fixed, or adaptive."""
    split, thresholds = release.split, release.mechanism.thresholds
    if k == 1 and not release.public_domain:
        threshold = selection_threshold(scale, bound, split.selection_delta)
    elif thresholds is not None and k >= 2:
        threshold = float(thresholds[k - 2])
    else:
        threshold = adaptive_threshold(scale, release.etas[k - 2] if k >= 2 else 0.5)
    return threshold


def _normalize(
    released: list[tuple[np.ndarray, np.ndarray]], n_attributes: int, record_count: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cap each count by its sub-combinations' counts, shortest lengths first.

    A single attribute's sub-combination is the empty one, whose count is the
    (noisy) record count: no value is held by more records than there are.
    """
    if not released:
        return released
    singles, single_counts = released[0]
    out = [(singles, np.minimum(single_counts, max(int(record_count), 0)))]
    for combos, counts in released[1:]:
        sub_combos, sub_counts = out[-1]
        if len(combos) == 0:
            out.append((combos, counts))
            continue
        subsets = combinations_table(sub_combos, n_attributes)
        out.append((combos, cap_by_subsets(combos, counts, subsets, sub_counts)))
    return out


def _as_aggregates(schema: Schema, length: int, released, record_count: int) -> Aggregates:
    parts_attrs, parts_counts, parts_length = [], [], []
    for combos, counts in released:
        if len(combos) == 0:
            continue
        padded = np.full((len(combos), length), NO_ATTRIBUTE, dtype=np.int32)
        padded[:, : combos.shape[1]] = combos
        parts_attrs.append(padded)
        parts_counts.append(counts)
        parts_length.append(np.full(len(combos), combos.shape[1], dtype=np.uint8))
    empty = not parts_counts
    return Aggregates(
        schema=schema,
        reporting_length=length,
        attrs=np.empty((0, length), np.int32) if empty else np.concatenate(parts_attrs),
        length=np.empty(0, np.uint8) if empty else np.concatenate(parts_length),
        count=np.empty(0, np.int64) if empty else np.concatenate(parts_counts),
        record_count=record_count,
        protection=PROTECTION_DP,
    )
