"""docs/dashboard.md, "The page keeps itself current", in a real browser:
reports applied while the page is open show up on it without a reload, with
the filters kept and the reader's place (scroll, open filter panel) too."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.conftest import iso, make_report, make_step, recent
from tests.test_browser import PAGE, browser, log_in, receive, rows, user  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True)]

LIVE = "/integration/salesforce/sync-status/live/"
CYCLE_START = recent(180)


@pytest.fixture(autouse=True)
def quick_polls(settings):
    """A poll every second: the live server runs in this process, and reads it."""
    settings.SYNC_STATUS_LIVE_SECONDS = 1


def open_context(browser, **options):  # noqa: F811
    context = browser.new_context(timezone_id="UTC", **options)
    context.set_default_timeout(10_000)
    return context


def report(*steps: dict) -> dict:
    """A report of the one cycle these tests follow, always with the same start."""
    return make_report(*steps, cycle_id="cyc-live", started_at=CYCLE_START)


def lead_steps(count: int) -> list[dict]:
    """Finished lead steps, a minute apart, the newest an hour ago."""
    return [
        make_step(f"lead.{n:02}", started_at=recent(60 + n), counts={"updated": n})
        for n in range(count)
    ]


def running_lead() -> dict:
    return make_step("lead.running", status="in_process", started_at=recent(30))


def row_at_the_top_of_the_view(page) -> dict:
    """The first table row the reader sees, and where it sits in the window."""
    return page.evaluate(
        """() => {
            const row = [...document.querySelectorAll('table.steps tbody tr')]
                .find(tr => tr.getBoundingClientRect().bottom > 0);
            return {id: row.id, top: Math.round(row.getBoundingClientRect().top)};
        }"""
    )


def test_new_and_finished_steps_show_up_in_place_with_the_filter_kept(
    browser,  # noqa: F811
    live_server,
    user,  # noqa: F811
    tmp_path,
):
    receive(
        report(*lead_steps(30), running_lead(), make_step("contact.old", object_type="contact"))
    )
    context = open_context(browser, viewport={"width": 1280, "height": 600}, locale="en-US")
    page = context.new_page()
    log_in(page, live_server, PAGE + "?object_type=lead")
    url = page.url
    assert rows(page)[0][4] == "In Process"
    # What a reload would lose: a mark on the window, the open panel, the scroll.
    page.evaluate("window.liveMarker = 'still here'")
    page.locator("details.filter-panel summary").click()
    # Down the table, its first rows out of sight above the window, the
    # window's top halfway down a row.
    sixth = page.locator("table.steps tbody tr").nth(5).bounding_box()
    page.mouse.wheel(0, sixth["y"] + sixth["height"] / 2)
    page.wait_for_function(
        "document.querySelector('table.steps tbody tr').getBoundingClientRect().bottom < 0"
    )
    before = row_at_the_top_of_the_view(page)
    steps_of_the_last_day = page.locator("#health table.comparison tr").nth(2).locator("td").first
    expect(steps_of_the_last_day).to_have_text("32")

    finished = {**running_lead(), "status": "succeeded", "ended_at": iso(recent(1))}
    finished["counts"] = {"new": 7, "updated": 1500, "failed": 0, "skipped": 2}
    receive(
        report(
            finished,
            make_step("lead.new", started_at=recent(2), status="failed", counts={"failed": 3}),
            make_step("contact.new", object_type="contact", started_at=recent(1)),
        )
    )
    expect(page.locator("table.steps tbody tr").first).to_contain_text("Failed")
    shown = rows(page)
    assert [row[2:5] for row in shown[:2]] == [
        ["Lead", "Pull Updates", "Failed"],
        ["Lead", "Pull Updates", "Succeeded"],
    ]
    assert shown[1][5:] == ["7", "1,500", "—", "0", "2"], "the running step finished in place"
    expect(steps_of_the_last_day).to_have_text("34")  # the strip refreshed itself too
    assert all(row[2] == "Lead" for row in shown), "the filter is kept: no contact step"
    assert len(shown) == 32
    assert page.evaluate("window.liveMarker") == "still here", "the page was not reloaded"
    assert page.url == url
    assert page.locator("details.filter-panel").evaluate("d => d.open")
    after = row_at_the_top_of_the_view(page)
    assert after["id"] == before["id"], "the reader still sees the rows they were reading"
    assert abs(after["top"] - before["top"]) < 5
    page.screenshot(path=tmp_path / "live-desktop.png")
    context.close()


def test_polling_pauses_while_the_tab_is_hidden_and_resumes_at_once(
    browser,  # noqa: F811
    live_server,
    user,  # noqa: F811
    settings,
):
    receive(report(*lead_steps(3)))
    context = open_context(browser, viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    log_in(page, live_server)
    polls = []
    page.on("request", lambda request: polls.append(request.url) if LIVE in request.url else None)
    page.wait_for_timeout(1500)
    assert polls, "it polls while visible"

    page.evaluate(
        """() => {
            Object.defineProperty(
                document, 'visibilityState', {configurable: true, get: () => 'hidden'});
            document.dispatchEvent(new Event('visibilitychange'));
        }"""
    )
    page.wait_for_timeout(300)
    polls.clear()
    receive(report(make_step("lead.new", started_at=recent(1))))
    page.wait_for_timeout(3000)
    assert polls == [], "no poll while the tab is hidden"
    assert "lead.new" not in page.content()

    with page.expect_request(lambda request: LIVE in request.url, timeout=500):
        page.evaluate(
            """() => {
                Object.defineProperty(
                    document, 'visibilityState', {configurable: true, get: () => 'visible'});
                document.dispatchEvent(new Event('visibilitychange'));
            }"""
        )
    expect(page.locator("table.steps tbody tr")).to_have_count(4)
    context.close()


def test_on_a_phone_in_french_a_new_step_shows_up(
    browser,  # noqa: F811
    live_server,
    user,  # noqa: F811
    tmp_path,
):
    receive(report(*lead_steps(5), running_lead()))
    context = open_context(
        browser,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="fr-FR",
    )
    page = context.new_page()
    page.goto(live_server.url + PAGE)
    page.get_by_label("Nom d'utilisateur").fill("grace")
    page.get_by_label("Mot de passe").fill("correct horse battery staple")
    with page.expect_navigation():
        page.get_by_role("button", name="Connexion").click()
    assert urlsplit(page.url).path == PAGE
    page.evaluate("window.liveMarker = 'toujours là'")

    receive(report({**running_lead(), "status": "succeeded", "counts": {"updated": 1234}}))
    expect(page.locator("table.steps tbody tr").first).to_contain_text("Réussite")
    assert rows(page)[0][5:] == ["—", "1 234", "—", "—", "—"]
    assert page.evaluate("window.liveMarker") == "toujours là"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page itself does not scroll sideways"
    # The table scrolls sideways on its own, to its status and counts.
    page.locator(".table-container").evaluate("box => { box.scrollLeft = 420; }")
    page.screenshot(path=tmp_path / "live-phone-fr.png", full_page=True)
    context.close()
