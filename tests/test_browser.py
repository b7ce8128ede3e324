"""docs/dashboard.md: the Sync Status page in a real browser (Chromium driven by Playwright).

What a user does and checks: log in, read the rows, filter through the panel,
sort by a header, switch to French, download the errors export, and a
screenshot of the page in real use for the docs. Each test builds its ground
truth itself and ingests it through the real ingestion path.
"""

import csv
import json
import os
import re
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from playwright.sync_api import expect, sync_playwright

from dashboard.ingest.reports import report_receive
from dashboard.ingest.simulator import SyncEngineSimulator
from dashboard.models import ReceivedReport
from dashboard.tasks import enqueue_report_apply
from tests.conftest import iso, make_report, make_step, recent

pytestmark = [pytest.mark.django_db(transaction=True)]

PAGE = "/integration/salesforce/sync-status/"
LOGIN = "/accounts/login/"
USERNAME, PASSWORD = "grace", "correct horse battery staple"
# The README's picture; rewritten only on request (UPDATE_SCREENSHOT=1 make test),
# so that a test run leaves the work tree clean.
DOCS_SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "sync-status.png"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

HEADERS_EN = [
    "Started At",
    "Ended At",
    "Object",
    "Operation",
    "Status",
    "New",
    "Updated",
    "Deleted",
    "Failed",
    "Skipped",
]
HEADERS_FR = [
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
]
EXPORT_HEADER = [
    "started_at",
    "ended_at",
    "object_type",
    "operation",
    "object_name",
    "status",
    "cycle_id",
    "step_id",
    "record_id",
    "marketo_id",
    "error_code",
    "field",
    "message",
]

