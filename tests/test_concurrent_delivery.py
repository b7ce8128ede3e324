"""Deliveries racing each other on the real database (docs/reports.md)."""

import json
import threading

import pytest
from django.db import connection, transaction

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


def test_workers_applying_cycles_that_hit_the_same_groups_count_every_failure_once():
    from dashboard.models import ErrorGroup, ErrorGroupRecord

    def report(n):
        # Every cycle fails on the same two rules, for records shared between cycles.
        too_long = [
            {"record_id": f"00Q{r:05}", "message": f"Value 'x{n}' too long (max {r})",
             "error_code": "STRING_TOO_LONG"}
            for r in range(n, n + 300)
        ]  # fmt: skip
        required = [
            {"record_id": f"00Q{r:05}", "message": "Postal code is required"} for r in range(50)
        ]
        steps = [make_step("bulk", status="incomplete", failures=too_long),
                 make_step("small", status="incomplete", failures=required)]  # fmt: skip
        return json.dumps(make_report(*steps, cycle_id=f"c{n}"))

    raws = [report(n * 100) for n in range(WORKERS)]
    received = [
        ReceivedReport.objects.create(cycle_external_id=f"c{n * 100}", payload=raw, source="t")
        for n, raw in enumerate(raws)
    ]
    # Each worker applies its cycle's report, and every other one a second time.
    jobs = [lambda r=r: report_apply(report_pk=r.pk) for r in received]
    jobs += [lambda r=r: report_apply(report_pk=r.pk) for r in received[::2]]
    raised = race(*jobs)

    assert raised == []
    groups = dict(ErrorGroup.objects.values_list("template", "failures"))
    assert groups == {
        "Value <value> too long (max <n>)": 300 * WORKERS,
        "Postal code is required": 50 * WORKERS,
    }
    records = dict(ErrorGroup.objects.values_list("template", "records"))
    distinct = len({r for n in range(WORKERS) for r in range(n * 100, n * 100 + 300)})
    assert records == {"Value <value> too long (max <n>)": distinct, "Postal code is required": 50}
    assert ErrorGroupRecord.objects.count() == distinct + 50


def test_workers_each_applying_a_backlog_together_count_every_failure_once():
    from django.db.models import Sum

    from dashboard.models import ErrorGroup, StepHour

    def chunk(cycle: int, records: range) -> str:
        too_long = [
            {"record_id": f"00Q{r:05}", "message": f"Value 'x{r}' too long (max 80)",
             "error_code": "STRING_TOO_LONG"}
            for r in records
        ]  # fmt: skip
        required = [{"record_id": f"00Q{r:05}", "message": "Postal code is required"}
                    for r in range(50)]  # fmt: skip
        steps = [make_step("bulk", status="in_process", failures=too_long),
                 make_step("small", status="in_process", failures=required)]  # fmt: skip
        return json.dumps(make_report(*steps, cycle_id=f"c{cycle}"))

    # Two chunks a cycle, naming 50 records in common; all waiting for a worker.
    raws = [chunk(n // 2, range(0, 150) if n % 2 == 0 else range(100, 250)) for n in range(16)]
    received = [
        ReceivedReport.objects.create(cycle_external_id=f"c{n // 2}", payload=raw, source="t")
        for n, raw in enumerate(raws)
    ]
    raised = race(*[lambda r=r: report_apply(report_pk=r.pk, batch=4) for r in received])

    assert raised == []
    assert set(ReceivedReport.objects.values_list("status", flat=True)) == {"applied"}
    groups = dict(ErrorGroup.objects.values_list("template", "failures"))
    assert groups == {
        "Value <value> too long (max <n>)": 250 * 8,
        "Postal code is required": 50 * 8,
    }
    records = dict(ErrorGroup.objects.values_list("template", "records"))
    assert records == {"Value <value> too long (max <n>)": 250, "Postal code is required": 50}
    hours = StepHour.objects.aggregate(steps=Sum("steps"), failed=Sum("failed_records"))
    assert hours == {"steps": SyncStep.objects.count(), "failed": FailedRecord.objects.count()}
    assert FailedRecord.objects.count() == 300 * 8


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's")
def test_a_worker_whose_report_another_holds_applies_the_next_ones_instead_of_waiting():
    held, *after = [
        ReceivedReport.objects.create(
            cycle_external_id=f"c{n}", payload=json.dumps(make_report(cycle_id=f"c{n}")),
            source="t",
        )
        for n in range(3)
    ]  # fmt: skip
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        with transaction.atomic():
            list(ReceivedReport.objects.select_for_update().filter(pk=held.pk))
            locked.set()
            release.wait(timeout=30)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(timeout=30)
        assert report_apply(report_pk=held.pk, batch=50) == "skipped"
        statuses = dict(ReceivedReport.objects.values_list("pk", "status"))
        assert statuses == {held.pk: "accepted", after[0].pk: "applied", after[1].pk: "applied"}
    finally:
        release.set()
        thread.join(timeout=30)
