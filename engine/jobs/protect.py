"""The step aggregate and run share: read the input, count, and protect as the spec says.

:func:`protected_counts` is a context manager: under DP the release is
charged to the privacy ledger before the noise and settled as released only
when the block (the write of the release) completes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from ..aggregates import PROTECTION_NONE, Aggregates
from ..aggregates_io import describe
from ..checks import check_seed
from ..count import check_length_fits, count_combinations
from ..dp.ledger import Ledger, check_ledger_folder, ledger_path
from ..encode import EncodedTable, code_dtype
from ..errors import InputError, ParameterError
from ..guarantees import aggregates_guarantee, dp_guarantee
from ..ingest import NOTHING_TO_COUNT, Source
from ..linking import DEFAULT_MAX_LINKED
from ..prepare import Loaded, Preparation, QuantileBudget, check_source, load_input
from ..protect import k_anonymize
from ..protection import DifferentialPrivacy, Exact, Protection, check_protection
from ..resources import Resources, check_resources
from .budget import Account, charged
from .results import AggregateResult
from .skeleton import Job

if TYPE_CHECKING:
    from ..distributed import ClusterRecords


def check_request(
    source: Source,
    protection: Protection,
    preparation: Preparation,
    seed: int | None,
    length: int,
    streamed: bool = False,
    scheduler: str | None = None,
) -> Preparation:
    """Refuse, before any work: an unreadable input, a protection that is not a spec, unused options.

    Returns the preparation the protection needs: under DP, merged subjects
    may not turn columns multi-value on their own (the release's structure
    would depend on the data), and each subject keeps at most
    :data:`~showcase.engine.linking.DEFAULT_MAX_LINKED` linked rows unless told otherwise.
    """
    check_protection(protection)
    check_seed(seed)
    preparation = preparation.resolved()
    if isinstance(protection, DifferentialPrivacy):
        protection.check(length)
        if protection.algorithm not in (None, "sds") and (preparation.subject_id or preparation.links):
            raise ParameterError(
                f"the {protection.algorithm} mechanism protects one record per row: use --mechanism sds "
                "for subjects and linked tables"
            )
        if protection.algorithm not in (None, "sds") and named_by_the_data(preparation):
            raise ParameterError(
                f"the {protection.algorithm} mechanism measures every column, and a multi-value column's "
                "values are columns of their own, named by the data: use --mechanism sds, or a codebook "
                "that lists every value"
            )
        links = tuple(
            replace(link, max_linked=DEFAULT_MAX_LINKED) if link.max_linked is None else link
            for link in preparation.links
        )
        preparation = replace(preparation, strict=True, links=links)
        if scheduler is not None and (preparation.subject_id or preparation.links):
            raise ParameterError(
                "--scheduler releases DP counts of one record per row: --subject-id and --link need all of "
                "a subject's rows together, on this machine (drop --scheduler)"
            )
    if scheduler is not None and preparation.record_limit is not None:
        raise ParameterError("--record-limit takes the first records in order: not with --scheduler")
    if streamed:  # a directory or glob: its files are listed and checked, not read
        from ..stream import open_stream, refuse_preparation

        refuse_preparation(preparation)
        open_stream(source, preparation.delimiter, preparation.use_columns)
    else:
        check_source(source, preparation)
    return preparation


def named_by_the_data(preparation: Preparation) -> bool:
    """Whether multi-value columns make columns (``COL:value``) out of values no codebook lists.

    Their number and names are then a function of the data: fine where every
    value must pass a threshold before it is named (sds), not for a mechanism
    that measures every column (aim, mst).
    """
    resolved = preparation.resolved()
    return bool(resolved.multi_value) and not resolved.public_domain


def inputs(source: Source, protection: Protection, preparation: Preparation) -> list[object]:
    """Every file the job reads: never to be replaced by its output."""
    ledger = [ledger_path(protection.ledger)] if isinstance(protection, DifferentialPrivacy) else []
    return [source, *preparation.files(), *ledger]


@dataclass
class Counted:
    """The prepared input and its protected counts, inside a job."""

    loaded: Loaded
    result: AggregateResult
    #: Under DP, the parameters as the ledger and metadata record them; else None.
    dp_parameters: dict | None = None


#: Under DP, the share of epsilon spent on the edges of quantile bins (when there are any).
BINNING_PROPORTION = 0.05


def read(
    job: Job,
    source: Source,
    preparation: Preparation,
    length: int,
    seed: int | None = None,
    quantiles: QuantileBudget | None = None,
    resources: Resources | None = None,
    dp: bool = False,
) -> Loaded:
    """The job's read step: the one load path, the length checked against the columns, the resource guard."""
    with job.step("read"):
        loaded = load_input(source, preparation, seed=seed, quantiles=quantiles, dp=dp)
        if not dp:  # (DP checks it against the public columns, with its other checks before the charge)
            check_length_fits(length, loaded.table.n_columns)
    if resources is not None:
        table = loaded.table
        cardinalities = [len(d) for d in table.schema.dictionaries]
        # DP reads records a chunk at a time, except subjects (all of a subject's rows at once).
        whole = {"dp_chunk_rows": None} if loaded.subject is not None else {}
        check_resources(cardinalities, table.n_rows, length, resources, resident=table.codes.nbytes, dp=dp,
                        **whole)  # fmt: skip
    return loaded


