"""The privacy ledger: every DP release made from an input, and the budget it spent.

A local SQLite file. Each release is keyed by a *budget key*: the input's
fingerprint (its SHA-256, which changes with any edit of the file), or
``dataset:NAME`` when the user names the dataset (``--dataset-id``). A
release is charged *before* any noise is drawn, inside an IMMEDIATE
transaction (a write lock), so two releases started at once cannot both pass a
budget that fits only one. Spending composes sequentially: the epsilons of
all releases with the same budget key, and of all releases of the same file
bytes whatever their key, add up; a release that would take that total past
``budget_total`` is refused. A release is marked ``released`` only once its
directory is in place; one that fails after being charged stays charged
(status ``failed``, with its reason): noise may already have been drawn.

The ledger never starts afresh by accident. A new file is created only where
none exists (:attr:`Ledger.created` says so). An existing file is verified
first: it must be a regular, non-empty SQLite file with this schema version,
the ``releases`` table, and no rows deleted (AUTOINCREMENT ids are never
reused, so fewer rows than ids ever given out means some were deleted);
otherwise every command refuses it with one line. This protects against
accidents (a truncated or replaced file, a deleted table or rows, a file of
another program); it does not protect against someone who edits the file
deliberately, or deletes it: keep it where only the data's custodians can
write, and back it up.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParameterError
from ..release import utc_now

DEFAULT_PATH = Path.home() / ".showcase" / "ledger.sqlite"
#: ``PRAGMA user_version`` of the ledger files this version writes.
SCHEMA_VERSION = 2
COLUMNS = ("id", "budget_key", "fingerprint", "created", "epsilon", "delta", "rho", "status", "reason",
           "parameters")  # fmt: skip
#: The columns of the first ledger format (user_version 0), upgraded in place.
LEGACY_COLUMNS = ("id", "fingerprint", "created", "epsilon", "delta", "rho", "status", "parameters")
SCHEMA = f"""
CREATE TABLE releases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    budget_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created TEXT NOT NULL,
    epsilon REAL NOT NULL,
    delta REAL NOT NULL,
    rho REAL,
    status TEXT NOT NULL,
    reason TEXT,
    parameters TEXT NOT NULL
);
CREATE INDEX releases_by_key ON releases (budget_key);
CREATE INDEX releases_by_input ON releases (fingerprint);
PRAGMA user_version = {SCHEMA_VERSION};
"""
UPGRADE = f"""
ALTER TABLE releases ADD COLUMN budget_key TEXT;
ALTER TABLE releases ADD COLUMN reason TEXT;
UPDATE releases SET budget_key = fingerprint;
CREATE INDEX IF NOT EXISTS releases_by_key ON releases (budget_key);
PRAGMA user_version = {SCHEMA_VERSION};
"""
#: Longest accepted ``--dataset-id``.
MAX_DATASET_ID = 200
STATUSES = ("charged", "released", "failed")


def check_ledger_folder(path: str | Path | None = None) -> None:
    """Refuse a new ledger in a folder that does not exist, unless it is the default ~/.showcase.

    A mistyped --ledger (or $SHOWCASE_LEDGER) would otherwise start a new, empty budget in a new
    folder, and later releases would be charged there instead of against what was spent.
    """
    target = ledger_path(path)
    if os.path.lexists(target) or target.parent.is_dir() or target == DEFAULT_PATH:
        return
    raise ParameterError(
        f"the folder of the privacy ledger {target} does not exist: check the path, or create the "
        "folder first (a new ledger there would start a new budget)"
    )


def ledger_path(path: str | Path | None = None) -> Path:
    """The ledger file: ``path``, else $SHOWCASE_LEDGER, else ~/.showcase/ledger.sqlite."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get("SHOWCASE_LEDGER", DEFAULT_PATH))


def dataset_key(dataset_id: str) -> str:
    """The budget key of a named dataset, after checking the name (Unicode NFC, spaces trimmed)."""
    if (
        not isinstance(dataset_id, str)
        or not dataset_id.strip()
        or len(dataset_id) > MAX_DATASET_ID
        or not dataset_id.isprintable()
    ):
        raise ParameterError(
            f"--dataset-id must be 1 to {MAX_DATASET_ID} printable characters, got {dataset_id!r}"
        )
    # One name, one budget: "café" typed composed or decomposed is the same dataset.
    return f"dataset:{unicodedata.normalize('NFC', dataset_id.strip())}"


