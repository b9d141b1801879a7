"""The model of released marginals: records fitted to every measured noisy marginal at once.

Reads only what a DP release measured (:class:`Measurements`), never the
sensitive data, so everything here is post-processing. :class:`Fitter` holds
synthetic records (codes local to the release: 0 = missing, j = the j-th
kept value) and moves them toward the measured marginals, each projected onto
the non-negative tables of the released record count, with the local search
of :mod:`showcase.engine.kernels.marginal_fit` (error weighted by 1/sigma).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..kernels.constraints import Rules, no_rules
from ..kernels.marginal_fit import all_marginal_counts, local_search, marginal_counts, repair_records
from ..kernels.rng import new_state

#: Proposals per kernel call of :meth:`Fitter.fit` (about half a second at 1M records × 20 columns on a
#: 2-core machine): progress is reported, and a signal acts, between calls. The records do not depend on it.
FIT_CHUNK = 1 << 20


@dataclass
class Marginal:
    """One measured marginal: its columns, the noise's standard deviation, the noisy cells (C order)."""

    columns: tuple[int, ...]
    sigma: float
    noisy: np.ndarray

    def combine(self, other: Marginal) -> Marginal:
        """The inverse-variance mean of two measurements of the same marginal (post-processing)."""
        wa, wb = self.sigma**-2, other.sigma**-2
        return Marginal(self.columns, (wa + wb) ** -0.5, (wa * self.noisy + wb * other.noisy) / (wa + wb))


@dataclass
class Measurements:
    """What an adaptive release measured (all of it DP): what marginal fitting reads.

    ``values[c]`` lists the schema codes (1-based) of column c's kept values:
    local code j >= 1 is ``values[c][j - 1]``, local code 0 is "missing".
    """

    values: list[np.ndarray]
    marginals: list[Marginal]
    record_count: int

    @property
    def radix(self) -> np.ndarray:
        return np.array([len(v) + 1 for v in self.values], dtype=np.int64)

    def strides(self, columns: tuple[int, ...]) -> np.ndarray:
        return strides(self.radix, columns)

    def targets(self) -> list[np.ndarray]:
        """Each marginal projected onto the non-negative tables that sum to the record count."""
        return [project(m.noisy, self.record_count) for m in self.marginals]

    def describe(self, names: tuple[str, ...]) -> list[dict]:
        return [
            {"columns": [names[c] for c in m.columns], "sigma": m.sigma, "cells": int(m.noisy.size)}
            for m in self.marginals
        ]


def strides(radix: np.ndarray, columns: tuple[int, ...]) -> np.ndarray:
    """Strides of a C-ordered table over ``columns`` (the first column varies slowest)."""
    out = np.ones(len(columns), dtype=np.int64)
    for i in range(len(columns) - 2, -1, -1):
        out[i] = out[i + 1] * radix[columns[i + 1]]
    return out


def project(noisy: np.ndarray, total: float) -> np.ndarray:
    """Euclidean projection of ``noisy`` onto {x >= 0, sum x = total}: subtract one level, cut at 0."""
    total = max(float(total), 0.0)
    if noisy.size == 0:
        return noisy.astype(np.float64)
    if total == 0:
        return np.zeros(noisy.shape)
    ordered = np.sort(noisy.astype(np.float64))[::-1]
    excess = np.cumsum(ordered) - total
    k = np.arange(1, len(ordered) + 1)
    last = np.flatnonzero(ordered - excess / k > 0)[-1]
    level = excess[last] / (last + 1)
    return np.maximum(noisy - level, 0.0)


def counts_of(codes: np.ndarray, radix: np.ndarray, columns: tuple[int, ...]) -> np.ndarray:
    """Exact counts of the marginal over ``columns`` (C order), int64."""
    out = np.zeros(int(np.prod(radix[list(columns)])), dtype=np.int64)
    cols = np.array(columns, dtype=np.int64)
    marginal_counts(codes, cols, strides(radix, columns), out)
    return out


