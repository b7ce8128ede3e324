"""The measurements of docs/performance.md, each against a baseline measured in
the same run on the same data. Timings live here, never in the test suite."""

import json
import multiprocessing
import os
import platform
import shlex
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from dashboard.models import FailedRecord, ReceivedReport
from dashboard.steps.filters import SyncStepFilter
from dashboard.steps.selectors import visible_steps
from dashboard.storage import partitions
from dashboard.storage.retention import purge_expired
from dashboard.tasks import apply_report
from devtools.bench.generate import generate

PAGE = "/integration/salesforce/sync-status/"
EXPORT = "/integration/salesforce/sync-status/export.csv"
ADMIN = "/admin/dashboard/syncstep/"


@dataclass
class Row:
    measure: str
    ours: str
    baseline: str
    ratio: str
    target: str
    met: bool | None = None


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args, **kwargs):
        self.rows.append(Row(*args, **kwargs))

    def table(self) -> str:
        lines = [
            "| measure | ours | baseline | ratio | target | met |",
            "|---|---|---|---|---|---|",
        ]
        for row in self.rows:
            met = "—" if row.met is None else ("yes" if row.met else "**no**")
            cells = [row.measure, row.ours, row.baseline, row.ratio, row.target, met]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def timed(fn: Callable, runs: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def timed_side_by_side(
    ours: Callable, baseline: Callable, runs: int, baseline_every: int = 3
) -> tuple[list[float], list[float]]:
    """Both timed in turns rather than one after the other, so that a slower
    minute of a shared machine weighs on both sides of the ratio alike."""
    ours_times, baseline_times = [], []
    for fn in (ours, baseline):
        timed(fn, runs=0)  # its warm-up requests only
    for run in range(runs):
        ours_times += timed(ours, 1, warmup=0)
        if run % baseline_every == 0:
            baseline_times += timed(baseline, 1, warmup=0)
    return ours_times, baseline_times


def rerun_command(target: str, variable: str) -> str:
    """How to run this again from the Makefile, with the arguments of this run."""
    arguments = shlex.join(sys.argv[2:])
    return f"make {target}" + (f' {variable}="{arguments}"' if arguments else "")


def machine() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}, "
        f"PostgreSQL {version}"
    )


def admin_client() -> Client:
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    return client


def get(client: Client, url: str, expect: int = 200):
    response = client.get(url, secure=True)
    if response.status_code != expect:
        raise RuntimeError(f"{url} answered {response.status_code}")
    if response.streaming:
        for _ in response.streaming_content:
            pass
    return response


# --- 1. the page -------------------------------------------------------------


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
            "",
            "p95 < 50 ms",
            p95 < 50,
        )
        results.add(f"page, {name}: against the admin (p50)", "", "", f"{ratio:.1f}x faster",
                    "≥ 20x", ratio >= 20)  # fmt: skip
        results.notes.append(
            f"Plan of the page query, {name}:\n\n```\n{explain(client, PAGE + ours_query)}\n```"
        )


