"""Ingestion (docs/reports.md): receive a report durably, then apply it idempotently.

Receiving validates and stores the report as sent; applying turns a stored
report into cycles, steps and failed records. The stored state of a cycle is
always what applying all of its reports in the order they were received gives
(docs/reports.md: "the one received last wins"), whatever order workers happen to
apply them in: a report applied after a later one makes its cycle be rebuilt
from its reports.
"""

# ruff: noqa: S608 - the f-strings only add column names and placeholders.

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from operator import attrgetter

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from dashboard.choices import COUNTERS, FINAL_STATUSES, ObjectType, Status
from dashboard.health import rollups as step_hours
from dashboard.ingest.failures import StepFailures, failures_write, stored_groups
from dashboard.ingest.live_marks import live_marks_stamp
from dashboard.ingest.validation import (
    CleanReport,
    CleanStep,
    ReportInvalid,
    ValidationError,
    parse_report_json,
    validate_report,
)
from dashboard.models import FailedRecord, ReceivedReport, SyncCycle, SyncStep
from dashboard.storage.partitions import ensure_partition_for
from dashboard.storage.retention import retention_cutoff
from dashboard.syncerrors import grouping, rollups
from dashboard.syncerrors.rollups import Changes

log = logging.getLogger(__name__)

# Rows per INSERT: well under SQLite's limit on bound variables.
BATCH_SIZE = 1000
# How far ahead of our clock a cycle may start (senders' clocks drift).
FUTURE_TOLERANCE = timedelta(days=1)
# What a report writes of a step: a stored one keeps its stored_failures
# (health/rollups.py counts them again) and every step its live_mark, a
# database default (live_marks.py stamps it last).
STEP_UPDATE_FIELDS = (
    "error_group_id",
    "cycle_started_at",
    "object_type",
    "object_name",
    "operation",
    "status",
    "started_at",
    "ended_at",
    *(f"{name}_count" for name in COUNTERS),
    "error_code",
    "error_message",
)
STEP_COLUMNS = ("cycle_id", "step_id", "stored_failures", *STEP_UPDATE_FIELDS)
STEP_MOMENTS = tuple(
    STEP_COLUMNS.index(name) for name in ("cycle_started_at", "started_at", "ended_at")
)
STEP_UPSERT = (
    f"INSERT INTO dashboard_syncstep ({', '.join(STEP_COLUMNS)}) VALUES {{values}} "
    "ON CONFLICT (cycle_id, step_id, cycle_started_at) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in STEP_UPDATE_FIELDS)
    + " RETURNING id"
)
# Steps per upsert: 22 values each, well under SQLite's 32,766 bound variables.
STEPS_PER_STATEMENT = 500


def report_receive(
    *, raw: bytes | str, source: str, enqueue: Callable[[int], None]
) -> ReceivedReport:
    """Validate and durably store a report; once it is committed, hand its pk
    to `enqueue` (tasks.enqueue_report_apply: services never import tasks).

    Raises ReportInvalid, naming every problem, and stores nothing then.
    """
    clean = validate_report(parse_report_json(raw))
    if clean.cycle_started_at > timezone.now() + FUTURE_TOLERANCE:
        # Each day holds a partition on PostgreSQL, and the page would show
        # the cycle first for days: a clock this wrong is the sender's to fix.
        raise ReportInvalid(
            [
                ValidationError(
                    "cycle.started_at",
                    "Must not be more than a day ahead of this server's clock; "
                    "check the sync engine's clock.",
                )
            ]
        )
    payload = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    with transaction.atomic():
        report = ReceivedReport.objects.create(
            cycle_external_id=clean.cycle_id, payload=payload, source=source
        )
        transaction.on_commit(lambda: enqueue(report.pk))
    log.info(
        "report received report_id=%s cycle_id=%s steps=%d source=%s",
        report.report_id,
        clean.cycle_id,
        len(clean.steps),
        source,
    )
    return report


