"""docs/dashboard.md: GET /api/v1/sync-steps/."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User

from dashboard.ingest.tokens import token_create
from tests.conftest import expected_order, iso, make_report, make_step, recent

URL = "/api/v1/sync-steps/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def read_token():
    return token_create(name="grafana", scope="read")


def get_all(client, query: str, **headers) -> list[dict]:
    """Every result, following `next` until it is null."""
    results, url = [], f"{URL}?{query}"
    while url:
        response = client.get(url, **headers)
        assert response.status_code == 200, response.content
        body = response.json()
        results += body["results"]
        url = body["next"]
        assert url is None or url.startswith("http://testserver/api/v1/sync-steps/?")
    return results


def test_it_describes_each_step(client, ingest, read_token):
    started = recent(30)
    ingest(
        make_report(
            make_step(
                "inv",
                started_at=started,
                ended_at=iso(started + timedelta(seconds=4)),
                object_type="custom_object",
                object_name="Invoice__c",
                operation="pull_deletes",
                status="failed",
                counts={"deleted": 7, "failed": 0},
                error={
                    "code": "REQUEST_LIMIT_EXCEEDED",
                    "message": "TotalRequests Limit exceeded.",
                },
            ),
            make_step("lead", started_at=started - timedelta(minutes=1), object_name="ignored"),
            cycle_id="cyc-9",
        )
    )
    results = get_all(client, "", HTTP_AUTHORIZATION=f"Bearer {read_token}")
    assert results[0] == {
        "cycle_id": "cyc-9",
        "step_id": "inv",
        "object_type": "custom_object",
        "object_name": "Invoice__c",
        "operation": "pull_deletes",
        "status": "failed",
        "started_at": iso(started),
        "ended_at": iso(started + timedelta(seconds=4)),
        "counts": {"new": None, "updated": None, "deleted": 7, "failed": 0, "skipped": None},
        "error": {"code": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."},
    }
    assert results[1]["object_name"] is None
    assert results[1]["ended_at"] is None
    assert results[1]["error"] is None


@pytest.mark.parametrize("sort", ["-start", "start", "-end", "end"])
def test_its_cursor_pages_cover_every_step_once_in_order(client, world, read_token, sort):
    results = get_all(client, f"sort={sort}", HTTP_AUTHORIZATION=f"Bearer {read_token}")
    assert [(r["cycle_id"], r["step_id"]) for r in results] == expected_order(world, sort)


def test_it_filters_like_the_page(client, world, read_token):
    wanted = [
        r for r in world if r["status"] in {"failed", "in_process"} and r["object_type"] == "lead"
    ]
    results = get_all(
        client,
        "status=failed&status=in_process&object_type=lead&operation=",
        HTTP_AUTHORIZATION=f"Bearer {read_token}",
    )
    assert [(r["cycle_id"], r["step_id"]) for r in results] == expected_order(wanted)


def test_it_answers_400_with_every_bad_parameter(client, read_token):
    response = client.get(
        f"{URL}?status=exploded&sort=up", HTTP_AUTHORIZATION=f"Bearer {read_token}"
    )
    assert response.status_code == 400
    assert {error["path"] for error in response.json()["errors"]} == {"status", "sort"}


@pytest.mark.parametrize("since", ["9999-12-31T23:59-23:59", "0001-01-01T00:00+23:59"])
def test_it_answers_400_for_a_moment_outside_the_years_it_can_hold(client, read_token, since):
    response = client.get(f"{URL}?since={since}", HTTP_AUTHORIZATION=f"Bearer {read_token}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "since"


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "WyItc3RhcnQiLCBudWxsLCAieCJd",
        "W10",
        # ["-start", "9999-12-31T23:59:00-23:59", 1]: past year 9999 in UTC.
        "WyItc3RhcnQiLCAiOTk5OS0xMi0zMVQyMzo1OTowMC0yMzo1OSIsIDFd",
    ],
)
def test_it_answers_400_for_a_cursor_it_did_not_give(client, read_token, cursor):
    response = client.get(f"{URL}?cursor={cursor}", HTTP_AUTHORIZATION=f"Bearer {read_token}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "cursor"


def test_it_answers_400_for_a_cursor_of_another_sort(client, world, read_token):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {read_token}"}
    next_url = client.get(f"{URL}?sort=end", **auth).json()["next"]
    response = client.get(next_url.replace("sort=end", "sort=start"), **auth)
    assert response.status_code == 400


def test_it_serves_a_session_with_the_permission(client, ingest):
    ingest(make_report(make_step()))
    user = User.objects.create_user("ada")
    user.groups.add(Group.objects.get(name="Sync Status admins"))
    client.force_login(user)
    assert len(client.get(URL).json()["results"]) == 1


def test_it_refuses_a_session_without_the_permission(client):
    client.force_login(User.objects.create_user("bob"))
    assert client.get(URL).status_code == 403


def test_it_refuses_anonymous_requests_with_401(client):
    response = client.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_an_ingest_token(client, ingest_token):
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {ingest_token}").status_code == 401


def test_it_judges_a_bearer_request_by_its_token_alone(client):
    client.force_login(User.objects.create_superuser("root", password="pw"))
    assert client.get(URL).status_code == 200
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer sst_wrong").status_code == 401


def test_it_keeps_to_the_retention_window(client, ingest, read_token):
    ingest(make_report(make_step(), started_at=recent(60 * 24 * 5 + 10), cycle_id="old"))
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {read_token}").json() == {
        "results": [],
        "next": None,
    }
