"""The prepare job: the sensitive input as the load path prepares it, written to look at and reuse.

``showcase prepare`` writes the subject-level table every release would
count (rows merged, cells split, numbers binned, linked tables joined,
values checked against the codebook) as Parquet, with a metadata.json
saying what changed. Both are as sensitive as the input: they are for the
data owner, to check the preparation before any release.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..encode import EncodedTable, decode
from ..ingest import Source
from ..multivalue import output_columns
from ..prepare import Loaded, Preparation, check_source, load_input
from ..release import PREPARED_PARQUET
from .skeleton import Job, StageProgress

CONTENTS = (
    "The sensitive input as showcase prepares it (one record per subject), and what preparing "
    "changed. As sensitive as the input: for the data owner, never for publication."
)


def prepared_table(loaded: Loaded, subject_id: str | None, join_multi_value: bool = True) -> pa.Table:
    """The prepared records as text columns (the subject id first, when there is one)."""
    table: EncodedTable = loaded.table
    decoded = decode(table)
    names, columns = output_columns(
        table.schema, [c.cast(pa.string()) for c in decoded.columns], join_multi_value
    )
    if loaded.subjects is not None and subject_id is not None:
        names, columns = [subject_id, *names], [loaded.subjects, *columns]
    return pa.Table.from_arrays(columns, names=names)


def prepare(
    source: Source,
    *,
    out: str | Path,
    preparation: Preparation = Preparation(),
    seed: int | None = None,
    force: bool = False,
    join_multi_value: bool = True,
    progress: StageProgress | None = None,
) -> Loaded:
    """Prepare ``source`` as ``preparation`` says and write ``prepared.parquet`` and ``metadata.json``.

    Returns what was loaded (its ``changes`` say what preparing changed).
    """
    preparation = preparation.resolved()
    check_source(source, preparation)
    job = Job("prepared", out=out, force=force, inputs=[source, *preparation.files()], progress=progress)
    with job.step("read"):
        loaded = load_input(source, preparation, seed=seed)
    table = prepared_table(loaded, preparation.subject_id, join_multi_value)
    schema = loaded.table.schema
    sections = {
        "contents": CONTENTS,
        "sensitive": True,
        "input": loaded.description,
        "preparation": preparation.describe(),
        "records": loaded.table.n_rows,
        "columns": table.column_names,
        "multi_value": [list(pair) for pair in schema.multi_value],
        "changes": loaded.changes,
        "public_domain": loaded.public_domain,
    }
    files = {PREPARED_PARQUET: lambda path: pq.write_table(table, path, compression="zstd")}
    job.write(files, lambda: sections)
    return loaded
