"""Fitted aggregate-seeded synthesis (issue 15 item 4): records fitted to k-anonymous counts.

The guarantee (no synthetic combination of length <= L outside the
aggregates) as a property over random small tables, k and L; the Numba
search against a slow reference in plain Python; determinism whatever the
thread count; the fit reads only the aggregates.
"""

from __future__ import annotations

import importlib
import itertools

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from showcase.engine import count_combinations, encode, k_anonymize
from showcase.engine.aggregates_io import read_tsv, write_tsv
from showcase.engine.config import threads
from showcase.engine.errors import ParameterError
from showcase.engine.randomness import make_rng
from showcase.engine.synthesize import synthesize
from showcase.engine.synthesize.aggregate_fit import fit_records, missing_combinations, targets
from showcase.engine.synthesize.aggregate_seeded import aggregate_seeded

from .naive_rng import Xoshiro
from .test_synthesize_aggregate import combination_set, small_tables, synthetic_combinations

# ---------------------------------------------------------------- slow reference


def reference_fit(
    aggregates,
    codes: np.ndarray,
    seed: int,
    sweeps: int,
    missing: bool = True,
    mix=(2, 1, 4),
    squared_share=0.5,
) -> np.ndarray:
    """The kernels' search in plain Python: dictionaries of combinations, the same stream and order.

    Ids: attribute a, or ``n_attributes + d`` for an empty column d (with ``missing``).
    ``mix`` weighs the proposals (uniform code with room, swap, best code) and the first
    ``squared_share`` of them lower the squared error, the rest the L1 error;
    ``mix=(1, 1, 0), squared_share=0`` is the search over the combination table.
    """
    schema = aggregates.schema
    n_attr = schema.n_attributes
    n_cols, n = codes.shape
    length = aggregates.reporting_length
    offsets = [int(o) for o in schema.offsets]
    radix = [len(d) + 1 for d in schema.dictionaries]
    released = aggregates.select(aggregates.count > 0)
    estimate = targets(released, released.record_count)
    combos = [tuple(int(a) for a in row[: int(m)]) for row, m in zip(released.attrs, released.length)]
    values = list(estimate)
    if missing:
        extra, counts = missing_combinations(released, estimate)
        combos += extra
        values += counts
    row_of = {combo: i for i, combo in enumerate(combos)}
    scale = n / max(released.record_count, 1)
    target = [v * scale for v in values]
    records = [[int(codes[c, r]) for c in range(n_cols)] for r in range(n)]

    def cell(c, v):
        if v > 0:
            return offsets[c] + v - 1
        return n_attr + c if missing else None

    def ids(r, skip):
        real = [offsets[c] + v - 1 for c, v in enumerate(records[r]) if c != skip and v > 0]
        empty = [n_attr + c for c, v in enumerate(records[r]) if c != skip and v == 0] if missing else []
        return real + empty

    current = [0] * len(combos)
    for r in range(n):
        own = ids(r, -1)
        for j in range(1, min(length, len(own)) + 1):
            for sub in itertools.combinations(own, j):
                if sub in row_of:
                    current[row_of[sub]] += 1

    def rows_with(others, x, strict):
        rows = []
        for j in range(min(length - 1, len(others)) + 1):
            for sub in itertools.combinations(others, j):
                combo = tuple(sorted((*sub, x)))
                if combo in row_of:
                    rows.append(row_of[combo])
                elif strict and combo[-1] < n_attr:
                    return None
        return rows

    squared = [False]

    def change(row, sign):
        before, after = current[row] - target[row], current[row] + sign - target[row]
        return after * after - before * before if squared[0] else abs(after) - abs(before)

    def delta(rows, sign):
        return sum(change(row, sign) for row in rows)

    def best_value(r, c):
        """The best code r's column c may take without emptying another column, kept if it helps."""
        v = records[r][c]
        others = ids(r, c)
        x = cell(c, v)
        leave = delta(rows_with(others, x, False), -1) if x is not None else 0.0
        best, best_gain = None, 0.0
        for w in range(radix[c]):
            if w == v:
                continue
            x = cell(c, w)
            rows = rows_with(others, x, True) if x is not None else []
            if rows is None:
                continue
            gain = delta(rows, 1)
            if best is None or gain < best_gain:
                best, best_gain = w, gain
        if best is not None and best_gain + leave < 0.0:
            set_(r, c, best)

    def move(r, c, v):
        """(allowed, gain, old rows, new rows) of record r's column c becoming v."""
        others = ids(r, c)
        new = []
        x = cell(c, v)
        if x is not None:
            new = rows_with(others, x, True)
            if new is None:
                return False, 0.0, [], []
        old = []
        x = cell(c, records[r][c])
        if x is not None:
            old = rows_with(others, x, False)
        return True, delta(old, -1) + delta(new, 1), old, new

    def apply(r, c, v, old, new):
        for row in old:
            current[row] -= 1
        for row in new:
            current[row] += 1
        records[r][c] = v

    def set_(r, c, v):
        ok, gain, old, new = move(r, c, v)
        if ok:
            apply(r, c, v, old, new)
        return ok, gain

    def conflicts(r, c, x):
        real = [(offsets[d] + v - 1, d) for d, v in enumerate(records[r]) if d != c and v > 0]
        if (x,) not in row_of:
            return None
        alive = list(range(len(real)))
        drop = []
        while True:
            bad = [0] * len(alive)
            worst = -1
            for j in range(1, min(length - 1, len(alive)) + 1):
                for sub in itertools.combinations(range(len(alive)), j):
                    combo = tuple(sorted((x, *(real[alive[i]][0] for i in sub))))
                    if combo not in row_of:
                        weight = 1 if j > 1 else n_cols**3
                        for i in sub:
                            bad[i] += weight
                            if worst < 0 or bad[i] > bad[worst]:
                                worst = i
            if worst < 0:
                return drop
            drop.append(real[alive[worst]][1])
            del alive[worst]

    def set_with_room(r, c, v):
        drop = []
        if v > 0:
            drop = conflicts(r, c, offsets[c] + v - 1)
            if drop is None:
                return False
        saved = [records[r][d] for d in drop]
        total = 0.0
        for d in drop:
            total += set_(r, d, 0)[1]
        old = records[r][c]
        ok, gain = set_(r, c, v)
        total += gain
        if ok and total < 0.0:
            return True
        if ok:
            set_(r, c, old)
        for d, value in zip(reversed(drop), reversed(saved)):
            set_(r, d, value)
        return False

    rng = Xoshiro(seed)
    steps = min(sweeps * n * n_cols, 200_000_000)
    for step in range(steps):
        squared[0] = step < int(steps * squared_share)
        c = rng.below(n_cols)
        r = rng.below(n)
        kind = rng.below(sum(mix))
        if kind >= mix[0] + mix[1]:
            best_value(r, c)
            continue
        if kind < mix[0]:
            v = rng.below(radix[c])
            if v != records[r][c]:
                set_with_room(r, c, v)
            continue
        o = rng.below(n)
        v, w = records[r][c], records[o][c]
        if v == w:
            continue
        ok, first, old_a, new_a = move(r, c, w)
        if not ok:
            continue
        apply(r, c, w, old_a, new_a)
        ok, second, old_b, new_b = move(o, c, v)
        if ok and first + second < 0.0:
            apply(o, c, v, old_b, new_b)
        else:
            apply(r, c, v, new_a, old_a)
    return np.array(records, dtype=codes.dtype).T.reshape(n_cols, n)