# --- Browser -----------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module, never downloaded: Debian's.

    Playwright's sync API keeps an asyncio loop parked in another greenlet of
    this thread, so Django sees a "running loop" and refuses ORM calls
    (SynchronousOnlyOperation) from the fixtures and from pytest-django's
    flush between tests, although every one of those calls is plain
    synchronous code. The check is lifted for this module only, for as long
    as Playwright runs.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            yield chromium
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(
        viewport={"width": 1280, "height": 800},
        locale="en-US",
        timezone_id="UTC",
        accept_downloads=True,
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_superuser(
        USERNAME, email="grace@example.com", password=PASSWORD
    )


def log_in(page, live_server, path=PAGE):
    """Open `path`, get sent to the login form, fill it in, come back."""
    page.goto(live_server.url + path)
    assert urlsplit(page.url).path == LOGIN
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


def navigate(page, action):
    """Do what loads a new page, and wait until it has loaded."""
    with page.expect_navigation():
        action()


def query_of(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def headers(page) -> list[str]:
    """The column headers as they read, without the sort arrows."""
    return page.locator("table.steps thead th").evaluate_all(
        """ths => ths.map(th => {
            const copy = th.cloneNode(true);
            copy.querySelectorAll('.sort-icon').forEach(icon => icon.remove());
            return copy.textContent.replace(/\\s+/g, ' ').trim();
        })"""
    )


def rows(page) -> list[list[str]]:
    """Every cell of every table row as it reads (the status cell: its badge)."""
    return page.locator("table.steps tbody tr").evaluate_all(
        """trs => trs.map(tr => [...tr.cells].map(td => {
            const shown = td.querySelector('.badge') || td;
            return shown.textContent.replace(/\\s+/g, ' ').trim();
        }))"""
    )


# --- Ground truth --------------------------------------------------------------


def receive(*reports: dict) -> None:
    """Store reports as the API does; with no transaction around this call,
    the apply task queued on commit runs at once, in this process."""
    for report in reports:
        report_receive(raw=json.dumps(report), source="test", enqueue=enqueue_report_apply)
    states = set(ReceivedReport.objects.values_list("status", flat=True))
    assert states == {ReceivedReport.State.APPLIED}, states


def site_time(moment: datetime) -> datetime:
    """A moment in the site's zone: the user has chosen none (docs/dashboard.md)."""
    return moment.astimezone(ZoneInfo(settings.TIME_ZONE))


def shown_at(moment: datetime) -> str:
    return site_time(moment).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def truth(transactional_db):
    """One cycle of six steps over five objects and every status, ingested;
    returns what the page and the export must show of it."""
    t0 = recent(90)

    def at(seconds: int) -> datetime:
        return t0 + timedelta(seconds=seconds)

    lead_failures = [  # sent out of record_id order on purpose
        {
            "record_id": "00Q5e00000AbCdFAAZ",
            "marketo_id": "1048577",
            "error_code": "INVALID_FIELD",
            "field": "Website",
            "message": '=HYPERLINK("http://evil.example","Click me")',
        },
        {
            "record_id": "00Q5e00000AbCdEAAZ",
            "marketo_id": "1048576",
            "error_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "field": "PostalCode",
            "message": "Postal code is required",
        },
    ]
    campaign_failures = [
        {
            "record_id": "7015e000000XyZbAAK",
            "error_code": "UNABLE_TO_LOCK_ROW",
            "message": "unable to obtain exclusive access to this record",
        },
        {
            "record_id": "7015e000000XyZaAAK",
            "error_code": "FIELD_INTEGRITY_EXCEPTION",
            "field": "EndDate",
            "message": "End date is before start date",
        },
    ]
    job_error = {"code": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}
    # (step id, start, end): pull.lead runs long, so that the order by end
    # differs from the order by start; fks is still running.
    times = {
        "schema.lead": (at(2), at(9)),
        "pull.lead": (at(10), at(600)),
        "pull.invoice": (at(20), at(80)),
        "push.campaign": (at(90), at(95)),
        "push.contact": (at(100), at(700)),
        "fks": (at(710), None),
    }

    def step(step_id, **fields):
        started, ended = times[step_id]
        if ended is not None:
            fields["ended_at"] = iso(ended)
        return make_step(step_id, started_at=started, **fields)

    report = make_report(
        step("schema.lead", object_type="lead", operation="sync_schema", status="succeeded"),
        step(
            "pull.lead",
            object_type="lead",
            operation="pull_updates",
            status="incomplete",
            counts={"new": 3, "updated": 120, "failed": 2, "skipped": 40},
            failures=lead_failures,
        ),
        step(
            "pull.invoice",
            object_type="custom_object",
            object_name="Invoice__c",
            operation="pull_updates",
            status="succeeded",
            counts={"new": 5, "updated": 1234, "failed": 0, "skipped": 0},
        ),
        step(
            "push.campaign",
            object_type="campaign",
            operation="push_updates",
            status="failed",
            counts={"updated": 1, "failed": 2},
            error=job_error,
            failures=campaign_failures,
        ),
        step(
            "push.contact",
            object_type="contact",
            operation="push_updates",
            status="cleaned_up",
            counts={"updated": 0, "skipped": 7},
        ),
        step("fks", object_type="opportunity", operation="update_fks", status="in_process"),
        cycle_id="cyc-browser",
        started_at=t0,
    )
    receive(report)

    # What each row reads after its two times, in English.
    cells = {
        "schema.lead": ["Lead", "Sync Schema", "Succeeded", "—", "—", "—", "—", "—"],
        "pull.lead": ["Lead", "Pull Updates", "Incomplete", "3", "120", "—", "2", "40"],
        "pull.invoice": [
            "Custom Object Invoice__c",
            "Pull Updates",
            "Succeeded",
            "5",
            "1,234",
            "—",
            "0",
            "0",
        ],
        "push.campaign": ["Campaign", "Push Updates", "Failed", "—", "1", "—", "2", "—"],
        "push.contact": ["Contact", "Push Updates", "Cleaned up", "—", "0", "—", "—", "7"],
        "fks": ["Opportunity", "Update FKS", "In Process", "—", "—", "—", "—", "—"],
    }
    shown = {
        step_id: [shown_at(start), shown_at(end) if end else "—", *cells[step_id]]
        for step_id, (start, end) in times.items()
    }

    def export_row(step_id, object_type, operation, status, record_id, marketo, code, field, msg):
        start, end = times[step_id]
        return [
            site_time(start).isoformat(),
            site_time(end).isoformat(),
            object_type,
            operation,
            "",
            status,
            "cyc-browser",
            step_id,
            record_id,
            marketo,
            code,
            field,
            msg,
        ]

    campaign = ("push.campaign", "campaign", "push_updates", "failed")
    lead = ("pull.lead", "lead", "pull_updates", "incomplete")
    export = {
        "push.campaign": [
            export_row(*campaign, "", "", job_error["code"], "", job_error["message"]),
            export_row(
                *campaign,
                "7015e000000XyZaAAK",
                "",
                "FIELD_INTEGRITY_EXCEPTION",
                "EndDate",
                "End date is before start date",
            ),
            export_row(
                *campaign,
                "7015e000000XyZbAAK",
                "",
                "UNABLE_TO_LOCK_ROW",
                "",
                "unable to obtain exclusive access to this record",
            ),
        ],
        "pull.lead": [
            export_row(
                *lead,
                "00Q5e00000AbCdEAAZ",
                "1048576",
                "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                "PostalCode",
                "Postal code is required",
            ),
            export_row(
                *lead,
                "00Q5e00000AbCdFAAZ",
                "1048577",
                "INVALID_FIELD",
                "Website",
                '\'=HYPERLINK("http://evil.example","Click me")',
            ),
        ],
    }
    return {"shown": shown, "export": export}


# The default order of the page and the export: most recent start first.
NEWEST_START_FIRST = [
    "fks",
    "push.contact",
    "push.campaign",
    "pull.invoice",
    "pull.lead",
    "schema.lead",
]


def expected(truth, step_ids) -> list[list[str]]:
    return [truth["shown"][step_id] for step_id in step_ids]


# --- Tests -----------------------------------------------------------------------


def test_logging_in_leads_to_the_page_showing_the_ingested_steps(page, live_server, user, truth):
    log_in(page, live_server)

    assert urlsplit(page.url).path == PAGE
    expect(page.get_by_role("heading", name="Sync Status")).to_be_visible()
    assert headers(page) == HEADERS_EN
    assert rows(page) == expected(truth, NEWEST_START_FIRST)
    # The failed step shows its job-level error, its message one click away.
    error = page.locator("table.steps details.step-error")
    expect(error).to_have_count(1)
    expect(error.locator("summary")).to_have_text("REQUEST_LIMIT_EXCEEDED")
    expect(error.get_by_text("TotalRequests Limit exceeded.")).to_be_hidden()
    error.locator("summary").click()
    expect(error.get_by_text("TotalRequests Limit exceeded.")).to_be_visible()


def test_filtering_through_the_panel_and_removing_the_chips(page, live_server, user, truth):
    log_in(page, live_server)
    panel = page.locator("#filters")
    expect(panel).to_be_hidden()
    expect(page.locator("ul.chips")).to_have_count(0)

    filter_icon = page.get_by_label("Filter", exact=True)  # the summary of the panel
    filter_icon.click()
    expect(panel).to_be_visible()
    panel.locator("fieldset.status").get_by_role("checkbox", name="Succeeded").check()
    panel.locator("fieldset.object_type").get_by_role("checkbox", name="Lead", exact=True).check()
    navigate(page, lambda: panel.get_by_role("button", name="Apply").click())

    query = query_of(page)
    assert query["status"] == ["succeeded"]
    assert query["object_type"] == ["lead"]
    assert "operation" not in query
    assert rows(page) == expected(truth, ["schema.lead"])
    chips = page.locator("ul.chips li")
    expect(chips).to_have_count(2)
    expect(chips.nth(0)).to_contain_text("Object: Lead")
    expect(chips.nth(1)).to_contain_text("Status: Succeeded")
    expect(page.locator(".filter-panel summary .count")).to_have_text("2")
    # The panel shows what is in force.
    filter_icon.click()
    expect(panel.locator("input[name=status][value=succeeded]")).to_be_checked()
    expect(panel.locator("input[name=status][value=failed]")).not_to_be_checked()

    navigate(page, lambda: page.get_by_role("link", name="Remove filter Status: Succeeded").click())
    assert "status" not in query_of(page)
    assert query_of(page)["object_type"] == ["lead"]
    assert rows(page) == expected(truth, ["pull.lead", "schema.lead"])
    expect(chips).to_have_count(1)

    navigate(page, lambda: page.get_by_role("link", name="Remove filter Object: Lead").click())
    assert rows(page) == expected(truth, NEWEST_START_FIRST)
    expect(page.locator("ul.chips")).to_have_count(0)


def test_sorting_by_the_ended_at_header(page, live_server, user, truth):
    log_in(page, live_server)
    ended_at = page.locator("table.steps thead a.sort", has_text="Ended At")

    navigate(page, ended_at.click)
    # First click: oldest end first, the running step (no end yet) last.
    assert query_of(page)["sort"] == ["end"]
    assert rows(page) == expected(
        truth, ["schema.lead", "pull.invoice", "push.campaign", "pull.lead", "push.contact", "fks"]
    )
    expect(page.locator("table.steps thead th[aria-sort]")).to_have_attribute(
        "aria-sort", "ascending"
    )

    navigate(page, ended_at.click)
    # Second click: newest end first, the running step first.
    assert query_of(page)["sort"] == ["-end"]
    assert rows(page) == expected(
        truth, ["fks", "push.contact", "pull.lead", "push.campaign", "pull.invoice", "schema.lead"]
    )
    expect(page.locator("table.steps thead th[aria-sort]")).to_have_attribute(
        "aria-sort", "descending"
    )


def test_switching_to_french_keeps_the_filters(page, live_server, user, truth):
    log_in(page, live_server, PAGE + "?status=failed&status=succeeded")
    assert headers(page) == HEADERS_EN

    navigate(page, lambda: page.locator("select#language").select_option("fr"))

    assert urlsplit(page.url).path == PAGE
    assert query_of(page)["status"] == ["failed", "succeeded"]
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("select#language")).to_have_value("fr")
    assert headers(page) == HEADERS_FR
    assert [row[4] for row in rows(page)] == ["Échec", "Réussite", "Réussite"]
    expect(page.locator("span.badge-failed")).to_have_text("Échec")

    # It sticks: the next page is French too.
    navigate(page, lambda: page.goto(live_server.url + PAGE))
    assert headers(page) == HEADERS_FR


def read_export(page) -> tuple[str, list[list[str]]]:
    with page.expect_download() as info:
        page.locator("a#export").click()
    download = info.value
    assert download.failure() is None
    with open(download.path(), newline="", encoding="utf-8") as file:
        return download.suggested_filename, list(csv.reader(file))


def test_downloading_the_errors_export(page, live_server, user, truth):
    log_in(page, live_server)
    expect(page.locator("a#export")).to_have_text("Export errors (CSV)")

    filename, lines = read_export(page)

    assert re.fullmatch(r"sync-errors-\d{4}-\d{2}-\d{2}T\d{4}\.csv", filename), filename
    assert lines[0] == EXPORT_HEADER
    # Ordered like the page (newest start first); in a step, the job-level
    # error first with no record_id, then the records by record_id.
    assert lines[1:] == truth["export"]["push.campaign"] + truth["export"]["pull.lead"]
    assert lines[-1][-1].startswith("'=HYPERLINK(")

    # The link carries the filters in force.
    navigate(page, lambda: page.goto(live_server.url + PAGE + "?status=incomplete&sort=start"))
    assert query_of(page) == parse_qs(
        urlsplit(page.locator("a#export").get_attribute("href")).query
    )
    _, lines = read_export(page)
    assert lines == [EXPORT_HEADER, *truth["export"]["pull.lead"]]


@pytest.fixture
def busy_hours(transactional_db):
    """Six hours of a busy org, one cycle every ten minutes, and the current
    cycle halfway through, as the engine would have reported them."""
    now = datetime.now(UTC).replace(microsecond=0)
    simulator = SyncEngineSimulator(seed=7)
    for cycle in range(36, 0, -1):
        receive(*simulator.cycle_reports(now - timedelta(minutes=10 * cycle, seconds=17)))
    started = set()
    for _, report in simulator.live_reports(now - timedelta(seconds=40)):
        receive(report)
        started |= {step["id"] for step in report["steps"] if step["status"] == "in_process"}
        if len(started) == 6:  # the sixth step has just started
            break


def png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_screenshot_of_the_page_in_use(page, live_server, user, busy_hours, tmp_path):
    log_in(page, live_server)
    expect(page.locator("table.steps tbody tr")).to_have_count(50)  # a full page
    expect(page.get_by_role("link", name="Next →")).to_be_visible()
    expect(page.locator("span.badge-in_process").first).to_be_visible()

    screenshot = DOCS_SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") else tmp_path / "page.png"
    page.screenshot(path=screenshot)
    assert png_size(screenshot) == (1280, 800)
    # Every column fits at 1280px: nothing to scroll sideways for.
    assert page.evaluate(
        "() => { const c = document.querySelector('.table-container');"
        " return c.scrollWidth <= c.clientWidth; }"
    )


def test_narrow_screen_scrolls_the_table_not_the_page(page, live_server, user, busy_hours):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server)
    expect(page.locator("table.steps tbody tr")).to_have_count(50)

    page_width = page.evaluate(
        "Math.max(document.body.scrollWidth, document.documentElement.scrollWidth)"
    )
    assert page_width <= 390 + 1
    container = page.locator(".table-container")
    overflow = container.evaluate(
        """el => {
            const before = el.scrollLeft;
            el.scrollLeft = 200;
            return {
                style: getComputedStyle(el).overflowX,
                wider: el.scrollWidth > el.clientWidth,
                scrolled: el.scrollLeft > before,
                inside: el.getBoundingClientRect().right <= window.innerWidth + 1,
            };
        }"""
    )
    assert overflow == {"style": "auto", "wider": True, "scrolled": True, "inside": True}
    assert page.evaluate("window.scrollX") == 0


