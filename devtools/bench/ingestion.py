"""The ingestion measurements: the apply task in this process, for large
reports (failed records/s, against raw COPY and against the same task with
error grouping switched off) and for the small reports a live engine sends
(reports/s, against the bare inserts of the same rows)."""

# ruff: noqa: S608 - the f-strings only add placeholders; every value is bound.

import io
import json
import random
import time
from collections import deque
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from unittest import mock

from celery import Task
from django.db import connection, transaction

from dashboard.models import ReceivedReport
from dashboard.syncerrors import expiry, grouping, rollups
from dashboard.tasks import apply_report
from dashboard.times import EARLIEST
from devtools.bench.messages import Catalogue
from devtools.bench.suite import Results

SMALL_STEPS, SMALL_FAILURES = 8, 100
CATALOGUE = Catalogue(random.Random(1), {"lead": ["pull_updates"], "contact": ["push_updates"]})


def report_json(cycle_id: str, started: datetime, steps: int, failures_per_step: int) -> str:
    """A report as an engine sends it: failures of a few signatures, their
    messages carrying ids, numbers and quoted values."""
    at = started.isoformat()
    step_list = []
    for s in range(steps):
        object_type, operation = [("lead", "pull_updates"), ("contact", "push_updates")][s % 2]
        failures = []
        for f in range(failures_per_step):
            signature = CATALOGUE.pick(object_type, operation)
            failures.append({
                "record_id": f"00Q{s:04d}{f:011d}", "marketo_id": str(f),
                "error_code": signature.code or None, "field": signature.field or None,
                "message": CATALOGUE.render(signature.pattern, f),
            })  # fmt: skip
        step_list.append({
            "id": f"s{s}", "object_type": object_type, "operation": operation,
            "status": "incomplete", "started_at": at, "ended_at": at,
            "counts": {"new": 1, "updated": 2, "failed": failures_per_step},
            "failures": failures,
        })  # fmt: skip
    return json.dumps({"cycle": {"id": cycle_id, "started_at": at}, "steps": step_list})


def apply_all(raws: list[str]) -> float:
    """Seconds one Celery worker takes over these reports, stored as the API
    stores them: their apply tasks, then every task those queue (the alerts
    evaluation, the notices), first in, first out, as a worker with this
    backlog takes them. In this process, and the timing is of the tasks alone."""
    stored = [
        ReceivedReport.objects.create(
            cycle_external_id=json.loads(raw)["cycle"]["id"], payload=raw, source="bench"
        ).pk
        for raw in raws
    ]
    queue = deque((apply_report, (pk,)) for pk in stored)

    def queued(task, args=None, kwargs=None, **options):
        # A task due later (a retry's countdown) is not this backlog's.
        if not options.get("countdown") and not options.get("eta"):
            queue.append((task, tuple(args or ())))

    start = time.perf_counter()
    with mock.patch.object(Task, "apply_async", queued):
        while queue:
            task, args = queue.popleft()
            task.apply(args=args)
    elapsed = time.perf_counter() - start
    assert ReceivedReport.objects.filter(pk__in=stored, status="applied").count() == len(stored)
    return elapsed


@contextmanager
def grouping_switched_off():
    """The apply task as it was before error groups: no signatures computed,
    no rollups written (the baseline of what grouping costs)."""
    unset = grouping.Signature("", "", "", "", "", "", "")
    with (
        mock.patch.object(grouping, "failure_signatures", lambda step, fs: [unset] * len(fs)),
        mock.patch.object(grouping, "job_signature", lambda step: None),
        mock.patch.object(grouping, "report_changes", lambda *args: None),
        mock.patch.object(expiry, "retention_mark", lambda: EARLIEST),
        mock.patch.object(rollups, "rollups_write", lambda changes: None),
    ):
        yield


