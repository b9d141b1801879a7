"""The one load path: read → prepare → encode, used by every job.

:class:`Preparation` says how sensitive input is read and turned into
attributes, and is recorded in every release's metadata. :func:`load_input`
applies it to a file or an in-memory table and returns the codes, the
subject ids (when privacy is per subject) and the facts metadata needs;
:func:`load` returns only the codes. The steps, in order: read the input;
take out the subject ids; split multi-value cells into indicator columns;
encode (onto a codebook, when one is given); merge each subject's rows into
one record; join linked tables (perpetrators of each victim). Every job goes
through here, so every job gets them all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .binning import Bins, bin_column, bin_edges, dp_quantile_edges, numeric_values, parse_bins
from .binning import describe as describe_bins
from .constraints import Constraint
from .constraints import merged as merged_constraints
from .domain import apply_values
from .encode import EncodedTable, Schema, UnknownValues, encode, resolve_sensitive_zeros
from .errors import InputError, ParameterError
from .ingest import (
    NOTHING_TO_COUNT,
    Source,
    check_input,
    check_sheet,
    fingerprint,
    input_format,
    is_path,
    read_table,
)
from .linking import COUNT_BANDS, Link, bound_linked, count_band, join_tables, linked_subjects, prefixed
from .multivalue import check_delimiter, indicator_name, split_table
from .subjects import merge_subjects

#: Most distinct values a column may have by default (more: an identifier, or a number to bin).
DEFAULT_MAX_CARDINALITY = 10_000


@dataclass(frozen=True)
class Preparation:
    """How sensitive input is read and turned into attributes (recorded in metadata).

    ``null_markers`` are extra values meaning "no attribute" (the empty string
    and null always do); ``sensitive_zeros`` lists columns where ``0`` is a
    real value, or is ``"all"``. ``subject_id`` names a column identifying
    the subject of each row (all rows of one subject are protected together,
    and the column itself is not an attribute); ``codebook`` is a public CSV
    ``column,value`` listing every possible value of every column. ``sheet``
    names the sheet of an ``.xlsx`` input (default: the first sheet).
    ``max_cardinality`` refuses a column with more distinct values than this
    (an identifier or a raw number, to be binned or dropped); None: no limit.

    ``multi_value`` maps multi-value columns to their delimiter (a cell holds
    several values). With a ``subject_id``, the rows of each subject are
    merged into one record; a column whose values differ within a subject
    becomes multi-value, or is refused when ``strict``. ``links`` join other
    tables (one-to-many on the subject id, e.g. perpetrators of each victim).
    ``bins`` cuts numeric columns (of the input or of a linked table) into
    labelled bins (:class:`~showcase.engine.binning.Bins`, or its spelling
    such as ``"edges:0,18,30:open"``).
    """

    delimiter: str | None = None
    use_columns: Sequence[str] | None = None
    record_limit: int | None = None
    null_markers: Sequence[str] = field(default_factory=tuple)
    sensitive_zeros: str | Sequence[str] | None = None
    subject_id: str | None = None
    codebook: str | Path | None = None
    sheet: str | None = None
    max_cardinality: int | None = DEFAULT_MAX_CARDINALITY
    multi_value: Mapping[str, str] | Sequence[tuple[str, str]] = ()
    strict: bool = False
    links: Sequence[Link] = ()
    bins: Mapping[str, Bins | str] | Sequence[tuple[str, Bins]] = ()
    drop_unknown: bool = False
    #: Filled from a YAML/JSON codebook by :meth:`resolved`: each listed column's allowed values, and
    #: whether they are the public domain (every column listed).
    values: Sequence[tuple[str, tuple[str, ...]]] = ()
    public_values: bool = False
    #: Declared impossible combinations (a codebook's ``constraints:``, or given here): no synthetic
    #: record holds one (see :mod:`showcase.engine.constraints`).
    constraints: Sequence[Constraint] = ()

    def __post_init__(self) -> None:
        limit = self.max_cardinality
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ParameterError(f"max cardinality must be a positive integer, got {limit!r}")
        pairs = self.multi_value.items() if isinstance(self.multi_value, Mapping) else self.multi_value
        multi = tuple((str(name), check_delimiter(str(name), delimiter)) for name, delimiter in pairs)
        object.__setattr__(self, "multi_value", multi)
        links = tuple(self.links)
        if any(not isinstance(link, Link) for link in links):
            raise ParameterError("links must be Link values")
        object.__setattr__(self, "links", links)
        pairs = self.bins.items() if isinstance(self.bins, Mapping) else self.bins
        bins = tuple((str(name), parse_bins(b) if isinstance(b, str) else b) for name, b in pairs)
        if any(not isinstance(b, Bins) for _, b in bins):
            raise ParameterError("bins must be Bins values or their spelling, e.g. 'width:10'")
        both = sorted({name for name, _ in bins} & {name for name, _ in multi})
        if both:
            names = ", ".join(map(repr, both))
            raise ParameterError(f"column(s) {names}: a column is binned or multi-value, not both")
        object.__setattr__(self, "bins", bins)
        constraints = tuple(self.constraints)
        if any(not isinstance(c, Constraint) for c in constraints):
            raise ParameterError("constraints must be Constraint values")
        object.__setattr__(self, "constraints", constraints)
        if self.drop_unknown and self.codebook_kind == "csv":
            raise ParameterError(
                "--drop-unknown applies to a YAML/JSON codebook's values; a column,value codebook refuses "
                "values outside it (add them to it)"
            )
        for link in links:
            if self.subject_id is None:
                object.__setattr__(self, "subject_id", link.on)  # each victim is a subject
            elif link.on != self.subject_id:
                raise ParameterError(
                    f"a linked table is joined on the subject id: --on {link.on!r} is not the "
                    f"subject id {self.subject_id!r}"
                )

    def describe(self) -> dict:
        """The preparation as metadata records it (the codebook as a yes/no, never a path)."""
        doc = asdict(self)
        for key in ("use_columns", "null_markers"):
            if doc[key] is not None:
                doc[key] = list(doc[key])
        if isinstance(doc["sensitive_zeros"], (list, tuple)):
            doc["sensitive_zeros"] = list(doc["sensitive_zeros"])
        for key in ("subject_id", "codebook", "sheet"):
            if doc[key] is None:
                del doc[key]  # the metadata of releases without them stays as it was
        if doc["max_cardinality"] == DEFAULT_MAX_CARDINALITY:
            del doc["max_cardinality"]
        doc["multi_value"] = dict(self.multi_value)
        doc["links"] = [link.describe() for link in self.links]
        doc["bins"] = {name: bins.to_dict() for name, bins in self.bins}
        for key in ("strict", "values", "public_values", "constraints"):  # constraints: own section
            del doc[key]
        for key, empty in (("multi_value", {}), ("links", []), ("bins", {}), ("drop_unknown", False)):
            if doc[key] == empty:
                del doc[key]
        if "codebook" in doc:
            doc["codebook"] = True
        return doc

    @property
    def codebook_kind(self) -> str | None:
        """``"csv"`` for a ``column,value`` codebook, ``"file"`` for a YAML/JSON one, else None."""
        if self.codebook is None:
            return None
        return "file" if Path(self.codebook).suffix.lower() in (".yaml", ".yml", ".json") else "csv"

    @property
    def public_domain(self) -> bool:
        """Whether a codebook, not the data, lists every column's values (call on :meth:`resolved`).

        A ``column,value`` codebook lists the input's own columns only: a
        linked table's columns (and ``perp_count``) take their values from the
        data, so with links the domain is not public.
        """
        return (self.codebook_kind == "csv" and not self.links) or self.public_values

    def resolved(self) -> Preparation:
        """This preparation with a YAML/JSON codebook's settings folded in (once; others: itself).

        What the codebook says and the options give must agree: an option given
        both ways with different values is refused.
        """
        if self.codebook_kind != "file" or self.values or self.public_values:
            return self
        from .codebook import read_codebook_file

        book = read_codebook_file(self.codebook)
        merged = {}
        for name, value in book.preparation_fields().items():
            mine = getattr(self, name)
            if mine is None or mine == () or mine == []:
                merged[name] = value
            elif _normal(mine) != _normal(value):
                raise ParameterError(f"--{name.replace('_', '-')} is given both as an option and in the "
                                     f"codebook, differently: give it once")  # fmt: skip
        bins = dict(self.bins)
        for name, spec in [*book.bins().items(), *[p for b in book.link_bins().values() for p in b.items()]]:
            bins.setdefault(name, spec)
        values = tuple((name, tuple(v)) for name, v in book.allowed_values().items())
        if book.is_public_domain:  # the bands of linked rows are public too
            values += tuple((link.prefix + "count", tuple(b for b, _ in COUNT_BANDS)) for link in book.links)
        fields = {**merged, "bins": bins, "values": values, "public_values": book.is_public_domain,
                  "constraints": merged_constraints(self.constraints, book.constraints)}  # fmt: skip
        return replace(self, **fields)

    @property
    def dp_quantiles(self) -> list[str]:
        """The columns binned at quantiles: under DP their edges are DP estimates, charged to the budget."""
        return [name for name, bins in self.bins if bins.kind == "quantiles"]

    def files(self) -> list[str | Path]:
        """The files this preparation reads besides the input (the codebook)."""
        return ([self.codebook] if self.codebook is not None else []) + [link.table for link in self.links]


@dataclass
class Loaded:
    """A prepared input: codes, subject ids (or None: one subject per row), facts for metadata.

    ``changes`` says what preparation did (rows merged, columns split or made
    multi-value, linked rows dropped): for the data owner's summary; its
    counts are exact statistics of the sensitive data, never for a release.
    """

    table: EncodedTable
    subject: np.ndarray | None
    description: dict
    #: The values come from a public codebook rather than from the data.
    public_domain: bool = False
    changes: dict = field(default_factory=dict)
    #: With a subject id: each record's id (sensitive: for the prepared table, never a release).
    subjects: pa.Array | None = None


def _normal(value: object) -> object:
    """An option's value in a form that compares equal however it was spelled (list or tuple, dict)."""
    if isinstance(value, Mapping):
        return sorted(value.items())
    if isinstance(value, (list, tuple)):
        return [tuple(v) if isinstance(v, list) else v for v in value]
    return value


