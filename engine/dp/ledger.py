"""The privacy ledger: every DP release made from an input, and the budget it spent.

A local SQLite file keyed by the input's fingerprint. A release is charged
*before* any noise is drawn, inside an IMMEDIATE transaction (a write lock), so
two releases started at once cannot both pass a budget that fits only one.
Spending composes sequentially: the epsilons and deltas of all releases from
one input add up; a release that would take the epsilon total past
``budget_total`` is refused. A release that fails after being charged stays
charged (status ``failed``): noise may already have been drawn.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParameterError
from ..release import utc_now

DEFAULT_PATH = Path.home() / ".showcase" / "ledger.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS releases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    created TEXT NOT NULL,
    epsilon REAL NOT NULL,
    delta REAL NOT NULL,
    rho REAL,
    status TEXT NOT NULL,
    parameters TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS releases_by_input ON releases (fingerprint);
"""


def ledger_path(path: str | Path | None = None) -> Path:
    """The ledger file: ``path``, else $SHOWCASE_LEDGER, else ~/.showcase/ledger.sqlite."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get("SHOWCASE_LEDGER", DEFAULT_PATH))


@dataclass(frozen=True)
class Spent:
    releases: int
    epsilon: float
    delta: float


class Ledger:
    """A privacy ledger file."""

    def __init__(self, path: str | Path | None = None):
        self.path = ledger_path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as problem:
            raise ParameterError(f"cannot open the privacy ledger {self.path}: {problem}") from None

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60, isolation_level=None)

    def spent(self, fingerprint: str) -> Spent:
        with self._connect() as db:
            row = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(epsilon), 0), COALESCE(SUM(delta), 0) "
                "FROM releases WHERE fingerprint = ?",
                (fingerprint,),
            ).fetchone()
        return Spent(int(row[0]), float(row[1]), float(row[2]))

    def charge(
        self,
        fingerprint: str,
        epsilon: float,
        delta: float,
        *,
        budget_total: float | None = None,
        parameters: dict | None = None,
    ) -> int:
        """Record a release's spending, or refuse it if it would pass ``budget_total``."""
        if budget_total is not None and not budget_total > 0:
            raise ParameterError(f"budget total must be positive, got {budget_total!r}")
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            total = db.execute(
                "SELECT COALESCE(SUM(epsilon), 0) FROM releases WHERE fingerprint = ?", (fingerprint,)
            ).fetchone()[0]
            if budget_total is not None and total + epsilon > budget_total * (1 + 1e-12):
                db.execute("ROLLBACK")
                raise ParameterError(
                    f"privacy budget exceeded for this input: {total:g} of {budget_total:g} "
                    f"already spent, this release needs {epsilon:g} (ledger {self.path})"
                )
            cursor = db.execute(
                "INSERT INTO releases (fingerprint, created, epsilon, delta, rho, status, "
                "parameters) VALUES (?, ?, ?, ?, ?, 'charged', ?)",
                (
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

    def settle(self, release_id: int, status: str, rho: float | None = None) -> None:
        """Mark a charged release as ``released`` or ``failed`` (it stays counted)."""
        with self._connect() as db:
            db.execute(
                "UPDATE releases SET status = ?, rho = COALESCE(?, rho) WHERE id = ?",
                (status, rho, release_id),
            )

    def entries(self, fingerprint: str | None = None) -> list[dict]:
        query = "SELECT id, fingerprint, created, epsilon, delta, rho, status, parameters FROM releases"
        args: tuple = ()
        if fingerprint:
            query += " WHERE fingerprint = ?"
            args = (fingerprint,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY id", args).fetchall()
        names = ("id", "fingerprint", "created", "epsilon", "delta", "rho", "status", "parameters")
        return [dict(zip(names, row)) for row in rows]
