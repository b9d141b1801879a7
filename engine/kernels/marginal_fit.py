"""Kernels of marginal fitting: count marginals of coded records, and move records toward targets.

Records are ``codes[r, c]`` (record-major, so one record's cells share a cache line):
column c's local code of record r (0 = missing,
1..radix[c]-1 = the column's values). A marginal over columns ``cols`` (with
``strides``) puts record r in cell ``sum(codes[r, cols[i]] * strides[i])``.

Many marginals are held flat: marginal m has columns
``m_cols[m_ptr[m]:m_ptr[m+1]]`` (strides alike) and cells
``m_offset[m]:m_offset[m+1]`` of ``target`` (what to reach), ``current`` (the
records' counts) and ``weight[m]`` (how much its error counts). Column c
belongs to marginals ``c_marg[c_ptr[c]:c_ptr[c+1]]``.

:func:`local_search` changes one cell at a time (record r, column c → value v)
and keeps the change when it lowers the weighted L1 error
``sum_m weight[m] * sum_cells |current - target|`` over the marginals holding
c. Its randomness is the kernels' own (:mod:`.rng`): the kernel reads no
sensitive data, only released targets, so it is post-processing.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..config import BORROW_JIT, JIT
from .constraints import draw_allowed, violates, violates_with
from .rng import below, new_state, uniform


@njit(**BORROW_JIT)
def marginal_counts(codes, cols, strides, out):
    """Add each record's cell of the marginal over ``cols`` to ``out`` (int64, zeroed by the caller)."""
    n = codes.shape[0]
    for r in range(n):
        cell = 0
        for i in range(cols.shape[0]):
            cell += np.int64(codes[r, cols[i]]) * strides[i]
        out[cell] += 1


@njit(**BORROW_JIT)
def all_marginal_counts(codes, m_cols, m_ptr, m_strides, m_offset, out):
    """``marginal_counts`` of every flat marginal into its slice of ``out`` (zeroed by the caller)."""
    for m in range(m_ptr.shape[0] - 1):
        lo, hi = m_ptr[m], m_ptr[m + 1]
        marginal_counts(codes, m_cols[lo:hi], m_strides[lo:hi], out[m_offset[m] : m_offset[m + 1]])


@njit(**BORROW_JIT)
def _cell(codes, r, m, m_cols, m_ptr, m_strides, m_offset):
    cell = m_offset[m]
    for i in range(m_ptr[m], m_ptr[m + 1]):
        cell += np.int64(codes[r, m_cols[i]]) * m_strides[i]
    return cell


@njit(**BORROW_JIT)
def _stride_of(c, m, m_cols, m_ptr, m_strides):
    for i in range(m_ptr[m], m_ptr[m + 1]):
        if m_cols[i] == c:
            return m_strides[i]
    return 0


@njit(**BORROW_JIT)
def move_gain(codes, r, c, v, m_cols, m_ptr, m_strides, m_offset, target, current, weight, c_ptr, c_marg):
    """Change of the weighted L1 error if record r's column c became v (negative: better)."""
    old = np.int64(codes[r, c])
    gain = 0.0
    if v == old:
        return gain
    for j in range(c_ptr[c], c_ptr[c + 1]):
        m = c_marg[j]
        a = _cell(codes, r, m, m_cols, m_ptr, m_strides, m_offset)
        b = a + (v - old) * _stride_of(c, m, m_cols, m_ptr, m_strides)
        ta, tb = target[a], target[b]
        ca, cb = current[a], current[b]
        change = abs(ca - 1 - ta) - abs(ca - ta) + abs(cb + 1 - tb) - abs(cb - tb)
        gain += weight[m] * change
    return gain


@njit(**BORROW_JIT)
def _apply(codes, r, c, v, m_cols, m_ptr, m_strides, m_offset, current, c_ptr, c_marg):
    old = np.int64(codes[r, c])
    for j in range(c_ptr[c], c_ptr[c + 1]):
        m = c_marg[j]
        a = _cell(codes, r, m, m_cols, m_ptr, m_strides, m_offset)
        current[a] -= 1
        current[a + (v - old) * _stride_of(c, m, m_cols, m_ptr, m_strides)] += 1
    codes[r, c] = v


