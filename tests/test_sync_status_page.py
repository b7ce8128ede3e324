"""docs/dashboard.md: the Sync Status page, against a ground truth built in the test."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User

from dashboard.models import UserPreference
from tests.conftest import expected_order, iso, make_report, make_step, recent

URL = "/integration/salesforce/sync-status/"
pytestmark = pytest.mark.django_db


def shown(client, query: str = "") -> list[tuple[str, str]]:
    """Every row the page shows for `query`, following its pages."""
    rows, page = [], 1
    while True:
        response = client.get(f"{URL}?{query}&page={page}")
        assert response.status_code == 200, response.content[:500]
        table = response.context["table"]
        rows += [
            (row.record.cycle.external_id, row.record.step_id) for row in table.page.object_list
        ]
        if not table.page.has_next():
            return rows
        page += 1


def matching(truth, **wanted) -> list[dict]:
    return [row for row in truth if all(row[key] in values for key, values in wanted.items())]


def test_it_shows_the_retention_window_newest_start_first(admin_client, world):
    assert shown(admin_client) == expected_order(world, "-start")


@pytest.mark.parametrize("sort", ["-start", "start", "-end", "end"])
def test_it_sorts_with_running_steps_placed_and_ties_broken(admin_client, world, sort):
    assert shown(admin_client, f"sort={sort}") == expected_order(world, sort)


@pytest.mark.parametrize(
    "query, wanted",
    [
        ("status=failed", {"status": ["failed"]}),
        ("status=failed&status=cleaned_up", {"status": ["failed", "cleaned_up"]}),
        ("object_type=lead&object_type=custom_object", {"object_type": ["lead", "custom_object"]}),
        ("operation=push_updates", {"operation": ["push_updates"]}),
        (
            "object_type=contact&operation=pull_updates&operation=sync_schema&status=succeeded",
            {
                "object_type": ["contact"],
                "operation": ["pull_updates", "sync_schema"],
                "status": ["succeeded"],
            },
        ),
    ],
)
def test_it_filters_by_codes_any_of_each_and_all_together(admin_client, world, query, wanted):
    rows = matching(world, **wanted)
    assert rows, "the ground truth should have rows for this filter"
    assert shown(admin_client, query) == expected_order(rows)


def test_it_filters_by_start_window_in_the_users_time_zone(admin_client, world):
    UserPreference.objects.create(
        user=User.objects.get(username="ada"), time_zone="America/New_York"
    )
    zone = ZoneInfo("America/New_York")
    since = datetime.now(zone).replace(tzinfo=None, second=0, microsecond=0) - timedelta(days=2)
    until = since + timedelta(hours=30)
    rows = [
        row
        for row in world
        if since.replace(tzinfo=zone) <= row["started_at"] < until.replace(tzinfo=zone)
    ]
    query = f"since={since:%Y-%m-%dT%H:%M}&until={until:%Y-%m-%dT%H:%M:%S}"
    assert rows
    assert shown(admin_client, query) == expected_order(rows)


@pytest.mark.parametrize("offset", ["Z", "+00:00", " 00:00", "-05:00", "+05:30"])
def test_it_reads_an_explicit_offset_including_a_plus_sent_as_a_space(admin_client, world, offset):
    since = datetime.now(UTC) - timedelta(days=1)
    delta = {"Z": 0, "+00:00": 0, " 00:00": 0, "-05:00": -5 * 60, "+05:30": 5 * 60 + 30}[offset]
    local = (since + timedelta(minutes=delta)).replace(microsecond=0, tzinfo=None)
    rows = [row for row in world if row["started_at"] >= since.replace(microsecond=0)]
    query = f"since={local:%Y-%m-%dT%H:%M:%S}{offset}".replace("+", "%2B")
    assert shown(admin_client, query) == expected_order(rows)


def test_it_treats_empty_parameters_as_absent(admin_client, world):
    query = "since=&until=&object_type=&operation=&status=&sort=&page="
    response = admin_client.get(f"{URL}?{query}")
    assert response.status_code == 200
    assert shown(admin_client, "status=&object_type=") == expected_order(world)


def test_it_never_shows_a_cycle_older_than_the_retention_whatever_the_filter(admin_client, world):
    long_ago = datetime.now(UTC) - timedelta(days=6, hours=1)
    query = (
        f"since={long_ago:%Y-%m-%dT%H:%M}Z&until={(long_ago + timedelta(hours=12)):%Y-%m-%dT%H:%M}Z"
    )
    assert shown(admin_client, query) == []


@pytest.mark.parametrize(
    "query, field, message",
    [
        (
            "status=exploded",
            "status",
            "Select a valid choice. exploded is not one of the available choices.",
        ),
        ("object_type=leads", "object_type", "leads is not one of the available choices"),
        ("operation=push", "operation", "push is not one of the available choices"),
        ("since=yesterday", "since", "Enter a date and time as YYYY-MM-DDTHH:MM"),
        ("until=2026-02-30T10:00", "until", "Enter a date and time as YYYY-MM-DDTHH:MM"),
        ("sort=newest", "sort", "newest is not one of the available choices"),
        ("page=two", "page", "Enter a whole number."),
        ("page=0", "page", "greater than or equal to 1"),
    ],
)
def test_it_answers_400_with_the_message_next_to_the_bad_filter(
    admin_client, world, query, field, message
):
    response = admin_client.get(f"{URL}?{query}")
    assert response.status_code == 400
    html = response.content.decode()
    assert f'data-for="{field}">' in html
    error_start = html.index(f'data-for="{field}">')
    assert message in html[error_start : error_start + 300]
    assert response.context["table"] is None


def test_it_shows_no_rows_past_the_last_page(admin_client, world):
    response = admin_client.get(f"{URL}?page=999")
    assert response.status_code == 200
    assert list(response.context["table"].page.object_list) == []


def test_it_pages_without_repeating_or_skipping_rows(admin_client, world):
    rows = shown(admin_client)
    assert len(rows) == len(set(rows)) == len(world)
    assert len(world) > 50, "the ground truth spans several pages"


def test_its_query_count_does_not_grow_with_the_page_size(
    admin_client, ingest, django_assert_max_num_queries
):
    ingest(
        make_report(
            *[make_step(f"s{n}", status="failed", error={"message": "x"}) for n in range(120)]
        )
    )
    admin_client.get(URL)  # the first view of a session also reads the time zone
    # Session, user, two for permissions, the live mark, the page's one query
    # (never one per row), and the health strip's six (tests/test_health_figures.py).
    with django_assert_max_num_queries(12):
        response = admin_client.get(URL)
    assert len(response.context["table"].page.object_list) == 50


def test_it_shows_unreported_counters_as_a_dash_not_zero(admin_client, ingest):
    ingest(make_report(make_step(counts={"new": 0, "updated": 12})))
    cells = row_cells(admin_client.get(URL))
    assert cells[5:] == ["0", "12", "—", "—", "—"]


def test_it_shows_the_api_name_of_a_custom_object(admin_client, ingest):
    ingest(make_report(make_step(object_type="custom_object", object_name="Invoice__c")))
    assert (
        'Custom Object <code class="api-name">Invoice__c</code>'
        in admin_client.get(URL).content.decode()
    )


def test_it_shows_a_job_level_error_with_its_status(admin_client, ingest):
    error = {"code": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}
    ingest(make_report(make_step(status="failed", error=error)))
    html = admin_client.get(URL).content.decode()
    assert '<span class="badge badge-failed">Failed</span>' in html
    assert '<summary title="TotalRequests Limit exceeded.">REQUEST_LIMIT_EXCEEDED</summary>' in html


def test_it_labels_the_lead_family_person_when_branded_so(admin_client, ingest, settings):
    settings.SYNC_STATUS_LEAD_LABEL = "Person"
    ingest(
        make_report(make_step("a", object_type="lead"), make_step("b", object_type="lead_status"))
    )
    html = admin_client.get(URL).content.decode()
    assert ">Person<" in html and ">Person Status<" in html
    assert ">Lead<" not in html


def test_it_shows_times_in_the_users_time_zone(admin_client, ingest):
    started = recent(60)
    ingest(make_report(make_step(started_at=started, ended_at=iso(started + timedelta(seconds=5)))))
    UserPreference.objects.create(user=User.objects.get(username="ada"), time_zone="Asia/Kolkata")
    cells = row_cells(admin_client.get(URL))
    local = started.astimezone(ZoneInfo("Asia/Kolkata"))
    assert cells[:2] == [
        local.strftime("%Y-%m-%d %H:%M:%S"),
        (local + timedelta(seconds=5)).strftime("%Y-%m-%d %H:%M:%S"),
    ]


def test_it_speaks_french_from_the_browser_language(admin_client, ingest):
    ingest(
        make_report(make_step(status="failed", object_type="email_template", operation="push_new"))
    )
    response = admin_client.get(URL, HTTP_ACCEPT_LANGUAGE="fr")
    html = response.content.decode()
    for header in [
        "Début",
        "Fin",
        "Objet",
        "Opération",
        "Statut",
        "Nouveau",
        "Mis à jour",
        "Supprimé",
        "Échecs",
        "Ignoré",
    ]:
        assert header in html
    assert "Modèle d&#x27;e-mail" in html or "Modèle d'e-mail" in html
    assert "Intégrer les nouveaux" in html
    assert '<span class="badge badge-failed">Échec</span>' in html


def test_its_export_link_carries_the_current_filters(admin_client, world):
    html = admin_client.get(f"{URL}?status=failed&sort=end&page=2").content.decode()
    assert (
        'href="/integration/salesforce/sync-status/export.csv?status=failed&amp;sort=end"' in html
    )


def test_it_lists_active_filters_each_with_a_link_removing_it(admin_client, world):
    response = admin_client.get(f"{URL}?status=failed&status=incomplete&object_type=lead")
    chips = {chip.label: chip.remove for chip in response.context["chips"]}
    assert chips == {
        "Object: Lead": "?status=failed&status=incomplete",
        "Status: Failed": "?status=incomplete&object_type=lead",
        "Status: Incomplete": "?status=failed&object_type=lead",
    }


def row_cells(response) -> list[str]:
    """The text of the first table row's cells."""
    import re

    html = response.content.decode()
    body = html[html.index("<tbody") :]
    row = body[body.index("<tr") : body.index("</tr>")]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]


