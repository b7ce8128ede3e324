"""A report's steps as rows: merged onto what is stored, then upserted."""

# ruff: noqa: S608 - the f-strings only add column names and placeholders.

from dataclasses import dataclass
from operator import attrgetter

from django.db import connection

from dashboard.choices import COUNTERS, FINAL_STATUSES, ObjectType, Status
from dashboard.health import rollups as step_hours
from dashboard.ingest.failures import copy_into_temp, copy_text
from dashboard.ingest.pending import Pending
from dashboard.ingest.validation import CleanReport, CleanStep
from dashboard.models import FailedRecord, SyncCycle, SyncStep
from dashboard.syncerrors import grouping

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
INSERT_STEPS = f"INSERT INTO dashboard_syncstep ({', '.join(STEP_COLUMNS)})"
STEP_UPSERT = "ON CONFLICT (cycle_id, step_id, cycle_started_at) DO UPDATE SET " + ", ".join(
    f"{name} = excluded.{name}" for name in STEP_UPDATE_FIELDS
)
# Steps per upsert: 22 values each, well under SQLite's 32,766 bound variables.
STEPS_PER_STATEMENT = 500
# From this many steps in a batch, PostgreSQL takes them by COPY: a report
# of 2,000 steps is applied 40% faster so (docs/performance.md, 2026-12-04).
STEPS_COPY_THRESHOLD = 100


def steps_upsert(rows: list[SyncStep]) -> None:
    """Insert the steps, or update those stored, and give each its pk. Not
    bulk_create: its compiling of every value was two thirds of a 2,000-step
    report's time (`make bench`, steps/s)."""
    if connection.vendor == "postgresql" and len(rows) >= STEPS_COPY_THRESHOLD:
        _copy_upsert(rows)
    else:
        _insert_upsert(rows)


def _insert_upsert(rows: list[SyncStep]) -> None:
    """Any database: a statement per 500 steps."""
    adapt = connection.ops.adapt_datetimefield_value
    values_of = attrgetter(*STEP_COLUMNS)
    row_sql = "(" + ", ".join(["%s"] * len(STEP_COLUMNS)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), STEPS_PER_STATEMENT):
            chunk = rows[start : start + STEPS_PER_STATEMENT]
            params = []
            for row in chunk:
                values = list(values_of(row))
                for index in STEP_MOMENTS:
                    values[index] = adapt(values[index])
                params += values
            cursor.execute(
                f"{INSERT_STEPS} VALUES {', '.join([row_sql] * len(chunk))} "
                f"{STEP_UPSERT} RETURNING id",
                params,
            )
            # RETURNING gives the rows in the order of VALUES, as bulk_create relies on.
            for row, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                row.pk = pk
                row._state.adding = False


def _copy_upsert(rows: list[SyncStep]) -> None:
    """PostgreSQL: every step by COPY into a temporary table, then one upsert,
    which gives each row's pk by its cycle and step id."""
    columns = ", ".join(STEP_COLUMNS)
    definition = ", ".join(
        f"{name} {SyncStep._meta.get_field(name).db_type(connection)}" for name in STEP_COLUMNS
    )
    values_of = attrgetter(*STEP_COLUMNS)
    text = "".join("\t".join(map(copy_text, values_of(row))) + "\n" for row in rows)
    with connection.cursor() as cursor:
        copy_into_temp(cursor, "incoming_steps", definition, columns, text)
        cursor.execute(
            f"{INSERT_STEPS} SELECT {columns} FROM incoming_steps "
            f"{STEP_UPSERT} RETURNING cycle_id, step_id, id"
        )
        pks = {(cycle, step_id): pk for cycle, step_id, pk in cursor.fetchall()}
    for row in rows:
        row.pk = pks[(row.cycle_id, row.step_id)]
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


@dataclass
class MergedSteps:
    """A report's steps merged onto those stored, before they are written."""

    rows: list[SyncStep]
    before: dict[str, grouping.StepBefore]
    tallies_before: dict


def steps_merged(
    cycle: SyncCycle, clean: CleanReport, pending: Pending, created: bool
) -> MergedSteps:
    """The cycle brought up to what the report says of it, and its steps
    merged onto those stored. A cycle this report `created` holds what it
    says already, and no steps."""
    started_changed = cycle.started_at != clean.cycle_started_at
    if not created:
        # What follows may read or move the failures stored.
        pending.write_new_failures()
        cycle.started_at = clean.cycle_started_at
        if clean.cycle_ended_at is not None:
            cycle.ended_at = clean.cycle_ended_at
        cycle.save(update_fields=["started_at", "ended_at"])
    pending.ensure_partition(cycle.started_at)
    if started_changed:
        # Rare (an engine re-dating its cycle; report_apply rebuilds such a
        # cycle), and on PostgreSQL it moves the rows to their new day.
        step_hours.cycle_redated(cycle.pk, cycle.started_at, pending.deltas)
        steps = SyncStep.objects.filter(cycle=cycle)
        FailedRecord.objects.filter(step__in=steps.values("pk")).update(
            cycle_started_at=cycle.started_at
        )
        steps.update(cycle_started_at=cycle.started_at)

    stored = {}
    # The cycle's steps all sit in its start's partition, which naming it
    # spares PostgreSQL looking into every day's (a third of a live engine's
    # second report).
    of_cycle = SyncStep.objects.filter(cycle=cycle, cycle_started_at=cycle.started_at)
    if clean.steps and not created and of_cycle.exists():
        step_ids = [step.step_id for step in clean.steps]
        for start in range(0, len(step_ids), STEPS_PER_STATEMENT):
            chunk = step_ids[start : start + STEPS_PER_STATEMENT]
            for step in of_cycle.filter(step_id__in=chunk):
                stored[step.step_id] = step
    before = {step_id: grouping.StepBefore.of(step) for step_id, step in stored.items()}
    tallies_before = step_hours.tallies_before(stored)
    rows = [merge_step(stored.get(step.step_id), step, cycle) for step in clean.steps]
    step_hours.new_steps_counted(rows, clean.steps, stored)
    for row in rows:
        signature = grouping.job_signature(row)
        row.error_group_id = signature.group_id if signature else None
    return MergedSteps(rows, before, tallies_before)
