"""docs/errors.md: a record's timeline, and the records of a Marketo id."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache

from dashboard.models import ErrorGroup
from dashboard.syncerrors.signatures import group_key
from tests.conftest import make_report, make_step, recent
from tests.error_world import RECORD, ingest_record_story, table_cells

URL = "/integration/salesforce/records/"
pytestmark = pytest.mark.django_db
MINUTE = timedelta(minutes=1)


@pytest.fixture
def story(ingest):
    return ingest_record_story(ingest)


def at(moment, zone="UTC") -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def test_it_says_where_the_record_still_fails_and_since_when_it_does_not(admin_client, story):
    t = story
    response = admin_client.get(f"{URL}{RECORD}/")
    assert response.status_code == 200
    assert table_cells(response, "steps streams") == [
        ["Contact", "Push Updates", "Still failing", at(t["t5"] + MINUTE)],
        ["Custom Object Quote__c", "Pull Updates", "Still failing", at(t["t3"] + MINUTE)],
        ["Lead", "Pull Updates", f"Not failing since {at(t['t3'])}", at(t["t2"])],
        ["Custom Object Invoice__c", "Pull Updates", "Still failing", at(t["t1"] + MINUTE)],
    ]


def test_it_lists_every_failure_of_the_record_most_recent_first(admin_client, story):
    t = story
    code = "FIELD_CUSTOM_VALIDATION_EXCEPTION"

    def row(moment, obj, operation, cycle, step, status, field, message):
        return [at(moment), obj, operation, cycle, step, status, code, field, message, "Group"]

    assert table_cells(admin_client.get(f"{URL}{RECORD}/"), "steps failures") == [
        row(t["t5"] + MINUTE, "Contact", "Push Updates", "c5", "contact", "In Process", "City",
            "Postal code is required"),
        row(t["t3"] + MINUTE, "Custom Object Quote__c", "Pull Updates", "c3", "quote",
            "Incomplete", "PostalCode", "Locked"),
        row(t["t2"] + MINUTE, "Contact", "Push Updates", "c2", "contact", "Incomplete", "City",
            "Postal code is required"),
        row(t["t2"], "Lead", "Pull Updates", "c2", "lead", "Incomplete", "PostalCode",
            "Postal code is required"),
        row(t["t1"] + MINUTE, "Custom Object Invoice__c", "Pull Updates", "c1", "inv",
            "In Process", "PostalCode", "Bad value"),
        row(t["t1"], "Lead", "Pull Updates", "c1", "lead", "Incomplete", "PostalCode",
            "Postal code is required"),
    ]  # fmt: skip


def test_each_failure_links_to_its_group(admin_client, story):
    html = admin_client.get(f"{URL}{RECORD}/").content.decode()
    group = ErrorGroup.objects.get(object_type="custom_object", object_name="Quote__c")
    link = f'<a href="/integration/salesforce/sync-errors/{group_key(group.id)}/" title="Locked">'
    assert link in html


def test_it_shows_times_in_the_users_time_zone(admin_client, story, settings):
    settings.TIME_ZONE = "Pacific/Chatham"
    response = admin_client.get(f"{URL}{RECORD}/")
    assert table_cells(response, "steps failures")[0][0] == at(
        story["t5"] + MINUTE, "Pacific/Chatham"
    )
    lead = table_cells(response, "steps streams")[2]
    assert lead[2:] == [
        f"Not failing since {at(story['t3'], 'Pacific/Chatham')}",
        at(story["t2"], "Pacific/Chatham"),
    ]


def test_a_record_id_is_exact_and_case_sensitive(admin_client, story):
    response = admin_client.get(f"{URL}{RECORD.lower()}/")
    assert [row[-2] for row in table_cells(response, "steps failures")] == ["Other"]
    assert admin_client.get(f"{URL}{RECORD[:-1]}/").status_code == 404


def test_a_record_without_failure_in_the_window_is_a_page_saying_so(admin_client, story):
    response = admin_client.get(f"{URL}00Q-never-failed/")
    assert response.status_code == 404
    assert "No failure of the record \u206800Q-never-failed\u2069 in the last 5 days." in (
        response.content.decode()
    )


@pytest.mark.parametrize("record_id", ["a/b/", "a?b=c#d", "x/../y", "line\nbreak", "東京 ✓", "%2F"])
def test_any_record_id_a_report_may_send_has_a_timeline_its_links_reach(
    admin_client, ingest, record_id
):
    ingest(
        make_report(
            make_step(status="incomplete", failures=[{"record_id": record_id, "message": "m"}])
        )
    )
    group = group_key(ErrorGroup.objects.get().id)
    html = admin_client.get(f"/integration/salesforce/sync-errors/{group}/").content.decode()
    href = html[html.index('href="/integration/salesforce/records/') + 6 :].split('"')[0]
    response = admin_client.get(href)
    assert response.status_code == 200, href
    assert table_cells(response, "steps failures")[0][-2] == "m"


def test_a_bad_page_answers_400_and_a_page_past_the_last_shows_no_rows(admin_client, story):
    response = admin_client.get(f"{URL}{RECORD}/?page=-1")
    assert response.status_code == 400
    assert 'data-for="page">Page: Ensure this value is greater than' in response.content.decode()
    past = admin_client.get(f"{URL}{RECORD}/?page=2")
    assert table_cells(past, "steps failures") == [["No failure on this page."]]


def test_its_query_count_does_not_grow_with_the_failures(
    admin_client, ingest, django_assert_max_num_queries
):
    ingest(
        *[
            make_report(
                make_step(f"s{n}", started_at=recent(600 - n), status="incomplete",
                          operation=["pull_updates", "push_updates"][n % 2],
                          failures=[{"record_id": RECORD, "message": f"Failure {n}"}]),
                cycle_id=f"c{n}", started_at=recent(600 - n),
            )
            for n in range(60)
        ]
    )  # fmt: skip
    admin_client.get(f"{URL}{RECORD}/")
    cache.clear()  # drawn again, not served from the last drawing
    # Session, user, two for permissions; the version of the groups; where it
    # fails (the window, the last failures, the streams, the first final
    # steps), its failures (the window, the page, their groups).
    with django_assert_max_num_queries(12):
        response = admin_client.get(f"{URL}{RECORD}/")
    assert len(table_cells(response, "steps failures")) == 50


# --- The records of a Marketo id ------------------------------------------------


def test_the_records_of_a_marketo_id_are_listed_most_recent_failure_first(admin_client, ingest):
    first, last = recent(120), recent(60)
    ingest(
        make_report(
            make_step("a", started_at=first, status="incomplete",
                      failures=[{"record_id": "00Q-a", "marketo_id": "42", "message": "m"},
                                {"record_id": "00Q-b", "marketo_id": "42", "message": "m"}]),
            make_step("b", started_at=last, status="incomplete",
                      failures=[{"record_id": "00Q-b", "marketo_id": "42", "message": "m"},
                                {"record_id": "00Q-c", "marketo_id": "43", "message": "m"}]),
        )
    )  # fmt: skip
    response = admin_client.get(f"{URL}?marketo_id=42")
    assert response.status_code == 200
    assert table_cells(response, "steps records") == [
        ["00Q-b", "2", at(last)],
        ["00Q-a", "1", at(first)],
    ]
    assert f'<a href="{URL}00Q-a/"><bdi>00Q-a</bdi></a>' in response.content.decode()


def test_the_only_record_of_a_marketo_id_is_shown_at_once(admin_client, story):
    response = admin_client.get(f"{URL}?marketo_id=1048576")
    assert (response.status_code, response["Location"]) == (302, f"{URL}{RECORD}/")


def test_a_marketo_id_of_no_failing_record_is_a_page_saying_so(admin_client, story):
    response = admin_client.get(f"{URL}?marketo_id=<b>7</b>")
    assert response.status_code == 404
    assert (
        "No record with the Marketo ID \u2068&lt;b&gt;7&lt;/b&gt;\u2069 failed in the last 5 days."
        in (response.content.decode())
    )


@pytest.mark.parametrize("query", ["", "?marketo_id=", "?marketo_id=a%00b"])
def test_the_records_page_without_a_readable_marketo_id_answers_400(admin_client, query):
    response = admin_client.get(f"{URL}{query}")
    assert response.status_code == 400
    assert '<p class="error" data-for="marketo_id">Marketo ID: ' in response.content.decode()


def test_a_report_applied_since_the_last_reader_shows_at_once(admin_client, ingest):
    failure = {"record_id": "0035e00000NEW", "message": "First"}
    step = make_step(status="incomplete", failures=[failure])
    ingest(make_report(step, cycle_id="c1", started_at=recent(30)))
    assert len(table_cells(admin_client.get(f"{URL}0035e00000NEW/"), "steps failures")) == 1

    again = make_step(status="incomplete", started_at=recent(5), failures=[failure])
    ingest(make_report(again, cycle_id="c2", started_at=recent(5)))

    assert len(table_cells(admin_client.get(f"{URL}0035e00000NEW/"), "steps failures")) == 2
