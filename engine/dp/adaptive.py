"""Adaptive DP marginals: measure every column, then choose which 2- and 3-way marginals to measure.

Two mechanisms, after the record count (pure-DP discrete Laplace) and every
column's 1-way histogram ("missing" a cell of its own; discrete Gaussian):

* ``mst`` (McKenna, Miklau & Sheldon 2021): a maximum spanning tree of column
  pairs, each edge chosen by the exponential mechanism among the pairs that
  join two components, scored by the L1 distance between the pair's true
  counts and its estimate from the noisy 1-way counts (columns independent);
  then every chosen pair is measured.
* ``aim`` (McKenna et al. 2022, with a synthetic table as the model): in each
  of ``rounds`` rounds, the exponential mechanism picks the candidate marginal
  (every pair, and every triple at length 3) that the current model fits
  worst, ``|true - model|_1 - sqrt(2/pi) sigma cells`` (the measurement's
  expected noise, so large marginals must earn their cost); it is measured,
  and the model (synthetic records) is fitted again to all measurements.

Sensitivity: a record added or removed moves one cell of each histogram by
one, so d 1-way histograms have L2 sensitivity sqrt(d) and each measured
marginal 1; a score (an L1 distance to a fixed, already-released estimate)
moves by at most 1. Costs in zCDP: d / (2 sigma_1^2) for the 1-way counts,
1 / (2 sigma^2) per measured marginal, epsilon^2 / 8 per exponential-mechanism
choice (bounded range, Cesar & Rogers 2021), composed by addition.

Without a public codebook the values of each column come from the data: a
value is kept only when its noisy 1-way count passes the partition-selection
threshold of SPEC §2.2 (records holding a value that was not kept count as
"missing" from then on); that costs ``selection_delta``.

Everything after the noise is post-processing: each noisy marginal is
projected onto the non-negative tables of the released record count, and the
released aggregates are those tables' non-missing cells.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..aggregates import NO_ATTRIBUTE, Aggregates
from ..checks import check_flag, check_seed
from ..encode import EncodedTable, Schema
from ..errors import ParameterError
from ..kernels.marginal_fit import all_marginal_counts
from .accountant import (
    BudgetSplit,
    check_delta,
    check_epsilon,
    default_delta,
    record_count_epsilon,
    rho_from_epsilon,
)
from .adaptive_options import AdaptiveOptions
from .exponential import exponential_mechanism
from .marginals import PROTECTION_DP, selection_threshold
from .model import Fitter, Marginal, Measurements, counts_of, strides
from .noise import RandomSource, discrete_gaussian, discrete_laplace

#: Candidates larger than this many cells are never measured (their noise would swamp them).
MAX_CELLS = 100_000
#: AIM's model between rounds holds at most this many records (its counts scaled to the release's).
MODEL_RECORDS = 50_000


@dataclass
class AdaptiveReport:
    """Non-sensitive facts of an adaptive release, for metadata and the ledger."""

    split: BudgetSplit
    algorithm: str
    record_count: int
    one_way_sigma: float
    selection_epsilons: list[float] = field(default_factory=list)
    measured: list[dict] = field(default_factory=list)
    threshold: float | None = None
    kept_values: int = 0
    public_domain: bool = False
    #: Per length 1..L: the largest sigma of a measured marginal, and the cells released.
    sigmas: list[float] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    candidates: list[int] = field(default_factory=list)

    @property
    def noise_scales(self) -> list[float]:
        """The standard deviation of the noise on a released count, per length (the largest)."""
        return self.sigmas

    def describe(self) -> dict:
        s = self.split
        return {
            "algorithm": self.algorithm,
            **s.facts(),
            "one_way_sigma": self.one_way_sigma,
            "selection_epsilons": self.selection_epsilons,
            "value_threshold": self.threshold,
            "values_kept": self.kept_values,
            "measured_marginals": self.measured,
            "rho_parts": s.parts,
            "public_domain": self.public_domain,
            # The per-length facts every DP release states (noise of a released count: sigma, bound 1).
            "sigmas": self.sigmas,
            "sensitivity_bounds": [1] * len(self.sigmas),
            "candidates_by_length": self.candidates,
            "released_by_length": self.released,
            "thresholds": [self.threshold or 0.0] + [0.0] * (len(self.sigmas) - 1),
        }


def local_codes(table: EncodedTable, values: list[np.ndarray]) -> np.ndarray:
    """``codes[r, c]``: the local code of record r in column c (0: missing or a value not kept)."""
    return _local(table.schema, table.codes, values)


def _local(schema: Schema, codes: np.ndarray, values: list[np.ndarray]) -> np.ndarray:
    out = np.zeros(codes.shape[::-1], dtype=np.int32)
    for c, kept in enumerate(values):
        mapping = np.zeros(len(schema.dictionaries[c]) + 1, dtype=np.int32)
        mapping[kept] = np.arange(1, len(kept) + 1, dtype=np.int32)
        out[:, c] = mapping[codes[c]]
    return out


#: Records mapped to local codes at a time (int32, rows × columns) when marginals are counted.
LOCAL_CHUNK_ROWS = 1 << 18


def group_one_way(schema: Schema, codes: np.ndarray) -> list[np.ndarray]:
    """Each column's exact 1-way counts over ``codes`` (columns × rows; the missing cell first)."""
    sizes = [len(d) + 1 for d in schema.dictionaries]
    return [np.bincount(codes[c], minlength=size)[:size].astype(np.int64) for c, size in enumerate(sizes)]


