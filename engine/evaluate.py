"""Utility and privacy metrics of a release against the sensitive data (SPEC §4).

A release is either synthetic microdata (counted with the same kernels as the
sensitive data) or a table of aggregates. Both sides become
:class:`~showcase.engine.aggregates.Aggregates` on the sensitive schema and are
joined on their combinations; every metric is a vectorised reduction over that
join, never a Python loop over combinations.

Definitions (per combination length and overall):

* preserved: combinations in both; % of the sensitive combinations.
* suppressed: in the sensitive data only; % of the sensitive combinations.
* fabricated: in the release only; % of the release's combinations.
* leakage: rare sensitive combinations (count < k) present in the release with
  a count < k; % of the rare sensitive combinations.
* mean absolute error: mean of |release − sensitive| over the union of both
  (a missing combination counts 0).
* mean proportional error: mean of |release − sensitive| / sensitive over the
  sensitive combinations.
* buckets of sensitive count: [1, k), [k, 2k), [2k, 4k), … with the same metrics.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .aggregates import NO_ATTRIBUTE, Aggregates, restrict_length
from .constraints import Constraint, violations
from .contingency import CountIndex, column_counts, marginal_from_counts
from .count import count_combinations, marginal_counts
from .encode import MISMATCH, EncodedTable, Schema
from .errors import InputError, NoRecords, ParameterError


@dataclass(frozen=True)
class Joined:
    """Counts of the union of two sets of combinations, aligned row by row."""

    length: np.ndarray
    sensitive: np.ndarray
    release: np.ndarray


def align(aggregates: Aggregates, schema: Schema) -> Aggregates:
    """Re-number a release's attribute ids onto ``schema`` (matched by column and value)."""
    if aggregates.schema is schema:
        return aggregates
    unknown = [c for c in aggregates.schema.columns if c not in schema.columns]
    if unknown:
        raise InputError(f"the release has unknown column(s): {', '.join(map(repr, unknown))}")
    remap = np.empty(aggregates.schema.n_attributes, dtype=np.int32)
    for c, name in enumerate(aggregates.schema.columns):
        target = schema.column_index(name)
        theirs = aggregates.schema.dictionaries[c].to_pylist()
        ours = {v: i for i, v in enumerate(schema.dictionaries[target].to_pylist())}
        missing = [v for v in theirs if v not in ours]
        if missing:
            raise InputError(
                f"the release has value(s) of column {name!r} absent from the sensitive data: "
                + ", ".join(map(repr, missing[:3]))
            )
        start = int(aggregates.schema.offsets[c])
        remap[start : start + len(theirs)] = [int(schema.offsets[target]) + ours[v] for v in theirs]
    attrs = np.where(
        aggregates.attrs == NO_ATTRIBUTE, np.iinfo(np.int32).max, remap[np.maximum(aggregates.attrs, 0)]
    )
    attrs = np.sort(attrs, axis=1)
    attrs[attrs == np.iinfo(np.int32).max] = NO_ATTRIBUTE
    from dataclasses import replace

    return replace(aggregates, schema=schema, attrs=attrs.astype(np.int32))


