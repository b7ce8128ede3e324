"""Day partitions of steps and failed records on PostgreSQL (docs/architecture.md, Retention).

Both tables are partitioned by their cycle's start, one partition per UTC
day, so that the purge detaches and drops whole expired days: its cost does
not grow with the rows that stay, and it never takes a lock that stalls the
dashboard or ingestion. Partitions are created ahead of time by the hourly
purge and after migrate, and on demand by ingestion for an unusual day.
On SQLite (the embedded mode) every function here does nothing.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from time import sleep

from django.conf import settings
from django.db import OperationalError, connection, transaction

log = logging.getLogger(__name__)

# Failed records first: the purge drops them before the steps they belong to.
PARTITIONED_TABLES = ("dashboard_failedrecord", "dashboard_syncstep")
# Days created ahead of the current one by the hourly job.
DAYS_AHEAD = 3
# A lock that the dashboard's reads queue behind is waited for this long at
# most, then asked again a little later, LOCK_TRIES times before waiting.
LOCK_TIMEOUT_MS = 50
LOCK_TRIES = 20
LOCK_NOT_AVAILABLE = "55P03"


def enabled() -> bool:
    return connection.vendor == "postgresql"


def partition_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def ensure_partitions(days: Iterable[date]) -> list[str]:
    """Create the missing day partitions of both tables; return their names.

    A partition is created as a plain table and then attached, which locks the
    parent only in SHARE UPDATE EXCLUSIVE mode: reads and writes go on.
    """
    if not enabled():
        return []
    created = []
    with transaction.atomic(), connection.cursor() as cursor:
        # One creator at a time, so that two workers never race on one name.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('dashboard.storage.partitions'))")
        for day in sorted(set(days)):
            low = datetime.combine(day, time(), tzinfo=UTC)
            high = low + timedelta(days=1)
            for table in PARTITIONED_TABLES:
                name = partition_name(table, day)
                cursor.execute("SELECT to_regclass(%s)", [name])
                if cursor.fetchone()[0] is not None:
                    continue
                cursor.execute(
                    f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
                )
                cursor.execute(
                    f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)",
                    [low, high],
                )
                created.append(name)
    if created:
        log.info("partitions created names=%s", ",".join(created))
    return created


def ensure_partition_for(moment: datetime) -> None:
    """Make sure rows of a cycle that started at `moment` have a partition."""
    if not enabled():
        return
    day = day_of(moment)
    # One cheap lookup per report rather than a cache: a creation rolled back
    # with its transaction must not be remembered as done.
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [partition_name(PARTITIONED_TABLES[-1], day)])
        if cursor.fetchone()[0] is not None:
            return
    ensure_partitions([day])


def ensure_upcoming_partitions(now: datetime | None = None) -> list[str]:
    """The partitions of the retention window and of the next few days."""
    now = now or datetime.now(UTC)
    today = day_of(now)
    # From the day the retention window starts in: an earlier one would be
    # dropped by the next purge, and made again by this call.
    first = day_of(now - timedelta(days=settings.SYNC_STATUS_RETENTION_DAYS))
    return ensure_partitions(
        first + timedelta(days=n) for n in range((today - first).days + DAYS_AHEAD + 1)
    )


@dataclass(frozen=True)
class DroppedRows:
    failed_records: int = 0
    steps: int = 0


def drop_partitions_before(cutoff: datetime) -> DroppedRows:
    """Detach and drop every day partition that ends at or before `cutoff`,
    and any such day's table that an interrupted purge left detached.

    DETACH ... CONCURRENTLY takes no lock that blocks reads or writes of the
    parent; it only waits for queries that may still see the partition. It
    cannot run inside a transaction, so this runs in autocommit. A detached
    day of steps keeps its foreign key to the cycles, and dropping it would
    hold the cycles ACCESS EXCLUSIVE, which every page reads, for as long as
    the drop takes: the key goes first, in a transaction of its own that
    waits a moment at most. The tables then go in one statement.
    """
    if not enabled():
        return DroppedRows()
    if connection.in_atomic_block:
        raise RuntimeError("Partitions are detached concurrently, outside any transaction.")
    with connection.cursor() as cursor:
        attached = [
            (table, name, pending)
            for table in PARTITIONED_TABLES
            for name, day, pending in _partitions(cursor, table)
            if _end_of(day) <= cutoff
        ]
        # Left by a purge killed between its detach and its drop.
        detached = [
            (table, name)
            for table in PARTITIONED_TABLES
            for name, day in _detached(cursor, table)
            if _end_of(day) <= cutoff
        ]
        expired = [(table, name) for table, name, _ in attached] + detached
        if not expired:
            return DroppedRows()
        counts = _count_rows(cursor, expired)
        for table, name, pending in attached:
            # A detach interrupted earlier is finished, not restarted.
            mode = "FINALIZE" if pending else "CONCURRENTLY"
            cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {name} {mode}")
        names = [name for _, name in expired]
        for name in names:
            _drop_foreign_keys(cursor, name)
        # One statement: one commit, and one pass over shared buffers, for all.
        cursor.execute(f"DROP TABLE {', '.join(names)}")
    log.info("partitions dropped names=%s", ",".join(names))
    return DroppedRows(
        failed_records=counts["dashboard_failedrecord"], steps=counts["dashboard_syncstep"]
    )


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def _count_rows(cursor, tables: list[tuple[str, str]]) -> dict[str, int]:
    """Rows of each day table, one statement for all, summed by parent."""
    # The names come from the catalogue, never from input.
    cursor.execute(
        "SELECT " + ", ".join(f"(SELECT count(*) FROM {name})" for _, name in tables)  # noqa: S608
    )
    counts = {table: 0 for table in PARTITIONED_TABLES}
    for (table, _), rows in zip(tables, cursor.fetchone(), strict=True):
        counts[table] += rows
    return counts


def _drop_foreign_keys(cursor, name: str) -> None:
    cursor.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        [name],
    )
    for (constraint,) in cursor.fetchall():
        _without_stalling(cursor, f'ALTER TABLE {name} DROP CONSTRAINT "{constraint}"')


def _without_stalling(cursor, statement: str) -> None:
    """Run a statement that takes a lock the dashboard's queries queue behind:
    it gives up after LOCK_TIMEOUT_MS and tries again a little later, so that a
    page waits that long at most. If readers hold the table all along (a
    long export), it waits as any statement would."""
    for attempt in range(LOCK_TRIES):
        try:
            with transaction.atomic():
                cursor.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
                cursor.execute(statement)
            return
        except OperationalError as error:
            if getattr(error.__cause__, "pgcode", None) != LOCK_NOT_AVAILABLE:
                raise
            sleep(LOCK_TIMEOUT_MS / 1000 * (attempt + 1))
    log.warning("waiting for a lock statement=%s", statement)
    cursor.execute(statement)


def _partitions(cursor, table: str) -> list[tuple[str, date, bool]]:
    cursor.execute(
        """
        SELECT child.relname, inh.inhdetachpending
        FROM pg_inherits inh
        JOIN pg_class child ON child.oid = inh.inhrelid
        WHERE inh.inhparent = %s::regclass
        ORDER BY child.relname
        """,
        [table],
    )
    return [
        (name, day, pending)
        for name, pending in cursor.fetchall()
        if (day := _day_in(table, name)) is not None
    ]


def _detached(cursor, table: str) -> list[tuple[str, date]]:
    """Plain tables named as a day partition of `table`, attached to nothing."""
    cursor.execute(
        """
        SELECT relname FROM pg_class
        WHERE relkind = 'r' AND NOT relispartition AND starts_with(relname, %s)
        AND relnamespace = current_schema()::regnamespace
        ORDER BY relname
        """,
        [f"{table}_p"],
    )
    return [
        (name, day) for (name,) in cursor.fetchall() if (day := _day_in(table, name)) is not None
    ]


def _day_in(table: str, name: str) -> date | None:
    prefix = f"{table}_p"
    if not name.startswith(prefix):
        return None
    try:
        return datetime.strptime(name[len(prefix) :], "%Y%m%d").date()
    except ValueError:
        return None
