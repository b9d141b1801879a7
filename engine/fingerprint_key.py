"""The input's fingerprint as a release publishes it: keyed, so nobody can test a guess of the data.

A plain SHA-256 of the sensitive input, written into a release's metadata,
is an oracle: someone who knows every record but one (the adversary DP
defends against) can hash each candidate file and see which one matches. So
the published fingerprint is HMAC-SHA256 of the input's SHA-256 under a
secret key kept on the data owner's machine (``~/.showcase/fingerprint.key``
beside the default ledger, or ``$SHOWCASE_KEY``), made on first use, readable
by the owner only. The owner can match a release to its input (same key,
same input, same published fingerprint); nobody else can. The ledger, which
stays with the owner, keeps the plain SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from .dp.ledger import ledger_path
from .errors import InputError

#: Published fingerprints start with this, so they are never taken for a plain SHA-256.
PREFIX = "hmac-sha256:"
KEY_BYTES = 32


def key_path() -> Path:
    """The key file: ``$SHOWCASE_KEY``, else ``fingerprint.key`` beside the default ledger."""
    given = os.environ.get("SHOWCASE_KEY")
    return Path(given) if given else ledger_path(None).parent / "fingerprint.key"


def fingerprint_key() -> bytes:
    """The owner's secret key, made (mode 0600) the first time it is needed."""
    path = key_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as problem:
        raise InputError(f"cannot make the fingerprint key {path}: {problem.strerror}") from None
    else:
        with os.fdopen(handle, "wb") as out:
            out.write(secrets.token_bytes(KEY_BYTES))
            out.flush()
            os.fsync(out.fileno())
    try:
        key = path.read_bytes()
    except OSError as problem:
        raise InputError(f"cannot read the fingerprint key {path}: {problem.strerror}") from None
    if len(key) != KEY_BYTES:
        raise InputError(
            f"the fingerprint key {path} is damaged ({len(key)} bytes, not {KEY_BYTES}): restore it from "
            "a backup, or remove it to start a new one (releases made before will no longer match)"
        )
    return key


def published(fingerprint: str) -> str:
    """The keyed form of an input's ``fingerprint`` (``sha256:...``), for a publishable file."""
    mac = hmac.new(fingerprint_key(), fingerprint.encode("ascii"), hashlib.sha256)
    return PREFIX + mac.hexdigest()


def publishable(description: dict) -> dict:
    """An input's description (format, fingerprint, ...) with its fingerprint keyed."""
    if "fingerprint" not in description:
        return dict(description)
    return {**description, "fingerprint": published(description["fingerprint"])}
