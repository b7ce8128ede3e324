"""A worker SIGKILLed in the middle of applying large reports: once another
worker has taken over, the data is that of one clean application of each."""

import json

import pytest

from dashboard.ingest.tokens import token_create
from dashboard.models import FailedRecord, ReceivedReport, SyncStep
from devtools.processes import wait_until
from tests.conftest import make_report, make_step, recent
from tests.test_worker import http

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]
REPORTS = 5
FAILURES_PER_REPORT = 40_000


def large_report(number: int) -> dict:
    failures = [
        {
            "record_id": f"00Q{number:02d}{index:013d}",
            "error_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "message": f"Postal code is required ({index})",
            "field": "PostalCode",
        }
        for index in range(FAILURES_PER_REPORT)
    ]
    return make_report(
        make_step(
            "pull.lead",
            status="incomplete",
            ended_at=recent(50 + number).isoformat().replace("+00:00", "Z"),
            counts={"new": number, "failed": FAILURES_PER_REPORT},
            failures=failures,
            started_at=recent(51 + number),
        ),
        cycle_id=f"cyc-big-{number}",
        started_at=recent(52 + number),
    )


def test_a_killed_worker_leaves_no_partial_or_duplicate_rows(processes):
    env = processes.app_env(processes.broker())
    base = f"http://127.0.0.1:{processes.web(env)}"
    token = token_create(name="engine")
    reports = [large_report(number) for number in range(REPORTS)]
    for report in reports:
        assert len(json.dumps(report)) < 10 * 1024 * 1024
        assert http("POST", f"{base}/api/v1/sync-reports/", token, report)[0] == 202

    processes.worker(env, name="doomed")
    # The first report applied: the worker has already taken the next one,
    # and is writing its 40,000 failed records when it is killed.
    wait_until(
        lambda: ReceivedReport.objects.filter(status="applied").exists(),
        timeout=120,
        interval=0.02,
        what="a first report applied",
    )
    processes.kill("doomed")
    assert ReceivedReport.objects.filter(status="accepted").exists()
    assert processes.output("doomed").count("apply_report") >= 2  # killed with one in hand

    processes.worker(env, name="successor")
    processes.beat(env)  # its sweep takes the task that died with the worker
    wait_until(
        lambda: ReceivedReport.objects.filter(status="applied").count() == REPORTS,
        timeout=300,
        interval=1,
        what="every report applied",
    )

    assert SyncStep.objects.count() == REPORTS
    assert FailedRecord.objects.count() == REPORTS * FAILURES_PER_REPORT
    for report in reports:
        sent = report["steps"][0]
        step = SyncStep.objects.get(cycle__external_id=report["cycle"]["id"])
        assert (step.status, step.new_count, step.failed_count) == (
            "incomplete",
            sent["counts"]["new"],
            FAILURES_PER_REPORT,
        )
        stored = set(step.failures.values_list("record_id", "error_code", "field", "message"))
        assert stored == {
            (f["record_id"], f["error_code"], f["field"], f["message"]) for f in sent["failures"]
        }
