"""What applying a report does to the error groups: which failures join a
group, which leave one, for the rollups to write (rollups.py)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

from django.db import connection

from dashboard.ingest.failures import StepFailures
from dashboard.models import FailedRecord, SyncStep
from dashboard.syncerrors.changes import Changes, StreamKey
from dashboard.syncerrors.signatures import (
    Signature,
    failure_signature,
    job_error_signature,
    message_template,
    record_signature,
)

MESSAGE, RECORD_ID = attrgetter("message"), attrgetter("record_id")


@dataclass(frozen=True)
class StepBefore:
    """What a stored step was before a report changed it."""

    pk: int
    stream: StreamKey
    started_at: datetime
    status: str
    error_group_id: int | None

    @classmethod
    def of(cls, step: SyncStep) -> "StepBefore":
        return cls(step.pk, stream_of(step), step.started_at, step.status, step.error_group_id)


def stream_of(step: SyncStep) -> StreamKey:
    return (step.object_type, step.object_name or "", step.operation)


def failure_signatures(step: SyncStep, failures) -> list[Signature]:
    """The signature of each failure of `step`, built once per distinct code,
    field and template: a large report repeats a few of them thousands of
    times, often with their very message."""
    by_message: dict[tuple, Signature] = {}
    by_template: dict[tuple, Signature] = {}
    signatures = []
    for f in failures:
        key = (f.error_code, f.field, f.message)
        signature = by_message.get(key)
        if signature is None:
            templated = (f.error_code, f.field, message_template(f.message))
            signature = by_template.get(templated)
            if signature is None:
                signature = by_template[templated] = record_signature(
                    step.object_type, step.object_name, step.operation, *templated
                )
            by_message[key] = signature
        signatures.append(signature)
    return signatures


def job_signature(step: SyncStep) -> Signature | None:
    if step.error_message is None:
        return None
    return job_error_signature(
        step.object_type, step.object_name, step.operation, step.error_code, step.error_message
    )


def regrouped(step: SyncStep, before: StepBefore | None) -> bool:
    """Whether a stored step changed what its failures are grouped or dated by."""
    return before is not None and (
        before.stream != stream_of(step) or before.started_at != step.started_at
    )


def step_failures(step_pks: Iterable[int]) -> dict[int, list[tuple]]:
    """Every stored failure of these steps: (record_id, group_id, error_code, field, message)."""
    found: dict[int, list[tuple]] = {}
    rows = FailedRecord.objects.filter(step_id__in=list(step_pks)).values_list(
        "step_id", "record_id", "group_id", "error_code", "field", "message"
    )
    for step_pk, *failure in rows.iterator():
        found.setdefault(step_pk, []).append(tuple(failure))
    return found


def report_changes(
    changes: Changes,
    cycle_started_at: datetime,
    written: list[tuple[SyncStep, StepBefore | None, list[Signature], StepFailures]],
    replaced: dict[tuple[int, str], int],
    before_regroup: dict[int, list[tuple]],
) -> None:
    """Gather into `changes` what a report did: `written` holds each step as it
    now stands, as it was, and the failures the report gave it; `replaced`
    the group of each failure it named again; `before_regroup` every failure
    of the steps that changed their object, operation or start."""
    for step, before, signatures, batch in written:
        now = (step.pk, cycle_started_at, step.started_at)
        if regrouped(step, before):
            _regroup(
                changes, step, before, cycle_started_at, before_regroup.get(step.pk, []), batch
            )
        elif before is None or not replaced:
            # Nothing of this step named again (a first delivery): all join.
            if batch.failures:
                failures = batch.failures
                changes.add_step(
                    signatures,
                    list(map(MESSAGE, failures)),
                    now,
                    list(map(RECORD_ID, failures)),
                )
        else:
            joining = []
            for failure, signature in zip(batch.failures, signatures, strict=True):
                old = replaced.get((step.pk, failure.record_id))
                if old is None:
                    joining.append((signature, failure))
                elif old != signature.group_id:  # named again, with another signature
                    changes.remove(old, now, failure.record_id)
                    changes.add(signature, failure.message, now, failure.record_id)
            if joining:
                changes.add_step(
                    [signature for signature, _ in joining],
                    [failure.message for _, failure in joining],
                    now,
                    [failure.record_id for _, failure in joining],
                )
        _job_error(changes, step, before, cycle_started_at)
        _stream(changes, step, before)


def _regroup(changes, step, before, cycle_started_at, stored, batch):
    """A step now of another object, operation or start: every failure of it
    leaves its old group and joins its new one (rare: an engine correcting
    itself), and the stored ones not in this report get their new group."""
    then = (step.pk, cycle_started_at, before.started_at)
    now = (step.pk, cycle_started_at, step.started_at)
    failures = {}
    for record_id, group, code, field, message in stored:
        changes.remove(group, then, record_id)
        failures[record_id] = (code, field, message)
    for failure in batch.failures:
        failures[failure.record_id] = (failure.error_code, failure.field, failure.message)
    moved = []
    for record_id, (code, field, message) in failures.items():
        signature = failure_signature(
            step.object_type, step.object_name, step.operation, code, field, message
        )
        changes.add(signature, message, now, record_id)
        moved.append((signature.group_id, record_id))
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE dashboard_failedrecord SET group_id = %s, step_started_at = %s "
            "WHERE step_id = %s AND record_id = %s",
            [
                (group, connection.ops.adapt_datetimefield_value(step.started_at), step.pk, record)
                for group, record in moved
            ],
        )


def _job_error(changes, step, before, cycle_started_at):
    signature = job_signature(step)
    new = signature.group_id if signature else None
    old = before.error_group_id if before else None
    if old == new and not regrouped(step, before):
        return
    if old is not None:
        changes.remove(old, (step.pk, cycle_started_at, before.started_at), None)
    if signature is not None:
        changes.add(
            signature, step.error_message, (step.pk, cycle_started_at, step.started_at), None
        )


def _stream(changes, step, before):
    changes.step_ran(stream_of(step), step.status, step.started_at)
    if before is not None and before.status != "in_process" and regrouped(step, before):
        changes.streams_to_read.add(before.stream)


def cycle_changes(changes: Changes, cycle_id: int, cycle_started_at: datetime, sign: int) -> set:
    """Every failure and job-level error of a cycle leaving (`sign` -1) or
    joining (+1) its group, as when a cycle is rebuilt from its reports;
    returns the (group, record) pairs met."""
    steps = {step.pk: step for step in SyncStep.objects.filter(cycle_id=cycle_id)}
    pairs = set()
    for step_pk, stored in step_failures(steps).items():
        step = steps[step_pk]
        at = (step_pk, cycle_started_at, step.started_at)
        for record_id, group, code, field, message in stored:
            pairs.add((group, record_id))
            if sign < 0:
                changes.remove(group, at, record_id)
            else:
                signature = failure_signature(
                    step.object_type, step.object_name, step.operation, code, field, message
                )
                changes.add(signature, message, at, record_id)
    for step in steps.values():
        at = (step.pk, cycle_started_at, step.started_at)
        if sign < 0 and step.error_group_id is not None:
            changes.remove(step.error_group_id, at, None)
        elif sign > 0 and (signature := job_signature(step)) is not None:
            changes.add(signature, step.error_message, at, None)
        if sign > 0:
            changes.step_ran(stream_of(step), step.status, step.started_at)
        else:
            changes.streams_to_read.add(stream_of(step))
    return pairs


def groups_rebuild() -> int:
    """Count every group again from the failures in the window, regrouping
    each failure by the current rules: after an upgrade, or a change of how
    messages are templated (`manage.py rebuild_error_groups`). Returns how
    many groups there are."""
    from django.db import transaction

    from dashboard.models import (
        ErrorGroup,
        ErrorGroupBucket,
        ErrorGroupRecord,
        ErrorGroupStep,
        RetentionMark,
        StepStream,
        SyncCycle,
    )
    from dashboard.storage.retention import retention_cutoff
    from dashboard.syncerrors.rollups import rollups_write

    with transaction.atomic():
        for model in [ErrorGroupBucket, ErrorGroupStep, ErrorGroupRecord, StepStream, ErrorGroup]:
            model.objects.all().delete()
        cutoff = retention_cutoff()
        RetentionMark.objects.all().delete()
        RetentionMark.objects.create(id=1, groups_expired_before=cutoff)
        for cycle in SyncCycle.objects.filter(started_at__gte=cutoff).iterator():
            _regroup_stored(cycle.pk)
            changes = Changes()
            cycle_changes(changes, cycle.pk, cycle.started_at, sign=+1)
            rollups_write(changes)
    return ErrorGroup.objects.count()


def _regroup_stored(cycle_id: int) -> None:
    """Give every stored failure and job error of a cycle the group and step
    start the current rules give it."""
    for step in SyncStep.objects.filter(cycle_id=cycle_id):
        signature = job_signature(step)
        SyncStep.objects.filter(pk=step.pk).update(
            error_group_id=signature.group_id if signature else None
        )
        failures = FailedRecord.objects.filter(step_id=step.pk).only(
            "pk", "error_code", "field", "message", "group_id", "step_started_at"
        )
        changed = []
        for failure in failures:
            group = failure_signatures(step, [failure])[0].group_id
            if (failure.group_id, failure.step_started_at) != (group, step.started_at):
                failure.group_id, failure.step_started_at = group, step.started_at
                changed.append(failure)
        FailedRecord.objects.bulk_update(changed, ["group_id", "step_started_at"], batch_size=500)