def check_source(source: Source, preparation: Preparation) -> None:
    """Fail early, in one line, on an unreadable input or codebook (before any work)."""
    check_input(source)
    check_sheet(source, preparation.sheet, preparation.delimiter)
    preparation = preparation.resolved()  # a YAML/JSON codebook is read and checked here
    for extra in preparation.files():
        if not (preparation.codebook_kind == "file" and extra == preparation.codebook):
            check_input(extra)


@dataclass(frozen=True)
class QuantileBudget:
    """Under DP, the epsilon of each quantile-binned column's edges, and the noise source."""

    epsilon: float
    source: object


def load_input(
    source: Source,
    preparation: Preparation = Preparation(),
    schema: Schema | None = None,
    seed: int | None = None,
    quantiles: QuantileBudget | None = None,
    fingerprint: bool = True,
    dp: bool = False,
) -> Loaded:
    """Read ``source`` (a path or a table) and prepare and encode it as ``preparation`` says.

    With ``schema`` the table is encoded onto it (a release onto the
    sensitive data's schema); a codebook gives the schema otherwise. ``seed``
    makes the random choice of linked rows beyond ``max_linked`` reproducible.
    Under DP, ``quantiles`` pays for the edges of quantile bins (one value
    per subject each), and ``dp`` fixes every bin label's style by the bins' spelling, never
    by the data. With a subject id, the records returned are subjects (their rows merged),
    and ``subject`` is None. ``fingerprint=False`` skips hashing the input, for reads whose
    description nobody records (a release's own records, opened to be explored).
    """
    preparation = preparation.resolved()
    raw = _read(source, preparation)
    # An in-memory input is fingerprinted as read (its text columns), not converted a second time.
    description = describe_input(source if is_path(source) else raw) if fingerprint else {}
    changes: dict = {}
    subject = keys = None
    if preparation.subject_id is not None:
        raw, subject, keys = _split_subject(raw, preparation.subject_id)
    if preparation.codebook_kind == "csv":
        schema = read_codebook(preparation.codebook, raw.column_names, preparation.multi_value)
    binned = [pair for pair in preparation.bins if pair[0] in raw.column_names]
    bins_elsewhere = [pair for pair in preparation.bins if pair not in binned]
    if bins_elsewhere and not preparation.links:
        raise ParameterError(f"unknown binned column(s) {', '.join(repr(n) for n, _ in bins_elsewhere)}")
    if schema is None or preparation.codebook is not None:  # a release's records come binned already
        raw = _binned(raw, binned, preparation, subject, quantiles, changes, dp)
    multi = tuple(pair for pair in preparation.multi_value if pair[0] in raw.column_names)
    elsewhere = [pair for pair in preparation.multi_value if pair not in multi]  # a linked table's
    if schema is not None and preparation.codebook is None:  # a release's records: split as the schema says
        multi = tuple(pair for pair in schema.multi_value if pair[0] in raw.column_names)
    elif elsewhere and not preparation.links:
        raise ParameterError(f"unknown multi-value column(s) {', '.join(repr(n) for n, _ in elsewhere)}")
    table = _encoded(raw, preparation, multi, schema, changes)
    if subject is not None:
        merged = merge_subjects(table, subject, strict=preparation.strict)
        table = merged.table
        changes.update(rows=merged.rows, subjects=merged.subjects)
        if merged.became_multi_value:
            changes["became_multi_value"] = merged.became_multi_value
        parts = [table]
        for link in preparation.links:
            parts += _linked(link, keys, merged.subjects, preparation, seed, changes,
                             elsewhere, bins_elsewhere, quantiles, dp)  # fmt: skip
        if bins_elsewhere:
            names = ", ".join(repr(n) for n, _ in bins_elsewhere)
            raise ParameterError(f"unknown binned column(s) {names}: in neither the input nor a linked table")
        if elsewhere:
            names = ", ".join(repr(n) for n, _ in elsewhere)
            raise ParameterError(
                f"unknown multi-value column(s) {names}: in neither the input nor a linked table"
            )
        table = join_tables(parts) if len(parts) > 1 else table
    if preparation.values:
        table = apply_values(table, dict(preparation.values), public=preparation.public_values,
                             drop_unknown=preparation.drop_unknown, changes=changes)  # fmt: skip
    if schema is None:
        check_cardinality(table, preparation.max_cardinality)
    public = preparation.public_domain
    if not dp and schema is None and not public and table.n_rows and not table.codes.any():
        # (A codebook's values make a schema, as when streamed. Under DP, refusing would tell a
        # neighbouring input apart: the release of nothing goes on, noisy like any other.)
        raise InputError(NOTHING_TO_COUNT)
    return Loaded(table, None, description, public_domain=public, changes=changes, subjects=keys)