def error(aggregates, synthetic) -> float:
    """L1 distance of the records' counts from the released ones, over the released combinations."""
    counted = count_combinations(synthetic, aggregates.reporting_length)
    found = {
        tuple(int(a) for a in row[: int(m)]): int(c)
        for row, m, c in zip(counted.attrs, counted.length, counted.count)
    }
    goal = targets(aggregates, synthetic.n_rows)
    return float(
        sum(
            abs(found.get(tuple(int(a) for a in row[: int(m)]), 0) - t)
            for row, m, t in zip(aggregates.attrs, aggregates.length, goal)
        )
    )


# ---------------------------------------------------------------- the guarantee


@settings(max_examples=60, deadline=None)
@given(
    table=small_tables(),
    length=st.integers(1, 3),
    k=st.integers(1, 4),
    seed=st.integers(0, 2**32),
    sweeps=st.integers(1, 6),
    drop=st.integers(0, 2**16),
    by_table=st.booleans(),
)
def test_no_fitted_combination_is_absent_from_the_aggregates(table, length, k, seed, sweeps, drop, by_table):
    released = k_anonymize(count_combinations(table, length), k)
    # Drop some combinations at random too, so a sub-combination of a released one may be absent.
    keep = np.random.default_rng(drop).random(len(released)) < (0.7 if drop % 2 else 1.0)
    aggregates = released.select(keep)
    with pytest.MonkeyPatch.context() as patch:
        if by_table:  # the fit that wide real data takes: the combinations table, not the cells
            from showcase.engine.synthesize import aggregate_fit as fit_module

            patch.setattr(fit_module, "CELL_LIMIT", 0)
        synthetic = aggregate_seeded(aggregates, rng=make_rng(seed), fit_sweeps=sweeps)
    assert synthetic.schema is aggregates.schema
    assert synthetic.n_rows == aggregates.record_count
    assert synthetic_combinations(synthetic, length) <= combination_set(aggregates)


