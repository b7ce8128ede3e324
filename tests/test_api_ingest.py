"""docs/reports.md: POST /api/v1/sync-reports/ and GET /api/v1/sync-reports/<id>/."""

import json
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import User

from dashboard.ingest.tokens import token_create
from dashboard.models import IngestToken, ReceivedReport, SyncStep
from tests.conftest import iso, make_report, make_step

URL = "/api/v1/sync-reports/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def post(client, ingest_token, django_capture_on_commit_callbacks):
    def post(body, token=ingest_token, **extra):
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(URL, data, content_type="application/json", **headers, **extra)

    return post


def test_it_accepts_a_valid_report_and_applies_it(post, client, ingest_token):
    response = post(make_report(make_step(counts={"new": 4})))

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted"
    assert SyncStep.objects.get().new_count == 4
    status = client.get(response["Location"], HTTP_AUTHORIZATION=f"Bearer {ingest_token}").json()
    assert status["report_id"] == body["report_id"]
    assert status["status"] == "applied"
    assert status["applied_at"] is not None
    assert status["error"] is None


@pytest.mark.parametrize("started_at", ["0001-01-02T00:00:00Z", "0001-01-02T14:00:00+14:00"])
def test_it_applies_a_report_at_the_first_moment_it_accepts(post, started_at):
    # Accepted is a promise to apply: it may not fail afterwards. (The other
    # end, year 9999, is refused as a clock gone wrong: see below.)
    step = make_step(started_at=None) | {"started_at": started_at, "ended_at": started_at}
    response = post(make_report(step) | {"cycle": {"id": "c", "started_at": started_at}})

    assert response.status_code == 202
    assert ReceivedReport.objects.get().status == ReceivedReport.State.APPLIED


@pytest.mark.parametrize(
    "moment", ["0001-01-01T23:59:59Z", "0001-01-02T00:00:00+00:01", "9999-12-31T00:00:00Z"]
)
def test_it_refuses_a_moment_some_time_zone_could_not_show(post, moment):
    # A day inside the years 1-9999 in UTC: every zone can show what is accepted.
    response = post(make_report(make_step(started_at=None) | {"started_at": moment}))

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "path": "steps[0].started_at",
            "message": "Must be between 0001-01-02 and 9999-12-30 in UTC.",
        }
    ]
    assert not ReceivedReport.objects.exists()


def test_it_stores_the_report_exactly_as_sent(post):
    raw = json.dumps(make_report(make_step()), indent=1)
    post(raw)
    assert ReceivedReport.objects.get().payload == raw


def test_it_rejects_an_invalid_report_naming_every_problem_and_stores_nothing(post):
    report = make_report(make_step("ok"), make_step("bad", status="done"), make_step("ok"))

    response = post(report)

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {"path": "steps[1].status", "message": response.json()["errors"][0]["message"]},
            {"path": "steps[2].id", "message": "Step 'ok' appears twice in this report."},
        ]
    }
    assert "allowed: succeeded, failed" in response.json()["errors"][0]["message"]
    assert ReceivedReport.objects.count() == 0
    assert SyncStep.objects.count() == 0


