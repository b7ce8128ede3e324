"""docs/dashboard.md, "The page keeps itself current": the Sync Status page's
poll, as the page sends it and as htmx would swap its answer in."""

import json
import re
from html import unescape
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group, User

from dashboard.steps.tables import live_row_id
from tests.conftest import make_report, make_step, recent

pytestmark = pytest.mark.django_db

PAGE = "/integration/salesforce/sync-status/"
LIVE = "/integration/salesforce/sync-status/live/"
STRIP = "/integration/salesforce/sync-status/live/health/"
HTMX = {"HTTP_HX_REQUEST": "true"}
CYCLE_START = recent(180)
SWAPPED = re.compile(r"<template>\s*(<(tr|tbody)\b[^>]*>.*?</\2>)\s*</template>", re.S)


def state_of(html: str) -> dict[str, str]:
    """The state the page (or a poll's answer) leaves for the next poll to send."""
    block = html[html.index('<div id="live-state"') :]
    return dict(re.findall(r'name="(live_mark|live_rows)" value="([^"]*)"', block)[:2])


def open_page(client, query: str = "") -> dict[str, str]:
    response = client.get(PAGE + query)
    assert response.status_code == 200
    return state_of(response.content.decode())


def poll(client, state: dict[str, str], query: str = "", **headers):
    """One poll of the page opened with `query`, as htmx sends it: the filters
    in the address, the page's state added."""
    url = LIVE + (query + "&" if query else "?") + urlencode(state)
    return client.get(url, **{**HTMX, **headers})


def swaps(response) -> list[tuple[str, str, str]]:
    """Each swap of a poll's answer: how (an htmx out-of-band swap), the row's
    id, and the row's text as a reader sees it."""
    found = []
    for fragment, _ in SWAPPED.findall(response.content.decode()):
        how = re.search(r'hx-swap-oob="([^"]*)"', fragment)[1]
        row_id = re.search(r'<tr id="([^"]*)"', fragment)[1]
        text = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip())
        found.append((how, row_id, text))
    return found


def report(*steps: dict) -> dict:
    """A report of the one cycle these tests follow, always with the same
    start: a cycle re-dated by a report is rebuilt, every step of it written."""
    return make_report(*steps, started_at=CYCLE_START)


def row(cycle_id: str, step_id: str) -> str:
    return "step-" + live_row_id(cycle_id, step_id)


def test_page_one_in_the_default_order_polls_with_its_filters(admin_client, ingest):
    ingest(report(make_step()))
    html = admin_client.get(PAGE + "?status=failed&status=succeeded").content.decode()
    assert "/static/vendor/htmx/htmx.min.js" in html
    assert f'hx-get="{LIVE}?status=failed&amp;status=succeeded"' in html
    assert "every 15s [document.visibilityState === 'visible']" in html
    assert state_of(html)["live_rows"] == live_row_id("cyc-1", "lead.pull_updates")


@pytest.mark.parametrize("query", ["?page=2", "?sort=start", "?sort=-end", "?sort=end"])
def test_no_other_page_or_order_polls_or_loads_htmx(admin_client, ingest, query):
    ingest(report(make_step()))
    html = admin_client.get(PAGE + query).content.decode()
    assert 'id="live"' not in html
    assert "htmx" not in html
    assert poll(admin_client, {"live_mark": "0", "live_rows": ""}, query).status_code == 400


def test_the_page_does_not_poll_when_the_setting_is_zero(admin_client, settings):
    settings.SYNC_STATUS_LIVE_SECONDS = 0
    assert 'id="live"' not in admin_client.get(PAGE).content.decode()


def test_the_setting_sets_how_often_the_page_polls(admin_client, settings):
    settings.SYNC_STATUS_LIVE_SECONDS = 2
    assert "every 2s [" in admin_client.get(PAGE).content.decode()


def test_it_answers_204_when_no_report_was_applied_since(admin_client, ingest):
    ingest(report(make_step()))
    response = poll(admin_client, open_page(admin_client))
    assert (response.status_code, response.content) == (204, b"")


def test_a_new_step_appears_at_the_top_and_the_next_poll_is_quiet(admin_client, ingest):
    ingest(report(make_step("lead.pull_updates", started_at=recent(30))))
    state = open_page(admin_client)
    ingest(report(make_step("contact.pull_updates", started_at=recent(10), object_type="contact")))
    response = poll(admin_client, state)
    assert response.status_code == 200
    [(how, row_id, text)] = swaps(response)
    assert (how, row_id) == ("afterbegin:#live-rows", row("cyc-1", "contact.pull_updates"))
    assert "Contact Pull Updates Succeeded" in text
    after = state_of(response.content.decode())
    assert after["live_rows"].split(".") == [
        live_row_id("cyc-1", "contact.pull_updates"),
        live_row_id("cyc-1", "lead.pull_updates"),
    ]
    assert poll(admin_client, after).status_code == 204


