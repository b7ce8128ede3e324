"""docs/errors.md in a real browser: from "Failed 2" on the Sync Status page to
the step, its records, a record's timeline and its error group; the search
box; the trend chart; French; a phone; and the README's picture of the Sync
errors page. The browser and helpers are tests/test_browser.py's; every test
ingests its reports through the real ingestion path."""

# ruff: noqa: F811 - tests/test_browser.py's fixtures are imported, and pytest
# hands them to the tests by the same names.

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import expect

from dashboard.ingest.simulator import SyncEngineSimulator
from dashboard.syncerrors.signatures import failure_signature, group_key
from tests.conftest import iso, make_report, make_step
from tests.test_browser import (  # noqa: F401 - fixtures, used by name only
    PAGE,
    browser,
    facts,
    log_in,
    navigate,
    page,
    png_size,
    receive,
    user,
)

pytestmark = [pytest.mark.django_db(transaction=True)]

ERRORS = "/integration/salesforce/sync-errors/"
# The README's picture; rewritten only on request (UPDATE_SCREENSHOT=1 make test).
DOCS_SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "sync-errors.png"

ACME, INITECH = "00Q5e00000AbCdEAAZ", "00Q5e00000AbCdFAAZ"
CONTACT = "0035e00000XyZaBAAV"
TOO_LONG = ("STRING_TOO_LONG", "Company", "Company: data value too large: '{}' (max length=80)")
TEMPLATE = "Company: data value too large: <value> (max length=<n>)"
HOURS_AGO = [50, 26, 2]  # three cycles, a day apart, each in a 4-hour bucket of its own


def cells(page, table: str) -> list[list[str]]:
    """Every cell of a table's body as it reads."""
    return page.locator(f"{table} tbody tr").evaluate_all(
        """trs => trs.map(tr => [...tr.cells].map(
            td => td.textContent.replace(/\\s+/g, ' ').trim()))"""
    )


def page_width(page) -> int:
    return page.evaluate(
        "Math.max(document.body.scrollWidth, document.documentElement.scrollWidth)"
    )


@pytest.fixture
def failing_leads(transactional_db):
    """Two leads too long for the Company field in each of three cycles, and
    a contact failing on its postal code in the latest, whose next step
    failed as a whole; returns the key of the leads' group."""
    now = datetime.now(UTC).replace(microsecond=0)
    code, field, message = TOO_LONG
    for n, hours in enumerate(HOURS_AGO):
        started = now - timedelta(hours=hours)
        leads = [
            {"record_id": ACME, "marketo_id": "1048576", "error_code": code, "field": field,
             "message": message.format("ACME Corporation International")},
            {"record_id": INITECH, "marketo_id": "1048577", "error_code": code, "field": field,
             "message": message.format("Initech")},
        ]  # fmt: skip
        steps = [
            make_step("pull.lead", started_at=started + timedelta(seconds=5), status="incomplete",
                      ended_at=iso(started + timedelta(seconds=65)),
                      counts={"updated": 40, "failed": 2}, failures=leads),
        ]  # fmt: skip
        if n == len(HOURS_AGO) - 1:
            steps.append(
                make_step("push.contact", started_at=started + timedelta(seconds=70),
                          object_type="contact", operation="push_updates", status="failed",
                          ended_at=iso(started + timedelta(seconds=80)),
                          counts={"updated": 3, "failed": 1},
                          error={"code": "REQUEST_LIMIT_EXCEEDED",
                                 "message": "TotalRequests Limit exceeded."},
                          failures=[{"record_id": CONTACT, "marketo_id": "2097152",
                                     "error_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                     "field": "MailingPostalCode",
                                     "message": "Postal code is required"}])
            )  # fmt: skip
        receive(make_report(*steps, cycle_id=f"cyc-{n}", started_at=started))
    signature = failure_signature("lead", None, "pull_updates", code, field, message)
    assert signature.template == TEMPLATE
    return group_key(signature.group_id)