def explain(client: Client, url: str) -> str:
    with CaptureQueriesContext(connection) as queries:
        get(client, url)
    sql = next(
        q["sql"] for q in queries.captured_queries if 'FROM "dashboard_syncstep"' in q["sql"]
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


# --- 2. the export -----------------------------------------------------------


def in_child(function: Callable[..., dict], *args) -> dict:
    """Run `function` in a forked process (a web worker of its own, whose peak
    memory is its own) and return its result; its failure fails the run."""
    connections.close_all()  # never share a database connection with the child
    receiver, sender = multiprocessing.Pipe(duplex=False)

    def run():
        try:
            sender.send(("ok", function(*args)))
        except BaseException:
            sender.send(("error", traceback.format_exc()))

    child = multiprocessing.get_context("fork").Process(target=run)
    child.start()
    while not receiver.poll(1):
        if not child.is_alive():
            raise RuntimeError(f"the measuring process died (exit code {child.exitcode})")
    outcome, value = receiver.recv()
    child.join()
    if outcome == "error":
        raise RuntimeError(f"the measuring process failed:\n{value}")
    return value


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


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key + ":"))


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
        f"export, {large['rows']:,} failed records: rows/s",
        f"{rate:,.0f}",
        f"psql \\copy {psql_rate:,.0f}",
        "",
        "≥ 300k rows/s",
        rate >= 300_000,
    )
    results.add("export: share of raw COPY's rows/s", "", "", f"{rate / psql_rate:.2f}",
                "≥ 1/3", rate >= psql_rate / 3)  # fmt: skip
    growth = large["peak_growth_mib"] - small["peak_growth_mib"]
    results.add(
        "export: peak RSS growth, 10k → " + f"{large['rows']:,} rows",
        f"{small['peak_growth_mib']:.1f} → {large['peak_growth_mib']:.1f} MiB",
        "",
        f"+{growth:.1f} MiB",
        "< 50 MB",
        growth < 50,
    )
    results.add(
        "export: first byte",
        f"{large['first_byte'] * 1000:.0f} ms",
        "",
        "",
        "< 200 ms",
        large["first_byte"] < 0.2,
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
    """The physical limit: psql running the export's own COPY query to CSV."""
    from django.http import QueryDict

    from dashboard.steps.export import copy_sql

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
    command = ["psql", "-X", "-q", "-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432),
               "-U", db["USER"], "-d", db["NAME"], "-c", copy]  # fmt: skip
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


# --- 3. ingestion ------------------------------------------------------------


def measure_ingestion(results: Results, failures: int, steps: int) -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def report(n: int, step_count: int, failures_per_step: int) -> str:
        started = (now + timedelta(seconds=n)).isoformat()
        return json.dumps({
            "cycle": {"id": f"bench-ingest-{n}-{step_count}", "started_at": started},
            "steps": [
                {"id": f"s{s}", "object_type": "lead", "operation": "pull_updates",
                 "status": "incomplete", "started_at": started, "ended_at": started,
                 "counts": {"new": 1, "updated": 2, "failed": failures_per_step},
                 "failures": [{"record_id": f"00Q{s:04d}{f:010d}", "marketo_id": str(f),
                               "error_code": "DUPLICATES_DETECTED", "field": "Email",
                               "message": "Use one of these records?"}
                              for f in range(failures_per_step)]}
                for s in range(step_count)
            ],
        })  # fmt: skip

    failure_reports = [report(n, 10, failures // 100) for n in range(10)]
    step_reports = [report(100 + n, steps // 10, 0) for n in range(10)]

    def apply_all(raws: list[str]) -> float:
        # Stored as the API stores them, but without queueing: in this
        # process tasks run eagerly, and the timing must be of the task alone.
        stored = [
            ReceivedReport.objects.create(
                cycle_external_id=json.loads(raw)["cycle"]["id"], payload=raw, source="bench"
            ).pk
            for raw in raws
        ]
        start = time.perf_counter()
        for pk in stored:
            apply_report.apply(args=[pk])  # the Celery task itself, in this process
        elapsed = time.perf_counter() - start
        assert ReceivedReport.objects.filter(pk__in=stored, status="applied").count() == len(stored)
        return elapsed

    failure_seconds = apply_all(failure_reports)
    step_seconds = apply_all(step_reports)
    failure_rate = failures / failure_seconds
    step_rate = steps / step_seconds
    copy_rate = raw_copy_rate(failures)
    results.add(
        "ingestion: failed records/s (Celery task, one worker)",
        f"{failure_rate:,.0f}",
        f"raw COPY {copy_rate:,.0f}",
        f"{failure_rate / copy_rate:.2f} of COPY",
        "≥ 100k/s",
        failure_rate >= 100_000,
    )
    results.add(
        "ingestion: steps/s (Celery task, one worker)",
        f"{step_rate:,.0f}",
        "",
        "",
        "≥ 10k/s",
        step_rate >= 10_000,
    )


def raw_copy_rate(rows: int) -> float:
    """COPY of as many failed-record rows into a table shaped and indexed alike."""
    import io

    buffer = io.StringIO()
    started = datetime.now(UTC).isoformat()
    for n in range(rows):
        buffer.write(f"{n}\t{n // 1000}\t00Q{n:015d}\t{n}\tDUPLICATES_DETECTED\tEmail\t"
                     f"Use one of these records?\t{started}\n")  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_copy (LIKE dashboard_failedrecord INCLUDING ALL)")
        buffer.seek(0)
        start = time.perf_counter()
        cursor.cursor.copy_expert(
            "COPY bench_copy (id, step_id, record_id, marketo_id, error_code, field, message, "
            "cycle_started_at) FROM STDIN",
            buffer,
        )
        elapsed = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_copy")
    return rows / elapsed


# --- 4. purge ----------------------------------------------------------------


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
        f"purge of one expired day ({failures_per_day:,} failed records): time",
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
