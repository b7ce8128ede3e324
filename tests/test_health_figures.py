"""The health figures (docs/dashboard.md, Health) against a data set counted by hand:
the last 24 hours against the 24 before, stuck steps and the 4-hour chart."""

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.health.figures import health_at
from dashboard.syncerrors.changes import bucket_of
from tests.conftest import age_cycle, make_report, make_step

HOUR = timedelta(hours=1)


def failures(count: int, prefix: str) -> list[dict]:
    return [
        {"record_id": f"{prefix}-{n}", "message": "Postal code is required"} for n in range(count)
    ]


def story(ingest, now: datetime) -> None:
    """Six cycles around `now`; the comments count them."""

    def cycle(cycle_id, ago, *steps):
        start = now - ago
        ingest(
            make_report(
                *[
                    make_step(f"s{n}", started_at=start + timedelta(seconds=n), **fields)
                    for n, fields in enumerate(steps)
                ],
                cycle_id=cycle_id,
                started_at=start,
            )
        )

    # The last 24 hours: 3 cycles, 7 steps, 3 failed steps, 4 failed records.
    cycle(
        "c1",
        timedelta(minutes=10),
        {},
        {"status": "incomplete", "failures": failures(3, "c1")},
        {"status": "in_process"},
    )
    cycle(
        "c2",
        timedelta(hours=23, minutes=50),
        {"status": "failed"},
        {"status": "incomplete", "failures": failures(1, "c2")},
    )
    # Its running step started 5 hours ago: stuck.
    cycle("c4", timedelta(hours=5), {}, {"status": "in_process"})
    # The 24 hours before: 2 cycles, 3 steps, 2 failed steps, 2 failed records.
    cycle(
        "c3",
        timedelta(hours=24, minutes=10),
        {"status": "cleaned_up"},
        {"status": "incomplete", "failures": failures(2, "c3")},
    )
    cycle("c5", timedelta(hours=47, minutes=50), {})
    # Before both: in the chart only.
    cycle(
        "c6",
        timedelta(hours=48, minutes=10),
        {"status": "incomplete", "failures": failures(4, "c6")},
    )


def an_hour_and(minutes: int) -> datetime:
    """A recent moment `minutes` past an hour, so that each 24-hour window
    starts and ends inside an hour."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return hour - 2 * HOUR + timedelta(minutes=minutes)


@pytest.mark.parametrize("minutes", [0, 20, 40])
def test_it_counts_the_last_24_hours_against_the_24_before(ingest, minutes):
    now = an_hour_and(minutes)
    story(ingest, now)

    health = health_at(now)

    assert health.last_24h.__dict__ == {
        "cycles": 3, "steps": 7, "failed_steps": 3, "failed_records": 4,
    }  # fmt: skip
    assert health.previous_24h.__dict__ == {
        "cycles": 2, "steps": 3, "failed_steps": 2, "failed_records": 2,
    }  # fmt: skip


def test_a_step_still_running_after_an_hour_is_stuck(ingest):
    now = an_hour_and(20)
    story(ingest, now)

    stuck = health_at(now).stuck_steps

    assert [(step.cycle_id, step.step_id) for step in stuck] == [("c4", "s1")]
    # An hour and a half later the running step of c1 has been running long enough too.
    later = health_at(now + timedelta(minutes=90)).stuck_steps
    assert [(step.cycle_id, step.step_id) for step in later] == [
        ("c4", "s1"),
        ("c1", "s2"),
    ]


def test_the_operator_sets_how_long_a_step_may_run(ingest, settings):
    now = an_hour_and(20)
    story(ingest, now)
    settings.SYNC_STATUS_STUCK_MINUTES = 5

    stuck = health_at(now).stuck_steps

    assert [(step.cycle_id, step.step_id) for step in stuck] == [
        ("c4", "s1"),
        ("c1", "s2"),
    ]


def test_a_step_of_an_expired_cycle_is_never_stuck(ingest):
    now = an_hour_and(20)
    story(ingest, now)
    age_cycle("c4", timedelta(days=5))

    assert health_at(now).stuck_steps == []


def test_a_stuck_step_leaves_once_its_cycle_leaves_the_window(ingest, settings):
    now = an_hour_and(20)
    story(ingest, now)
    assert [step.step_id for step in health_at(now).stuck_steps] == ["s1"]

    # No report applied since: only the clock moved, past c4's retention.
    later = now + timedelta(days=settings.SYNC_STATUS_RETENTION_DAYS) - timedelta(hours=2)

    assert [(step.cycle_id, step.step_id) for step in health_at(later).stuck_steps] == [
        ("c1", "s2")
    ]


def test_a_stuck_step_that_finishes_is_no_longer_stuck(ingest):
    now = an_hour_and(20)
    story(ingest, now)
    assert len(health_at(now).stuck_steps) == 1

    ingest(make_report(make_step("s1", started_at=now - timedelta(hours=5) + timedelta(seconds=1)),
                       cycle_id="c4", started_at=now - timedelta(hours=5)))  # fmt: skip

    assert health_at(now).stuck_steps == []


def test_the_chart_holds_each_step_in_its_4_hour_bucket_by_status(ingest):
    now = an_hour_and(20)
    story(ingest, now)

    chart = health_at(now).chart

    # 5 days: from the bucket holding the window's start to the one holding now.
    assert len(chart) in (30, 31)
    assert chart[-1].start == bucket_of(now)
    assert all(
        later.start - earlier.start == 4 * HOUR
        for earlier, later in zip(chart, chart[1:], strict=False)
    )
    by_start = {bucket.start: bucket for bucket in chart}
    c1 = by_start[bucket_of(now - timedelta(minutes=10))]
    c6 = by_start[bucket_of(now - timedelta(hours=48, minutes=10))]
    assert c6.steps["incomplete"] == 1 and c6.failed_records == 4
    assert c1.steps["incomplete"] >= 1 and c1.steps["in_process"] >= 1
    assert sum(sum(bucket.steps.values()) for bucket in chart) == 11
    assert sum(bucket.failed_records for bucket in chart) == 10
    assert sum(bucket.steps["failed"] for bucket in chart) == 1
    assert sum(bucket.steps["cleaned_up"] for bucket in chart) == 1


def test_nothing_stored_is_all_zeros(db):
    now = an_hour_and(20)

    health = health_at(now)

    assert health.last_24h.__dict__ == {
        "cycles": 0, "steps": 0, "failed_steps": 0, "failed_records": 0,
    }  # fmt: skip
    assert health.stuck_steps == []
    assert sum(sum(bucket.steps.values()) for bucket in health.chart) == 0


def test_it_reads_a_few_queries_whatever_the_steps(ingest, django_assert_max_num_queries):
    now = an_hour_and(20)
    story(ingest, now)

    # The cadence (2), the live mark and the steps in process by it, the
    # hours, the edges, the cycles.
    with django_assert_max_num_queries(7):
        health_at(now)


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_reads_one_snapshot_and_leaves_none_open(ingest):
    from django.db import connection

    now = an_hour_and(20)
    story(ingest, now)

    health = health_at(now)

    assert health.last_24h.steps == 7
    assert [step.step_id for step in health.stuck_steps] == ["s1"]
    # Nothing holds a snapshot once it is read (no session idle in transaction).
    assert not connection.in_atomic_block
    if connection.vendor == "postgresql":
        assert connection.connection.info.transaction_status == 0  # idle
    ingest(
        make_report(make_step("s9", started_at=now - HOUR), cycle_id="c9", started_at=now - HOUR)
    )
    assert health_at(now).last_24h.steps == 8
