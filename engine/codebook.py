"""Codebooks: a YAML or JSON file saying which columns to use, how to read them, and their values.

A codebook names the input's columns to use (the others are dropped), for
each its allowed values (in a *public* codebook: every possible value, known
without looking at the data), whether it is multi-value or binned, the
subject id, the null markers, and the linked tables::

    showcase_codebook: 1
    subject_id: victim_id
    null_markers: ["N/A", "-99"]
    columns:
      gender: {values: [Female, Male, Transgender/NonConforming]}
      age: {bins: {width: 10, range: [0, 99]}}
      means_of_control: {multi_value: ";", values: [debt bondage, threats]}
      citizenship: {}            # used, values not listed: not a public domain
    links:
      - table: perpetrators.csv  # relative to the codebook's folder
        on: victim_id
        prefix: perp_
        max_linked: 5
        columns:
          gender: {values: [Female, Male]}
    constraints:                 # impossible combinations: no synthetic record holds one
      - name: married child
        reason: nobody under 15 is married
        age: ["0-9", "10-19"]    # a binned column by its bin labels
        marital: [Married, Widowed, Divorced]

A constraint lists two or more columns (``name`` and ``reason`` are optional
and are not columns), each with a value or a list of values; a record is
impossible when every listed column holds one of its listed values (a record
with no attribute for a column does not match). Constraints are public, come
from the codebook's author and cost no privacy budget (see
:mod:`showcase.engine.constraints`).

:func:`read_codebook_file` reads and validates one (every problem one
:class:`InputError` line naming the file and the key path);
:func:`infer_codebook` drafts one from the data, and :func:`draft_text`
writes that draft with a warning that its values came from the sensitive
data. Error messages name keys, columns and positions, never a value.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import yaml

from .binning import NUMBER, Bins, bin_edges, bin_labels
from .constraints import ENTRY_KEYS, Constraint
from .errors import InputError, ParameterError
from .ingest import Source, input_format, is_path, parse_delimiter, read_table
from .linking import COUNT_BANDS, Link
from .multivalue import DEFAULT_DELIMITER, check_delimiter

#: The key (and version) every codebook starts with.
FORMAT_KEY, FORMAT_VERSION = "showcase_codebook", 1
YAML_SUFFIXES, JSON_SUFFIXES = (".yaml", ".yml"), (".json",)
TOP_KEYS = (
    FORMAT_KEY,
    "subject_id",
    "delimiter",
    "null_markers",
    "sensitive_zeros",
    "columns",
    "links",
    "constraints",
    "draft",
)
COLUMN_KEYS = ("values", "multi_value", "bins")
LINK_KEYS = ("table", "on", "prefix", "max_linked", "columns")
DEFAULT_PREFIX = "perp_"

#: Drafting: a column is id-like with at least this share of distinct values (and more than ID_MIN).
ID_SHARE, ID_MIN = 0.9, 100
#: Drafting: a delimiter found in at least this share of non-empty cells makes a column multi-value.
MULTI_SHARE = 0.05
#: Drafting: bins of a numeric column aim at about this many bins.
TARGET_BINS = 10
#: Drafting: values seen in fewer rows than this are counted in a note (rare values identify people).
RARE_ROWS = 5


# ---------------------------------------------------------------------------- the format


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a codebook: its allowed values, multi-value delimiter, or bins.

    ``values`` (in a public codebook, every possible value; of a multi-value
    column, every possible element) or ``bins``, or neither (values not listed).
    """

    values: tuple[str, ...] | None = None
    multi_value: str | None = None
    bins: Bins | None = None

    def __post_init__(self) -> None:
        if self.values is not None:
            object.__setattr__(self, "values", tuple(self.values))

    @property
    def public_values(self) -> tuple[str, ...] | None:
        """The values this column may take, known without the data; None if not listed."""
        if self.values is not None:
            return self.values
        if self.bins is not None:
            return public_bin_labels(self.bins)
        return None

    def to_dict(self) -> dict:
        doc: dict = {}
        if self.multi_value is not None:
            doc["multi_value"] = self.multi_value
        if self.values is not None:
            doc["values"] = list(self.values)
        if self.bins is not None:
            doc["bins"] = self.bins.to_dict()
        return doc