def streamed_read(
    job: Job, source: Source, preparation: Preparation, length: int, resources: Resources, dp: bool,
    keep: bool = False, cluster: tuple[object, int | None] | None = None,
    protection: DifferentialPrivacy | None = None,
) -> tuple[Loaded, Aggregates | ClusterRecords | None]:  # fmt: skip
    """Read ``source`` in batches (:mod:`~showcase.engine.stream`): exact counts, or under DP the codes.

    Pass 1 (the read step) finds the schema, then the resource guard runs,
    then pass 2 (the count step) sums the batches' counts, on a Dask cluster
    when ``resources.scheduler`` names one. Under DP, or with ``keep`` (a
    synthesis that reads every record), pass 2 keeps every record's codes
    instead and the counts are None; under DP on a cluster (``cluster``,
    opened by the caller: the release runs on it too) the codes stay on the
    workers and the second value is their
    :class:`~showcase.engine.distributed.ClusterRecords`.
    """
    from .. import stream as streaming
    from ..prepare import read_codebook

    streaming.refuse_preparation(preparation)
    parts = streaming.open_stream(source, preparation.delimiter, preparation.use_columns)
    if preparation.codebook_kind == "csv":
        codebook = read_codebook(preparation.codebook, parts.columns)
    else:
        codebook = None
    rows = streaming.batch_rows_for(len(parts.columns), resources.limit, resources.batch_rows)
    options = dict(null_markers=preparation.null_markers, sensitive_zeros=preparation.sensitive_zeros)
    with contextlib.ExitStack() as stack:
        if cluster is None and resources.scheduler is not None:
            from ..distributed import client

            cluster = stack.enter_context(client(resources.scheduler))
        return _streamed_passes(job, source, preparation, length, resources, dp, parts, codebook, rows,
                                options, cluster, keep, protection)  # fmt: skip


