"""Ingestion with alert evaluation switched on, against the same without:
the small reports a live engine sends, applied by the Celery task in this
process, with the tasks they queue (the evaluation, the delivery of the
notices it writes, to a webhook on this machine) run after them as one
worker with that backlog would, inside the timing."""

import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dashboard.alerts.models import AlertRule
from dashboard.alerts.rules import alert_rule_create
from devtools.bench.ingestion import SMALL_FAILURES, SMALL_STEPS, apply_all, report_json
from devtools.bench.suite import Results

ROUNDS = 10


class Accepting(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def measure_alerts(results: Results, reports: int, failures: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Accepting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    # One rule of each kind, watching everything the reports hold.
    destination = f"json://127.0.0.1:{server.server_address[1]}/bench"
    for kind in AlertRule.Kind.values:
        alert_rule_create(name=f"bench {kind}", kind=kind, destinations=[destination])
    rules = AlertRule.objects.filter(name__startswith="bench ")
    clock = iter(range(10**9))

    def batch(prefix: str, count: int, steps: int, failures_per_step: int) -> list[str]:
        return [
            report_json(f"bench-alerts-{prefix}-{next(clock)}",
                        now + timedelta(seconds=next(clock)), steps, failures_per_step)
            for _ in range(count)
        ]  # fmt: skip

    def side_by_side(prefix: str, count: int, steps: int, failures_per_step: int):
        on = off = 0.0
        # In turns, so that a slower minute of the machine weighs on both alike.
        for _ in range(ROUNDS):
            rules.update(enabled=True)
            on += apply_all(batch(f"{prefix}-on", count, steps, failures_per_step))
            rules.update(enabled=False)
            off += apply_all(batch(f"{prefix}-off", count, steps, failures_per_step))
        return count * ROUNDS / on, count * ROUNDS / off

    try:
        small_on, small_off = side_by_side(
            "small", max(1, reports // ROUNDS), SMALL_STEPS, SMALL_FAILURES // SMALL_STEPS
        )
        large_on, large_off = side_by_side("large", 1, 10, max(1, failures // (10 * ROUNDS)))
    finally:
        rules.delete()
        server.shutdown()
    large_failures = 10 * max(1, failures // (10 * ROUNDS))
    results.add(
        f"ingestion with alert evaluation on, large reports ({large_failures:,} failures): "
        "failed records/s",
        f"{large_on * large_failures:,.0f}",
        f"rules off {large_off * large_failures:,.0f}",
        f"{large_on / large_off:.2f} of rules off",
        "≥ 0.9 of rules off",
        large_on >= 0.9 * large_off,
    )
    results.add(
        f"ingestion with alert evaluation on, small reports ({SMALL_STEPS} steps, "
        f"{SMALL_FAILURES} failures): reports/s",
        f"{small_on:,.0f}",
        f"rules off {small_off:,.0f}",
        f"{small_on / small_off:.2f} of rules off",
        "≥ 0.9 of rules off",
        small_on >= 0.9 * small_off,
    )
    results.notes.append(
        "Alerts: the apply task with one enabled rule of each kind (their notices "
        "delivered, in this process, to a webhook on this machine) against the same "
        "task with the rules disabled, in turns; the tasks the reports queue run inside "
        "the timing, after them, as one worker with that backlog runs them."
    )
