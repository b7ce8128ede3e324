"""Ingestion (docs/reports.md): receive a report durably, then apply it idempotently.

Receiving validates and stores the report as sent; applying turns a stored
report into cycles, steps and failed records. The stored state of a cycle is
always what applying all of its reports in the order they were received gives
(docs/reports.md: "the one received last wins"), whatever order workers happen to
apply them in: a report applied after a later one makes its cycle be rebuilt
from its reports.
"""

import io
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from itertools import chain

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from dashboard.choices import COUNTERS, FINAL_STATUSES, ObjectType, Status
from dashboard.ingest.validation import (
    CleanFailure,
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

log = logging.getLogger(__name__)

# Rows per INSERT: well under SQLite's limit on bound variables.
BATCH_SIZE = 1000
# From this many failed records in a report, PostgreSQL takes them by COPY.
COPY_THRESHOLD = 200
FAILURE_COLUMNS = ("step_id", "cycle_started_at", "record_id", "marketo_id", "error_code", "field",
                   "message")  # fmt: skip
# How far ahead of our clock a cycle may start (senders' clocks drift).
FUTURE_TOLERANCE = timedelta(days=1)
STEP_UPDATE_FIELDS = [
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
]


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
        cycle = _lock_cycle(clean)
        # Read again under the cycle's lock: another worker may have applied
        # this very report while we waited for it.
        # Its payload is in hand already: not megabytes a second time.
        report = ReceivedReport.objects.defer("payload").get(pk=report_pk)
        if report.status != ReceivedReport.State.ACCEPTED:
            return "skipped"
        later_applied = ReceivedReport.objects.filter(
            cycle_external_id=clean.cycle_id,
            status=ReceivedReport.State.APPLIED,
            pk__gt=report.pk,
        ).exists()
        if later_applied:
            _rebuild_cycle(cycle, including=report)
            outcome = "rebuilt"
        else:
            _apply_to_cycle(cycle, clean)
            outcome = "applied"
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


def _lock_cycle(clean: CleanReport) -> SyncCycle:
    """Create the cycle if needed and hold its row lock until the transaction ends.

    Every application to one cycle queues on this lock, so concurrent
    deliveries never race on its steps and no IntegrityError escapes.
    """
    SyncCycle.objects.bulk_create(
        [SyncCycle(external_id=clean.cycle_id, started_at=clean.cycle_started_at)],
        ignore_conflicts=True,
    )
    return SyncCycle.objects.select_for_update().get(external_id=clean.cycle_id)


def _rebuild_cycle(cycle: SyncCycle, including: ReceivedReport) -> None:
    """Replay every applied report of the cycle, plus `including`, in receipt order."""
    steps = SyncStep.objects.filter(cycle=cycle)
    FailedRecord.objects.filter(step__in=steps.values("pk")).delete()
    steps.delete()
    cycle.ended_at = None
    reports = ReceivedReport.objects.filter(cycle_external_id=cycle.external_id).filter(
        Q(status=ReceivedReport.State.APPLIED) | Q(pk=including.pk)
    )
    for report in reports.order_by("pk").iterator():
        _apply_to_cycle(cycle, validate_report(parse_report_json(report.payload)))


def _apply_to_cycle(cycle: SyncCycle, clean: CleanReport) -> None:
    started_changed = cycle.started_at != clean.cycle_started_at
    cycle.started_at = clean.cycle_started_at
    if clean.cycle_ended_at is not None:
        cycle.ended_at = clean.cycle_ended_at
    cycle.save(update_fields=["started_at", "ended_at"])
    ensure_partition_for(cycle.started_at)
    if started_changed:
        # Rare (an engine re-dating its cycle), and on PostgreSQL it moves the
        # rows to the partition of their new day.
        steps = SyncStep.objects.filter(cycle=cycle)
        FailedRecord.objects.filter(step__in=steps.values("pk")).update(
            cycle_started_at=cycle.started_at
        )
        steps.update(cycle_started_at=cycle.started_at)
    if not clean.steps:
        return

    stored = {}
    # A cycle's first report (most reports of a backfill) has nothing to merge with.
    if SyncStep.objects.filter(cycle=cycle).exists():
        for chunk in _chunks([step.step_id for step in clean.steps], BATCH_SIZE):
            for step in SyncStep.objects.filter(cycle=cycle, step_id__in=chunk):
                stored[step.step_id] = step
    rows = [merge_step(stored.get(step.step_id), step, cycle) for step in clean.steps]
    for row in rows:
        # One upsert statement for new and stored steps alike; it returns
        # every row's pk, which the failed records need.
        row.pk = None
    SyncStep.objects.bulk_create(
        rows,
        batch_size=BATCH_SIZE,
        update_conflicts=True,
        unique_fields=["cycle", "step_id", "cycle_started_at"],
        update_fields=STEP_UPDATE_FIELDS,
    )

    # A failure named again replaces the stored one whole (docs/reports.md).
    per_step = [(row.pk, step.failures) for row, step in zip(rows, clean.steps, strict=True)]
    count = sum(len(failures) for _, failures in per_step)
    if connection.vendor == "postgresql" and count >= COPY_THRESHOLD:
        _copy_upsert_failures(per_step, cycle.started_at)
    elif count:
        FailedRecord.objects.bulk_create(
            [
                FailedRecord(
                    step_id=step_pk,
                    cycle_started_at=cycle.started_at,
                    record_id=failure.record_id,
                    marketo_id=failure.marketo_id,
                    error_code=failure.error_code,
                    field=failure.field,
                    message=failure.message,
                )
                for step_pk, failures in per_step
                for failure in failures
            ],
            batch_size=BATCH_SIZE,
            update_conflicts=True,
            unique_fields=["step", "record_id", "cycle_started_at"],
            update_fields=["marketo_id", "error_code", "field", "message"],
        )


def _copy_text(value) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if not isinstance(value, str):
        return str(value)
    # Most values need no escaping; four scans in C are cheaper than replacing.
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def _copy_lines(per_step: list[tuple[int, tuple[CleanFailure, ...]]], started) -> str:
    """Failed records as lines of COPY text, in the order of FAILURE_COLUMNS."""
    records = chain.from_iterable(failures for _, failures in per_step)
    # Through filter and chain, the loop over every value runs in C.
    texts = "".join(filter(None, chain.from_iterable(records)))
    escape = any(char in texts for char in "\\\t\n\r")
    null = "\\N"
    lines = []
    for step_pk, failures in per_step:
        prefix = f"{step_pk}\t{started}\t"
        if escape:
            lines += [
                prefix
                + "\t".join(map(_copy_text, (f.record_id, f.marketo_id, f.error_code, f.field)))
                + f"\t{_copy_text(f.message)}\n"
                for f in failures
            ]
        else:
            # Nothing to escape in the whole report, the usual case: one
            # f-string a record instead of a conversion a value.
            lines += [
                f"{prefix}{record_id}\t{null if marketo_id is None else marketo_id}\t"
                f"{null if code is None else code}\t{null if field is None else field}\t"
                f"{message}\n"
                for record_id, message, marketo_id, code, field in failures
            ]
    return "".join(lines)


def _copy_upsert_failures(
    per_step: list[tuple[int, tuple[CleanFailure, ...]]], started: datetime
) -> None:
    """Many failed records at once: COPY into a session table, then one upsert.

    Measured at about five times the rows/s of bulk_create for large reports
    (`manage.py bench`): no model instances, no parameters to bind.
    """
    buffer = io.StringIO(_copy_lines(per_step, started))
    columns = ", ".join(FAILURE_COLUMNS)
    step_ids = sorted(step_pk for step_pk, failures in per_step if failures)
    with connection.cursor() as cursor:
        # A first delivery (the usual case) has nothing to replace: straight
        # in. The cycle's lock keeps every other writer off these steps.
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM dashboard_failedrecord "
            "WHERE step_id = ANY(%s) AND cycle_started_at = %s)",
            [step_ids, started],
        )
        if not cursor.fetchone()[0]:
            cursor.copy_expert(f"COPY dashboard_failedrecord ({columns}) FROM STDIN", buffer)
            return
        # Kept for the connection's life; emptied by every use.
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS incoming_failures (step_id bigint, "
            "cycle_started_at timestamptz, record_id varchar(255), marketo_id varchar(255), "
            "error_code varchar(255), field varchar(255), message text)"
        )
        cursor.execute("TRUNCATE incoming_failures")
        cursor.copy_expert(f"COPY incoming_failures ({columns}) FROM STDIN", buffer)
        upsert = (
            f"INSERT INTO dashboard_failedrecord ({columns}) "  # noqa: S608 - constant names
            f"SELECT {columns} FROM incoming_failures "
            "ON CONFLICT (step_id, record_id, cycle_started_at) DO UPDATE SET "
            "marketo_id = EXCLUDED.marketo_id, error_code = EXCLUDED.error_code, "
            "field = EXCLUDED.field, message = EXCLUDED.message"
        )
        cursor.execute(upsert)


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
