"""How a release is protected: a value chosen once, validated at construction, passed down.

* :class:`KAnonymity` ``(k)``: combinations shared by fewer than k records are
  not reported, and counts are rounded down to multiples of k.
* :class:`DifferentialPrivacy` ``(epsilon, delta, ...)``: (ε, δ)-DP counts
  (SPEC §2.2), charged to a privacy ledger.
* :class:`Exact`: exact counts, as sensitive as the input (never to publish).

Jobs (:mod:`showcase.engine.jobs`) take one of these as ``protection`` and
decide everything else from it; nothing above the engine chooses between them.
This module imports nothing heavy, so the command line can build a spec
before NumPy or Numba are loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from fractions import Fraction
from pathlib import Path

from .checks import MAX_PERCENTILE_DENOMINATOR, check_choice, is_integer, is_number, validate_length
from .dp.accountant import ACCURACY_MODES, check_delta, check_epsilon, check_proportion, split_budget
from .errors import ParameterError

#: k used when none is given (SDS's default resolution).
DEFAULT_K = 10
#: Largest k accepted: far above any record count a job can hold.
MAX_K = 2**31 - 1
#: Largest total budget a ledger check accepts.
MAX_BUDGET_TOTAL = 1e6
#: Largest fixed threshold accepted (no count comes near it).
MAX_THRESHOLD = 1e15
#: Fabrication modes of the DP marginals: the adaptive eta of each length k >= 2 (a noisy count
#: passes threshold sigma sqrt(Delta) PhiInv(1 - eta/2)), trading fabricated for lost combinations.
FABRICATION_MODES = ("uncontrolled", "balanced", "minimize", "progressive")
#: DP mechanisms: SDS-style marginals of every combination, or adaptively chosen marginals.
ALGORITHMS = ("sds", "mst", "aim")


def check_k(k: object) -> int:
    """``k`` as an int from 1 to :data:`MAX_K`, else a :class:`ParameterError`."""
    if not is_integer(k) or not 1 <= int(k) <= MAX_K:
        raise ParameterError(f"resolution (k) must be an integer from 1 to {MAX_K}, got {k!r}")
    return int(k)


@dataclass(frozen=True)
class _CountsWithK:
    """A protection of exact counts with a resolution ``k``, checked at construction."""

    k: int = DEFAULT_K
    name = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", check_k(self.k))

    def describe(self) -> dict:
        return {"mechanism": self.name, "k": self.k}


@dataclass(frozen=True)
class KAnonymity(_CountsWithK):
    """k-anonymity with resolution ``k`` (SPEC §2.1)."""

    name = "k-anonymity"


@dataclass(frozen=True)
class Exact(_CountsWithK):
    """No protection: the exact counts (files named ``sensitive_*``; never publish them).

    ``k`` only sets which combinations the statistics call rare (fewer than k records).
    """

    name = "none"


@dataclass(frozen=True)
class DifferentialPrivacy:
    """(ε, δ)-differential privacy for aggregate counts (SPEC §2.2), recorded in a ledger.

    ``delta`` defaults to 1/(n ln n) for the protected record count n. The
    mechanism options are those of :func:`showcase.engine.dp.marginals.dp_aggregate`;
    ``budget_total``, ``ledger`` and ``dataset_id`` are the privacy ledger's
    (refuse past a total ε; the ledger file; the name the budget is kept
    under instead of the input's fingerprint). Everything that does not
    depend on the reporting length is checked here; :meth:`check` adds the rest.
    """

    epsilon: float
    delta: float | None = None
    record_count_proportion: float = 0.005
    percentile_proportion: float = 0.1
    percentile: float = 99.0
    accuracy_mode: str | None = None
    sigma_proportions: Sequence[float] | None = None
    fabrication_mode: str = "balanced"
    thresholds: Sequence[float] | None = None
    budget_total: float | None = None
    ledger: str | Path | None = field(default=None, compare=False)
    dataset_id: str | None = None
    #: Which marginals are measured: ``sds`` (every combination up to L, SPEC §2.2), or adaptively
    #: chosen ones, ``mst`` or ``aim`` (:mod:`showcase.engine.dp.adaptive`); None: the job's default.
    algorithm: str | None = None
    #: AIM's rounds (None: from the budget) and the share of the budget for the 1-way marginals.
    rounds: int | None = None
    one_way_proportion: float | None = None
    name = "differential-privacy"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "epsilon", check_epsilon(self.epsilon))
        if self.delta is not None:
            set_(self, "delta", check_delta(self.delta))
        check_proportion(self.record_count_proportion, "record count proportion")
        check_proportion(self.percentile_proportion, "percentile proportion")
        if self.record_count_proportion + self.percentile_proportion >= 1:
            raise ParameterError("record count and percentile proportions must sum to less than 1")
        if not (is_number(self.percentile) and 0 < self.percentile <= 100):
            raise ParameterError(f"percentile must be in (0, 100], got {self.percentile!r}")
        if Fraction(str(float(self.percentile))).denominator > MAX_PERCENTILE_DENOMINATOR:
            got = self.percentile
            raise ParameterError(f"percentile takes at most two decimals (e.g. 99.95), got {got!r}")
        set_(self, "percentile", float(self.percentile))
        check_choice(self.fabrication_mode, FABRICATION_MODES, "fabrication mode")
        if self.accuracy_mode is not None:
            check_choice(self.accuracy_mode, tuple(ACCURACY_MODES), "accuracy mode")
        for name in ("sigma_proportions", "thresholds"):
            values = getattr(self, name)
            if values is not None:
                label = name.replace("_", " ")
                if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
                    raise ParameterError(f"{label} must be a list of numbers, got {values!r}")
                values = tuple(values)
                if not all(is_number(v) for v in values):
                    raise ParameterError(f"{label} must be numbers, got {list(values)!r}")
                set_(self, name, tuple(float(v) for v in values))
        if self.budget_total is not None and not (
            is_number(self.budget_total) and 0 < self.budget_total <= MAX_BUDGET_TOTAL
        ):
            raise ParameterError(
                f"budget total must be in (0, {MAX_BUDGET_TOTAL:g}], got {self.budget_total!r}"
            )
        if self.budget_total is not None and self.epsilon > self.budget_total * (1 + 1e-12):
            # No ledger could hold this release: refuse it before one is opened (or created).
            raise ParameterError(
                f"epsilon {self.epsilon:g} is above the budget total {self.budget_total:g}: no release "
                "fits; lower --epsilon or raise --budget-total"
            )
        if self.dataset_id is not None:
            from .dp.ledger import dataset_key

            dataset_key(self.dataset_id)
        if self.algorithm is not None:
            check_choice(self.algorithm, ALGORITHMS, "DP mechanism")
        adaptive_only = {"rounds": self.rounds, "one_way_proportion": self.one_way_proportion}
        if self.algorithm in (None, "sds") and any(v is not None for v in adaptive_only.values()):
            names = ", ".join(k.replace("_", " ") for k, v in adaptive_only.items() if v is not None)
            raise ParameterError(f"{names}: options of the mst and aim mechanisms only")
        if self.algorithm not in (None, "sds"):
            self.adaptive(2)  # checks the options

    def check(self, length: int) -> None:
        """The checks that need the reporting length: one value per length, and a trial budget split."""
        length = validate_length(length)
        if self.thresholds is not None and (
            len(self.thresholds) != length - 1 or any(not 0 <= t <= MAX_THRESHOLD for t in self.thresholds)
        ):
            raise ParameterError(
                f"thresholds needs {length - 1} values from 0 to {MAX_THRESHOLD:g} (lengths 2..L), "
                f"got {list(self.thresholds)!r}"
            )
        if self.algorithm not in (None, "sds"):
            self.adaptive(length)
            return
        self.split(length, self.delta or 1e-6)

    def adaptive(self, length: int):
        """The options of the ``mst`` / ``aim`` mechanism at reporting ``length`` (checked)."""
        from .dp.adaptive_options import AdaptiveOptions

        extra = {} if self.one_way_proportion is None else {"one_way_proportion": self.one_way_proportion}
        return AdaptiveOptions(
            algorithm=self.algorithm, length=length, rounds=self.rounds,
            record_count_proportion=self.record_count_proportion, **extra,
        )  # fmt: skip

    def split(self, length: int, delta: float, selection: bool = True):
        """The :class:`~showcase.engine.dp.accountant.BudgetSplit` of this budget at ``delta``."""
        return split_budget(
            self.epsilon,
            delta,
            length,
            record_count_proportion=self.record_count_proportion,
            percentile_proportion=self.percentile_proportion,
            accuracy_mode=self.accuracy_mode,
            proportions=self.sigma_proportions,
            selection=selection,
        )

    def mechanism(self) -> dict:
        """The options of the DP marginals mechanism that differ from None (its keyword arguments)."""
        names = ("record_count_proportion", "percentile_proportion", "percentile", "accuracy_mode",
                 "sigma_proportions", "fabrication_mode", "thresholds")  # fmt: skip
        if self.algorithm not in (None, "sds"):
            names = ("algorithm", "record_count_proportion", "rounds", "one_way_proportion")
        values = {name: getattr(self, name) for name in names}
        if self.accuracy_mode is not None and self.accuracy_mode not in ACCURACY_MODES:
            raise ParameterError(
                f"unknown accuracy mode {self.accuracy_mode!r}; choose {', '.join(ACCURACY_MODES)}"
            )
        for name in ("sigma_proportions", "thresholds"):
            if values.get(name) is not None:
                values[name] = list(values[name])
        return {k: v for k, v in values.items() if v is not None}

    def describe(self) -> dict:
        """The spec as the ledger and the metadata record it (never a path or a seed)."""
        doc = {"mechanism": self.name}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "ledger" and value is not None:
                doc[f.name] = list(value) if isinstance(value, tuple) else value
        return doc


#: Any of the protections a job accepts.
Protection = KAnonymity | DifferentialPrivacy | Exact


def check_protection(
    protection: object, allowed: tuple[type, ...] = (KAnonymity, DifferentialPrivacy, Exact)
) -> None:
    """Refuse anything but a protection spec of one of the ``allowed`` kinds, in one line."""
    if not isinstance(protection, allowed):
        names = " or ".join(f"{kind.__name__}(...)" for kind in allowed)
        raise ParameterError(f"protection must be {names}, got {protection!r}")
