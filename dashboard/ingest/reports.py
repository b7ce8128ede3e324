"""Ingestion (docs/reports.md): receive a report durably, then apply it idempotently.

Receiving validates and stores the report as sent; applying turns a stored
report into cycles, steps and failed records. The stored state of a cycle is
always what applying all of its reports in the order they were received gives
(docs/reports.md: "the one received last wins"), whatever order workers happen to
apply them in: a report applied after a later one makes its cycle be rebuilt
from its reports.
"""

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import partial
from operator import attrgetter

from django.db import connection, transaction
from django.db.models import F, Func, IntegerField, Q
from django.utils import timezone

from dashboard.health import rollups as step_hours
from dashboard.ingest.failures import StepFailures, failures_write, stored_groups
from dashboard.ingest.pending import Pending
from dashboard.ingest.step_rows import MergedSteps, steps_merged, steps_upsert
from dashboard.ingest.validation import (
    CleanReport,
    ReportInvalid,
    ValidationError,
    parse_report_json,
    validate_report,
)
from dashboard.models import FailedRecord, ReceivedReport, SyncCycle, SyncStep
from dashboard.storage.retention import retention_cutoff
from dashboard.syncerrors import grouping
from dashboard.syncerrors.changes import Changes

log = logging.getLogger(__name__)

# Rows per INSERT: well under SQLite's limit on bound variables.
BATCH_SIZE = 1000
# Reports claimed beside the one a task names must be smaller than this:
# a live engine's are tens of kilobytes.
BATCHED_REPORT_BYTES = 256 * 1024
# How far ahead of our clock a cycle may start (senders' clocks drift).
FUTURE_TOLERANCE = timedelta(days=1)


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


def report_apply(
    *, report_pk: int, batch: int = 1, applied: Callable[[int], None] | None = None
) -> str:
    """Apply one stored report; safe to call any number of times, concurrently.
    With `batch` above 1, up to `batch` - 1 other small reports waiting are
    applied with it, in one transaction (a worker with a backlog writes the
    error groups, the hours and the live mark once for them all), or without
    it if another worker holds it; if that fails, each is applied alone.
    Once reports are applied and committed, `applied` is given one of them
    (tasks.enqueue_alerts_evaluation: its evaluation takes them all).

    Returns what happened to the report: "applied", "rebuilt" (its cycle was
    replayed because a later report had been applied first), "expired" (its
    cycle started before the retention window), "invalid" or "skipped"
    (applied already, held by another worker, or not there).
    """
    claimed: list[int] = []
    try:
        return _apply_claimed(report_pk, batch, claimed, applied)
    except Exception:
        if len(claimed) < 2:
            raise
        # A report the others cannot be applied with, or two workers'
        # batches deadlocked: each alone, this one last (its failure is its
        # task's to count; another's, its own task's and the sweep's).
        log.warning("batch failed, applying its reports alone pk=%s", report_pk, exc_info=True)
    for other in claimed:
        if other != report_pk:
            try:
                _apply_claimed(other, 1, [], applied)
            except Exception:
                log.warning("report apply failed, left to its task pk=%s", other, exc_info=True)
    return _apply_claimed(report_pk, 1, [], applied)


def _apply_claimed(
    report_pk: int, batch: int, claimed_pks: list[int], applied: Callable[[int], None] | None
) -> str:
    if not _waiting(report_pk):
        # Applied already, most often with others by a worker's batch: one
        # read, and no transaction to open.
        return "skipped"
    with transaction.atomic():
        claimed = _claim(report_pk, batch)
        if not claimed:
            return "skipped"
        claimed_pks += [report.pk for report in claimed]
        _commit_without_waiting_for_disk()
        outcomes, live, cutoff, pending = {}, [], retention_cutoff(), Pending()
        for report in claimed:
            try:
                clean = validate_report(parse_report_json(report.payload))
            except ReportInvalid as exc:
                # Validated on receipt, so only a change of rules since gets here.
                report_mark_failed(report_pk=report.pk, error=f"Invalid report: {exc}")
                outcomes[report.pk] = "invalid"
                continue
            if clean.cycle_started_at < cutoff:
                # Accepted, but it would never be shown and the purge would
                # delete it within the hour: nothing to write (docs/reports.md).
                outcomes[report.pk] = "expired"
                pending.applied.append(report.pk)
            else:
                live.append((report, clean))
        firsts = {}
        for _, clean in live:
            firsts.setdefault(clean.cycle_id, clean)
        cycles = _lock_cycles(firsts)
        merged = _first_steps_written(live, cycles, pending)
        for report, clean in live:
            cycle, _ = cycles[clean.cycle_id]
            outcomes[report.pk] = _apply_one(report, clean, cycle, pending, merged.get(report.pk))
            pending.applied.append(report.pk)
        pending.write()
        if applied is not None and pending.applied:
            transaction.on_commit(partial(applied, pending.applied[0]))
    for report, clean in live:
        log.info(
            "report %s report_id=%s cycle_id=%s steps=%d",
            outcomes[report.pk],
            report.report_id,
            clean.cycle_id,
            len(clean.steps),
        )
    return outcomes.get(report_pk, "skipped")


