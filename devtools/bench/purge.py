"""The purge measurement: an expired day dropped while the page is read."""

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection

from dashboard.storage import partitions
from dashboard.storage.retention import purge_expired
from devtools.bench.generate import generate
from devtools.bench.suite import (
    PAGE,
    Results,
    admin_client,
    get,
)


def measure_purge(results: Results, failures_per_day: int, steps_per_day: int) -> None:
    client_latencies: list[float] = []

    def expired_day(seed: int, prefix: str):
        end = datetime.now(UTC) - timedelta(days=settings.SYNC_STATUS_RETENTION_DAYS + 2)
        partitions.ensure_partitions([(end - timedelta(days=1)).date(), end.date()])
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT max(id) FROM dashboard_synccycle), "
                "(SELECT max(id) FROM dashboard_syncstep), "
                "(SELECT max(id) FROM dashboard_failedrecord)"
            )
            ids = tuple((value or 0) + 1 for value in cursor.fetchone())
        generate(steps=steps_per_day, failures=failures_per_day, days=1, seed=seed, end=end,
                 first_ids=ids, cycle_prefix=prefix)  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    def while_reading(action: Callable[[], object]) -> tuple[float, float]:
        """Run `action` while another connection reads the page in a loop;
        return the action's seconds and the slowest page meanwhile (ms)."""
        stop = threading.Event()
        client_latencies.clear()

        def read():
            client = admin_client()
            while not stop.is_set():
                start = time.perf_counter()
                get(client, PAGE)
                client_latencies.append((time.perf_counter() - start) * 1000)
            connection.close()

        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.5)
        start = time.perf_counter()
        action()
        elapsed = time.perf_counter() - start
        time.sleep(0.2)
        stop.set()
        reader.join()
        return elapsed, max(client_latencies)

    expired_day(7, "expired-a")
    purge_seconds, purge_worst = while_reading(purge_expired)
    groups_kept_exact()

    expired_day(8, "expired-b")
    cutoff = datetime.now(UTC) - timedelta(days=settings.SYNC_STATUS_RETENTION_DAYS)

    def plain_delete():
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM dashboard_failedrecord WHERE cycle_started_at < %s", [cutoff]
            )
            cursor.execute("DELETE FROM dashboard_syncstep WHERE cycle_started_at < %s", [cutoff])
            cursor.execute("DELETE FROM dashboard_synccycle WHERE started_at < %s", [cutoff])

    delete_seconds, delete_worst = while_reading(plain_delete)
    results.add(
        f"purge of one expired day ({failures_per_day:,} failed records, error groups "
        "kept exact): time",
        f"{purge_seconds:.2f} s",
        f"plain DELETE {delete_seconds:.2f} s",
        f"{delete_seconds / purge_seconds:.1f}x faster",
        "< 1 s",
        purge_seconds < 1,
    )
    results.add(
        "purge: slowest page served meanwhile",
        f"{purge_worst:.0f} ms",
        f"during DELETE {delete_worst:.0f} ms",
        "",
        "no stall (< 200 ms)",
        purge_worst < 200,
    )


def groups_kept_exact() -> None:
    """After the purge, the groups hold exactly the failures left in the window."""
    from dashboard.storage.retention import retention_cutoff

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT COALESCE(sum(failures), 0) FROM dashboard_errorgroup), "
            "(SELECT count(*) FROM dashboard_failedrecord WHERE cycle_started_at >= %s) + "
            "(SELECT count(*) FROM dashboard_syncstep WHERE cycle_started_at >= %s "
            "AND error_group_id IS NOT NULL)",
            [retention_cutoff()] * 2,
        )
        grouped, stored = cursor.fetchone()
    if grouped != stored:
        raise RuntimeError(f"after the purge the groups hold {grouped} failures, not {stored}")
