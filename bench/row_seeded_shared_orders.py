"""Experiment (issue 14, not adopted): row_seeded's first pass on sorted tables, with shared orders.

Today every record draws its own random order of its attributes, so records
share almost no work and the first pass grows faster than linearly (see
"Row-seeded in near-linear time" in RESULTS.md). This script tries the other
way round: M random column orders, record ``r`` takes order ``r mod M`` (its
attributes in that order), and for each order the whole table is packed into
one uint64 key per row (columns in that order) and sorted. The records that
share the kept prefix of an order are then one contiguous range of keys, so a
support test is two binary searches. A column the record leaves free (no
attribute, an attribute rarer than k, or one that failed its test) splits the
range into one range per value present there ("nodes"); once the nodes hold
few rows, they are listed and filtered instead.

It checks the records against a plain reference (numpy masks over every row)
on a small table, then times the first pass per size on one thread and
prints the binary searches per record: the number that decides whether the
design scales.

    python bench/row_seeded_shared_orders.py --rows 100000,1000000 --orders 64

Only tables whose codes pack into 63 bits (generated case data: 58).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from numba import njit

from showcase.datasets import generate_table
from showcase.engine.encode import EncodedTable, encode

#: The nodes of a record are listed (and then filtered row by row) once they
#: hold at most this many rows.
LIST_ROWS = 64


@njit(cache=True)
def _lower_bound(keys, lo, hi, target):
    while lo < hi:
        mid = (lo + hi) >> 1
        if keys[mid] < target:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def pack_keys(codes, order, bits):
    """One uint64 per row: its codes, columns in ``order``, ``bits[c]`` bits each, first column highest."""
    n_rows = codes.shape[1]
    keys = np.zeros(n_rows, dtype=np.uint64)
    for c in order:
        width = np.uint64(bits[c])
        for i in range(n_rows):
            keys[i] = (keys[i] << width) | np.uint64(codes[c, i])
    return keys


@njit(cache=True)
def _candidates(codes, offsets, counts, k, order, r, flags):
    last = -1
    for t in range(order.shape[0]):
        c = order[t]
        x = np.int64(codes[c, r])
        flags[t] = x > 0 and counts[offsets[c] + x - 1] >= k
        if flags[t]:
            last = t
    return last


@njit(cache=True)
def walk(keys, codes, offsets, counts, k, order, bits, records, out, searches):
    """Grow ``records`` (all of one order) on the sorted ``keys``; kept codes go into ``out``.

    Nodes are ``(lo, hi, prefix)``: the keys whose first ``t`` fields are
    ``prefix``, all agreeing with the record on its kept columns. Adds the
    binary searches made to ``searches[0]``.
    """
    n_columns = codes.shape[0]
    shift = np.zeros(n_columns + 1, dtype=np.uint64)
    for t in range(n_columns - 1, -1, -1):
        shift[t] = shift[t + 1] + np.uint64(bits[order[t]])
    size = 1024
    lo_a, hi_a, pre_a = np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, np.uint64)
    lo_b, hi_b, pre_b = np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, np.uint64)
    rows = np.empty(LIST_ROWS, dtype=np.int64)
    flags = np.zeros(n_columns, dtype=np.bool_)
    for r in records:
        last = _candidates(codes, offsets, counts, k, order, r, flags)
        n_nodes, lo_a[0], hi_a[0], pre_a[0] = 1, 0, keys.shape[0], np.uint64(0)
        listed = -1  # number of listed rows, -1 while in nodes
        for t in range(last + 1):
            c = order[t]
            x = np.uint64(codes[c, r])
            width = np.uint64(bits[c])
            below = shift[t + 1]
            mask = (np.uint64(1) << width) - np.uint64(1)
            if listed >= 0:
                if flags[t]:
                    hits = 0
                    for i in range(listed):
                        hits += (keys[rows[i]] >> below) & mask == x
                    if hits >= k:
                        out[c, r] = codes[c, r]
                        j = 0
                        for i in range(listed):
                            if (keys[rows[i]] >> below) & mask == x:
                                rows[j] = rows[i]
                                j += 1
                        listed = j
                continue
            kept = False
            total = 0
            m = 0
            if flags[t]:
                for i in range(n_nodes):
                    prefix = (pre_a[i] << width) | x
                    lo = _lower_bound(keys, lo_a[i], hi_a[i], prefix << below)
                    hi = _lower_bound(keys, lo, hi_a[i], (prefix + np.uint64(1)) << below)
                    searches[0] += 2
                    if hi > lo:
                        lo_b[m], hi_b[m], pre_b[m] = lo, hi, prefix
                        m += 1
                        total += hi - lo
                kept = total >= k
                if kept:
                    out[c, r] = codes[c, r]
            if not kept:
                if t == last:
                    break
                m = 0
                total = 0
                for i in range(n_nodes):
                    j = lo_a[i]
                    while j < hi_a[i]:
                        prefix = (pre_a[i] << width) | ((keys[j] >> below) & mask)
                        end = _lower_bound(keys, j, hi_a[i], (prefix + np.uint64(1)) << below)
                        searches[0] += 1
                        if m == lo_b.shape[0]:
                            lo_b, hi_b, pre_b = _bigger(lo_b), _bigger(hi_b), _bigger(pre_b)
                        lo_b[m], hi_b[m], pre_b[m] = j, end, prefix
                        m += 1
                        total += end - j
                        j = end
            n_nodes = m
            if lo_a.shape[0] < lo_b.shape[0]:
                lo_a, hi_a, pre_a = np.empty_like(lo_b), np.empty_like(hi_b), np.empty_like(pre_b)
            lo_a, lo_b, hi_a, hi_b, pre_a, pre_b = lo_b, lo_a, hi_b, hi_a, pre_b, pre_a
            if total <= LIST_ROWS:
                listed = 0
                for i in range(n_nodes):
                    for j in range(lo_a[i], hi_a[i]):
                        rows[listed] = j
                        listed += 1
    return out


@njit(cache=True)
def _bigger(values):
    bigger = np.empty(2 * values.shape[0], dtype=values.dtype)
    bigger[: values.shape[0]] = values
    return bigger


def column_orders(n_orders: int, n_columns: int, seed: int) -> list[np.ndarray]:
    """``n_orders`` random column orders."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(n_columns).astype(np.int64) for _ in range(n_orders)]


