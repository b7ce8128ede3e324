"""The health strip in a real browser: it renders with its chart, speaks
French, and fits a 390 px screen without scrolling the page sideways."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests import test_browser
from tests.conftest import iso, make_report, make_step, recent
from tests.test_browser import log_in

# The browser test's fixtures: its Chromium, and the user it logs in as.
browser, user = test_browser.browser, test_browser.user

pytestmark = [pytest.mark.django_db(transaction=True)]

STATUSES = ["succeeded", "succeeded", "succeeded", "incomplete", "failed", "cleaned_up"]


@pytest.fixture
def days_of_cycles(ingest):
    """A cycle every 3 hours for 4 days, the last one with a step stuck running."""
    for n in range(32):
        started = recent(3 * 60 * n + 5)
        steps = [
            make_step(
                f"s{k}",
                started_at=started + timedelta(seconds=k),
                ended_at=iso(started + timedelta(seconds=k + 30)),
                status=STATUSES[(n + k) % len(STATUSES)],
                failures=[{"record_id": f"r{n}-{k}", "message": "Bad"}] if k == 3 else [],
            )
            for k in range(4)
        ]
        if n == 1:
            steps.append(make_step("stuck", started_at=started, status="in_process"))
        ingest(make_report(*steps, cycle_id=f"cyc-{n}", started_at=started))


def open_page(browser, live_server, width: int, language: str):
    """The page, logged in, in `language` as chosen from its menu."""
    context = browser.new_context(
        viewport={"width": width, "height": 900}, locale="en-US", timezone_id="UTC"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, live_server)
    if language != "en":
        with page.expect_navigation():
            page.locator("select#language").select_option(language)
    return context, page


def test_the_strip_and_its_chart_render(browser, live_server, user, days_of_cycles, tmp_path):
    context, page = open_page(browser, live_server, 1280, "en")
    strip = page.locator("#health")

    expect(strip).to_be_visible()
    expect(strip.locator(".health-facts")).to_contain_text("every 3 h")
    expect(strip.get_by_role("link", name="1 step running for more than 60 min")).to_be_visible()
    chart = strip.get_by_role("img", name="Steps and failed records every 4 hours")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["height"] > 100
    assert strip.locator("rect.s-succeeded").count() > 10
    assert strip.locator("rect.records").count() > 10
    expect(page.locator("span.badge-stuck")).to_have_count(1)
    page.screenshot(path=tmp_path / "health-wide.png", full_page=False)
    context.close()


def test_the_strip_speaks_french_on_a_narrow_screen(
    browser,
    live_server,
    user,
    days_of_cycles,
    tmp_path,
):
    context, page = open_page(browser, live_server, 390, "fr")
    strip = page.locator("#health")

    expect(strip).to_contain_text("Dernier cycle démarré")
    expect(strip).to_contain_text("toutes les 3 h")
    title = "Étapes et enregistrements en échec par tranche de 4 heures"
    expect(strip.get_by_role("img", name=title)).to_be_visible()
    page_width = page.evaluate(
        "Math.max(document.body.scrollWidth, document.documentElement.scrollWidth)"
    )
    assert page_width <= 390 + 1
    assert page.evaluate("window.scrollX") == 0
    # The numbers open under the chart, and scroll inside their box, not the page.
    strip.get_by_text("Les chiffres").click()

    expect(strip.locator(".numbers-table")).to_be_visible()
    page_width = page.evaluate(
        "Math.max(document.body.scrollWidth, document.documentElement.scrollWidth)"
    )
    assert page_width <= 390 + 1
    strip.screenshot(path=tmp_path / "health-narrow.png")
    context.close()
