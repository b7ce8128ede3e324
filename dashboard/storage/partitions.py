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

from django.conf import settings
from django.db import connection, transaction

log = logging.getLogger(__name__)

# Failed records first: the purge drops them before the steps they belong to.
PARTITIONED_TABLES = ("dashboard_failedrecord", "dashboard_syncstep")
# Days created ahead of the current one by the hourly job.
DAYS_AHEAD = 3


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
    """Detach and drop every day partition that ends at or before `cutoff`.

    DETACH ... CONCURRENTLY takes no lock that blocks reads or writes of the
    parent; it only waits for queries that may still see the partition. It
    cannot run inside a transaction, so this runs in autocommit.
    """
    if not enabled():
        return DroppedRows()
    if connection.in_atomic_block:
        raise RuntimeError("Partitions are detached concurrently, outside any transaction.")
    counts = {table: 0 for table in PARTITIONED_TABLES}
    with connection.cursor() as cursor:
        for table in PARTITIONED_TABLES:
            for name, day, pending in _partitions(cursor, table):
                if datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC) > cutoff:
                    continue
                # The name comes from pg_inherits, never from input.
                cursor.execute(f"SELECT count(*) FROM {name}")  # noqa: S608
                counts[table] += cursor.fetchone()[0]
                # A detach interrupted earlier is finished, not restarted.
                mode = "FINALIZE" if pending else "CONCURRENTLY"
                cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {name} {mode}")
                cursor.execute(f"DROP TABLE {name}")
                log.info("partition dropped name=%s", name)
    return DroppedRows(
        failed_records=counts["dashboard_failedrecord"], steps=counts["dashboard_syncstep"]
    )


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
    prefix = f"{table}_p"
    return [
        (name, datetime.strptime(name[len(prefix) :], "%Y%m%d").date(), pending)
        for name, pending in cursor.fetchall()
        if name.startswith(prefix)
    ]
