"""The guarantee texts that releases' metadata states, one function per kind of release."""

from __future__ import annotations

from .aggregates import PROTECTION_K_ANONYMITY, PROTECTION_NONE, Aggregates

#: What a release with k = 1 states first: rare combinations are held back only from k = 2 on.
NO_PROTECTION_K1 = (
    "NONE in effect: k-anonymity with k=1 holds back nothing (a combination of a single record is "
    "released as it is), so this release is as sensitive as the input data. Do not publish or share it."
)


def aggregates_guarantee(released: Aggregates) -> str:
    """What k-anonymous (or exact) aggregates guarantee."""
    length = released.reporting_length
    if released.protection == PROTECTION_NONE:
        return "NONE: these are exact counts, as sensitive as the input data. Do not publish or share them."
    k = released.resolution
    if k == 1:
        return (
            NO_PROTECTION_K1
            + f" Every combination of up to {length} attributes is reported with its exact count."
        )
    return (
        f"k-anonymity with k={k}: every reported combination of up to {length} attributes "
        f"is shared by at least {k} records; combinations with fewer are not reported, and "
        f"every count (and the record count) is rounded down to a multiple of {k}."
    )


def dp_guarantee(facts: dict, subject_id: str | None) -> str:
    """What a DP release guarantees, from the facts of its budget."""
    unit = f"subject (all rows sharing a {subject_id!r})" if subject_id else "record"
    return (
        f"({facts['epsilon']:g}, {facts['delta']:.3g})-differential privacy per {unit}: "
        f"a pure {facts['record_count_epsilon']:.4g}-DP record count, and "
        f"rho = {facts['rho']:.4g} zero-concentrated DP for everything else, converted with "
        f"epsilon = rho + 2 sqrt(rho ln(1/delta)) (Bun & Steinke 2016) at delta = "
        f"{facts['conversion_delta']:.3g}"
        + (
            f", plus {facts['selection_delta']:.3g} for choosing attributes from the data"
            if facts["selection_delta"]
            else ""
        )
        + (
            f", and a pure {facts['binning_epsilon']:.4g}-DP estimate of the quantile bin edges"
            if facts.get("binning_epsilon")
            else ""
        )
        + ". Noise is exact discrete Gaussian (counts) and discrete Laplace (record count)."
    )


def synthesis_guarantee(mode: str, resolution: int | None, source: Aggregates | None, length: int) -> str:
    """What synthetic records guarantee: k-anonymity, or that of the aggregates they came from."""
    from .synthesize import AGGREGATE_SEEDED, SENSITIVE_MODES, VALUE_SEEDED

    if mode in SENSITIVE_MODES and resolution == 1:
        return NO_PROTECTION_K1 + " The synthetic records may copy sensitive records whole."
    if mode in SENSITIVE_MODES:
        seeded_by_records = (
            " The number of synthetic records follows the exact number of sensitive records (each "
            "seeds one), which k-anonymity does not hide."
            if mode != VALUE_SEEDED
            else ""
        )
        return (
            f"k-anonymity with k={resolution}: every combination of attributes in the synthetic "
            f"records, of any length, is shared by at least {resolution} records of the sensitive data."
            + seeded_by_records
        )
    assert source is not None
    if source.protection == PROTECTION_K_ANONYMITY and source.resolution == 1:
        protection = "k-anonymous with k=1, which protects nothing: as sensitive as the input data"
    elif source.protection == PROTECTION_K_ANONYMITY:
        protection = f"k-anonymous with k={source.resolution}"
    elif source.protection == PROTECTION_NONE:
        protection = "NOT marked as protected: if they are exact counts, so is the risk of the records"
    else:
        protection = f"protected by {source.protection}"
    if mode != AGGREGATE_SEEDED:
        return (
            f"Built only from released aggregates ({protection}), never from sensitive records: as "
            "private as the aggregates. Every attribute is one the aggregates report; combinations "
            "of two or more attributes come from a model of the released pairs and need not be in the "
            "aggregates (a pair they leave out as rare can appear, drawn by the model, which never saw it)."
        )
    return (
        f"Built only from released aggregates ({protection}), never from sensitive records; no "
        f"synthetic record holds a combination of up to {length} attributes that the aggregates "
        "do not report."
    )
