"""Day partitions on PostgreSQL (dashboard/storage/partitions.py); on SQLite, the same
behaviour through plain tables. Each test holds on both."""

import io
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from dashboard.models import FailedRecord, SyncCycle, SyncStep
from dashboard.storage import partitions
from tests.conftest import age_cycle, make_report, make_step, recent

pytestmark = pytest.mark.django_db(transaction=True)
ON_POSTGRESQL = connection.vendor == "postgresql"


def partition_exists(table: str, day) -> bool:
    if not ON_POSTGRESQL:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [partitions.partition_name(table, day)])
        return cursor.fetchone()[0] is not None


def test_steps_and_failed_records_are_partitioned_by_day_on_postgresql():
    with connection.cursor() as cursor:
        if ON_POSTGRESQL:
            cursor.execute(
                "SELECT relname FROM pg_partitioned_table JOIN pg_class ON oid = partrelid "
                "ORDER BY relname"
            )
            assert [row[0] for row in cursor.fetchall()] == list(
                sorted(partitions.PARTITIONED_TABLES)
            )
        else:
            assert not partitions.enabled()


def test_the_window_and_the_next_days_have_partitions_after_migrate():
    today = datetime.now(UTC).date()
    for offset in range(-5, partitions.DAYS_AHEAD + 1):
        for table in partitions.PARTITIONED_TABLES:
            assert partition_exists(table, today + timedelta(days=offset)) == ON_POSTGRESQL


def test_ingestion_makes_the_partition_of_its_day_when_it_is_missing(ingest):
    # As when the daily maintenance has not run for a while.
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=23)
    if ON_POSTGRESQL:
        with connection.cursor() as cursor:
            for table in partitions.PARTITIONED_TABLES:
                cursor.execute(
                    f"DROP TABLE IF EXISTS {partitions.partition_name(table, soon.date())}"
                )
    assert not partition_exists("dashboard_failedrecord", soon.date())

    failures = [{"record_id": "r1", "message": "m"}]
    ingest(make_report(make_step(started_at=soon, failures=failures), started_at=soon))

    assert SyncStep.objects.get().cycle_started_at == soon
    assert FailedRecord.objects.get().cycle_started_at == soon
    assert partition_exists("dashboard_failedrecord", soon.date()) == ON_POSTGRESQL


def an_old_and_a_young_cycle(ingest):
    failures = [{"record_id": f"r{n}", "message": "m"} for n in range(4)]
    ingest(
        make_report(
            make_step("a", failures=failures), make_step("b"), cycle_id="old", started_at=recent(60)
        ),
        make_report(make_step("a", failures=failures), cycle_id="young", started_at=recent(30)),
    )
    age_cycle("old", timedelta(days=7))
    return SyncCycle.objects.get(external_id="old").started_at.astimezone(UTC).date()


def test_the_purge_drops_whole_expired_days_and_counts_their_rows(ingest):
    old_day = an_old_and_a_young_cycle(ingest)

    out = io.StringIO()
    call_command("purge_expired", stdout=out)

    assert out.getvalue().startswith("Done! Purged 1 cycles, 2 steps, 4 failed records")
    assert list(SyncStep.objects.values_list("cycle__external_id", flat=True)) == ["young"]
    assert FailedRecord.objects.count() == 4
    assert not partition_exists("dashboard_syncstep", old_day)
    assert not partition_exists("dashboard_failedrecord", old_day)


def test_a_cycle_moved_to_another_day_takes_its_steps_and_failures_along(ingest):
    started = recent(60)
    failures = [{"record_id": "r1", "message": "m"}]
    ingest(
        make_report(
            make_step(started_at=started, failures=failures), cycle_id="c", started_at=started
        )
    )
    earlier = started - timedelta(days=2)
    ingest(make_report(cycle_id="c", started_at=earlier))
    assert SyncStep.objects.get().cycle_started_at == earlier
    assert FailedRecord.objects.get().cycle_started_at == earlier
    assert FailedRecord.objects.get().step.step_id == "lead.pull_updates"


@pytest.mark.skipif(not ON_POSTGRESQL, reason="SQLite has no partitions to detach")
def test_a_purge_killed_between_detach_and_drop_is_finished_by_the_next(ingest):
    old_day = an_old_and_a_young_cycle(ingest)
    # What a purge killed after its detach leaves: the old day's tables, attached to nothing.
    with connection.cursor() as cursor:
        for table in partitions.PARTITIONED_TABLES:
            name = partitions.partition_name(table, old_day)
            cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {name} CONCURRENTLY")

    out = io.StringIO()
    call_command("purge_expired", stdout=out)

    assert out.getvalue().startswith("Done! Purged 1 cycles, 2 steps, 4 failed records")
    assert not partition_exists("dashboard_syncstep", old_day)
    assert not partition_exists("dashboard_failedrecord", old_day)
    assert FailedRecord.objects.count() == 4


@pytest.mark.skipif(not ON_POSTGRESQL, reason="SQLite has no partitions to drop")
def test_the_purge_never_makes_a_reader_of_the_cycles_wait_behind_a_long_query(ingest):
    an_old_and_a_young_cycle(ingest)
    reading, done = threading.Event(), threading.Event()

    def long_query():
        # An export, say: the cycles read in a transaction that lasts a while.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM dashboard_synccycle")
            reading.set()
            time.sleep(1)
        connection.close()

    def purge():
        try:
            call_command("purge_expired", stdout=io.StringIO())
        finally:
            done.set()
            connection.close()

    threads = [threading.Thread(target=long_query), threading.Thread(target=purge)]
    threads[0].start()
    reading.wait()
    threads[1].start()
    slowest = 0.0
    while not done.is_set():
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM dashboard_synccycle")
        slowest = max(slowest, time.perf_counter() - start)
        time.sleep(0.01)
    for thread in threads:
        thread.join()

    assert slowest < 0.5
    assert list(SyncStep.objects.values_list("cycle__external_id", flat=True)) == ["young"]
