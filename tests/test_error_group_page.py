"""docs/errors.md: an error group's page, against a ground truth built in the test."""

import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache

from dashboard.models import ErrorGroup
from dashboard.syncerrors.signatures import group_key
from tests.conftest import iso, make_report, make_step, recent
from tests.error_world import (
    all_failures,
    bucket_of,
    ingest_failures,
    newest_first,
    table_cells,
)

URL = "/integration/salesforce/sync-errors/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def failures(ingest):
    return ingest_failures(ingest)


@pytest.fixture
def big(ingest) -> list[dict]:
    """One group of 75 failures over three steps, records in no order."""
    rng = random.Random(3)
    cycles = []
    for n in range(3):
        started = recent(60 * (10 * n + 1))
        failures = [
            {"record_id": f"00Q{r:03}", "marketo_id": str(r), "message": "Postal code is required"}
            for r in rng.sample(range(100), 25)
        ]
        step = make_step(started_at=started, status="incomplete", failures=failures)
        cycles.append(make_report(step, cycle_id=f"big-{n}", started_at=started))
    ingest(*cycles)
    return all_failures(cycles)


def shown(client, key: str) -> list[list[str]]:
    """Every failure row the group's page shows, following its pages."""
    rows, page = [], 1
    while True:
        response = client.get(f"{URL}{key}/?page={page}")
        assert response.status_code == 200, response.content[:500]
        rows += table_cells(response, "steps failures")
        if 'rel="next"' not in response.content.decode():
            return rows
        page += 1


def as_shown(failure: dict) -> list[str]:
    status = {"succeeded": "Succeeded", "failed": "Failed", "incomplete": "Incomplete",
              "in_process": "In Process"}[failure["status"]]  # fmt: skip
    return [
        failure["started_at"].strftime("%Y-%m-%d %H:%M:%S"),
        failure["cycle_id"],
        failure["step_id"],
        status,
        failure["record_id"] or "",
        failure["marketo_id"] or "",
        failure["field"] or "",
        failure["message"],
    ]


def biggest_group(failures: list[dict], level: str) -> str:
    counts = Counter(f["group"] for f in failures if (f["record_id"] is None) == (level == "job"))
    return counts.most_common(1)[0][0]


def test_it_lists_a_groups_failed_records_newest_step_first_then_by_record(admin_client, big):
    assert len(big) > 50, "the group spans pages"
    assert shown(admin_client, big[0]["group"]) == [as_shown(f) for f in newest_first(big)]


def test_it_lists_every_record_level_group_in_the_same_order(admin_client, failures):
    for key in {f["group"] for f in failures if f["record_id"]}:
        mine = newest_first([f for f in failures if f["group"] == key])
        assert shown(admin_client, key) == [as_shown(f) for f in mine]


def test_it_lists_the_steps_of_a_job_level_group(admin_client, failures):
    key = biggest_group(failures, "job")
    mine = newest_first([f for f in failures if f["group"] == key])
    assert shown(admin_client, key) == [as_shown(f) for f in mine]


