"""docs/dashboard.md, walked URL by URL: every pattern the project serves is listed
here with who may use it, so a new URL cannot ship unprotected unnoticed."""

import re
import uuid

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import get_resolver

from dashboard.ingest.tokens import token_create
from dashboard.models import ErrorGroup
from tests.conftest import make_report, make_step

pytestmark = pytest.mark.django_db

# What each URL pattern is, by kind of protection.
PAGES = {
    "integration/salesforce/sync-status/",
    "integration/salesforce/sync-status/export.csv",
    # The page's poll: htmx asks it for what changed (docs/dashboard.md).
    "integration/salesforce/sync-status/live/",
    # ... and the health strip above it, refreshed on its own.
    "integration/salesforce/sync-status/live/health/",
    "integration/salesforce/cycles/<engine_id:cycle_id>/",
    "integration/salesforce/cycles/<engine_id:cycle_id>/steps/<engine_id:step_id>/",
    "integration/salesforce/cycles/<engine_id:cycle_id>/steps/<engine_id:step_id>/export.csv",
    "integration/salesforce/sync-errors/",
    "integration/salesforce/sync-errors/<str:key>/",
    "integration/salesforce/sync-errors/<str:key>/export.csv",
    "integration/salesforce/records/",
    "integration/salesforce/records/<engine_id:record_id>/",
    "preferences/",
}
READ_API = {
    "api/v1/sync-steps/",
    "api/v1/health/",
    "api/v1/error-groups/",
    "api/v1/records/<engine_id:record_id>/failures/",
}
INGEST_API = {"api/v1/sync-reports/", "api/v1/sync-reports/<str:report_id>/"}
# The API description holds no data: clients read it before they have a token.
PUBLIC = {"accounts/login/", "accounts/logout/", "i18n/setlang/", "healthz", "api/v1/openapi.json"}
REDIRECTS = {"": "/integration/salesforce/sync-status/"}


def served_patterns() -> list[str]:
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    return list(walk(get_resolver().url_patterns))


# What a pattern needs to name something that exists, for the answers past
# the access check to be a 200 (a step with failures, its cycle, a record, their group).
QUERIES = {
    "integration/salesforce/records/": "?marketo_id=m-shared",
    "integration/salesforce/sync-status/live/": "?live_mark=0&live_rows=",
}
# What a pattern needs to be asked as it is meant to be: the poll by htmx.
HEADERS = {
    "integration/salesforce/sync-status/live/": {"HTTP_HX_REQUEST": "true"},
    "integration/salesforce/sync-status/live/health/": {"HTTP_HX_REQUEST": "true"},
}


def concrete(pattern: str, examples: dict | None = None) -> str:
    """A URL of the pattern: its parameters from `examples`, or random."""
    examples = examples or {}

    def value(match) -> str:
        return examples.get(match[1], str(uuid.uuid4()))

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, pattern) + QUERIES.get(pattern, "")


@pytest.fixture
def examples(ingest) -> dict:
    """A step whose two records fail with one Marketo id: the ids of its
    cycle, itself, a record and their group."""
    from dashboard.syncerrors.signatures import group_key

    failures = [
        {"record_id": record, "marketo_id": "m-shared", "message": "Postal code is required"}
        for record in ["00Q-a", "00Q-b"]
    ]
    step = make_step("lead.pull_updates", status="incomplete", failures=failures)
    ingest(make_report(step, cycle_id="cyc-1"))
    return {
        "cycle_id": "cyc-1",
        "step_id": "lead.pull_updates",
        "key": group_key(ErrorGroup.objects.get().id),
        "record_id": "00Q-a",
    }


@pytest.fixture
def permitted(client):
    user = User.objects.create_user("ada")
    user.groups.add(Group.objects.get(name="Sync Status admins"))
    return user


@pytest.fixture
def unpermitted():
    return User.objects.create_user("bob")


def test_every_served_url_is_classified():
    known = PAGES | READ_API | INGEST_API | PUBLIC | set(REDIRECTS)
    unknown = [p for p in served_patterns() if p not in known and not p.startswith("admin/")]
    assert unknown == []


@pytest.mark.parametrize("pattern", sorted(PAGES))
def test_a_page_redirects_anonymous_users_to_login(client, pattern):
    response = client.get(concrete(pattern))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("pattern", sorted(PAGES | READ_API))
def test_a_page_or_the_read_api_answers_403_without_the_permission(client, unpermitted, pattern):
    client.force_login(unpermitted)
    assert client.get(concrete(pattern)).status_code == 403


