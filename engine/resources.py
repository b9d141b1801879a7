"""How a job may use the machine: a memory limit, the resource guard, streaming, a Dask scheduler.

:class:`Resources` is the spec a job takes (like a protection spec): it is
checked when made, so a bad option fails in one line before any data is read.
:func:`check_resources` is the guard: before counting, it bounds the number
of combinations that counting up to length L can produce from the columns'
numbers of values, and the memory they need, and refuses a job whose bound
is above the memory limit, saying how to bring it down.

This module imports nothing heavy (no NumPy): the command line builds the spec.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ParameterError

#: Share of the machine's memory a job may plan for when no limit is given.
DEFAULT_MEMORY_SHARE = 0.5
#: Bytes one counted combination holds in the counts of one length-L job: its attribute ids
#: (int32 × L), its length (uint8) and count (int64), times the copies made on the way to the
#: files (the parts and their concatenation, the protected selection, the Arrow table written).
COPIES = 4
#: Column sets are enumerated one by one up to this many; beyond it the bound is computed
#: per length from the elementary symmetric polynomials of the numbers of values.
ENUMERATE_SETS = 200_000
#: Under DP, bytes per present attribute of the per-record attribute lists (ids and row, int64).
DP_BYTES_PER_ATTRIBUTE = 24
#: Under DP, records whose attribute lists exist at once (a chunk, see ``dp.marginals``), and
#: bytes kept per record for the whole release (its number of candidates, int32).
DP_CHUNK_ROWS = 1 << 20
DP_BYTES_PER_RECORD = 4
#: Under DP, entries of one length's dense candidate index at most (see ``dp.marginals``): the
#: index and its flags hold 8 bytes per entry, and the threads' key histograms at most
#: :data:`DP_DENSE_HITS_BYTES` (4 bytes per entry and thread).
DP_DENSE_ENTRIES = 1 << 24
DP_DENSE_HITS_BYTES = 1 << 28

_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3, "t": 1000**4,
    "tb": 1000**4,
    "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}  # fmt: skip
_SCHEDULER = re.compile(
    r"^(local\[(?P<workers>\d+)\]|tcp://(?P<host>[^\s/:]+|\[[0-9a-fA-F:]+\]):(?P<port>\d+))$"
)


def physical_memory() -> int:
    """Bytes of memory of this machine (or of its cgroup, when that is smaller)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return int(total)


def parse_memory_limit(value: int | str | None) -> int:
    """A memory limit in bytes: an integer, ``"6GiB"``, ``"500MB"``, ``"50%"`` (of RAM), None (the default).

    Raises :class:`ParameterError` in one line for anything else or for a limit that is not positive.
    """
    if value is None:
        return int(physical_memory() * DEFAULT_MEMORY_SHARE)
    if isinstance(value, bool):
        raise ParameterError(f"--memory-limit must be a size such as 6GiB or 50%, got {value!r}")
    if isinstance(value, int):
        number, unit = float(value), ""
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(%|[a-zA-Z]*)\s*", str(value))
        if match is None or match.group(2).lower() not in {*_UNITS, "%"}:
            raise ParameterError(
                f"--memory-limit must be a size such as 6GiB, 500MB or 50% (of memory), got {value!r}"
            )
        number, unit = float(match.group(1)), match.group(2).lower()
    if unit == "%":
        if not 0 < number <= 100:
            raise ParameterError(f"--memory-limit as a share of memory must be in (0%, 100%], got {value!r}")
        limit = physical_memory() * number / 100
    else:
        limit = number * _UNITS[unit]
    if limit < 1:
        raise ParameterError(f"--memory-limit must be above 0, got {value!r}")
    return int(limit)


def parse_scheduler(value: str | None) -> tuple[str, int | str] | None:
    """``local[N]`` → ``("local", N)``, ``tcp://HOST:PORT`` → ``("tcp", address)``, None → None."""
    if value is None:
        return None
    match = _SCHEDULER.match(str(value).strip())
    if match is None:
        raise ParameterError(
            f"--scheduler must be local[N] (N worker processes here) or tcp://HOST:PORT (a Dask "
            f"scheduler), got {value!r}"
        )
    if match.group("workers") is not None:
        workers = int(match.group("workers"))
        if not 1 <= workers <= 1024:
            raise ParameterError(f"--scheduler local[N] needs N from 1 to 1024, got {workers}")
        return "local", workers
    port = int(match.group("port"))
    if not 1 <= port <= 65535:
        raise ParameterError(f"--scheduler port must be from 1 to 65535, got {port}")
    return "tcp", str(value).strip()


@dataclass(frozen=True)
class Resources:
    """How a job may use the machine (checked when made).

    ``memory_limit``: bytes, or a size such as ``"6GiB"`` or ``"50%"``;
    default half the machine's memory. ``guard``: refuse, before counting, a
    job whose combinations may not fit the limit (:func:`check_resources`).
    ``stream``: read the input in row batches and sum the batches' counts
    (True), load it whole (False), or choose (None: directories, globs and
    files above :data:`~showcase.engine.stream.STREAM_ABOVE` bytes are
    streamed). ``scheduler``: count on a Dask cluster, ``local[N]`` or
    ``tcp://HOST:PORT`` (implies streaming). ``batch_rows``: rows per batch
    when streaming (default: from the memory limit).
    """

    memory_limit: int | str | None = None
    guard: bool = True
    stream: bool | None = None
    scheduler: str | None = None
    batch_rows: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "memory_limit", parse_memory_limit(self.memory_limit))
        parse_scheduler(self.scheduler)
        if self.scheduler is not None and self.stream is False:
            raise ParameterError("--scheduler counts partitions of the input: it cannot load it whole")
        rows = self.batch_rows
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 1):
            raise ParameterError(f"batch rows must be a positive integer, got {rows!r}")

    @property
    def limit(self) -> int:
        """The memory limit in bytes."""
        return int(self.memory_limit)  # type: ignore[arg-type]

    def describe(self) -> dict:
        """For metadata: the limit, whether the guard ran, the scheduler's kind (never its address)."""
        kind = parse_scheduler(self.scheduler)
        return {
            "memory_limit": self.limit,
            "resource_guard": self.guard,
            "scheduler": None if kind is None else (f"local[{kind[1]}]" if kind[0] == "local" else "tcp"),
        }


