"""``showcase report``: Overview and Explore of a release as one self-contained HTML file.

The page is the explorer's own, with its script, its style and the data
embedded (no server, no network: it opens from disk or an e-mail). The
aggregates are always embedded; the synthetic records when there are at
most ``max_records`` of them, else the page says the explorer is needed for
the records' bars. Like the release itself, the report holds no sensitive data.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import numpy as np

from ..errors import ParameterError
from .server import Served, asset, files, overview

#: Most synthetic records a report embeds (beyond: showcase serve).
MAX_RECORDS = 200_000


def _rows(records) -> list[dict]:
    """Per explorer column, the records' values as indices: one per record, or a list (multi-value)."""
    table, columns = records.table, records.columns
    schema = table.schema
    out = []
    for column in columns:
        indices = [c for c, group in enumerate(schema.groups) if group == column.name]
        position = {value: i for i, value in enumerate(column.values)}
        if column.multi_value:
            present = [
                (position[schema.dictionaries[c][0].as_py()], table.codes[c] > 0)
                for c in indices
                if len(schema.dictionaries[c]) and schema.columns[c] != column.name
            ]
            cells = [[] for _ in range(table.n_rows)]
            for v, mask in present:
                for r in np.flatnonzero(mask).tolist():
                    cells[r].append(v)
            rows = cells
        else:
            c = indices[0]
            remap = np.array([-1] + [position[v] for v in schema.dictionaries[c].to_pylist()], dtype=np.int64)
            rows = remap[table.codes[c]].tolist()
        out.append({**vars(column), "rows": rows})
    return out


def _interval_rule(metadata: dict) -> dict:
    """How wide a released count's range is: DP half-widths by length, k-anonymity's k, or exact."""
    privacy = metadata.get("privacy", {})
    if privacy.get("mechanism") == "differential-privacy":
        half = [1.96 * s * (b**0.5) for s, b in zip(privacy["sigmas"], privacy["sensitivity_bounds"])]
        return {"kind": "dp", "half": half}
    k = metadata.get("aggregates", {}).get("resolution")
    return {"kind": "k", "k": int(k)} if k else {"kind": "exact"}


def _aggregate_table(aggregates, columns) -> dict[str, int]:
    """Every released combination, keyed as the page keys it, to its count.

    A key is the combination's ``column.value`` positions (in the explorer's
    ``columns`` and their ``values``), sorted and joined by ``;``: numbers
    only, so no column name or value can make two combinations one key, and
    Python and JavaScript sort them alike. A combination holding a value the
    records' columns lack is not embedded (the page could not select it).
    """
    released = aggregates.aggregates
    schema = released.schema
    values = schema.attribute_values().to_pylist()
    groups = [schema.groups[c] for c in schema.attribute_columns]
    position = {
        (col.name, value): (c, v) for c, col in enumerate(columns) for v, value in enumerate(col.values)
    }
    places = [position.get(pair) for pair in zip(groups, values)]
    table = {}
    for row, n, count in zip(released.attrs.tolist(), released.length.tolist(), released.count.tolist()):
        pairs = [places[a] for a in row[:n]]
        if None not in pairs:
            table[";".join(f"{c}.{v}" for c, v in sorted(pairs))] = int(count)
    return table


def _policy(scripts: list[str]) -> str:
    """The report's Content-Security-Policy: only these inline scripts run, nothing is fetched."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"
        for text in scripts
    )
    return (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def static_report(folder: str | Path, out: str | Path, max_records: int = MAX_RECORDS) -> dict:
    """Write the report of release ``folder`` to ``out``; returns what it embedded."""
    folder = Path(folder)
    served = Served(folder.resolve().name or "release", folder.resolve())
    records, aggregates, metadata = served.indexes()
    if records is None or aggregates is None:
        raise ParameterError(f"{folder}: a report needs a release with synthetic records and aggregates")
    embedded = records.n_rows <= max_records
    info = overview(served)
    release = {
        "overview": info,
        "files": files(served),
        "columns": _rows(records) if embedded else [{**vars(c), "rows": []} for c in records.columns],
        "n": records.n_rows if embedded else 0,
        "aggregates": _aggregate_table(aggregates, records.columns),
        "reporting_length": int(metadata.get("aggregates", {}).get("reporting_length") or 0),
        "interval": _interval_rule(metadata),
    }
    data = json.dumps({"releases": {served.id: release}}, separators=(",", ":"))
    # Inside <script> the HTML parser still reads "<!--", "<script" and "</script": no "<" or ">" may
    # reach it from a name or value. JSON's \u escapes keep the same strings for the script.
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    page = asset("explorer.html")
    note = ""
    if not embedded:
        note = (
            f"<p class='warning'>This release has {records.n_rows:,} synthetic records, more than a "
            f"report embeds ({max_records:,}): the bars show released counts only. "
            "Use showcase serve to explore the records.</p>"
        )
    scripts = [f"window.SHOWCASE_STATIC = {data};", asset("explorer-static.js"), asset("explorer.js")]
    page = page.replace(
        '<link rel="stylesheet" href="assets/explorer.css">',
        f'<meta http-equiv="Content-Security-Policy" content="{_policy(scripts)}">\n'
        f"<style>{asset('explorer.css')}</style>",
    )
    page = page.replace("<!--STATIC-DATA-->", f"<script>{scripts[0]}</script><script>{scripts[1]}</script>")
    page = page.replace('<script src="assets/explorer.js"></script>', f"<script>{scripts[2]}</script>")
    page = page.replace("<main>", f"<main>{note}", 1)
    Path(out).write_text(page, encoding="utf-8")
    return {"records": release["n"], "combinations": len(release["aggregates"]), "bytes": len(page.encode())}
