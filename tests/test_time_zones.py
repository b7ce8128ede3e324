"""docs/dashboard.md: a user in Europe/Paris filtering across the DST changes of 2026."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, User

from dashboard.models import UserPreference
from tests.conftest import make_report, make_step
from tests.test_sync_status_page import table_cells

PARIS = ZoneInfo("Europe/Paris")
pytestmark = pytest.mark.django_db


@pytest.fixture
def paris_client(client, settings):
    # The DST changes are months ago: widen the window to see them.
    settings.SYNC_STATUS_RETENTION_DAYS = 400
    user = User.objects.create_user("amelie")
    user.groups.add(Group.objects.get(name="Sync Status admins"))
    UserPreference.objects.create(user=user, time_zone="Europe/Paris")
    client.force_login(user)
    return client


@pytest.fixture
def steps_around_the_changes(ingest) -> list[datetime]:
    """A step every 10 minutes, 22:00 to 04:00 UTC, around both changes
    (2026-03-29 01:00 UTC and 2026-10-25 01:00 UTC)."""
    starts = []
    for night in [datetime(2026, 3, 28, 22, tzinfo=UTC), datetime(2026, 10, 24, 22, tzinfo=UTC)]:
        steps = []
        for n in range(37):
            started = night + timedelta(minutes=10 * n)
            starts.append(started)
            steps.append(make_step(started.isoformat(), started_at=started))
        ingest(make_report(*steps, cycle_id=f"night-{night:%m}", started_at=night))
    return starts


def shown_starts(client, since: str, until: str) -> list[datetime]:
    response = client.get(f"/api/v1/sync-steps/?since={since}&until={until}&sort=start")
    assert response.status_code == 200, response.content
    return [datetime.fromisoformat(step["started_at"]) for step in response.json()["results"]]


def page_starts(client, since: str, until: str) -> list[str]:
    response = client.get(
        f"/integration/salesforce/sync-status/?since={since}&until={until}&sort=start"
    )
    return [row.record.step_id for row in response.context["table"].page.object_list]


@pytest.mark.parametrize(
    ("since", "until"),
    [
        # Across the spring change; 02:30 does not exist that night in Paris.
        ("2026-03-29T01:30", "2026-03-29T03:30"),
        ("2026-03-29T02:30", "2026-03-29T04:00"),
        ("2026-03-29T00:00", "2026-03-29T02:15:00"),
        # Across the autumn change; 02:30 happens twice that night in Paris.
        ("2026-10-25T01:30", "2026-10-25T03:30"),
        ("2026-10-25T02:30", "2026-10-25T02:50"),
        ("2026-10-25T02:00:00", "2026-10-25T04:00:00"),
    ],
)
def test_a_paris_user_gets_exactly_the_steps_started_in_the_window(
    paris_client, steps_around_the_changes, since, until
):
    # Ground truth: the local times read as Python's zoneinfo reads them (fold=0).
    low = datetime.fromisoformat(since).replace(tzinfo=PARIS)
    high = datetime.fromisoformat(until).replace(tzinfo=PARIS)
    expected = [start for start in steps_around_the_changes if low <= start < high]
    assert expected, "each window holds steps"

    assert shown_starts(paris_client, since, until) == expected
    assert page_starts(paris_client, since, until) == [start.isoformat() for start in expected]


def test_the_gap_and_the_overlap_resolve_with_fold_0(paris_client, steps_around_the_changes):
    # 02:30 in the spring gap is read with the winter offset: 01:30 UTC.
    assert shown_starts(paris_client, "2026-03-29T02:30", "2026-03-29T02:31:01")[0] == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC
    )
    # 02:30 in the autumn overlap is its first occurrence, summer time: 00:30 UTC.
    assert shown_starts(paris_client, "2026-10-25T02:30", "2026-10-25T02:30:01") == [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    ]


def test_a_paris_user_sees_local_times_on_both_sides_of_the_change(
    paris_client, steps_around_the_changes
):
    response = paris_client.get(
        "/integration/salesforce/sync-status/?since=2026-10-25T02:40&until=2026-10-25T02:10%2B01:00&sort=start"
    )
    shown = [cells[0] for cells in table_cells(response)]
    # 00:40 and 00:50 UTC (summer time), then 01:00 UTC is 02:00 again (winter).
    assert shown == ["2026-10-25 02:40:00", "2026-10-25 02:50:00", "2026-10-25 02:00:00"]