def report_apply(*, report_pk: int) -> str:
    """Apply one stored report; safe to call any number of times, concurrently.

    Returns what happened: "applied", "rebuilt" (its cycle was replayed
    because a later report had been applied first), "expired" (its cycle
    started before the retention window), "invalid" or "skipped".
    """
    report = ReceivedReport.objects.filter(pk=report_pk).first()
    if report is None or report.status != ReceivedReport.State.ACCEPTED:
        return "skipped"
    try:
        clean = validate_report(parse_report_json(report.payload))
    except ReportInvalid as exc:
        # Validated on receipt, so only a change of rules since gets here.
        report_mark_failed(report_pk=report_pk, error=f"Invalid report: {exc}")
        return "invalid"

    if clean.cycle_started_at < retention_cutoff():
        # Accepted, but it would never be shown and the purge would delete it
        # within the hour: nothing to write (docs/reports.md).
        ReceivedReport.objects.filter(pk=report_pk, status=ReceivedReport.State.ACCEPTED).update(
            status=ReceivedReport.State.APPLIED, applied_at=timezone.now(), error=None
        )
        return "expired"

    with transaction.atomic():
        _commit_without_waiting_for_disk()
        cycle, created = _lock_cycle(clean)
        if created:
            # Nobody had applied anything of this cycle: nothing to replay.
            later_applied = redated = False
        else:
            # Read again under the cycle's lock: another worker may have
            # applied this very report while we waited for it.
            status, later_applied = (
                ReceivedReport.objects.filter(pk=report_pk)
                .annotate(later=Exists(_applied_after(clean.cycle_id)))
                .values_list("status", "later")
                .get()
            )
            if status != ReceivedReport.State.ACCEPTED:
                return "skipped"
            # A cycle re-dated by this report is rebuilt too: its rows move to
            # another day, and its records' latest cycle may move either way.
            redated = cycle.started_at != clean.cycle_started_at and cycle.steps.exists()
        # Each branch ends by stamping the live mark: last, as its lock is
        # held until the commit (dashboard/ingest/live_marks.py).
        if later_applied or redated:
            _rebuild_cycle(cycle, including=report)
            outcome = "rebuilt"
            live_marks_stamp(cycle=cycle, step_ids=None)
        else:
            _apply_to_cycle(cycle, clean, created=created)
            outcome = "applied"
            if clean.steps:
                live_marks_stamp(cycle=cycle, step_ids=[step.step_id for step in clean.steps])
        updated = ReceivedReport.objects.filter(pk=report.pk).update(
            status=ReceivedReport.State.APPLIED, applied_at=timezone.now(), error=None
        )
    if updated:
        log.info(
            "report %s report_id=%s cycle_id=%s steps=%d",
            outcome,
            report.report_id,
            clean.cycle_id,
            len(clean.steps),
        )
    return outcome


def _commit_without_waiting_for_disk() -> None:
    """Applying a report need not wait for its commit to reach the disk: the
    report itself is stored durably already (at receipt), and its status
    changes in this same transaction. If the database crashed just after this
    commit, the report would be "accepted" again and the sweep would apply it
    again: nothing is lost, and a large report's commit no longer waits for
    the flush of all it wrote (measured: a fifth of its time, `make bench`)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def report_mark_failed(*, report_pk: int, error: str) -> None:
    ReceivedReport.objects.filter(pk=report_pk).update(
        status=ReceivedReport.State.FAILED, error=error[:10_000]
    )
    log.error("report failed pk=%s error=%s", report_pk, error[:500])


def report_record_attempt_failure(*, report_pk: int, error: str, max_attempts: int) -> int:
    """Count a failed attempt at applying; mark the report failed at the last one."""
    with transaction.atomic():
        report = ReceivedReport.objects.select_for_update().filter(pk=report_pk).first()
        if report is None or report.status != ReceivedReport.State.ACCEPTED:
            return max_attempts
        report.attempts += 1
        report.error = error[:10_000]
        if report.attempts >= max_attempts:
            report.status = ReceivedReport.State.FAILED
        report.save(update_fields=["attempts", "error", "status"])
    log.warning(
        "report apply attempt failed report_id=%s attempt=%d error=%s",
        report.report_id,
        report.attempts,
        error[:500],
    )
    return report.attempts


def _applied_after(cycle_id: str):
    return ReceivedReport.objects.filter(
        cycle_external_id=cycle_id, status=ReceivedReport.State.APPLIED, pk__gt=OuterRef("pk")
    )


def _lock_cycle(clean: CleanReport) -> tuple[SyncCycle, bool]:
    """The cycle, created if needed, its row locked until the transaction
    ends; and whether this created it (a report's first: one statement).

    Every application to one cycle queues on this lock, so concurrent
    deliveries never race on its steps and no IntegrityError escapes.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO dashboard_synccycle (external_id, started_at, ended_at) "
            "VALUES (%s, %s, %s) ON CONFLICT (external_id) DO NOTHING RETURNING id",
            [
                clean.cycle_id,
                connection.ops.adapt_datetimefield_value(clean.cycle_started_at),
                connection.ops.adapt_datetimefield_value(clean.cycle_ended_at),
            ],
        )
        inserted = cursor.fetchone()
    if inserted:
        cycle = SyncCycle(
            pk=inserted[0],
            external_id=clean.cycle_id,
            started_at=clean.cycle_started_at,
            ended_at=clean.cycle_ended_at,
        )
        return cycle, True
    return SyncCycle.objects.select_for_update().get(external_id=clean.cycle_id), False