def _read(source: Source, preparation: Preparation) -> pa.Table:
    """The input as text columns, with the subject id kept even when --use-columns leaves it out."""
    use = preparation.use_columns
    if use is not None and preparation.subject_id is not None and preparation.subject_id not in use:
        use = [*use, preparation.subject_id]
    try:
        return read_table(
            source,
            delimiter=preparation.delimiter,
            use_columns=use,
            record_limit=preparation.record_limit,
            sheet=preparation.sheet,
        )
    except ParameterError as error:
        if preparation.codebook_kind != "file" or "in --use-columns" not in str(error):
            raise
        # The columns to use are the codebook's: say so, not "use_columns".
        raise InputError(
            str(error).replace("in --use-columns", f"named by {Path(preparation.codebook).name}")
        ) from None


def _encoded(
    raw: pa.Table,
    preparation: Preparation,
    multi_value: Sequence[tuple[str, str]],
    schema: Schema | None,
    changes: dict,
) -> EncodedTable:
    """``raw`` with its multi-value cells split, encoded (onto ``schema`` when given)."""
    zeros = _zero_columns(raw.column_names, preparation)
    rows = raw.num_rows
    raw, split_cells = split_table(raw, multi_value, preparation.null_markers, zeros)
    if split_cells:
        changes.setdefault("split_cells", {}).update(split_cells)
    unsplit = [name for name, cells in split_cells.items() if not cells and rows]
    if unsplit:
        changes.setdefault("delimiter_never_found", []).extend(unsplit)
    if schema is not None:
        raw = _onto_indicators(raw, schema)
    split_zeros = [name for name in raw.column_names if name in zeros or name.split(":", 1)[0] in zeros]
    try:
        table = encode(raw, null_markers=preparation.null_markers, sensitive_zeros=split_zeros, schema=schema)
    except UnknownValues as unknown:
        if preparation.codebook_kind != "csv":
            raise
        # Sensitive values: counted, never printed (as a YAML codebook's check says it).
        raise InputError(
            f"column {unknown.column!r} has {unknown.count:,} value(s) outside the codebook: add them to it"
        ) from None
    if schema is None and multi_value:
        own = table.schema
        table = EncodedTable(Schema(own.columns, own.dictionaries, tuple(multi_value)), table.codes)
    return table


