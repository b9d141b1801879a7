"""The explorer's web app: a small Starlette app over one or more release directories.

It reads only what a release is made of (metadata.json, the aggregates, the
synthetic records) and serves only those files: never anything else a
release folder may hold (a sensitive input put beside it), never a path
outside it. An evaluation, which holds exact statistics of the sensitive
data, is shown only when given explicitly. Every answer is JSON computed by
the engine's indexes (:mod:`.index`); the page is one static HTML file with
its script and style, shipped in the package, so it works with no network.
"""

from __future__ import annotations

import json
import math
import mimetypes
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import ShowcaseError
from ..release import AGGREGATES_PARQUET, AGGREGATES_TSV, METADATA, SYNTHETIC_CSV, SYNTHETIC_PARQUET
from .guard import LOOPBACK_NAMES, LocalOnly, allowed_hosts

#: What a release's files hold, as the Download page says; only these are ever served.
DOWNLOADS = {
    AGGREGATES_PARQUET: "Protected counts of every reported combination (Parquet).",
    AGGREGATES_TSV: "The same counts in Synthetic Data Showcase's TSV format.",
    SYNTHETIC_CSV: "Synthetic records: the input's columns, no real person (CSV).",
    SYNTHETIC_PARQUET: "The same synthetic records (Parquet).",
    METADATA: "Parameters, the privacy guarantee in words, statistics; never a data row.",
}
#: The page's files (and their media types): nothing else is served from the package.
ASSETS = {"explorer.html": "text/html", "explorer.js": "text/javascript", "explorer.css": "text/css"}
#: Longest selection accepted (columns × values), so a request cannot ask for unbounded work.
MAX_SELECTED = 200
#: Longest selection text accepted (characters), read before any JSON is parsed.
MAX_SELECTION_TEXT = 50_000


class Answer(JSONResponse):
    """A JSON answer in which a NaN or infinite number (from a document on disk) becomes null."""

    def render(self, content) -> bytes:
        text = json.dumps(_finite(content), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8")


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def asset(name: str) -> str:
    """The text of one of the page's files, from the installed package."""
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


@dataclass
class Served:
    """One release of the explorer: its folder and, once asked for, its indexes."""

    id: str
    folder: Path
    lock: threading.Lock = field(default_factory=threading.Lock)
    loaded: tuple | None = None

    def indexes(self):
        """(records index, aggregates index, metadata), built on first use."""
        with self.lock:
            if self.loaded is None:
                from .index import open_release

                self.loaded = open_release(self.folder)
            return self.loaded


def release_ids(folders: list[Path]) -> list[Served]:
    """One served release per folder, named by the folder (made unique)."""
    served, taken = [], set()
    for folder in folders:
        base = folder.resolve().name or "release"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name)
        served.append(Served(name, folder.resolve()))
    return served


def parse_selection(text: str | None) -> dict[str, list[str]]:
    """A selection from the query (JSON ``{"column": ["value", ...]}``), or a 400 saying what is wrong."""
    if not text:
        return {}
    if len(text) > MAX_SELECTION_TEXT:
        raise HTTPException(400, f"the selection is longer than {MAX_SELECTION_TEXT:,} characters")
    try:
        selection = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, nested too deep, a number too long
        raise HTTPException(400, 'the selection is not JSON: give {"column": ["value", ...]}') from None
    if not isinstance(selection, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
        for k, v in selection.items()
    ):
        raise HTTPException(400, "a selection maps column names to lists of values (all text)")
    if sum(len(v) for v in selection.values()) > MAX_SELECTED:
        raise HTTPException(400, f"a selection holds at most {MAX_SELECTED} values")
    return selection  # empty lists select nothing: dropped once their columns are checked


