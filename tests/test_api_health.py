"""GET /api/v1/health/: the health strip as JSON, for a read token or a permitted user."""

from datetime import timedelta

import pytest

from dashboard.ingest.tokens import token_create
from dashboard.models import IngestToken
from tests.conftest import iso, make_report, make_step, recent

URL = "/api/v1/health/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def read(db) -> dict:
    token = token_create(name="grafana", scope=IngestToken.Scope.READ)
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_it_answers_exactly_the_documented_keys(client, read):
    body = client.get(URL, **read).json()

    assert list(body) == [
        "last_cycle_started_at", "last_cycle_ended_at", "cycle_interval_s", "stale_after_s",
        "stale", "stuck_steps", "last_24h", "previous_24h", "buckets",
    ]  # fmt: skip
    # Nothing has run yet: stale, with no interval to go by.
    assert (body["last_cycle_started_at"], body["cycle_interval_s"], body["stale_after_s"]) == (
        None, None, 900,
    )  # fmt: skip
    assert body["stale"] is True
    assert body["last_24h"] == {"cycles": 0, "steps": 0, "failed_steps": 0, "failed_records": 0}


def test_it_gives_the_cadence_the_windows_and_the_stuck_steps(client, ingest, read):
    stuck_at = recent(90)
    # From one clock reading: a second ticking in between would move a start.
    latest, old = stuck_at + timedelta(minutes=60), stuck_at - timedelta(minutes=60 * 28.5)
    failures = [{"record_id": f"00Q{n}", "message": "Postal code is required"} for n in range(3)]
    ingest(
        make_report(
            make_step("lead.pull_updates", started_at=stuck_at, status="in_process"),
            make_step(
                "invoice.push",
                started_at=stuck_at + timedelta(seconds=5),
                object_type="custom_object",
                object_name="Invoice__c",
                operation="push_updates",
                status="incomplete",
                failures=failures,
            ),
            cycle_id="cyc-a",
            started_at=stuck_at,
            ended_at=iso(stuck_at + timedelta(minutes=4)),
        ),  # fmt: skip
        make_report(make_step(started_at=latest), cycle_id="cyc-b", started_at=latest),
        make_report(
            make_step(status="failed", started_at=old),
            cycle_id="cyc-old",
            started_at=old,
        ),
    )

    body = client.get(URL, **read).json()

    assert body["last_cycle_started_at"] == iso(latest)
    assert body["last_cycle_ended_at"] == iso(stuck_at + timedelta(minutes=4))
    assert body["cycle_interval_s"] == 3600
    assert (body["stale_after_s"], body["stale"]) == (10800, False)
    assert body["stuck_steps"] == [
        {
            "cycle_id": "cyc-a",
            "step_id": "lead.pull_updates",
            "object_type": "lead",
            "object_name": None,
            "operation": "pull_updates",
            "started_at": iso(stuck_at),
        }
    ]
    assert body["last_24h"] == {"cycles": 2, "steps": 3, "failed_steps": 1, "failed_records": 3}
    assert body["previous_24h"] == {"cycles": 1, "steps": 1, "failed_steps": 1, "failed_records": 0}
    assert len(body["buckets"]) in (30, 31)
    latest = body["buckets"][-1]
    assert set(latest["steps"]) == {"succeeded", "failed", "incomplete", "in_process", "cleaned_up"}
    assert sum(sum(bucket["steps"].values()) for bucket in body["buckets"]) == 4
    assert sum(bucket["failed_records"] for bucket in body["buckets"]) == 3


def test_a_logged_in_user_with_the_permission_reads_it_too(admin_client):
    assert admin_client.get(URL).status_code == 200


def test_it_refuses_anything_but_get(client, read):
    assert client.post(URL, **read).status_code == 405


def test_a_report_applied_is_in_the_next_answer(client, ingest, read):
    assert client.get(URL, **read).json()["last_24h"]["steps"] == 0

    ingest(make_report(make_step(started_at=recent(30)), started_at=recent(30)))

    assert client.get(URL, **read).json()["last_24h"]["steps"] == 1


def test_readers_in_between_reports_share_one_reading(
    client, ingest, read, django_assert_max_num_queries
):
    ingest(make_report(make_step(status="in_process", started_at=recent(90))))
    first = client.get(URL, **read).content
    # The token, then the live mark: none of the figures.
    with django_assert_max_num_queries(2):
        again = client.get(URL, **read).content
    assert again == first


def test_it_lists_every_stuck_step_oldest_first_whatever_its_ids_hold(client, ingest, read):
    started = recent(120)
    ingest(
        make_report(
            make_step('say "hé"', started_at=started + timedelta(seconds=1), status="in_process"),
            make_step("a\\b", started_at=started, status="in_process", object_type="contact"),
            make_step("later", started_at=recent(5), status="in_process"),
            cycle_id="cyc-ünï",
            started_at=started,
        )
    )

    body = client.get(URL, **read).json()

    assert [(s["cycle_id"], s["step_id"], s["object_type"]) for s in body["stuck_steps"]] == [
        ("cyc-ünï", "a\\b", "contact"),
        ("cyc-ünï", 'say "hé"', "lead"),
    ]
    assert body["stuck_steps"][0]["started_at"] == iso(started)