@dataclass(frozen=True)
class Estimate:
    """An upper bound on what counting will hold: combinations, and bytes in all."""

    combinations: int
    bytes: int
    resident: int


def _elementary(values: Sequence[float], length: int) -> list[float]:
    """e_1..e_length of ``values`` (sums over subsets of k of their products), in floats."""
    e = [1.0] + [0.0] * length
    for v in values:
        for k in range(length, 0, -1):
            e[k] += e[k - 1] * v
    return e[1:]


def combination_bound(cardinalities: Sequence[int], n_rows: int, length: int, *, capped: bool = True) -> int:
    """Most combinations of 1..``length`` attributes from columns of these numbers of values.

    A set of columns yields at most the product of its numbers of values, and
    (when ``capped``) at most one combination per row: the bound is the sum
    over column sets of the smaller of the two. With more than
    :data:`ENUMERATE_SETS` sets, each length's bound is the smaller of the
    sum of products and ``C(columns, k) * rows``, which is larger.
    """
    cards = [max(int(c), 0) for c in cardinalities]
    n = len(cards)
    longest = min(length, n)
    cap = float(n_rows) if capped else math.inf
    n_sets = sum(math.comb(n, k) for k in range(1, longest + 1))
    total = 0.0
    if n_sets <= ENUMERATE_SETS:
        for k in range(1, longest + 1):
            for cols in itertools.combinations(cards, k):
                total += min(float(math.prod(cols)), cap)
    else:
        for k, e in enumerate(_elementary(cards, longest), start=1):
            total += min(e, math.comb(n, k) * cap)
    return int(min(total, 2.0**62))


def estimate(
    cardinalities: Sequence[int],
    n_rows: int,
    length: int,
    *,
    resident: int = 0,
    dp: bool = False,
    dp_chunk_rows: int | None = DP_CHUNK_ROWS,
) -> Estimate:
    """The guard's bound: combinations counted and bytes, ``resident`` bytes (the codes) included.

    Under DP the candidates of a length include combinations absent from the
    data, so they are bounded by the products alone, and the per-record
    attribute lists of ``dp_chunk_rows`` records (None: of every record, as
    for subjects) and each record's number of candidates are added.
    """
    combos = combination_bound(cardinalities, n_rows, length, capped=not dp)
    per_combination = COPIES * (4 * length + 9)
    extra = 0
    if dp:
        listed = n_rows if dp_chunk_rows is None else min(n_rows, dp_chunk_rows)
        extra = DP_BYTES_PER_ATTRIBUTE * listed * len(cardinalities) + DP_BYTES_PER_RECORD * n_rows
        if dp_chunk_rows is not None:  # the dense pass of the longest length (its index is the largest)
            extra += dense_pass_bytes(cardinalities, length)
    return Estimate(combos, combos * per_combination + resident + extra, resident)


def dense_pass_bytes(cardinalities: Sequence[int], length: int, threads: int | None = None) -> int:
    """Bytes of a DP dense pass at ``length``: its index and flags, and the threads' histograms.

    The index has an entry per cell of every column set of ``length`` columns
    (each column's values and "missing"), up to :data:`DP_DENSE_ENTRIES`;
    above that the release enumerates attribute lists instead (counted apart).
    """
    if length < 1 or length > len(cardinalities):
        return 0
    cells = _elementary([c + 1 for c in cardinalities], length)[length - 1]
    if cells > DP_DENSE_ENTRIES:
        return 0
    entries = int(cells)
    threads = threads or os.cpu_count() or 1
    return 8 * entries + min(DP_DENSE_HITS_BYTES, 4 * entries * threads)


def _size(n: float) -> str:
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def check_resources(
    cardinalities: Sequence[int],
    n_rows: int,
    length: int,
    resources: Resources,
    *,
    resident: int = 0,
    dp: bool = False,
    dp_chunk_rows: int | None = DP_CHUNK_ROWS,
) -> Estimate:
    """Refuse (one line) counting whose bound is above the memory limit, unless the guard is off.

    ``cardinalities`` are the columns' numbers of values and ``resident`` the
    bytes already held for counting (the codes). Returns the estimate.
    """
    bound = estimate(cardinalities, n_rows, length, resident=resident, dp=dp, dp_chunk_rows=dp_chunk_rows)
    if resources.guard and bound.bytes > resources.limit:
        widest = sorted(range(len(cardinalities)), key=lambda c: -cardinalities[c])[:1]
        hint = f" (the widest column has {cardinalities[widest[0]]:,} values)" if widest else ""
        raise ParameterError(
            f"counting up to length {length} over {len(cardinalities)} columns{hint} may make up to "
            f"{bound.combinations:,} combinations, about {_size(bound.bytes)}, above the memory limit of "
            f"{_size(resources.limit)}: lower --length, bin or drop columns (--bin, --use-columns), raise "
            "--memory-limit, or pass --no-resource-guard to count anyway"
        )
    return bound