# --- From a step to its records and its cycle (docs/dashboard.md) -------------------


def facts(page) -> dict[str, str]:
    """The step's or cycle's facts as they read: each term with what it says."""
    return page.locator(".facts > div").evaluate_all(
        """divs => Object.fromEntries(divs.map(div => [
            div.querySelector('dt').textContent.trim(),
            div.querySelector('dd').textContent.replace(/\\s+/g, ' ').trim(),
        ]))"""
    )


def test_a_failed_count_leads_to_the_step_its_records_and_their_export(
    page, live_server, user, truth
):
    log_in(page, live_server)
    row = page.locator("table.steps tbody tr", has_text="Incomplete")
    navigate(page, lambda: row.get_by_role("link", name="2", exact=True).click())

    assert urlsplit(page.url).path == "/integration/salesforce/cycles/cyc-browser/steps/pull.lead/"
    assert facts(page) | {"Started At": "", "Ended At": ""} == {
        "Cycle": "cyc-browser", "Step": "pull.lead", "Object": "Lead",
        "Operation": "Pull Updates", "Status": "Incomplete", "Started At": "", "Ended At": "",
        "Duration": "9 min 50 s", "New": "3", "Updated": "120", "Deleted": "—", "Failed": "2",
        "Skipped": "40",
    }  # fmt: skip
    assert [cells[:4] for cells in rows(page)] == [
        ["00Q5e00000AbCdEAAZ", "1048576", "FIELD_CUSTOM_VALIDATION_EXCEPTION", "PostalCode"],
        ["00Q5e00000AbCdFAAZ", "1048577", "INVALID_FIELD", "Website"],
    ]
    _, lines = read_export(page)
    assert lines == [EXPORT_HEADER, *truth["export"]["pull.lead"]]


