"""No input, however extreme, breaks a page: what a holder of an ingest or read
token could send, tried across the whole range it may take (property-based).

Every moment the product accepts is shown, exported and filtered in every
time zone, including those whose offset was once a local mean time with
seconds in it (New York's -04:56:02 in the year 1) and the farthest ahead
of UTC (Kiritimati, +14:00); an export never ends early; a forged cursor,
a far page or a report of a million problems gets a bounded, clear answer.
"""

import base64
import csv
import io
import json
import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dashboard.ingest.tokens import token_create
from dashboard.models import FailedRecord, ReceivedReport, SyncCycle, SyncStep, UserPreference
from dashboard.times import EARLIEST, LATEST
from tests.conftest import iso, make_report, make_step, recent

PAGE = "/integration/salesforce/sync-status/"
EXPORT = "/integration/salesforce/sync-status/export.csv"
API = "/api/v1/sync-steps/"
ADMIN_STEPS = "/admin/dashboard/syncstep/"
ZONES = [
    "UTC",
    "Europe/Paris",
    "Asia/Tokyo",
    "America/New_York",  # LMT -04:56:02 before 1883
    "Pacific/Kiritimati",  # +14:00
    "Pacific/Pago_Pago",  # -11:00, LMT +12:37:12 before 1892
    "Asia/Manila",  # LMT -15:56 before 1845
    "America/Sitka",  # LMT +14:58:47 before 1867
    "Africa/Monrovia",  # -00:44:30 until 1972
    "Asia/Kolkata",
]
# Transactional: on PostgreSQL the export reads through a connection of its
# own (COPY in a thread), which sees only committed rows.
pytestmark = pytest.mark.django_db(transaction=True)
examples = settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=30)
accepted_moments = st.datetimes(
    min_value=EARLIEST.replace(tzinfo=None), max_value=LATEST.replace(tzinfo=None)
).map(lambda moment: moment.replace(tzinfo=UTC))


@pytest.fixture
def superuser_client(client):
    user = User.objects.create_superuser("root", password="pw")
    client.force_login(user)
    return client


@pytest.fixture
def no_server_errors(caplog):
    """Fails the test if any request logged a server error meanwhile."""
    with caplog.at_level(logging.ERROR, logger="django.request"):
        yield
    assert [
        record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR
    ] == []


def in_zone(client, zone: str) -> None:
    """The user's zone is now `zone`, in a new session (the zone is kept in it)."""
    user = User.objects.get(username="root")
    UserPreference.objects.update_or_create(user=user, defaults={"time_zone": zone})
    client.logout()
    client.force_login(user)


def body(response) -> str:
    if response.streaming:
        return b"".join(
            chunk if isinstance(chunk, bytes) else chunk.encode()
            for chunk in response.streaming_content
        ).decode()
    return response.content.decode()


def fresh(client, zone: str):
    """Start an example afresh: nothing stored, the user in `zone`."""
    FailedRecord.objects.all().delete()
    SyncStep.objects.all().delete()
    SyncCycle.objects.all().delete()
    ReceivedReport.objects.all().delete()
    in_zone(client, zone)


@examples
@given(start=accepted_moments, end=accepted_moments, zone=st.sampled_from(ZONES))
@example(start=EARLIEST, end=EARLIEST, zone="America/New_York")
@example(start=LATEST, end=LATEST, zone="Pacific/Kiritimati")
@example(start=EARLIEST, end=LATEST, zone="Asia/Manila")
def test_every_accepted_moment_is_shown_exported_and_listed_in_every_zone(
    superuser_client, ingest, no_server_errors, start, end, zone
):
    fresh(superuser_client, zone)
    start, end = min(start, end), max(start, end)
    failures = [{"record_id": f"r{n}", "message": "x"} for n in range(3)]
    ingest(
        make_report(
            make_step("extreme", started_at=start, ended_at=iso(end), failures=failures),
            make_step("usual", started_at=recent(30), status="failed", error={"message": "y"}),
        )
    )

    for sort in ["-start", "start", "-end", "end"]:
        page = superuser_client.get(f"{PAGE}?sort={sort}")
        assert page.status_code == 200
        local = start.astimezone(ZoneInfo(zone)).isoformat(sep=" ", timespec="seconds")[:19]
        assert local in body(page)

        export = superuser_client.get(f"{EXPORT}?sort={sort}")
        assert export.status_code == 200
        rows = list(csv.DictReader(io.StringIO(body(export))))
        assert sorted(row["record_id"] for row in rows) == ["", "r0", "r1", "r2"]
        extreme = [row for row in rows if row["step_id"] == "extreme"]
        for row in extreme:
            assert datetime.fromisoformat(row["started_at"]) == start
            assert datetime.fromisoformat(row["ended_at"]) == end

        api = superuser_client.get(f"{API}?sort={sort}")
        assert api.status_code == 200
        assert {step["step_id"] for step in api.json()["results"]} == {"extreme", "usual"}

    assert superuser_client.get(ADMIN_STEPS).status_code == 200