class Fitter:
    """Synthetic records (``codes[r, c]``, local codes) fitted to ``measurements``' marginals by local search.

    Starts from records whose columns are drawn independently from the
    projected 1-way marginals (the first ``len(values)`` measurements).
    ``records`` defaults to the released record count; targets are scaled to it.
    """

    def __init__(
        self,
        measurements: Measurements,
        *,
        seed: int | None = None,
        records: int | None = None,
        rules: Rules | None = None,
    ):
        """``rules``: declared constraints on local codes (see :func:`showcase.engine.constraints.encode`);
        the starting records are repaired to violate none, and no later change makes one violate."""
        from ..randomness import make_rng

        self.measurements = measurements
        self.rng = make_rng(seed)
        self.radix = measurements.radix
        self.n = int(records if records is not None else measurements.record_count)
        n_cols = len(self.radix)
        self.codes = np.zeros((self.n, n_cols), dtype=np.int32)
        ones = {m.columns[0]: t for m, t in zip(measurements.marginals, measurements.targets(), strict=True)
                if len(m.columns) == 1}  # fmt: skip
        for c in range(n_cols):
            p = ones.get(c, np.ones(self.radix[c]))
            p = p / p.sum() if p.sum() > 0 else np.full(len(p), 1 / len(p))
            self.codes[:, c] = self.rng.choice(len(p), size=self.n, p=p).astype(np.int32)
        self.rules = rules if rules is not None else no_rules()
        if rules is not None and rules.item_ptr.shape[0] > 1:
            self._repair(ones)
        self._build()

    def _repair(self, ones: dict) -> None:
        """Redraw cells of starting records that complete a declared constraint (from the 1-way marginals)."""
        rows = []
        for c in range(len(self.radix)):
            p = np.asarray(ones.get(c, np.ones(self.radix[c])), dtype=np.float64)
            p = p / p.sum() if p.sum() > 0 else np.full(len(p), 1 / len(p))
            cumulative = np.cumsum(p)
            cumulative[-1] = 1.0
            rows.append(cumulative)
        widths = np.array([len(r) for r in rows], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
        seed = int(self.rng.integers(0, 2**63 - 1))
        repair_records(self.codes, self.rules, np.concatenate(rows), starts, widths, seed)

    def _build(self) -> None:
        merged: dict[tuple[int, ...], Marginal] = {}
        for m in self.measurements.marginals:
            merged[m.columns] = m if m.columns not in merged else merged[m.columns].combine(m)
        marginals = list(merged.values())
        scale = self.n / max(self.measurements.record_count, 1)
        n_cols = len(self.radix)
        self.m_cols = np.array([c for m in marginals for c in m.columns], dtype=np.int64)
        self.m_ptr = np.cumsum([0] + [len(m.columns) for m in marginals]).astype(np.int64)
        self.m_strides = np.concatenate([strides(self.radix, m.columns) for m in marginals]).astype(np.int64)
        self.m_offset = np.cumsum([0] + [m.noisy.size for m in marginals]).astype(np.int64)
        self.target = np.concatenate(
            [project(m.noisy, self.measurements.record_count) * scale for m in marginals]
        )
        self.weight = np.array([1 / m.sigma for m in marginals], dtype=np.float64)
        self.weight /= self.weight.max()
        holding = [[k for k, m in enumerate(marginals) if c in m.columns] for c in range(n_cols)]
        self.c_ptr = np.cumsum([0] + [len(h) for h in holding]).astype(np.int64)
        self.c_marg = np.array([k for h in holding for k in h], dtype=np.int64)
        self.current = np.zeros(int(self.m_offset[-1]), dtype=np.int64)
        all_marginal_counts(self.codes, self.m_cols, self.m_ptr, self.m_strides, self.m_offset, self.current)

    def add(self, marginal: Marginal) -> None:
        """Fit to one more measurement from now on (it must already be in ``measurements``)."""
        del marginal
        self._build()

    def fit(self, sweeps: int, progress: Callable[[int, int], None] | None = None) -> int:
        """``sweeps`` proposals per cell of the table; returns how many changes were kept.

        The proposals run :data:`FIT_CHUNK` at a time: ``progress(done, total)`` is told after
        each run, and Ctrl-C or SIGTERM stop the fit there. The records are those of one call over all.
        """
        steps = int(sweeps) * self.n * len(self.radix)
        state = new_state(int(self.rng.integers(0, 2**63 - 1)))
        kept = 0
        for first in range(0, steps, FIT_CHUNK):
            stop = min(steps, first + FIT_CHUNK)
            kept += int(local_search(
                self.codes, self.radix, self.m_cols, self.m_ptr, self.m_strides, self.m_offset, self.target,
                self.current, self.weight, self.c_ptr, self.c_marg,
                stop - first, state, self.rules,
            ))  # fmt: skip
            if progress is not None:
                progress(stop, steps)
        return kept

    def counts(self, columns: tuple[int, ...]) -> np.ndarray:
        """The records' counts of the marginal over ``columns``."""
        return counts_of(self.codes, self.radix, columns)

    def error(self) -> float:
        """The weighted L1 error of the records against every target."""
        diff = np.abs(self.current - self.target)
        per = np.add.reduceat(diff, self.m_offset[:-1]) if len(diff) else diff
        return float((per * self.weight).sum())
