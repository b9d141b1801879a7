"""Linked tables: a victims table joined with a one-to-many table (perpetrators) on a key.

Every victim (subject) gets the attributes of all its linked rows, as
multi-value columns named with a prefix (``perp_gender:Male``), and a band of
how many linked rows it has (``perp_count``). The join is a lookup of each
linked row's key among the subjects' keys, then the subject merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .encode import EncodedTable, Schema, code_dtype
from .errors import InputError, ParameterError

#: Bands of the number of linked rows per subject: (label, smallest count), ascending.
COUNT_BANDS: tuple[tuple[str, int], ...] = (("none", 0), ("1", 1), ("2", 2), ("3", 3), ("4-5", 4), ("6+", 6))
#: Linked rows kept per subject under DP unless another bound is given.
DEFAULT_MAX_LINKED = 5


@dataclass(frozen=True)
class Link:
    """A table linked to the input: ``table`` rows belong to the subject whose ``on`` key they hold.

    ``prefix`` names its columns in the release (``perp_`` + column);
    ``use_columns`` keeps only those columns (its own ids must go: they are
    no attributes); ``multi_value`` lists its multi-value columns as
    ``(column, delimiter)``; ``max_linked`` keeps at most that many rows per
    subject, chosen at random (None: all; DP releases default to
    :data:`DEFAULT_MAX_LINKED`).
    """

    table: str | Path
    on: str
    prefix: str = "perp_"
    use_columns: Sequence[str] | None = None
    multi_value: Sequence[tuple[str, str]] = ()
    max_linked: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.on, str) or not self.on:
            raise ParameterError("a linked table needs the key column it is joined on (--on)")
        if not isinstance(self.prefix, str):
            raise ParameterError(f"the prefix of a linked table must be text, got {self.prefix!r}")
        bound = self.max_linked
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int) or bound < 1):
            raise ParameterError(f"--max-linked must be a positive integer, got {bound!r}")

    @property
    def count_column(self) -> str:
        """The column of the band of linked rows per subject."""
        return f"{self.prefix}count"

    def describe(self) -> dict:
        """The link as metadata records it (never the table's path)."""
        doc = asdict(self)
        del doc["table"]
        doc["use_columns"] = list(self.use_columns) if self.use_columns is not None else None
        doc["multi_value"] = [list(pair) for pair in self.multi_value]
        return doc


def linked_subjects(keys: pa.ChunkedArray, subject_keys: pa.Array, on: str) -> np.ndarray:
    """The subject number of each linked row: the position of its key among ``subject_keys``.

    A linked row whose key is empty or names no subject is an error that
    gives the number of such rows, never a key.
    """
    text = keys.cast(pa.string())
    blank = pc.or_kleene(pc.is_null(text), pc.equal(pc.utf8_trim_whitespace(text), ""))
    empty = int(pc.sum(blank).as_py() or 0)
    if empty:
        raise InputError(f"the linked table has {empty:,} row(s) with an empty {on!r}: each row needs a key")
    position = pc.index_in(text, value_set=subject_keys.cast(pa.string()))
    missing = position.null_count
    if missing:
        hint = (" (none matches: are the keys written alike on both sides, e.g. 007 and 7?)"
                if missing == len(text) else " (check spaces and letter case)")  # fmt: skip
        raise InputError(
            f"the linked table has {missing:,} row(s) whose {on!r} matches no row of the input{hint}: "
            "the key must be on both sides"
        )
    return position.to_numpy(zero_copy_only=False).astype(np.int64)


def bound_linked(subject: np.ndarray, max_linked: int, rng: np.random.Generator) -> np.ndarray:
    """Rows to keep so that no subject has more than ``max_linked``, dropped uniformly at random."""
    order = np.lexsort((rng.random(len(subject)), subject))
    ordered = subject[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(ordered) else np.zeros(0, int)
    rank = np.arange(len(ordered)) - np.repeat(starts, np.diff(np.r_[starts, len(ordered)]))
    keep = np.zeros(len(subject), dtype=bool)
    keep[order[rank < max_linked]] = True
    return keep


def count_band(subject: np.ndarray, n_subjects: int, column: str) -> EncodedTable:
    """The band of linked rows of every subject, as one column (only the bands that occur)."""
    counts = np.bincount(subject, minlength=n_subjects)
    lows = np.array([low for _, low in COUNT_BANDS])
    band = np.searchsorted(lows, counts, side="right") - 1
    used = np.flatnonzero(np.bincount(band, minlength=len(COUNT_BANDS)))
    labels = [COUNT_BANDS[b][0] for b in used]
    order = sorted(range(len(labels)), key=lambda i: labels[i].encode())
    code_of_band = np.zeros(len(COUNT_BANDS), dtype=np.uint8)
    code_of_band[used[order]] = np.arange(1, len(order) + 1)
    schema = Schema((column,), (pa.array([labels[i] for i in order], pa.string()),))
    return EncodedTable(schema, code_of_band[band][None, :].copy())


def join_tables(parts: Sequence[EncodedTable]) -> EncodedTable:
    """Tables of the same records side by side, as one (column names must differ)."""
    columns = [name for part in parts for name in part.schema.columns]
    # A linked column is multi-value: its indicator columns (gender:M) differ from the input's
    # column (gender), so the clash shows in the names the release is labelled with.
    labels = [name for part in parts for name in dict.fromkeys(part.schema.groups)]
    clash = sorted(
        {name for name in columns if columns.count(name) > 1}
        | {name for name in labels if labels.count(name) > 1}
    )
    if clash:
        raise InputError(f"column name(s) {', '.join(map(repr, clash))} come out of two tables (the input "
                         "and a linked table, or two linked tables): give the linked table another prefix "
                         "(--link-prefix) or rename the input's column")  # fmt: skip
    dictionaries = tuple(d for part in parts for d in part.schema.dictionaries)
    multi = tuple(pair for part in parts for pair in part.schema.multi_value)
    codes = np.concatenate([part.codes for part in parts]).astype(
        code_dtype(max((len(d) for d in dictionaries), default=0)), copy=False
    )
    return EncodedTable(Schema(tuple(columns), dictionaries, multi), np.ascontiguousarray(codes))


def prefixed(table: EncodedTable, prefix: str) -> EncodedTable:
    """``table`` with ``prefix`` before every column name (and multi-value column name)."""
    schema = table.schema
    multi = tuple((prefix + name, delimiter) for name, delimiter in schema.multi_value)
    columns = tuple(prefix + name for name in schema.columns)
    return EncodedTable(Schema(columns, schema.dictionaries, multi), table.codes)