@dataclass(frozen=True)
class LinkSpec:
    """A linked table: ``table`` rows belong to the subject whose ``on`` key they hold.

    ``columns`` None: every column of the table (values not listed).
    """

    table: Path
    on: str
    prefix: str = DEFAULT_PREFIX
    max_linked: int | None = None
    columns: dict[str, ColumnSpec] | None = None

    def link(self) -> Link:
        """The engine's :class:`Link` of this table."""
        columns = self.columns
        return Link(
            self.table,
            self.on,
            prefix=self.prefix,
            use_columns=list(columns) if columns is not None else None,
            multi_value=tuple((n, s.multi_value) for n, s in (columns or {}).items() if s.multi_value),
            max_linked=self.max_linked,
        )

    @property
    def is_public_domain(self) -> bool:
        return self.columns is not None and all(s.public_values is not None for s in self.columns.values())

    def to_dict(self, folder: Path) -> dict:
        doc: dict = {"table": _relative(self.table, folder), "on": self.on, "prefix": self.prefix}
        if self.max_linked is not None:
            doc["max_linked"] = self.max_linked
        if self.columns is not None:
            doc["columns"] = {name: spec.to_dict() for name, spec in self.columns.items()}
        return doc


@dataclass(frozen=True)
class Codebook:
    """A codebook: the columns to use (in order; others are dropped) and how to read the input.

    ``notes`` are remarks of a draft (:func:`infer_codebook`) for the person
    reviewing it; they are not part of the file.
    """

    columns: dict[str, ColumnSpec]
    subject_id: str | None = None
    null_markers: tuple[str, ...] = ()
    sensitive_zeros: tuple[str, ...] | str | None = None
    delimiter: str | None = None
    links: tuple[LinkSpec, ...] = ()
    path: Path = Path("codebook.yaml")
    constraints: tuple[Constraint, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False, repr=False)
    #: Drafted from the data (:func:`infer_codebook`) and not yet marked reviewed: its values
    #: came from the sensitive data, so they are never taken as the public domain.
    draft: bool = False

    @property
    def subject(self) -> str | None:
        """The subject id in effect: given, or the key of the linked tables."""
        if self.subject_id is not None:
            return self.subject_id
        return self.links[0].on if self.links else None

    @property
    def is_public_domain(self) -> bool:
        """Whether every column, of the input and of every link, lists its values (or public bin labels).

        Never for a draft: values read from the data are no public domain until someone has reviewed them.
        """
        if self.draft:
            return False
        own = all(spec.public_values is not None for spec in self.columns.values())
        return own and all(link.is_public_domain for link in self.links)

    def preparation_fields(self) -> dict:
        """Keyword arguments of :class:`~showcase.engine.prepare.Preparation` (bins aside: :meth:`bins`)."""
        use = list(self.columns)
        if self.subject is not None and self.subject not in use:
            use.append(self.subject)
        return {
            "use_columns": use,
            "multi_value": {name: s.multi_value for name, s in self.columns.items() if s.multi_value},
            "null_markers": tuple(self.null_markers),
            "sensitive_zeros": self.sensitive_zeros,
            "delimiter": self.delimiter,
            "subject_id": self.subject_id,
            "links": tuple(link.link() for link in self.links),
        }

    def bins(self) -> dict[str, Bins]:
        """Column → bins, for the input's binned columns."""
        return {name: spec.bins for name, spec in self.columns.items() if spec.bins is not None}

    def link_bins(self) -> dict[str, dict[str, Bins]]:
        """Link prefix → (column of the linked table, unprefixed → bins)."""
        return {
            link.prefix: {name: s.bins for name, s in (link.columns or {}).items() if s.bins is not None}
            for link in self.links
        }

    def allowed_values(self) -> dict[str, tuple[str, ...]]:
        """Column → its listed values (or public bin labels); linked columns by prefixed name.

        Columns whose values are not listed are left out. The labels of bins
        are those of whole numbers when every edge is one (see :func:`public_bin_labels`).
        """
        allowed = {n: s.public_values for n, s in self.columns.items() if s.public_values is not None}
        for link in self.links:
            for name, spec in (link.columns or {}).items():
                if spec.public_values is not None:
                    allowed[link.prefix + name] = spec.public_values
        return allowed

    def to_dict(self, folder: str | Path | None = None) -> dict:
        """The codebook as its file holds it; link tables relative to ``folder`` (default: its own)."""
        folder = Path(folder) if folder is not None else self.path.parent
        doc: dict = {FORMAT_KEY: FORMAT_VERSION}
        if self.draft:
            doc["draft"] = True
        if self.subject_id is not None:
            doc["subject_id"] = self.subject_id
        if self.delimiter is not None:
            doc["delimiter"] = self.delimiter
        if self.null_markers:
            doc["null_markers"] = list(self.null_markers)
        if self.sensitive_zeros is not None:
            zeros = self.sensitive_zeros
            doc["sensitive_zeros"] = zeros if isinstance(zeros, str) else list(zeros)
        doc["columns"] = {name: spec.to_dict() for name, spec in self.columns.items()}
        if self.links:
            doc["links"] = [link.to_dict(folder) for link in self.links]
        if self.constraints:
            doc["constraints"] = [constraint.to_dict() for constraint in self.constraints]
        return doc

    def dumps(self, kind: str = "yaml", folder: str | Path | None = None) -> str:
        """The codebook as YAML or JSON text (``kind``), link tables relative to ``folder``."""
        doc = self.to_dict(folder)
        if kind == "json":
            return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        if kind != "yaml":
            raise ParameterError(f"a codebook is written as yaml or json, not {kind!r}")
        return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)

    def write(self, path: str | Path) -> Path:
        """Write the codebook to ``path``: YAML for .yaml/.yml, JSON for .json; return the path."""
        path = Path(path)
        path.write_text(self.dumps(_kind(path), path.parent), encoding="utf-8")
        return path


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper: short lists and bins on one line, long lists one value a line."""


def _list(dumper: _Dumper, data: list) -> yaml.Node:
    short = len(data) <= 12 and sum(len(str(item)) + 2 for item in data) <= 72
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=short)


def _dict(dumper: _Dumper, data: dict) -> yaml.Node:
    flat = all(not isinstance(v, (dict, list)) or isinstance(v, list) and len(v) <= 12 for v in data.values())
    flow = (
        flat
        and bool(data)
        and set(data) <= {"width", "edges", "quantiles", "from", "range", "open", "labels"}
    )
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


_Dumper.add_representer(list, _list)
_Dumper.add_representer(dict, _dict)


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES:
        return "yaml"
    if suffix in JSON_SUFFIXES:
        return "json"
    raise ParameterError(f"{path.name}: a codebook is a .yaml, .yml or .json file")


def _relative(table: Path, folder: Path) -> str:
    """``table`` relative to ``folder`` when it can be, else absolute (forward slashes either way)."""
    try:
        text = os.path.relpath(os.path.abspath(table), os.path.abspath(folder))
    except ValueError:  # another drive (Windows)
        text = os.path.abspath(table)
    return Path(text).as_posix()


def public_bin_labels(bins: Bins) -> tuple[str, ...] | None:
    """The labels of ``bins`` when they are known without the data (edges, or width with a range).

    Quantile bins and width bins without a public range depend on the data:
    None. Labels are those of whole numbers when every finite edge is one.
    """
    if bins.kind == "quantiles" or (bins.kind == "width" and not bins.has_range):
        return None
    edges = bin_edges(np.empty(0), bins)
    integers = all(math.isinf(e) or float(e).is_integer() for e in edges)
    return tuple(bin_labels(edges, integers=integers, style=bins.labels))


# ---------------------------------------------------------------------------- reading


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (a typo would win silently)."""