def _zero_columns(columns: Sequence[str], preparation: Preparation) -> set[str]:
    """The sensitive-zero columns among ``columns``; with linked tables a name may be another table's."""
    chosen = preparation.sensitive_zeros
    if preparation.links and chosen is not None and not (isinstance(chosen, str) and chosen == "all"):
        chosen = [name for name in ([chosen] if isinstance(chosen, str) else chosen) if name in columns]
    return resolve_sensitive_zeros(columns, chosen)


def _binned(
    raw: pa.Table,
    binned: Sequence[tuple[str, Bins]],
    preparation: Preparation,
    subject: np.ndarray | None,
    quantiles: QuantileBudget | None,
    changes: dict,
    dp: bool = False,
) -> pa.Table:
    """``raw`` with each binned column replaced by its bin labels.

    Under DP (``dp``; ``quantiles`` given when some column has quantile bins)
    quantile edges are DP estimates from one value per subject, and the label
    style is fixed by the bins alone (integer labels when every given edge,
    width and origin is whole), so that no choice depends on the data: one
    record's decimal would otherwise relabel every bin of its column.
    """
    for name, bins in binned:
        column = raw.column(name)
        values = numeric_values(column, name, preparation.null_markers)
        integers = None
        if dp or quantiles is not None:
            integers = bins.kind == "quantiles" or _whole_spec(bins)
        if bins.kind == "quantiles" and quantiles is not None:
            sample = values if subject is None else values[_first_rows(subject)]
            edges = dp_quantile_edges(sample[~np.isnan(sample)], bins, quantiles.epsilon, quantiles.source)
        else:
            edges = bin_edges(values[~np.isnan(values)], bins)
        labels = bin_column(column, bins, name, preparation.null_markers, edges=edges, integers=integers)
        raw = raw.set_column(raw.column_names.index(name), name, labels)
        changes.setdefault("binned", {})[name] = describe_bins(bins, edges, dp=quantiles is not None)
    return raw


