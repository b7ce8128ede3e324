"""Deliveries racing each other on the real database (docs/reports.md)."""

import json
import threading

import pytest
from django.db import connection

from dashboard.ingest.reports import report_apply, report_receive
from dashboard.models import FailedRecord, ReceivedReport, SyncCycle, SyncStep
from dashboard.tasks import enqueue_report_apply
from tests.conftest import make_report, make_step

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 8


def race(*jobs) -> list[BaseException]:
    """Run the jobs in threads released at the same instant; return what they raised."""
    barrier = threading.Barrier(len(jobs))
    raised = []

    def run(job):
        try:
            barrier.wait()
            job()
        except BaseException as exc:  # noqa: BLE001 - every error is the test's business
            raised.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return raised


def big_report(status="incomplete", records=range(200)) -> dict:
    failures = [{"record_id": f"00Q{n:05}", "message": f"Bad {n}"} for n in records]
    return make_report(
        *[make_step(f"step{n}", status=status, counts={"failed": 200}) for n in range(20)],
        make_step("bulk", failures=failures),
    )


def test_it_handles_the_same_report_delivered_concurrently():
    raw = json.dumps(big_report())
    raised = race(
        *[lambda: report_receive(raw=raw, source="test", enqueue=enqueue_report_apply)] * WORKERS
    )

    assert raised == []
    assert ReceivedReport.objects.filter(status="applied").count() == WORKERS
    assert SyncCycle.objects.count() == 1
    assert SyncStep.objects.count() == 21
    assert FailedRecord.objects.count() == 200


def test_it_handles_one_stored_report_applied_by_many_workers_at_once():
    raw = json.dumps(big_report())
    # Stored without running its task: the workers below race to apply it.
    received = ReceivedReport.objects.create(cycle_external_id="cyc-1", payload=raw, source="t")

    outcomes = []
    raised = race(*[lambda: outcomes.append(report_apply(report_pk=received.pk))] * WORKERS)

    assert raised == []
    assert sorted(outcomes) == ["applied"] + ["skipped"] * (WORKERS - 1)
    assert FailedRecord.objects.count() == 200


def test_it_merges_concurrent_chunks_of_one_step():
    chunks = [
        json.dumps(big_report(status="in_process", records=range(n, n + 50)))
        for n in range(0, 400, 50)
    ]
    raised = race(
        *[
            lambda raw=raw: report_receive(raw=raw, source="test", enqueue=enqueue_report_apply)
            for raw in chunks
        ]
    )

    assert raised == []
    assert FailedRecord.objects.count() == 400
    assert SyncStep.objects.count() == 21
