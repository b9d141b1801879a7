"""A DP release's account in the privacy ledger: charged before noise, settled after the write.

The budget is charged before any noise is drawn and stays spent whatever
happens next; the entry is settled as released only once the output is in
place, and as failed (with a reason that holds no data value) otherwise.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass

from ..dp.ledger import Ledger, dataset_key
from ..errors import ShowcaseError
from ..interrupts import Terminated, received
from ..protection import DifferentialPrivacy


@dataclass
class Account:
    """One DP release's entry in the ledger, between its charge and its settlement."""

    book: Ledger
    entry: int
    epsilon: float
    fingerprint: str | None = None

    def record_delta(self, delta: float) -> None:
        """Record the delta actually used (a default one is known only after the record count)."""
        self.book.raise_delta(self.entry, delta, fingerprint=self.fingerprint)

    def released(self, rho: float) -> None:
        self.book.settle(self.entry, "released", rho, fingerprint=self.fingerprint)


def _reason(problem: BaseException) -> str:
    """Why a charged release failed, in words that hold no data value."""
    if isinstance(problem, ShowcaseError):
        return str(problem)
    if isinstance(problem, Terminated):
        return "terminated (SIGTERM)"
    if isinstance(problem, KeyboardInterrupt):
        return "interrupted"
    signum = received()
    if signum is not None:  # the signal's exception was swallowed in a C callback; this error followed
        return "terminated (SIGTERM)" if signum == signal.SIGTERM else "interrupted"
    return f"unexpected {type(problem).__name__}"


@contextlib.contextmanager
def charged(
    book: Ledger, fingerprint: str, protection: DifferentialPrivacy, parameters: dict
) -> Iterator[Account]:
    """Charge ``protection``'s budget to the input ``fingerprint``; if the block raises, settle as failed.

    The delta charged is the requested one or, when it defaults, filled in
    by :meth:`Account.record_delta` (never lower than what is used).
    """
    key = dataset_key(protection.dataset_id) if protection.dataset_id is not None else None
    entry = book.charge(
        fingerprint, protection.epsilon, protection.delta or 0.0, key=key,
        budget_total=protection.budget_total, parameters=parameters,
    )  # fmt: skip
    account = Account(book, entry, protection.epsilon, fingerprint)
    try:
        yield account
    except BaseException as problem:
        recorded = "recorded as failed"
        try:
            book.settle(entry, "failed", reason=_reason(problem), fingerprint=fingerprint)
        except ShowcaseError:
            recorded = "which could not be marked failed: check the ledger"
        problem.add_note(
            f"the release's budget (epsilon {protection.epsilon:g}) stays spent in the privacy ledger "
            f"{book.path} (entry {entry}, {recorded})"
        )
        raise