def _streamed_passes(
    job,
    source,
    preparation,
    length,
    resources,
    dp,
    parts,
    codebook,
    rows,
    options,
    cluster,
    keep=False,
    protection=None,
):
    """The two passes of :func:`streamed_read`, on ``cluster`` (a Dask client, its threads) if given.

    Counting on a cluster reads the data once (:func:`~showcase.engine.distributed.count_once_on_cluster`).
    """
    from .. import stream as streaming

    if cluster is not None and not dp:
        return _once_on_cluster(job, source, length, resources, parts, codebook, rows, options, cluster,
                                preparation.max_cardinality)  # fmt: skip
    with job.step("read", total=None) as tick:
        if cluster is None:
            found = streaming.plan(parts, **options, record_limit=preparation.record_limit, schema=codebook,
                                   batch_rows=rows, max_cardinality=preparation.max_cardinality,
                                   progress=tick)  # fmt: skip
        else:
            from ..distributed import plan_on_cluster

            found = plan_on_cluster(parts, cluster, **options, schema=codebook, batch_rows=rows,
                                    max_cardinality=preparation.max_cardinality, progress=tick)  # fmt: skip
        if not dp and codebook is None and found.schema.n_attributes == 0:
            raise InputError(NOTHING_TO_COUNT)  # as the in-memory read refuses it (not under DP)
        check_length_fits(length, len(parts.columns))
        description = {
            "format": parts.parts[0].kind,
            "fingerprint": streaming.stream_fingerprint(parts),
        }
        if len(parts.parts) > 1:
            description["files"] = len({p.path for p in parts.parts})
    kept = dp or keep
    if dp and cluster is not None:
        # The client holds the records above the bound (sds) and the candidates' or marginals' tables.
        above = client_records(found.n_rows, protection)
        resident = above * (len(parts.columns) + 16)
        check_resources(found.cardinalities, above, length, resources, resident=resident, dp=True)
    else:
        # Kept, every record's codes stay (one value per column, of the width the values need).
        width = code_dtype(max(found.cardinalities, default=0)).itemsize if kept else streaming.BYTES_PER_CELL
        resident = (found.n_rows if kept else min(rows, found.n_rows)) * len(parts.columns) * width
        check_resources(found.cardinalities, found.n_rows, length, resources, resident=resident, dp=dp)
    none = streaming.no_attribute(parts.columns, preparation.null_markers, preparation.sensitive_zeros)
    encoder = streaming.Encoder(found.schema, none, codebook=codebook is not None)
    public = codebook is not None
    with job.step("count", total=None) as tick:
        if dp and cluster is not None:
            from ..distributed import ClusterRecords

            held = ClusterRecords(found, encoder, rows, cluster, dp_steps(), progress=tick)
            schema_only = EncodedTable(found.schema, np.zeros((len(parts.columns), 0), dtype=encoder.dtype))
            return Loaded(schema_only, None, description, public_domain=public), held
        if kept:
            table = streaming.codes_stream(found, encoder, rows, progress=tick)
            return Loaded(table, None, description, public_domain=public), None
        if cluster is not None:
            from ..distributed import count_on_cluster

            exact = count_on_cluster(found, length, encoder, rows, cluster, progress=tick)
        else:
            exact = streaming.count_stream(found, length, encoder, rows, progress=tick)
    # The records were counted batch by batch and are not kept: the table holds the schema only.
    schema_only = EncodedTable(found.schema, np.zeros((len(parts.columns), 0), dtype=encoder.dtype))
    return Loaded(schema_only, None, description, public_domain=public), exact


def dp_steps() -> dict:
    """The functions a cluster's workers run for a DP release (the DP modules' per-group steps)."""
    from ..dp.adaptive import group_marginals, group_one_way
    from ..dp.marginals import group_pass, group_present, group_split

    return {"present": group_present, "pass": group_pass, "split": group_split, "one_way": group_one_way,
            "marginals": group_marginals}  # fmt: skip


#: Under ``sds`` on a cluster, the client's guard counts this many times the share of records above
#: the DP percentile (the bound is noisy): their codes, row numbers and candidate numbers come here.
ABOVE_MARGIN = 2


def client_records(n_rows: int, protection: DifferentialPrivacy | None) -> int:
    """Records whose codes a DP release on a cluster brings to the client (an estimate for the guard)."""
    if protection is None or protection.algorithm not in (None, "sds"):
        return 0  # aim / mst: only marginal tables come back
    share = ABOVE_MARGIN * (100 - float(protection.percentile)) / 100
    return min(n_rows, int(n_rows * share) + 1)


def _once_on_cluster(job, source, length, resources, parts, codebook, rows, options, cluster,
                     max_cardinality):  # fmt: skip
    """Exact counts of a streamed input counted on a cluster in one pass over the data."""
    from .. import stream as streaming
    from ..distributed import count_once_on_cluster

    check_length_fits(length, len(parts.columns))
    description = {"format": parts.parts[0].kind, "fingerprint": streaming.stream_fingerprint(parts)}
    if len(parts.parts) > 1:
        description["files"] = len({p.path for p in parts.parts})
    none = streaming.no_attribute(parts.columns, options["null_markers"], options["sensitive_zeros"])
    with job.step("count", total=None) as tick:
        found, exact = count_once_on_cluster(
            parts, cluster, length=length, none=none, resources=resources, schema=codebook, batch_rows=rows,
            max_cardinality=max_cardinality, progress=tick,
        )  # fmt: skip
    if codebook is None and found.schema.n_attributes == 0:
        raise InputError(NOTHING_TO_COUNT)
    schema_only = EncodedTable(found.schema, np.zeros((len(parts.columns), 0), dtype=np.uint8))
    return Loaded(schema_only, None, description, public_domain=codebook is not None), exact


