"""The skeleton every job shares: checks first, timed steps, one metadata builder, one staged write."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .._version import __version__
from ..config import threads as thread_count
from ..config import validate_threads
from ..release import METADATA, check_output_dir, utc_now, write_json
from ..staging import staged_directory

#: ``progress(stage, done, total)``: stage is read, count, noise, synthesize, check, evaluate or write.
StageProgress = Callable[[str, int, int], None]
#: ``write(path)``: writes one file of a release.
Writer = Callable[[Path], None]


def _silent(stage: str, done: int, total: int) -> None:
    return None


class Job:
    """One run of a job: where it writes, its timed steps and its metadata.

    Construct it after the parameters are checked: it checks (and locks) the
    output, refusing one that would replace an input, before any data is read.
    """

    def __init__(
        self,
        kind: str,
        *,
        out: str | Path | None = None,
        force: bool = False,
        inputs: Iterable[object] = (),
        threads: int | None = None,
        progress: StageProgress | None = None,
    ) -> None:
        validate_threads(threads)
        self.kind = kind
        self.out = None if out is None else Path(out)
        self.force = force
        self.threads = threads
        self.report = progress or _silent
        self.seconds: dict[str, float] = {}
        self.started = time.perf_counter()
        if self.out is not None:
            paths = [p for p in inputs if isinstance(p, (str, Path))]
            check_output_dir(self.out, force, inputs=paths, kind=kind)

    @contextlib.contextmanager
    def step(self, name: str, total: int | None = 1) -> Iterator[Callable[[int, int], None]]:
        """Time a step, run it with the job's threads, and yield its ``tick(done, total)``.

        With ``total``, the step is reported as started (0 of total) and, at its
        end, as done; else the step reports itself through ``tick``.
        """
        tick = lambda done, of: self.report(name, done, of)  # noqa: E731
        start = time.perf_counter()
        if total is not None:
            tick(0, total)
        with thread_count(self.threads):
            yield tick
        if total is not None:
            tick(total, total)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def elapsed(self) -> float:
        """Seconds since the job started."""
        return time.perf_counter() - self.started

    def document(self, sections: dict) -> dict:
        """A showcase document (metadata.json, evaluation.json, ...): who wrote it, when, what."""
        return {
            "tool": {"name": "showcase", "version": __version__},
            "created": utc_now(),
            "kind": self.kind,
            **sections,
        }

    def metadata(self, sections: dict, files: list[str]) -> dict:
        """A release's metadata.json: the document and its files.

        Never the steps' times: they depend on the sensitive data (its rows, its
        distinct combinations), which a DP release may not show outside its
        noise. The result's ``seconds`` and the command line's summary give them.
        """
        return {**self.document(sections), "files": [*files, METADATA]}

    def write(self, files: dict[str, Writer], sections: Callable[[], dict] | None) -> list[str]:
        """Write ``files`` (and metadata.json) into the output, all at once or not at all.

        ``sections`` is called once the files are written, so the metadata can
        record the write's time; without it no metadata.json is written (the
        files are showcase documents themselves). Returns the names written.
        """
        assert self.out is not None
        start = time.perf_counter()
        steps = len(files) + 1
        names = list(files)
        with staged_directory(self.out, self.force) as stage:
            self.report("write", 0, steps)
            for done, (name, write) in enumerate(files.items(), start=1):
                write(stage / name)
                self.report("write", done, steps)
            self.seconds["write"] = time.perf_counter() - start
            if sections is not None:
                document = self.metadata(sections(), names)
                write_json(stage / METADATA, document)
                names = document["files"]
            self.report("write", steps, steps)
        return names