def _whole_spec(bins: Bins) -> bool:
    """Whether the bins' own numbers (edges, width, origin, range) are all whole."""
    numbers = [*(bins.edges or ()), bins.width or 0, bins.origin, bins.lower or 0, bins.upper or 0]
    return all(float(x).is_integer() for x in numbers if np.isfinite(x))


def _first_rows(subject: np.ndarray) -> np.ndarray:
    """The first row of every subject (one value each: a subject's weight in a DP quantile is one)."""
    return np.unique(subject, return_index=True)[1]


def _onto_indicators(raw: pa.Table, schema: Schema) -> pa.Table:
    """``raw`` (multi-value cells split) with every indicator column of ``schema``, absent ones empty.

    An indicator written as a 0/1 column (``COL:value`` holding ``1``) is read as that value.
    """
    if not schema.multi_value:
        return raw
    groups = schema.groups
    names, columns = list(raw.column_names), list(raw.columns)
    for c, name in enumerate(schema.columns):
        if groups[c] == name:
            continue
        value = name[len(groups[c]) + 1 :]
        if name not in names:
            names.append(name)
            columns.append(pa.nulls(raw.num_rows, pa.string()))
            continue
        column = columns[names.index(name)].cast(pa.string())
        if not pc.all(pc.is_in(pc.drop_null(column), value_set=pa.array([value, "1", "0", ""]))).as_py():
            continue  # not a 0/1 column: the encoder names what it does not know
        flag = pc.equal(column, "1")
        columns[names.index(name)] = pc.if_else(flag, value, pc.if_else(pc.equal(column, value), value, None))
    return pa.Table.from_arrays(columns, names=names)


