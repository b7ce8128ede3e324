"""The export measurements: rows/s against psql, memory, first byte."""

import os
import subprocess
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection

from dashboard.models import FailedRecord
from dashboard.steps.filters import SyncStepFilter
from dashboard.steps.selectors import visible_steps
from devtools.bench.suite import (
    EXPORT,
    Results,
    _status_kib,
    admin_client,
    in_child,
)


def _export_in_child(query: str) -> dict:
    """Runs in a forked process, as a web worker would: measures its own peak RSS."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets VmHWM, the peak RSS
    rss_before = _status_kib("VmRSS")
    client = admin_client()
    start = time.perf_counter()
    response = client.get(EXPORT + query, secure=True)
    first_byte, lines = None, 0
    for chunk in response.streaming_content:
        if first_byte is None:
            first_byte = time.perf_counter() - start
        lines += chunk.count(b"\n")
    elapsed = time.perf_counter() - start
    return {"rows": lines - 1, "seconds": elapsed, "first_byte": first_byte,
            "peak_growth_mib": (_status_kib("VmHWM") - rss_before) / 1024}  # fmt: skip


def _first_byte_in_child(query: str) -> float:
    """Seconds until the first rows of an export reach its reader (the header
    leaves at once: wait for the second chunk)."""
    client = admin_client()
    start = time.perf_counter()
    response = client.get(EXPORT + query, secure=True)
    chunks = iter(response.streaming_content)
    next(chunks)
    next(chunks, None)
    elapsed = time.perf_counter() - start
    response.close()
    return {"first_byte": elapsed}


FIRST_BYTE_FILTERS = [
    "",
    "?sort=start",
    "?sort=-end",
    "?sort=end",
    "?status=incomplete",
    "?object_type=opportunity&object_type=lead",
    "?operation=pull_updates&status=incomplete&sort=end",
]


def run_export(query: str) -> dict:
    return in_child(_export_in_child, query)


def window_with_rows(rows: int) -> str:
    """A `since` that puts about `rows` failed records in the export."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT cycle_started_at FROM dashboard_failedrecord ORDER BY cycle_started_at DESC "
            "OFFSET %s LIMIT 1",
            [rows],
        )
        found = cursor.fetchone()
    if not found:
        return ""
    return f"?since={found[0].astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z&sort=start"


def measure_export(results: Results, rows: int) -> None:
    small = run_export(window_with_rows(10_000))
    large = run_export(window_with_rows(rows))
    rate = large["rows"] / large["seconds"]
    psql_rate = psql_copy_rate(window_with_rows(rows))
    results.add(
        f"export, {large['rows']:,} failed records: rows/s, share of psql's COPY of its query",
        f"{rate:,.0f}",
        f"psql \\copy {psql_rate:,.0f}",
        f"{rate / psql_rate:.2f}",
        "≥ 1/3",
        rate >= psql_rate / 3,
    )
    growth = large["peak_growth_mib"] - small["peak_growth_mib"]
    results.add(
        "export: peak RSS growth, 10k → " + f"{large['rows']:,} rows",
        f"{small['peak_growth_mib']:.1f} → {large['peak_growth_mib']:.1f} MiB",
        "",
        f"+{growth:.1f} MiB",
        "< 50 MB",
        growth < 50,
    )
    since = (datetime.now(UTC) - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M")
    filters = [*FIRST_BYTE_FILTERS, f"?since={since}Z&status=incomplete&sort=-end"]
    first_bytes = {query: in_child(_first_byte_in_child, query)["first_byte"] for query in filters}
    slowest = max(first_bytes, key=first_bytes.get)
    results.add(
        f"export: first rows, slowest of {len(filters)} filters ({slowest or 'none'})",
        f"{first_bytes[slowest] * 1000:.0f} ms",
        f"no filter {first_bytes[''] * 1000:.0f} ms",
        "",
        "< 200 ms",
        first_bytes[slowest] < 0.2,
    )
    mixin = export_mixin_rate(50_000)
    results.add(
        "export vs django-tables2 ExportMixin (50k rows)",
        f"{rate:,.0f} rows/s",
        f"ExportMixin {mixin['rate']:,.0f} rows/s, +{mixin['growth_mib']:.0f} MiB",
        f"{rate / mixin['rate']:.1f}x faster",
        "",
    )


def psql_copy_rate(query: str) -> float:
    """The physical limit: psql running the export's own COPY query to CSV,
    with the export's own settings."""
    from django.http import QueryDict

    from dashboard.steps.export import EXPORT_SETTINGS, copy_sql

    filterset = SyncStepFilter(QueryDict(query.lstrip("?")), queryset=visible_steps())
    assert filterset.is_valid(), filterset.errors
    with connection.cursor() as cursor:
        statement = copy_sql(
            filterset.qs, filterset.sort_order, lambda q, p: cursor.mogrify(q, p).decode()
        )
    # COPY (query) TO STDOUT ... as psql's client-side \copy, on one line.
    inner = statement[len("COPY (") : statement.rindex(") TO STDOUT")]
    copy = "\\copy (" + " ".join(inner.split()) + ") to stdout with csv"
    db = settings.DATABASES["default"]
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    same = EXPORT_SETTINGS.replace("LOCAL ", "")
    command = ["psql", "-X", "-q", "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432),
               "-U", db["USER"], "-d", db["NAME"], "-c", same, "-c", copy]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, check=True)
    elapsed = time.perf_counter() - start
    return done.stdout.count(b"\n") / elapsed


def _mixin_in_child(rows: int) -> dict:
    import django_tables2 as tables
    from django_tables2.export import TableExport

    class FailedRecordTable(tables.Table):
        started_at = tables.Column(accessor="step__started_at")
        ended_at = tables.Column(accessor="step__ended_at")
        object_type = tables.Column(accessor="step__object_type")
        operation = tables.Column(accessor="step__operation")
        object_name = tables.Column(accessor="step__object_name")
        status = tables.Column(accessor="step__status")
        cycle_id = tables.Column(accessor="step__cycle__external_id")
        step_id = tables.Column(accessor="step__step_id")
        record_id = tables.Column()
        marketo_id = tables.Column()
        error_code = tables.Column()
        field = tables.Column()
        message = tables.Column()

    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    rss_before = _status_kib("VmRSS")
    records = FailedRecord.objects.select_related("step__cycle").order_by("pk")[:rows]
    start = time.perf_counter()
    text = TableExport("csv", FailedRecordTable(records)).export()
    elapsed = time.perf_counter() - start
    return {"rate": text.count("\n") / elapsed,
            "growth_mib": (_status_kib("VmHWM") - rss_before) / 1024}  # fmt: skip


def export_mixin_rate(rows: int) -> dict:
    return in_child(_mixin_in_child, rows)
