"""docs/alerts.md in a real browser: an alert rule's page, its destinations
masked with their last error, and a test notice sent from the list."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.utils import timezone
from playwright.sync_api import expect

from dashboard.alerts.models import AlertDestination
from dashboard.alerts.rules import alert_rule_create
from tests.receivers import webhook_fixture  # noqa: F401
from tests.test_browser import PASSWORD, USERNAME, browser, page, png_size  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True)]
# The README's picture of a rule; rewritten only on request (UPDATE_SCREENSHOT=1).
DOCS_SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "alert-rule.png"
SECRET = "s3cret-smtp-pass"


@pytest.fixture
def editor():
    user = User.objects.create_user(USERNAME, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="Sync Status admins"))
    user.user_permissions.add(Permission.objects.get(codename="change_alertrule"))
    return user


def log_in(page, live_server, path):  # noqa: F811
    page.goto(f"{live_server.url}/accounts/login/?next={path}")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


def test_the_rule_page_shows_its_destinations_masked_with_their_last_error(
    page,  # noqa: F811
    live_server,
    editor,
    tmp_path,
):
    rule = alert_rule_create(
        name="Lead and contact failures",
        kind="failed_records",
        threshold=25,
        object_types=["lead", "contact"],
        operations=["pull_updates", "push_updates"],
        destinations=[
            f"mailtos://ops:{SECRET}@smtp.example.com?to=sync-team@example.com",
            "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#sync-alerts",
        ],
    )
    AlertDestination.objects.filter(url__startswith="slack").update(
        last_error="Failed to send Slack notification: Forbidden - error=403.",
        last_error_at=timezone.now(),
    )
    log_in(page, live_server, f"/admin/dashboard/alertrule/{rule.pk}/change/")

    expect(page.get_by_role("heading", name="Change alert rule")).to_be_visible()
    expect(page.locator("td.field-masked_url").first).to_have_text(
        "mailtos://ops:****@smtp.example.com/sync-team@example.com"
    )
    expect(page.get_by_text("error=403", exact=False)).to_be_visible()
    assert SECRET not in page.content()
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in page.content()

    screenshot = DOCS_SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") else tmp_path / "rule.png"
    page.screenshot(path=screenshot, full_page=True)
    assert png_size(screenshot)[0] == 1280, "nothing wider than the screen"


def test_a_test_notice_is_sent_from_the_list_of_rules(page, live_server, editor, webhook):  # noqa: F811
    receiver = webhook()
    alert_rule_create(
        name="Webhook", kind="step_failed", destinations=[f"json://127.0.0.1:{receiver.port}/in"]
    )
    log_in(page, live_server, "/admin/dashboard/alertrule/")
    page.get_by_role("checkbox", name="Select this object for an action").first.check()
    page.get_by_role("combobox", name="Action").select_option(label="Send a test notice")
    with page.expect_navigation():
        page.get_by_role("button", name="Go").click()

    expect(page.get_by_text("Webhook: test notice sent to json://127.0.0.1")).to_be_visible()
    assert [body["title"] for _, _, body in receiver.received] == ["[Sync Status] Test notice"]