def _linked(
    link: Link,
    keys: pa.Array,
    n_subjects: int,
    preparation: Preparation,
    seed: int | None,
    changes: dict,
    elsewhere: list[tuple[str, str]],
    bins_elsewhere: list[tuple[str, Bins]],
    quantiles: QuantileBudget | None,
    dp: bool = False,
) -> list[EncodedTable]:
    """A linked table merged onto the subjects: its columns (prefixed, multi-value) and the count band.

    The multi-value columns ``elsewhere`` (not the input's) and the binned
    columns ``bins_elsewhere`` that this table has are prepared here, and
    taken off those lists.
    """
    use = link.use_columns
    if use is not None and link.on not in use:
        use = [*use, link.on]
    try:
        raw = read_table(link.table, delimiter=preparation.delimiter, use_columns=use)
    except ParameterError as error:  # name what gave the columns: the codebook's links, or the flag
        given = "--link-columns"
        if preparation.codebook_kind == "file":
            given = f"the links' columns of {Path(preparation.codebook).name}"
        raise ParameterError(str(error).replace("in --use-columns", f"in {given}")) from None
    if link.on not in raw.column_names:
        raise InputError(
            f"the linked table has no key column {link.on!r} (--on): the key must be on both sides"
        )
    subject = linked_subjects(raw.column(link.on), keys, link.on)
    # The count band counts every linked row, before the cap: one value per subject either way, so
    # the cap bounds what a subject's rows add without hiding how many it had.
    band = count_band(subject, n_subjects, link.count_column)
    raw = raw.drop_columns([link.on])
    if link.max_linked is not None:
        from .randomness import make_rng

        keep = bound_linked(subject, link.max_linked, make_rng(seed))
        dropped = int(len(keep) - np.count_nonzero(keep))
        if dropped:
            raw, subject = raw.filter(pa.array(keep)), subject[keep]
        changes.setdefault("linked_rows_dropped", {})[link.prefix] = dropped
    mine = [pair for pair in elsewhere if pair[0] in raw.column_names]
    for pair in mine:
        elsewhere.remove(pair)
    my_bins = [pair for pair in bins_elsewhere if pair[0] in raw.column_names]
    for pair in my_bins:
        bins_elsewhere.remove(pair)
    raw = _binned(raw, my_bins, preparation, subject, quantiles, changes, dp)
    table = _encoded(raw, preparation, [*link.multi_value, *mine], None, changes)
    check_cardinality(table, preparation.max_cardinality)
    merged = merge_subjects(table, subject, all_multi_value=True, n_subjects=n_subjects)
    changes.setdefault("linked_rows", {})[link.prefix] = len(subject)
    return [prefixed(merged.table, link.prefix), band]


def check_cardinality(table: EncodedTable, limit: int | None) -> None:
    """Refuse a column with more than ``limit`` distinct values, naming it and the count only.

    A multi-value column counts the values of all its indicators.
    """
    if limit is None:
        return
    sizes: dict[str, int] = {}
    for group, values in zip(table.schema.groups, table.schema.dictionaries):
        sizes[group] = sizes.get(group, 0) + len(values)
    for name, size in sizes.items():
        if size > limit:
            raise InputError(
                f"column {name!r} has {size:,} distinct values, more than the limit of {limit:,}: "
                "bin it, drop it (--use-columns), or raise --max-cardinality"
            )


