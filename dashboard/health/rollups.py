"""The steps of each hour by status, and their failed records (StepHour),
kept current as reports are applied (docs/dashboard.md, Health).

A step counts in the hour (UTC) of its start, under its status, with its
stored failed records (`SyncStep.stored_failures`), and under the day of its
cycle's start, so that the purge drops a whole day of rows as it drops a day
partition. Applying a report takes out what each step it names was and adds
what it is now, in the transaction that writes the steps: a report applied
twice adds nothing the second time, a rebuilt cycle takes out all it had,
and the rows always hold exactly the stored steps. Workers only ever add to
a row's numbers (never write a number they read), in one order of keys, so
that concurrent reports neither lose a count nor deadlock; the rows are
written last, so that their locks are held the least time.
"""

# ruff: noqa: S608 - the f-strings only add placeholders; every value is bound.

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate, TruncHour

from dashboard.models import StepHour, SyncStep

HOUR = timedelta(hours=1)
# Rows per statement: well under SQLite's limit on bound variables.
ROWS_PER_STATEMENT = 200


class Key(NamedTuple):
    cycle_day: date
    hour: datetime
    status: str


class Tally(NamedTuple):
    """What one step adds to its row."""

    key: Key
    failed_records: int


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def tally_of(step: SyncStep) -> Tally:
    key = Key(step.cycle_started_at.astimezone(UTC).date(), hour_of(step.started_at), step.status)
    return Tally(key, step.stored_failures)


class Deltas:
    """Steps and failed records to add to (or take from) each row."""

    def __init__(self):
        self.steps: Counter = Counter()
        self.failed_records: Counter = Counter()

    def add(self, tally: Tally, sign: int = 1) -> None:
        self.steps[tally.key] += sign
        self.failed_records[tally.key] += sign * tally.failed_records

    def write(self) -> None:
        keys = sorted(k for k in self.steps.keys() | self.failed_records.keys() if self._moves(k))
        adapt = connection.ops
        rows = [
            (adapt.adapt_datefield_value(key.cycle_day), adapt.adapt_datetimefield_value(key.hour),
             key.status, self.steps[key], self.failed_records[key])
            for key in keys
        ]  # fmt: skip
        with connection.cursor() as cursor:
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                chunk = rows[start : start + ROWS_PER_STATEMENT]
                values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
                cursor.execute(
                    "INSERT INTO dashboard_stephour (cycle_day, hour, status, steps, "
                    f"failed_records) VALUES {values} "
                    "ON CONFLICT (cycle_day, hour, status) DO UPDATE SET "
                    "steps = dashboard_stephour.steps + excluded.steps, "
                    "failed_records = dashboard_stephour.failed_records + excluded.failed_records",
                    [value for row in chunk for value in row],
                )

    def _moves(self, key: Key) -> bool:
        return bool(self.steps[key] or self.failed_records[key])


# --- Applying a report (dashboard/ingest/reports.py) -----------------------------


def tallies_before(stored: dict[str, SyncStep]) -> dict[str, Tally]:
    """What the stored steps a report names count for, before it changes them."""
    return {step_id: tally_of(step) for step_id, step in stored.items()}


def new_steps_counted(rows: list[SyncStep], reported, stored: dict[str, SyncStep]) -> None:
    """A step new to the database has exactly the failed records its report
    gives (a step names a record once): counted before it is written, so that
    no second statement touches it."""
    for row, step in zip(rows, reported, strict=True):
        if row.step_id not in stored:
            row.stored_failures = len(step.failures)


def report_tallied(
    rows: list[SyncStep], reported, before: dict[str, Tally], deltas: Deltas
) -> None:
    """After a report's steps and failed records are written: count the
    stored steps' failed records again where it gave some, and add to
    `deltas` each step's move from what it was to what it is."""
    recount = [
        row.pk for row, step in zip(rows, reported, strict=True)
        if row.step_id in before and step.failures
    ]  # fmt: skip
    counted = _count_failures(recount, rows[0].cycle_started_at) if recount else {}
    for row in rows:
        if row.pk in counted:
            row.stored_failures = counted[row.pk]
        if row.step_id in before:
            deltas.add(before[row.step_id], -1)
        deltas.add(tally_of(row))