def test_a_poll_that_brought_changes_has_the_health_strip_refresh_itself(admin_client, ingest):
    ingest(report(make_step("lead.pull_updates", started_at=recent(30))))
    state = open_page(admin_client)
    assert "HX-Trigger-After-Settle" not in poll(admin_client, state).headers
    ingest(report(make_step("contact.pull_updates", started_at=recent(10), object_type="contact")))

    assert json.loads(poll(admin_client, state).headers["HX-Trigger-After-Settle"]) == {
        "health-changed": {}
    }


def steps_of_the_last_day(html: str) -> str:
    return re.search(r"<th scope=\"row\">Steps</th><td class=\"num\">([^<]*)</td>", html)[1]


def test_the_health_strip_refreshes_itself_with_the_figures_of_now(admin_client, ingest):
    ingest(report(make_step("lead.pull_updates", started_at=recent(30))))
    page = admin_client.get(PAGE).content.decode()
    assert f'hx-get="{STRIP}"' in page
    assert "health-changed from:body" in page
    assert steps_of_the_last_day(page) == "1"
    ingest(report(make_step("contact.pull_updates", started_at=recent(10), object_type="contact")))

    strip = admin_client.get(STRIP, **HTMX).content.decode()

    assert 'id="health"' in strip
    assert steps_of_the_last_day(strip) == "2"


def test_the_strip_of_a_page_that_does_not_poll_stays_still(admin_client, ingest):
    ingest(report(make_step()))
    assert f'hx-get="{STRIP}"' not in admin_client.get(PAGE + "?page=2").content.decode()


def test_the_strips_address_opened_in_a_browser_leads_to_the_page(admin_client):
    assert admin_client.get(STRIP).url == PAGE


def test_a_new_step_goes_where_its_start_puts_it(admin_client, ingest):
    ingest(report(make_step("a", started_at=recent(10)), make_step("c", started_at=recent(30))))
    state = open_page(admin_client)
    ingest(report(make_step("b", started_at=recent(20))))
    [(how, row_id, _)] = swaps(poll(admin_client, state))
    assert (how, row_id) == (f"afterend:#{row('cyc-1', 'a')}", row("cyc-1", "b"))


def test_a_running_step_that_succeeds_changes_in_place(admin_client, ingest):
    running = make_step("lead.pull_updates", status="in_process", started_at=recent(20))
    ingest(report(running, make_step("older", started_at=recent(40))))
    state = open_page(admin_client)
    finished = {**running, "status": "succeeded", "ended_at": recent(5).isoformat()}
    finished["counts"] = {"new": 3, "updated": 1200, "failed": 0, "skipped": 4}
    ingest(report(finished))
    [(how, row_id, text)] = swaps(poll(admin_client, state))
    assert (how, row_id) == ("true", row("cyc-1", "lead.pull_updates"))
    assert "Succeeded 3 1,200 — 0 4" in text


def test_the_filters_stay_applied(admin_client, ingest):
    ingest(report(make_step("old failure", status="failed", started_at=recent(50))))
    state = open_page(admin_client, "?status=failed")
    ingest(
        report(
            make_step("new success", status="succeeded", started_at=recent(10)),
            make_step("new failure", status="failed", started_at=recent(20)),
        )
    )
    assert [
        (how, row_id) for how, row_id, _ in swaps(poll(admin_client, state, "?status=failed"))
    ] == [("afterbegin:#live-rows", row("cyc-1", "new failure"))]


def test_a_step_that_no_longer_matches_the_filters_leaves_the_page(admin_client, ingest):
    running = make_step("running", status="in_process", started_at=recent(20))
    ingest(report(running, make_step("other", status="in_process", started_at=recent(30))))
    state = open_page(admin_client, "?status=in_process")
    ingest(report({**running, "status": "succeeded"}))
    assert [
        (how, row_id) for how, row_id, _ in swaps(poll(admin_client, state, "?status=in_process"))
    ] == [("delete", row("cyc-1", "running"))]


def test_the_page_keeps_its_size_as_new_steps_push_old_ones_off(admin_client, ingest):
    ingest(report(*[make_step(f"s{n:02}", started_at=recent(100 + n)) for n in range(50)]))
    state = open_page(admin_client)
    ingest(
        report(make_step("new 1", started_at=recent(2)), make_step("new 2", started_at=recent(1)))
    )
    response = poll(admin_client, state)
    assert [(how, row_id) for how, row_id, _ in swaps(response)] == [
        ("delete", row("cyc-1", "s48")),
        ("delete", row("cyc-1", "s49")),
        ("afterbegin:#live-rows", row("cyc-1", "new 2")),
        (f"afterend:#{row('cyc-1', 'new 2')}", row("cyc-1", "new 1")),
    ]
    assert len(state_of(response.content.decode())["live_rows"].split(".")) == 50


