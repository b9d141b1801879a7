"""What jobs return: one typed result per job, the same for k-anonymity and DP.

Tables in results are Arrow (``result.to_arrow()``); ``result.to_pandas()``
is one call away (pandas is needed only then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..aggregates import PROTECTION_K_ANONYMITY, Aggregates
from ..encode import EncodedTable, decode
from ..multivalue import output_columns
from ..protection import Protection


@dataclass(kw_only=True)
class _ArrowResult:
    """What every result has: its steps' seconds, the files written, ``to_pandas()``."""

    seconds: dict[str, float] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    #: What preparing the input changed (rows merged into subjects, columns made multi-value, linked
    #: rows dropped): exact facts of the sensitive data, for its owner's eyes, never in a release.
    prepared: dict = field(default_factory=dict)

    def to_arrow(self) -> pa.Table:  # pragma: no cover - every result defines it
        raise NotImplementedError

    def to_pandas(self):
        """The result's table as a pandas DataFrame (strings, None where no attribute)."""
        return self.to_arrow().to_pandas()


@dataclass
class AggregateResult(_ArrowResult):
    """What an aggregate job produced.

    ``released`` is what the release holds; ``exact`` the exact counts when
    the job has them to show (never under DP: they are not computed for the
    caller). ``privacy`` is the release's privacy section of its metadata
    (under DP: ε, δ, ρ, released and candidate combinations by length,
    sensitivity bounds and thresholds).
    """

    released: Aggregates
    protection: Protection
    privacy: dict
    exact: Aggregates | None = None
    #: The privacy ledger file, when this DP release created it (there was none before).
    ledger_created: Path | None = None

    @property
    def rare_by_length(self) -> np.ndarray:
        """Exact combinations held by fewer than k records, by length (k-anonymity and exact only)."""
        if self.exact is None:
            raise AttributeError("a DP release has no exact counts to count rare combinations in")
        return self.exact.rare_by_length(self.protection.k)

    def to_arrow(self) -> pa.Table:
        """The released aggregates: one row per combination (attribute labels, length, count)."""
        from ..aggregates_io import to_arrow

        return to_arrow(self.released)


@dataclass
class SynthesisResult(_ArrowResult):
    """What a synthesis produced.

    ``metrics`` compares the synthetic records' combinations of up to
    ``length`` attributes with ``reference``: the exact counts of the
    sensitive data when the job read it, else the aggregates synthesized from
    (see :func:`showcase.engine.evaluate.combination_metrics`).
    """

    synthetic: EncodedTable
    mode: str
    parameters: dict
    length: int
    input_records: int
    reference: str
    metrics: dict | None = None
    #: Protection of the records: k-anonymity, or that of the aggregates they came from.
    protection: str = PROTECTION_K_ANONYMITY

    @property
    def record_expansion(self) -> float:
        """Synthetic records per input record (per aggregates record when there was no input)."""
        return self.synthetic.n_rows / self.input_records if self.input_records else 0.0

    def to_arrow(self, join_multi_value: bool = True) -> pa.Table:
        """The synthetic records in the input's spellings (null where a record has no attribute).

        A multi-value column is one cell of its values joined by its delimiter,
        as in the files (or, without ``join_multi_value``, its indicator columns).
        """
        table = decode(self.synthetic)
        if not join_multi_value or not self.synthetic.schema.multi_value:
            return table
        columns = [column.cast(pa.string()) for column in table.columns]
        names, joined = output_columns(self.synthetic.schema, columns)
        return pa.Table.from_arrays(joined, names=names)


@dataclass
class RunResult(_ArrowResult):
    """What a run produced: the aggregates and the synthetic records of one release."""

    aggregate: AggregateResult
    synthesis: SynthesisResult

    @property
    def ledger_created(self) -> Path | None:
        return self.aggregate.ledger_created

    def to_arrow(self) -> pa.Table:
        """The synthetic records (``result.aggregate.to_arrow()`` gives the aggregates)."""
        return self.synthesis.to_arrow()