def _count_failures(step_pks: list[int], cycle_started_at: datetime) -> dict[int, int]:
    """Store each step's count of failed records, read from them; return them."""
    counted, started = {}, connection.ops.adapt_datetimefield_value(cycle_started_at)
    with connection.cursor() as cursor:
        for start in range(0, len(step_pks), ROWS_PER_STATEMENT):
            chunk = step_pks[start : start + ROWS_PER_STATEMENT]
            placeholders = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                "UPDATE dashboard_syncstep SET stored_failures = (SELECT count(*) FROM "
                "dashboard_failedrecord f WHERE f.step_id = dashboard_syncstep.id "
                "AND f.cycle_started_at = dashboard_syncstep.cycle_started_at) "
                f"WHERE cycle_started_at = %s AND id IN ({placeholders}) "
                "RETURNING id, stored_failures",
                [started, *chunk],
            )
            counted.update(cursor.fetchall())
    return counted


def cycle_steps_leaving(cycle_pk: int, deltas: Deltas) -> None:
    """A cycle's steps are about to be deleted (its rebuild): take them out."""
    for step in _cycle_steps(cycle_pk):
        deltas.add(tally_of(step), -1)


def cycle_redated(cycle_pk: int, started_at: datetime, deltas: Deltas) -> None:
    """A cycle's steps are about to move to its new start: to its new day too."""
    day = started_at.astimezone(UTC).date()
    for step in _cycle_steps(cycle_pk):
        tally = tally_of(step)
        deltas.add(tally, -1)
        deltas.add(Tally(tally.key._replace(cycle_day=day), tally.failed_records))


def _cycle_steps(cycle_pk: int) -> Iterable[SyncStep]:
    return SyncStep.objects.filter(cycle_id=cycle_pk).only(
        "cycle_started_at", "started_at", "status", "stored_failures"
    )


# --- Leaving the window (dashboard/storage/retention.py) -------------------------


def steps_expire(*, cutoff: datetime) -> int:
    """Delete the steps of the cycles that started before `cutoff`, and take
    them out of the rows; return how many went. The days before the cutoff's
    go whole (their partitions are dropped already on PostgreSQL); the steps
    of the cutoff's own day are taken out as they are deleted, so that a
    report applied meanwhile is either deleted and taken out, or neither."""
    day = cutoff.astimezone(UTC).date()
    day_start = datetime.combine(day, time(), tzinfo=UTC)
    adapt = connection.ops.adapt_datetimefield_value
    deltas = Deltas()
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM dashboard_syncstep WHERE cycle_started_at >= %s "
            "AND cycle_started_at < %s RETURNING started_at, status, stored_failures",
            [adapt(day_start), adapt(cutoff)],
        )
        rows = cursor.fetchall()
        for started_at, status, failures in rows:
            if isinstance(started_at, str):  # SQLite returns the raw text
                started_at = datetime.fromisoformat(started_at)
            if started_at.tzinfo is None:
                started_at = started_at.replace(tzinfo=UTC)
            deltas.add(Tally(Key(day, hour_of(started_at), status), failures), -1)
        cursor.execute(
            "DELETE FROM dashboard_syncstep WHERE cycle_started_at < %s", [adapt(day_start)]
        )
        older = cursor.rowcount
    StepHour.objects.filter(cycle_day__lt=day).delete()
    deltas.write()
    return len(rows) + max(older, 0)


# --- Counting what is stored -------------------------------------------------------


def step_hours_rebuild() -> int:
    """Count every stored step's failed records and every row again from the
    steps: for a database written before these rollups (migration 0007), or
    by COPY (`make bench`). Returns how many rows there are."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE dashboard_syncstep SET stored_failures = 0 WHERE stored_failures <> 0"
        )
        cursor.execute(
            "UPDATE dashboard_syncstep SET stored_failures = counted.n FROM (SELECT step_id, "
            "cycle_started_at, count(*) AS n FROM dashboard_failedrecord "
            "GROUP BY step_id, cycle_started_at) AS counted "
            "WHERE dashboard_syncstep.id = counted.step_id "
            "AND dashboard_syncstep.cycle_started_at = counted.cycle_started_at"
        )
    StepHour.objects.all().delete()
    rows = (
        SyncStep.objects.annotate(
            day=TruncDate("cycle_started_at", tzinfo=UTC), at=TruncHour("started_at", tzinfo=UTC)
        )
        .values("day", "at", "status")
        .annotate(n=Count("id"), failures=Sum("stored_failures"))
        .order_by()
    )
    StepHour.objects.bulk_create(
        [
            StepHour(cycle_day=row["day"], hour=row["at"], status=row["status"],
                     steps=row["n"], failed_records=row["failures"])
            for row in rows
        ],
        batch_size=500,
    )  # fmt: skip
    return StepHour.objects.count()