moment_texts = st.builds(
    lambda moment, offset: moment.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + offset,
    st.datetimes(),
    st.sampled_from(["", "Z", "+14:00", "-12:00", "+00:00", " 05:30", "-23:59", "+23:59"]),
)


@examples
@given(since=moment_texts, until=moment_texts, zone=st.sampled_from(ZONES))
@example(since="0001-01-01T00:00Z", until="9999-12-31T23:59Z", zone="America/New_York")
@example(since="0001-01-01T00:00Z", until="9999-12-31T23:59Z", zone="Asia/Tokyo")
@example(since="0001-01-02T00:00", until="9999-12-30T23:59", zone="Pacific/Kiritimati")
def test_any_time_filter_gets_rows_or_a_clear_400_in_every_zone(
    superuser_client, no_server_errors, since, until, zone
):
    in_zone(superuser_client, zone)
    query = f"since={since}&until={until}".replace("+", "%2B")
    page = superuser_client.get(f"{PAGE}?{query}")
    assert page.status_code in {200, 400}
    if page.status_code == 400:
        assert 'data-for="since"' in body(page) or 'data-for="until"' in body(page)
    for url in [EXPORT, API]:
        assert superuser_client.get(f"{url}?{query}").status_code == page.status_code


def forged_cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children)
    ),
    max_leaves=10,
)


@examples
@given(
    cursor=st.one_of(
        st.text(max_size=60),
        json_values.map(forged_cursor),
        st.tuples(
            st.sampled_from(["-start", "start", "-end", "end", "x"]),
            st.one_of(st.none(), st.text(max_size=40), accepted_moments.map(datetime.isoformat)),
            st.one_of(st.integers(), st.floats(allow_nan=False), st.none()),
        ).map(lambda parts: forged_cursor(list(parts))),
    ),
    sort=st.sampled_from(["-start", "start", "-end", "end"]),
)
@example(cursor=base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode(), sort="-start")
@example(cursor=base64.urlsafe_b64encode(b"[" * 700 + b"]" * 700).decode(), sort="-start")
@example(cursor=base64.urlsafe_b64encode(b"[" * 100_000).decode(), sort="-start")
@example(cursor=forged_cursor(["-start", "0001-01-01T00:00:00+00:00", 1]), sort="-start")
@example(cursor=forged_cursor(["-start", "2026-01-01T00:00:00", 1]), sort="-start")
@example(cursor=forged_cursor(["-start", None, 10**30]), sort="-start")
def test_any_cursor_gets_a_page_or_a_400_naming_it(
    superuser_client, no_server_errors, cursor, sort
):
    response = superuser_client.get(API, {"cursor": cursor, "sort": sort})
    assert response.status_code in {200, 400}
    if response.status_code == 400:
        assert response.json()["errors"][0]["path"] == "cursor"


@pytest.mark.parametrize("page", ["2000000", str(2**62), str(10**30), "9" * 4000])
def test_a_page_far_past_the_last_shows_no_rows(superuser_client, ingest, no_server_errors, page):
    ingest(make_report(make_step()))
    response = superuser_client.get(f"{PAGE}?page={page}")
    assert response.status_code == 200
    assert "No sync step matches" in body(response)
    api = superuser_client.get(f"{API}?page={page}")
    assert (api.status_code, api.json()["results"]) == (200, [])


# Step shapes, and how many problems each has: every step lacks what it does
# not give (id, object_type, operation, status, started_at) or gives it wrong.
SHAPES = {"{}": 5, '{"id": "x"}': 4, '{"status": "nope"}': 5, '{"started_at": "0000"}': 5}


@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=15)
@given(steps=st.integers(0, 3000), shape=st.sampled_from(sorted(SHAPES)))
@example(steps=200_000, shape="{}")
def test_a_report_of_many_problems_names_the_first_100_and_counts_them_all(
    client, no_server_errors, steps, shape
):
    token = token_create(name=f"engine-{steps}")
    report = make_report() | {"steps": [json.loads(shape)] * steps}
    stored_before = ReceivedReport.objects.count()
    response = client.post(
        "/api/v1/sync-reports/",
        json.dumps(report),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    if steps == 0:
        assert response.status_code == 202
        return
    assert response.status_code == 400
    answer = response.json()
    total = SHAPES[shape] * steps
    assert len(answer["errors"]) == min(100, total)
    assert answer.get("errors_total") == (total if total > 100 else None)
    assert len(response.content) < 20_000
    assert ReceivedReport.objects.count() == stored_before


@pytest.mark.parametrize("offset", ["+23:59", "-23:59", "+15:59", "-00:01"])
def test_a_report_with_any_offset_python_reads_is_applied(ingest, offset):
    # PostgreSQL takes offsets up to ±15:59 only: times are stored in UTC.
    moment = recent(60).astimezone(datetime.strptime(offset, "%z").tzinfo)
    (received,) = ingest(
        make_report(make_step(started_at=None) | {"started_at": moment.isoformat()})
    )
    assert received.status == ReceivedReport.State.APPLIED
    assert SyncStep.objects.get().started_at == moment
