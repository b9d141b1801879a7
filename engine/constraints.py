"""Declared constraints: combinations of values that no synthetic record may hold.

A codebook may list impossible combinations (``constraints:``), e.g. an age
band of 0-14 with a marital status other than never married. Each
:class:`Constraint` maps two or more columns to the values that match; a
record is impossible when, for every one of those columns, its value is one of
the listed ones (a record without an attribute for a column does not match).
Constraints come from the codebook's author, not from the data, so they are
public and cost no privacy budget; every synthesis mode honours them (see
:mod:`showcase.engine.synthesize`).

:func:`encode` puts constraints on a schema as :data:`~.kernels.constraints.Rules`
(per column, a mask of the matching codes), which the synthesis kernels check
as records grow. A multi-value column matches through its indicator columns:
an entry listing several of its values becomes one rule per value.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError
from .kernels.constraints import Rules, blank_violations, no_rules, violating_records

if TYPE_CHECKING:
    from .encode import EncodedTable, Schema

#: Keys of a constraint entry that are not columns.
ENTRY_KEYS = ("name", "reason")


@dataclass(frozen=True)
class Constraint:
    """An impossible combination: ``columns`` maps each column to the values that match it."""

    columns: tuple[tuple[str, tuple[str, ...]], ...]
    name: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict:
        """The entry as a codebook holds it: ``name``/``reason`` first, then column → values."""
        doc: dict = {}
        if self.name is not None:
            doc["name"] = self.name
        if self.reason is not None:
            doc["reason"] = self.reason
        for column, values in self.columns:
            doc[column] = values[0] if len(values) == 1 else list(values)
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping) -> Constraint:
        """An entry of :meth:`to_dict` (as the metadata stores it); no validation against a schema."""
        if not isinstance(doc, Mapping):
            raise InputError("a constraint must be a mapping of column → value(s)")
        columns = []
        for key, value in doc.items():
            if key in ENTRY_KEYS:
                continue
            values = value if isinstance(value, list) else [value]
            columns.append((str(key), tuple(str(v) for v in values)))
        if len(columns) < 2:
            raise InputError("a constraint needs at least 2 columns")
        return cls(tuple(columns), doc.get("name"), doc.get("reason"))


def to_list(constraints: Sequence[Constraint]) -> list[dict]:
    """Constraints as metadata (and codebooks) hold them."""
    return [c.to_dict() for c in constraints]


def from_list(docs: Sequence[Mapping] | None) -> tuple[Constraint, ...]:
    """Constraints read back from metadata (None: none)."""
    return tuple(Constraint.from_dict(doc) for doc in docs or ())


def encode(
    constraints: Sequence[Constraint],
    schema: Schema,
    local_values: Sequence[np.ndarray] | None = None,
) -> Rules:
    """The constraints on ``schema`` as kernel :data:`Rules`.

    A constraint naming a column (or value) the schema lacks can never be met
    there, so it is left out. ``local_values`` (per column, the schema codes
    of local codes 1, 2, ...) puts the masks on local codes instead.
    """
    names = {name: c for c, name in enumerate(schema.columns)}
    values_of = [d.cast("string").to_pylist() for d in schema.dictionaries]
    groups = set(schema.groups) - set(schema.columns)  # multi-value columns
    if not constraints:
        return no_rules()
    expanded: list[list[tuple[int, set[int]]]] = []
    for constraint in constraints:
        choices: list[list[tuple[int, set[int]]]] = []
        for column, values in constraint.columns:
            if column in groups:
                options = [(names[f"{column}:{v}"], {1}) for v in values if f"{column}:{v}" in names]
            elif column in names:
                c = names[column]
                position = {v: i + 1 for i, v in enumerate(values_of[c])}
                codes = {position[v] for v in values if v in position}
                options = [(c, codes)] if codes else []
            else:
                options = []
            choices.append(options)
        for items in itertools.product(*choices):
            if len({c for c, _ in items}) == len(items):
                expanded.append(list(items))
    item_ptr, item_col, item_off, item_len, mask = [0], [], [], [], []
    for items in expanded:
        for c, codes in items:
            width = len(values_of[c]) + 1
            row = np.zeros(width, np.uint8)
            row[sorted(codes)] = 1
            if local_values is not None:
                row = np.concatenate([[0], row[np.asarray(local_values[c], np.int64)]]).astype(np.uint8)
            item_col.append(c)
            item_off.append(sum(len(m) for m in mask))
            item_len.append(len(row))
            mask.append(row)
        item_ptr.append(len(item_col))
    on_column: list[list[int]] = [[] for _ in schema.columns]
    for k in range(len(item_ptr) - 1):
        for c in sorted(set(item_col[item_ptr[k] : item_ptr[k + 1]])):
            on_column[c].append(k)
    return Rules(
        np.array(item_ptr, np.int64),
        np.array(item_col, np.int64),
        np.array(item_off, np.int64),
        np.array(item_len, np.int64),
        np.concatenate(mask) if mask else np.zeros(1, np.uint8),
        np.cumsum([0] + [len(ks) for ks in on_column]).astype(np.int64),
        np.array([k for ks in on_column for k in ks], np.int64),
    )


def count(rules: Rules) -> int:
    """How many rules (after expansion and leaving out those the schema cannot meet)."""
    return int(rules.item_ptr.shape[0] - 1)


def violations(table: EncodedTable, constraints: Sequence[Constraint]) -> np.ndarray:
    """Per record of ``table``, whether it violates one of ``constraints``."""
    rules = encode(constraints, table.schema)
    out = np.zeros(table.n_rows, dtype=np.bool_)
    if count(rules) and table.n_rows:
        violating_records(np.ascontiguousarray(table.codes), rules, out)
    return out


def enforce(table: EncodedTable, constraints: Sequence[Constraint]) -> int:
    """Clear, in place, the attributes of ``table`` that complete a declared constraint; how many records.

    The last check of every synthesis mode (its own kernels avoid violations
    as records grow, so it finds none there): each violating record loses the attribute of its last
    matching column, so it keeps a subset of its combinations and every
    guarantee on combinations (k-anonymity, presence in the aggregates) holds.
    """
    rules = encode(constraints, table.schema)
    if not count(rules) or not table.n_rows:
        return 0
    return int(blank_violations(table.codes, rules))


def describe(constraints: Sequence[Constraint]) -> dict:
    """The metadata section of declared constraints: each entry, and how many were enforced."""
    return {"declared": to_list(constraints), "enforced": len(constraints)}


def from_release(aggregates_file: str | Path | None) -> tuple[Constraint, ...]:
    """The constraints a release declared (its metadata.json beside ``aggregates_file``); none if absent."""
    if aggregates_file is None:
        return ()
    metadata = Path(aggregates_file).with_name("metadata.json")
    try:
        doc = json.loads(metadata.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    section = doc.get("constraints") if isinstance(doc, dict) else None
    if not isinstance(section, dict):
        return ()
    try:
        return from_list(section.get("declared"))
    except InputError:
        raise InputError(f"{metadata}: its declared constraints are not valid") from None


def merged(*groups: Sequence[Constraint]) -> tuple[Constraint, ...]:
    """The constraints of every group, each once, in order."""
    return tuple(dict.fromkeys(c for group in groups for c in group))
