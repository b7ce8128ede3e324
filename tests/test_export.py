"""docs/dashboard.md: the sync errors export, to the letter."""

import csv
import io
import re
import tracemalloc
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User

from dashboard.models import FailedRecord, SyncStep, UserPreference
from tests.conftest import example_report, example_shift, iso, make_report, make_step, recent

URL = "/integration/salesforce/sync-status/export.csv"
HEADER = (
    "started_at,ended_at,object_type,operation,object_name,status,cycle_id,step_id,"
    "record_id,marketo_id,error_code,field,message"
)
# Transactional: on PostgreSQL the export reads through a connection of its
# own (COPY in a thread), which sees only committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


def export(client, query: str = "") -> tuple[str, list[dict]]:
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 200, response
    text = b"".join(response.streaming_content).decode("utf-8")
    return text, list(csv.DictReader(io.StringIO(text)))


def test_it_downloads_a_csv_with_the_exact_header_and_a_dated_name(admin_client):
    response = admin_client.get(URL)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="sync-errors-\d{4}-\d{2}-\d{2}T\d{4}\.csv"',
        response["Content-Disposition"],
    )
    assert b"".join(response.streaming_content).decode() == HEADER + "\n"


def test_it_exports_the_spec_examples(admin_client, ingest):
    shift = example_shift()
    ingest(
        example_report("cycle-started.json", shift), example_report("cycle-finished.json", shift)
    )
    _, rows = export(admin_client, "sort=start")
    assert [(r["step_id"], r["record_id"]) for r in rows] == [
        ("pull.lead", "00Q5e00000AbCdEAAZ"),
        ("pull.lead", "00Q5e00000AbCdFAAZ"),
        ("push.campaign", "7015e000000XyZ1AAK"),
    ]
    first = rows[0]
    assert first == {
        "started_at": (
            shift + __import__("datetime").datetime(2026, 11, 28, 10, 5, 3, tzinfo=ZoneInfo("UTC"))
        ).isoformat(),
        "ended_at": (
            shift + __import__("datetime").datetime(2026, 11, 28, 10, 6, 40, tzinfo=ZoneInfo("UTC"))
        ).isoformat(),
        "object_type": "lead",
        "operation": "pull_updates",
        "object_name": "",
        "status": "incomplete",
        "cycle_id": "cyc-20261128-1005",
        "step_id": "pull.lead",
        "record_id": "00Q5e00000AbCdEAAZ",
        "marketo_id": "",
        "error_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "field": "PostalCode",
        "message": "Postal code is required",
    }
    assert (
        rows[1]["message"] == '\'=HYPERLINK("http://example.invalid","Use one of these records?")'
    )


