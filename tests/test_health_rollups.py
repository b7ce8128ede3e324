"""The health figures stay exact however reports arrive: twice, late, re-dated,
merged into stored steps, and as the purge takes old cycles away."""

import json
from datetime import timedelta

import pytest
from django.db.models import Sum

from dashboard.health.figures import health_at
from dashboard.health.rollups import step_hours_rebuild
from dashboard.ingest.reports import report_apply, report_receive
from dashboard.models import StepHour, SyncStep
from dashboard.storage.retention import purge_expired
from tests.conftest import age_cycle, make_report, make_step, recent


def failures(*records: str) -> list[dict]:
    return [{"record_id": record, "message": "Postal code is required"} for record in records]


def last_24h(now=None) -> dict:
    return health_at(now or recent(0)).last_24h.__dict__


def chart_totals(now=None) -> tuple[dict, int]:
    chart = health_at(now or recent(0)).chart
    steps = {status: sum(bucket.steps[status] for bucket in chart) for status in chart[0].steps}
    return {status: count for status, count in steps.items() if count}, sum(
        bucket.failed_records for bucket in chart
    )


def test_a_report_delivered_twice_counts_once(ingest):
    report = make_report(
        make_step("a", status="incomplete", failures=failures("r1", "r2")), make_step("b")
    )
    ingest(report)
    ingest(report, report)

    assert last_24h() == {"cycles": 1, "steps": 2, "failed_steps": 1, "failed_records": 2}


def test_a_step_moves_from_running_to_its_final_status_and_gains_failures(ingest):
    started = recent(30)
    ingest(make_report(make_step("a", started_at=started, status="in_process",
                                 failures=failures("r1", "r2"))))  # fmt: skip
    # The next chunk names r2 again and adds r3; the step ends incomplete.
    ingest(make_report(make_step("a", started_at=started, status="incomplete",
                                 failures=failures("r2", "r3"))))  # fmt: skip

    assert last_24h() == {"cycles": 1, "steps": 1, "failed_steps": 1, "failed_records": 3}
    assert chart_totals() == ({"incomplete": 1}, 3)


def test_a_step_whose_start_moves_to_another_hour_moves_with_it(ingest):
    ingest(make_report(make_step("a", started_at=recent(60 * 30), failures=failures("r1"))))
    ingest(make_report(make_step("a", started_at=recent(60 * 2), failures=failures("r2"))))

    # It now started 2 hours ago: in the last 24 hours, no longer in the 24 before.
    health = health_at(recent(0))
    assert health.last_24h.steps == 1 and health.last_24h.failed_records == 2
    assert health.previous_24h.steps == 0 and health.previous_24h.failed_records == 0


def test_a_late_report_rebuilds_its_cycle_and_the_figures_with_it(ingest):
    first = make_report(
        make_step("a", status="in_process", failures=failures("r1")),
        make_step("b", status="in_process"),
    )
    second = make_report(
        make_step("a", status="failed", failures=failures("r2")), make_step("c", status="succeeded")
    )
    received = [
        report_receive(raw=json.dumps(report), source="test", enqueue=lambda pk: None)
        for report in (first, second)
    ]

    assert report_apply(report_pk=received[1].pk) == "applied"
    assert report_apply(report_pk=received[0].pk) == "rebuilt"

    # a failed with r1 and r2; b still running; c succeeded.
    assert last_24h() == {"cycles": 1, "steps": 3, "failed_steps": 1, "failed_records": 2}
    assert chart_totals() == ({"failed": 1, "in_process": 1, "succeeded": 1}, 2)


def test_a_cycle_re_dated_by_a_later_report_moves_its_steps(ingest):
    ingest(make_report(make_step("a", failures=failures("r1")), started_at=recent(60 * 26)))
    ingest(make_report(make_step("b"), started_at=recent(100)))

    assert chart_totals() == ({"succeeded": 2}, 1)
    assert StepHour.objects.aggregate(steps=Sum("steps"))["steps"] == 2


def test_counting_again_from_the_steps_changes_nothing(ingest):
    ingest(
        make_report(
            make_step("a", status="incomplete", failures=failures("r1", "r2")), cycle_id="x"
        ),
        make_report(make_step("a", status="failed", started_at=recent(60 * 30)), cycle_id="y"),
    )
    before = health_at(recent(0))

    step_hours_rebuild()

    after = health_at(before.now)
    assert (after.last_24h, after.previous_24h, after.chart) == (
        before.last_24h, before.previous_24h, before.chart,
    )  # fmt: skip


# Transactional: on PostgreSQL the purge detaches partitions concurrently.
@pytest.mark.django_db(transaction=True)
def test_the_purge_takes_expired_cycles_out_of_the_figures(ingest):
    ingest(
        make_report(make_step("a", status="incomplete", failures=failures("r1", "r2")),
                    cycle_id="expired-today", started_at=recent(60 * 24 * 5 - 10)),
        make_report(make_step("a", failures=failures("r3")), make_step("b", status="failed"),
                    cycle_id="expired-long-ago", started_at=recent(60 * 24 * 5 - 20)),
        make_report(make_step("a", status="incomplete", failures=failures("r4")), cycle_id="young"),
    )  # fmt: skip
    age_cycle("expired-today", timedelta(minutes=15))
    age_cycle("expired-long-ago", timedelta(days=2))

    result = purge_expired()

    assert result.steps == 3
    assert chart_totals() == ({"incomplete": 1}, 1)
    assert StepHour.objects.aggregate(steps=Sum("steps"))["steps"] == SyncStep.objects.count() == 1
    assert purge_expired().steps == 0
    assert chart_totals() == ({"incomplete": 1}, 1)