def test_it_shows_the_signature_counts_times_and_state(admin_client, ingest, settings):
    settings.TIME_ZONE = "America/New_York"
    first, last = recent(60 * 30), recent(60 * 2)

    def failure(record_id, message):
        return {"record_id": record_id, "error_code": "STRING_TOO_LONG", "field": "Name",
                "message": message}  # fmt: skip

    custom = {"object_type": "custom_object", "object_name": "Inv__c"}
    ingest(
        make_report(
            make_step("s1", started_at=first, status="incomplete", **custom,
                      failures=[failure("a0Z1", "Value 'ACME' too long (max 80)")]),
            make_step("s2", started_at=last, status="in_process", **custom,
                      failures=[failure("a0Z1", "Value 'Initech' too long (max 80)"),
                                failure("a0Z2", "Value '' too long (max 8)")]),
        )
    )  # fmt: skip
    key = group_key(ErrorGroup.objects.get().id)
    html = admin_client.get(f"{URL}{key}/").content.decode()
    facts = dict(re.findall(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>", html))
    text = {name: unescape(re.sub(r"<[^>]+>", "", value)).strip() for name, value in facts.items()}
    zone = ZoneInfo("America/New_York")
    assert text == {
        "Message template": "Value <value> too long (max <n>)",
        "A message of the group": "Value 'ACME' too long (max 80)",
        "Object": "Custom Object Inv__c",
        "Operation": "Pull Updates",
        "Error code": "STRING_TOO_LONG",
        "Field": "Name",
        "Level": "Record",
        "Failures": "3",
        "Records": "2",
        "First seen": first.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
        "Last seen": last.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
    }
    # A running step reports it: it goes on.
    assert '<span class="badge badge-ongoing">Ongoing</span>' in html


def test_a_group_with_no_failure_since_a_later_final_step_is_resolved(admin_client, ingest):
    ingest(
        make_report(
            make_step("a", started_at=recent(120), status="failed", error={"message": "down"}),
            make_step("b", started_at=recent(60), status="succeeded"),
        )
    )
    key = group_key(ErrorGroup.objects.get().id)
    html = admin_client.get(f"{URL}{key}/").content.decode()
    assert '<span class="badge badge-resolved">Resolved</span>' in html
    assert "<dt>Steps</dt>" in html


def test_its_chart_draws_each_bucket_and_says_it_in_words(admin_client, failures):
    key = biggest_group(failures, "record")
    mine = [f for f in failures if f["group"] == key]
    html = admin_client.get(f"{URL}{key}/").content.decode()
    chart = html[html.index('<figure class="trend-chart">') : html.index("</figure>")]
    bars = re.findall(r'<rect x="\d+" y="\d+" width="\d+" height="(\d+)">', chart)
    numbers = [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', chart)]
    assert len(bars) == len(numbers) == 31
    assert sum(numbers) == len(mine)
    now = bucket_of(datetime.now(UTC))
    buckets = [now - timedelta(hours=4 * (30 - n)) for n in range(31)]
    assert numbers == [sum(1 for f in mine if bucket_of(f["started_at"]) == b) for b in buckets]
    # The tallest bar is the busiest bucket; an empty bucket has no bar.
    assert [int(h) == 100 for h in bars] == [n == max(numbers) for n in numbers]
    assert [int(h) == 0 for h in bars] == [n == 0 for n in numbers]
    assert 'role="img" aria-labelledby="trend-title trend-summary"' in chart
    assert f"{len(mine)} failures in 5 days, at most {max(numbers)} in 4 hours;" in chart


def test_it_links_each_record_to_its_timeline(admin_client, failures):
    key = biggest_group(failures, "record")
    html = admin_client.get(f"{URL}{key}/").content.decode()
    record = newest_first([f for f in failures if f["group"] == key])[0]["record_id"]
    assert f'<a href="/integration/salesforce/records/{record}/"><bdi>{record}</bdi></a>' in html


@pytest.mark.parametrize("key", ["0123456789abcdef", "0123456789ABCDEF", "123", "x" * 16])
def test_an_unknown_or_malformed_group_is_not_found(admin_client, failures, key):
    response = admin_client.get(f"{URL}{key}/")
    assert response.status_code == 404
    assert "No such error group" in response.content.decode()


# Transactional: on PostgreSQL the purge detaches partitions outside any transaction.
@pytest.mark.django_db(transaction=True)
def test_a_group_gone_from_the_window_is_not_found(admin_client, ingest, settings):
    from dashboard.storage.retention import purge_expired

    ingest(
        make_report(
            make_step(started_at=recent(60 * 40), status="failed", error={"message": "old"}),
            started_at=recent(60 * 40),
        )
    )
    key = group_key(ErrorGroup.objects.get().id)
    assert admin_client.get(f"{URL}{key}/").status_code == 200
    settings.SYNC_STATUS_RETENTION_DAYS = 1
    purge_expired()
    assert admin_client.get(f"{URL}{key}/").status_code == 404


def test_a_bad_page_answers_400_with_the_message(admin_client, failures):
    key = biggest_group(failures, "record")
    response = admin_client.get(f"{URL}{key}/?page=two")
    assert response.status_code == 400
    html = response.content.decode()
    assert '<p class="error" data-for="page">Page: Enter a whole number.</p>' in html


def test_it_shows_no_rows_past_the_last_page(admin_client, failures):
    key = biggest_group(failures, "record")
    response = admin_client.get(f"{URL}{key}/?page=50")
    assert response.status_code == 200
    assert table_cells(response, "steps failures") == [["No failure on this page."]]


def test_its_query_count_does_not_grow_with_the_failures(
    admin_client, big, django_assert_max_num_queries
):
    key = big[0]["group"]
    admin_client.get(f"{URL}{key}/")
    cache.clear()  # drawn again, not served from the last drawing
    # Session, user, two for permissions; the group, the version of the
    # groups, its trend, the window, its failures.
    with django_assert_max_num_queries(9):
        response = admin_client.get(f"{URL}{key}/")
    assert len(table_cells(response, "steps failures")) == 50


def test_it_shows_times_in_the_users_time_zone(admin_client, ingest, settings):
    settings.TIME_ZONE = "Asia/Kolkata"
    started = recent(45)
    ingest(
        make_report(
            make_step(started_at=started, ended_at=iso(started + timedelta(seconds=3)),
                      status="incomplete", failures=[{"record_id": "r", "message": "m"}])
        )
    )  # fmt: skip
    key = group_key(ErrorGroup.objects.get().id)
    response = admin_client.get(f"{URL}{key}/")
    local = started.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%Y-%m-%d %H:%M:%S")
    assert table_cells(response, "steps failures")[0][0] == local
    assert "Times in Asia/Kolkata." in response.content.decode()
