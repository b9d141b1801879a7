"""The explorer's selection queries over a release's synthetic records and aggregates.

A selection is ``{column: [values]}``: AND across columns, OR within one. The
explorer's columns are the schema's groups, so a multi-value column is one
column whose values are its indicators (a record "has" value ``v`` when it
holds ``v``; several selected values: it holds any of them).

:class:`RecordsIndex` answers, per column, the count of each of its values
among the records matching the OTHER columns' selections (the bars of that
column), from per-value row bitsets (:mod:`..kernels.selection`).
:class:`AggregatesIndex` answers the released count of a combination from a
hash table of packed combination keys (:mod:`..kernels.keys`).
:func:`open_release` reads only a release's own files: metadata.json, the
aggregates and the synthetic records.

Schemas. The records are put on the aggregates' schema EXTENDED by the values
the records hold and the aggregates never report (suppressed as rare, or
never selected under DP): those values must still be countable in the
records' bars. The extension keeps every column of the aggregates, in order,
each with the sorted union of both sides' values, and adds the indicator
columns of multi-value values that only the records hold, in value order
among their column's indicators. The aggregates keep their own schema;
both indexes speak in (column, value) strings, never in ids of the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..aggregates import Aggregates
from ..encode import EncodedTable, Schema, code_dtype
from ..errors import InputError, ParameterError
from ..kernels import keys as key_kernels
from ..kernels import selection as kernels
from ..release import AGGREGATES_PARQUET, AGGREGATES_TSV, METADATA, SYNTHETIC_CSV, SYNTHETIC_PARQUET

#: The prefix of linked (perpetrator) columns when the metadata names none.
DEFAULT_LINK_PREFIX = "perp_"
PERPETRATOR = "perpetrator"
VICTIM = "victim"
#: Multiplier of sigma for a 95 % two-sided interval of a Gaussian.
Z95 = 1.96

Selection = dict[str, list[str]]


@dataclass
class ExploreColumn:
    """One column of the explorer: a schema column, or a multi-value column (its indicators)."""

    name: str
    values: list[str]
    multi_value: bool
    side: str = ""


def explore_columns(schema: Schema, link_prefixes: tuple[str, ...] = ()) -> tuple[list[ExploreColumn], list]:
    """The explorer columns of ``schema`` and, aligned with each one's values, their attribute ids.

    ``link_prefixes`` (the release's linked tables) set each column's side:
    perpetrator for a prefixed name, else victim; no prefixes: no side.
    """
    groups = schema.groups
    multi = {name for name, _ in schema.multi_value}
    offsets = schema.offsets
    order: list[str] = []
    values: dict[str, list[str]] = {}
    ids: dict[str, list[int]] = {}
    for c, group in enumerate(groups):
        if group not in values:
            order.append(group)
            values[group], ids[group] = [], []
        dictionary = schema.dictionaries[c].cast(pa.string()).to_pylist()
        values[group] += dictionary
        ids[group] += list(range(int(offsets[c]), int(offsets[c]) + len(dictionary)))
    columns = []
    for name in order:
        if link_prefixes:
            side = PERPETRATOR if any(name.startswith(p) for p in link_prefixes) else VICTIM
        else:
            side = ""
        columns.append(ExploreColumn(name, values[name], name in multi, side))
    return columns, [np.asarray(ids[name], dtype=np.int32) for name in order]


class _Lookup:
    """(explorer column, value) → attribute id, and ParameterErrors naming what is unknown."""

    def __init__(self, columns: list[ExploreColumn], ids: list[np.ndarray]) -> None:
        self.columns = columns
        self.position = {c.name: i for i, c in enumerate(columns)}
        self.ids = ids
        self.value_ids = [dict(zip(c.values, i.tolist())) for c, i in zip(columns, ids)]

    def column(self, name: object) -> int:
        if not isinstance(name, str) or name not in self.position:
            raise ParameterError(f"unknown column {name!r} in the selection")
        return self.position[name]

    def check(self, selection: Selection) -> dict[int, list[str]]:
        """The selection by column position, its empty entries dropped; unknown names refused."""
        if not isinstance(selection, dict):
            raise ParameterError("a selection maps column names to lists of values")
        out = {}
        for name, chosen in selection.items():
            i = self.column(name)
            if isinstance(chosen, str) or not isinstance(chosen, (list, tuple)):
                raise ParameterError(f"column {name!r}: the selection must be a list of values")
            for value in chosen:
                if not isinstance(value, str) or value not in self.value_ids[i]:
                    raise ParameterError(f"unknown value {value!r} of column {name!r} in the selection")
            if chosen:
                out[i] = list(dict.fromkeys(chosen))
        return out


class RecordsIndex:
    """Per-value row bitsets of a table of records, answering the explorer's bar counts."""

    def __init__(self, table: EncodedTable, link_prefixes: tuple[str, ...] = ()) -> None:
        self.table = table
        columns, ids = explore_columns(table.schema, link_prefixes)
        self._lookup = _Lookup(columns, ids)
        offsets = np.ascontiguousarray(table.schema.offsets, dtype=np.int64)
        self.bits = kernels.build_bitsets(
            np.ascontiguousarray(table.codes), offsets, table.schema.n_attributes
        )
        self._group = np.full(table.schema.n_attributes, -1, dtype=np.int64)
        for i, group_ids in enumerate(ids):
            self._group[group_ids] = i

    @classmethod
    def from_table(cls, table: EncodedTable, link_prefixes: tuple[str, ...] = ()) -> RecordsIndex:
        return cls(table, link_prefixes)

    @property
    def columns(self) -> list[ExploreColumn]:
        return self._lookup.columns

    @property
    def n_rows(self) -> int:
        return self.table.n_rows

    @property
    def nbytes(self) -> int:
        """Memory of the bitsets (the codes are the table's)."""
        return int(self.bits.nbytes)

    def _masks(self, selection: Selection) -> tuple[list[int], np.ndarray]:
        """The selected columns' positions and :func:`~..kernels.selection.leave_one_out` of their masks."""
        chosen = self._lookup.check(selection)
        selected = sorted(chosen)
        starts = np.zeros(len(selected) + 1, dtype=np.int64)
        parts = []
        for j, i in enumerate(selected):
            ids = self._lookup.value_ids[i]
            parts.append(np.array([ids[v] for v in chosen[i]], dtype=np.int64))
            starts[j + 1] = starts[j] + len(parts[-1])
        flat = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        masks = kernels.column_masks(self.bits, starts, flat)
        return selected, kernels.leave_one_out(masks)

    def counts(self, selection: Selection) -> dict[str, list[int]]:
        """Per explorer column, each value's count (as ``columns[i].values``) under the others' selection."""
        selected, masks = self._masks(selection)
        mask_of_group = np.zeros(len(self.columns), dtype=np.int64)
        for j, i in enumerate(selected):
            mask_of_group[i] = j + 1
        which = np.where(self._group >= 0, mask_of_group[np.maximum(self._group, 0)], -1)
        per_attribute = kernels.masked_counts(self.bits, masks, which)
        return {c.name: per_attribute[ids].tolist() for c, ids in zip(self.columns, self._lookup.ids)}

    def total(self, selection: Selection) -> int:
        """Records matching the whole selection."""
        _, masks = self._masks(selection)
        return int(kernels.count_bits(masks[0], self.n_rows))

    def query(self, selection: Selection) -> tuple[dict[str, list[int]], int]:
        """``(counts(selection), total(selection))`` with the masks computed once."""
        selected, masks = self._masks(selection)
        mask_of_group = np.zeros(len(self.columns), dtype=np.int64)
        for j, i in enumerate(selected):
            mask_of_group[i] = j + 1
        which = np.where(self._group >= 0, mask_of_group[np.maximum(self._group, 0)], -1)
        per_attribute = kernels.masked_counts(self.bits, masks, which)
        counts = {c.name: per_attribute[ids].tolist() for c, ids in zip(self.columns, self._lookup.ids)}
        return counts, int(kernels.count_bits(masks[0], self.n_rows))


class AggregatesIndex:
    """Released counts of combinations, looked up by (explorer column, value) pairs.

    ``columns`` (default: the aggregates' own) are the columns and values
    :meth:`counts_for` answers for, in their order: pass the records' so that
    the answers line up with :meth:`RecordsIndex.counts`. Values the
    aggregates never report are answered None.
    """

    def __init__(self, aggregates: Aggregates, columns: list[ExploreColumn] | None = None) -> None:
        self.aggregates = aggregates
        own, ids = explore_columns(aggregates.schema)
        self._own = _Lookup(own, ids)
        self.columns = columns if columns is not None else own
        self._answers = _Lookup(self.columns, [np.zeros(len(c.values), np.int32) for c in self.columns])
        length = aggregates.length.astype(np.int64)
        self.table, _ = key_kernels.combination_table(
            np.ascontiguousarray(aggregates.attrs), length, aggregates.schema.n_attributes,
            aggregates.reporting_length,
        )  # fmt: skip

    @property
    def reporting_length(self) -> int:
        return int(self.aggregates.reporting_length)

    def _id(self, column: str, value: str) -> int | None:
        """The aggregates' attribute id of (column, value), None when they never report it."""
        i = self._own.position.get(column)
        return None if i is None else self._own.value_ids[i].get(value)

    def _known(self, column: object) -> None:
        if not isinstance(column, str) or (
            column not in self._own.position and column not in self._answers.position
        ):
            raise ParameterError(f"unknown column {column!r}")

    def _rows(self, combos: list[list[int]]) -> np.ndarray:
        """Row of each combination of attribute ids (any order) in the aggregates, or -1."""
        length = self.reporting_length
        attrs = np.full((len(combos), max(length, 1)), -1, dtype=np.int32)
        lengths = np.zeros(len(combos), dtype=np.int64)
        fits = np.ones(len(combos), dtype=bool)
        for r, ids in enumerate(combos):
            ids = sorted(set(ids))
            if len(ids) > length:
                fits[r] = False
                continue
            attrs[r, : len(ids)] = ids
            lengths[r] = len(ids)
        rows = key_kernels.find_rows(self.table, attrs, lengths)
        return np.where(fits, rows, -1)

    def count(self, attributes: list[tuple[str, str]]) -> int | None:
        """The released count of the combination of these (column, value) pairs; None: not reported.

        No pairs: the released record count.
        """
        ids = []
        for column, value in attributes:
            self._known(column)
            a = self._id(column, value)
            if a is None:
                return None
            ids.append(a)
        if not ids:
            return int(self.aggregates.record_count)
        if len(set(ids)) > self.reporting_length:
            return None
        row = int(self._rows([ids])[0])
        return None if row < 0 else int(self.aggregates.count[row])

    def counts_for(self, selection: Selection, column: str) -> list[int | None]:
        """Per value ``v`` of ``column``: the released count of {v} and the other columns' selection.

        Defined (else all None) when every other selected column has exactly
        one value and the combination is no longer than the reporting length.
        """
        target = self._answers.column(column)
        chosen = self._answers.check(selection)
        values = self.columns[target].values
        nothing: list[int | None] = [None] * len(values)
        others = {i: v for i, v in chosen.items() if i != target}
        if any(len(v) != 1 for v in others.values()) or 1 + len(others) > self.reporting_length:
            return nothing
        fixed = []
        for i, (value,) in others.items():
            a = self._id(self.columns[i].name, value)
            if a is None:
                return nothing
            fixed.append(a)
        own = [self._id(column, v) for v in values]
        wanted = [r for r, a in enumerate(own) if a is not None]
        rows = self._rows([[*fixed, own[r]] for r in wanted]) if wanted else np.zeros(0, np.int64)
        out = list(nothing)
        for r, row in zip(wanted, rows.tolist()):
            if row >= 0:
                out[r] = int(self.aggregates.count[row])
        return out


def noise_interval(metadata: dict, length: int, count: int) -> tuple[float, float]:
    """Where the true count of a released combination of ``length`` attributes lies.

    DP: the 95 % interval ``count ± 1.96 σ_k sqrt(Δ_k)`` (``privacy.sigmas`` and
    ``privacy.sensitivity_bounds`` of length ``k``). k-anonymity: counts are
    rounded down to a multiple of k, so ``[count, count + k - 1]``. Else exact.
    """
    privacy = metadata.get("privacy") or {}
    facts = metadata.get("aggregates") or {}
    if privacy.get("mechanism") == "differential-privacy":
        sigmas, bounds = privacy.get("sigmas") or [], privacy.get("sensitivity_bounds") or []
        if (
            isinstance(length, bool)
            or not isinstance(length, int)
            or not 1 <= length <= min(len(sigmas), len(bounds))
        ):
            raise ParameterError(f"no noise scale for combinations of length {length!r} in this release")
        half = Z95 * float(sigmas[length - 1]) * float(bounds[length - 1]) ** 0.5
        return float(count) - half, float(count) + half
    k = facts.get("resolution")
    if (facts.get("protection") == "k-anonymity" or privacy.get("mechanism") == "k-anonymity") and k:
        return float(count), float(count + int(k) - 1)
    return float(count), float(count)


def link_prefixes(metadata: dict) -> tuple[str, ...]:
    """The prefixes of the release's linked tables' columns (none: not a linked release)."""
    links = (metadata.get("preparation") or {}).get("links") or []
    return tuple(str(link.get("prefix") or DEFAULT_LINK_PREFIX) for link in links if isinstance(link, dict))


def _own_file(folder: Path, name: str) -> Path | None:
    """``folder/name`` when it is a plain file (a symbolic link is never followed: it may lead out)."""
    path = folder / name
    return path if path.is_file() and not path.is_symlink() else None


def read_records(path: Path, multi_value: tuple[tuple[str, str], ...]) -> EncodedTable:
    """A release's records, each multi-value column split into its indicators (joined or 0/1 files).

    Every non-empty cell of a release's records is a value (no null markers,
    ``0`` included), since the files write no attribute as an empty cell.
    """
    from ..ingest import read_table
    from ..prepare import Preparation, load

    raw = read_table(path)
    present = tuple(pair for pair in multi_value if pair[0] in raw.column_names)
    prepared = Preparation(multi_value=present, sensitive_zeros="all", max_cardinality=None)
    own = load(raw, prepared, fingerprint=False)
    names = {name for name, _ in multi_value}
    dictionaries = list(own.schema.dictionaries)
    for c, column in enumerate(own.schema.columns):  # 0/1 indicator columns: COL:value holding 1
        group = column.split(":", 1)[0]
        if ":" in column and group in names and group not in raw.column_names:
            if dictionaries[c].to_pylist() not in ([], ["1"]):
                raise InputError(f"{path.name}: indicator column {column!r} holds values other than 1")
            dictionaries[c] = pa.array([column[len(group) + 1 :]] * len(dictionaries[c]), pa.string())
    schema = Schema(own.schema.columns, tuple(dictionaries), multi_value)
    return EncodedTable(schema, own.codes)


def extend_onto(records: EncodedTable, base: Schema) -> EncodedTable:
    """``records`` on ``base`` extended by their values it lacks (see the module's docs)."""
    own = records.schema
    own_index = {name: c for c, name in enumerate(own.columns)}
    groups = {name for name, _ in base.multi_value}
    columns: list[str] = list(base.columns)
    dictionaries: list[pa.Array] = [d.cast(pa.string()) for d in base.dictionaries]
    known = set(columns)
    for c, name in enumerate(own.columns):  # indicators only the records hold, in value order
        if name in known:
            continue
        group = own.groups[c]
        value = own.dictionaries[c].cast(pa.string()).to_pylist()
        if group in groups and group != name:
            place = [i for i, g in enumerate(base.groups) if g == group and columns[i] != group]
            mine = [i for i, n in enumerate(columns) if n.startswith(group + ":")]
            after = [i for i in mine if columns[i].encode() > name.encode()]
            at = (
                after[0]
                if after
                else (max(mine) + 1 if mine else (max(place) + 1 if place else len(columns)))
            )
        else:
            at = len(columns)
        columns.insert(at, name)
        dictionaries.insert(at, pa.array(value, pa.string()))
        known.add(name)
    for i, name in enumerate(columns):
        c = own_index.get(name)
        if c is None:
            continue
        union = set(dictionaries[i].to_pylist()) | set(own.dictionaries[c].cast(pa.string()).to_pylist())
        dictionaries[i] = pa.array(sorted(union, key=str.encode), pa.string())
    multi = tuple(base.multi_value) + tuple(p for p in own.multi_value if p[0] not in groups)
    schema = Schema(tuple(columns), tuple(dictionaries), multi)
    codes = np.zeros(
        (len(columns), records.n_rows), dtype=code_dtype(max((len(d) for d in dictionaries), default=0))
    )
    for i, name in enumerate(columns):
        c = own_index.get(name)
        if c is None:
            continue
        position = pc.index_in(own.dictionaries[c].cast(pa.string()), value_set=dictionaries[i])
        remap = np.concatenate([[0], position.to_numpy(zero_copy_only=False).astype(np.int64) + 1])
        np.take(remap.astype(codes.dtype), records.codes[c], out=codes[i])
    return EncodedTable(schema, codes)


def open_release(folder: str | Path) -> tuple[RecordsIndex | None, AggregatesIndex | None, dict]:
    """The records index, the aggregates index and the metadata of release ``folder``.

    Reads ``metadata.json``, ``aggregates.parquet`` (else ``aggregates.tsv``)
    and ``synthetic.parquet`` (else ``synthetic.csv``), and nothing else the
    folder holds; a file that is a symbolic link is not read. The records go
    on the aggregates' schema, extended by the values only they hold.
    """
    from ..aggregates_io import read_aggregates

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a release directory")
    meta_path = _own_file(folder, METADATA)
    metadata: dict = {}
    if meta_path is not None:
        try:
            metadata = json.loads(meta_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError(f"{meta_path}: not a readable metadata.json") from None
        if not isinstance(metadata, dict):
            raise InputError(f"{meta_path}: not a release's metadata")
    aggregates = None
    for name in (AGGREGATES_PARQUET, AGGREGATES_TSV):
        path = _own_file(folder, name)
        if path is not None:
            aggregates, _ = read_aggregates(path)
            break
    multi = tuple(aggregates.schema.multi_value) if aggregates is not None else ()
    if not multi:
        facts = metadata.get("aggregates") or {}
        multi = tuple(tuple(p) for p in facts.get("multi_value") or [])
        if not multi:
            declared = (metadata.get("preparation") or {}).get("multi_value") or {}
            multi = tuple((str(k), str(v)) for k, v in dict(declared).items())
    prefixes = link_prefixes(metadata)
    records = None
    for name in (SYNTHETIC_PARQUET, SYNTHETIC_CSV):
        path = _own_file(folder, name)
        if path is not None:
            table = read_records(path, multi)
            if aggregates is not None:
                table = extend_onto(table, aggregates.schema)
            records = RecordsIndex(table, prefixes)
            break
    if records is None and aggregates is None:
        raise InputError(f"{folder}: no synthetic records and no aggregates to explore")
    index = (
        AggregatesIndex(aggregates, records.columns if records is not None else None) if aggregates else None
    )
    return records, index, metadata