@contextlib.contextmanager
def protected_counts(
    job: Job,
    source: Source,
    protection: Protection,
    length: int,
    preparation: Preparation,
    seed: int | None,
    extra_parameters: dict | None = None,
    resources: Resources | None = None,
    keep_records: bool = False,
) -> Iterator[Counted]:
    """Read ``source`` and yield its counts of up to ``length`` attributes, protected.

    k-anonymity and exact counts are counted here; DP counts are charged to
    the ledger first and the entry is settled when the block completes. With
    ``resources``, the resource guard runs before counting, and the input is
    streamed when they say so (or choose to: see :func:`~showcase.engine.stream.should_stream`);
    with ``keep_records`` (a synthesis that reads every record) a streamed input's codes are
    all kept and counted in memory.
    """
    dp = isinstance(protection, DifferentialPrivacy)
    from ..stream import streams

    streamed = streams(source, resources)
    if not dp:
        if streamed:
            loaded, exact = streamed_read(job, source, preparation, length, resources, dp=False,
                                          keep=keep_records)  # fmt: skip
            if exact is None:
                with job.step("count", total=None) as tick:
                    exact = count_combinations(loaded.table, length, progress=tick)
        else:
            loaded = read(job, source, preparation, length, seed, resources=resources)
            with job.step("count", total=None) as tick:
                exact = count_combinations(loaded.table, length, progress=tick)
        released = exact if isinstance(protection, Exact) else k_anonymize(exact, protection.k)
        privacy = {
            "mechanism": released.protection,
            "sensitive": released.protection == PROTECTION_NONE,
            "guarantee": aggregates_guarantee(released),
        }
        yield Counted(
            loaded,
            AggregateResult(
                released, protection, privacy, exact=exact, seconds=job.seconds, prepared=loaded.changes
            ),
        )
        return
    # An existing ledger is checked before the (maybe long) read; a new one is made only once the
    # release is sure to be charged, so a refusal of the input leaves no ledger behind.
    book = Ledger(protection.ledger) if os.path.lexists(ledger_path(protection.ledger)) else None
    check_ledger_folder(protection.ledger)
    counting, quantiles = _binning_share(protection, preparation, seed)
    workers = contextlib.ExitStack()  # a cluster's client, closed once the release is drawn
    with workers:
        cluster, held = None, None
        if streamed and resources.scheduler is not None:
            from ..distributed import client

            cluster = workers.enter_context(client(resources.scheduler))
        if streamed:
            loaded, held = streamed_read(job, source, preparation, length, resources, dp=True,
                                         cluster=cluster, protection=counting)  # fmt: skip
        else:
            loaded = read(job, source, preparation, length, seed, quantiles, resources=resources, dp=True)
        from ..dp.parameters import check_against_table

        check_against_table(loaded.table, counting, length, loaded.public_domain)
        parameters = dp_parameters(protection, length, preparation, seed, extra_parameters or {})
        book = book if book is not None else Ledger(protection.ledger)
        with charged(book, loaded.description["fingerprint"], protection, parameters) as account:
            result = _noise(job, loaded, counting, length, seed, account, preparation.subject_id, held)
            workers.close()  # the records leave the workers before the release is written
            if quantiles is not None:
                _add_binning(result, protection, loaded, preparation)
            result.ledger_created = book.path if book.created else None
            result.prepared = loaded.changes
            yield Counted(loaded, result, parameters)
            account.released(result.privacy["rho"])


def _binning_share(
    protection: DifferentialPrivacy, preparation: Preparation, seed: int | None
) -> tuple[DifferentialPrivacy, QuantileBudget | None]:
    """The spec the counts get, and the budget of DP quantile edges (None when nothing is so binned).

    Quantile edges take :data:`BINNING_PROPORTION` of epsilon, split equally
    between the columns (each pure epsilon-DP); the counts get the rest. By
    sequential composition the release keeps the (epsilon, delta) asked for.
    """
    columns = preparation.dp_quantiles
    if not columns:
        return protection, None
    from ..dp.noise import RandomSource

    spent = protection.epsilon * BINNING_PROPORTION
    source = RandomSource(None if seed is None else seed ^ 0xB1)  # never the counts' stream
    return replace(protection, epsilon=protection.epsilon - spent), QuantileBudget(
        spent / len(columns), source
    )