# ---------------------------------------------------------------- the kernel against the reference


@settings(max_examples=40, deadline=None)
@given(
    table=small_tables(),
    length=st.integers(1, 3),
    k=st.integers(1, 3),
    seed=st.integers(0, 2**63 - 1),
    sweeps=st.integers(1, 4),
    missing=st.booleans(),
)
def test_kernel_equals_the_slow_reference(table, length, k, seed, sweeps, missing):
    aggregates = k_anonymize(count_combinations(table, length), k)
    start = aggregate_seeded(aggregates, rng=make_rng(seed % 1000), fit_sweeps=0).codes
    got, _ = fit_records(aggregates, start, seed=np.uint64(seed), sweeps=sweeps, missing=missing)
    np.testing.assert_array_equal(got, reference_fit(aggregates, start, seed, sweeps, missing))


@pytest.mark.parametrize("chunk", [1, 7, 1 << 17])
def test_the_fit_in_runs_of_proposals_makes_the_records_of_one_run_and_reports_each(monkeypatch, chunk):
    """The fit calls its kernel on runs of ``FIT_CHUNK`` proposals, to report progress (and let
    Ctrl-C in) between them: the records are still the reference's, on the cells (whose error
    switches from squared to L1 inside a run) and on the combination table."""
    columns = {f"c{i}": [str(v) for v in np.random.default_rng(i).integers(0, 3 + i, 300)] for i in range(5)}
    aggregates = k_anonymize(count_combinations(encode(pa.table(columns)), 3), 3)
    start = aggregate_seeded(aggregates, rng=make_rng(5), fit_sweeps=0).codes
    module = importlib.import_module("showcase.engine.synthesize.aggregate_fit")
    monkeypatch.setattr(module, "FIT_CHUNK", chunk)
    total = 3 * start.shape[0] * start.shape[1]
    for path in ("cells", "table"):
        if path == "table":
            monkeypatch.setattr(module, "CELL_LIMIT", 0)
            monkeypatch.setattr(module, "PROPOSALS", (1, 1, 0))
            monkeypatch.setattr(module, "SQUARED_SHARE", 0.0)
        expected = reference_fit(aggregates, start, 17, 3, **({"mix": (1, 1, 0), "squared_share": 0.0}
                                                             if path == "table" else {}))  # fmt: skip
        told: list[tuple[int, int]] = []
        got, _ = fit_records(aggregates, start, seed=np.uint64(17), sweeps=3, progress=_collect(told))
        np.testing.assert_array_equal(got, expected, err_msg=path)
        assert told == [(min(total, stop), total) for stop in range(chunk, total + chunk, chunk)], path


def _collect(told: list):
    """A ``progress(done, total)`` that appends to ``told``."""
    return lambda done, total: told.append((done, total))


def test_reference_on_a_larger_table_with_every_lookup_path(monkeypatch):
    columns = {f"c{i}": [str(v) for v in np.random.default_rng(i).integers(0, 3 + i, 400)] for i in range(5)}
    aggregates = k_anonymize(count_combinations(encode(pa.table(columns)), 3), 3)
    start = aggregate_seeded(aggregates, rng=make_rng(5), fit_sweeps=0).codes
    module = importlib.import_module("showcase.engine.synthesize.aggregate_fit")
    cells, _ = fit_records(aggregates, start, seed=np.uint64(17), sweeps=3)
    np.testing.assert_array_equal(cells, reference_fit(aggregates, start, 17, 3))
    # The search over the combination table (uniform codes and swaps, L1 error), and the cells' with it.
    expected = reference_fit(aggregates, start, 17, 3, mix=(1, 1, 0), squared_share=0.0)
    monkeypatch.setattr(module, "PROPOSALS", (1, 1, 0))
    monkeypatch.setattr(module, "SQUARED_SHARE", 0.0)
    plain_cells, _ = fit_records(aggregates, start, seed=np.uint64(17), sweeps=3)
    monkeypatch.setattr(module, "CELL_LIMIT", 0)  # the combination table, by direct address
    dense, _ = fit_records(aggregates, start, seed=np.uint64(17), sweeps=3)
    monkeypatch.setattr(module, "DENSE_LIMIT", 0)  # the combination table, hashed
    hashed, _ = fit_records(aggregates, start, seed=np.uint64(17), sweeps=3)
    np.testing.assert_array_equal(plain_cells, expected)
    np.testing.assert_array_equal(dense, expected)
    np.testing.assert_array_equal(hashed, expected)
    assert not np.array_equal(cells, expected)