def _first_steps_written(
    live: list[tuple[ReceivedReport, CleanReport]],
    cycles: dict[str, tuple[SyncCycle, bool]],
    pending: Pending,
) -> dict[int, MergedSteps]:
    """The steps of each cycle's first report, for the cycles created here,
    by report pk, written in one statement: they have nothing stored to
    merge with (a statement a report was a fifth of a small one's time).
    The cycles are marked as no longer new, for the reports after them."""
    merged = {}
    for report, clean in live:
        cycle, created = cycles[clean.cycle_id]
        if created:
            merged[report.pk] = steps_merged(cycle, clean, pending, created=True)
            cycles[clean.cycle_id] = (cycle, False)
    steps_upsert([row for steps in merged.values() for row in steps.rows])
    return merged


def _waiting(report_pk: int) -> bool:
    """Whether the report waits to be applied: one read by its key, in SQL of
    our own, as most tasks of a batch do nothing else (the ORM building the
    query took as long as the database answering it, `make bench`)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM dashboard_receivedreport WHERE id = %s AND status = %s",
            [report_pk, ReceivedReport.State.ACCEPTED],
        )
        return cursor.fetchone() is not None


def _claim(report_pk: int, batch: int) -> list[ReceivedReport]:
    """The report, unless it is applied already or another worker holds it,
    and up to `batch` - 1 of the oldest other small reports waiting, in
    receipt order, locked until the transaction ends: other workers skip
    them, and take the next (never waiting on each other's batches)."""
    accepted = ReceivedReport.objects.filter(status=ReceivedReport.State.ACCEPTED)
    if connection.vendor == "postgresql":
        accepted = accepted.select_for_update(skip_locked=True)
    named = list(accepted.filter(pk=report_pk))
    if batch == 1:
        return named
    size = "OCTET_LENGTH" if connection.vendor == "postgresql" else "LENGTH"
    others = (
        # A report being tried again waits for its own task; a large one
        # holds the groups' locks long enough alone.
        accepted.filter(attempts=0)
        .exclude(pk=report_pk)
        .alias(size=Func(F("payload"), function=size, output_field=IntegerField()))
        .filter(size__lt=BATCHED_REPORT_BYTES)
        .order_by("pk")
    )
    return sorted([*named, *others[: batch - 1]], key=attrgetter("pk"))


def _apply_one(
    report: ReceivedReport,
    clean: CleanReport,
    cycle: SyncCycle,
    pending: Pending,
    merged: MergedSteps | None,
) -> str:
    """Apply a report to its locked cycle; `merged` holds its steps, written
    already, if it is the first report of a cycle this batch created."""
    if merged is not None:
        # Nobody had applied anything of this cycle: nothing to replay.
        _apply_to_cycle(cycle, clean, pending, created=True, merged=merged)
        return "applied"
    later_applied = ReceivedReport.objects.filter(
        cycle_external_id=clean.cycle_id, status=ReceivedReport.State.APPLIED, pk__gt=report.pk
    ).exists()
    # A cycle re-dated by this report is rebuilt too: its rows move to
    # another day, and its records' latest cycle may move either way.
    redated = cycle.started_at != clean.cycle_started_at and cycle.steps.exists()
    if later_applied or redated:
        _rebuild_cycle(cycle, pending, including=[*pending.applied, report.pk])
        return "rebuilt"
    _apply_to_cycle(cycle, clean, pending)
    return "applied"


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


def _lock_cycles(firsts: dict[str, CleanReport]) -> dict[str, tuple[SyncCycle, bool]]:
    """The reports' cycles by id, each locked until the transaction ends, and
    whether this created it, as the first of its reports here says.

    Every application to one cycle queues on this lock, so concurrent
    deliveries never race on its steps and no IntegrityError escapes. The
    missing ones are inserted in one statement, in the order of their ids,
    then the others locked in that order: a worker waits on another's new
    cycle only before it holds any cycle that is not its own new one, so
    two workers whose batches share cycles never deadlock.
    """
    adapt = connection.ops.adapt_datetimefield_value
    ids = sorted(firsts)
    created = {}
    with connection.cursor() as cursor:
        for chunk in _chunks(ids, BATCH_SIZE):
            values = ", ".join(["(%s, %s, %s)"] * len(chunk))
            cursor.execute(
                # The f-string only adds placeholders.
                "INSERT INTO dashboard_synccycle (external_id, started_at, ended_at) "  # noqa: S608
                f"VALUES {values} ON CONFLICT (external_id) DO NOTHING RETURNING id, external_id",
                [
                    value
                    for cycle_id in chunk
                    for value in (
                        cycle_id,
                        adapt(firsts[cycle_id].cycle_started_at),
                        adapt(firsts[cycle_id].cycle_ended_at),
                    )
                ],
            )
            created.update((cycle_id, pk) for pk, cycle_id in cursor.fetchall())
    cycles = {
        cycle_id: (
            SyncCycle(
                pk=pk,
                external_id=cycle_id,
                started_at=firsts[cycle_id].cycle_started_at,
                ended_at=firsts[cycle_id].cycle_ended_at,
            ),
            True,
        )
        for cycle_id, pk in created.items()
    }
    stored = [cycle_id for cycle_id in ids if cycle_id not in created]
    for chunk in _chunks(stored, BATCH_SIZE):
        locked = SyncCycle.objects.select_for_update().filter(external_id__in=chunk)
        for cycle in locked.order_by("external_id"):
            cycles[cycle.external_id] = (cycle, False)
    return cycles


def _rebuild_cycle(cycle: SyncCycle, pending: Pending, including: list[int]) -> None:
    """Replay every applied report of the cycle, plus those `including` (this
    transaction's), in receipt order; the error groups lose what the cycle
    had and gain what it has."""
    pending.write_new_failures()
    changes = Changes()
    old_pairs = grouping.cycle_changes(changes, cycle.pk, cycle.started_at, sign=-1)
    step_hours.cycle_steps_leaving(cycle.pk, pending.deltas)
    steps = SyncStep.objects.filter(cycle=cycle)
    FailedRecord.objects.filter(step__in=steps.values("pk")).delete()
    steps.delete()
    cycle.ended_at = None
    reports = ReceivedReport.objects.filter(cycle_external_id=cycle.external_id).filter(
        Q(status=ReceivedReport.State.APPLIED) | Q(pk__in=including)
    )
    for report in reports.order_by("pk").iterator():
        clean = validate_report(parse_report_json(report.payload))
        _apply_to_cycle(cycle, clean, pending, group=False)
    grouping.cycle_changes(changes, cycle.pk, cycle.started_at, sign=+1)
    # Their latest cycle may have moved either way: read it again.
    changes.pairs_left |= old_pairs
    if pending.in_window(cycle.started_at):
        pending.add_changes(changes)
    pending.rebuilt.add(cycle.pk)


def _apply_to_cycle(
    cycle: SyncCycle,
    clean: CleanReport,
    pending: Pending,
    group: bool = True,
    created: bool = False,
    merged: MergedSteps | None = None,
) -> None:
    """Apply one report on top of its cycle, leaving to `pending` what is
    written once a transaction. With `group`, the error groups are kept in
    step (a rebuild groups the whole cycle once, at its end). `merged` is
    the report's steps, written already (a batch writes those of its new
    cycles together); without it, they are merged and written here."""
    if merged is None:
        merged = steps_merged(cycle, clean, pending, created)
        # One upsert for new and stored steps alike; it returns every row's
        # pk, which the failed records need.
        steps_upsert(merged.rows)
    rows, before = merged.rows, merged.before
    if not rows:
        return

    written, batches = [], []
    for row, step in zip(rows, clean.steps, strict=True):
        signatures = grouping.failure_signatures(row, step.failures)
        batch = StepFailures(
            row.pk,
            cycle.started_at,
            row.started_at,
            step.failures,
            [s.group_id for s in signatures],
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
    regrouped = [row.pk for row, before, _, _ in written if grouping.regrouped(row, before)]
    before_regroup = grouping.step_failures(regrouped) if regrouped else {}
    if created:
        # Nothing to replace, and nothing reads them before the batch ends.
        pending.new_failures += batches
    else:
        failures_write(batches)
    if group and pending.in_window(cycle.started_at):
        changes = Changes()
        grouping.report_changes(changes, cycle.started_at, written, replaced, before_regroup)
        pending.add_changes(changes)
    step_hours.report_tallied(rows, clean.steps, merged.tallies_before, pending.deltas)
    pending.steps.setdefault(cycle.started_at, []).extend(row.pk for row in rows)


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
