"""docs/errors.md: GET /api/v1/error-groups/."""

import itertools
import string

import pytest
from django.contrib.auth.models import Group, User

from dashboard.ingest.tokens import token_create
from tests.conftest import make_report, make_step
from tests.error_world import in_order, ingest_world

URL = "/api/v1/error-groups/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def read_token():
    return token_create(name="grafana", scope="read")


@pytest.fixture
def auth(read_token):
    return {"HTTP_AUTHORIZATION": f"Bearer {read_token}"}


@pytest.fixture
def groups(ingest):
    return ingest_world(ingest)


def get_all(client, query: str, auth: dict) -> list[dict]:
    """Every result, following `next` until it is null."""
    results, url = [], f"{URL}?{query}"
    while url:
        response = client.get(url, **auth)
        assert response.status_code == 200, response.content
        body = response.json()
        assert len(body["results"]) <= 100
        results += body["results"]
        url = body["next"]
        assert url is None or url.startswith("http://testserver/api/v1/error-groups/?")
    return results


def as_described(group: dict) -> dict:
    def utc(moment):
        return moment.isoformat().replace("+00:00", "Z")

    keys = ["id", "object_type", "object_name", "operation", "error_code", "field", "level",
            "template", "failures", "records", "trend", "state", "new"]  # fmt: skip
    return {key: group[key] for key in keys} | {
        "first_seen": utc(group["first_seen"]),
        "last_seen": utc(group["last_seen"]),
    }


def test_it_describes_each_group(client, groups, auth):
    results = get_all(client, "", auth)
    assert [r["id"] for r in results] == in_order(groups.values())
    for result in results:
        group = groups[result["id"]]
        assert result.pop("sample_message") in group["messages"]
        assert result == as_described(group)


def test_it_writes_null_for_an_empty_object_name_error_code_or_field(client, ingest, auth):
    ingest(make_report(make_step(status="failed", error={"message": "Session expired"})))
    (result,) = get_all(client, "", auth)
    assert (result["object_name"], result["error_code"], result["field"]) == (None, None, None)
    assert result["level"] == "job"
    assert len(result["trend"]) == 31 and sum(result["trend"]) == 1


@pytest.mark.parametrize("sort", ["-last_seen", "last_seen", "-failures", "-records",
                                  "-first_seen", "first_seen"])  # fmt: skip
def test_it_sorts_like_the_page(client, groups, auth, sort):
    assert [r["id"] for r in get_all(client, f"sort={sort}", auth)] == in_order(
        groups.values(), sort
    )


def test_it_filters_like_the_page(client, groups, auth):
    wanted = [
        g for g in groups.values()
        if g["state"] == "ongoing" and g["object_type"] in {"lead", "contact"}
        and g["level"] == "record" and "postal" in g["template"].lower()
    ]  # fmt: skip
    assert wanted
    query = "state=ongoing&object_type=lead&object_type=contact&level=record&q=POSTAL&operation="
    assert [r["id"] for r in get_all(client, query, auth)] == in_order(wanted)


def test_a_search_for_a_record_id_filters_and_never_redirects(client, groups, auth):
    response = client.get(f"{URL}?q=leadpull_updates-r3", **auth)
    assert response.status_code == 200
    assert response.json() == {"results": [], "next": None}


def many_groups(ingest, count: int) -> None:
    words = ("".join(letters) for letters in itertools.product(string.ascii_lowercase, repeat=2))
    steps = [
        make_step(f"s{n}", status="failed", error={"message": f"Failure {word}"})
        for n, word in zip(range(count), words, strict=False)
    ]
    ingest(make_report(*steps))


def test_it_pages_a_hundred_at_a_time_to_a_null_next(client, ingest, auth):
    many_groups(ingest, 230)
    first = client.get(f"{URL}?sort=-failures", **auth).json()
    assert len(first["results"]) == 100
    assert first["next"] == "http://testserver/api/v1/error-groups/?sort=-failures&page=2"
    results = get_all(client, "sort=-failures", auth)
    assert len(results) == len({r["id"] for r in results}) == 230
    assert results == sorted(results, key=lambda r: int(r["id"], 16))


def test_it_has_no_results_past_the_last_page(client, ingest, auth):
    many_groups(ingest, 3)
    for page in ["2", "99999999999999999999"]:
        assert client.get(f"{URL}?page={page}", **auth).json() == {"results": [], "next": None}


def test_it_answers_400_with_every_bad_parameter(client, auth):
    response = client.get(f"{URL}?state=stuck&sort=failures&level=all&page=0", **auth)
    assert response.status_code == 400
    assert {e["path"] for e in response.json()["errors"]} == {"state", "sort", "level", "page"}


def test_it_serves_a_session_with_the_permission(client, ingest):
    many_groups(ingest, 1)
    user = User.objects.create_user("ada")
    user.groups.add(Group.objects.get(name="Sync Status admins"))
    client.force_login(user)
    assert len(client.get(URL).json()["results"]) == 1


def test_it_refuses_a_session_without_the_permission(client):
    client.force_login(User.objects.create_user("bob"))
    assert client.get(URL).status_code == 403


def test_it_refuses_anonymous_requests_and_ingest_tokens_with_401(client, ingest_token):
    response = client.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {ingest_token}").status_code == 401


def test_its_query_count_does_not_grow_with_the_groups(
    client, ingest, auth, django_assert_max_num_queries
):
    many_groups(ingest, 150)
    # The token and its last use; the groups and their trends.
    with django_assert_max_num_queries(4):
        assert len(client.get(URL, **auth).json()["results"]) == 100