def measure_ingestion(results: Results, failures: int, steps: int, small: int) -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def big(prefix: str, n: int) -> str:
        return report_json(f"bench-{prefix}-{n}", now + timedelta(seconds=n), 10, failures // 100)

    # In turns, so that a slower minute of the machine weighs on both alike.
    grouped = ungrouped = 0.0
    for n in range(10):
        grouped += apply_all([big("grouped", n)])
        with grouping_switched_off():
            ungrouped += apply_all([big("ungrouped", n)])
    rate, baseline = failures / grouped, failures / ungrouped
    copy_rate = raw_copy_rate(failures)
    results.add(
        "ingestion, large reports: failed records/s (Celery task, one worker)",
        f"{rate:,.0f}",
        f"grouping off {baseline:,.0f}; raw COPY {copy_rate:,.0f}",
        f"{rate / baseline:.2f} of grouping off",
        "≥ 0.8 of grouping off",
        rate >= 0.8 * baseline,
    )
    step_reports = [
        report_json(f"bench-steps-{n}", now + timedelta(seconds=100 + n), steps // 10, 0)
        for n in range(10)
    ]
    step_rate = steps / apply_all(step_reports)
    results.add(
        "ingestion, large reports: steps/s (Celery task, one worker)",
        f"{step_rate:,.0f}",
        "",
        "",
        "≥ 10k/s",
        step_rate >= 10_000,
    )

    reports = [
        report_json(f"bench-small-{n}", now + timedelta(seconds=200 + n), SMALL_STEPS,
                    SMALL_FAILURES // SMALL_STEPS)
        for n in range(small)
    ]  # fmt: skip
    ours = small / apply_all(reports)
    bare = small / bare_inserts(small)
    forget_ungrouped()
    results.add(
        f"ingestion, small reports ({SMALL_STEPS} steps, {SMALL_FAILURES} failures): "
        "reports/s applied by the task in this process",
        f"{ours:,.0f}",
        f"bare inserts {bare:,.0f}",
        f"{ours / bare:.2f} of bare inserts",
        "",
    )


def forget_ungrouped() -> None:
    """Delete what the baselines wrote without grouping it, so that the error
    groups hold every failure stored again (the purge's measure checks it)."""
    with connection.cursor() as cursor:
        for prefix in ["bench-ungrouped-", "bare-"]:
            cycles = "SELECT id FROM dashboard_synccycle WHERE external_id LIKE %s"
            steps = f"SELECT id FROM dashboard_syncstep WHERE cycle_id IN ({cycles})"
            cursor.execute(
                f"DELETE FROM dashboard_failedrecord WHERE step_id IN ({steps})", [prefix + "%"]
            )
            cursor.execute(
                f"DELETE FROM dashboard_syncstep WHERE cycle_id IN ({cycles})", [prefix + "%"]
            )
            cursor.execute(
                "DELETE FROM dashboard_synccycle WHERE external_id LIKE %s", [prefix + "%"]
            )


def bare_inserts(reports: int) -> float:
    """Seconds to write the rows of small reports with nothing around them:
    per report, one transaction inserting its received report, cycle, steps
    and failed records with one statement each."""
    started = datetime.now(UTC) - timedelta(hours=2)
    start = time.perf_counter()
    for n in range(reports):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO dashboard_receivedreport (report_id, cycle_external_id, payload, "
                "source, status, received_at, attempts) VALUES (gen_random_uuid(), %s, '{}', "
                "'bench', 'applied', now(), 0)",
                [f"bare-{n}"],
            )
            cursor.execute(
                "INSERT INTO dashboard_synccycle (external_id, started_at) VALUES (%s, %s) "
                "RETURNING id",
                [f"bare-{n}", started],
            )
            cycle = cursor.fetchone()[0]
            steps = ", ".join(["(%s, %s, %s, 'lead', 'pull_updates', 'incomplete', %s)"] * 8)
            cursor.execute(
                "INSERT INTO dashboard_syncstep (cycle_id, step_id, cycle_started_at, "
                f"object_type, operation, status, started_at) VALUES {steps} RETURNING id",
                [value for s in range(8) for value in (cycle, f"s{s}", started, started)],
            )
            step_ids = [row[0] for row in cursor.fetchall()]
            rows = ", ".join(["(%s, %s, %s, %s, 1, 'Use one of these records?')"] * 100)
            cursor.execute(
                "INSERT INTO dashboard_failedrecord (step_id, cycle_started_at, step_started_at, "
                f"record_id, group_id, message) VALUES {rows}",
                [value for f in range(100)
                 for value in (step_ids[f % 8], started, started, f"00Q{n:06d}{f:06d}")],
            )  # fmt: skip
    return time.perf_counter() - start


def raw_copy_rate(rows: int) -> float:
    """COPY of as many failed-record rows into a table shaped and indexed alike."""
    buffer = io.StringIO()
    started = datetime.now(UTC).isoformat()
    for n in range(rows):
        buffer.write(f"{n}\t{n // 1000}\t00Q{n:015d}\t{n}\tDUPLICATES_DETECTED\tEmail\t"
                     f"Use one of these records?\t{started}\t{started}\t{n % 300}\n")  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_copy (LIKE dashboard_failedrecord INCLUDING ALL)")
        buffer.seek(0)
        start = time.perf_counter()
        cursor.cursor.copy_expert(
            "COPY bench_copy (id, step_id, record_id, marketo_id, error_code, field, message, "
            "cycle_started_at, step_started_at, group_id) FROM STDIN",
            buffer,
        )
        elapsed = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_copy")
    return rows / elapsed