def group_marginals(schema: Schema, codes: np.ndarray, values: list[np.ndarray], flat: tuple,
                    chunk_rows: int = LOCAL_CHUNK_ROWS) -> np.ndarray:  # fmt: skip
    """Exact counts of every flat marginal (:func:`_flat`) over ``codes``, on the kept values' local codes.

    The records are mapped to local codes a chunk at a time, so the int32
    records table of every record never exists.
    """
    out = np.zeros(int(flat[3][-1]), dtype=np.int64)
    for start in range(0, codes.shape[1], chunk_rows):
        all_marginal_counts(_local(schema, codes[:, start : start + chunk_rows], values), *flat, out)
    return out


class CodesReader:
    """What the adaptive mechanisms read of the records: exact 1-way and marginal counts (sums over records).

    This one reads codes in memory; a cluster's (:mod:`~showcase.engine.distributed`)
    runs :func:`group_one_way` and :func:`group_marginals` on each worker's
    records and sums the tables. Nothing else of the records is read.
    """

    def __init__(self, table: EncodedTable) -> None:
        self.schema, self.codes, self.n = table.schema, table.codes, table.n_rows

    def one_way(self) -> list[np.ndarray]:
        return group_one_way(self.schema, self.codes)

    def marginals(self, values: list[np.ndarray], flat: tuple) -> np.ndarray:
        return group_marginals(self.schema, self.codes, values, flat)


class Truth:
    """Exact counts of a list of marginals (``candidates``, column tuples), read once: one slice each."""

    def __init__(self, reader, values: list[np.ndarray], radix: np.ndarray, candidates: list[tuple]):
        self.candidates = candidates
        if not candidates:
            none = np.zeros(0, dtype=np.int64)
            self.flat, self.counts = (none, np.zeros(1, np.int64), none, np.zeros(1, np.int64)), none
            return
        self.flat = _flat(candidates, radix)
        self.counts = reader.marginals(values, self.flat)

    def of(self, i: int) -> np.ndarray:
        return self.counts[self.flat[3][i] : self.flat[3][i + 1]]


