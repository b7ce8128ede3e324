"""docs/errors.md: GET /api/v1/records/<record_id>/failures/."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User

from dashboard.ingest.tokens import token_create
from dashboard.models import ErrorGroup
from dashboard.syncerrors.signatures import group_key
from tests.conftest import iso
from tests.error_world import RECORD, ingest_record_story

URL = f"/api/v1/records/{RECORD}/failures/"
pytestmark = pytest.mark.django_db
MINUTE = timedelta(minutes=1)


@pytest.fixture
def auth():
    return {"HTTP_AUTHORIZATION": f"Bearer {token_create(name='grafana', scope='read')}"}


@pytest.fixture
def story(ingest):
    return ingest_record_story(ingest)


def test_it_says_where_the_record_still_fails_and_since_when_it_does_not(client, story, auth):
    t = story
    body = client.get(URL, **auth).json()
    assert body["record_id"] == RECORD
    assert body["objects"] == [
        {"object_type": "contact", "object_name": None, "operation": "push_updates",
         "still_failing": True, "last_failed_at": iso(t["t5"] + MINUTE),
         "not_failing_since": None},
        {"object_type": "custom_object", "object_name": "Quote__c", "operation": "pull_updates",
         "still_failing": True, "last_failed_at": iso(t["t3"] + MINUTE),
         "not_failing_since": None},
        {"object_type": "lead", "object_name": None, "operation": "pull_updates",
         "still_failing": False, "last_failed_at": iso(t["t2"]),
         "not_failing_since": iso(t["t3"])},
        {"object_type": "custom_object", "object_name": "Invoice__c", "operation": "pull_updates",
         "still_failing": True, "last_failed_at": iso(t["t1"] + MINUTE),
         "not_failing_since": None},
    ]  # fmt: skip


def test_it_lists_every_failure_most_recent_first(client, story, auth):
    t = story

    def group(object_type, object_name=""):
        found = ErrorGroup.objects.filter(
            object_type=object_type,
            object_name=object_name,
            error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
        )
        return {g.template: group_key(g.id) for g in found}

    lead, contact = group("lead"), group("contact")
    invoice, quote = group("custom_object", "Invoice__c"), group("custom_object", "Quote__c")

    def failure(moment, cycle, step, object_type, object_name, operation, status, field,
                message, group_id):  # fmt: skip
        return {
            "cycle_id": cycle, "step_id": step, "object_type": object_type,
            "object_name": object_name, "operation": operation, "status": status,
            "started_at": iso(moment), "marketo_id": "1048576",
            "error_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "field": field,
            "message": message, "group_id": group_id,
        }  # fmt: skip

    required = "Postal code is required"
    assert client.get(URL, **auth).json()["results"] == [
        failure(t["t5"] + MINUTE, "c5", "contact", "contact", None, "push_updates", "in_process",
                "City", required, contact[required]),
        failure(t["t3"] + MINUTE, "c3", "quote", "custom_object", "Quote__c", "pull_updates",
                "incomplete", "PostalCode", "Locked", quote["Locked"]),
        failure(t["t2"] + MINUTE, "c2", "contact", "contact", None, "push_updates", "incomplete",
                "City", required, contact[required]),
        failure(t["t2"], "c2", "lead", "lead", None, "pull_updates", "incomplete", "PostalCode",
                required, lead[required]),
        failure(t["t1"] + MINUTE, "c1", "inv", "custom_object", "Invoice__c", "pull_updates",
                "in_process", "PostalCode", "Bad value", invoice["Bad value"]),
        failure(t["t1"], "c1", "lead", "lead", None, "pull_updates", "incomplete", "PostalCode",
                required, lead[required]),
    ]  # fmt: skip


@pytest.mark.parametrize("record_id", [RECORD.lower()[:-1], "00Q-never", "a%00b"])
def test_a_record_without_failure_in_the_window_is_a_404(client, story, auth, record_id):
    response = client.get(f"/api/v1/records/{record_id}/failures/", **auth)
    assert response.status_code == 404
    assert response.json() == {
        "errors": [{"path": "", "message": "This record has no failure in the retention window."}]
    }


def test_a_record_id_is_exact_and_case_sensitive(client, story, auth):
    body = client.get(f"/api/v1/records/{RECORD.lower()}/failures/", **auth).json()
    assert [r["message"] for r in body["results"]] == ["Other"]


def test_it_serves_a_session_with_the_permission(client, story):
    user = User.objects.create_user("ada")
    user.groups.add(Group.objects.get(name="Sync Status admins"))
    client.force_login(user)
    assert len(client.get(URL).json()["results"]) == 6


def test_it_refuses_a_session_without_the_permission(client, story):
    client.force_login(User.objects.create_user("bob"))
    assert client.get(URL).status_code == 403


def test_it_refuses_anonymous_requests_and_ingest_tokens_with_401(client, story, ingest_token):
    assert client.get(URL).status_code == 401
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {ingest_token}").status_code == 401
