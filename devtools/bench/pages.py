"""The page measurements: server time of the pages, against baselines of the same run."""

import statistics
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from devtools.bench.suite import (
    ADMIN,
    PAGE,
    Results,
    admin_client,
    get,
    percentile,
    timed_side_by_side,
)


def measure_page(results: Results, runs: int) -> None:
    client = admin_client()
    since = (datetime.now(UTC) - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M")
    cases = [
        ("first page", "", ""),
        ("24 h + object + status", f"?since={since}Z&object_type=lead&status=incomplete",
         "?object_type__exact=lead&status__exact=incomplete"),
        ("page 50", "?page=50", "?p=50"),
    ]  # fmt: skip
    for name, ours_query, admin_query in cases:
        ours, admin = timed_side_by_side(
            lambda q=ours_query: get(client, PAGE + q),
            lambda q=admin_query: get(client, ADMIN + q),
            runs,
        )
        p95 = percentile(ours, 0.95)
        ratio = statistics.median(admin) / statistics.median(ours)
        results.add(
            f"page, {name}: server time p50 / p95",
            f"{statistics.median(ours):.1f} / {p95:.1f} ms",
            f"admin changelist {statistics.median(admin):.1f} / {percentile(admin, 0.95):.1f} ms",
            f"{ratio:.1f}x faster",
            "p95 < 50 ms",
            p95 < 50,
        )
        results.notes.append(
            f"Plan of the page query, {name}:\n\n```\n{explain(client, PAGE + ours_query)}\n```"
        )


def explain(client: Client, url: str) -> str:
    """The plan of the query that reads the page's rows: the one of the
    steps that ends in the page's LIMIT (the health strip reads steps too)."""
    with CaptureQueriesContext(connection) as queries:
        get(client, url)
    sql = next(
        q["sql"]
        for q in queries.captured_queries
        if 'FROM "dashboard_syncstep"' in q["sql"] and " LIMIT " in q["sql"]
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())
