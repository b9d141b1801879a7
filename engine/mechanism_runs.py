"""How each named mechanism runs (see :mod:`.mechanisms`): this project's, and peers' adapters.

Every function takes the sensitive codes, the mechanism's parameters, the
reporting length, a seed and the declared constraints, and returns a
:class:`~showcase.engine.evaluate.Release`. This project's synthesizers honour
the constraints; peers cannot be told them (their violations are counted by
the evaluation). Peers are imported only when their mechanism runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from .constraints import Constraint
from .count import count_combinations
from .encode import EncodedTable, decode, encode
from .errors import ShowcaseError
from .evaluate import Release
from .protect import k_anonymize
from .randomness import make_rng


class MechanismError(ShowcaseError):
    """A peer tool failed on the input (a limitation of the peer, reported in one line)."""


def _k_and_length(params: dict, length: int) -> tuple[int, int]:
    return int(params["k"]), int(params.get("L") or length)


Constraints = Sequence[Constraint]
#: A mechanism's seed: None draws from the OS's CSPRNG.
Seed = int | None


def aggregate(sensitive: EncodedTable, params: dict, length: int, seed: Seed, constraints: Constraints = ()
              ) -> Release:  # fmt: skip
    k, reporting = _k_and_length(params, length)
    return Release(None, "aggregates", aggregates=k_anonymize(count_combinations(sensitive, reporting), k))


def kanon_mode(sensitive: EncodedTable, params: dict, length: int, seed: Seed, mode: str,
               constraints: Constraints = ()) -> Release:  # fmt: skip
    """One of the k-anonymity synthesis modes, on the sensitive records."""
    module = importlib.import_module(f"showcase.engine.synthesize.{mode}")
    extra = {}
    if mode == "value_seeded":
        for key in ("oversampling_ratio", "oversampling_tries"):
            if params.get(key) is not None:
                extra[key] = params[key]
    codes = getattr(module, mode)(sensitive, resolution=int(params["k"]), rng=make_rng(seed),
                                  constraints=constraints, **extra)  # fmt: skip
    return Release(None, "synthetic", table=EncodedTable(sensitive.schema, codes))


def aggregate_seeded(sensitive: EncodedTable, params: dict, length: int, seed: Seed,
                     constraints: Constraints = ()) -> Release:  # fmt: skip
    from .synthesize.aggregate_seeded import aggregate_seeded

    k, reporting = _k_and_length(params, length)
    released = k_anonymize(count_combinations(sensitive, reporting), k)
    synthetic = aggregate_seeded(released, rng=make_rng(seed), constraints=constraints)
    return Release(None, "synthetic", table=_onto(synthetic, sensitive))


def dp(sensitive: EncodedTable, params: dict, length: int, seed: Seed, constraints: Constraints = ()
       ) -> Release:  # fmt: skip
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
    synthetic = tree(released, rng=make_rng(seed), constraints=constraints)
    return Release(None, "synthetic", table=_onto(synthetic, sensitive))


def dp_adaptive(sensitive: EncodedTable, params: dict, length: int, seed: Seed, algorithm: str,
                constraints: Constraints = ()) -> Release:  # fmt: skip
    """Adaptively measured DP marginals (``aim`` at L = 3 by default, ``mst``), then fitted synthesis.

    As ``run --dp --mechanism aim|mst`` does, in memory and outside the ledger.
    """
    from .dp.adaptive import adaptive_aggregate
    from .dp.adaptive_options import AdaptiveOptions
    from .dp.noise import RandomSource
    from .synthesize.fitted import fitted

    options = AdaptiveOptions(
        algorithm=algorithm, length=int(params.get("L") or (3 if algorithm == "aim" else 2))
    )
    released, _, _ = adaptive_aggregate(
        sensitive, epsilon=float(params["epsilon"]), delta=params.get("delta") or None, options=options,
        source=RandomSource(seed), seed=seed,
    )  # fmt: skip
    synthetic = fitted(released, rng=make_rng(seed), constraints=constraints)
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


def pac_synth(sensitive: EncodedTable, params: dict, length: int, seed: Seed, constraints: Constraints = ()
              ) -> Release:  # fmt: skip
    """pac-synth's DP aggregate-seeded synthesizer (peer); its Rust panics become one-line errors."""
    try:
        return _pac_synth(sensitive, params, length)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as problem:  # noqa: BLE001 - pyo3's PanicException is not an Exception
        if type(problem).__name__ != "PanicException":
            raise
        first = (str(problem).splitlines() or ["no message"])[0][:120]
        raise MechanismError(f"pac-synth failed on this input ({first})") from None


def _pac_synth(sensitive: EncodedTable, params: dict, length: int) -> Release:
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


def smartnoise(sensitive: EncodedTable, params: dict, length: int, seed: Seed, name: str,
               constraints: Constraints = ()) -> Release:  # fmt: skip
    """SmartNoise's MST or AIM synthesizer (peer), on the sensitive records."""
    from snsynth import Synthesizer

    frame = _frame_of(sensitive)
    synthesizer = Synthesizer.create(name, epsilon=float(params["epsilon"]), verbose=False)
    sample = synthesizer.fit_sample(frame, preprocessor_eps=0.0, categorical_columns=list(frame.columns))
    rows = [list(sample.columns)] + sample.astype(str).values.tolist()
    return _from_rows(rows, sensitive)