def overview(served: Served) -> dict:
    """What the Overview page shows: counts, the guarantee in words, what was suppressed."""
    records, aggregates, metadata = served.indexes()
    privacy = metadata.get("privacy", {})
    facts = metadata.get("aggregates", {})
    return {
        "id": served.id,
        "kind": metadata.get("kind"),
        "created": metadata.get("created"),
        "mechanism": privacy.get("mechanism"),
        "guarantee": privacy.get("guarantee") or metadata.get("synthesis", {}).get("guarantee"),
        "seeded": bool(privacy.get("seeded") or metadata.get("parameters", {}).get("seeded")),
        "epsilon": privacy.get("epsilon"),
        "delta": privacy.get("delta"),
        "resolution": facts.get("resolution"),
        "reporting_length": facts.get("reporting_length"),
        "protected_records": facts.get("record_count"),
        "synthetic_records": records.n_rows if records is not None else None,
        "statistics": metadata.get("statistics", {}),
        "preparation": metadata.get("preparation", {}),
        "columns": [vars(c) for c in records.columns] if records is not None else [],
        "synthesis_guarantee": metadata.get("synthesis", {}).get("guarantee"),
        "left_out": left_out(metadata),
    }


def left_out(metadata: dict) -> list[str]:
    """What the release suppressed, fabricated or dropped, and why, in plain sentences."""
    privacy, facts = metadata.get("privacy") or {}, metadata.get("aggregates") or {}
    stats = metadata.get("statistics") or {}
    said = []
    if privacy.get("mechanism") == "differential-privacy":
        candidates = privacy.get("candidates_by_length") or []
        released = privacy.get("released_by_length") or []
        thresholds = privacy.get("thresholds") or []
        for k, (n, kept, cut) in enumerate(zip(candidates, released, thresholds), start=1):
            # n is None for single values taken from the data: their number is not published.
            of = f"{kept:,} of {n:,} possible ones" if n is not None else f"{kept:,} of the data's values"
            said.append(
                f"Combinations of {k} attribute{'s' if k > 1 else ''}: {of} were "
                f"released; the others' noisy counts fell below {cut:,.0f}, too rare to report safely."
            )
        said.append(
            "Every released count has noise added, so a few released combinations may not occur in the "
            "data at all, and small counts can be off by the range shown: by design, nobody can tell "
            "whether one person is in the data."
        )
    elif facts.get("protection") == "k-anonymity" or privacy.get("mechanism") == "k-anonymity":
        k = facts.get("resolution")
        rare = stats.get("rare_combinations_by_length") or []
        kept = stats.get("combinations_by_length") or []
        for length, (n, few) in enumerate(zip(kept, rare), start=1):
            said.append(
                f"Combinations of {length} attribute{'s' if length > 1 else ''}: {n:,} reported; "
                f"{few:,} held by fewer than {k} records were left out, so no small group can be singled out."
            )
        if k:
            said.append(f"Reported counts are rounded down to a multiple of {k}.")
    for link in (metadata.get("preparation") or {}).get("links") or []:
        if isinstance(link, dict) and link.get("max_linked"):
            said.append(
                f"Each subject keeps at most {link['max_linked']} linked '{link.get('prefix', '')}' records; "
                "any beyond that were dropped at random before counting."
            )
    return said


def explore(served: Served, selection: dict[str, list[str]]) -> dict:
    """Per column and value: the synthetic count, the released aggregate (with its interval), the best."""
    from .index import noise_interval

    records, aggregates, metadata = served.indexes()
    if records is None:
        raise HTTPException(404, "this release has no synthetic records to explore")
    unknown = sorted(set(selection) - {column.name for column in records.columns})
    if unknown:
        raise HTTPException(400, f"no column {unknown[0]!r} in this release")
    selection = {k: v for k, v in selection.items() if v}
    counts, total = records.query(selection)
    answer = {"total": total, "columns": {}}
    for column in records.columns:
        rest = {k: v for k, v in selection.items() if k != column.name}
        released = aggregates.counts_for(selection, column.name) if aggregates is not None else None
        length = 1 + len(rest)
        bars = []
        for i, value in enumerate(column.values):
            synthetic = int(counts[column.name][i])
            aggregate = None if released is None else released[i]
            bar = {"value": value, "synthetic": synthetic, "aggregate": aggregate}
            if aggregate is not None:
                bar["low"], bar["high"] = noise_interval(metadata, length, aggregate)
            bar["best"] = aggregate if aggregate is not None else synthetic
            bar["best_from"] = "aggregate" if aggregate is not None else "synthetic"
            bars.append(bar)
        answer["columns"][column.name] = bars
    answer["interval"] = interval_kind(metadata)
    answer["parts"] = released_parts(aggregates, metadata, selection)
    return answer