def _table_arrays(table: EncodedTable) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    codes = np.ascontiguousarray(table.codes)
    offsets = np.ascontiguousarray(table.schema.offsets, dtype=np.int64)
    counts = np.zeros(int(offsets[-1]), dtype=np.int64)
    for c in range(codes.shape[0]):
        values = np.bincount(codes[c], minlength=int(offsets[c + 1] - offsets[c]) + 1)
        counts[offsets[c] : offsets[c + 1]] = values[1:]
    bits = np.array([int(n).bit_length() for n in offsets[1:] - offsets[:-1]], dtype=np.int64)
    if bits.sum() > 63:
        raise SystemExit(f"the codes need {bits.sum()} bits; this experiment packs at most 63")
    return codes, offsets, counts, bits


def first_pass_shared(table: EncodedTable, k: int, orders: list[np.ndarray]) -> tuple[np.ndarray, dict]:
    """The first pass with shared orders; also the seconds sorting and walking, and the searches."""
    codes, offsets, counts, bits = _table_arrays(table)
    out = np.zeros_like(codes)
    searches = np.zeros(1, dtype=np.int64)
    sort_s = walk_s = 0.0
    for m, order in enumerate(orders):
        start = time.perf_counter()
        keys = np.sort(pack_keys(codes, order, bits))
        records = np.arange(m, codes.shape[1], len(orders), dtype=np.int64)
        # Records in key order: neighbours search the same ranges (cache).
        records = records[np.argsort(pack_keys(codes[:, records], order, bits), kind="stable")]
        middle = time.perf_counter()
        walk(keys, codes, offsets, counts, k, order, bits, records, out, searches)
        sort_s += middle - start
        walk_s += time.perf_counter() - middle
    return out, {"sort_s": sort_s, "walk_s": walk_s, "searches": int(searches[0])}


def first_pass_reference(table: EncodedTable, k: int, orders: list[np.ndarray]) -> np.ndarray:
    """Plain form: each record's attributes in its order, kept while the support (every row) stays >= k."""
    codes, offsets, counts, _ = _table_arrays(table)
    out = np.zeros_like(codes)
    for r in range(codes.shape[1]):
        order = orders[r % len(orders)]
        support = np.ones(codes.shape[1], dtype=bool)
        for c in order:
            x = codes[c, r]
            if x == 0 or counts[offsets[c] + x - 1] < k:
                continue
            narrowed = support & (codes[c] == x)
            if narrowed.sum() >= k:
                support = narrowed
                out[c, r] = x
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="sizes of generate_table(rows, 20, 1)")
    parser.add_argument("--orders", type=int, default=64, help="M, the number of shared column orders")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    orders = column_orders(args.orders, 20, args.seed)
    small = encode(generate_table(3000, 20, 2))
    fast, _ = first_pass_shared(small, args.k, orders)
    if not np.array_equal(fast, first_pass_reference(small, args.k, orders)):
        raise SystemExit("the sorted first pass differs from the plain reference")
    for rows in (int(x) for x in args.rows.split(",")):
        table = encode(generate_table(rows, 20, 1))
        start = time.perf_counter()
        out, parts = first_pass_shared(table, args.k, orders)
        line = {
            "rows": rows,
            "orders": args.orders,
            "seconds": round(time.perf_counter() - start, 2),
            "sort_s": round(parts["sort_s"], 2),
            "walk_s": round(parts["walk_s"], 2),
            "searches_per_record": round(parts["searches"] / rows, 1),
            "kept_per_record": round(float((out > 0).sum()) / rows, 2),
            "load": [round(x, 2) for x in os.getloadavg()],
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