def test_from_a_failed_count_to_the_step_a_record_and_its_group(
    page, live_server, user, failing_leads
):
    log_in(page, live_server)
    latest = page.locator("table.steps tbody tr", has_text="Incomplete").first
    navigate(page, lambda: latest.get_by_role("link", name="2", exact=True).click())

    # The step's page lists the records that failed in it.
    assert urlsplit(page.url).path == "/integration/salesforce/cycles/cyc-2/steps/pull.lead/"
    assert (facts(page)["Cycle"], facts(page)["Failed"]) == ("cyc-2", "2")
    assert [row[:4] for row in cells(page, "table.failures")] == [
        [ACME, "1048576", "STRING_TOO_LONG", "Company"],
        [INITECH, "1048577", "STRING_TOO_LONG", "Company"],
    ]

    # A record: its failures in every cycle, most recent first, still failing.
    navigate(page, lambda: page.get_by_role("link", name=ACME).click())
    assert urlsplit(page.url).path == f"/integration/salesforce/records/{ACME}/"
    expect(page.locator("h1")).to_have_text(f"Record {ACME}")
    expect(page.locator("table.streams tbody tr")).to_have_count(1)
    expect(page.locator("table.streams .badge")).to_have_text("Still failing")
    failures = cells(page, "table.failures")
    assert [row[3] for row in failures] == ["cyc-2", "cyc-1", "cyc-0"]
    assert {row[8] for row in failures} == {
        "Company: data value too large: 'ACME Corporation International' (max length=80)"
    }

    # Its group: both leads, in the three cycles.
    navigate(
        page, lambda: page.locator("table.failures").get_by_role("link", name="Group").first.click()
    )
    assert urlsplit(page.url).path == f"{ERRORS}{failing_leads}/"
    expect(page.locator("h1")).to_have_text("Error group")
    signature = facts_of_group(page)
    assert signature["Message template"] == TEMPLATE
    assert (signature["Failures"], signature["Records"], signature["Field"]) == (
        "6",
        "2",
        "Company",
    )
    expect(page.locator("table.failures tbody tr")).to_have_count(6)
    assert [row[4] for row in cells(page, "table.failures")][:2] == [ACME, INITECH]


def facts_of_group(page) -> dict[str, str]:
    return page.locator("dl.signature > div").evaluate_all(
        """divs => Object.fromEntries(divs.map(div => [
            div.querySelector('dt').textContent.trim(),
            div.querySelector('dd').textContent.replace(/\\s+/g, ' ').trim(),
        ]))"""
    )


def search(page, text: str) -> None:
    page.locator("#search-q").fill(text)
    navigate(page, lambda: page.locator("#search-q").press("Enter"))


def test_searching_a_marketo_id_goes_straight_to_the_record(page, live_server, user, failing_leads):
    log_in(page, live_server)
    search(page, "1048577")
    assert urlsplit(page.url).path == f"/integration/salesforce/records/{INITECH}/"
    expect(page.locator("h1")).to_have_text(f"Record {INITECH}")

    # From the Sync errors page too, and by the Salesforce id.
    navigate(page, lambda: page.goto(live_server.url + ERRORS))
    search(page, CONTACT)
    assert urlsplit(page.url).path == f"/integration/salesforce/records/{CONTACT}/"
    expect(page.locator("table.failures tbody tr")).to_have_count(1)

    # Other text finds the groups whose error says it.
    navigate(page, lambda: page.goto(live_server.url + ERRORS))
    search(page, "postal code")
    assert urlsplit(page.url).path == ERRORS
    expect(page.locator("table.groups tbody tr")).to_have_count(1)
    expect(page.locator("table.groups tbody")).to_contain_text("Postal code is required")


def test_the_trend_chart_draws_the_failures_and_says_them_in_words(
    page, live_server, user, failing_leads
):
    log_in(page, live_server, f"{ERRORS}{failing_leads}/")
    chart = page.locator(".trend-chart svg")
    expect(chart).to_have_attribute("role", "img")
    # Its text alternative: the title and the summary it names.
    names = chart.get_attribute("aria-labelledby").split()
    said = [page.locator(f"#{name}").text_content().strip() for name in names]
    assert said[0] == "Failures every 4 hours"
    # (The latest cycle may have started in the bucket before the current one.)
    assert re.fullmatch(
        r"6 failures in 5 days, at most 2 in 4 hours; [02] since \d\d:00\.", said[1]
    )
    # A bar per 4-hour bucket of the window, three of them drawn, as tall as their counts.
    bars = chart.locator("rect")
    expect(bars).to_have_count(settings.SYNC_STATUS_RETENTION_DAYS * 6 + 1)
    heights = bars.evaluate_all("rects => rects.map(r => r.getBoundingClientRect().height)")
    assert len([h for h in heights if h > 0]) == 3
    assert min(h for h in heights if h > 0) > 20
    # The numbers are there in a table too.
    page.locator(".trend-chart summary").click()
    counts = [row[2] for row in cells(page, ".trend-chart table")]
    assert sorted(counts, reverse=True)[:4] == ["2", "2", "2", "0"]

    # On the groups page, each row has its small chart with the same words.
    navigate(page, lambda: page.goto(live_server.url + ERRORS + "?q=data+value+too+large"))
    sparkline = page.locator("table.groups svg.sparkline")
    expect(sparkline).to_have_count(1)
    assert sparkline.get_attribute("aria-label").startswith("6 failures in 5 days")
    assert sparkline.locator("path").get_attribute("d").count("M") == 3