def adaptive_aggregate(
    table: EncodedTable,
    *,
    epsilon: float,
    delta: float | None = None,
    options: AdaptiveOptions = AdaptiveOptions(),
    public_domain: bool = False,
    source: RandomSource | None = None,
    seed: int | None = None,
    reader=None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Aggregates, AdaptiveReport, Measurements]:
    """DP counts of adaptively chosen marginals (``mst`` or ``aim``), one record per row.

    Returns the released aggregates (the measured marginals' non-missing
    cells, projected), the report (budget, marginals and their sigma) and the
    measurements that marginal-fitting synthesis reads. ``public_domain``: the
    schema comes from a public codebook (never pass True for values read from
    the data: they would skip the noisy selection). ``seed`` seeds the
    model that AIM fits between rounds (post-processing; None: the OS).
    ``reader`` gives the records' exact counts (default :class:`CodesReader`
    of ``table``; a cluster's sums its workers' tables, and ``table`` then
    gives the schema only): the release is the same for a seed. ``progress(done, total)`` is
    told each round (AIM: chosen, measured and fitted; MST: a pair of the tree measured).
    """
    epsilon = check_epsilon(epsilon)
    delta = None if delta is None else check_delta(delta)
    public_domain = check_flag(public_domain, "public_domain")
    if not isinstance(options, AdaptiveOptions):
        raise ParameterError(f"options must be AdaptiveOptions(...), got {options!r}")
    if source is not None and not isinstance(source, RandomSource):
        raise ParameterError(f"source must be a RandomSource (or None for the OS's CSPRNG), got {source!r}")
    check_seed(seed)
    source = source or RandomSource()
    n_cols = len(table.schema.columns)
    if n_cols < 2:
        raise ParameterError(f"the {options.algorithm} mechanism needs at least 2 columns")
    reader = CodesReader(table) if reader is None else reader
    eps_count = record_count_epsilon(epsilon, options.record_count_proportion)
    n_true = reader.n
    record_count = max(int(n_true + discrete_laplace(1, 1 / eps_count, source)[0]), 0)
    delta = delta if delta is not None else default_delta(record_count)
    selection_delta = 0.0 if public_domain else delta / 2
    conversion_delta = delta - selection_delta
    rho = rho_from_epsilon(epsilon - eps_count, conversion_delta)
    parts: dict[str, float] = {}
    # 1-way histograms: every column, L2 sensitivity sqrt(d).
    rho_one = rho * options.one_way_proportion
    sigma_one = math.sqrt(n_cols / (2 * rho_one)) * (1 + 1e-12)
    parts["one_way"] = n_cols / (2 * sigma_one**2)
    values, one_way, threshold = _one_way(table.schema, reader.one_way(), sigma_one, public_domain,
                                          selection_delta, source)  # fmt: skip
    measurements = Measurements(values, one_way, record_count)
    rest = rho - parts["one_way"]
    selection_epsilons: list[float] = []
    if options.algorithm == "mst":
        _mst(reader, n_cols, measurements, rest, parts, selection_epsilons, source, progress)
    else:
        _aim(reader, n_cols, measurements, rest, parts, selection_epsilons, options, source, seed, progress)
    split = BudgetSplit(
        epsilon=epsilon, delta=delta, rho=rho, record_count_epsilon=eps_count, percentile_epsilons=[],
        sigmas=sorted({m.sigma for m in measurements.marginals}), selection_delta=selection_delta,
        conversion_delta=conversion_delta, parts=parts,
    )  # fmt: skip
    merged = _merge(measurements)
    report = AdaptiveReport(
        split, options.algorithm, record_count, sigma_one, selection_epsilons,
        merged.describe(table.schema.columns), threshold, int(sum(len(v) for v in values)), public_domain,
    )  # fmt: skip
    aggregates = as_aggregates(table.schema, merged)
    for k in range(1, aggregates.reporting_length + 1):
        of_length = [m for m in merged.marginals if len(m.columns) == k]
        report.sigmas.append(max((m.sigma for m in of_length), default=0.0))
        report.candidates.append(int(sum(m.noisy.size for m in of_length)))
    report.released = aggregates.by_length().tolist()
    return replace(aggregates, seeded=source.seeded), report, merged


def _one_way(
    schema: Schema, exact: list[np.ndarray], sigma: float, public_domain: bool, selection_delta: float,
    source: RandomSource,
) -> tuple[list[np.ndarray], list[Marginal], float | None]:  # fmt: skip
    """Noisy 1-way histograms (missing cell first) of the ``exact`` ones, and each column's kept values."""
    n_cols = len(schema.columns)
    values, marginals = [], []
    threshold = None if public_domain else selection_threshold(sigma, n_cols, selection_delta)
    for c in range(n_cols):
        size = len(schema.dictionaries[c]) + 1
        counts = exact[c]
        noisy = counts + discrete_gaussian(size, sigma, source)
        if public_domain:
            keep = np.arange(1, size, dtype=np.int64)
        else:
            keep = np.flatnonzero(noisy[1:] > threshold).astype(np.int64) + 1
        values.append(keep)
        local = np.concatenate([noisy[:1], noisy[keep]]).astype(np.float64)
        marginals.append(Marginal((c,), sigma, local))
    return values, marginals, threshold


