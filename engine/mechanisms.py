"""Named release mechanisms, this project's and peers', for comparing them side by side.

A mechanism is named by a spec string ``NAME[:key=value,...]``, for example
``aggregate:k=10``, ``row_seeded:k=5``, ``aggregate_seeded:k=10``,
``dp:epsilon=4`` (DP marginals then aggregate-seeded synthesis), ``pac-synth:epsilon=4``.
This project's mechanisms always run; peers
(pac-synth, SmartNoise MST/AIM) run through adapters that import them only
when installed. Every mechanism gets a seed derived from the comparison's
seed, so the same ``--seed`` re-runs a comparison exactly; the results say
only whether a mechanism was seeded (a recorded seed would let anyone
recompute a DP mechanism's noise), and mark peers that take no seed.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .count import count_combinations
from .encode import EncodedTable, decode, encode
from .errors import ParameterError
from .evaluate import Release
from .protect import k_anonymize
from .randomness import make_rng


@dataclass(frozen=True)
class Mechanism:
    """A parsed mechanism spec."""

    name: str
    params: dict = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class MechanismInfo:
    run: Callable[..., Release]
    params: dict  # name -> (type, default or None when required)
    peer: str | None = None  # the import name of a peer package
    seeded: bool = True


def _k_and_length(params: dict, length: int) -> tuple[int, int]:
    return int(params["k"]), int(params.get("L") or length)


def _aggregate(sensitive: EncodedTable, params: dict, length: int, seed: int) -> Release:
    k, reporting = _k_and_length(params, length)
    return Release(None, "aggregates", aggregates=k_anonymize(count_combinations(sensitive, reporting), k))


def _kanon_mode(mode: str) -> Callable[..., Release]:
    def run(sensitive: EncodedTable, params: dict, length: int, seed: int) -> Release:
        module = importlib.import_module(f"showcase.engine.synthesize.{mode}")
        extra = {}
        if mode == "value_seeded":
            for key in ("oversampling_ratio", "oversampling_tries"):
                if params.get(key) is not None:
                    extra[key] = params[key]
        codes = getattr(module, mode)(sensitive, resolution=int(params["k"]), rng=make_rng(seed), **extra)
        return Release(None, "synthetic", table=EncodedTable(sensitive.schema, codes))

    return run


def _aggregate_seeded(sensitive: EncodedTable, params: dict, length: int, seed: int) -> Release:
    from .synthesize.aggregate_seeded import aggregate_seeded

    k, reporting = _k_and_length(params, length)
    released = k_anonymize(count_combinations(sensitive, reporting), k)
    synthetic = aggregate_seeded(released, rng=make_rng(seed))
    return Release(None, "synthetic", table=_onto(synthetic, sensitive))


def _dp(sensitive: EncodedTable, params: dict, length: int, seed: int) -> Release:
    """DP aggregates, then tree synthesis from them (never the sensitive rows).

    Comparison releases stay in memory and are not recorded in the privacy
    ledger: they are for measuring mechanisms, not for publication.
    """
    from .dp.marginals import dp_aggregate
    from .dp.noise import RandomSource
    from .synthesize.tree import tree

    released, _ = dp_aggregate(
        sensitive,
        epsilon=float(params["epsilon"]),
        delta=params.get("delta") or None,
        length=int(params.get("L") or 2),  # the synthesis uses lengths 1 and 2 only
        source=RandomSource(seed),
    )
    synthetic = tree(released, rng=make_rng(seed))
    return Release(None, "synthetic", table=_onto(synthetic, sensitive))


def _onto(table: EncodedTable, sensitive: EncodedTable) -> EncodedTable:
    """Re-encode a table whose schema is a subset of the sensitive one onto it."""
    if table.schema is sensitive.schema:
        return table
    return encode(decode(table), sensitive_zeros="all", schema=sensitive.schema)


def _frame_of(sensitive: EncodedTable):
    import pandas as pd

    columns = {}
    for c, name in enumerate(sensitive.schema.columns):
        values = np.array([""] + sensitive.schema.dictionaries[c].to_pylist(), dtype=object)
        columns[name] = values[sensitive.codes[c]]
    return pd.DataFrame(columns)


def _from_rows(rows: list[list[str]], sensitive: EncodedTable) -> Release:
    header, body = rows[0], rows[1:]
    table = pa.table({name: [r[i] for r in body] for i, name in enumerate(header)})
    return Release(None, "synthetic", table=encode(table, sensitive_zeros="all", schema=sensitive.schema))


def _pac_synth(sensitive: EncodedTable, params: dict, length: int, seed: int) -> Release:
    import pacsynth

    builder = pacsynth.DpAggregateSeededParametersBuilder()
    builder = builder.reporting_length(int(params.get("L") or length)).epsilon(float(params["epsilon"]))
    if params.get("delta") is not None:
        builder = builder.delta(float(params["delta"]))
    synthesizer = pacsynth.DpAggregateSeededSynthesizer(builder.build())
    # Empty cells are "no attribute" in both tools; sensitive zeros keep real zeros.
    frame = _frame_of(sensitive)
    dataset = pacsynth.Dataset.from_data_frame(frame, sensitive_zeros=list(frame.columns))
    synthesizer.fit(dataset)
    return _from_rows(synthesizer.sample(), sensitive)


def _smartnoise(name: str) -> Callable[..., Release]:
    def run(sensitive: EncodedTable, params: dict, length: int, seed: int) -> Release:
        from snsynth import Synthesizer

        frame = _frame_of(sensitive)
        synthesizer = Synthesizer.create(name, epsilon=float(params["epsilon"]), verbose=False)
        sample = synthesizer.fit_sample(frame, preprocessor_eps=0.0, categorical_columns=list(frame.columns))
        rows = [list(sample.columns)] + sample.astype(str).values.tolist()
        return _from_rows(rows, sensitive)

    return run


MECHANISMS: dict[str, MechanismInfo] = {
    "aggregate": MechanismInfo(_aggregate, {"k": (int, None), "L": (int, 0)}),
    "row_seeded": MechanismInfo(_kanon_mode("row_seeded"), {"k": (int, None)}),
    "unseeded": MechanismInfo(_kanon_mode("unseeded"), {"k": (int, None)}),
    "value_seeded": MechanismInfo(
        _kanon_mode("value_seeded"),
        {"k": (int, None), "oversampling_ratio": (float, 0), "oversampling_tries": (int, 0)},
    ),
    "aggregate_seeded": MechanismInfo(_aggregate_seeded, {"k": (int, None), "L": (int, 0)}),
    "dp": MechanismInfo(_dp, {"epsilon": (float, None), "delta": (float, 0), "L": (int, 0)}),
    "pac-synth": MechanismInfo(
        _pac_synth,
        {"epsilon": (float, None), "delta": (float, 0), "L": (int, 0)},
        peer="pacsynth",
        seeded=False,
    ),
    "mst": MechanismInfo(_smartnoise("mst"), {"epsilon": (float, None)}, peer="snsynth", seeded=False),
    "aim": MechanismInfo(_smartnoise("aim"), {"epsilon": (float, None)}, peer="snsynth", seeded=False),
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
    mechanism: Mechanism, sensitive: EncodedTable, length: int, seed: int
) -> tuple[Release, float]:
    """Produce one mechanism's release; returns it and the seconds it took."""
    info = MECHANISMS[mechanism.name]
    start = time.perf_counter()
    release = info.run(sensitive, mechanism.params, length, seed)
    return release, time.perf_counter() - start


def mechanism_seeds(seed: int | None, n: int) -> list[int]:
    """One seed per mechanism, derived from the comparison seed (random when not given)."""
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