# ---------------------------------------------------------------- what the fit does


def test_the_fit_brings_the_counts_closer_and_keeps_the_record_count():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 3000)
    columns = {"a": a, "b": (a + rng.integers(0, 2, 3000)) % 5, "c": rng.integers(0, 3, 3000)}
    columns["d"] = (columns["b"] * 2 + rng.integers(0, 2, 3000)) % 6
    aggregates = k_anonymize(
        count_combinations(encode(pa.table({k: v.astype(str) for k, v in columns.items()})), 3), 10
    )
    plain = aggregate_seeded(aggregates, rng=make_rng(1), fit_sweeps=0)
    fitted = aggregate_seeded(aggregates, rng=make_rng(1), fit_sweeps=10)
    assert fitted.n_rows == plain.n_rows == aggregates.record_count
    assert error(aggregates, fitted) < 0.8 * error(aggregates, plain)
    assert synthetic_combinations(fitted, 3) <= combination_set(aggregates)


def test_missing_cells_are_estimated_by_inclusion_exclusion():
    table = encode(pa.table({"x": ["a", "a", "b", "", "", "a"], "y": ["u", "", "u", "u", "", "v"]}))
    exact = count_combinations(table, 2)
    combos, counts = missing_combinations(exact, exact.count.astype(np.float64))
    estimated = dict(zip(combos, counts))
    n_attr = exact.schema.n_attributes
    x_a = exact.schema.offsets[0] + exact.schema.dictionaries[0].to_pylist().index("a")
    # With nothing suppressed the estimates are the exact counts of empty cells.
    assert estimated[(n_attr + 0,)] == 2  # x empty
    assert estimated[(n_attr + 0, n_attr + 1)] == 1  # both empty
    assert estimated[(x_a, n_attr + 1)] == 1  # x = a, y empty


# ---------------------------------------------------------------- determinism and inputs


def test_same_seed_same_records_whatever_the_threads():
    columns = {f"c{i}": [str(v) for v in np.random.default_rng(i).integers(0, 4, 5000)] for i in range(6)}
    aggregates = k_anonymize(count_combinations(encode(pa.table(columns)), 3), 5)
    with threads(2):
        first = aggregate_seeded(aggregates, rng=make_rng(3), fit_sweeps=2).codes
    with threads(1):
        single = aggregate_seeded(aggregates, rng=make_rng(3), fit_sweeps=2).codes
    np.testing.assert_array_equal(first, single)
    assert not np.array_equal(first, aggregate_seeded(aggregates, rng=make_rng(4), fit_sweeps=2).codes)
    assert not np.array_equal(first, aggregate_seeded(aggregates, rng=make_rng(3), fit_sweeps=0).codes)


def test_reads_only_the_aggregates(tmp_path):
    columns = {f"c{i}": [str(v) for v in np.random.default_rng(i).integers(0, 3, 600)] for i in range(4)}
    released = k_anonymize(count_combinations(encode(pa.table(columns)), 3), 10)
    write_tsv(released, tmp_path / "aggregates.tsv")
    del columns, released  # the sensitive table is gone: only the file is read
    aggregates = read_tsv(tmp_path / "aggregates.tsv")
    synthetic = synthesize("aggregate_seeded", aggregates, rng=make_rng(2), fit_sweeps=3)
    assert synthetic.n_rows == aggregates.record_count
    assert synthetic_combinations(synthetic, 3) <= combination_set(aggregates)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3", 10**6])
def test_bad_fit_sweeps(bad):
    table = encode(pa.table({"a": ["x", "y"] * 10}))
    with pytest.raises(ParameterError, match="fit_sweeps"):
        aggregate_seeded(count_combinations(table, 1), rng=make_rng(0), fit_sweeps=bad)


def test_command_line_option_and_metadata(tmp_path, capsys):
    from .helpers import run

    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 800)
    rows = ["a,b,c"] + [
        f"{x},{(x + y) % 5},{z}" for x, y, z in zip(a, rng.integers(0, 2, 800), rng.integers(0, 3, 800))
    ]
    (tmp_path / "in.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    code, _, err = run(capsys, "synthesize", tmp_path / "in.csv", "--mode", "aggregate_seeded", "-k", "5",
                       "-l", "3", "--fit-sweeps", "2", "-o", out, "--seed", "1", "--no-progress")  # fmt: skip
    assert code == 0, err
    import json

    meta = json.loads((out / "metadata.json").read_text())
    assert meta["synthesis"]["parameters"]["fit_sweeps"] == 2
    code, _, err = run(capsys, "synthesize", tmp_path / "in.csv", "--mode", "row_seeded", "-k", "5",
                       "--fit-sweeps", "2", "-o", tmp_path / "refused", "--no-progress")  # fmt: skip
    assert code == 2 and "fit-sweeps" in err
    assert not (tmp_path / "refused").exists()