def test_its_filtered_query_is_not_distinct(admin_client, ingest):
    # DISTINCT would make the database sort every matching row before the LIMIT.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ingest(make_report(make_step(status="failed")))
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(f"{URL}?status=failed&status=incomplete&object_type=lead")
    steps_sql = [q["sql"] for q in queries.captured_queries if '"dashboard_syncstep"' in q["sql"]]
    assert steps_sql and not any("DISTINCT" in sql for sql in steps_sql)


def table_cells(response) -> list[list[str]]:
    """The text of every cell of the table's body, row by row, as a reader sees it."""
    import re
    from html import unescape

    html = response.content.decode()
    body = html[html.index("<tbody") : html.index("</tbody>")]
    return [
        [
            unescape(re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", cell)).strip())
            for cell in cells
        ]
        for cells in (
            re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
        )
    ]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_its_rows_show_each_cell_as_an_admin_reads_it(admin_client, ingest, settings, language):
    settings.TIME_ZONE = "Europe/Paris"
    paris = ZoneInfo("Europe/Paris")
    started = recent(50)
    ended = started + timedelta(minutes=20)
    ingest(
        make_report(
            make_step(
                "plain",
                started_at=started,
                counts={"new": 1234567, "updated": 0, "failed": 3},
                failures=[{"record_id": "00Q1", "message": "Postal code is required"}],
            ),
            make_step("running", started_at=started - timedelta(minutes=1), status="in_process"),
            make_step(
                "custom",
                started_at=started - timedelta(minutes=2),
                object_type="custom_object",
                object_name='Invoice__c"><script>x</script>',
                status="failed",
                ended_at=iso(ended),
                error={"code": "<b>CODE</b>", "message": 'a "quoted" & <tagged> message'},
            ),
            make_step(
                "no code",
                started_at=started - timedelta(minutes=3),
                operation="push_new",
                object_type="email_template",
                status="failed",
                error={"message": "'single' quotes"},
            ),
        )
    )
    response = admin_client.get(URL, HTTP_ACCEPT_LANGUAGE=language)

    def at(moment):
        return moment.astimezone(paris).strftime("%Y-%m-%d %H:%M:%S")

    en = language == "en"
    million = "1,234,567" if en else "1\xa0234\xa0567"
    custom = "Custom Object" if en else "Objet personnalisé"
    pull, push_new = (
        ("Pull Updates", "Push New")
        if en
        else ("Extraire les mises à jour", "Intégrer les nouveaux")
    )
    failed, running, succeeded = (
        ("Failed", "In Process", "Succeeded") if en else ("Échec", "En cours", "Réussite")
    )
    email = "Email Template" if en else "Modèle d'e-mail"
    error = "Error" if en else "Erreur"
    assert table_cells(response) == [
        [at(started), "—", "Lead", pull, succeeded, million, "0", "—", "3", "—"],
        [at(started - timedelta(minutes=1)), "—", "Lead", pull, running, "—", "—", "—", "—", "—"],
        [
            at(started - timedelta(minutes=2)),
            at(ended),
            f'{custom} Invoice__c"><script>x</script>',
            pull,
            f'{failed} <b>CODE</b> a "quoted" & <tagged> message',
            *["—"] * 5,
        ],
        [
            at(started - timedelta(minutes=3)),
            "—",
            email,
            push_new,
            f"{failed} {error} 'single' quotes",
            *["—"] * 5,
        ],
    ]
    # A Failed count with failed records behind it, and the status of a step
    # with a job-level error, lead to the step's page.
    step_page = "/integration/salesforce/cycles/cyc-1/steps/{}/"
    assert table_links(response) == [
        [("3", step_page.format("plain"))],
        [],
        [(failed, step_page.format("custom"))],
        [(failed, step_page.format("no%20code"))],
    ]


def table_links(response) -> list[list[tuple[str, str]]]:
    """The text and target of every link of the table's body, row by row."""
    import re
    from html import unescape

    html = response.content.decode()
    body = html[html.index("<tbody") : html.index("</tbody>")]
    return [
        [
            (unescape(re.sub(r"<[^>]+>", "", label)).strip(), unescape(href))
            for href, label in re.findall(r'<a [^>]*href="([^"]*)"[^>]*>(.*?)</a>', row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_its_search_box_looks_records_and_errors_up_on_the_sync_errors_page(admin_client, world):
    html = admin_client.get(f"{URL}?status=failed").content.decode()
    form = html[html.index('<form class="search"') :]
    form = form[: form.index("</form>")]
    assert 'action="/integration/salesforce/sync-errors/"' in form
    assert 'for="search-q">Search by record ID, Marketo ID or error</label>' in form
    assert '<input id="search-q" type="search" name="q"' in form
    # This page's filters mean nothing there.
    assert 'type="hidden"' not in form
    assert f'<a href="{URL}" aria-current="page">Sync Status</a>' in html