def test_the_same_pages_in_french(page, live_server, user, failing_leads):
    log_in(page, live_server, ERRORS)
    navigate(page, lambda: page.locator("select#language").select_option("fr"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("h1")).to_have_text("Erreurs de synchronisation")
    headers = page.locator("table.groups thead th").all_text_contents()
    assert [" ".join(h.replace("⇅", "").split()) for h in headers][:6] == [
        "Objet", "Opération", "Erreur", "Champ", "Niveau", "Échecs"
    ]  # fmt: skip
    expect(page.locator("table.groups .badge-ongoing").first).to_have_text("Actif")

    navigate(page, lambda: page.get_by_role("link", name=f"STRING_TOO_LONG {TEMPLATE}").click())
    expect(page.locator("h1")).to_have_text("Groupe d'erreurs")
    expect(page.locator("#trend-title")).to_have_text("Échecs par tranche de 4 heures")
    expect(page.locator("#trend-summary")).to_contain_text("6 échecs en 5 jours")
    expect(page.locator("#export")).to_contain_text("Exporter")

    navigate(page, lambda: page.get_by_role("link", name=ACME).first.click())
    expect(page.locator("h1")).to_have_text(f"Enregistrement {ACME}")
    expect(page.locator("table.streams .badge")).to_have_text("Échoue toujours")

    navigate(
        page,
        lambda: page.goto(
            live_server.url + "/integration/salesforce/cycles/cyc-2/steps/pull.lead/"
        ),
    )
    expect(page.get_by_role("heading", name="Enregistrements en échec")).to_be_visible()
    expect(
        page.locator("table.failures").get_by_role("link", name="Erreurs semblables")
    ).to_have_count(2)


def test_no_page_scrolls_sideways_on_a_phone(page, live_server, user, failing_leads):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, ERRORS)
    for path in [
        ERRORS,
        f"{ERRORS}{failing_leads}/",
        f"/integration/salesforce/records/{ACME}/",
        "/integration/salesforce/cycles/cyc-2/steps/push.contact/",
        "/integration/salesforce/cycles/cyc-2/",
        PAGE,
    ]:
        navigate(page, lambda path=path: page.goto(live_server.url + path))
        assert page_width(page) <= 390 + 1, path
        assert page.evaluate("window.scrollX") == 0, path
    # The record's state is on the screen, not past a table's edge.
    navigate(page, lambda: page.goto(live_server.url + f"/integration/salesforce/records/{ACME}/"))
    badge = page.locator("table.streams .badge").bounding_box()
    assert badge["x"] >= 0 and badge["x"] + badge["width"] <= 390


@pytest.fixture
def five_days(transactional_db):
    """Five days of an org as the engine reports them, a cycle every hour:
    the errors that real orgs see, in their proportions."""
    now = datetime.now(UTC).replace(microsecond=0)
    simulator = SyncEngineSimulator(seed=3)
    for cycle in range(5 * 24 - 1, -1, -1):
        receive(*simulator.cycle_reports(now - timedelta(hours=cycle, minutes=7)))


def test_screenshot_of_the_sync_errors_page(page, live_server, user, five_days, tmp_path):
    log_in(page, live_server, ERRORS)
    expect(page.locator("table.groups tbody tr")).to_have_count(50)  # a full page
    expect(page.get_by_role("link", name="Next →")).to_be_visible()
    expect(page.locator("table.groups .badge-ongoing").first).to_be_visible()
    expect(page.locator("table.groups .badge-new").first).to_be_visible()

    screenshot = DOCS_SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") else tmp_path / "page.png"
    page.screenshot(path=screenshot)
    assert png_size(screenshot) == (1280, 800)
    # Every column, the trend and the state included, fits at 1280 px.
    assert page.evaluate(
        "() => { const c = document.querySelector('.table-container');"
        " return c.scrollWidth <= c.clientWidth; }"
    )