@njit(**BORROW_JIT)
def best_move(
    codes,
    r,
    c,
    radix,
    m_cols,
    m_ptr,
    m_strides,
    m_offset,
    target,
    current,
    weight,
    c_ptr,
    c_marg,
    gains,
    rules,
):
    """The value v of column c that lowers record r's error most, and that change (``gains`` is scratch).

    Values that would complete a declared constraint (``rules``) are not considered.
    """
    old = np.int64(codes[r, c])
    removal = 0.0
    for v in range(radix[c]):
        gains[v] = 0.0
    for j in range(c_ptr[c], c_ptr[c + 1]):
        m = c_marg[j]
        a = _cell(codes, r, m, m_cols, m_ptr, m_strides, m_offset)
        stride = _stride_of(c, m, m_cols, m_ptr, m_strides)
        w = weight[m]
        removal += w * (abs(current[a] - 1 - target[a]) - abs(current[a] - target[a]))
        base = a - old * stride
        for v in range(radix[c]):
            if v != old:
                b = base + v * stride
                gains[v] += w * (abs(current[b] + 1 - target[b]) - abs(current[b] - target[b]))
    best, best_gain = old, 0.0
    for v in range(radix[c]):
        if v != old and removal + gains[v] < best_gain:
            if v > 0 and violates_with(codes[r], c, v, rules):
                continue
            best, best_gain = v, removal + gains[v]
    return best, best_gain


@njit(**JIT)
def local_search(
    codes,
    radix,
    m_cols,
    m_ptr,
    m_strides,
    m_offset,
    target,
    current,
    weight,
    c_ptr,
    c_marg,
    steps,
    state,
    rules,
):
    """``steps`` proposals (uniform record and column); returns how many changes were kept.

    ``state`` is the search's random state (:func:`.rng.new_state`), advanced in place: calls of a
    few proposals each, with the same state, make exactly the changes of one long call.

    A change that would complete a declared constraint (``rules``) is refused,
    so records that violate none keep violating none.

    ``current`` must hold the counts of ``codes`` (see :func:`all_marginal_counts`);
    both are updated in place. Half the proposals give the cell the value that
    lowers the weighted error most, the other half swap the column's values
    of two records; a change is kept only when it lowers the error.
    """
    n = codes.shape[0]
    n_cols = codes.shape[1]
    if n == 0:
        return 0
    gains = np.zeros(radix.max(), dtype=np.float64)
    kept = 0
    for _ in range(steps):
        c = np.int64(below(state, n_cols))
        if c_ptr[c + 1] == c_ptr[c] or radix[c] < 2:
            continue
        r = np.int64(below(state, n))
        if below(state, 2) == 1:
            # A swap of column c between two records: it keeps c's own 1-way counts, so records can move
            # toward a joint table even where every single change would first break a 1-way table.
            other = np.int64(below(state, n))
            v, w = np.int64(codes[r, c]), np.int64(codes[other, c])
            if v == w:
                continue
            args = (m_cols, m_ptr, m_strides, m_offset, target, current, weight, c_ptr, c_marg)
            first = move_gain(codes, r, c, w, *args)
            _apply(codes, r, c, w, m_cols, m_ptr, m_strides, m_offset, current, c_ptr, c_marg)
            second = move_gain(codes, other, c, v, *args)
            # Constraints are checked only for a swap that would be kept (most are not): cheaper, same result.
            if first + second < 0 and not (
                (w > 0 and violates_with(codes[r], c, w, rules))
                or (v > 0 and violates_with(codes[other], c, v, rules))
            ):
                _apply(codes, other, c, v, m_cols, m_ptr, m_strides, m_offset, current, c_ptr, c_marg)
                kept += 1
            else:
                _apply(codes, r, c, v, m_cols, m_ptr, m_strides, m_offset, current, c_ptr, c_marg)
            continue
        v, gain = best_move(
            codes,
            r,
            c,
            radix,
            m_cols,
            m_ptr,
            m_strides,
            m_offset,
            target,
            current,
            weight,
            c_ptr,
            c_marg,
            gains,
            rules,
        )
        if gain < 0:
            _apply(codes, r, c, v, m_cols, m_ptr, m_strides, m_offset, current, c_ptr, c_marg)
            kept += 1
    return kept


@njit(**JIT)
def repair_records(codes, rules, cumulative, starts, widths, seed):
    """Redraw, in records ``codes[r, :]`` that violate a declared constraint, the column of the
    constraint's last item from its cumulative 1-way row (``cumulative[starts[c]:starts[c] + widths[c]]``)
    among the allowed values, until the record violates none; returns how many records changed."""
    state = new_state(seed)
    changed = 0
    for r in range(codes.shape[0]):
        record = codes[r]
        if not violates(record, rules):
            continue
        changed += 1
        while violates(record, rules):
            for k in range(rules.item_ptr.shape[0] - 1):
                hit = True
                for i in range(rules.item_ptr[k], rules.item_ptr[k + 1]):
                    col = rules.item_col[i]
                    v = np.int64(record[col])
                    if not (0 < v < rules.item_len[i] and rules.mask[rules.item_off[i] + v] != 0):
                        hit = False
                        break
                if hit:
                    c = rules.item_col[rules.item_ptr[k + 1] - 1]
                    record[c] = draw_allowed(
                        record, c, cumulative, starts[c], widths[c], uniform(state), rules
                    )
                    break
    return changed
