"""The sync's cadence: its usual interval and when it counts as stale."""

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.health.cadence import cadence_at
from tests.conftest import make_report, make_step

NOW = datetime.now(UTC).replace(microsecond=0)


def cycles_started(ingest, *minutes_ago: float) -> None:
    for index, ago in enumerate(minutes_ago):
        started = NOW - timedelta(minutes=ago)
        ingest(
            make_report(make_step(started_at=started), cycle_id=f"cyc-{index}", started_at=started)
        )


def test_the_interval_is_the_median_gap_between_the_last_days_starts(ingest):
    cycles_started(ingest, 5, 10, 15, 30, 25 * 60)

    cadence = cadence_at(NOW)

    # Gaps of 5, 5 and 15 minutes within 24 hours; the cycle of 25 hours ago is outside.
    assert cadence.cycle_interval_s == 300
    assert cadence.last_cycle_started_at == NOW - timedelta(minutes=5)
    assert cadence.stale_after_s == 900
    assert not cadence.stale


def test_it_is_stale_after_three_usual_intervals(ingest):
    cycles_started(ingest, 70, 90, 110)

    cadence = cadence_at(NOW)

    assert cadence.cycle_interval_s == 1200
    assert cadence.stale_after_s == 3600
    assert cadence.stale
    assert cadence.stale_since == NOW - timedelta(minutes=10)


def test_a_single_cycle_has_no_interval_and_a_sync_that_never_ran_is_stale(db):
    cadence = cadence_at(NOW)

    assert cadence.cycle_interval_s is None
    assert cadence.last_cycle_started_at is None
    assert cadence.stale_after_s == 900
    assert cadence.stale_since == NOW


@pytest.mark.parametrize("minutes_ago, stale", [(29, False), (31, True)])
def test_the_operator_sets_how_long_is_too_long(ingest, settings, minutes_ago, stale):
    settings.SYNC_STATUS_STALE_MINUTES = 30
    cycles_started(ingest, minutes_ago)

    assert cadence_at(NOW).stale is stale
