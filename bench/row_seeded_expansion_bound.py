"""How few records can a k-anonymous release of NIST national2019 have? (issue 15, row_seeded).

Two measurements, printed as JSON lines:

* ``bound``: a lower bound on records per input for *any* synthesizer whose
  records are combinations held by >= k sensitive records and whose value
  counts equal the protected counts ``floor(count / k) * k``. If no such
  combination holding value ``v`` has more than ``m_v`` attributes, weights
  ``1 / m_v`` are feasible for the dual of the covering program, so at least
  ``sum(c_v / m_v)`` records are needed. ``m_v`` is exact (branch and bound)
  for values held by fewer than ``--exact-below`` records; for the others the
  most attributes of any record holding ``v`` stands in (still a bound).
* ``order``: SPEC's row_seeded in plain numpy (first pass, then a pool seeded
  from sensitive records), with a record's attributes taken uniformly at
  random (SPEC), at random weighted by 1 / count, or rarest first.

    python bench/row_seeded_expansion_bound.py
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from synthesize_table import NIST, prepared_nist

from showcase.engine import Preparation, load


class _TooLong(Exception):
    pass


def largest_combination(codes: np.ndarray, rows: np.ndarray, column: int, k: int, budget: int) -> int | None:
    """Most attributes of a combination held by >= k of ``rows`` (which share ``column``'s value).

    ``None`` when the search visits more than ``budget`` nodes.
    """
    others = [c for c in range(codes.shape[0]) if c != column]
    best, visited = [1], [0]

    def frequent(held: np.ndarray, start: int) -> list[np.ndarray]:
        out = []
        for c in others[start:]:
            counts = np.bincount(codes[c, held])
            counts[0] = 0
            out.append(np.flatnonzero(counts >= k))
        return out

    def search(held: np.ndarray, size: int, start: int) -> None:
        visited[0] += 1
        if visited[0] > budget:
            raise _TooLong
        values = frequent(held, start)
        live = [len(v) > 0 for v in values]
        if size + sum(live) <= best[0]:
            return
        best[0] = max(best[0], size)
        for i, column_values in enumerate(values):
            c = others[start + i]
            for value in column_values:
                search(held[codes[c, held] == value], size + 1, start + i + 1)
                if size + sum(live[i:]) <= best[0]:
                    return

    try:
        search(rows, 1, 0)
    except _TooLong:
        return None
    return best[0]


def record_bound(codes: np.ndarray, k: int, exact_below: int, budget: int) -> dict:
    """The lower bound ``sum(c_v / m_v)`` per input record, and how each ``m_v`` was found."""
    n = codes.shape[1]
    total = bound = 0.0
    exact = fallback = 0
    for c in range(codes.shape[0]):
        counts = np.bincount(codes[c])
        for value in np.flatnonzero(counts >= k):
            if value == 0:
                continue
            rows = np.flatnonzero(codes[c] == value)
            m = largest_combination(codes, rows, c, k, budget) if len(rows) < exact_below else None
            if m is None:
                m = int((codes[:, rows] > 0).sum(axis=0).max())
                fallback += 1
            else:
                exact += 1
            protected = counts[value] // k * k
            total += protected
            bound += protected / m
    return {"occurrences_per_input": round(total / n, 3), "records_per_input_at_least": round(bound / n, 3),
            "exact_m": exact, "bounded_m": fallback}  # fmt: skip


class Prototype:
    """SPEC's row_seeded in plain numpy, for comparing orders (slow: a boolean mask per test)."""

    def __init__(self, codes: np.ndarray, k: int) -> None:
        self.codes, self.k = codes, k
        self.counts = [np.bincount(column) for column in codes]
        self.masks = [[column == v for v in range(len(counts))] for column, counts in zip(codes, self.counts)]

    def order(self, record: int, rng: np.random.Generator, how: str) -> list[int]:
        columns = [c for c in range(self.codes.shape[0]) if self.codes[c, record] > 0]
        if how == "random":
            rng.shuffle(columns)
            return columns
        held = [int(self.counts[c][self.codes[c, record]]) for c in columns]
        if how == "rarest":
            keys = [(h, rng.random()) for h in held]
            return [c for _, c in sorted(zip(keys, columns))]
        # weighted sampling without replacement, weight 1 / count (Efraimidis–Spirakis keys)
        keys = [rng.random() ** h for h in held]
        return [c for _, c in sorted(zip(keys, columns), reverse=True)]

    def first_pass(self, rng: np.random.Generator, how: str) -> np.ndarray:
        out = np.zeros_like(self.codes)
        for r in range(self.codes.shape[1]):
            support = None
            for c in self.order(r, rng, how):
                value = self.codes[c, r]
                both = self.masks[c][value] if support is None else support & self.masks[c][value]
                if np.count_nonzero(both) >= self.k:
                    support, out[c, r] = both, value
        return out

    def pool(self, first: np.ndarray, rng: np.random.Generator, rounds: int = 3) -> list[np.ndarray]:
        """Records grown from what the first pass left out, each seeded by a sensitive record."""
        k, codes = self.k, self.codes
        n_columns = codes.shape[0]
        left = []
        for c in range(n_columns):
            have = np.bincount(first[c], minlength=len(self.counts[c]))
            left.append(np.maximum(self.counts[c] // k * k - have, 0))
            left[c][0] = 0
        starts = sorted((int(left[c][v]), c, v) for c in range(n_columns) for v in np.flatnonzero(left[c]))
        records = []
        for _ in range(rounds):
            for _, c0, v0 in starts:
                holders = np.flatnonzero(self.masks[c0][v0])
                while left[c0][v0] > 0:
                    record = np.zeros(n_columns, codes.dtype)
                    record[c0], support = v0, self.masks[c0][v0]
                    left[c0][v0] -= 1
                    seed = holders[rng.integers(len(holders))]
                    for c in rng.permutation(n_columns):
                        if c == c0:
                            continue
                        own = codes[c, seed]
                        offers = [own] if own > 0 and left[c][own] > 0 else []
                        if left[c].sum() > 0:
                            offers.append(rng.choice(len(left[c]), p=left[c] / left[c].sum()))
                        for value in offers:
                            both = support & self.masks[c][value]
                            if np.count_nonzero(both) >= k:
                                record[c], support = value, both
                                left[c][value] -= 1
                                break
                    records.append(record)
        return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--exact-below", type=int, default=8000, help="exact m_v below this many holders")
    parser.add_argument("--budget", type=int, default=300_000, help="search nodes per value, then a bound")
    parser.add_argument("--orders", default="random,weighted,rarest")
    args = parser.parse_args()
    if not NIST.exists():
        raise SystemExit(f"needs {NIST}")
    with tempfile.TemporaryDirectory() as tmp:
        codes = load(prepared_nist(Path(tmp)), Preparation(null_markers=("N",))).codes.astype(np.int32)
    n = codes.shape[1]
    start = time.perf_counter()
    line = {"measure": "bound", **record_bound(codes, args.k, args.exact_below, args.budget)}
    print(json.dumps({**line, "seconds": round(time.perf_counter() - start, 1)}), flush=True)
    prototype = Prototype(codes, args.k)
    for how in [o for o in args.orders.split(",") if o]:
        start = time.perf_counter()
        rng = np.random.default_rng(args.seed)
        first = prototype.first_pass(rng, how)
        pool = prototype.pool(first, rng)
        line = {
            "measure": "order",
            "order": how,
            "first_pass_attributes_per_record": round(float((first > 0).sum()) / n, 2),
            "pool_records_per_input": round(len(pool) / n, 3),
            "pool_attributes_per_record": round(float(np.mean([(r > 0).sum() for r in pool] or [0])), 2),
            "record_expansion": round(1 + len(pool) / n, 3),
            "seconds": round(time.perf_counter() - start, 1),
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