def test_it_puts_the_job_level_error_first_then_records_by_record_id(admin_client, ingest):
    failures = [{"record_id": r, "message": f"bad {r}"} for r in ["00Q3", "00Q1", "00Q2"]]
    error = {"code": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}
    ingest(make_report(make_step(status="failed", error=error, failures=failures)))
    _, rows = export(admin_client)
    assert [(r["record_id"], r["error_code"], r["message"]) for r in rows] == [
        ("", "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
        ("00Q1", "", "bad 00Q1"),
        ("00Q2", "", "bad 00Q2"),
        ("00Q3", "", "bad 00Q3"),
    ]


def test_it_leaves_out_steps_without_errors(admin_client, ingest):
    ingest(
        make_report(
            make_step("clean"), make_step("dirty", failures=[{"record_id": "r", "message": "m"}])
        )
    )
    _, rows = export(admin_client)
    assert [r["step_id"] for r in rows] == ["dirty"]


@pytest.mark.parametrize("sort", ["-start", "start", "-end", "end"])
def test_it_orders_steps_like_the_page(admin_client, ingest, sort):
    base = recent(120)
    steps = []
    for n, (start_minute, duration) in enumerate([(0, 50), (10, 5), (20, None), (30, 1)]):
        started = base + timedelta(minutes=start_minute)
        step = make_step(f"s{n}", started_at=started, status="failed", error={"message": f"e{n}"})
        if duration is not None:
            step["ended_at"] = iso(started + timedelta(minutes=duration))
        else:
            step["status"] = "in_process"
        steps.append(step)
    ingest(make_report(*steps, started_at=base - timedelta(minutes=1)))
    _, rows = export(admin_client, f"sort={sort}")
    expected = {
        "-start": ["s3", "s2", "s1", "s0"],
        "start": ["s0", "s1", "s2", "s3"],
        "-end": ["s2", "s0", "s3", "s1"],
        "end": ["s1", "s3", "s0", "s2"],
    }[sort]
    assert [r["step_id"] for r in rows] == expected


def test_it_honours_the_filters(admin_client, ingest):
    failure = [{"record_id": "r", "message": "m"}]
    ingest(
        make_report(
            make_step("a", object_type="lead", status="incomplete", failures=failure),
            make_step("b", object_type="contact", status="incomplete", failures=failure),
            make_step("c", object_type="lead", status="failed", error={"message": "x"}),
        )
    )
    _, rows = export(admin_client, "object_type=lead&status=incomplete&status=")
    assert [r["step_id"] for r in rows] == ["a"]


def test_it_writes_times_in_the_users_zone_with_its_offset(admin_client, ingest):
    UserPreference.objects.create(
        user=User.objects.get(username="ada"), time_zone="America/Sao_Paulo"
    )
    started = recent(30)
    ingest(
        make_report(make_step(started_at=started, failures=[{"record_id": "r", "message": "m"}]))
    )
    _, rows = export(admin_client)
    assert rows[0]["started_at"] == started.astimezone(ZoneInfo("America/Sao_Paulo")).isoformat()
    assert rows[0]["started_at"].endswith("-03:00")
    assert rows[0]["ended_at"] == ""


@pytest.mark.parametrize(
    "payload",
    [
        "=1+2",
        "+1",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1",
        "\r=1",
        "\n=1",
        "=cmd|' /C calc'!A0",
        '=HYPERLINK("http://evil.example","click")',
        "-@sum(1,1)",
    ],
)
def test_it_neutralises_formula_injection_in_every_cell(admin_client, ingest, payload):
    failure = {
        "record_id": payload,
        "message": payload,
        "marketo_id": payload,
        "error_code": payload,
        "field": payload,
    }
    ingest(
        make_report(
            make_step(
                payload,
                object_type="custom_object",
                object_name=payload,
                failures=[failure],
                error={"code": payload, "message": payload},
            ),
            cycle_id=payload,
        )
    )
    _, rows = export(admin_client)
    for row in rows:
        for column in ["object_name", "cycle_id", "step_id", "error_code", "message"]:
            assert row[column] == "'" + payload, column
    assert rows[1]["record_id"] == rows[1]["marketo_id"] == rows[1]["field"] == "'" + payload


@pytest.mark.parametrize("text", ["a=b", " =1", "Postal code is required", "'quoted"])
def test_it_leaves_harmless_text_alone(admin_client, ingest, text):
    ingest(make_report(make_step(failures=[{"record_id": "r", "message": text}])))
    assert export(admin_client)[1][0]["message"] == text


def test_it_answers_400_for_a_bad_parameter(admin_client):
    response = admin_client.get(f"{URL}?status=exploded&since=soon")
    assert response.status_code == 400
    body = response.content.decode()
    assert "status: Select a valid choice. exploded" in body
    assert "since: Enter a date and time" in body


def vm_rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_its_memory_stays_flat_on_a_large_export(admin_client, ingest):
    ingest(make_report(*[make_step(f"s{n}") for n in range(20)]))
    steps = list(SyncStep.objects.all())
    rows_per_step = 5_000
    FailedRecord.objects.bulk_create(
        (
            FailedRecord(
                step=step,
                cycle_started_at=step.cycle_started_at,
                record_id=f"00Q{n:08}",
                message="Postal code is required " * 4,
                group_id=1,
                step_started_at=step.started_at,
            )
            for step in steps
            for n in range(rows_per_step)
        ),
        batch_size=5000,
    )
    response = admin_client.get(URL)
    rss_before = vm_rss_kib()
    rss_peak = rss_before
    tracemalloc.start()
    lines = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
        if lines % 10_000 == 0:
            rss_peak = max(rss_peak, vm_rss_kib())
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert lines == 1 + len(steps) * rows_per_step
    # 100,000 rows of ~200 bytes would be ~20 MB held at once; streaming holds a chunk.
    assert traced_peak < 5 * 1024 * 1024
    assert rss_peak - rss_before < 15 * 1024


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/St_Johns"])
def test_it_gives_back_tricky_text_and_times_exactly_as_sent(admin_client, ingest, zone):
    """Whichever writes the file (COPY on PostgreSQL, Python's csv elsewhere),
    a spreadsheet reads back each value as sent, behind a quote if formula-like."""
    UserPreference.objects.create(user=User.objects.get(username="ada"), time_zone=zone)
    tricky = [
        'comma, "quoted", and\nnew line',
        "carriage\rreturn",
        "=SUM(1)",
        "Événement ✓ 東京",
        "",
        "trailing space ",
        "\\. alone",
    ]
    started = recent(90).replace(microsecond=123456)
    b_started, b_ended = recent(80), recent(79)
    failures = [
        {"record_id": f"r{n}", "message": text, "marketo_id": text, "field": text or None}
        for n, text in enumerate(tricky)
    ]
    ingest(
        make_report(
            make_step("a", started_at=started, failures=failures,
                      error={"code": "=X", "message": 'job, "level"'}),
            make_step("b", started_at=b_started, ended_at=iso(b_ended),
                      object_type="custom_object", object_name='Quote, "Line"__c',
                      failures=[{"record_id": "-1", "message": "+minus"}]),
        )
    )  # fmt: skip

    def local(moment):
        return moment.astimezone(ZoneInfo(zone)).isoformat()

    a = [local(started), "", "lead", "pull_updates", "", "succeeded", "cyc-1", "a"]
    b = [local(b_started), local(b_ended), "custom_object", "pull_updates", 'Quote, "Line"__c',
         "succeeded", "cyc-1", "b"]  # fmt: skip
    for sort, steps in [("start", [a, b]), ("-start", [b, a]), ("end", [b, a]), ("-end", [a, b])]:
        text, _ = export(admin_client, f"sort={sort}")
        expected = []
        for step in steps:
            if step is a:
                expected.append([*a, "", "", "'=X", "", 'job, "level"'])
                for n, value in sorted(enumerate(tricky), key=lambda item: f"r{item[0]}"):
                    cell = "'" + value if value.startswith("=") else value
                    expected.append([*a, f"r{n}", cell, "", cell, cell])
            else:
                expected.append([*b, "'-1", "", "", "", "'+minus"])
        assert list(csv.reader(io.StringIO(text)))[1:] == expected, sort
