"""docs/errors.md: the Sync errors page, against a ground truth built in the test."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache

from dashboard.models import UserPreference
from tests.conftest import iso, make_report, make_step, recent
from tests.error_world import SORT_KEYS, bucket_of, in_order, ingest_world, table_cells

URL = "/integration/salesforce/sync-errors/"
pytestmark = pytest.mark.django_db
GROUP_LINK = re.compile(
    r'<td class="error-cell"><a href="/integration/salesforce/sync-errors/(\w{16})/"'
)


@pytest.fixture
def groups(ingest):
    return ingest_world(ingest)


def shown(client, query: str = "") -> list[str]:
    """The groups the page lists for `query`, following its pages, by the key in their link."""
    keys, page = [], 1
    while True:
        response = client.get(f"{URL}?{query}&page={page}")
        assert response.status_code == 200, response.content[:500]
        html = response.content.decode()
        keys += GROUP_LINK.findall(html)
        if 'rel="next"' not in html:
            return keys
        page += 1


def test_it_lists_every_group_most_recently_seen_first(admin_client, groups):
    assert shown(admin_client) == in_order(groups.values())


@pytest.mark.parametrize("sort", list(SORT_KEYS))
def test_it_sorts_each_way_with_ties_broken_by_group_id(admin_client, groups, sort):
    assert shown(admin_client, f"sort={sort}") == in_order(groups.values(), sort)


@pytest.mark.parametrize(
    "query, wanted",
    [
        ("object_type=lead&object_type=custom_object", {"object_type": {"lead", "custom_object"}}),
        ("operation=push_updates", {"operation": {"push_updates"}}),
        ("level=job", {"level": {"job"}}),
        ("level=record", {"level": {"record"}}),
        ("state=ongoing", {"state": {"ongoing"}}),
        ("state=resolved&state=ongoing", {"state": {"ongoing", "resolved"}}),
        (
            "error_code=STRING_TOO_LONG&error_code=REQUEST_LIMIT_EXCEEDED",
            {"error_code": {"STRING_TOO_LONG", "REQUEST_LIMIT_EXCEEDED"}},
        ),
        (
            "object_type=contact&operation=pull_updates&level=record&state=resolved",
            {
                "object_type": {"contact"},
                "operation": {"pull_updates"},
                "level": {"record"},
                "state": {"resolved"},
            },
        ),
    ],
)
def test_it_filters_any_of_each_and_all_together(admin_client, groups, query, wanted):
    rows = [g for g in groups.values() if all(g[key] in values for key, values in wanted.items())]
    assert rows, "the ground truth should have groups for this filter"
    assert shown(admin_client, f"{query}&sort=-failures") == in_order(rows, "-failures")


def test_an_error_code_no_group_has_finds_nothing_rather_than_a_400(admin_client, groups):
    response = admin_client.get(f"{URL}?error_code=GONE_SINCE_LAST_WEEK")
    assert response.status_code == 200
    assert "No error group matches these filters" in response.content.decode()
    assert response.context["chips"][0].label == "Error code: GONE_SINCE_LAST_WEEK"


@pytest.mark.parametrize(
    "text, where",
    [("postal CODE", "template"), ("string_too", "error_code"), ("mpan", "field")],
)
def test_a_search_for_other_text_finds_groups_by_code_template_or_field(
    admin_client, groups, text, where
):
    rows = [g for g in groups.values() if text.lower() in (g[where] or "").lower()]
    assert rows
    assert shown(admin_client, f"q={text}") == in_order(rows)


def test_a_search_for_a_record_id_leads_to_its_timeline(admin_client, groups):
    response = admin_client.get(f"{URL}?q=leadpull_updates-r3")
    assert response.status_code == 302
    assert response["Location"] == "/integration/salesforce/records/leadpull_updates-r3/"


def test_a_search_for_a_record_id_is_exact_and_case_sensitive(admin_client, groups):
    for text in ["LEADPULL_UPDATES-R3", "leadpull_updates-r", "leadpull_updates-r3 x"]:
        response = admin_client.get(f"{URL}?q={text}")
        assert response.status_code == 200, text


def test_a_search_for_the_marketo_id_of_one_record_leads_to_its_timeline(admin_client, groups):
    response = admin_client.get(f"{URL}?q=taskpush_new-m5")
    assert response.status_code == 302
    assert response["Location"] == "/integration/salesforce/records/taskpush_new-r5/"


def test_a_search_for_the_marketo_id_of_several_records_leads_to_their_list(admin_client, groups):
    # Records r0 and r1 of each stream share their Marketo id.
    response = admin_client.get(f"{URL}?q= taskpush_new-m1 ")
    assert response.status_code == 302
    assert response["Location"] == "/integration/salesforce/records/?marketo_id=taskpush_new-m1"


def test_it_treats_empty_parameters_as_absent(admin_client, groups):
    query = "object_type=&operation=&error_code=&level=&state=&q=&sort=&page="
    assert shown(admin_client, query) == in_order(groups.values())


@pytest.mark.parametrize(
    "query, field, message",
    [
        ("object_type=leads", "object_type", "leads is not one of the available choices"),
        ("operation=push", "operation", "push is not one of the available choices"),
        ("level=both", "level", "both is not one of the available choices"),
        ("state=stuck", "state", "stuck is not one of the available choices"),
        ("error_code=A%00B", "error_code", "Null characters are not allowed."),
        ("sort=failures", "sort", "failures is not one of the available choices"),
        ("sort=-start", "sort", "-start is not one of the available choices"),
        ("q=a%00b", "q", "Null characters are not allowed."),
        ("page=two", "page", "Enter a whole number."),
        ("page=0", "page", "greater than or equal to 1"),
    ],
)
def test_it_answers_400_with_the_message_next_to_the_bad_filter(
    admin_client, groups, query, field, message
):
    response = admin_client.get(f"{URL}?{query}")
    assert response.status_code == 400
    html = response.content.decode()
    error_start = html.index(f'data-for="{field}">')
    assert message in unescape(html[error_start : error_start + 300])
    assert "<tbody" not in html


def test_it_shows_no_rows_past_the_last_page(admin_client, groups):
    for page in ["3", "99999999999999999999"]:
        response = admin_client.get(f"{URL}?page={page}")
        assert response.status_code == 200
        assert GROUP_LINK.findall(response.content.decode()) == []


def test_it_pages_fifty_groups_at_a_time(admin_client, groups):
    first = admin_client.get(URL).content.decode()
    assert len(GROUP_LINK.findall(first)) == 50
    assert len(groups) > 50
    assert len(shown(admin_client)) == len(set(shown(admin_client))) == len(groups)


def test_its_query_count_does_not_grow_with_the_groups(
    admin_client, groups, django_assert_max_num_queries
):
    admin_client.get(URL)  # the first view of a session also reads the time zone
    cache.clear()  # drawn again, not served from the last drawing
    # Session, user, two for permissions; the groups' version, the groups,
    # their trends, the error codes.
    with django_assert_max_num_queries(8):
        response = admin_client.get(URL)
    assert len(GROUP_LINK.findall(response.content.decode())) == 50


def main_of(response) -> str:
    """The page below its header (whose forms carry a CSRF token of each response)."""
    return response.content.decode().split("<main>", 1)[1]


def test_one_drawing_serves_every_reader_until_a_report_is_applied(
    admin_client, ingest, django_assert_max_num_queries
):
    error = {"status": "failed", "error": {"message": "Session expired"}}
    ingest(make_report(make_step(**error)))
    first = main_of(admin_client.get(f"{URL}?sort=-failures"))
    # Session, user, two for permissions, the groups' version: none of the
    # groups, their trends or the error codes.
    with django_assert_max_num_queries(5):
        again = main_of(admin_client.get(f"{URL}?sort=-failures"))
    assert again == first
    assert len(GROUP_LINK.findall(first)) == 1

    ingest(make_report(make_step("contact.push_updates", object_type="contact", **error)))

    assert len(GROUP_LINK.findall(admin_client.get(f"{URL}?sort=-failures").content.decode())) == 2


def test_another_query_or_language_is_drawn_for_itself(admin_client, groups):
    english = admin_client.get(f"{URL}?level=job").content.decode()
    french = admin_client.get(f"{URL}?level=job", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    records = admin_client.get(f"{URL}?level=record").content.decode()
    assert set(GROUP_LINK.findall(english)) == set(GROUP_LINK.findall(french))
    assert set(GROUP_LINK.findall(english)).isdisjoint(GROUP_LINK.findall(records))
    assert "Échecs" in french and "Échecs" not in english


def test_it_draws_the_page_itself_when_the_cache_is_down(admin_client, groups, monkeypatch):
    class Down:
        def get(self, *args, **kwargs):
            raise ConnectionError("Redis is down")

        set = get

    monkeypatch.setattr("dashboard.kept.cache", Down())
    response = admin_client.get(URL)
    assert response.status_code == 200
    assert len(GROUP_LINK.findall(response.content.decode())) == 50


def test_its_list_reads_the_groups_not_their_failures(admin_client, groups):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        admin_client.get(f"{URL}?sort=-records&state=ongoing&level=record")
    assert not [q for q in queries.captured_queries if "dashboard_failedrecord" in q["sql"]]


def test_its_rows_show_each_cell_as_an_admin_reads_it(admin_client, ingest, settings):
    settings.TIME_ZONE = "Europe/Paris"
    paris = ZoneInfo("Europe/Paris")
    first, last = recent(60 * 30), recent(60)
    steps = [
        make_step(
            f"s{n}",
            started_at=at,
            object_type="custom_object",
            object_name="Invoice__c",
            status="incomplete",
            ended_at=iso(at + timedelta(seconds=5)),
            failures=[
                {
                    "record_id": f"a0Z{n}{r}",
                    "message": f"Value '{r}' too long (max 80)",
                    "error_code": "STRING_TOO_LONG",
                    "field": "Name",
                }
                for r in range(n + 1)
            ],
        )  # fmt: skip
        for n, at in enumerate([first, last])
    ]
    ingest(*[make_report(step, cycle_id=f"c{n}") for n, step in enumerate(steps)])
    response = admin_client.get(URL)

    def at(moment):
        return moment.astimezone(paris).strftime("%Y-%m-%d %H:%M:%S")

    latest = bucket_of(datetime.now(UTC))
    summary = (
        f"3 failures in 5 days, at most 2 in 4 hours; {2 if bucket_of(last) == latest else 0}"
        f" since {latest.astimezone(paris):%H:%M}."
    )
    assert table_cells(response, "steps groups") == [
        [
            "Custom Object Invoice__c",
            "Pull Updates",
            "STRING_TOO_LONG Value <value> too long (max <n>)",
            "Name",
            "Record",
            "3",
            "3",
            at(first),
            at(last),
            summary,
            "Ongoing",
        ]
    ]
    html = response.content.decode()
    assert 'title="Value &#x27;0&#x27; too long (max 80)"' in html
    assert f'aria-label="{summary}"' in html


def test_it_speaks_french_from_the_browser_language(admin_client, ingest):
    ingest(
        make_report(
            make_step(
                object_type="email_template",
                operation="push_new",
                status="failed",
                error={"message": "Session expired"},
            )
        )
    )
    response = admin_client.get(URL, HTTP_ACCEPT_LANGUAGE="fr")
    assert table_cells(response, "steps groups")[0][:2] == [
        "Modèle d'e-mail",
        "Intégrer les nouveaux",
    ]
    assert '<html lang="fr">' in response.content.decode()


def test_it_marks_a_group_first_seen_less_than_a_day_ago_new(admin_client, ingest):
    old, fresh = recent(60 * 25), recent(60 * 23)
    ingest(
        make_report(
            make_step("a", started_at=old, status="failed", error={"message": "old one"}),
            make_step(
                "b",
                started_at=fresh,
                operation="pull_deletes",
                status="failed",
                error={"message": "fresh one"},
            ),
            started_at=old,
        )
    )
    rows = {row[2]: row[-1] for row in table_cells(admin_client.get(URL), "steps groups")}
    assert rows == {"fresh one": "Ongoing New", "old one": "Ongoing"}


def test_a_group_shown_new_loses_its_badge_a_day_after_it_was_first_seen(
    admin_client, ingest, monkeypatch
):
    from django.utils import timezone

    # Two moments of one trend bucket, so that only the badge's own clock moves.
    moment = bucket_of(datetime.now(UTC)) + timedelta(hours=1)
    first_seen = moment - timedelta(days=1, minutes=-1)
    error = {"status": "failed", "error": {"message": "fresh one"}}
    ingest(make_report(make_step(started_at=first_seen, **error), started_at=first_seen))
    monkeypatch.setattr(timezone, "now", lambda: moment)
    assert table_cells(admin_client.get(URL), "steps groups")[0][-1] == "Ongoing New"

    monkeypatch.setattr(timezone, "now", lambda: moment + timedelta(minutes=2))
    assert table_cells(admin_client.get(URL), "steps groups")[0][-1] == "Ongoing"


def test_it_lists_active_filters_each_with_a_link_removing_it(admin_client, groups):
    response = admin_client.get(f"{URL}?level=job&state=ongoing&q=limit&sort=-failures")
    chips = {chip.label: chip.remove for chip in response.context["chips"]}
    assert chips == {
        "Level: Job": "?state=ongoing&q=limit&sort=-failures",
        "State: Ongoing": "?level=job&q=limit&sort=-failures",
        "Search: limit": "?level=job&state=ongoing&sort=-failures",
    }


def test_its_search_box_and_filter_panel_keep_each_other(admin_client, groups):
    html = admin_client.get(f"{URL}?state=ongoing&q=postal&page=2").content.decode()
    search = html[html.index('<form class="search"') :]
    search = search[: search.index("</form>")]
    assert '<input type="hidden" name="state" value="ongoing">' in search
    assert 'name="q" value="postal"' in search
    assert 'name="page"' not in search
    panel = html[html.index('<form method="get" action="/integration/salesforce/sync-errors/"') :]
    assert '<input type="hidden" name="q" value="postal"' in panel[: panel.index("</form>")]


def test_its_sort_links_offer_the_orders_there_are(admin_client, groups):
    html = admin_client.get(f"{URL}?sort=-failures&page=2").content.decode()
    links = dict(re.findall(r'href="\?([^"]*)">(\w[\w ]*\w)', html))
    assert {query: label for query, label in links.items() if "sort=" in query} == {
        "sort=-records&amp;page=1": "Records",
        "sort=-first_seen&amp;page=1": "First seen",
        "sort=-last_seen&amp;page=1": "Last seen",
        # -failures is in force and goes one way only.
        "sort=-failures&amp;page=1": "Failures",
    }
    assert '<th class="num" aria-sort="descending">' in html


def test_it_labels_the_lead_family_person_when_branded_so(admin_client, ingest, settings):
    settings.SYNC_STATUS_LEAD_LABEL = "Person"
    ingest(make_report(make_step(status="failed", error={"message": "Session expired"})))
    cells = table_cells(admin_client.get(URL), "steps groups")
    assert cells[0][0] == "Person"


def test_its_tab_is_the_current_one_in_the_header(admin_client, groups):
    html = admin_client.get(URL).content.decode()
    assert f'<a href="{URL}" aria-current="page">Sync errors</a>' in html
    assert '<a href="/integration/salesforce/sync-status/">Sync Status</a>' in html


# Transactional: on PostgreSQL the purge detaches partitions outside any transaction.
@pytest.mark.django_db(transaction=True)
def test_it_keeps_to_the_window_of_the_groups(admin_client, ingest, settings):
    from dashboard.storage.retention import purge_expired

    error = {"status": "failed", "error": {"message": "long ago"}}
    ingest(
        make_report(make_step(started_at=recent(60 * 40), **error), started_at=recent(60 * 40)),
        make_report(make_step(status="failed", error={"message": "today"}), cycle_id="new"),
    )
    settings.SYNC_STATUS_RETENTION_DAYS = 1
    purge_expired()
    assert [row[2] for row in table_cells(admin_client.get(URL), "steps groups")] == ["today"]


@pytest.mark.django_db(transaction=True)
def test_a_purge_that_takes_a_group_out_draws_the_page_again(admin_client, ingest, settings):
    from dashboard.storage.retention import purge_expired

    error = {"status": "failed", "error": {"message": "long ago"}}
    ingest(
        make_report(make_step(started_at=recent(60 * 40), **error), started_at=recent(60 * 40)),
        make_report(make_step(status="failed", error={"message": "today"}), cycle_id="new"),
    )
    before = [row[2] for row in table_cells(admin_client.get(URL), "steps groups")]
    settings.SYNC_STATUS_RETENTION_DAYS = 1
    purge_expired()
    assert before == ["today", "long ago"]
    assert [row[2] for row in table_cells(admin_client.get(URL), "steps groups")] == ["today"]


def test_a_user_in_another_time_zone_reads_the_times_in_it(admin_client, ingest):
    started = recent(90)
    ingest(make_report(make_step(started_at=started, status="failed", error={"message": "x"})))
    UserPreference.objects.create(user=User.objects.get(username="ada"), time_zone="Asia/Kolkata")
    local = started.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%Y-%m-%d %H:%M:%S")
    assert table_cells(admin_client.get(URL), "steps groups")[0][7:9] == [local, local]
