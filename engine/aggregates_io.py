"""Reading and writing aggregates: Parquet table and SDS-compatible TSV.

Parquet: columns ``attribute_1..attribute_L`` (dictionary-encoded
``column:value`` labels, null past the combination's length), ``length`` and
``count``; the schema metadata key ``showcase`` holds the record count,
reporting length, columns and protection. Only labels of reported attributes
are stored, so a value that was suppressed never appears in the file. An
adaptive DP release (``mst``, ``aim``) also stores what it measured under the
key ``showcase.marginals`` (each noisy marginal, "missing" cells included, its
columns and sigma, and the values each column kept): the DP output itself, so
``synthesize --from-aggregates`` can fit records to it later.

TSV (Synthetic Data Showcase format): header ``selections<TAB>protected_count``,
then ``record_count<TAB>N``, then one ``A:a1;B:b1<TAB>12`` line per combination.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .aggregates import NO_ATTRIBUTE, PROTECTION_NONE, Aggregates
from .errors import InputError
from .labels import attribute_labels, schema_from_labels
from .release import AGGREGATES_PARQUET, AGGREGATES_TSV, SENSITIVE_PARQUET, SENSITIVE_TSV

METADATA_KEY = b"showcase"
#: Schema metadata key of an adaptive DP release's measured marginals.
MARGINALS_KEY = b"showcase.marginals"
TSV_HEADER = ("selections", "protected_count")
RECORD_COUNT = "record_count"
_BATCH = 1 << 20


def _compact(aggregates: Aggregates) -> tuple[pa.Array, np.ndarray]:
    """Labels of only the attributes used, and the combos re-indexed into them."""
    valid = aggregates.attrs != NO_ATTRIBUTE
    used_mask = np.zeros(aggregates.schema.n_attributes, dtype=bool)
    used_mask[aggregates.attrs[valid]] = True
    used = np.flatnonzero(used_mask)
    labels = attribute_labels(aggregates.schema).take(pa.array(used, pa.int64()))
    position = (np.cumsum(used_mask) - 1).astype(np.int32)
    index = np.where(valid, position[np.maximum(aggregates.attrs, 0)], -1).astype(np.int32)
    return labels, index


def describe(aggregates: Aggregates) -> dict:
    """Non-sensitive facts stored with the aggregates (and in metadata.json).

    The columns are those of the released schema: a multi-value column's
    indicator ``COL:value`` is listed only when the release reports its value.
    An adaptive release's measurements refer to its columns by position, so it keeps them all.
    """
    schema = aggregates.schema if aggregates.marginals is not None else aggregates.on_released_schema().schema
    facts = {
        "record_count": int(aggregates.record_count),
        "reporting_length": int(aggregates.reporting_length),
        "columns": list(schema.columns),
        "protection": aggregates.protection,
        "resolution": aggregates.resolution,
    }
    if schema.multi_value:
        facts["multi_value"] = [list(pair) for pair in schema.multi_value]
    return facts


def to_arrow(aggregates: Aggregates) -> pa.Table:
    """The aggregates as an Arrow table (see module docs for the layout)."""
    labels, index = _compact(aggregates)
    columns, names = [], []
    for j in range(aggregates.reporting_length):
        positions = index[:, j]
        mask = positions < 0
        columns.append(pa.DictionaryArray.from_arrays(pa.array(positions, pa.int32(), mask=mask), labels))
        names.append(f"attribute_{j + 1}")
    columns += [pa.array(aggregates.length, pa.uint8()), pa.array(aggregates.count, pa.int64())]
    names += ["length", "count"]
    metadata = {METADATA_KEY: json.dumps(describe(aggregates)).encode()}
    if aggregates.marginals is not None:
        metadata[MARGINALS_KEY] = json.dumps(_measurements_document(aggregates)).encode()
    schema = pa.schema([pa.field(n, c.type) for n, c in zip(names, columns)], metadata=metadata)
    return pa.Table.from_arrays(columns, schema=schema)


def _measurements_document(aggregates: Aggregates) -> dict:
    """An adaptive release's measurements as JSON: values by spelling, noisy cells as base64 float64."""
    measured, schema = aggregates.marginals, aggregates.schema
    return {
        "record_count": int(measured.record_count),
        "columns": list(schema.columns),
        "values": [
            schema.dictionaries[c].take(pa.array(np.asarray(v, dtype=np.int64) - 1)).to_pylist()
            for c, v in enumerate(measured.values)
        ],  # fmt: skip
        "marginals": [
            {
                "columns": [int(c) for c in m.columns],
                "sigma": float(m.sigma),
                "noisy": base64.b64encode(np.ascontiguousarray(m.noisy, dtype="<f8").tobytes()).decode(),
            }
            for m in measured.marginals
        ],  # fmt: skip
    }


