"""docs/errors.md: a group's export, with the columns and rules of docs/dashboard.md."""

import csv
import io
import re
import tracemalloc
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User

from dashboard.models import ErrorGroup, FailedRecord, SyncStep, UserPreference
from dashboard.syncerrors.signatures import group_key
from tests.conftest import iso, make_report, make_step, recent
from tests.error_world import ingest_failures, newest_first

HEADER = (
    "started_at,ended_at,object_type,operation,object_name,status,cycle_id,step_id,"
    "record_id,marketo_id,error_code,field,message"
)
pytestmark = pytest.mark.django_db


def export_url(key: str) -> str:
    return f"/integration/salesforce/sync-errors/{key}/export.csv"


def export(client, key: str) -> list[dict]:
    response = client.get(export_url(key))
    assert response.status_code == 200, response
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.splitlines()[0] == HEADER
    return list(csv.DictReader(io.StringIO(text)))


def as_exported(failure: dict, zone: str = "UTC") -> dict:
    def local(moment):
        return moment.astimezone(ZoneInfo(zone)).isoformat() if moment else ""

    return {
        "started_at": local(failure["started_at"]),
        "ended_at": local(failure["ended_at"]),
        "object_type": failure["object_type"],
        "operation": failure["operation"],
        "object_name": failure["object_name"] or "",
        "status": failure["status"],
        "cycle_id": failure["cycle_id"],
        "step_id": failure["step_id"],
        "record_id": failure["record_id"] or "",
        "marketo_id": failure["marketo_id"] or "",
        "error_code": failure["error_code"] or "",
        "field": failure["field"] or "",
        "message": failure["message"],
    }


@pytest.fixture
def failures(ingest):
    return ingest_failures(ingest)


def test_it_downloads_a_csv_named_after_the_group_and_the_time(admin_client, failures):
    key = failures[0]["group"]
    response = admin_client.get(export_url(key))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        rf'attachment; filename="sync-errors-{key}-\d{{4}}-\d{{2}}-\d{{2}}T\d{{4}}\.csv"',
        response["Content-Disposition"],
    )


def test_it_exports_every_groups_failures_in_its_pages_order(admin_client, failures, settings):
    settings.TIME_ZONE = "America/St_Johns"
    for key in {f["group"] for f in failures}:
        mine = newest_first([f for f in failures if f["group"] == key])
        assert export(admin_client, key) == [as_exported(f, "America/St_Johns") for f in mine]


def test_a_job_level_group_exports_its_steps_errors_and_none_of_their_records(admin_client, ingest):
    started = recent(30)
    ingest(
        make_report(
            make_step(started_at=started, ended_at=iso(started + timedelta(seconds=9)),
                      status="failed", error={"code": "LIMIT", "message": "Limit exceeded."},
                      failures=[{"record_id": "00Q1", "message": "Postal code is required"}])
        )
    )  # fmt: skip
    key = group_key(ErrorGroup.objects.get(level="job").id)
    assert export(admin_client, key) == [
        {
            "started_at": started.isoformat(),
            "ended_at": (started + timedelta(seconds=9)).isoformat(),
            "object_type": "lead",
            "operation": "pull_updates",
            "object_name": "",
            "status": "failed",
            "cycle_id": "cyc-1",
            "step_id": "lead.pull_updates",
            "record_id": "",
            "marketo_id": "",
            "error_code": "LIMIT",
            "field": "",
            "message": "Limit exceeded.",
        }
    ]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "\n"])
def test_it_neutralises_formula_injection_in_every_cell(admin_client, ingest, start):
    payload = f'{start}HYPERLINK("http://evil")'
    ingest(
        make_report(
            make_step(payload, status="incomplete", object_type="custom_object",
                      object_name=payload,
                      failures=[{"record_id": payload, "marketo_id": payload, "field": payload,
                                 "error_code": payload, "message": payload}]),
            cycle_id=payload,
        )
    )  # fmt: skip
    (row,) = export(admin_client, group_key(ErrorGroup.objects.get().id))
    neutral = "'" + payload
    for column in ["object_name", "cycle_id", "step_id", "record_id", "marketo_id",
                   "error_code", "field", "message"]:  # fmt: skip
        assert row[column] == neutral, column


def test_it_writes_times_in_the_users_zone_with_its_offset(admin_client, ingest):
    UserPreference.objects.create(user=User.objects.get(username="ada"), time_zone="Asia/Kolkata")
    started = recent(30).replace(microsecond=250000)
    ingest(make_report(make_step(started_at=started, status="incomplete",
                                 failures=[{"record_id": "r", "message": "m"}])))  # fmt: skip
    (row,) = export(admin_client, group_key(ErrorGroup.objects.get().id))
    assert row["started_at"] == started.astimezone(ZoneInfo("Asia/Kolkata")).isoformat()
    assert row["started_at"].endswith("+05:30")


def test_an_unknown_group_is_not_found(admin_client, failures):
    response = admin_client.get(export_url("0" * 16))
    assert response.status_code == 404
    assert response.content.decode() == "No such error group.\n"


def test_its_memory_stays_flat_on_a_large_group(admin_client, ingest):
    ingest(
        make_report(
            *[make_step(f"s{n}", status="incomplete", failures=[{"record_id": "r", "message": "m"}])
              for n in range(10)]
        )
    )  # fmt: skip
    group = ErrorGroup.objects.get()
    rows_per_step = 5_000
    FailedRecord.objects.bulk_create(
        (
            FailedRecord(step=step, cycle_started_at=step.cycle_started_at,
                         record_id=f"00Q{n:08}", message="Postal code is required " * 4,
                         group_id=group.id, step_started_at=step.started_at)
            for step in SyncStep.objects.all()
            for n in range(rows_per_step)
        ),
        batch_size=5000,
    )  # fmt: skip
    response = admin_client.get(export_url(group_key(group.id)))
    tracemalloc.start()
    lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert lines == 1 + 10 * (rows_per_step + 1)
    # 50,000 rows of ~200 bytes would be ~10 MB held at once; streaming holds a chunk.
    assert traced_peak < 5 * 1024 * 1024
