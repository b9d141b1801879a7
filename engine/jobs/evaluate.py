"""The evaluate job: a release against the sensitive data, as evaluation.json and report.html."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..aggregates_io import declared_length
from ..constraints import from_release, merged
from ..contingency import CountIndex
from ..count import check_length_fits, validate_length
from ..encode import EncodedTable
from ..errors import ParameterError
from ..evaluate import check_release_length, evaluate_release, load_release
from ..fingerprint_key import published
from ..ingest import Source, fingerprint
from ..output_lock import locks_for_call
from ..prepare import Preparation, check_source, load_input
from ..protection import check_k
from ..release import (
    AGGREGATES_PARQUET,
    AGGREGATES_TSV,
    EVALUATION,
    REPORT,
    SENSITIVE_PARQUET,
    SENSITIVE_TSV,
    find_release,
    is_release,
    is_showcase_output,
)
from ..report.evaluation import CONTENTS, render_report
from ..resources import Resources
from .skeleton import Job, StageProgress

#: Largest k of the k-marginal score (it counts every k-set of columns).
MAX_MARGINAL = 8


def evaluation_folder(release: str | Path) -> Path:
    """Where an evaluation of ``release`` goes by default: beside it, never inside (SPEC §5).

    ``release/`` gives ``release-evaluation/``; a file ``synthetic.csv`` gives
    ``synthetic-evaluation/`` in the same folder, unless that folder is a
    showcase output (``release/synthetic.csv`` gives ``release-synthetic-evaluation/``
    beside ``release/``). A release directory holds only publishable files, and
    an evaluation holds exact statistics of the sensitive data.
    """
    path = Path(release).resolve()
    if path.is_dir():
        return path.parent / f"{path.name}-evaluation"
    if is_showcase_output(path.parent):
        return path.parent.parent / f"{path.parent.name}-{path.stem}-evaluation"
    return path.parent / f"{path.stem}-evaluation"


@locks_for_call
def evaluate(
    sensitive: Source,
    release: str | Path,
    *,
    length: int,
    resolution: int,
    out: str | Path | None = None,
    preparation: Preparation = Preparation(),
    group: str | None = None,
    marginal_k: int = 2,
    force: bool = False,
    progress: StageProgress | None = None,
    resources: Resources | None = None,
) -> dict:
    """Evaluate a release (SPEC §4) and write ``evaluation.json`` and ``report.html``.

    Without ``out`` they go into :func:`evaluation_folder` (beside the release:
    the evaluation holds exact statistics of the sensitive data and is not for
    publication). Returns the evaluation document.

    With ``resources`` that stream the input (a directory, a glob, a file over
    2 GiB, or ``stream=True``) or name a Dask ``scheduler``, the sensitive
    records are never held: their exact counts of up to ``max(length,
    marginal_k + 1)`` attributes are summed batch by batch (on the cluster's
    workers), and every metric is computed from those counts.
    """
    length = validate_length(length)
    resolution = check_k(resolution)
    if isinstance(marginal_k, bool) or not isinstance(marginal_k, int) or not 1 <= marginal_k <= MAX_MARGINAL:
        raise ParameterError(f"marginal size must be from 1 to {MAX_MARGINAL}, got {marginal_k}")
    exact_file = exact_aggregates_file(sensitive)
    streamed = exact_file is None and _streamed(sensitive, resources)
    if exact_file is not None:
        refuse_record_options(preparation)
    elif streamed:  # a directory or glob: its files are listed and checked, not read
        from ..stream import open_stream, refuse_preparation

        refuse_preparation(preparation)
        open_stream(sensitive, preparation.delimiter, preparation.use_columns)
    else:
        check_source(sensitive, preparation)
    file, kind = find_release(release)
    if kind == "aggregates":
        # Refused before the sensitive data is read and counted, when the file says its length.
        declared = declared_length(file)
        if declared is not None:
            check_release_length(declared, length)
    out = evaluation_folder(release) if out is None else out
    job = Job("evaluation", out=out, force=force, inputs=[sensitive, release], progress=progress)
    if exact_file is not None:
        table, schema_only, description = _exact_counts(job, exact_file, length)
        with job.step("read release"):
            loaded = load_release(release, schema_only, preparation)
    elif streamed:
        table, schema_only, description = _counted(job, sensitive, preparation, length, marginal_k, resources)
        with job.step("read release"):
            loaded = load_release(release, schema_only, preparation)
    else:
        with job.step("read"):
            prepared = load_input(sensitive, preparation)
            table, description = prepared.table, prepared.description
            check_length_fits(length, table.n_columns)
            loaded = load_release(release, table, preparation)
    if group is not None:
        table.schema.column_index(group)
    # The codebook's declared constraints and those the release's metadata.json states.
    constraints = merged(preparation.resolved().constraints, from_release(loaded.path))
    result = evaluate_release(table, loaded, length=length, resolution=resolution, group=group,
                              marginal_k=marginal_k, progress=progress, constraints=constraints)  # fmt: skip
    document = job.document({
        "contents": CONTENTS,
        # SPEC §5: exact statistics of the sensitive data, marked as such (private to the data owner).
        "publishable": False,
        "sensitive": {"fingerprint": published(description["fingerprint"])},
        "release": {"file": loaded.path.name, "fingerprint": fingerprint(loaded.path)},
        "preparation": preparation.describe(),
        **result,
        "seconds": round(job.elapsed(), 3),
    })  # fmt: skip
    files = {EVALUATION: json.dumps(document, indent=2, ensure_ascii=False) + "\n",
             REPORT: render_report(result)}  # fmt: skip
    job.write({name: _text(text) for name, text in files.items()}, sections=None)
    return document


def exact_aggregates_file(sensitive: Source) -> Path | None:
    """The exact counts file when ``sensitive`` is unprotected aggregates (SPEC §4: a release may be
    evaluated against them instead of the records): a ``sensitive_aggregates`` file, or the folder
    of an ``aggregate --unprotected`` release. None for anything else.

    Protected aggregates (``aggregates.*`` of a showcase release) are found too, to be refused by
    name rather than misread as records.
    """
    if not isinstance(sensitive, (str, Path)):
        return None
    path = Path(sensitive)
    if path.is_dir():
        found = [path / name for name in (SENSITIVE_PARQUET, AGGREGATES_PARQUET) if (path / name).is_file()]
        return found[0] if found and is_release(path) else None
    if path.is_file() and path.name in (SENSITIVE_PARQUET, SENSITIVE_TSV):
        return path
    named = path.is_file() and path.name in (AGGREGATES_PARQUET, AGGREGATES_TSV)
    return path if named and is_showcase_output(path.parent) else None


def refuse_record_options(preparation: Preparation) -> None:
    """Refuse the options that read records when the sensitive side is counts already."""
    given = [name for name in ("use_columns", "record_limit", "subject_id", "codebook", "links", "bins",
                               "multi_value", "null_markers", "sensitive_zeros", "sheet")
             if getattr(preparation, name) not in (None, (), [], {}, False)]  # fmt: skip
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise ParameterError(
            f"{flags}: the sensitive side is exact aggregates, counted already; give them when counting "
            "(aggregate --unprotected), or evaluate against the records"
        )


def _exact_counts(job: Job, path: Path, length: int) -> tuple[CountIndex, EncodedTable, dict]:
    """Exact counts read from ``path`` (refused unless they are exact and long enough), the schema as a
    table of no records, and the description of the sensitive side."""
    from ..aggregates import PROTECTION_NONE
    from ..aggregates_io import read_aggregates

    with job.step("read"):
        exact, _ = read_aggregates(path)
    if exact.protection != PROTECTION_NONE:
        raise ParameterError(
            f"{path}: these counts are protected ({exact.protection}); evaluate against the sensitive data "
            "or its exact aggregates (aggregate --unprotected)"
        )
    if exact.reporting_length < length:
        raise ParameterError(
            f"{path}: the exact aggregates count combinations of up to {exact.reporting_length} attributes; "
            f"give --length {exact.reporting_length} or less, or count them again with a larger --length"
        )
    schema_only = EncodedTable(exact.schema, np.zeros((len(exact.schema.columns), 0), dtype=np.uint8))
    return CountIndex(exact), schema_only, {"fingerprint": fingerprint(path)}


def _streamed(sensitive: Source, resources: Resources | None) -> bool:
    """Whether the sensitive input is counted in batches (or on a cluster) rather than loaded."""
    from ..stream import streams

    return streams(sensitive, resources)


def _counted(job: Job, sensitive: Source, preparation: Preparation, length: int, marginal_k: int,
             resources: Resources) -> tuple[CountIndex, EncodedTable, dict]:  # fmt: skip
    """Exact counts of the sensitive input summed over batches (long enough for the k-marginals),
    the schema as a table of no records (what the release is encoded onto), and the input's description."""
    from ..stream import open_stream
    from .protect import streamed_read

    columns = len(open_stream(sensitive, preparation.delimiter, preparation.use_columns).columns)
    check_length_fits(length, columns)
    counted_length = min(max(length, marginal_k + 1), columns)
    loaded, exact = streamed_read(job, sensitive, preparation, counted_length, resources, dp=False)
    return CountIndex(exact), loaded.table, loaded.description


def _text(text: str):
    return lambda path: Path(path).write_text(text, encoding="utf-8")