def _rebuild_cycle(cycle: SyncCycle, including: ReceivedReport) -> None:
    """Replay every applied report of the cycle, plus `including`, in receipt
    order; the error groups lose what the cycle had and gain what it has."""
    changes = Changes()
    old_pairs = grouping.cycle_changes(changes, cycle.pk, cycle.started_at, sign=-1)
    step_hours.cycle_steps_leaving(cycle.pk)
    steps = SyncStep.objects.filter(cycle=cycle)
    FailedRecord.objects.filter(step__in=steps.values("pk")).delete()
    steps.delete()
    cycle.ended_at = None
    reports = ReceivedReport.objects.filter(cycle_external_id=cycle.external_id).filter(
        Q(status=ReceivedReport.State.APPLIED) | Q(pk=including.pk)
    )
    for report in reports.order_by("pk").iterator():
        _apply_to_cycle(cycle, validate_report(parse_report_json(report.payload)), group=False)
    grouping.cycle_changes(changes, cycle.pk, cycle.started_at, sign=+1)
    # Their latest cycle may have moved either way: read it again.
    changes.pairs_left |= old_pairs
    if cycle.started_at >= rollups.retention_mark():
        rollups.rollups_write(changes, cycle.started_at)


def _apply_to_cycle(
    cycle: SyncCycle, clean: CleanReport, group: bool = True, created: bool = False
) -> None:
    """Apply one report on top of its cycle. With `group`, the error groups are
    kept in step (a rebuild groups the whole cycle once, at its end). A cycle
    this report `created` holds what it says already, and no steps."""
    started_changed = cycle.started_at != clean.cycle_started_at
    if not created:
        cycle.started_at = clean.cycle_started_at
        if clean.cycle_ended_at is not None:
            cycle.ended_at = clean.cycle_ended_at
        cycle.save(update_fields=["started_at", "ended_at"])
    ensure_partition_for(cycle.started_at)
    if started_changed:
        # Rare (an engine re-dating its cycle; report_apply rebuilds such a
        # cycle), and on PostgreSQL it moves the rows to their new day.
        step_hours.cycle_redated(cycle.pk, cycle.started_at)
        steps = SyncStep.objects.filter(cycle=cycle)
        FailedRecord.objects.filter(step__in=steps.values("pk")).update(
            cycle_started_at=cycle.started_at
        )
        steps.update(cycle_started_at=cycle.started_at)
    if not clean.steps:
        return

    stored = {}
    # The cycle's steps all sit in its start's partition, which naming it
    # spares PostgreSQL looking into every day's (a third of a live engine's
    # second report). A cycle's first report has nothing to merge with.
    of_cycle = SyncStep.objects.filter(cycle=cycle, cycle_started_at=cycle.started_at)
    if not created and of_cycle.exists():
        for chunk in _chunks([step.step_id for step in clean.steps], BATCH_SIZE):
            for step in of_cycle.filter(step_id__in=chunk):
                stored[step.step_id] = step
    before = {step_id: grouping.StepBefore.of(step) for step_id, step in stored.items()}
    tallies_before = step_hours.tallies_before(stored)
    rows = [merge_step(stored.get(step.step_id), step, cycle) for step in clean.steps]
    step_hours.new_steps_counted(rows, clean.steps, stored)
    for row in rows:
        signature = grouping.job_signature(row)
        row.error_group_id = signature.group_id if signature else None
    # One upsert for new and stored steps alike; it returns every row's pk,
    # which the failed records need.
    steps_upsert(rows)

    written, batches = [], []
    for row, step in zip(rows, clean.steps, strict=True):
        signatures = grouping.failure_signatures(row, step.failures)
        batch = StepFailures(
            row.pk, row.started_at, step.failures, [s.group_id for s in signatures]
        )
        written.append((row, before.get(row.step_id), signatures, batch))
        batches.append(batch)
    # What the failures named again and the steps regrouped were, before they change.
    named_again = [
        (row.pk, failure.record_id)
        for row, step_before, _, batch in written
        if step_before is not None and not grouping.regrouped(row, step_before)
        for failure in batch.failures
    ]
    replaced = stored_groups(cycle.started_at, named_again) if named_again else {}
    before_regroup = grouping.step_failures(
        row.pk for row, step_before, _, _ in written if grouping.regrouped(row, step_before)
    )
    failures_write(batches, cycle.started_at)
    if group and cycle.started_at >= rollups.retention_mark():
        changes = Changes()
        grouping.report_changes(changes, cycle.started_at, written, replaced, before_regroup)
        rollups.rollups_write(changes, cycle.started_at)
    # Last: every report of the hour writes these rows (their locks, the shortest).
    step_hours.report_tallied(rows, clean.steps, tallies_before)