def combination_keys(attrs: np.ndarray, n_attributes: int) -> np.ndarray:
    """One int64 key per combination (rows of attribute ids padded with -1)."""
    base = n_attributes + 1
    length = attrs.shape[1]
    if base**length < 2**63:
        keys = np.zeros(attrs.shape[0], dtype=np.int64)
        for j in range(length):
            keys = keys * base + (attrs[:, j].astype(np.int64) + 1)
        return keys
    _, inverse = np.unique(attrs, axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


def check_release_length(release_length: int, length: int) -> None:
    """Refuse to evaluate combinations longer than the release holds, naming the length that fits."""
    if release_length < length:
        raise ParameterError(
            f"the release has combinations up to length {release_length}, "
            f"fewer than the requested {length}; give --length {release_length} or less"
        )


def join(sensitive: Aggregates, release: Aggregates) -> Joined:
    """Align ``release`` on ``sensitive``'s combinations (0 where absent)."""
    check_release_length(release.reporting_length, sensitive.reporting_length)
    release = align(release, sensitive.schema)
    width = sensitive.reporting_length
    keep = release.length <= width
    attrs = np.concatenate([sensitive.attrs, release.attrs[keep][:, :width]])
    keys = combination_keys(attrs, sensitive.schema.n_attributes)
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    n_s = len(sensitive)
    s = np.bincount(inverse[:n_s], weights=sensitive.count, minlength=len(unique))
    r = np.bincount(inverse[n_s:], weights=release.count[keep], minlength=len(unique))
    lengths = np.concatenate([sensitive.length, release.length[keep]])[first]
    return Joined(lengths.astype(np.uint8), s.astype(np.int64), r.astype(np.int64))


def _metrics(s: np.ndarray, r: np.ndarray, resolution: int) -> dict:
    in_s, in_r = s > 0, r > 0
    n_s, n_r = int(in_s.sum()), int(in_r.sum())
    preserved = int((in_s & in_r).sum())
    rare = in_s & (s < resolution)
    leaked = int((rare & in_r & (r < resolution)).sum())
    union = in_s | in_r
    error = np.abs(r - s)
    return {
        "sensitive_combinations": n_s,
        "release_combinations": n_r,
        "preserved": preserved,
        "preserved_pct": _pct(preserved, n_s),
        "suppressed": n_s - preserved,
        "suppressed_pct": _pct(n_s - preserved, n_s),
        "fabricated": n_r - preserved,
        "fabricated_pct": _pct(n_r - preserved, n_r),
        "rare_sensitive": int(rare.sum()),
        "leaked_rare": leaked,
        "leakage_pct": _pct(leaked, int(rare.sum())),
        "mean_absolute_error": float(error[union].mean()) if union.any() else 0.0,
        "mean_proportional_error": float((error[in_s] / s[in_s]).mean()) if n_s else 0.0,
    }


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 4) if whole else 0.0


def bucket_edges(resolution: int, largest: int) -> list[int]:
    """[1, k, 2k, 4k, …] up past ``largest``: lower bounds of the count buckets."""
    edges = [1, resolution] if resolution > 1 else [1]
    while edges[-1] <= largest:
        edges.append(edges[-1] * 2)
    return edges


def combination_metrics(joined: Joined, resolution: int, reporting_length: int) -> dict:
    """Preservation, leakage and error metrics by length, by count bucket and overall."""
    by_length = []
    for k in range(1, reporting_length + 1):
        mask = joined.length == k
        by_length.append({"length": k, **_metrics(joined.sensitive[mask], joined.release[mask], resolution)})
    largest = int(joined.sensitive.max()) if len(joined.sensitive) else 1
    edges = bucket_edges(resolution, largest)
    buckets = []
    for lo, hi in itertools.pairwise(edges):
        mask = (joined.sensitive >= lo) & (joined.sensitive < hi)
        if not mask.any():
            continue
        buckets.append(
            {
                "bucket": f"{lo}..{hi - 1}",
                "min": lo,
                "max": hi - 1,
                **_metrics(joined.sensitive[mask], joined.release[mask], resolution),
            }
        )
    return {
        "overall": _metrics(joined.sensitive, joined.release, resolution),
        "by_length": by_length,
        "by_count_bucket": buckets,
    }