def test_a_job_error_leads_to_the_step_and_on_to_its_cycle_time_line(
    page, live_server, user, truth
):
    log_in(page, live_server)
    row = page.locator("table.steps tbody tr", has_text="REQUEST_LIMIT_EXCEEDED")
    navigate(page, lambda: row.locator("a.step-link").click())
    expect(page.locator(".job-error")).to_contain_text("TotalRequests Limit exceeded.")

    navigate(page, lambda: page.locator(".facts").get_by_role("link", name="cyc-browser").click())
    assert urlsplit(page.url).path == "/integration/salesforce/cycles/cyc-browser/"
    # Six bars in start order; the running step, drawn up to now, holds the cycle up.
    lefts = page.locator(".timeline-chart rect.bar").evaluate_all(
        "rects => rects.map(rect => rect.getBoundingClientRect().left)"
    )
    assert len(lefts) == 6 and lefts == sorted(lefts)
    expect(page.locator("#timeline-summary")).to_contain_text("Opportunity · Update FKS")
    assert [cells[0] for cells in rows(page)][:2] == [
        "Lead · Sync Schema schema.lead", "Lead · Pull Updates pull.lead"
    ]  # fmt: skip

    navigate(page, lambda: page.locator('a.bar-link[href$="/steps/pull.lead/"]').click())
    assert facts(page)["Step"] == "pull.lead"