def test_it_rejects_a_body_that_is_not_json(post):
    response = post(b"cycle=1&steps=2")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("The report is not valid JSON")


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Token {token}"],
)
def test_it_refuses_a_request_without_a_valid_ingest_token(client, ingest_token, authorization):
    headers = {}
    if authorization:
        headers["HTTP_AUTHORIZATION"] = authorization.format(token=ingest_token)
    response = client.post(
        URL, json.dumps(make_report()), content_type="application/json", **headers
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert ReceivedReport.objects.count() == 0


def test_it_refuses_a_read_token(post):
    response = post(make_report(), token=token_create(name="grafana", scope="read"))
    assert response.status_code == 401


def test_it_refuses_a_revoked_token(post, ingest_token):
    IngestToken.objects.update(revoked_at="2026-01-01T00:00Z")
    assert post(make_report(), token=ingest_token).status_code == 401


def test_it_judges_a_bearer_request_by_its_token_alone(client, post):
    client.force_login(User.objects.create_superuser("root", password="pw"))
    assert post(make_report(), token="sst_wrong").status_code == 401
    assert post(make_report(), token=None).status_code == 401


def test_it_records_when_a_token_was_last_used(post):
    post(make_report())
    assert IngestToken.objects.get().last_used_at is not None


def test_it_refuses_a_report_over_ten_mebibytes(post):
    report = make_report(
        make_step(failures=[{"record_id": "r", "message": "x" * (10 * 1024 * 1024)}])
    )
    response = post(report)
    assert response.status_code == 413
    assert ReceivedReport.objects.count() == 0


def test_it_accepts_a_report_of_almost_ten_mebibytes(post):
    report = make_report(make_step(failures=[{"record_id": "r", "message": "x"}]))
    padding = 10 * 1024 * 1024 - len(json.dumps(report)) - 100
    report["steps"][0]["failures"][0]["message"] = "x" * padding
    assert post(report).status_code == 202


def test_it_refuses_an_oversized_body_that_does_not_declare_its_length(rf, ingest_token):
    from dashboard.web.api import sync_report_create

    request = rf.post(URL, b"x" * (10 * 1024 * 1024 + 1), content_type="application/json")
    del request.META["CONTENT_LENGTH"]
    request.META["HTTP_AUTHORIZATION"] = f"Bearer {ingest_token}"
    assert sync_report_create(request).status_code == 413


def test_it_answers_405_to_other_methods(client, ingest_token):
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {ingest_token}")
    assert response.status_code == 405


@pytest.mark.parametrize("report_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_it_answers_404_for_an_unknown_report(client, ingest_token, report_id):
    response = client.get(f"{URL}{report_id}/", HTTP_AUTHORIZATION=f"Bearer {ingest_token}")
    assert response.status_code == 404
    assert "errors" in response.json()


def test_it_shows_report_status_only_to_an_ingest_token(post, client):
    location = post(make_report())["Location"]
    assert client.get(location).status_code == 401
    read_token = token_create(name="grafana", scope="read")
    assert client.get(location, HTTP_AUTHORIZATION=f"Bearer {read_token}").status_code == 401


def test_it_reports_why_applying_failed(client, ingest_token):
    report = ReceivedReport.objects.create(
        cycle_external_id="c", payload="{}", source="t", status="failed", error="Invalid report"
    )
    response = client.get(f"{URL}{report.report_id}/", HTTP_AUTHORIZATION=f"Bearer {ingest_token}")
    assert response.json()["status"] == "failed"
    assert response.json()["error"] == "Invalid report"
    assert response.json()["applied_at"] is None


def test_it_records_last_use_at_most_once_a_minute(post):
    post(make_report())
    first_use = IngestToken.objects.get().last_used_at
    post(make_report())
    assert IngestToken.objects.get().last_used_at == first_use
    IngestToken.objects.update(last_used_at=first_use - timedelta(minutes=2))
    post(make_report())
    assert IngestToken.objects.get().last_used_at > first_use


@pytest.fixture
def frozen_minute(monkeypatch):
    """All requests of the test fall in one rate-limit window, 20 s before its end."""
    from types import SimpleNamespace

    from dashboard.ingest import throttle

    monkeypatch.setattr(throttle, "time", SimpleNamespace(time=lambda: 1_800_000_040.0))


def test_a_token_over_its_rate_gets_429_with_retry_after_and_nothing_is_stored(
    post, settings, frozen_minute
):
    settings.SYNC_STATUS_INGEST_RATE_PER_MINUTE = 3
    statuses = [post(make_report(make_step(step_id=f"s{i}"))).status_code for i in range(3)]
    refused = post(make_report(make_step(step_id="one-too-many")))

    assert statuses == [202, 202, 202]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "20"
    assert "3 reports a minute" in refused.json()["errors"][0]["message"]
    assert ReceivedReport.objects.count() == 3
    assert not SyncStep.objects.filter(step_id="one-too-many").exists()


def test_the_rate_is_counted_per_token(post, settings, frozen_minute):
    settings.SYNC_STATUS_INGEST_RATE_PER_MINUTE = 1
    other = token_create(name="second engine")

    assert post(make_report(make_step())).status_code == 202
    assert post(make_report(make_step()), token=other).status_code == 202
    assert post(make_report(make_step())).status_code == 429


def test_reports_are_accepted_without_limit_while_the_cache_is_unreachable(
    post, settings, frozen_minute
):
    from devtools.processes import free_port

    settings.SYNC_STATUS_INGEST_RATE_PER_MINUTE = 1
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        }
    }

    statuses = [post(make_report(make_step(step_id=f"s{i}"))).status_code for i in range(3)]

    assert statuses == [202, 202, 202]
    assert SyncStep.objects.count() == 3


@pytest.mark.parametrize("started_at", ["tomorrow and more", "9999-12-30T23:59:59Z"])
def test_a_cycle_dated_more_than_a_day_ahead_is_refused(post, started_at):
    from datetime import UTC, datetime

    if started_at == "tomorrow and more":
        started_at = iso(datetime.now(UTC) + timedelta(days=1, minutes=5))
    step = make_step() | {"started_at": started_at, "ended_at": started_at}
    response = post(make_report(step) | {"cycle": {"id": "c", "started_at": started_at}})

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "cycle.started_at"
    assert "clock" in response.json()["errors"][0]["message"]
    assert not ReceivedReport.objects.exists()


def test_a_cycle_a_little_ahead_is_taken_as_clock_drift(post):
    from datetime import UTC, datetime

    soon = (datetime.now(UTC) + timedelta(minutes=10)).replace(microsecond=0)
    assert post(make_report(make_step(started_at=soon), started_at=soon)).status_code == 202