def _marginal(target: EncodedTable | CountIndex, key_set: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The full contingency table of ``key_set``: from the records, or rebuilt from exact counts."""
    if isinstance(target, CountIndex):
        return marginal_from_counts(target, key_set)
    return marginal_counts(target, key_set)


def k_marginal_score(
    target: EncodedTable | CountIndex,
    release: EncodedTable,
    *,
    group: str | None = None,
    k: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """NIST k-marginal score (SDNist 2.x): 1000 means identical k-way distributions.

    ``target`` is the sensitive records, or a :class:`~.contingency.CountIndex`
    of their exact counts of up to k (+1 with a group) attributes.

    For every set of ``k`` columns other than ``group`` (each preceded by the
    group column when there is one), densities are counts / records with
    "missing" a category of its own; the score is
    ``(2 − mean over sets of Σ|target − release|) × 500``. ``progress(done, total)`` is told
    after each set.
    """
    if target.schema is not release.schema:
        raise ParameterError("k-marginal needs both tables encoded on one schema")
    columns = list(range(target.n_columns))
    prefix: tuple[int, ...] = ()
    if group is not None:
        g = target.schema.column_index(group)
        columns.remove(g)
        prefix = (g,)
    names = target.schema.columns
    marginal_sets = list(itertools.combinations(sorted(columns, key=lambda c: names[c]), k))
    if not marginal_sets:
        raise ParameterError(f"k-marginal needs at least {k} columns besides the group column")
    total = 0.0
    per_column = np.zeros(target.n_columns)
    for done, cols in enumerate(marginal_sets, 1):
        key_set = prefix + tuple(sorted(cols))
        tk, tc = _marginal(target, key_set)
        rk, rc = marginal_counts(release, key_set)
        keys, inverse = np.unique(np.concatenate([tk, rk]), return_inverse=True)
        diff = np.bincount(
            inverse,
            weights=np.concatenate([tc / target.n_rows, -rc / max(release.n_rows, 1)]),
            minlength=len(keys),
        )
        distance = float(np.abs(diff).sum())
        total += distance
        per_column[list(cols)] += distance
        if progress is not None:
            progress(done, len(marginal_sets))
    mean = total / len(marginal_sets)
    return {
        "score": (2.0 - mean) * 500.0,
        "k": k,
        "group": group,
        "marginals": len(marginal_sets),
        "by_column": _score_by_column(target.schema, columns, per_column, len(marginal_sets), k),
    }


def _score_by_column(
    schema: Schema, columns: list[int], distances: np.ndarray, n_sets: int, k: int
) -> list[dict]:
    """The k-marginal score of the sets holding each column, worst first.

    A multi-value column's indicators count as one column: its score is the
    mean over each of its indicators' sets.
    """
    n_columns = len(columns)
    per_set = math.comb(n_columns - 1, k - 1) if n_columns >= k else 0
    totals: dict[str, list[float]] = {}
    for c in columns:
        entry = totals.setdefault(schema.groups[c], [0.0, 0])
        entry[0] += float(distances[c])
        entry[1] += per_set
    rows = [
        {"column": name, "score": (2.0 - d / n) * 500.0, "sets": n} for name, (d, n) in totals.items() if n
    ]
    return sorted(rows, key=lambda row: (row["score"], row["column"]))


def column_distributions(
    target: EncodedTable | CountIndex, release: EncodedTable, resolution: int, top: int = 12
) -> list[dict]:
    """Per column, shares of each value in both tables, for charts.

    Values whose sensitive count is below ``resolution`` are merged into one
    "(rare values)" bar so that no rare value is shown; "(missing)" is a bar.
    """
    out = []
    values_of = target.schema.dictionaries
    for c, name in enumerate(target.schema.columns):
        radix = len(values_of[c]) + 1
        if isinstance(target, CountIndex):
            t = column_counts(target, c)
        else:
            t = np.bincount(target.codes[c], minlength=radix)[:radix]
        r = np.bincount(release.codes[c], minlength=radix)[:radix]
        labels = ["(missing)"] + values_of[c].to_pylist()
        rare = t < resolution
        rare[0] = False
        order = [i for i in np.argsort(-t, kind="stable") if not rare[i] and t[i] > 0]
        shown, rest = order[:top], order[top:]
        bars = [(labels[i], t[i], r[i]) for i in shown]
        other_t = int(t[rest].sum() + t[rare].sum())
        other_r = int(r[rest].sum() + r[rare].sum())
        if other_t or other_r:
            bars.append(("(other and rare values)", other_t, other_r))
        group = target.schema.groups[c]
        indicator = (
            {"group": group, "value": values_of[c][0].as_py()} if group != name and len(values_of[c]) else {}
        )
        out.append(
            {
                "column": name,
                **indicator,  # a multi-value column's value as a column: its chart is its column's
                "labels": [b[0] for b in bars],
                "sensitive_share": [float(b[1]) / target.n_rows for b in bars],
                "release_share": [float(b[2]) / max(release.n_rows, 1) for b in bars],
            }
        )
    return out


#: Column used as the k-marginal score's group when the data has it (SDNist's PUMA).
DEFAULT_GROUP = "PUMA"


@dataclass
class Release:
    """A release to evaluate: synthetic microdata (``table``) or aggregates."""

    path: Path
    kind: str  # "synthetic" or "aggregates"
    table: EncodedTable | None = None
    aggregates: Aggregates | None = None


def load_release(path: str | Path, sensitive: EncodedTable, preparation) -> Release:
    """Read a release and encode it on the sensitive schema."""
    from .aggregates_io import read_aggregates
    from .ingest import input_format
    from .prepare import load_onto
    from .release import find_release, is_showcase_output

    file, kind = find_release(path)
    if kind == "aggregates":
        return Release(file, kind, aggregates=read_aggregates(file)[0])
    if input_format(file) != "csv" or is_showcase_output(file.parent):
        # --delimiter is the sensitive input's: a showcase release writes commas (or Parquet).
        preparation = replace(preparation, delimiter=None)
    try:
        table = load_onto(file, sensitive, preparation)
    except NoRecords:  # a release may make no record at all (value_seeded at a large k): it scores so
        table = EncodedTable(sensitive.schema, np.zeros((sensitive.codes.shape[0], 0), sensitive.codes.dtype))
    except InputError as problem:
        columns = str(problem).removeprefix(MISMATCH)
        if columns == str(problem):
            raise
        raise InputError(
            f"{file}: the release's columns differ from the sensitive data's ({columns}); evaluate a "
            "release against the input it was made from, read with the same options (--use-columns, ...)"
        ) from None
    return Release(file, kind, table=table)


def evaluate_release(
    sensitive: EncodedTable | CountIndex,
    release: Release,
    *,
    length: int,
    resolution: int,
    group: str | None = None,
    marginal_k: int = 2,
    exact: Aggregates | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    constraints: Sequence[Constraint] = (),
) -> dict:
    """Every metric of SPEC §4 for one release, as a JSON-ready dictionary.

    ``exact`` may pass the sensitive data's exact counts when evaluating several releases.
    ``sensitive`` is the records, or a :class:`~.contingency.CountIndex` of their
    exact counts (a streamed or distributed count), with ``exact`` then required.
    With declared ``constraints`` (impossible combinations), the records of the
    synthetic data and, separately, of the sensitive data that violate one are counted.
    """
    report_progress = progress or (lambda stage, done, total: None)
    if exact is None and isinstance(sensitive, CountIndex):
        exact = restrict_length(sensitive.exact, length)
    elif exact is None:
        # The bar covers the synthetic records' count too, when there is one to make.
        halves = 2 if release.kind == "synthetic" else 1
        exact = count_combinations(
            sensitive, length, progress=lambda d, t: report_progress("count", d, halves * t)
        )
    if release.kind == "synthetic":
        released = count_combinations(
            release.table, length, progress=lambda d, t: report_progress("count", t + d, 2 * t)
        )
        released_rows = release.table.n_rows
    else:
        released = release.aggregates
        released_rows = released.record_count
    report_progress("evaluate", 0, 1)
    metrics = combination_metrics(join(exact, released), resolution, length)
    result = {
        "release_kind": release.kind,
        "reporting_length": length,
        "resolution": resolution,
        "sensitive_records": sensitive.n_rows,
        "release_records": int(released_rows),
        "record_expansion": released_rows / sensitive.n_rows,
        **metrics,
    }
    if release.kind == "synthetic":
        if group is None and DEFAULT_GROUP in sensitive.schema.columns:
            group = DEFAULT_GROUP
        columns_left = sensitive.n_columns - (group is not None)
        # Counts of k (+1 with a group) attributes are needed: exact aggregates from a file may be shorter.
        counted = sensitive.exact.reporting_length if isinstance(sensitive, CountIndex) else marginal_k + 1
        if columns_left >= marginal_k and counted >= marginal_k + (group is not None):
            # Its sets (C(columns, k) of them) are most of the metrics' time: the bar follows them.
            result["k_marginal"] = k_marginal_score(
                sensitive, release.table, group=group, k=marginal_k,
                progress=lambda done, total: report_progress("evaluate", done, total + 1),
            )  # fmt: skip
        result["column_distributions"] = column_distributions(sensitive, release.table, resolution)
        if constraints:
            result["constraints"] = {
                "declared": len(constraints),
                "synthetic_violating_records": int(violations(release.table, constraints).sum()),
                # Counted in batches, the sensitive records are not held: not counted then.
                "sensitive_violating_records": None
                if isinstance(sensitive, CountIndex)
                else int(violations(sensitive, constraints).sum()),
            }
    report_progress("evaluate", 1, 1)
    return result