def _measurements(document: dict, aggregates: Aggregates, path) -> object:
    """The :class:`~showcase.engine.dp.model.Measurements` of :func:`_measurements_document`, on the
    schema read back (a value is found by its spelling)."""
    from .dp.model import Marginal, Measurements

    schema = aggregates.schema
    bad = InputError(f"{path}: its measured marginals do not match its aggregates")
    if document.get("columns") != list(schema.columns):
        raise bad
    values = []
    for c, spelled in enumerate(document["values"]):
        position = {v: i + 1 for i, v in enumerate(schema.dictionaries[c].to_pylist())}
        if any(v not in position for v in spelled):
            raise bad
        values.append(np.array([position[v] for v in spelled], dtype=np.int64))
    radix = [len(v) + 1 for v in values]
    marginals = []
    for entry in document["marginals"]:
        columns = tuple(int(c) for c in entry["columns"])
        noisy = np.frombuffer(base64.b64decode(entry["noisy"]), dtype="<f8").astype(np.float64)
        if noisy.size != int(np.prod([radix[c] for c in columns])):
            raise bad
        marginals.append(Marginal(columns, float(entry["sigma"]), noisy))
    return Measurements(values, marginals, int(document["record_count"]))


def write_parquet(aggregates: Aggregates, path: str | Path) -> None:
    pq.write_table(to_arrow(aggregates), path, compression="zstd")


def read_parquet(path: str | Path) -> Aggregates:
    """Read aggregates written by :func:`write_parquet`."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError):
        raise InputError(f"{path}: not a readable Parquet file") from None
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise InputError(f"{path}: not a showcase aggregates file (no 'showcase' metadata)")
    info = json.loads(raw)
    length = int(info["reporting_length"])
    labels: list[str] = []
    index = np.full((table.num_rows, length), -1, dtype=np.int64)
    label_position: dict[str, int] = {}
    for j in range(length):
        column = table.column(f"attribute_{j + 1}").combine_chunks()
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        dictionary = column.dictionary.to_pylist()
        remap = np.empty(len(dictionary), dtype=np.int64)
        for i, label in enumerate(dictionary):
            if label not in label_position:
                label_position[label] = len(labels)
                labels.append(label)
            remap[i] = label_position[label]
        positions = pc.fill_null(column.indices, -1).to_numpy(zero_copy_only=False)
        valid = positions >= 0
        index[valid, j] = remap[positions[valid]]
    aggregates = _from_label_index(labels, index, table.column("count").to_numpy(), info)
    measured = (table.schema.metadata or {}).get(MARGINALS_KEY)
    if measured is not None:
        aggregates = replace(aggregates, marginals=_measurements(json.loads(measured), aggregates, path))
    return aggregates


def _from_label_index(labels: list[str], index: np.ndarray, counts: np.ndarray, info: dict) -> Aggregates:
    schema, label_to_id = schema_from_labels(
        labels, index, info.get("columns"), [tuple(pair) for pair in info.get("multi_value", [])] or None
    )
    attrs = np.where(index >= 0, label_to_id[np.maximum(index, 0)], np.iinfo(np.int32).max)
    attrs = np.sort(attrs, axis=1)
    attrs[attrs == np.iinfo(np.int32).max] = NO_ATTRIBUTE
    length = np.count_nonzero(index >= 0, axis=1).astype(np.uint8)
    return Aggregates(
        schema=schema,
        reporting_length=int(info["reporting_length"]),
        attrs=attrs.astype(np.int32),
        length=length,
        count=np.asarray(counts, dtype=np.int64),
        record_count=int(info["record_count"]),
        protection=info.get("protection", PROTECTION_NONE),
        resolution=info.get("resolution"),
    )


def selections(aggregates: Aggregates) -> pa.Array:
    """``A:a1;B:b1`` text of every combination."""
    labels, index = _compact(aggregates)
    parts = [
        labels.take(pa.array(index[:, j], pa.int32(), mask=index[:, j] < 0))
        for j in range(aggregates.reporting_length)
    ]
    return pc.binary_join_element_wise(*parts, ";", null_handling="skip")


def write_tsv(aggregates: Aggregates, path: str | Path) -> None:
    """Write the SDS-compatible TSV, in batches, straight from Arrow buffers."""
    text = selections(aggregates)
    counts = pa.array(aggregates.count, pa.int64()).cast(pa.string())
    with open(path, "wb") as handle:
        handle.write(("\t".join(TSV_HEADER) + "\n").encode())
        handle.write(f"{RECORD_COUNT}\t{aggregates.record_count}\n".encode())
        for start in range(0, len(text), _BATCH):
            fields = pc.binary_join_element_wise(text.slice(start, _BATCH), counts.slice(start, _BATCH), "\t")
            lines = pc.binary_join_element_wise(fields, "", "\n")
            handle.write(_string_bytes(lines))


def _string_bytes(array: pa.Array) -> memoryview:
    """The concatenated bytes of a string array's values, without a Python loop."""
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    _, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(array) + 1, offset=array.offset * 4)
    return memoryview(data)[bounds[0] : bounds[-1]] if data is not None else memoryview(b"")