@pytest.mark.parametrize("pattern", sorted(PAGES | READ_API))
def test_a_page_or_the_read_api_serves_a_user_with_the_permission(
    client, permitted, examples, pattern
):
    client.force_login(permitted)
    assert client.get(concrete(pattern, examples), **HEADERS.get(pattern, {})).status_code == 200


def test_a_superuser_has_the_permission(client):
    client.force_login(User.objects.create_superuser("root"))
    assert client.get("/integration/salesforce/sync-status/").status_code == 200


@pytest.mark.parametrize("pattern", sorted(READ_API))
def test_the_read_api_answers_401_to_anonymous_and_serves_a_read_token(client, examples, pattern):
    url = concrete(pattern, examples)
    assert client.get(url).status_code == 401
    token = token_create(name="grafana", scope="read")
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


@pytest.mark.parametrize("pattern", sorted(PAGES))
def test_a_page_does_not_take_a_token_instead_of_a_login(client, pattern):
    token = token_create(name="grafana", scope="read")
    response = client.get(concrete(pattern), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 302


@pytest.mark.parametrize("pattern", sorted(INGEST_API))
def test_the_ingest_api_takes_ingest_tokens_only(client, permitted, pattern):
    url = concrete(pattern)
    method = client.post if pattern == "api/v1/sync-reports/" else client.get
    client.force_login(permitted)
    assert method(url).status_code == 401, "a session is not enough"
    read = token_create(name="grafana", scope="read")
    assert method(url, HTTP_AUTHORIZATION=f"Bearer {read}").status_code == 401
    ingest = token_create(name="engine")
    # Past authentication: the empty body is invalid (400), the id unknown (404).
    assert method(url, HTTP_AUTHORIZATION=f"Bearer {ingest}").status_code in {400, 404}


def test_the_home_page_leads_to_the_sync_status_page(client):
    for pattern, target in REDIRECTS.items():
        response = client.get(concrete(pattern))
        assert (response.status_code, response["Location"]) == (302, target)


ADMIN_AUTH = {"admin/login/", "admin/logout/"}


@pytest.mark.parametrize(
    "pattern", [p for p in served_patterns() if p.startswith("admin/") and p not in ADMIN_AUTH]
)
def test_the_admin_is_for_staff_only(client, permitted, pattern):
    client.force_login(permitted)  # may view sync status, but is not staff
    response = client.get(concrete(pattern))
    assert response.status_code in {302, 404}
    if response.status_code == 302:
        assert response["Location"].startswith("/admin/login/")


def test_forms_are_protected_against_csrf(permitted):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(permitted)
    assert client.post("/preferences/", {"time_zone": "Europe/Paris"}).status_code == 403
    assert client.post("/accounts/logout/").status_code == 403
    assert client.post("/i18n/setlang/", {"language": "fr"}).status_code == 403
    anonymous = Client(enforce_csrf_checks=True)
    assert (
        anonymous.post("/accounts/login/", {"username": "ada", "password": "x"}).status_code == 403
    )


def test_the_admins_group_holds_the_permission_after_migrate():
    group = Group.objects.get(name="Sync Status admins")
    assert list(group.permissions.values_list("content_type__app_label", "codename")) == [
        ("dashboard", "view_sync_status")
    ]


ALERT_PAGES = ["/admin/dashboard/alertrule/", "/admin/dashboard/alertrule/add/",
               "/admin/dashboard/incident/"]  # fmt: skip


def staff(*codenames: str, group: bool = True) -> User:
    user = User.objects.create_user(f"staff-{uuid.uuid4().hex[:8]}", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name="Sync Status admins"))
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


@pytest.mark.parametrize("url", ALERT_PAGES)
def test_the_alert_rules_are_for_those_who_may_see_the_dashboard_and_change_rules(client, url):
    client.force_login(staff("change_alertrule"))
    assert client.get(url).status_code == 200
    client.force_login(staff(group=False))
    assert client.get(url).status_code == 403, "staff who may not change rules"
    client.force_login(staff("change_alertrule", group=False))
    assert client.get(url).status_code == 403, "may change rules, but not see the dashboard"
    client.force_login(staff("view_alertrule"))
    assert client.get(url).status_code == 403, "may only view rules"


def test_only_who_may_change_rules_sees_the_alerts_tab(client):
    client.force_login(staff())
    page = client.get("/integration/salesforce/sync-status/").content.decode()
    assert "/admin/dashboard/alertrule/" not in page
