"""The health measurements: GET /api/v1/health/ against the same figures
computed by aggregate queries over the raw steps, in the same run."""

import statistics
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from dashboard.health.rollups import step_hours_rebuild
from devtools.bench.suite import Results, admin_client, get, percentile, timed_side_by_side

API = "/api/v1/health/"


def count_rollups() -> None:
    """The generator writes steps by COPY: count their hourly rollups from
    them, as applying their reports one by one would have."""
    step_hours_rebuild()


def raw_figures() -> list:
    """The baseline: the same windows, stuck steps and 4-hour chart, each
    counted straight from the steps and failed records by aggregate queries."""
    now = timezone.now()
    last, previous = now - timedelta(hours=24), now - timedelta(hours=48)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE started_at >= %s), "
            "count(*) FILTER (WHERE started_at < %s) FROM dashboard_synccycle "
            "WHERE started_at >= %s AND started_at < %s",
            [last, last, previous, now],
        )
        cycles = cursor.fetchone()
        cursor.execute(
            "SELECT s.started_at >= %s AS recent, count(*), "
            "count(*) FILTER (WHERE s.status IN ('failed', 'incomplete', 'cleaned_up')), "
            "sum((SELECT count(*) FROM dashboard_failedrecord f WHERE f.step_id = s.id "
            "AND f.cycle_started_at = s.cycle_started_at)) "
            "FROM dashboard_syncstep s WHERE s.started_at >= %s AND s.started_at < %s GROUP BY 1",
            [last, previous, now],
        )
        windows = cursor.fetchall()
        cursor.execute(
            "SELECT date_bin('4 hours', started_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), "
            "status, count(*) FROM dashboard_syncstep GROUP BY 1, 2"
        )
        chart = cursor.fetchall()
        cursor.execute(
            "SELECT date_bin('4 hours', step_started_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), "
            "count(*) FROM dashboard_failedrecord GROUP BY 1"
        )
        records = cursor.fetchall()
        cursor.execute(
            "SELECT s.step_id, c.external_id FROM dashboard_syncstep s JOIN dashboard_synccycle c "
            "ON c.id = s.cycle_id WHERE s.status = 'in_process' AND s.started_at < %s",
            [now - timedelta(hours=1)],
        )
        stuck = cursor.fetchall()
    return [cycles, windows, chart, records, stuck]


def measure_health(results: Results, runs: int) -> None:
    client = admin_client()
    ours, raw = timed_side_by_side(lambda: get(client, API), raw_figures, runs)
    p95, ratio = percentile(ours, 0.95), statistics.median(raw) / statistics.median(ours)
    results.add(
        "/api/v1/health/: server time p50 / p95",
        f"{statistics.median(ours):.1f} / {p95:.1f} ms",
        f"aggregates over the raw steps {statistics.median(raw):.1f} / "
        f"{percentile(raw, 0.95):.1f} ms",
        f"{ratio:.1f}x faster",
        "p95 < 20 ms, >= 20x",
        p95 < 20 and ratio >= 20,
    )