@dataclass(frozen=True)
class Spent:
    releases: int
    epsilon: float
    delta: float


#: The releases that share one budget with a release under key ?1 of the file bytes ?2: those under
#: the key or of the bytes, and those of any bytes charged under the key or of any key the bytes
#: were charged under (a dataset's earlier version released without its name, and the reverse).
RELATED = (
    "budget_key = ?1 OR fingerprint = ?2 "
    "OR fingerprint IN (SELECT fingerprint FROM releases WHERE budget_key = ?1) "
    "OR budget_key IN (SELECT budget_key FROM releases WHERE fingerprint = ?2)"
)


class Ledger:
    """A verified privacy ledger file.

    ``create=False`` refuses a missing file instead of creating it.
    """

    def __init__(self, path: str | Path | None = None, *, create: bool = True):
        self.path = ledger_path(path)
        self.created = False
        if not os.path.lexists(self.path):
            if not create:
                raise ParameterError(f"no privacy ledger at {self.path}")
            check_ledger_folder(self.path)
            self.created = self._create()
        self._verify()

    # ------------------------------------------------------------------ opening

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60, isolation_level=None)

    def _refuse(self, why: str) -> ParameterError:
        return ParameterError(
            f"the privacy ledger {self.path} {why}; showcase will not start a new budget over it: "
            "restore it from a backup, or give another --ledger"
        )

    def _create(self) -> bool:
        """Build a new ledger beside the target and link it into place; False if one appeared."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp = self.path.with_name(f".{self.path.name}.new-{uuid.uuid4().hex[:12]}")
            try:
                db = sqlite3.connect(temp, isolation_level=None)
                try:
                    db.executescript(SCHEMA)
                finally:
                    db.close()
                try:
                    os.link(temp, self.path)  # fails if another process created it first
                except FileExistsError:
                    return False
            finally:
                with contextlib.suppress(OSError):
                    temp.unlink()
        except (OSError, sqlite3.Error) as problem:
            raise ParameterError(f"cannot create the privacy ledger {self.path}: {problem}") from None
        return True

    def _verify(self) -> None:
        try:
            info = os.stat(self.path)
        except OSError as problem:
            raise ParameterError(f"cannot open the privacy ledger {self.path}: {problem.strerror}") from None
        if not stat.S_ISREG(info.st_mode):
            raise ParameterError(f"the privacy ledger {self.path} is not a regular file")
        if info.st_size == 0:
            raise self._refuse("is empty (0 bytes)")
        try:
            with contextlib.closing(self._connect()) as db:
                if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                    raise self._refuse("is damaged (SQLite integrity check failed)")
                version = db.execute("PRAGMA user_version").fetchone()[0]
                columns = tuple(row[1] for row in db.execute("PRAGMA table_info(releases)"))
                if not columns:
                    raise self._refuse("has no releases table")
                if version == 0 and columns == LEGACY_COLUMNS:
                    db.executescript(f"BEGIN IMMEDIATE; {UPGRADE} COMMIT;")
                    version, columns = SCHEMA_VERSION, LEGACY_COLUMNS + ("budget_key", "reason")
                if version != SCHEMA_VERSION:
                    raise self._refuse(
                        f"has schema version {version}, not {SCHEMA_VERSION} (written by another version?)"
                    )
                if set(columns) != set(COLUMNS):
                    raise self._refuse("does not have the columns of a showcase ledger")
                rows, largest = db.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM releases").fetchone()
                given = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'releases'").fetchone()
                given = max(int(given[0]) if given else 0, int(largest))
                if rows != given:
                    raise self._refuse(f"has {rows} release(s) but recorded {given}: rows were deleted")
        except sqlite3.Error as problem:
            raise self._refuse(f"cannot be read as a showcase ledger ({problem})") from None

    # ------------------------------------------------------------------ queries

    def spent(self, key: str, fingerprint: str | None = None) -> Spent:
        """Releases and budget charged to ``key`` (and to the file ``fingerprint``, when given)."""
        with contextlib.closing(self._connect()) as db:
            row = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(epsilon), 0), COALESCE(SUM(delta), 0) "
                f"FROM releases WHERE {RELATED}",
                (key, fingerprint or key),
            ).fetchone()
        return Spent(int(row[0]), float(row[1]), float(row[2]))

    def charge(
        self,
        fingerprint: str,
        epsilon: float,
        delta: float,
        *,
        key: str | None = None,
        budget_total: float | None = None,
        parameters: dict | None = None,
    ) -> int:
        """Record a release's spending, or refuse it if it would pass ``budget_total``.

        The total counts every release under ``key`` (default: the fingerprint)
        and every release of the same file bytes.
        """
        key = key or fingerprint
        if budget_total is not None and not budget_total > 0:
            raise ParameterError(f"budget total must be positive, got {budget_total!r}")
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            total = db.execute(
                f"SELECT COALESCE(SUM(epsilon), 0) FROM releases WHERE {RELATED}", (key, fingerprint)
            ).fetchone()[0]
            if budget_total is not None and total + epsilon > budget_total * (1 + 1e-12):
                db.execute("ROLLBACK")
                raise ParameterError(
                    f"privacy budget exceeded for this input: {total:g} of {budget_total:g} "
                    f"already spent, this release needs {epsilon:g} (ledger {self.path})"
                )
            cursor = db.execute(
                "INSERT INTO releases (budget_key, fingerprint, created, epsilon, delta, rho, status, "
                "parameters) VALUES (?, ?, ?, ?, ?, ?, 'charged', ?)",
                (
                    key,
                    fingerprint,
                    utc_now(),
                    float(epsilon),
                    float(delta),
                    (parameters or {}).get("rho"),
                    json.dumps(parameters or {}, sort_keys=True),
                ),
            )
            db.execute("COMMIT")
            return int(cursor.lastrowid)
        except sqlite3.Error as problem:
            raise ParameterError(f"privacy ledger {self.path}: {problem}") from None
        finally:
            db.close()

    def raise_delta(self, release_id: int, delta: float, fingerprint: str | None = None) -> None:
        """Raise a charged release's delta to ``delta`` (the default delta is known only later)."""
        self._update_charged(release_id, fingerprint, "delta = MAX(delta, ?)", (float(delta),))

    def settle(
        self, release_id: int, status: str, rho: float | None = None, reason: str | None = None,
        fingerprint: str | None = None,
    ) -> None:  # fmt: skip
        """Mark a charged release ``released`` or ``failed`` (with ``reason``); it stays counted.

        Only the entry as charged (still ``charged``, of ``fingerprint`` when
        given) is changed: in a ledger replaced meanwhile, entry ``release_id``
        may be another release's, and the charge would be lost without a word.
        """
        if status not in STATUSES:
            raise ValueError(f"unknown ledger status {status!r}")
        self._update_charged(
            release_id, fingerprint, "status = ?, rho = COALESCE(?, rho), reason = ?", (status, rho, reason)
        )

    def _update_charged(
        self, release_id: int, fingerprint: str | None, assignments: str, values: tuple
    ) -> None:
        try:
            with contextlib.closing(self._connect()) as db:
                changed = db.execute(
                    f"UPDATE releases SET {assignments} WHERE id = ? AND status = 'charged' "
                    "AND (? IS NULL OR fingerprint = ?)",
                    (*values, release_id, fingerprint, fingerprint),
                ).rowcount
        except sqlite3.Error as problem:
            raise ParameterError(f"privacy ledger {self.path}: {problem}") from None
        if changed != 1:
            raise ParameterError(
                f"privacy ledger {self.path}: entry {release_id} is no longer this release's charge (was "
                "the file replaced or edited while it ran?); the budget was spent: restore the ledger and "
                "record it"
            )

    def entries(self, key: str | None = None, fingerprint: str | None = None) -> list[dict]:
        """Every release, oldest first; with ``key`` or ``fingerprint``, those :meth:`spent` counts."""
        query = f"SELECT {', '.join(COLUMNS)} FROM releases"
        args: tuple = ()
        if key or fingerprint:
            query += f" WHERE {RELATED}"
            args = (key or fingerprint, fingerprint or key)
        with contextlib.closing(self._connect()) as db:
            rows = db.execute(query + " ORDER BY id", args).fetchall()
        return [dict(zip(COLUMNS, row)) for row in rows]
