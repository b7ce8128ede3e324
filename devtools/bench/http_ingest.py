"""Small reports as a live engine sends them, through the whole stack: posted
over HTTP by 4 clients to gunicorn with 2 workers, then applied by one
Celery worker (one process), each beside the bare inserts of the same rows."""

import http.client
import json
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.db import connection, transaction

from dashboard.ingest.tokens import token_create
from dashboard.models import ReceivedReport
from devtools.bench.ingestion import (
    SMALL_FAILURES,
    SMALL_STEPS,
    bare_inserts,
    forget_ungrouped,
    report_json,
)
from devtools.bench.suite import Results
from devtools.processes import Processes, wait_until

CLIENTS = 4


def measure_http_ingestion(results: Results, reports: int) -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    bodies = [
        report_json(f"bench-http-{n}", now + timedelta(milliseconds=n), SMALL_STEPS,
                    SMALL_FAILURES // SMALL_STEPS).encode()
        for n in range(reports)
    ]  # fmt: skip
    token = token_create(name="bench-http")
    processes = Processes(Path(tempfile.mkdtemp(prefix="bench-http-")))
    try:
        env = processes.app_env(
            processes.broker(),
            # The engine's rate, not the limit a runaway sender meets.
            SYNC_STATUS_INGEST_RATE_PER_MINUTE=str(100 * reports),
            LOG_LEVEL="WARNING",
        )
        port = processes.web(env)
        accepted = post_all(port, token, bodies)
        # Applied by one worker process, started once every report waits.
        processes.worker(env, concurrency=1)
        wait_until(
            lambda: (
                not ReceivedReport.objects.filter(
                    cycle_external_id__startswith="bench-http-", status="accepted"
                ).exists()
            ),
            timeout=600,
            what="every report applied",
        )
    finally:
        processes.stop_all()
    times = sorted(
        ReceivedReport.objects.filter(cycle_external_id__startswith="bench-http-").values_list(
            "applied_at", flat=True
        )
    )
    applied = (len(times) - 1) / (times[-1] - times[0]).total_seconds()
    bare_receipt = reports / bare_receipts(reports)
    bare_apply = reports / bare_inserts(reports)
    forget_ungrouped()
    results.add(
        f"ingestion over HTTP, small reports: accepted/s ({CLIENTS} clients, gunicorn 2 workers)",
        f"{accepted:,.0f}",
        f"bare insert of the report {bare_receipt:,.0f}",
        f"{accepted / bare_receipt:.2f} of bare inserts",
        "≥ 300/s",
        accepted >= 300,
    )
    results.add(
        "ingestion over HTTP, small reports: applied/s (one Celery worker process)",
        f"{applied:,.0f}",
        f"bare inserts of their rows {bare_apply:,.0f}",
        f"{applied / bare_apply:.2f} of bare inserts",
        "≥ 200/s",
        applied >= 200,
    )


def post_all(port: int, token: str, bodies: list[bytes]) -> float:
    """Reports/s accepted: `CLIENTS` threads, each on a connection of its own."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    failures, queue = [], list(bodies)
    lock = threading.Lock()

    def client():
        connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            connection_.request("POST", "/api/v1/sync-reports/", body, headers)
            response = connection_.getresponse()
            response.read()
            if response.status != 202:
                failures.append(response.status)
        connection_.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"{len(failures)} reports refused, e.g. {failures[0]}")
    return len(bodies) / elapsed


def bare_receipts(reports: int) -> float:
    """Seconds to store as many reports with nothing around them: one
    transaction a report, one insert each (committed durably, as receipt is)."""
    payload = json.dumps({"cycle": {}, "steps": []})
    start = time.perf_counter()
    for n in range(reports):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO dashboard_receivedreport (report_id, cycle_external_id, payload, "
                "source, status, received_at, attempts) VALUES (gen_random_uuid(), %s, %s, "
                "'bench', 'applied', now(), 0)",
                [f"bare-receipt-{n}", payload],
            )
    return time.perf_counter() - start
