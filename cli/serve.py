"""``showcase serve``: the explorer, a local web dashboard over releases."""

from __future__ import annotations

from pathlib import Path

import typer

from . import console


def serve(
    releases: list[Path] = typer.Argument(
        ..., metavar="RELEASE", help="Release directories to explore (one or more)."
    ),
    port: int = typer.Option(8000, "--port", "-p", min=1, max=65535, help="Port to listen on."),
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to listen on (the default is this machine only); any other address lets "
        "whoever reaches it read the releases (and the --evaluation's exact statistics).",
    ),
    evaluation: Path | None = typer.Option(
        None,
        "--evaluation",
        help="An evaluation.json to show on the Quality page. It holds exact statistics "
        "of the sensitive data: for the data owner's eyes only.",
    ),  # fmt: skip
) -> None:
    """Explore releases in the browser: counts by column, selections, the privacy guarantee, downloads.

    Serves only the files a release is made of (never a sensitive input lying
    beside it), works offline, and listens on this machine only unless
    --host says otherwise.

    Example:

    \b
        showcase serve release/ dp-release/ --port 8000
        (then open http://127.0.0.1:8000/ in a browser)
    """
    from showcase.engine import InputError, is_loopback, require_release, serve_explorer

    for folder in releases:
        require_release(folder)
    if evaluation is not None and not evaluation.is_file():
        raise InputError(f"{evaluation}: no such evaluation file")
    if not is_loopback(host):
        shown = " and the evaluation's exact statistics" if evaluation is not None else ""
        console.warning(
            f"--host {host}: anyone who can reach this machine on port {port} can read these releases{shown}"
        )
    console.out.print(f"Opening {len(releases)} release(s) ...", soft_wrap=True)
    serve_explorer(releases, host=host, port=port, evaluation=evaluation, ready=_ready(host, port))


def _ready(host: str, port: int):
    """What to print once the releases are open and the server listens."""

    def say() -> None:
        console.out.print(f"showcase explorer: http://{host}:{port}/  (Ctrl-C to stop)", soft_wrap=True)

    return say
