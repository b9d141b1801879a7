"""Named release mechanisms, this project's and peers', for comparing them side by side.

A mechanism is named by a spec string ``NAME[:key=value,...]``, for example
``aggregate:k=10``, ``row_seeded:k=5``, ``aggregate_seeded:k=10``,
``dp:epsilon=4`` (SDS-style DP marginals then tree synthesis), ``dp-aim:epsilon=4`` and
``dp-mst:epsilon=4`` (adaptively measured marginals then fitted synthesis, as ``run --dp``
does), ``pac-synth:epsilon=4``.
This project's mechanisms always run; peers
(pac-synth, SmartNoise MST/AIM) run through adapters that import them only
when installed. With ``--seed``, every mechanism gets a seed derived from it,
so the same ``--seed`` re-runs a comparison exactly; without one, every
mechanism draws from the operating system's CSPRNG. The results say
only whether a mechanism was seeded (a recorded seed would let anyone
recompute a DP mechanism's noise), and mark peers that take no seed.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .checks import validate_length
from .dp.accountant import check_delta, check_epsilon
from .errors import ParameterError

if TYPE_CHECKING:
    from .encode import EncodedTable
    from .evaluate import Release


@dataclass(frozen=True)
class Mechanism:
    """A parsed mechanism spec."""

    name: str
    params: dict = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class MechanismInfo:
    """How a mechanism runs: a function of :mod:`.mechanism_runs` (with its variant), its
    parameters (name → (type, default or None when required)), its peer package, if any."""

    run: str
    params: dict
    peer: str | None = None  # the import name of a peer package
    seeded: bool = True
    variant: str | None = None
    stochastic: bool = True  # False: the same input always gives the same release


MECHANISMS: dict[str, MechanismInfo] = {
    "aggregate": MechanismInfo("aggregate", {"k": (int, None), "L": (int, 0)}, stochastic=False),
    "row_seeded": MechanismInfo("kanon_mode", {"k": (int, None)}, variant="row_seeded"),
    "unseeded": MechanismInfo("kanon_mode", {"k": (int, None)}, variant="unseeded"),
    "value_seeded": MechanismInfo(
        "kanon_mode",
        {"k": (int, None), "oversampling_ratio": (float, 0), "oversampling_tries": (int, 0)},
        variant="value_seeded",
    ),
    "aggregate_seeded": MechanismInfo("aggregate_seeded", {"k": (int, None), "L": (int, 0)}),
    "dp": MechanismInfo("dp", {"epsilon": (float, None), "delta": (float, 0), "L": (int, 0)}),
    "dp-aim": MechanismInfo(
        "dp_adaptive", {"epsilon": (float, None), "delta": (float, 0), "L": (int, 0)}, variant="aim"
    ),
    "dp-mst": MechanismInfo("dp_adaptive", {"epsilon": (float, None), "delta": (float, 0)}, variant="mst"),
    "pac-synth": MechanismInfo(
        "pac_synth",
        {"epsilon": (float, None), "delta": (float, 0), "L": (int, 0)},
        peer="pacsynth",
        seeded=False,
    ),
    "mst": MechanismInfo(
        "smartnoise", {"epsilon": (float, None)}, peer="snsynth", seeded=False, variant="mst"
    ),
    "aim": MechanismInfo(
        "smartnoise", {"epsilon": (float, None)}, peer="snsynth", seeded=False, variant="aim"
    ),
}


def _check_k(k: int) -> None:
    from .protection import check_k

    check_k(k)


#: Each key's range check, run when a spec is parsed (before any data is read).
_CHECKS = {
    "epsilon": check_epsilon,
    "delta": check_delta,
    "k": _check_k,
    "L": validate_length,
}


def parse_mechanism(spec: str) -> Mechanism:
    """Parse ``NAME[:key=value,...]`` and check the name, keys and value types."""
    name, _, rest = spec.strip().partition(":")
    info = MECHANISMS.get(name)
    if info is None:
        raise ParameterError(f"unknown mechanism {name!r}; choose from {', '.join(MECHANISMS)}")
    params: dict = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or key not in info.params:
            raise ParameterError(
                f"mechanism {name!r} takes {', '.join(info.params)} as key=value; got {item!r}"
            )
        kind = info.params[key][0]
        try:
            params[key] = kind(value)
        except ValueError:
            raise ParameterError(f"{name}: {key} must be a {kind.__name__}, got {value!r}") from None
        if params[key] <= 0:
            raise ParameterError(f"{name}: {key} must be positive, got {value}")
        check = _CHECKS.get(key)
        if check is not None:
            try:
                check(params[key])
            except ParameterError as refused:
                raise ParameterError(f"mechanism {spec.strip()!r}: {refused}") from None
    if "oversampling_ratio" in params or "oversampling_tries" in params:
        from .synthesize.value_seeded import validate_oversampling

        try:
            validate_oversampling(params.get("oversampling_ratio"), params.get("oversampling_tries"))
        except ParameterError as refused:
            raise ParameterError(f"mechanism {spec.strip()!r}: {refused}") from None
    missing = [k for k, (_, default) in info.params.items() if default is None and k not in params]
    if missing:
        raise ParameterError(f"mechanism {name!r} needs {', '.join(missing)} (e.g. {name}:{missing[0]}=10)")
    return Mechanism(name, params, label=spec.strip())


def check_available(mechanism: Mechanism) -> None:
    """A clear message when a peer tool is not installed."""
    info = MECHANISMS[mechanism.name]
    if info.peer is None:
        return
    try:
        importlib.import_module(info.peer)
    except ImportError:
        package = {"pacsynth": "pac-synth", "snsynth": "smartnoise-synth"}[info.peer]
        raise ParameterError(
            f"mechanism {mechanism.name!r} needs the peer package {package}; "
            f"install it with: pip install {package}"
        ) from None


def run_mechanism(
    mechanism: Mechanism, sensitive: EncodedTable, length: int, seed: int | None, constraints: Sequence = ()
) -> tuple[Release, float]:
    """Produce one mechanism's release; returns it and the seconds it took.

    This project's synthesizers keep the declared ``constraints``; peers cannot be told them.
    """
    info = MECHANISMS[mechanism.name]
    run = getattr(importlib.import_module(".mechanism_runs", __package__), info.run)
    extra = () if info.variant is None else (info.variant,)
    start = time.perf_counter()
    release = run(sensitive, mechanism.params, length, seed, *extra, constraints=tuple(constraints))
    return release, time.perf_counter() - start


def mechanism_seeds(seed: int | None, n: int) -> list[int | None]:
    """One seed per mechanism, derived from the comparison seed; without one, None for each.

    None makes each mechanism draw from the OS's CSPRNG (DP noise included),
    not from seeds that a PCG64 generator derived.
    """
    from .randomness import make_rng

    if seed is None:
        return [None] * n
    rng = make_rng(seed)
    return [int(s) for s in rng.integers(0, 2**63 - 1, size=n)]


__all__ = [
    "MECHANISMS",
    "Mechanism",
    "check_available",
    "mechanism_seeds",
    "parse_mechanism",
    "run_mechanism",
]