@pytest.mark.parametrize("cells", [True, False])
def test_the_fit_never_completes_a_declared_constraint(monkeypatch, cells):
    """Released counts put 40 % of the records on a declared impossible pair: the fit never goes there."""
    from showcase.engine.constraints import Constraint, violations
    from showcase.engine.encode import EncodedTable

    if not cells:  # the search over the combination table, then the last repair
        monkeypatch.setattr(
            importlib.import_module("showcase.engine.synthesize.aggregate_fit"), "CELL_LIMIT", 0
        )
    rng = np.random.default_rng(0)
    age = np.where(rng.random(3000) < 0.6, "child", "adult")
    marital = np.where((age == "child") & (rng.random(3000) < 0.7), "married", "never")
    extra = rng.integers(0, 3, 3000).astype(str)
    aggregates = k_anonymize(
        count_combinations(encode(pa.table({"age": age, "marital": marital, "x": extra})), 3), 5
    )
    child = [Constraint((("age", ("child",)), ("marital", ("married",))))]
    start = aggregate_seeded(aggregates, rng=make_rng(1), constraints=child, fit_sweeps=0)
    assert not violations(start, child).any()
    free, _ = fit_records(aggregates, start.codes, seed=np.uint64(3), sweeps=10)
    assert violations(EncodedTable(start.schema, free), child).sum() > 300  # the counts do pull there
    kept, _ = fit_records(aggregates, start.codes, seed=np.uint64(3), sweeps=10, constraints=child)
    fitted = EncodedTable(start.schema, kept)
    assert fitted.n_rows == aggregates.record_count
    assert not violations(fitted, child).any()
    assert synthetic_combinations(fitted, 3) <= combination_set(aggregates)


def test_aggregate_seeded_shows_its_fit_on_the_same_bar(monkeypatch):
    """The bar of aggregate_seeded stood at 100 % once the records were built, while the fit
    (nearly all the time) ran on for minutes. Now records and fit share one bar, each in
    proportion to its work, and the fit moves it a run of proposals at a time."""
    columns = {f"c{i}": [str(v) for v in np.random.default_rng(i).integers(0, 3 + i, 300)] for i in range(5)}
    aggregates = k_anonymize(count_combinations(encode(pa.table(columns)), 3), 3)
    module = importlib.import_module("showcase.engine.synthesize.aggregate_fit")
    monkeypatch.setattr(module, "FIT_CHUNK", 100)
    told: list[tuple[int, int]] = []
    records = aggregate_seeded(aggregates, rng=make_rng(5), fit_sweeps=2, progress=_collect(told))
    done = [d for d, _ in told]
    totals = {t for _, t in told}
    assert len(totals) == 1 and done == sorted(done) and done[-1] == totals.pop()
    fit = 2 * records.n_rows * records.n_columns
    assert len({d for d in done if d > done[-1] - fit}) >= fit // 100, "the fit does not move the bar"


@pytest.mark.parametrize("n_threads", [1, 2])
def test_records_holding_a_combination_the_aggregates_lack_are_refused_with_their_count(n_threads):
    """The fit starts from records inside the aggregates; records that are not are counted and refused."""
    from showcase.engine.errors import InputError

    rows = [("a1", "b1", "c1")] * 5 + [("a2", "b2", "c1")] * 5 + [("a1", "b2", "c2")]
    table = encode(pa.table({name: list(column) for name, column in zip("ABC", zip(*rows))}))
    aggregates = k_anonymize(count_combinations(table, 2), 2)  # (a1, b2) is held once: not released
    outside = table.codes[:, -1:].copy()
    outside[2] = table.codes[2, 0]  # (a1, b2, c1): only its pair (a1, b2) is absent
    codes = np.concatenate([table.codes[:, :10], outside, outside, outside], axis=1)
    with threads(n_threads), pytest.raises(InputError, match=r"^3 combination\(s\) of the records to fit"):
        fit_records(aggregates, codes, seed=np.uint64(1), sweeps=1)
    inside = np.ascontiguousarray(table.codes[:, :10])
    assert fit_records(aggregates, inside, seed=np.uint64(1), sweeps=1)[0].shape == (3, 10)