def _measure(truth: np.ndarray, columns, sigma: float, source) -> Marginal:
    """The marginal over ``columns`` measured: its exact counts ``truth`` plus discrete Gaussian noise."""
    return Marginal(
        tuple(columns), sigma, (truth + discrete_gaussian(truth.size, sigma, source)).astype(float)
    )


def mst_scores(
    codes: np.ndarray, radix: np.ndarray, singles: list[np.ndarray], total: int, pairs
) -> np.ndarray:
    """MST's score of each pair of ``codes`` (records × local codes): see :func:`pair_scores`."""
    return pair_scores([counts_of(codes, radix, pair) for pair in pairs], singles, total, pairs)


def pair_scores(tables: list[np.ndarray], singles: list[np.ndarray], total: int, pairs) -> np.ndarray:
    """MST's score of each pair: L1 distance of its true counts (``tables``) from the independence estimate.

    The estimate (outer product of the released 1-way tables over the
    released record count, rounded to integers) is fixed before the data are
    read again, so adding or removing a record moves each score by at most 1.
    """
    scores = []
    for (i, j), truth in zip(pairs, tables, strict=True):
        estimate = np.rint(np.outer(singles[i], singles[j]).ravel() / total).astype(np.int64)
        scores.append(int(np.abs(truth - estimate).sum()))
    return np.array(scores, dtype=np.int64)


def _mst(reader, n_cols: int, measurements: Measurements, rho: float, parts, selection_epsilons,
         source, progress=None) -> None:  # fmt: skip
    """A maximum spanning tree of pairs by the exponential mechanism, then each pair measured."""
    radix = measurements.radix
    singles = measurements.targets()
    total = max(measurements.record_count, 1)
    pairs = [p for p in itertools.combinations(range(n_cols), 2) if radix[p[0]] * radix[p[1]] <= MAX_CELLS]
    truth = Truth(reader, measurements.values, radix, pairs)  # every pair's counts, read once
    scores = pair_scores([truth.of(i) for i in range(len(pairs))], singles, total, pairs)
    rounds = n_cols - 1
    rho_select, rho_measure = rho / 2, rho / 2
    epsilon = math.sqrt(8 * rho_select / rounds) * (1 - 1e-12)
    component = list(range(n_cols))
    chosen = []
    for r in range(rounds):
        open_ = [k for k, (i, j) in enumerate(pairs) if component[i] != component[j]]
        if not open_:
            break
        pick = open_[exponential_mechanism(scores[open_], 1, epsilon, source)]
        parts[f"select_{r + 1}"] = epsilon**2 / 8
        selection_epsilons.append(epsilon)
        i, j = pairs[pick]
        old, new = component[j], component[i]
        component = [new if x == old else x for x in component]
        chosen.append(pick)
    sigma = math.sqrt(len(chosen) / (2 * rho_measure)) * (1 + 1e-12) if chosen else 1.0
    for r, pick in enumerate(chosen):
        measurements.marginals.append(_measure(truth.of(pick), pairs[pick], sigma, source))
        parts[f"measure_{r + 1}"] = 1 / (2 * sigma**2)
        if progress is not None:
            progress(r + 1, len(chosen))