def load(
    source: Source,
    preparation: Preparation = Preparation(),
    schema: Schema | None = None,
    fingerprint: bool = True,
) -> EncodedTable:
    """Read and encode a sensitive input (a path or a table) as ``preparation`` says."""
    return load_input(source, preparation, schema, fingerprint=fingerprint).table


def load_onto(source: Source, sensitive: EncodedTable, preparation: Preparation) -> EncodedTable:
    """Read a release's records and encode them on the sensitive data's schema.

    The record limit, the subject id and the sheet are the sensitive input's, not the release's.
    """
    own = replace(preparation, record_limit=None, subject_id=None, codebook=None, sheet=None, links=(),
                  values=(), public_values=False, bins=())  # fmt: skip
    return load(source, own, schema=sensitive.schema)


def _split_subject(raw: pa.Table, column: str) -> tuple[pa.Table, np.ndarray, pa.Array]:
    """The table without its subject id column, one subject number per row, and the subjects' ids."""
    if column not in raw.column_names:
        shown = ", ".join(raw.column_names[:12]) + (" ..." if raw.num_columns > 12 else "")
        raise ParameterError(
            f"unknown subject id column {column!r} (--subject-id, or with --link its --on key); "
            f"the input has {shown}"
        )
    subject, keys = subject_ids(raw.column(column), column)
    raw = raw.drop_columns([column])
    if raw.num_columns == 0:
        raise ParameterError(f"the subject id {column!r} is the input's only column")
    return raw, subject, keys


def subject_ids(column: pa.ChunkedArray, name: str = "subject id") -> tuple[np.ndarray, pa.Array]:
    """One number per row, the same for all rows of one subject (0, 1, ... by first row), and the ids.

    A row without a subject id is an error that gives the number of such rows, never a value.
    """
    # Plain text first: a dictionary column may hold unused entries, and subject numbers must be dense.
    ids = pc.dictionary_encode(column.cast(pa.large_string()).combine_chunks())
    codes = pc.fill_null(ids.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    blank = np.flatnonzero(pc.equal(ids.dictionary, "").to_numpy(zero_copy_only=False))
    missing = int(np.count_nonzero((codes < 0) | np.isin(codes, blank)))
    if missing:
        raise InputError(
            f"the subject id {name!r} is empty in {missing:,} row(s): give every row its subject, "
            "or drop those rows"
        )
    return codes, ids.dictionary.cast(pa.string())


def read_codebook(
    path: str | Path, columns: Sequence[str], multi_value: Sequence[tuple[str, str]] = ()
) -> Schema:
    """A public codebook: a CSV with columns ``column,value``, one row per possible value.

    ``columns`` are the input's (multi-value cells not yet split); each value
    of a multi-value column becomes its indicator column.
    """
    table = read_table(path)
    if table.column_names[:2] != ["column", "value"]:
        raise InputError(f"{path}: a codebook needs the header 'column,value'")
    names = table.column("column").cast(pa.string()).to_pylist()
    values = table.column("value").cast(pa.string()).to_pylist()
    unknown = sorted({n for n in names if n not in set(columns)})
    if unknown:
        raise InputError(f"{path}: codebook names unknown column(s) {', '.join(map(repr, unknown))}")
    multi = dict(multi_value)
    schema_columns, dictionaries = [], []
    for name in columns:
        mine = sorted({v for n, v in zip(names, values) if n == name and v}, key=str.encode)
        if not mine:
            raise InputError(f"{path}: codebook lists no values for column {name!r}")
        if name in multi:
            schema_columns += [indicator_name(name, value) for value in mine]
            dictionaries += [pa.array([value], pa.string()) for value in mine]
        else:
            schema_columns.append(name)
            dictionaries.append(pa.array(mine, pa.string()))
    kept = tuple((name, delimiter) for name, delimiter in multi_value if name in columns)
    return Schema(tuple(schema_columns), tuple(dictionaries), kept)


def describe_input(source: Source) -> dict:
    """Non-sensitive facts about an input: its format and fingerprint."""
    kind = input_format(Path(source)) if is_path(source) else "table"
    return {"format": kind, "fingerprint": fingerprint(source)}
