"""Binning numeric columns into labelled categories, before they are encoded.

A :class:`Bins` says how one column is cut: into bins of a fixed ``width``,
at given ``edges``, or at ``quantiles`` of the data (exact, or
differentially private within a public range). Bins are half-open,
``[lo, hi)``: a value on an edge goes to the bin above it, and the last edge
is exclusive. A *public range* ``lower..upper`` is inclusive at both ends
(``0..120`` admits 120); bins cover it.

The functions here are pure, over pyarrow arrays and NumPy values; the load
path reads the column, calls :func:`bin_column` (with edges from
:func:`dp_quantile_edges` under DP) and encodes the labels like any text.
Errors name the column and give counts, never a value.

Labels: for integer data (every value integral) a bin holds the integers
``a..b`` and is labelled ``a-b`` (style ``range``) or ``a--b`` (style
``ctdc``, as the CTDC spells its bands), ``a`` alone when ``a == b``; open
ends are ``<a`` and ``a+``. Other data are labelled ``[2.5, 5)``, ``<2.5``
and ``5+`` in either style. Negative integers read awkwardly (``-9--1``);
use them with care.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .dp.noise import RandomSource
from .dp.percentile import dp_percentile
from .errors import InputError, ParameterError

KINDS = ("width", "edges", "quantiles")
LABEL_STYLES = ("range", "ctdc")
#: ``open_ends``: none, both, or one side; and how a bins spelling names them.
OPEN_ENDS = (False, True, "above", "below")
OPEN_SPELLINGS = {"open": True, "open-above": "above", "open-below": "below"}
#: Most bins one column may have (a width too small for the data's span is refused).
MAX_BINS = 100_000
#: What a number looks like in text (after surrounding white space is removed).
NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"

SPELLINGS = (
    "width:W[:from=X][:LO..HI][:open|open-above|open-below], edges:E1,E2,...[:open|open-above|open-below] "
    "or quantiles:N[:LO..HI], "
    "optionally ending :range or :ctdc (the label style)"
)


@dataclass(frozen=True)
class Bins:
    """How to cut one numeric column into bins (see the module docstring for labels).

    * ``kind="width"``: bins ``[origin + k*width, origin + (k+1)*width)``
      covering the data, or the public range ``lower..upper`` when given.
    * ``kind="edges"``: bins between consecutive ``edges`` (strictly
      increasing, at least 2).
    * ``kind="quantiles"``: ``count`` bins at the data's quantiles; under DP
      the public range ``lower..upper`` is required.

    ``open_ends`` (width and edges) adds a bin below the first edge and one
    from the last edge up (``True``), or only one of them (``"below"``,
    ``"above"``: an age has no bin below 0); without it a value outside the
    bins is an error.
    """

    kind: str
    width: float | None = None
    origin: float = 0
    edges: tuple[float, ...] | None = None
    count: int | None = None
    lower: float | None = None
    upper: float | None = None
    open_ends: bool | str = False
    labels: str = "range"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ParameterError(f"bins kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.labels not in LABEL_STYLES:
            raise ParameterError(f"bin labels must be 'range' or 'ctdc', got {self.labels!r}")
        if self.open_ends not in OPEN_ENDS or not isinstance(self.open_ends, (bool, str)):
            raise ParameterError(
                f"bins open ends must be true, false, 'above' or 'below', got {self.open_ends!r}"
            )
        own = {"width": "width", "edges": "edges", "quantiles": "count"}[self.kind]
        for name in ("width", "edges", "count"):
            given = getattr(self, name) is not None
            if name == own and not given:
                raise ParameterError(f"{self.kind} bins need a {name}")
            if name != own and given:
                raise ParameterError(f"a {name} applies to {_kind_of(name)} bins only, not {self.kind} bins")
        _number(self.origin, "bins origin")
        if self.kind != "width" and self.origin != 0:
            raise ParameterError(f"an origin (from=) applies to width bins only, not {self.kind} bins")
        if self.kind == "width" and not _number(self.width, "bin width") > 0:
            raise ParameterError(f"bin width must be positive, got {self.width!r}")
        if self.kind == "edges":
            object.__setattr__(self, "edges", _edges_tuple(self.edges, "bin edges"))
        if self.kind == "quantiles":
            count = self.count
            if isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= MAX_BINS:
                raise ParameterError(f"quantile bins need a whole number of bins from 2 to {MAX_BINS:,}")
            if self.open_ends:
                raise ParameterError("open ends apply to width and edges bins, not quantile bins")
        if (self.lower is None) != (self.upper is None):
            raise ParameterError("give both ends of the bins' public range (lower and upper), or neither")
        if self.lower is not None:
            if self.kind == "edges":
                raise ParameterError(
                    "a public range applies to width and quantile bins; edges bins have edges"
                )
            lower, upper = _number(self.lower, "range lower"), _number(self.upper, "range upper")
            if not lower < upper:
                raise ParameterError(f"the bins' public range needs lower < upper, got {lower:g}..{upper:g}")

    @property
    def has_range(self) -> bool:
        return self.lower is not None

    @classmethod
    def from_dict(cls, doc: dict) -> Bins:
        """Bins from a codebook entry: ``{"edges": [0, 18, 30], "labels": "ctdc", "open": true}``,
        ``{"width": 10, "from": 0}``, ``{"quantiles": 4, "range": [0, 120]}``."""
        if not isinstance(doc, dict):
            raise ParameterError("bins must be a mapping such as {'width': 10} or {'quantiles': 4}")
        known = {"width", "edges", "quantiles", "from", "range", "open", "labels"}
        unknown = sorted(str(key) for key in doc if key not in known)
        if unknown:
            raise ParameterError(f"unknown bins key(s) {', '.join(map(repr, unknown))}: use {sorted(known)}")
        kinds = [kind for kind in ("width", "edges", "quantiles") if kind in doc]
        if len(kinds) != 1:
            raise ParameterError("bins need exactly one of 'width', 'edges' or 'quantiles'")
        kind = kinds[0]
        fields: dict = {"kind": kind}
        if kind == "width":
            fields["width"] = doc["width"]
        elif kind == "edges":
            edges = doc["edges"]
            if not isinstance(edges, (list, tuple)):
                raise ParameterError("bin edges must be a list of numbers")
            fields["edges"] = tuple(edges)
        else:
            fields["count"] = doc["quantiles"]
        if "from" in doc:
            fields["origin"] = doc["from"]
        if "range" in doc:
            bounds = doc["range"]
            if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
                raise ParameterError("a bins range must be a list [lower, upper]")
            fields["lower"], fields["upper"] = bounds
        if "open" in doc:
            fields["open_ends"] = doc["open"]
        if "labels" in doc:
            fields["labels"] = doc["labels"]
        return cls(**fields)

    def to_dict(self) -> dict:
        """The codebook entry :meth:`from_dict` reads back (defaults left out)."""
        doc: dict = {}
        if self.kind == "width":
            doc["width"] = _plain(self.width)
            if self.origin != 0:
                doc["from"] = _plain(self.origin)
        elif self.kind == "edges":
            doc["edges"] = [_plain(e) for e in self.edges]
        else:
            doc["quantiles"] = self.count
        if self.has_range:
            doc["range"] = [_plain(self.lower), _plain(self.upper)]
        if self.open_ends:
            doc["open"] = self.open_ends
        if self.labels != "range":
            doc["labels"] = self.labels
        return doc


def _kind_of(name: str) -> str:
    return {"width": "width", "edges": "edges", "count": "quantile"}[name]


def _number(value, what: str) -> float:
    """``value`` as a finite float, or a ParameterError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction, np.integer, np.floating)):
        raise ParameterError(f"{what} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ParameterError(f"{what} must be a finite number, got {value!r}")
    return number


def _edges_tuple(edges: Iterable, what: str, allow_open: bool = False) -> tuple[float, ...]:
    """Edges as a strictly increasing tuple of at least 2 floats (infinite ends if ``allow_open``)."""
    values = []
    for e in edges:
        if allow_open and isinstance(e, float) and math.isinf(e):
            values.append(e)
        else:
            values.append(_number(e, what))
    if len(values) < 2:
        raise ParameterError(f"{what} need at least 2 values, got {len(values)}")
    if any(not a < b for a, b in zip(values, values[1:])):
        raise ParameterError(f"{what} must be strictly increasing")
    if any(math.isinf(e) for e in values[1:-1]) or values[0] == math.inf or values[-1] == -math.inf:
        raise ParameterError(f"{what} may be infinite only at the open ends")
    return tuple(values)


def _plain(value: float) -> int | float:
    """A number for metadata: an int when integral, so JSON shows ``18`` not ``18.0``."""
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


# ---------------------------------------------------------------------------- parsing


def parse_bins(text: str) -> Bins:
    """Bins from their CLI spelling: ``width:10``, ``width:10:from=0``, ``edges:0,18,30,50``,
    ``edges:0,18,30,50:open``, ``quantiles:4``, ``quantiles:4:0..120``, any of them
    optionally ending ``:ctdc`` or ``:range``."""
    bad = ParameterError(f"bad bins {text!r}: expected {SPELLINGS}")
    kind, _, rest = text.strip().partition(":")
    parts = rest.split(":")
    if kind not in KINDS or not parts[0]:
        raise bad
    fields: dict = {"kind": kind}
    try:
        if kind == "width":
            fields["width"] = _parse_number(parts[0])
        elif kind == "edges":
            fields["edges"] = tuple(_parse_number(e) for e in parts[0].split(","))
        else:
            if not re.fullmatch(r"[0-9]+", parts[0]):
                raise _BadSpelling
            fields["count"] = int(parts[0])
        for option in parts[1:]:
            if option in LABEL_STYLES:
                key, value = "labels", option
            elif option in OPEN_SPELLINGS:
                key, value = "open_ends", OPEN_SPELLINGS[option]
            elif option.startswith("from="):
                key, value = "origin", _parse_number(option[len("from=") :])
            elif ".." in option:
                low, high = option.split("..", 1)
                key, value = "lower", (_parse_number(low), _parse_number(high))
            else:
                raise _BadSpelling
            if key in fields:
                raise ParameterError(f"bad bins {text!r}: the {option.split('=')[0]!r} option is given twice")
            fields[key] = value
    except _BadSpelling:
        raise bad from None
    if "lower" in fields:
        fields["lower"], fields["upper"] = fields["lower"]
    return Bins(**fields)


class _BadSpelling(Exception):
    """Text that is not one of the bins spellings (turned into one ParameterError)."""


def _parse_number(text: str) -> float:
    if not re.fullmatch(NUMBER, text.strip()):
        raise _BadSpelling
    return float(text)


def parse_bin_option(text: str) -> tuple[str, Bins]:
    """A ``COLUMN=SPEC`` option (e.g. ``age=width:10``): the column name and its bins.

    The column is everything before the first ``=`` that is followed by a
    bins kind, so a name may itself contain ``=``.
    """
    match = re.search(r"=(?=(?:width|edges|quantiles):)", text)
    if match is None or match.start() == 0:
        raise ParameterError(f"bad bins option {text!r}: expected COLUMN=SPEC, with SPEC one of {SPELLINGS}")
    return text[: match.start()], parse_bins(text[match.end() :])


# ---------------------------------------------------------------------------- values


def numeric_values(
    column: pa.ChunkedArray | pa.Array, name: str, null_markers: Iterable[str] = ()
) -> np.ndarray:
    """The column as float64, NaN where it has no value (null, empty, a null marker).

    Text (CSV, dictionary-encoded or not) is parsed as decimal numbers,
    surrounding white space ignored; numeric columns are taken as they are
    (NaN in a float column means no value), and a null marker that is a
    number matches them numerically. A value that is not a finite number is
    an InputError giving their count only.
    """
    markers = [str(m) for m in null_markers]
    column = pa.chunked_array([column]) if isinstance(column, pa.Array) else column
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, kind)
    if pa.types.is_null(kind):
        return np.full(len(column), np.nan)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _parse_text(column, name, markers)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        numbers = pc.cast(column, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        marked = [float(m) for m in markers if re.fullmatch(NUMBER, m.strip())]
        if marked:
            numbers[np.isin(numbers, marked)] = np.nan
        infinite = int(np.count_nonzero(np.isinf(numbers)))
        if infinite:
            raise _not_numbers(name, infinite)
        return numbers
    raise InputError(f"column {name!r} holds {kind} values, not numbers: do not bin this column")


def _parse_text(column: pa.ChunkedArray, name: str, markers: list[str]) -> np.ndarray:
    trimmed = pc.utf8_trim_whitespace(column)
    value_set = pa.array(sorted(set(markers) | {m.strip() for m in markers} | {""}), column.type)
    empty = pc.or_(pc.is_in(column, value_set=value_set), pc.is_in(trimmed, value_set=value_set))
    empty = pc.or_(pc.fill_null(empty, True), pc.is_null(column))
    numeric = pc.fill_null(pc.match_substring_regex(trimmed, NUMBER), False)
    kept = pc.and_(numeric, pc.invert(empty))
    # Only text that matched NUMBER reaches the cast, so its error (which quotes a value) cannot happen.
    numbers = pc.if_else(kept, trimmed, pa.scalar(None, column.type)).cast(pa.float64())
    numbers = numbers.to_numpy(zero_copy_only=False).astype(np.float64)
    text = pc.invert(empty).to_numpy(zero_copy_only=False)
    bad = int(np.count_nonzero(text & ~pc.fill_null(kept, False).to_numpy(zero_copy_only=False)))
    bad += int(np.count_nonzero(np.isinf(numbers)))  # too large for a float: 1e999
    if bad:
        raise _not_numbers(name, bad)
    return numbers


def _not_numbers(name: str, count: int) -> InputError:
    return InputError(
        f"column {name!r}: {count:,} value(s) are not numbers "
        "(give them as null markers, or do not bin this column)"
    )


def is_integral(values: np.ndarray) -> bool:
    """Whether every value is a whole number (an empty column counts as integral)."""
    return bool(np.all(np.floor(values) == values))


# ---------------------------------------------------------------------------- edges


def bin_edges(values: np.ndarray, bins: Bins) -> tuple[float, ...]:
    """The concrete edges for ``values`` (finite numbers, nulls removed); ±inf for open ends.

    * width: from ``origin + k*width`` at or below the smallest value (or the
      range's ``lower``) up to the first such edge above the largest value (or
      the range's ``upper``).
    * edges: the given edges.
    * quantiles (exact, not DP): the ``count - 1`` inner quantiles of the
      data (NumPy's linear quantiles, rounded up for integer data so bins hold
      whole numbers), outer edges at ``lower`` and ``upper + 1`` of a public
      range (values outside it are clipped into it for the quantiles), or
      without one open (±inf: the lowest and highest bins are ``<a`` and
      ``b+``, so no label names the data's min or max, each one record's
      value). Equal edges are merged, so heavily tied data get FEWER bins than
      ``count``. These edges are derived from the data: not for a DP release
      (use :func:`dp_quantile_edges`).
    """
    values = np.asarray(values, dtype=np.float64)
    if bins.kind == "edges":
        edges = bins.edges
    elif bins.kind == "width":
        edges = _width_edges(values, bins)
    else:
        edges = _quantile_edges(values, bins)
    if bins.open_ends in (True, "below"):
        edges = (-math.inf, *edges)
    if bins.open_ends in (True, "above"):
        edges = (*edges, math.inf)
    return edges


def _width_edges(values: np.ndarray, bins: Bins) -> tuple[float, ...]:
    width, origin = float(bins.width), float(bins.origin)
    if bins.has_range:
        start, end = float(bins.lower), float(bins.upper)
    elif len(values):
        start, end = float(values.min()), float(values.max())
    else:
        start = end = origin
    first = math.floor((start - origin) / width)
    last = math.floor((end - origin) / width) + 1
    if last - first > MAX_BINS:
        raise ParameterError(f"bin width {width:g} gives more than {MAX_BINS:,} bins: use a wider width")
    return tuple(origin + k * width for k in range(first, last + 1))


def _quantile_edges(values: np.ndarray, bins: Bins) -> tuple[float, ...]:
    if bins.has_range:
        low, high = float(bins.lower), float(bins.upper)
        values = np.clip(values, low, high)
    elif len(values):
        # Open ends, never the data's min and max: one record holds each, and a label such as
        # "46-999" would print its value in a release whose bin it shares with k others.
        low, high = -math.inf, math.inf
    else:
        raise InputError("quantile bins need at least one value, or a public range")
    inner = np.array([])
    if len(values):
        inner = np.quantile(values, np.arange(1, bins.count) / bins.count)
        if is_integral(values):
            inner = np.ceil(inner)
    return _outer(low, inner, high + 1)


def _outer(low: float, inner: np.ndarray, high: float) -> tuple[float, ...]:
    """``low``, the distinct inner edges strictly between, ``high``."""
    kept = np.unique(inner[(inner > low) & (inner < high)])
    return (low, *(float(e) for e in kept), high)


def dp_quantile_edges(
    values: np.ndarray, bins: Bins, epsilon: float, source: RandomSource
) -> tuple[float, ...]:
    """epsilon-DP quantile edges of integer ``values`` within the public range ``lower..upper``.

    Each of the ``count - 1`` inner quantiles is one :func:`dp_percentile`
    at epsilon / (count - 1), so by sequential composition the edges cost
    ``epsilon`` in all (each call rounds its share down, never up). The range
    must be public, never taken from the data; values outside it are clipped
    into it. An estimated q-quantile ``c`` (about a fraction q of the values
    are ``<= c``) gives the edge ``c + 1``, so ``c`` ends the lower bin. Equal
    edges are merged (fewer bins); the outer edges are ``lower`` and
    ``upper + 1``. The result is a DP output, safe to publish.
    """
    if bins.kind != "quantiles":
        raise ParameterError(f"DP quantile edges need quantile bins, not {bins.kind} bins")
    if not bins.has_range:
        raise ParameterError(
            "DP quantile bins need a public range (e.g. quantiles:4:0..120): "
            "a range taken from the data would leak it"
        )
    lower, upper = float(bins.lower), float(bins.upper)
    if not (lower.is_integer() and upper.is_integer()):
        raise ParameterError(f"DP quantile bins need a whole-number range, got {lower:g}..{upper:g}")
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise ParameterError(f"the quantile bins' epsilon must be positive, got {epsilon!r}")
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ParameterError("DP quantile edges need the column's values without nulls (NaN)")
    if not is_integral(values):
        raise ParameterError("DP quantile bins need whole numbers: round the column first")
    span = int(upper - lower)
    shifted = (np.clip(values, lower, upper) - lower).astype(np.int64)
    share = epsilon / (bins.count - 1)
    found = [
        # A Fraction keeps q's denominator small (count), which the exact sampler needs.
        lower + 1 + dp_percentile(shifted, span, Fraction(100 * i, bins.count), share, source)
        for i in range(1, bins.count)
    ]
    return _outer(lower, np.array(found, dtype=np.float64), upper + 1)


# ---------------------------------------------------------------------------- labels


def _format(value: float) -> str:
    """A number as short text: ``18`` for 18.0, else the shortest round-trip spelling."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def bin_labels(edges: Sequence[float], *, integers: bool, style: str = "range") -> list[str]:
    """One label per bin between consecutive ``edges`` (±inf ends are open bins)."""
    if style not in LABEL_STYLES:
        raise ParameterError(f"bin labels must be 'range' or 'ctdc', got {style!r}")
    dash = "--" if style == "ctdc" else "-"
    labels = []
    for lo, hi in zip(edges, edges[1:]):
        lo, hi = float(lo), float(hi)
        if integers:
            first = math.ceil(lo) if math.isfinite(lo) else lo
            last = math.ceil(hi) - 1 if math.isfinite(hi) else hi
            if math.isinf(lo):
                labels.append(f"<{_format(last + 1)}")
            elif math.isinf(hi):
                labels.append(f"{_format(first)}+")
            elif first == last:
                labels.append(_format(first))
            else:
                labels.append(f"{_format(first)}{dash}{_format(last)}")
        elif math.isinf(lo):
            labels.append(f"<{_format(hi)}")
        elif math.isinf(hi):
            labels.append(f"{_format(lo)}+")
        else:
            labels.append(f"[{_format(lo)}, {_format(hi)})")
    return labels


# ---------------------------------------------------------------------------- columns


def bin_column(
    column: pa.ChunkedArray | pa.Array,
    bins: Bins,
    name: str,
    null_markers: Iterable[str] = (),
    edges: Sequence[float] | None = None,
    *,
    integers: bool | None = None,
) -> pa.Array:
    """The column's bin labels as strings; null where it has no value (see :func:`numeric_values`).

    ``edges`` replaces the computed edges (as :func:`bin_edges` gives them,
    ±inf for open ends), e.g. those of :func:`dp_quantile_edges`.
    ``integers`` chooses the label style: True for whole-number labels (a
    non-integral value is then an error), False for ``[lo, hi)`` labels, None
    to decide from the data (all values integral or not). A value outside the
    bins is an InputError giving the count only.
    """
    numbers = numeric_values(column, name, null_markers)
    present = ~np.isnan(numbers)
    values = numbers[present]
    if integers is None:
        integers = is_integral(values)
    elif integers and not is_integral(values):
        count = int(np.count_nonzero(np.floor(values) != values))
        raise InputError(
            f"column {name!r}: {count:,} value(s) are not whole numbers: round them, or bin as decimals"
        )
    edges = bin_edges(values, bins) if edges is None else _edges_tuple(edges, "bin edges", allow_open=True)
    bounds = np.asarray(edges, dtype=np.float64)
    index = np.searchsorted(bounds, numbers, side="right") - 1
    outside = present & ((index < 0) | (index >= len(edges) - 1))
    if outside.any():
        raise InputError(
            f"column {name!r}: {int(np.count_nonzero(outside)):,} value(s) fall outside the bins "
            f"[{_format(edges[0])}, {_format(edges[-1])}): widen the bins or add open ends"
        )
    labels = pa.array(bin_labels(edges, integers=integers, style=bins.labels), pa.string())
    index = pa.array(np.where(present, index, 0).astype(np.int32), mask=~present)
    return labels.take(index)


def describe(bins: Bins, edges: Sequence[float], *, dp: bool = False) -> dict:
    """The bins as metadata records them: kind, concrete edges, label style.

    ``data_derived`` is true when the edges reveal something about the data
    (exact quantiles, or width bins without a public range); edges from
    :func:`dp_quantile_edges` (``dp=True``) are DP outputs, safe to publish.
    """
    finite = [_plain(e) for e in edges if math.isfinite(e)]
    below, above = bool(edges) and math.isinf(edges[0]), bool(edges) and math.isinf(edges[-1])
    data_derived = (bins.kind == "quantiles" and not dp) or (bins.kind == "width" and not bins.has_range)
    doc: dict = {"kind": bins.kind, "edges": finite, "labels": bins.labels}
    if below or above:
        doc["open"] = True if below and above else ("below" if below else "above")
    if bins.kind == "quantiles":
        doc["dp"] = dp
    doc["data_derived"] = data_derived
    return doc