#: Longest selection whose released parts are listed (its sub-combinations grow as C(n, L)).
MAX_PARTS_SELECTED = 8


def warm_up(served: Served) -> None:
    """Open ``served`` and answer a few selections of every shape the page sends.

    The first call of a selection kernel loads it from Numba's cache (or
    compiles it, seconds, on the first run after an install or update): done
    here, before the URL is printed, no one's first click waits for it.
    """
    records, aggregates, _ = served.indexes()
    if records is None:
        return
    usable = [c for c in records.columns if c.values]
    length = aggregates.reporting_length if aggregates is not None else 1
    shapes = [{}, {c.name: c.values[:1] for c in usable[: length + 1]}]
    if usable and len(usable[0].values) > 1:
        shapes.append({usable[0].name: usable[0].values[:2]})
    for selection in shapes:
        explore(served, selection)


def interval_kind(metadata: dict) -> str:
    """How to read a released count's interval: ``dp`` (95 % noise), ``k`` (rounded down to k), ``exact``."""
    from .index import noise_interval

    if (metadata.get("privacy") or {}).get("mechanism") == "differential-privacy":
        return "dp"
    low, high = noise_interval(metadata, 1, 0)
    return "k" if high > low else "exact"


def released_parts(aggregates, metadata: dict, selection: dict[str, list[str]]) -> list[dict]:
    """For a selection longer than the reporting length: its released sub-combinations of that length.

    Each is ``{"attributes": [[column, value], ...], "count", "low", "high"}``
    (under k-anonymity a part that was not reported has count None: fewer
    than k records hold it); the true count of the whole selection is at most
    the smallest ``high``.
    Empty when the selection is short enough to be released itself, when a
    column has several values selected, or when it is longer than
    :data:`MAX_PARTS_SELECTED`.
    """
    from itertools import combinations

    from .index import noise_interval

    if aggregates is None or any(len(v) != 1 for v in selection.values()):
        return []
    pairs = sorted((column, values[0]) for column, values in selection.items())
    length = aggregates.reporting_length
    if len(pairs) <= length or len(pairs) > MAX_PARTS_SELECTED:
        return []
    kind, parts = interval_kind(metadata), []
    for subset in combinations(pairs, length):
        count = aggregates.count(list(subset))
        if count is not None:
            low, high = noise_interval(metadata, length, count)
        elif kind == "k":  # not reported under k-anonymity: fewer than k records hold it
            low, high = 0.0, noise_interval(metadata, length, 0)[1]
        else:
            continue
        part = {"attributes": [list(p) for p in subset], "count": count, "low": low, "high": high}
        parts.append(part)
    return sorted(parts, key=lambda part: part["high"])


def files(served: Served) -> list[dict]:
    """The release's downloadable files: name, size in bytes, what it holds."""
    out = []
    for name, what in DOWNLOADS.items():
        path = safe_file(served.folder, name)
        if path is not None:
            out.append({"name": name, "bytes": path.stat().st_size, "holds": what})
    return out


def safe_file(folder: Path, name: str) -> Path | None:
    """``folder / name`` if it is one of a release's files and a regular file right inside it, else None.

    A name that is not a known release file, a link, or anything resolving
    outside the folder is never served.
    """
    if name not in DOWNLOADS:
        return None
    path = folder / name
    try:
        if not path.is_file() or path.is_symlink() or path.resolve().parent != folder.resolve():
            return None
    except OSError:
        return None
    return path


def open_release_file(folder: Path, name: str) -> tuple[int, int] | None:
    """An open descriptor and the size of release file ``name`` right inside ``folder``, else None.

    The name is opened relative to the folder without following a link, and
    the descriptor is checked to be a regular file, so a link swapped in after
    :func:`safe_file`'s check is never followed. The caller closes it.
    """
    if name not in DOWNLOADS:
        return None
    try:
        where = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0), dir_fd=where)
    except OSError:
        return None
    finally:
        os.close(where)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return None
    return fd, info.st_size


def _chunks(fd: int, size: int = 1 << 20) -> Iterator[bytes]:
    """The bytes read from ``fd`` in pieces of ``size``; the descriptor is closed at the end."""
    with os.fdopen(fd, "rb", buffering=0) as file:
        while piece := file.read(size):
            yield piece


