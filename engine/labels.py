"""Text form of attributes, ``COLUMN:value``, shared by the TSV and Parquet outputs.

Attributes are written ``column:value`` and combinations join them with ``;``
(the Synthetic Data Showcase convention). So that any column name or value
survives a round trip, a backslash escapes ``\\``, ``;``, tab, CR and LF in
both parts, and ``:`` in column names; ordinary data needs no escaping and
reads exactly like SDS output.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .encode import Schema
from .errors import InputError

_ESCAPES = [("\\", "\\\\"), (";", "\\;"), ("\t", "\\t"), ("\r", "\\r"), ("\n", "\\n")]
_UNESCAPE = {"\\": "\\", ";": ";", "t": "\t", "r": "\r", "n": "\n", ":": ":"}


def escape_values(values: pa.Array) -> pa.Array:
    """Escape an array of values for use in a label."""
    for plain, escaped in _ESCAPES:
        values = pc.replace_substring(values, plain, escaped)
    return values


def escape_column(name: str) -> str:
    """Escape a column name for use in a label."""
    for plain, escaped in _ESCAPES:
        name = name.replace(plain, escaped)
    return name.replace(":", "\\:")


def attribute_labels(schema: Schema) -> pa.Array:
    """``column:value`` label of every attribute id of ``schema``."""
    prefixes = [
        pa.array(np.full(len(d), escape_column(name) + ":", dtype=object), pa.string())
        for name, d in zip(schema.groups, schema.dictionaries)
    ]
    if not prefixes:
        return pa.array([], pa.string())
    return pc.binary_join_element_wise(
        pa.concat_arrays(prefixes), escape_values(schema.attribute_values()), ""
    )


def parse_label(label: str) -> tuple[str, str]:
    """Split an escaped ``column:value`` label into its unescaped parts."""
    parts: list[list[str]] = [[]]
    i = 0
    while i < len(label):
        ch = label[i]
        if ch == "\\" and i + 1 < len(label) and label[i + 1] in _UNESCAPE:
            parts[-1].append(_UNESCAPE[label[i + 1]])
            i += 2
            continue
        if ch == ":" and len(parts) == 1:
            parts.append([])
        else:
            parts[-1].append(ch)
        i += 1
    if len(parts) != 2 or not parts[0]:
        raise InputError(f"malformed attribute {label!r}: expected COLUMN:value")
    return "".join(parts[0]), "".join(parts[1])


def schema_from_labels(
    labels: list[str],
    combos: np.ndarray,
    columns: list[str] | None,
    multi_value: list[tuple[str, str]] | None = None,
) -> tuple[Schema, np.ndarray]:
    """Schema and label→attribute-id map for a set of labels used by ``combos``.

    ``combos`` holds label indices per combination (-1 = none); it is used to
    infer the column order when ``columns`` is not known (each combination
    lists its columns in input order), and the multi-value columns when
    ``multi_value`` is not known (a column twice in one combination; ``;``
    then joins its values).
    """
    parsed = [parse_label(label) for label in labels]
    if multi_value is None:
        multi_value = [(name, ";") for name in _repeated_columns(parsed, combos)]
    groups = {name for name, _ in multi_value}
    parsed_columns = [(f"{name}:{value}" if name in groups else name, value) for name, value in parsed]
    names_seen = list(dict.fromkeys(name for name, _ in parsed_columns))
    if columns is None:
        columns = _infer_column_order(names_seen, parsed_columns, combos)
    else:
        unknown = [n for n in names_seen if n not in set(columns)]
        if unknown:
            raise InputError(f"attributes of unknown column(s): {', '.join(map(repr, unknown))}")
    position = {name: i for i, name in enumerate(columns)}
    per_column: list[list[str]] = [[] for _ in columns]
    for name, value in parsed_columns:
        per_column[position[name]].append(value)
    dictionaries = []
    for values in per_column:
        array = pa.array(sorted(set(values), key=lambda v: v.encode("utf-8")), pa.string())
        dictionaries.append(array)
    schema = Schema(tuple(columns), tuple(dictionaries), tuple((n, d) for n, d in multi_value))
    lookup = {}
    for c, d in enumerate(dictionaries):
        for v, value in enumerate(d.to_pylist()):
            lookup[(columns[c], value)] = int(schema.offsets[c]) + v
    label_to_id = np.array([lookup[p] for p in parsed_columns], dtype=np.int32)
    return schema, label_to_id


def _repeated_columns(parsed: list[tuple[str, str]], combos: np.ndarray) -> list[str]:
    """Columns that some combination names twice: multi-value columns, in first-seen order."""
    names = list(dict.fromkeys(name for name, _ in parsed))
    if not len(combos) or combos.shape[1] < 2:
        return []
    index = {n: i for i, n in enumerate(names)}
    column_of = np.array([index[n] for n, _ in parsed] + [-1], dtype=np.int64)
    columns = column_of[np.where(combos >= 0, combos, len(parsed))]
    ordered = np.sort(columns, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    found = set(ordered[:, 1:][repeated].tolist())
    return [n for i, n in enumerate(names) if i in found]


def _infer_column_order(names: list[str], parsed: list[tuple[str, str]], combos: np.ndarray) -> list[str]:
    """Order columns so that every combination lists them ascending; ties by first sight."""
    index = {n: i for i, n in enumerate(names)}
    col_of_label = np.array([index[n] for n, _ in parsed], dtype=np.int64)
    edges = set()
    for j in range(combos.shape[1] - 1):
        both = (combos[:, j] >= 0) & (combos[:, j + 1] >= 0)
        pairs = np.stack([col_of_label[combos[both, j]], col_of_label[combos[both, j + 1]]], axis=1)
        edges.update(map(tuple, np.unique(pairs, axis=0).tolist()) if len(pairs) else [])
    indegree = [0] * len(names)
    after: list[list[int]] = [[] for _ in names]
    for a, b in edges:
        after[a].append(b)
        indegree[b] += 1
    order, ready = [], [i for i in range(len(names)) if indegree[i] == 0]
    while ready:
        ready.sort()
        node = ready.pop(0)
        order.append(node)
        for nxt in after[node]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    if len(order) != len(names):
        raise InputError("the combinations list columns in inconsistent orders")
    return [names[i] for i in order]
