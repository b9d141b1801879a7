"""A codebook's allowed values, applied to prepared records.

A value outside the codebook is an error that names the column and how many
such values there are (never the values: they may be sensitive), or, asked
to, it is dropped. When the codebook lists every column's values they are
the public domain: the schema then holds every listed value, seen or not,
so that under DP no budget is spent choosing attributes from the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

from .encode import EncodedTable, Schema, code_dtype
from .errors import InputError
from .multivalue import indicator_name


def apply_values(
    table: EncodedTable,
    allowed: Mapping[str, Sequence[str]],
    *,
    public: bool = False,
    drop_unknown: bool = False,
    changes: dict | None = None,
) -> EncodedTable:
    """``table`` with only the ``allowed`` values of each listed column (all of them when ``public``).

    Columns are named as released: a multi-value column by its name (its
    values are its indicators), a linked one with its prefix.
    """
    schema = table.schema
    groups = schema.groups
    unknown = {name: 0 for name in allowed}
    columns, dictionaries, blocks = [], [], []
    done = set()
    for c, name in enumerate(schema.columns):
        group = groups[c]
        if group not in allowed:
            columns.append(name)
            dictionaries.append(schema.dictionaries[c])
            blocks.append(table.codes[c : c + 1])
        elif group == name:
            values, codes, unknown[name] = _single(
                table.codes[c], schema.dictionaries[c], allowed[name], public
            )
            columns.append(name)
            dictionaries.append(values)
            blocks.append(codes[None, :])
        elif group not in done:
            done.add(group)
            mine = [i for i, g in enumerate(groups) if g == group and schema.columns[i] != group]
            seen = {schema.dictionaries[i][0].as_py(): i for i in mine if len(schema.dictionaries[i])}
            keep = set(allowed[group])
            unknown[group] = len(set(seen) - keep)
            values = sorted(keep if public else keep & set(seen), key=str.encode)
            for value in values:
                columns.append(indicator_name(group, value))
                dictionaries.append(pa.array([value], pa.string()))
                i = seen.get(value)
                blocks.append(
                    table.codes[i : i + 1] if i is not None else np.zeros((1, table.n_rows), np.uint8)
                )
    bad = {name: n for name, n in unknown.items() if n}
    if bad and not drop_unknown:
        name, n = next(iter(bad.items()))
        raise InputError(
            f"column {name!r} has {n:,} value(s) outside the codebook: add them to it, "
            "or drop them with --drop-unknown"
        )
    if bad and changes is not None:
        changes["dropped_unknown"] = bad
    codes = np.empty(
        (len(blocks), table.n_rows), dtype=code_dtype(max((len(d) for d in dictionaries), default=0))
    )
    for row, block in enumerate(blocks):
        codes[row] = block[0]
    return EncodedTable(Schema(tuple(columns), tuple(dictionaries), schema.multi_value), codes)


def _single(
    codes: np.ndarray, dictionary: pa.Array, allowed: Sequence[str], public: bool
) -> tuple[pa.Array, np.ndarray, int]:
    """One single-value column on the allowed values: its dictionary, codes and number of unknown values."""
    seen = dictionary.cast(pa.string()).to_pylist()
    keep = set(allowed)
    values = sorted(keep if public else keep & set(seen), key=str.encode)
    position = {value: i + 1 for i, value in enumerate(values)}
    remap = np.array([0] + [position.get(value, 0) for value in seen], dtype=np.int64)
    return pa.array(values, pa.string()), remap[codes], len(set(seen) - keep)