def _add_binning(
    result: AggregateResult, protection: DifferentialPrivacy, loaded: Loaded, preparation: Preparation
) -> None:
    """Account the quantile edges in the privacy facts: the whole epsilon, and the edges released."""
    privacy = result.privacy
    edges = {name: loaded.changes["binned"][name]["edges"] for name in preparation.dp_quantiles}
    privacy["binning_epsilon"] = protection.epsilon * BINNING_PROPORTION
    privacy["binning_edges"] = edges
    privacy["epsilon"] = protection.epsilon
    if privacy.get("epsilon_spent") is not None:  # the counts' share, and the edges' (composed)
        privacy["epsilon_spent"] = privacy["epsilon_spent"] + privacy["binning_epsilon"]
    privacy["guarantee"] = dp_guarantee(privacy, preparation.subject_id)


def dp_parameters(
    protection: DifferentialPrivacy, length: int, preparation: Preparation, seed: int | None, extra: dict
) -> dict:
    """A DP release's parameters, as the ledger and the metadata record them (never the seed)."""
    parameters = {
        "epsilon": protection.epsilon,
        "delta": protection.delta,
        "reporting_length": length,
        "subject_id": preparation.subject_id,
        "codebook": preparation.codebook is not None,
        "seeded": seed is not None,
        **protection.mechanism(),
        **extra,
    }
    if protection.budget_total is not None:
        parameters["budget_total"] = protection.budget_total
    if protection.dataset_id is not None:
        parameters["dataset_id"] = protection.dataset_id
    return parameters


def _noise(
    job: Job,
    loaded: Loaded,
    protection: DifferentialPrivacy,
    length: int,
    seed: int | None,
    account: Account,
    subject_id: str | None,
    held: ClusterRecords | None = None,
) -> AggregateResult:
    """Draw the DP marginals (after the charge) and record the delta used.

    ``held``: the records on a cluster's workers (else they are ``loaded.table``'s codes).
    """
    from ..dp.marginals import GroupedRecords, dp_aggregate
    from ..dp.noise import RandomSource

    with job.step("release", total=None):
        if protection.algorithm in (None, "sds"):
            grouped = None if held is None else GroupedRecords(loaded.table.schema, held.n, held.call)
            released, report = dp_aggregate(
                loaded.table, protection=protection, length=length, public_domain=loaded.public_domain,
                subject=loaded.subject, source=RandomSource(seed),
                progress=lambda d, t: job.report("noise", d, t), grouped=grouped,
            )  # fmt: skip
        else:
            from ..dp.adaptive import adaptive_aggregate

            released, report, _ = adaptive_aggregate(
                loaded.table, epsilon=protection.epsilon, delta=protection.delta,
                options=protection.adaptive(length), public_domain=loaded.public_domain,
                source=RandomSource(seed), seed=seed, reader=held,
                progress=lambda d, t: job.report("noise", d, t),
            )  # fmt: skip
    facts = report.describe()
    account.record_delta(facts["delta"])
    privacy = {
        "mechanism": "differential-privacy",
        "sensitive": False,
        "guarantee": dp_guarantee(facts, subject_id),
        "seeded": seed is not None,
        **facts,
    }
    if seed is not None:
        privacy["warning"] = (
            "seeded for reproducibility: the noise can be recomputed from "
            "the seed, so this release is for testing, not for publication"
        )
    return AggregateResult(released, protection, privacy, seconds=job.seconds)


def aggregate_sections(counted: Counted) -> dict:
    """The privacy, aggregates and statistics sections of a release's metadata."""
    result = counted.result
    released = result.released
    statistics = {"combinations_by_length": released.by_length().tolist()}
    if result.exact is not None:
        statistics["rare_combinations_by_length"] = result.rare_by_length.tolist()
        statistics["rare_threshold"] = result.protection.k
    return {"privacy": result.privacy, "aggregates": describe(released), "statistics": statistics}


def aggregate_parameters(counted: Counted, protection: Protection, length: int, threads: int | None) -> dict:
    """The parameters section of an aggregates release."""
    if counted.dp_parameters is not None:
        return counted.dp_parameters
    return {
        "reporting_length": length,
        "resolution": protection.k,
        "unprotected": isinstance(protection, Exact),
        "threads": threads,
    }
