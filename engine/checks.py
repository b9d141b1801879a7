"""Type checks for parameters at the engine's boundary, shared by every public entry point.

Python and NumPy scalars are both accepted (``np.int64(5)`` is an integer,
``np.float32(0.5)`` a number); booleans never are, so ``True`` is not taken
for 1. Each ``check_*`` returns the value as a plain Python type, ready for
JSON metadata and ledgers, or raises a one-line :class:`ParameterError`.
This module imports nothing heavy: the command line uses it before NumPy.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence

from .errors import ParameterError

#: The longest reporting length accepted (lengths are stored as uint8).
MAX_LENGTH = 255
#: A DP percentile has at most two decimals: the exact percentile sampler's integer arithmetic
#: multiplies the record count by its denominator.
MAX_PERCENTILE_DENOMINATOR = 100


def _is_bool(value: object) -> bool:
    kind = type(value)
    return isinstance(value, bool) or (kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_"))


def is_number(value: object) -> bool:
    """A finite real number (int, float or a NumPy scalar), not a bool."""
    return isinstance(value, numbers.Real) and not _is_bool(value) and math.isfinite(value)


def is_integer(value: object) -> bool:
    """An integer (int or a NumPy integer scalar), not a bool."""
    return isinstance(value, numbers.Integral) and not _is_bool(value)


def check_flag(value: object, name: str) -> bool:
    """``value`` when it is True or False (a string such as ``"no"`` is refused, not taken as true)."""
    if not _is_bool(value):
        raise ParameterError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(value: object, choices, name: str) -> str:
    """``value`` when it is one of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ParameterError(f"unknown {name} {value!r}; choose {', '.join(choices)}")
    return value


def check_seed(seed: object) -> int | None:
    """A seed: None (the OS's CSPRNG) or a non-negative integer."""
    if seed is None:
        return None
    if not is_integer(seed) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def validate_length(length: object) -> int:
    """The reporting length ``L``: an integer from 1 to :data:`MAX_LENGTH`."""
    if not is_integer(length) or not 1 <= length <= MAX_LENGTH:
        raise ParameterError(f"reporting length must be an integer from 1 to {MAX_LENGTH}, got {length!r}")
    return int(length)


def match_names(asked: Iterable[str], names: Sequence[str], option: str) -> tuple[list[str], list[str]]:
    """The columns of ``names`` that ``asked`` names, and the names asked that match none.

    A name is matched exactly first, so that ``"sp "`` and ``"sp"`` stay two
    columns; a name with no exact match is matched with surrounding spaces
    ignored (``"a, b"`` typed on the command line) when that finds one column
    only (several: an error naming ``option``).
    """
    exact = set(names)
    found, unknown = [], []
    for name in asked:
        if name in exact:
            found.append(name)
            continue
        loose = [n for n in names if n.strip() == str(name).strip()]
        if len(loose) > 1:
            raise ParameterError(
                f"{option} {name!r} matches {', '.join(map(repr, loose))} once spaces are ignored; "
                "name one exactly"
            )
        if loose:
            found.append(loose[0])
        elif str(name).strip():
            unknown.append(name)
    return found, unknown