def read_evaluation(path: Path, served: list[Served]) -> dict:
    """An evaluation.json for the Quality page, with ``of_release``: the served release it evaluates."""
    from ..errors import InputError
    from ..ingest import fingerprint

    try:
        quality = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{path}: not an evaluation (showcase evaluate writes evaluation.json)") from None
    if not isinstance(quality, dict) or quality.get("kind") != "evaluation":
        raise InputError(f"{path}: not an evaluation (showcase evaluate writes evaluation.json)")
    target = (quality.get("release") or {}) if isinstance(quality.get("release"), dict) else {}
    quality["of_release"] = None
    for candidate in served:
        name = target.get("file")
        file = safe_file(candidate.folder, name) if isinstance(name, str) else None
        if file is not None and fingerprint(file) == target.get("fingerprint"):
            quality["of_release"] = candidate.id
            break
    return quality


def create_app(
    folders: list[Path],
    evaluation: Path | None = None,
    *,
    preload: bool = False,
    hosts: tuple[str, ...] | None = LOOPBACK_NAMES,
) -> LocalOnly:
    """The explorer over release ``folders`` (and, for the data owner, an ``evaluation``).

    With ``preload`` every release is opened and indexed now (seconds for
    millions of records), so that no one waits on the first page. Requests
    must name one of ``hosts`` in their Host header (None: any), which stops
    DNS-rebinding pages (:mod:`.guard`).
    """
    served = {s.id: s for s in release_ids([Path(f) for f in folders])}
    if preload:
        for one in served.values():
            warm_up(one)
    quality = read_evaluation(Path(evaluation), list(served.values())) if evaluation is not None else None

    def release(request: Request) -> Served:
        found = served.get(request.path_params["release"])
        if found is None:
            raise HTTPException(404, "no such release")
        return found

    def page(request: Request) -> Response:
        return Response(asset("explorer.html"), media_type="text/html")

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            raise HTTPException(404, "no such file")
        return Response(asset(name), media_type=ASSETS[name])

    def releases(request: Request) -> Answer:
        return Answer({"releases": [s.id for s in served.values()], "quality": quality is not None})

    def overview_route(request: Request) -> Answer:
        return Answer(overview(release(request)))

    def explore_route(request: Request) -> Answer:
        selection = parse_selection(request.query_params.get("s"))
        try:
            return Answer(explore(release(request), selection))
        except ShowcaseError as error:
            raise HTTPException(400, str(error)) from None

    def files_route(request: Request) -> Answer:
        return Answer({"files": files(release(request))})

    def download(request: Request) -> Response:
        name = request.path_params["name"]
        opened = open_release_file(release(request).folder, name)
        if opened is None:
            raise HTTPException(404, "no such file in this release")
        fd, size = opened
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        headers = {"content-length": str(size), "content-disposition": f'attachment; filename="{name}"'}
        return StreamingResponse(_chunks(fd), media_type=media, headers=headers)

    def quality_route(request: Request) -> Answer:
        if quality is None:
            raise HTTPException(404, "no evaluation was given (showcase serve --evaluation PATH)")
        return Answer(quality)

    def error(request: Request, problem: HTTPException) -> Answer:
        return Answer({"error": problem.detail}, status_code=problem.status_code)

    routes = [
        Route("/", page),
        Route("/assets/{name}", static),
        Route("/api/releases", releases),
        Route("/api/quality", quality_route),
        Route("/api/{release}/overview", overview_route),
        Route("/api/{release}/explore", explore_route),
        Route("/api/{release}/files", files_route),
        Route("/download/{release}/{name}", download),
    ]
    return LocalOnly(Starlette(routes=routes, exception_handlers={HTTPException: error}), hosts)


def serve(
    folders: list[Path],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    evaluation: Path | None = None,
    ready=None,
) -> None:
    """Run the explorer until interrupted (uvicorn, one process).

    The port is checked first and every release opened before listening;
    ``ready()`` is called just before the server starts answering.
    """
    import socket

    import uvicorn

    from ..errors import InputError

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        raise InputError(
            f"cannot listen on {host}:{port} ({error.strerror}); choose another --port"
        ) from None
    app = create_app(folders, evaluation, preload=True, hosts=allowed_hosts(host))
    if ready is not None:
        ready()
    uvicorn.run(app, host=host, port=port, log_level="warning")