def test_a_rebuilt_cycle_keeps_its_rows_and_changes_them_in_place(admin_client, ingest):
    started = recent(120)
    ingest(make_report(make_step("a", started_at=recent(30)), started_at=started))
    state = open_page(admin_client)
    # Re-dating the cycle rebuilds its steps under new keys; their rows stay.
    ingest(make_report(make_step("a", started_at=recent(30)), started_at=recent(110)))
    assert [(how, row_id) for how, row_id, _ in swaps(poll(admin_client, state))] == [
        ("true", row("cyc-1", "a"))
    ]


def test_the_first_step_replaces_the_empty_table_message(admin_client, ingest):
    state = open_page(admin_client)
    ingest(report(make_step()))
    html = poll(admin_client, state).content.decode()
    assert '<tbody id="live-rows" hx-swap-oob="true">' in html
    assert f'<tr id="{row("cyc-1", "lead.pull_updates")}">' in html


def test_it_answers_in_the_readers_language(admin_client, ingest):
    state = open_page(admin_client)
    ingest(report(make_step(counts={"updated": 1200})))
    html = poll(admin_client, state, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Extraire les mises à jour" in html and "1\xa0200" in html


@pytest.mark.parametrize(
    "params",
    [
        {"live_mark": "", "live_rows": ""},
        {"live_mark": "-1", "live_rows": ""},
        {"live_mark": "1e3", "live_rows": ""},
        {"live_mark": "9" * 40, "live_rows": ""},
        {"live_mark": "0", "live_rows": "not-a-row"},
        {"live_mark": "0", "live_rows": "abcdefabcdef.abcdefabcdef"},
        {"live_mark": "0", "live_rows": ".".join(f"{n:012x}" for n in range(51))},
        {"live_mark": "0", "live_rows": "", "status": "bogus"},
        {"live_mark": "0", "live_rows": "", "since": "yesterday"},
        {"live_mark": "0", "live_rows": "", "page": "2"},
    ],
)
def test_a_poll_it_cannot_read_answers_400(admin_client, ingest, params):
    ingest(report(make_step()))
    assert admin_client.get(LIVE, params, **HTMX).status_code == 400


def test_a_mark_this_database_never_gave_reloads_the_page(admin_client, ingest):
    ingest(report(make_step()))
    response = poll(admin_client, {"live_mark": "999999999999999999", "live_rows": ""})
    assert (response.status_code, response["HX-Refresh"]) == (200, "true")


def test_the_polls_address_opened_in_a_browser_leads_to_the_page(admin_client):
    response = admin_client.get(LIVE + "?status=failed&live_mark=3&live_rows=")
    assert (response.status_code, response["Location"]) == (302, PAGE + "?status=failed")


def test_a_poll_after_the_session_ended_reloads_the_page_into_the_login_form(client):
    response = poll(client, {"live_mark": "0", "live_rows": ""})
    assert (response.status_code, response["HX-Refresh"]) == (200, "true")


@pytest.fixture
def admin_of_the_group(client):
    """A user as most are: the permission through the admins' group, not a superuser."""
    user = User.objects.create_user("ada")
    user.groups.add(Group.objects.get(name="Sync Status admins"))
    client.force_login(user)
    client.get(PAGE)  # the first view of a session also reads the time zone
    return client


def test_a_quiet_poll_reads_one_row_past_the_session(
    admin_of_the_group, ingest, django_assert_max_num_queries
):
    ingest(report(*[make_step(f"s{n}") for n in range(60)]))
    state = open_page(admin_of_the_group)
    # Session, user, two for permissions, then the live mark.
    with django_assert_max_num_queries(5):
        assert poll(admin_of_the_group, state).status_code == 204


def test_a_poll_with_changes_reads_page_one_then_draws_what_changed_in_one_query(
    admin_of_the_group, ingest, django_assert_max_num_queries
):
    ingest(report(*[make_step(f"s{n}", status="in_process") for n in range(60)]))
    state = open_page(admin_of_the_group)
    finished = [make_step(f"s{n}", status="failed", error={"message": "x"}) for n in range(60)]
    ingest(report(*finished, make_step("new", started_at=recent(1))))
    # Session, user, two for permissions, the live mark, page 1's ids, then
    # the rows that changed or came in: never a query a row.
    with django_assert_max_num_queries(7):
        response = poll(admin_of_the_group, state)
    swapped = [how for how, _, _ in swaps(response)]
    assert swapped == ["delete"] + ["true"] * 49 + ["afterbegin:#live-rows"]
