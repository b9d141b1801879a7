"""The columnar result of counting: one row per attribute combination."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa

from .encode import Schema
from .errors import ParameterError

#: Padding of ``attrs`` beyond a combination's length.
NO_ATTRIBUTE = -1

PROTECTION_NONE = "none"
PROTECTION_K_ANONYMITY = "k-anonymity"


@dataclass(frozen=True, eq=False)
class Aggregates:
    """Counts of attribute combinations of length 1..``reporting_length``.

    Attributes
    ----------
    attrs
        int32 array ``(n, reporting_length)``: the sorted attribute ids of each
        combination, padded with -1 beyond its length.
    length
        uint8 array: each combination's length.
    count
        int64 array: its count (exact, or protected when ``protection`` says so).
    record_count
        Number of records (protected the same way as the counts).
    marginals
        For an adaptive DP release (``mst``, ``aim``): the measured noisy
        marginals (:class:`~showcase.engine.dp.adaptive.Measurements`) that
        marginal-fitting synthesis reads; None otherwise.
    seeded
        The noise was drawn from a seed (DP): anyone with the seed can
        recompute it, so this release and everything made from it is for
        testing, not for publication.
    """

    schema: Schema
    reporting_length: int
    attrs: np.ndarray = field(repr=False)
    length: np.ndarray = field(repr=False)
    count: np.ndarray = field(repr=False)
    record_count: int
    protection: str = PROTECTION_NONE
    resolution: int | None = None
    marginals: object | None = field(default=None, repr=False)
    seeded: bool = False

    def __len__(self) -> int:
        return int(self.count.shape[0])

    def select(self, mask: np.ndarray, **changes) -> Aggregates:
        """A copy holding only the rows where ``mask`` is true, with other fields changed."""
        return replace(
            self,
            attrs=self.attrs[mask],
            length=self.length[mask],
            count=self.count[mask],
            **changes,
        )

    def by_length(self, values: np.ndarray | None = None) -> np.ndarray:
        """Number of combinations (or the sum of ``values``) per length; index 0 is length 1."""
        weights = None if values is None else values
        return np.bincount(
            self.length.astype(np.int64) - 1, weights=weights, minlength=self.reporting_length
        ).astype(np.int64)

    def rare_by_length(self, resolution: int) -> np.ndarray:
        """Number of combinations with count below ``resolution``, per length."""
        rare = self.count < resolution
        return np.bincount(self.length[rare].astype(np.int64) - 1, minlength=self.reporting_length).astype(
            np.int64
        )

    def released_attributes(self) -> np.ndarray:
        """Boolean mask over attribute ids: which ones some combination of the release uses."""
        used = np.zeros(self.schema.n_attributes, dtype=bool)
        used[self.attrs[self.attrs != NO_ATTRIBUTE]] = True
        return used

    def on_released_schema(self) -> Aggregates:
        """The same release on a schema that lists only the attributes it uses.

        A schema taken from the sensitive data also names values the release
        suppressed (rare under k-anonymity, unselected under DP); anything
        that reads only the release (synthesis, files) must not see them. An
        indicator column of a multi-value column is named by its value
        (``COL:value``), so one without a released attribute goes too.
        """
        used = self.released_attributes()
        if used.all():
            return self
        schema, offsets = self.schema, self.schema.offsets
        dictionaries = [
            d.filter(pa.array(used[offsets[c] : offsets[c + 1]])) for c, d in enumerate(schema.dictionaries)
        ]
        narrowed = schema.with_columns(schema.columns, dictionaries)
        # A dropped column has no attribute left, so the ids of the others do not move.
        empty = [
            c
            for c, name in enumerate(schema.columns)
            if not len(dictionaries[c]) and schema.groups[c] != name
        ]
        narrowed, _ = narrowed.without_indicators(empty)
        position = (np.cumsum(used) - 1).astype(np.int32)
        attrs = np.where(self.attrs != NO_ATTRIBUTE, position[np.maximum(self.attrs, 0)], NO_ATTRIBUTE)
        return replace(
            self,
            schema=narrowed,
            attrs=attrs.astype(np.int32),
        )


def restrict_length(aggregates: Aggregates, length: int) -> Aggregates:
    """Only the combinations of up to ``length`` attributes (at most the reporting length)."""
    if length > aggregates.reporting_length:
        raise ParameterError(
            f"length {length} is longer than the aggregates' reporting length {aggregates.reporting_length}"
        )
    if length == aggregates.reporting_length:
        return aggregates
    keep = aggregates.length <= length
    return replace(
        aggregates,
        reporting_length=length,
        attrs=np.ascontiguousarray(aggregates.attrs[keep][:, :length]),
        length=aggregates.length[keep],
        count=aggregates.count[keep],
    )