def _aim(
    reader, n_cols: int, measurements: Measurements, rho: float, parts, selection_epsilons, options, source,
    seed, progress=None,
) -> None:  # fmt: skip
    """Rounds of: choose the worst-fitted candidate (exponential mechanism), measure it, refit the model."""
    radix = measurements.radix
    candidates = [
        cols
        for k in range(2, options.length + 1)
        for cols in itertools.combinations(range(n_cols), k)
        if int(np.prod(radix[list(cols)])) <= MAX_CELLS
    ]
    exact = Truth(reader, measurements.values, radix, candidates)  # every candidate's counts, read once
    flat, truth = exact.flat, exact.counts
    cells = np.diff(flat[3]).astype(np.float64)
    rounds = options.n_rounds(n_cols, rho)
    rho_round = rho / rounds
    selection = options.selection_proportion
    epsilon = math.sqrt(8 * selection * rho_round) * (1 - 1e-12)
    sigma = math.sqrt(1 / (2 * (1 - selection) * rho_round)) * (1 + 1e-12)
    penalty = np.ceil(math.sqrt(2 / math.pi) * sigma * cells).astype(np.int64)
    fitter = Fitter(measurements, seed=seed, records=min(measurements.record_count, MODEL_RECORDS))
    scale = measurements.record_count / max(fitter.n, 1)
    for r in range(rounds):
        fitter.fit(1)
        model = np.zeros_like(truth)
        all_marginal_counts(fitter.codes, *flat, model)
        model = np.rint(model * scale).astype(np.int64)
        errors = np.add.reduceat(np.abs(truth - model), flat[3][:-1])
        pick = exponential_mechanism(errors - penalty, 1, epsilon, source)
        parts[f"select_{r + 1}"] = epsilon**2 / 8
        selection_epsilons.append(epsilon)
        measurements.marginals.append(_measure(exact.of(pick), candidates[pick], sigma, source))
        parts[f"measure_{r + 1}"] = 1 / (2 * sigma**2)
        fitter.add(measurements.marginals[-1])
        if progress is not None:
            progress(r + 1, rounds)


def _flat(candidates: list[tuple[int, ...]], radix: np.ndarray) -> tuple[np.ndarray, ...]:
    """Columns, their pointers, strides and cell offsets of ``candidates``, flat (see the kernels)."""
    m_cols = np.array([c for cols in candidates for c in cols], dtype=np.int64)
    m_ptr = np.cumsum([0] + [len(cols) for cols in candidates]).astype(np.int64)
    m_strides = np.concatenate([strides(radix, cols) for cols in candidates]).astype(np.int64)
    sizes = [int(np.prod(radix[list(cols)])) for cols in candidates]
    return m_cols, m_ptr, m_strides, np.cumsum([0] + sizes).astype(np.int64)


def _merge(measurements: Measurements) -> Measurements:
    """One measurement per marginal: repeated ones combined by their inverse variance."""
    merged: dict[tuple[int, ...], Marginal] = {}
    for m in measurements.marginals:
        merged[m.columns] = m if m.columns not in merged else merged[m.columns].combine(m)
    return Measurements(measurements.values, list(merged.values()), measurements.record_count)


def as_aggregates(schema: Schema, measurements: Measurements, projected: bool = True) -> Aggregates:
    """The released aggregates: every measured marginal's non-missing cells with a projected count >= 1.

    ``projected=False`` gives every non-missing cell's raw noisy count instead (what audits score).
    """
    offsets = schema.offsets
    radix = measurements.radix
    length = max(len(m.columns) for m in measurements.marginals)
    rows, counts, lengths = [], [], []
    targets = measurements.targets() if projected else [m.noisy for m in measurements.marginals]
    for m, target in zip(measurements.marginals, targets, strict=True):
        shape = tuple(int(radix[c]) for c in m.columns)
        local = np.array(np.unravel_index(np.arange(target.size), shape)).T  # cells × columns
        count = np.rint(target).astype(np.int64)
        keep = (local > 0).all(axis=1) & ((count > 0) | (not projected))
        ids = np.empty((int(keep.sum()), length), dtype=np.int32)
        ids[:] = NO_ATTRIBUTE
        for i, c in enumerate(m.columns):
            ids[:, i] = measurements.values[c][local[keep, i] - 1] + offsets[c] - 1
        rows.append(ids)
        counts.append(count[keep])
        lengths.append(np.full(len(ids), len(m.columns), dtype=np.uint8))
    return Aggregates(
        schema=schema,
        reporting_length=length,
        attrs=np.concatenate(rows),
        length=np.concatenate(lengths),
        count=np.concatenate(counts),
        record_count=measurements.record_count,
        protection=PROTECTION_DP,
        marginals=measurements,
    )