class _Duplicate(Exception):
    def __init__(self, key: object, line: int) -> None:
        self.key, self.line = key, line


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            if key in seen:
                raise _Duplicate(key, key_node.start_mark.line + 1)
            seen.add(key)
        except TypeError:
            pass  # an unhashable key: construct_mapping names the problem
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _parse(text: str, kind: str, name: str):
    if kind == "json":

        def pairs(items: list) -> dict:
            doc: dict = {}
            for key, value in items:
                if key in doc:
                    raise InputError(f"{name}: the key {key!r} is given twice in one object")
                doc[key] = value
            return doc

        try:
            return json.loads(text, object_pairs_hook=pairs)
        except json.JSONDecodeError as problem:  # its message quotes no text, only a position
            raise InputError(f"{name}: not valid JSON (line {problem.lineno}, column {problem.colno}): "
                             f"{problem.msg}") from None  # fmt: skip
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader
    except _Duplicate as problem:
        raise InputError(f"{name}: line {problem.line}: the key {problem.key!r} is given twice") from None
    except yaml.YAMLError as problem:
        # Only the position and the kind of problem: the snippet YAML quotes may hold values.
        mark = getattr(problem, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        what = getattr(problem, "problem", None) or "a syntax error"
        raise InputError(f"{name}: not valid YAML{where}: {what}") from None


def read_codebook_file(path: str | Path) -> Codebook:
    """Read and validate a codebook (``.yaml``/``.yml`` or ``.json``).

    Every problem is an :class:`InputError` of one line naming the file and
    the key path, e.g. ``codebook.yaml: columns.age.bins: bin edges must be
    strictly increasing``; link tables are resolved relative to the file's
    folder and must exist.
    """
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise InputError(f"{name}: no such file")
    if not path.is_file():
        raise InputError(f"{name}: not a file")
    suffix = path.suffix.lower()
    if suffix not in YAML_SUFFIXES + JSON_SUFFIXES:
        raise InputError(f"{name}: a codebook is a .yaml, .yml or .json file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{name}: not UTF-8 text") from None
    doc = _parse(text, "json" if suffix in JSON_SUFFIXES else "yaml", name)
    return _Reader(name, path).codebook(doc)


def _key_path(parent: str, key: str) -> str:
    """``parent.key``, or ``parent['odd key']`` for a key that is not a plain name."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", key):
        return f"{parent}.{key}" if parent else key
    return f"{parent}[{key!r}]"


class _Reader:
    """Validation of a parsed codebook, every error naming the file and the key path."""

    def __init__(self, name: str, path: Path) -> None:
        self.name, self.path = name, path

    def fail(self, where: str, message: str) -> InputError:
        return InputError(f"{self.name}: {where}: {message}" if where else f"{self.name}: {message}")

    def keys(self, doc: dict, known: Sequence[str], where: str) -> None:
        for key in doc:
            if not isinstance(key, str) or key not in known:
                spelled = key if isinstance(key, str) else str(key)
                close = difflib.get_close_matches(spelled, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; the keys are {', '.join(known)}"
                raise self.fail(where, f"unknown key {spelled!r}{hint}")

    def text(self, value: object, where: str, what: str = "text") -> str:
        """A scalar as text: text as it is, a whole number as its digits; else an error (no value shown)."""
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        kind = {bool: "true/false", float: "a decimal number", type(None): "empty"}.get(type(value))
        kind = kind or ("a list" if isinstance(value, list) else "a mapping" if isinstance(value, dict) else
                        f"a {type(value).__name__}")  # fmt: skip
        raise self.fail(where, f"must be {what}, not {kind} (quote it: '...')")

    def texts(self, value: object, where: str, *, single: bool = False) -> tuple[str, ...]:
        if single and not isinstance(value, list):
            return (self.text(value, where),)
        if not isinstance(value, list):
            raise self.fail(where, "must be a list such as [a, b]")
        return tuple(self.text(item, f"{where}[{i}]") for i, item in enumerate(value))

    def codebook(self, doc: object) -> Codebook:
        if not isinstance(doc, dict) or FORMAT_KEY not in doc:
            raise self.fail(
                "", f"not a showcase codebook: it must start with '{FORMAT_KEY}: {FORMAT_VERSION}'"
            )
        version = doc[FORMAT_KEY]
        if isinstance(version, bool) or version != FORMAT_VERSION:
            raise self.fail(FORMAT_KEY, f"this showcase reads codebook version {FORMAT_VERSION} only")
        self.keys(doc, TOP_KEYS, "")
        subject_id = self.optional_text(doc, "subject_id")
        delimiter = self.optional_text(doc, "delimiter")
        if delimiter is not None:
            try:
                parse_delimiter(delimiter, self.path)
            except ParameterError as problem:
                raise self.fail("delimiter", str(problem)) from None
        markers = doc.get("null_markers")
        null_markers = () if markers is None else self.texts(markers, "null_markers", single=True)
        if "columns" not in doc:
            raise self.fail(
                "", "no 'columns': list the columns to use, e.g. columns: {gender: {values: [F, M]}}"
            )
        columns = self.columns(doc["columns"], "columns")
        if subject_id is not None and subject_id in columns:
            raise self.fail("subject_id", f"{subject_id!r} is also listed under columns: the subject id is "
                            "no attribute; remove it from columns")  # fmt: skip
        links = self.links(doc.get("links"), subject_id, columns)
        zeros = self.sensitive_zeros(doc.get("sensitive_zeros"), columns, links)
        constraints = self.constraints(doc.get("constraints"), columns, links)
        draft = doc.get("draft", False)
        if not isinstance(draft, bool):
            raise self.fail("draft", "must be true or false (delete the line once the draft is reviewed)")
        return Codebook(columns, subject_id, null_markers, zeros, delimiter, links, self.path, constraints,
                        draft=draft)  # fmt: skip

    def optional_text(self, doc: dict, key: str, where: str = "") -> str | None:
        value = doc.get(key)
        if value is None:
            return None
        text = self.text(value, _key_path(where, key))
        if not text:
            raise self.fail(_key_path(where, key), "is empty")
        return text

    def columns(self, doc: object, where: str) -> dict[str, ColumnSpec]:
        if not isinstance(doc, dict):
            raise self.fail(where, "must be a mapping of column name → {values: [...]} (or {})")
        if not doc:
            raise self.fail(where, "lists no column: list the columns to use")
        columns: dict[str, ColumnSpec] = {}
        for key, spec in doc.items():
            name = self.text(key, where, "a column name")
            if not name:
                raise self.fail(where, "a column name is empty")
            if name in columns:  # e.g. 1 and '1'
                raise self.fail(where, f"the column {name!r} is listed twice")
            columns[name] = self.column(spec, _key_path(where, name))
        return columns

    def column(self, doc: object, where: str) -> ColumnSpec:
        if doc is None:
            return ColumnSpec()
        if not isinstance(doc, dict):
            raise self.fail(where, "must be a mapping with values, multi_value or bins (or {})")
        self.keys(doc, COLUMN_KEYS, where)
        multi = doc.get("multi_value")
        if multi is True:
            multi = DEFAULT_DELIMITER
        elif multi is False:
            multi = None
        if multi is not None:
            multi = self.text(multi, f"{where}.multi_value", "a delimiter such as ';'")
            try:
                check_delimiter("", multi)
            except ParameterError:
                raise self.fail(f"{where}.multi_value", "the delimiter must be non-empty text "
                                "without line breaks, such as ';'") from None  # fmt: skip
        bins = None
        if doc.get("bins") is not None:
            if multi is not None:
                raise self.fail(where, "a column is multi-value or binned, not both")
            if doc.get("values") is not None:
                raise self.fail(where, "give values or bins, not both (bins make their own labels)")
            try:
                bins = Bins.from_dict(doc["bins"])
                public_bin_labels(bins)  # too many bins for the range fails here
            except ParameterError as problem:
                raise self.fail(f"{where}.bins", str(problem)) from None
        values = None
        if doc.get("values") is not None:
            values = self.texts(doc["values"], f"{where}.values")
            if not values:
                raise self.fail(f"{where}.values", "is empty: list the column's values, or leave values out")
            first: dict[str, int] = {}
            for i, value in enumerate(values):
                if not value:
                    raise self.fail(f"{where}.values[{i}]", "is empty (an empty cell always means no value)")
                if multi is not None and multi in value:
                    raise self.fail(
                        f"{where}.values[{i}]", f"holds the delimiter {multi!r}: list single values"
                    )
                if value in first:
                    raise self.fail(f"{where}.values[{i}]", f"repeats values[{first[value]}]")
                first[value] = i
        return ColumnSpec(values, multi, bins)

    def links(self, doc: object, subject_id: str | None, columns: dict) -> tuple[LinkSpec, ...]:
        if doc is None:
            return ()
        if not isinstance(doc, list):
            raise self.fail("links", "must be a list of linked tables: - {table: ..., on: ...}")
        links: list[LinkSpec] = []
        key = subject_id
        for i, item in enumerate(doc):
            where = f"links[{i}]"
            if not isinstance(item, dict):
                raise self.fail(where, "must be a mapping with table, on (and prefix, max_linked, columns)")
            if True in item and "on" not in item:  # YAML 1.1 reads an unquoted key on as true
                item = {("on" if key is True else key): value for key, value in item.items()}
            self.keys(item, LINK_KEYS, where)
            table = self.optional_text(item, "table", where)
            if table is None:
                raise self.fail(where, "a link needs 'table', the linked file (relative to the codebook)")
            on = self.optional_text(item, "on", where)
            if on is None:
                raise self.fail(
                    where, "a link needs 'on', the key column both tables share (e.g. on: victim_id)"
                )
            if key is not None and on != key:
                what = "the subject id" if subject_id is not None else "the key of links[0]"
                raise self.fail(f"{where}.on", f"{on!r} is not {what} {key!r}: a linked table is joined "
                                "on the subject id")  # fmt: skip
            key = on
            resolved = Path(os.path.abspath(self.path.parent / table))
            if not resolved.is_file():
                raise self.fail(
                    f"{where}.table", f"no such file {table!r} (relative to the codebook's folder)"
                )
            try:
                input_format(resolved)
            except InputError as problem:
                raise self.fail(f"{where}.table", str(problem)) from None
            prefix = item.get("prefix", DEFAULT_PREFIX)
            prefix = self.text(prefix, f"{where}.prefix")
            for j, other in enumerate(links):
                if other.prefix == prefix:
                    raise self.fail(f"{where}.prefix", f"{prefix!r} is the prefix of links[{j}] too")
            bound = item.get("max_linked")
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int) or bound < 1):
                raise self.fail(f"{where}.max_linked", "must be a positive whole number (or left out: all)")
            own = None
            if item.get("columns") is not None:
                own = self.columns(item["columns"], f"{where}.columns")
                if on in own:
                    raise self.fail(f"{where}.columns", f"lists the key {on!r}: the key is no attribute")
                for name in [*own, "count"]:
                    if prefix + name in columns or prefix + name == subject_id:
                        place = _key_path(f"{where}.columns", name) if name in own else f"{where}.prefix"
                        raise self.fail(place, f"the release column {prefix + name!r} is also an input "
                                        "column: choose another prefix")  # fmt: skip
            links.append(LinkSpec(resolved, on, prefix, bound, own))
        return tuple(links)

    def constraints(
        self, doc: object, columns: dict[str, ColumnSpec], links: tuple[LinkSpec, ...]
    ) -> tuple[Constraint, ...]:
        if doc is None:
            return ()
        if not isinstance(doc, list):
            raise self.fail("constraints", "must be a list of impossible combinations: - {age: 0-14, ...}")
        known = dict(columns)
        for link in links:
            known.update({link.prefix + name: spec for name, spec in (link.columns or {}).items()})
            # The band of linked rows per subject is a column of the release too (e.g. perp_count: 6+).
            known[link.prefix + "count"] = ColumnSpec(values=tuple(band for band, _ in COUNT_BANDS))
        open_links = any(link.columns is None for link in links)
        found = []
        for i, item in enumerate(doc):
            where = f"constraints[{i}]"
            if not isinstance(item, dict):
                raise self.fail(where, "must be a mapping of column → value or list of values")
            name = self.optional_text(item, "name", where)
            reason = self.optional_text(item, "reason", where)
            entry = []
            for key, value in item.items():
                if key in ENTRY_KEYS:
                    continue
                column = self.text(key, where, "a column name")
                place = _key_path(where, column)
                if column not in known and not (
                    open_links and any(column.startswith(k.prefix) for k in links)
                ):
                    close = difflib.get_close_matches(column, list(known), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise self.fail(place, f"{column!r} is not a column of the codebook{hint}")
                values = self.texts(value, place, single=True)
                if not values:
                    raise self.fail(place, "lists no value")
                spec = known.get(column)
                public = spec.public_values if spec is not None else None
                for j, text in enumerate(values):
                    if not text:
                        raise self.fail(f"{place}[{j}]", "is empty (a record without the attribute never "
                                        "matches)")  # fmt: skip
                    if public is not None and text not in public:
                        what = "bin labels" if spec.bins is not None else "values"
                        raise self.fail(f"{place}[{j}]", f"is not one of the column's {what}")
                entry.append((column, tuple(dict.fromkeys(values))))
            if len(entry) < 2:
                raise self.fail(where, "an impossible combination names at least 2 columns")
            found.append(Constraint(tuple(entry), name, reason))
        return tuple(found)

    def sensitive_zeros(self, doc: object, columns: dict, links: tuple[LinkSpec, ...]):
        if doc is None:
            return None
        if doc == "all":
            return "all"
        names = self.texts(doc, "sensitive_zeros", single=True)
        if any(link.columns is None for link in links):
            return names  # a linked table of all its columns: its names are not known here
        known = set(columns) | {name for link in links for name in link.columns or {}}
        for i, name in enumerate(names):
            if name not in known:
                raise self.fail(f"sensitive_zeros[{i}]", f"{name!r} is not a column of the codebook "
                                "(give column names, or 'all')")  # fmt: skip
        return names


def check_columns(
    codebook: Codebook, columns: Sequence[str], linked: Mapping[str, Sequence[str]] | None = None
) -> None:
    """Refuse a codebook naming columns the input (or a linked table) does not have.

    ``columns`` are the input's; ``linked`` maps a link's prefix to its
    table's columns (links not in it are not checked).
    """
    have = set(columns)
    need = [*codebook.columns] + ([codebook.subject] if codebook.subject is not None else [])
    missing = [name for name in need if name not in have]
    if missing:
        raise InputError(f"{codebook.path} names column(s) {_names(missing)} that the input does not have")
    for i, link in enumerate(codebook.links):
        if linked is None or link.prefix not in linked:
            continue
        have = set(linked[link.prefix])
        missing = [name for name in [link.on, *(link.columns or {})] if name not in have]
        if missing:
            raise InputError(f"{codebook.path}: links[{i}] names column(s) {_names(missing)} that "
                             f"{link.table.name} does not have")  # fmt: skip


def _names(names: Sequence[str], shown: int = 8) -> str:
    """Up to ``shown`` names, then how many more: a message stays one readable line."""
    more = len(names) - shown
    return ", ".join(map(repr, names[:shown])) + (f" and {more} more" if more > 0 else "")


# ---------------------------------------------------------------------------- drafting


def infer_codebook(
    source: Source,
    *,
    subject_id: str | None = None,
    links: Sequence[Link] = (),
    max_values: int = 50,
    delimiters: Sequence[str] = (";", "|"),
    sample_rows: int = 1_000_000,
) -> Codebook:
    """A DRAFT codebook read from the (sensitive) data: to be reviewed before any use.

    Reads the first ``sample_rows`` rows of ``source`` (and of each linked
    table). Id-like columns (distinct values in at least 90% of the rows, and
    more than 100) are left out; the most id-like is suggested as the subject
    id when none is given. A column where a delimiter occurs in at least 5%
    of the non-empty cells is multi-value. A numeric column with more than
    ``max_values`` distinct values gets width bins (about 10, round width and
    origin), never its numbers. Others list their values (sorted) when they
    have at most ``max_values``. The remarks for the reviewer are in ``notes``.
    """
    if isinstance(max_values, bool) or not isinstance(max_values, int) or max_values < 1:
        raise ParameterError(f"max_values must be a positive integer, got {max_values!r}")
    for delimiter in delimiters:
        check_delimiter("drafted", delimiter)
    links = tuple(links)
    if any(not isinstance(link, Link) for link in links):
        raise ParameterError("links must be Link values")
    keys = {link.on for link in links}
    if len(keys) > 1 or (subject_id is not None and keys and keys != {subject_id}):
        raise ParameterError("every linked table is joined on the subject id: give one key (--on)")
    subject_id = subject_id or (links[0].on if links else None)
    table = read_table(source, record_limit=sample_rows)
    notes: list[str] = []
    if subject_id is not None and subject_id not in table.column_names:
        raise InputError(f"the input has no column {subject_id!r} (the subject id)")
    profiles = {name: _Profile(table.column(name)) for name in table.column_names}
    idlike = {n: p for n, p in profiles.items() if n != subject_id and p.is_id_like(table.num_rows)}
    if subject_id is None and idlike:
        subject_id = max(idlike, key=lambda n: idlike[n].distinct)  # the first of the most distinct
        notes.append(f"subject_id {subject_id!r} was suggested: it identifies (almost) every row; "
                     "check that it names the person each row is about")  # fmt: skip
        del idlike[subject_id]
    for name in idlike:
        notes.append(f"column {name!r} looks like an identifier: left out")
    if table.num_rows >= sample_rows:
        notes.append(f"only the first {sample_rows:,} rows of the input were read")
    columns = {
        name: _draft_column(profile, name, max_values, delimiters, notes)
        for name, profile in profiles.items()
        if name != subject_id and name not in idlike
    }
    drafted = []
    for i, link in enumerate(links):
        use = None if link.use_columns is None else [*link.use_columns, link.on]
        linked = read_table(link.table, use_columns=use, record_limit=sample_rows)
        if link.on not in linked.column_names:
            raise InputError(f"the linked table has no key column {link.on!r} (--on): "
                             "the key must be on both sides")  # fmt: skip
        own = {}
        for name in linked.column_names:
            if name == link.on:
                continue
            profile = _Profile(linked.column(name))
            if profile.is_id_like(linked.num_rows):
                notes.append(f"links[{i}] column {name!r} looks like an identifier: left out")
                continue
            own[name] = _draft_column(profile, f"links[{i}] column {name!r}", max_values, delimiters, notes,
                                      quoted=True)  # fmt: skip
        table_path = Path(os.path.abspath(link.table)) if is_path(link.table) else Path(str(link.table))
        drafted.append(LinkSpec(table_path, link.on, link.prefix, link.max_linked, own))
    return Codebook(columns, subject_id, links=tuple(drafted), notes=tuple(notes), draft=True)


class _Profile:
    """The distinct non-empty values of a column and how many rows hold each."""

    def __init__(self, column: pa.ChunkedArray) -> None:
        array = column.combine_chunks()
        if not pa.types.is_dictionary(array.type):
            array = array.cast(pa.string()).dictionary_encode()
        codes = array.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        counts = np.bincount(codes[codes >= 0], minlength=len(array.dictionary))
        self.counts: dict[str, int] = {}
        for value, count in zip(array.dictionary.cast(pa.string()).to_pylist(), counts.tolist()):
            if value and count:
                self.counts[value] = self.counts.get(value, 0) + count
        self.cells = sum(self.counts.values())

    @property
    def distinct(self) -> int:
        return len(self.counts)

    def is_id_like(self, rows: int) -> bool:
        return self.distinct > ID_MIN and self.distinct >= ID_SHARE * rows

    def multi_value(self, delimiters: Sequence[str]) -> str | None:
        """The delimiter found in the most non-empty cells, if in at least 5% of them."""
        best, share = None, MULTI_SHARE
        for delimiter in delimiters:
            found = sum(count for value, count in self.counts.items() if delimiter in value)
            if self.cells and found / self.cells >= share:
                best, share = delimiter, found / self.cells
        return best

    def elements(self, delimiter: str) -> dict[str, int]:
        """The values of a multi-value column's cells, each with the rows holding it."""
        elements: dict[str, int] = {}
        for value, count in self.counts.items():
            for element in {part.strip() for part in value.split(delimiter)} - {""}:
                elements[element] = elements.get(element, 0) + count
        return elements


def _draft_column(
    profile: _Profile, name: str, max_values: int, delimiters: Sequence[str], notes: list[str],
    quoted: bool = False,
) -> ColumnSpec:  # fmt: skip
    """One column's draft, with the notes it needs (``name`` as notes show it)."""
    label = name if quoted else f"column {name!r}"
    if not profile.counts:
        notes.append(f"{label} is empty in every row read: list its public values, or drop it")
        return ColumnSpec()
    delimiter = profile.multi_value(delimiters)
    counts = profile.elements(delimiter) if delimiter is not None else profile.counts
    numeric = delimiter is None and all(re.fullmatch(NUMBER, value.strip()) for value in counts)
    if numeric and len(counts) > max_values:
        numbers = [float(value) for value in counts]
        bins = _draft_bins(min(numbers), max(numbers))
        notes.append(f"{label}: {len(counts):,} distinct numbers, binned by width from the data's range; "
                     "give public bins (edges, or a range) for public labels")  # fmt: skip
        return ColumnSpec(bins=bins)
    if delimiter is not None:
        notes.append(f"{label} is multi-value ({delimiter!r} in {_share(profile, delimiter)} of its cells)")
    else:
        for mark in delimiters:
            if any(mark in value for value in counts):
                notes.append(f"{label}: {mark!r} occurs in {_share(profile, mark)} of its cells: "
                             "multi-value? (then add multi_value)")  # fmt: skip
                break
    if len(counts) > max_values:
        notes.append(f"{label} has {len(counts):,} distinct values, more than {max_values}: "
                     "list its public values, bin it, or drop it")  # fmt: skip
        return ColumnSpec(multi_value=delimiter)
    key = (lambda v: (float(v), v.encode())) if numeric else (lambda v: v.encode())
    rare = sum(1 for count in counts.values() if count < RARE_ROWS)
    if rare:
        notes.append(f"{label}: {rare:,} listed value(s) occur in fewer than {RARE_ROWS} rows: "
                     "keep them only if they are publicly known")  # fmt: skip
    return ColumnSpec(tuple(sorted(counts, key=key)), delimiter)


def _share(profile: _Profile, delimiter: str) -> str:
    found = sum(count for value, count in profile.counts.items() if delimiter in value)
    share = 100 * found / profile.cells
    return f"{share:.0f}%" if share >= 1 else "under 1%"


def _draft_bins(low: float, high: float) -> Bins:
    """Width bins over ``low..high``: a round width (1, 2 or 5 times a power of ten), about 10 bins."""
    raw = (high - low) / TARGET_BINS
    if raw <= 0:
        raw = 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    width = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    width = float(f"{width:.12g}")  # 0.30000000000000004 → 0.3
    origin = float(f"{math.floor(low / width) * width:.12g}")
    return Bins("width", width=_whole(width), origin=_whole(origin))


def _whole(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


DRAFT_HEADER = """\
# showcase codebook: a DRAFT read from the sensitive data. Review every line before use.
#
# The values listed here were read from the (sensitive) data itself: until reviewed, treat this
# file as being as sensitive as the data, and do not publish or share it.
# A PUBLIC codebook must list the values known publicly, not only those observed (e.g. every ISO-3
# country code, every age band), so that which values it lists reveals nothing about the data;
# and it must not contain rare values that identify someone (a name, a small place, a free text).
# Bins were drafted from the data's range: give public edges, or a public range.
# Until the line 'draft: true' is deleted, no value here is taken as public: a DP release still
# chooses which values to release from the data (and spends delta on it).
"""


def draft_text(codebook: Codebook, folder: str | Path | None = None) -> str:
    """The draft as YAML text under a warning header (and the draft's notes, as comments).

    Link tables are written relative to ``folder`` (default: the current folder).
    """
    header = DRAFT_HEADER
    if codebook.notes:
        header += "#\n# Notes:\n" + "".join(f"#   - {_one_line(note)}\n" for note in codebook.notes)
    body = codebook.dumps("yaml", Path(folder) if folder is not None else Path.cwd())
    return header + "\n" + body


def _one_line(text: str) -> str:
    return " ".join(text.split())