def read_tsv(
    path: str | Path, *, reporting_length: int | None = None, columns: list[str] | None = None
) -> Aggregates:
    """Read an SDS-compatible aggregates TSV (ours or Synthetic Data Showcase's).

    The column order is taken from ``columns`` when given (e.g. from the
    release's metadata.json) and otherwise inferred from the combinations.
    """
    path = Path(path)
    info = _sibling_metadata(path)
    try:
        table = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types={TSV_HEADER[0]: pa.string(), TSV_HEADER[1]: pa.int64()},
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, OSError) as error:
        raise InputError(f"{path}: not an aggregates TSV ({str(error).splitlines()[0][:80]})") from None
    if table.column_names != list(TSV_HEADER):
        raise InputError(f"{path}: header must be 'selections<TAB>protected_count'")
    text = table.column(0).combine_chunks()
    counts = table.column(1).combine_chunks().to_numpy(zero_copy_only=False)
    if len(text) == 0 or text[0].as_py() != RECORD_COUNT:
        raise InputError(f"{path}: the first row must be 'record_count<TAB>N'")
    record_count = int(counts[0])
    text, counts = text.slice(1), counts[1:]
    # Protect escaped separators, split on ';', restore.
    guarded = pc.replace_substring(pc.replace_substring(text, "\\\\", "\x00"), "\\;", "\x01")
    split = pc.split_pattern(guarded, ";")
    flat = pc.replace_substring(pc.replace_substring(pc.list_flatten(split), "\x01", "\\;"), "\x00", "\\\\")
    lengths = pc.list_value_length(split).to_numpy(zero_copy_only=False)
    longest = int(lengths.max()) if len(lengths) else 0
    length = reporting_length or info.get("reporting_length") or longest
    if longest > length:
        raise InputError(f"{path}: has combinations of length {longest} > reporting length {length}")
    encoded = pc.dictionary_encode(flat)
    labels = encoded.dictionary.to_pylist()
    flat_index = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    index = np.full((len(lengths), length), -1, dtype=np.int64)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else np.zeros(0, np.int64)
    index[rows, np.arange(len(flat_index)) - np.repeat(starts, lengths)] = flat_index
    info = {
        "reporting_length": length,
        "record_count": record_count,
        "columns": columns or info.get("columns"),
        "protection": info.get("protection", PROTECTION_NONE),
        "resolution": info.get("resolution"),
        "multi_value": info.get("multi_value", []),
    }
    return _from_label_index(labels, index, counts, info)


def declared_length(path: str | Path) -> int | None:
    """The reporting length an aggregates file declares, read without its rows (None if it does not).

    A Parquet file carries it in its schema's metadata; a TSV in the ``metadata.json`` beside it.
    """
    path = Path(path)
    if path.suffix.lower() == ".tsv":
        length = _sibling_metadata(path).get("reporting_length")
    else:
        try:
            raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY)
            length = None if raw is None else json.loads(raw).get("reporting_length")
        except (pa.ArrowInvalid, OSError, json.JSONDecodeError, AttributeError):
            return None  # the full read gives the error
    return length if isinstance(length, int) and not isinstance(length, bool) else None


def _sibling_metadata(path: Path) -> dict:
    """The aggregate facts from a metadata.json beside ``path``, if there is one."""
    candidate = path.with_name("metadata.json")
    if not candidate.exists():
        return {}
    try:
        return json.loads(candidate.read_text(encoding="utf-8")).get("aggregates", {})
    except (json.JSONDecodeError, OSError):
        return {}


def read_aggregates(path: str | Path) -> tuple[Aggregates, Path]:
    """Read an aggregates release: a release directory, or its ``.parquet`` / SDS ``.tsv`` file.

    A directory must hold ``aggregates.parquet`` (preferred) or
    ``aggregates.tsv``; exact ``sensitive_aggregates.*`` are read only when
    the file is named explicitly. Returns the aggregates and the file read.
    """
    path = Path(path)
    if path.is_dir():
        for name in (AGGREGATES_PARQUET, AGGREGATES_TSV):
            if (path / name).is_file():
                return read_aggregates(path / name)
        if any((path / name).exists() for name in (SENSITIVE_PARQUET, SENSITIVE_TSV)):
            raise InputError(
                f"{path} holds only exact (unprotected) aggregates; name the file itself "
                "to synthesize from them"
            )
        raise InputError(f"{path}: no {AGGREGATES_PARQUET} or {AGGREGATES_TSV} in this directory")
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if not path.is_file() or path.stat().st_size == 0:
        raise InputError(f"{path}: not an aggregates file (it is empty or not a file)")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return read_parquet(path), path
    if suffix == ".tsv":
        return read_tsv(path), path
    raise InputError(
        f"{path}: not an aggregates release; give a release directory, aggregates.parquet or an SDS .tsv"
    )