def steps_upsert(rows: list[SyncStep]) -> None:
    """Insert the steps, or update those stored, and give each its pk, a
    statement per 500 steps. Not bulk_create: its compiling of every value
    was two thirds of a 2,000-step report's time (`make bench`, steps/s)."""
    adapt = connection.ops.adapt_datetimefield_value
    values_of = attrgetter(*STEP_COLUMNS)
    row_sql = "(" + ", ".join(["%s"] * len(STEP_COLUMNS)) + ")"
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, STEPS_PER_STATEMENT):
            params = []
            for row in chunk:
                values = list(values_of(row))
                for index in STEP_MOMENTS:
                    values[index] = adapt(values[index])
                params += values
            cursor.execute(STEP_UPSERT.format(values=", ".join([row_sql] * len(chunk))), params)
            # RETURNING gives the rows in the order of VALUES, as bulk_create relies on.
            for row, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                row.pk = pk
                row._state.adding = False


def merge_step(stored: SyncStep | None, incoming: CleanStep, cycle: SyncCycle) -> SyncStep:
    """The step as it stands after `incoming` is applied on top of `stored`.

    A field the report gives overwrites the stored one; one it omits (or sends
    as null) keeps its value. A final step ignores an in_process report: a
    step never goes back to running.
    """
    if (
        stored is not None
        and stored.status in FINAL_STATUSES
        and incoming.status == Status.IN_PROCESS
    ):
        return stored
    step = stored or SyncStep(cycle=cycle, step_id=incoming.step_id)
    step.cycle_started_at = cycle.started_at
    step.object_type = incoming.object_type
    step.object_name = (
        incoming.object_name if incoming.object_type == ObjectType.CUSTOM_OBJECT else None
    )
    step.operation = incoming.operation
    step.status = incoming.status
    step.started_at = incoming.started_at
    if incoming.ended_at is not None:
        step.ended_at = incoming.ended_at
    for name, value in incoming.counts.items():
        setattr(step, f"{name}_count", value)
    if incoming.error is not None:
        step.error_code = incoming.error.code
        step.error_message = incoming.error.message
    return step


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