def test_ids_that_look_like_paths_reach_their_step_and_cycle(
    page, live_server, user, transactional_db
):
    cycle_id, step_id = "x/..", "a/b?c#d %2F ."
    receive(
        make_report(
            make_step(step_id, status="failed", error={"message": "Lost session"}),
            make_step("..", started_at=recent(70), status="incomplete",
                      failures=[{"record_id": "00Q1", "message": "Postal code is required"}]),
            cycle_id=cycle_id,
        )
    )  # fmt: skip
    log_in(page, live_server)
    for text, target in [("Lost session", step_id), ("Incomplete", "..")]:
        navigate(page, lambda: page.goto(live_server.url + PAGE + "?sort=-start"))
        row = page.locator("table.steps tbody tr", has_text=text).first
        navigate(page, lambda row=row: row.locator("td a").first.click())
        assert (facts(page)["Cycle"], facts(page)["Step"]) == (cycle_id, target)
        navigate(page, lambda: page.locator(".facts").get_by_role("link", name=cycle_id).click())
        expect(page.locator("h1")).to_have_text(f"Cycle {cycle_id}")


def test_the_cycle_page_fits_a_phone(page, live_server, user, truth):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, "/integration/salesforce/cycles/cyc-browser/")
    expect(page.locator(".timeline-chart rect.bar")).to_have_count(6)
    page_width = page.evaluate(
        "Math.max(document.body.scrollWidth, document.documentElement.scrollWidth)"
    )
    assert page_width <= 390 + 1
    chart = page.locator(".timeline-chart").bounding_box()
    assert chart["x"] >= 0 and chart["x"] + chart["width"] <= 390
