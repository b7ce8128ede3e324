"""The alert rules' pages (docs/alerts.md, "Managing rules"): in the admin,
styled as the product, for those who may change rules; destinations shown
masked with their last error; a test notice sent on request."""

import pytest
from django.contrib.auth.models import Group, Permission, User

from dashboard.alerts.models import AlertDestination, AlertRule
from dashboard.alerts.rules import alert_rule_create
from tests.receivers import webhook_fixture  # noqa: F401

pytestmark = pytest.mark.django_db
SECRET = "s3cret-smtp-pass"
RULES = "/admin/dashboard/alertrule/"


@pytest.fixture
def editor(client):
    """Ada: sees the dashboard through the group, is staff, may change rules."""
    user = User.objects.create_user("ada", is_staff=True)
    user.groups.add(Group.objects.get(name="Sync Status admins"))
    user.user_permissions.add(Permission.objects.get(codename="change_alertrule"))
    client.force_login(user)
    return client


def mail_rule(**fields):
    return alert_rule_create(
        name="Lead failures",
        kind="step_failed",
        destinations=[f"mailtos://ops:{SECRET}@smtp.example.com?to=team@example.com"],
        **fields,
    )


def add_form(**fields):
    data = {
        "name": "Many failed records",
        "kind": "failed_records",
        "threshold": "20",
        "object_types": ["lead", "contact"],
        "enabled": "on",
        "destinations-TOTAL_FORMS": "1",
        "destinations-INITIAL_FORMS": "0",
        "destinations-MIN_NUM_FORMS": "1",
        "destinations-MAX_NUM_FORMS": "1000",
        "destinations-0-url": f"mailtos://ops:{SECRET}@smtp.example.com?to=team@example.com",
    }
    data.update(fields)
    return data


def test_the_rules_page_shows_destinations_masked_in_the_products_colours(editor):
    mail_rule()
    page = editor.get(RULES)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Lead failures" in html
    assert "mailtos://ops:****@smtp.example.com" in html
    assert SECRET not in html
    assert "Sync Status" in html and "#1d5fd6" in html


def test_a_rule_is_added_with_its_destination(editor):
    response = editor.post(f"{RULES}add/", add_form())
    assert response.status_code == 302
    rule = AlertRule.objects.get()
    assert (rule.kind, rule.threshold, rule.object_types, rule.operations) == (
        "failed_records",
        20,
        ["lead", "contact"],
        [],
    )
    destination = rule.destinations.get()
    assert destination.masked_url.startswith("mailtos://ops:****@smtp.example.com")


def test_a_url_apprise_cannot_read_is_refused_without_showing_it_back(editor):
    response = editor.post(
        f"{RULES}add/", add_form(**{"destinations-0-url": f"smtp://ops:{SECRET}@mail"})
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Apprise cannot read this URL" in html
    assert SECRET not in html
    assert not AlertRule.objects.exists()


def test_a_rule_needs_a_destination(editor):
    response = editor.post(f"{RULES}add/", add_form(**{"destinations-0-url": ""}))
    assert response.status_code == 200
    assert not AlertRule.objects.exists()


def test_the_change_page_never_shows_the_url_and_keeps_it_when_left_empty(editor):
    rule = mail_rule()
    destination = rule.destinations.get()
    page = editor.get(f"{RULES}{rule.pk}/change/")
    assert SECRET not in page.content.decode()
    assert "mailtos://ops:****@smtp.example.com" in page.content.decode()

    data = add_form(name="Renamed", kind="step_failed", threshold="1")
    data.update({
        "destinations-INITIAL_FORMS": "1",
        "destinations-0-id": str(destination.pk),
        "destinations-0-rule": str(rule.pk),
        "destinations-0-url": "",
    })  # fmt: skip
    assert editor.post(f"{RULES}{rule.pk}/change/", data).status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Renamed"
    assert rule.destinations.get().url == destination.url


def test_a_test_notice_reaches_the_destination(editor, webhook):
    receiver = webhook()
    rule = alert_rule_create(
        name="Webhook", kind="step_failed", destinations=[f"json://127.0.0.1:{receiver.port}/in"]
    )
    page = editor.post(
        RULES, {"action": "send_test_notice", "_selected_action": [rule.pk]}, follow=True
    )
    assert "Webhook: test notice sent to json://127.0.0.1" in page.content.decode()
    [(path, _, sent)] = receiver.received
    assert sent["title"] == "[Sync Status] Test notice"


def test_a_failing_destination_shows_its_last_error_on_the_rule(editor, webhook):
    receiver = webhook(statuses=[500])
    url = f"json://ops:{SECRET}@127.0.0.1:{receiver.port}/in"
    rule = alert_rule_create(name="Webhook", kind="step_failed", destinations=[url])
    page = editor.post(
        RULES, {"action": "send_test_notice", "_selected_action": [rule.pk]}, follow=True
    )
    html = page.content.decode()
    assert "did not take the test notice" in html
    assert "error=500" in html
    assert SECRET not in html
    assert "error=500" in AlertDestination.objects.get().last_error

    html = editor.get(f"{RULES}{rule.pk}/change/").content.decode()
    assert "error=500" in html
    assert SECRET not in html


def test_the_dashboard_links_to_the_rules_for_those_who_may_change_them(editor, client):
    assert (
        'href="/admin/dashboard/alertrule/"'
        in editor.get("/integration/salesforce/sync-status/").content.decode()
    )
