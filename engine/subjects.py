"""Merging the rows of each subject into one record, so that privacy is per subject.

All rows sharing a subject id become one record holding every attribute any
of them holds. A column whose rows of one subject disagree (two different
values) cannot stay single-valued: it becomes a multi-value column, one
indicator per value, unless the caller is strict. The work is two linear
kernels over the codes (:mod:`.kernels.merge`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .encode import EncodedTable, Schema, code_dtype
from .errors import InputError
from .kernels.merge import code_indicators, first_codes
from .multivalue import DEFAULT_DELIMITER, indicator_name


@dataclass
class Merged:
    """Subject-level records and what merging changed (for the summary, never for publication)."""

    table: EncodedTable
    rows: int
    subjects: int
    #: Columns that became multi-value, with the number of subjects whose rows disagreed.
    became_multi_value: dict[str, int] = field(default_factory=dict)


def count_subjects(subject: np.ndarray) -> int:
    """The number of subjects of dense subject numbers 0..n-1."""
    return int(subject.max()) + 1 if len(subject) else 0


def merge_subjects(
    table: EncodedTable,
    subject: np.ndarray,
    *,
    strict: bool = False,
    all_multi_value: bool = False,
    delimiter: str = DEFAULT_DELIMITER,
    n_subjects: int | None = None,
) -> Merged:
    """One record per subject (``subject`` numbers rows 0..n_subjects-1), in subject order.

    A single-value column that disagrees within a subject becomes multi-value
    (values joined by ``delimiter`` in files); ``strict`` refuses instead,
    naming the columns (never a value). ``all_multi_value`` makes every
    column multi-value whatever the data (linked tables: a victim may have
    several perpetrators, so the structure never depends on the data).
    ``n_subjects`` counts subjects that may have no rows (default: the largest number + 1).
    """
    subject = np.ascontiguousarray(subject, dtype=np.int64)
    n_subjects = count_subjects(subject) if n_subjects is None else n_subjects
    schema = table.schema
    first = np.zeros((table.n_columns, n_subjects), dtype=table.codes.dtype)
    conflicts = np.zeros(table.n_columns, dtype=np.int64)
    first_codes(table.codes, subject, n_subjects, first, conflicts)
    groups = schema.groups
    single = [groups[c] == name for c, name in enumerate(schema.columns)]
    split = [c for c in range(table.n_columns) if single[c] and (conflicts[c] or all_multi_value)]
    if strict and split:
        names = ", ".join(repr(schema.columns[c]) for c in split)
        raise InputError(
            f"column(s) {names} hold different values within one subject: declare them multi-value "
            "(--multi-value), which --strict and DP require so that the release's structure does not "
            "depend on the data"
        )
    columns, dictionaries, blocks = [], [], []
    for c, name in enumerate(schema.columns):
        values = schema.dictionaries[c]
        if c not in split:
            columns.append(name)
            dictionaries.append(values)
            blocks.append(first[c : c + 1])
            continue
        indicators = np.zeros((len(values), n_subjects), dtype=np.uint8)
        code_indicators(table.codes[c], subject, indicators)
        for value in values.cast(pa.string()).to_pylist():
            columns.append(indicator_name(name, value))
            dictionaries.append(pa.array([value], pa.string()))
        blocks.append(indicators)
    multi = schema.multi_value + tuple((schema.columns[c], delimiter) for c in split)
    codes = _stack(blocks, max((len(d) for d in dictionaries), default=0), n_subjects)
    merged = EncodedTable(Schema(tuple(columns), tuple(dictionaries), multi), codes)
    changed = {schema.columns[c]: int(conflicts[c]) for c in split if conflicts[c]}
    return Merged(merged, len(subject), n_subjects, changed)


def _stack(blocks: list[np.ndarray], max_code: int, n_records: int) -> np.ndarray:
    """One C-contiguous code matrix of the narrowest dtype from blocks of rows."""
    codes = np.empty((sum(len(b) for b in blocks), n_records), dtype=code_dtype(max_code))
    start = 0
    for block in blocks:
        codes[start : start + len(block)] = block
        start += len(block)
    return codes
