"""docs/dashboard.md: a step's page, its failed records and their export."""

import csv
import io
import json
import re
from datetime import timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from dashboard.ingest.reports import report_apply, report_receive
from dashboard.models import SyncStep, UserPreference
from dashboard.syncerrors.signatures import failure_signature, group_key, job_error_signature
from tests.conftest import age_cycle, iso, make_report, make_step, recent
from tests.test_sync_status_page import table_cells, table_links

pytestmark = pytest.mark.django_db

# The export is written by PostgreSQL's COPY on a connection of its own, which
# sees only committed rows: tests that read it commit theirs.
reads_the_export = pytest.mark.django_db(transaction=True)
EXPORT_HEADER = (
    "started_at,ended_at,object_type,operation,object_name,status,cycle_id,step_id,"
    "record_id,marketo_id,error_code,field,message"
)


def text(html: str) -> str:
    """What a reader sees of `html`: its text, white space folded."""
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip())


def facts(response) -> dict[str, str]:
    """Each term of the page's fact lists, with what it says, as a reader sees them."""
    html = response.content.decode()
    return {
        text(term): text(value)
        for term, value in re.findall(r"<dt>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", html, re.S)
    }


def links(html: str) -> list[str]:
    return [unescape(href) for href in re.findall(r'<a [^>]*href="([^"]*)"', html)]


def step_url(cycle_id="cyc-1", step_id="lead.pull_updates") -> str:
    return reverse("step", args=[cycle_id, step_id])


def failure(record_id: str, message="Postal code is required", **fields) -> dict:
    return {"record_id": record_id, "message": message, **fields}


def test_it_shows_what_an_admin_must_read_about_the_step(admin_client, ingest):
    UserPreference.objects.create(user=User.objects.get(username="ada"), time_zone="Asia/Kolkata")
    started = recent(60)
    error = {"code": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}
    ingest(
        make_report(
            make_step(
                "invoices.pull",
                started_at=started,
                ended_at=iso(started + timedelta(minutes=1, seconds=37)),
                object_type="custom_object",
                object_name="Invoice__c",
                status="failed",
                counts={"new": 3, "updated": 1234, "failed": 2},
                error=error,
            ),
            cycle_id="cyc-2026-11-28T10:05:00Z",
        )
    )
    response = admin_client.get(step_url("cyc-2026-11-28T10:05:00Z", "invoices.pull"))
    assert response.status_code == 200

    def local(moment):
        return moment.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%Y-%m-%d %H:%M:%S")

    assert facts(response) == {
        "Cycle": "cyc-2026-11-28T10:05:00Z",
        "Step": "invoices.pull",
        "Object": "Custom Object Invoice__c",
        "Operation": "Pull Updates",
        "Status": "Failed",
        "Started At": local(started),
        "Ended At": local(started + timedelta(minutes=1, seconds=37)),
        "Duration": "1 min 37 s",
        "New": "3",
        "Updated": "1,234",
        "Deleted": "—",
        "Failed": "2",
        "Skipped": "—",
    }
    html = response.content.decode()
    assert "Times in Asia/Kolkata." in html
    assert 'href="/integration/salesforce/cycles/cyc-2026-11-28T10:05:00Z/"' in html
    job_error = html[html.index('<div class="job-error">') :]
    job_error = job_error[: job_error.index("</div>")]
    group = job_error_signature(
        "custom_object", "Invoice__c", "pull_updates", error["code"], error["message"]
    ).group_id
    assert text(job_error) == (
        "Job-level error REQUEST_LIMIT_EXCEEDED · Similar errors TotalRequests Limit exceeded."
    )
    assert links(job_error) == [f"/integration/salesforce/sync-errors/{group_key(group)}/"]


def test_it_says_how_long_a_running_step_has_run_so_far(admin_client, ingest):
    ingest(make_report(make_step(started_at=recent(3), status="in_process")))
    shown = facts(admin_client.get(step_url()))
    assert (shown["Ended At"], shown["Status"]) == ("—", "In Process")
    assert re.fullmatch(r"3 min( \d+ s)? so far", shown["Duration"]), shown["Duration"]


def test_it_lists_its_failures_by_record_id_each_linking_to_its_record_and_group(
    admin_client, ingest
):
    failures = [
        failure(
            "00Q2",
            message="Value 'ACME' too long (max 80)",
            error_code="STRING_TOO_LONG",
            field="Company",
            marketo_id="1048576",
        ),
        failure("00Q1"),
        failure("00Q3/../x?y#z", message="Invalid id", field=None),
    ]
    ingest(make_report(make_step(status="incomplete", failures=failures)))
    response = admin_client.get(step_url())
    assert table_cells(response) == [
        ["00Q1", "", "", "", "Postal code is required", "Similar errors"],
        [
            "00Q2",
            "1048576",
            "STRING_TOO_LONG",
            "Company",
            "Value 'ACME' too long (max 80)",
            "Similar errors",
        ],
        ["00Q3/../x?y#z", "", "", "", "Invalid id", "Similar errors"],
    ]

    def group(failure):
        signature = failure_signature(
            "lead",
            None,
            "pull_updates",
            failure.get("error_code"),
            failure.get("field"),
            failure["message"],
        )
        return f"/integration/salesforce/sync-errors/{group_key(signature.group_id)}/"

    assert table_links(response) == [
        [("00Q1", "/integration/salesforce/records/00Q1/"), ("Similar errors", group(failures[1]))],
        [("00Q2", "/integration/salesforce/records/00Q2/"), ("Similar errors", group(failures[0]))],
        [
            ("00Q3/../x?y#z", "/integration/salesforce/records/00Q3~2F..~2Fx%3Fy%23z/"),
            ("Similar errors", group(failures[2])),
        ],
    ]
    assert reverse("record-timeline", args=["00Q1"]) == "/integration/salesforce/records/00Q1/"


def test_it_shows_its_failures_fifty_a_page(admin_client, ingest):
    ingest(
        make_report(
            make_step(failures=[failure(f"00Q{n:03}") for n in range(120)], status="incomplete")
        )
    )

    def page(number):
        response = admin_client.get(f"{step_url()}?page={number}")
        assert response.status_code == 200
        return [cells[0] for cells in table_cells(response)], links(response.content.decode())

    first, first_links = page(1)
    assert first == [f"00Q{n:03}" for n in range(50)]
    assert "?page=2" in first_links and "?page=0" not in first_links
    third, third_links = page(3)
    assert third == [f"00Q{n:03}" for n in range(100, 120)]
    assert "?page=2" in third_links and "?page=4" not in third_links


def test_it_shows_no_failures_past_the_last_page(admin_client, ingest):
    ingest(make_report(make_step(failures=[failure("00Q1")], status="incomplete")))
    for number in [2, 10**30]:
        response = admin_client.get(f"{step_url()}?page={number}")
        assert response.status_code == 200
        assert table_cells(response) == [["No failed records on this page."]]


@pytest.mark.parametrize(
    "page, message",
    [("two", "Page: Enter a whole number."), ("0", "Page: Ensure this value is greater than")],
)
def test_a_bad_page_is_a_400_saying_so_beside_the_step(admin_client, ingest, page, message):
    ingest(make_report(make_step(failures=[failure("00Q1")], status="incomplete")))
    response = admin_client.get(f"{step_url()}?page={page}")
    assert response.status_code == 400
    html = response.content.decode()
    assert message in text(html[html.index('data-for="page"') :])
    assert facts(response)["Step"] == "lead.pull_updates"
    assert "<tbody" not in html


def test_it_says_when_a_step_has_no_failed_record_stored(admin_client, ingest):
    ingest(make_report(make_step()))
    response = admin_client.get(step_url())
    assert table_cells(response) == [["No failed record is stored for this step."]]
    assert 'rel="next"' not in response.content.decode()


@reads_the_export
def test_its_export_is_the_errors_export_of_this_step_alone(admin_client, ingest, settings):
    settings.TIME_ZONE = "Europe/Paris"
    started = recent(30)
    ended = started + timedelta(seconds=5)
    failures = [
        failure("00Q2", message="=HYPERLINK(1)"),
        failure("00Q1", marketo_id="-7", error_code="E", field="F"),
    ]
    ingest(
        make_report(
            make_step(
                started_at=started,
                ended_at=iso(ended),
                status="failed",
                failures=failures,
                error={"message": "Lost session", "code": "SESSION"},
            ),
            make_step("other", failures=[failure("00Q9")], status="incomplete"),
            cycle_id="@cycle",
        )
    )
    html = admin_client.get(step_url("@cycle")).content.decode()
    export_url = "/integration/salesforce/cycles/@cycle/steps/lead.pull_updates/export.csv"
    assert f'href="{export_url}"' in html and "Export errors (CSV)" in html

    response = admin_client.get(export_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="sync-errors-\d{4}-\d\d-\d\dT\d{4}\.csv"',
        response["Content-Disposition"],
    )
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0] == EXPORT_HEADER
    paris = ZoneInfo("Europe/Paris")
    step = [
        started.astimezone(paris).isoformat(),
        ended.astimezone(paris).isoformat(),
        "lead",
        "pull_updates",
        "",
        "failed",
        "'@cycle",
        "lead.pull_updates",
    ]
    assert list(csv.reader(io.StringIO(body)))[1:] == [
        [*step, "", "", "SESSION", "", "Lost session"],
        [*step, "00Q1", "'-7", "E", "F", "Postal code is required"],
        [*step, "00Q2", "", "", "", "'=HYPERLINK(1)"],
    ]


def test_the_sync_status_page_links_failed_counts_and_job_errors_to_their_step(
    admin_client, ingest
):
    ingest(
        make_report(
            make_step(
                "with failures",
                started_at=recent(10),
                status="incomplete",
                counts={"failed": 1},
                failures=[failure("00Q1")],
            ),
            make_step(
                "with a job error",
                started_at=recent(20),
                status="failed",
                error={"message": "Lost session"},
            ),
            make_step("counted only", started_at=recent(30), counts={"failed": 4}),
            cycle_id="cyc/1",
        )
    )
    response = admin_client.get("/integration/salesforce/sync-status/")
    with_failures, with_error, counted_only = table_links(response)
    assert with_failures == [("1", step_url("cyc/1", "with failures"))]
    assert with_error == [("Failed", step_url("cyc/1", "with a job error"))]
    assert counted_only == []
    for (_, url), step_id in [(*with_failures, "with failures"), (*with_error, "with a job error")]:
        assert facts(admin_client.get(url))["Step"] == step_id


@reads_the_export
def test_its_url_names_the_same_step_after_a_late_report_rebuilt_its_cycle(
    admin_client, ingest, settings
):
    started = recent(30)
    early = make_report(
        make_step(started_at=started, status="in_process", failures=[failure("00Q1")]),
        started_at=started - timedelta(minutes=1),
    )
    late = make_report(
        make_step(
            started_at=started,
            status="incomplete",
            ended_at=iso(started + timedelta(minutes=5)),
            failures=[failure("00Q2")],
        ),
        started_at=started - timedelta(minutes=1),
    )
    # Received first, applied last: as when its worker was slow (and held
    # it, so that the next report's worker applies that one alone).
    settings.SYNC_STATUS_APPLY_BATCH = 1
    first = report_receive(raw=json.dumps(early), source="test", enqueue=lambda pk: None)
    ingest(late)
    before = SyncStep.objects.get().pk
    assert report_apply(report_pk=first.pk) == "rebuilt"
    assert SyncStep.objects.get().pk != before

    response = admin_client.get(step_url())
    assert response.status_code == 200
    assert facts(response)["Status"] == "Incomplete"
    assert [cells[0] for cells in table_cells(response)] == ["00Q1", "00Q2"]
    export = admin_client.get(step_url() + "export.csv")
    assert len(b"".join(export.streaming_content).decode().splitlines()) == 3


HOSTILE = [
    '<script>alert("x")</script>',
    "=cmd|' /C calc'!A0",
    "שלב \u202e reversed",
    "a/b",
    "%2F",
    "..",
    "x" * 255,
]


@reads_the_export
@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_ids_and_text_are_shown_as_text_and_route_to_their_step(
    admin_client, ingest, hostile
):
    ingest(
        make_report(
            make_step(
                hostile,
                status="failed",
                object_type="custom_object",
                object_name=hostile,
                error={"code": hostile, "message": hostile},
                failures=[failure(hostile, message=hostile, field=hostile)],
            ),
            cycle_id=hostile,
        )
    )
    response = admin_client.get(step_url(hostile, hostile))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>" not in html
    shown = facts(response)
    assert (shown["Cycle"], shown["Step"], shown["Object"]) == (
        hostile,
        hostile,
        f"Custom Object {hostile}",
    )
    assert table_cells(response)[0][:5] == [hostile, "", "", hostile, hostile]
    assert reverse("cycle", args=[hostile]) in links(html)
    assert reverse("record-timeline", args=[hostile]) in links(html)
    export = admin_client.get(reverse("step-export", args=[hostile, hostile]))
    assert len(list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))) == 3


def test_an_unknown_or_expired_step_is_a_404(admin_client, ingest):
    ingest(
        make_report(make_step(), cycle_id="cyc-1"),
        make_report(make_step(), cycle_id="cyc-old"),
    )
    age_cycle("cyc-old", timedelta(days=6))
    for cycle_id, step_id in [
        ("cyc-1", "nope"),
        ("nope", "lead.pull_updates"),
        ("cyc-old", "lead.pull_updates"),
        ("cyc-1", "LEAD.PULL_UPDATES"),
    ]:
        assert admin_client.get(step_url(cycle_id, step_id)).status_code == 404
        assert admin_client.get(step_url(cycle_id, step_id) + "export.csv").status_code == 404
    assert admin_client.get(step_url()).status_code == 200


def test_it_speaks_french(admin_client, ingest):
    ingest(
        make_report(make_step(status="failed", object_type="email_template", operation="push_new"))
    )
    html = admin_client.get(step_url("cyc-1", "lead.pull_updates"), HTTP_ACCEPT_LANGUAGE="fr")
    html = html.content.decode()
    assert '<html lang="fr">' in html
    assert "Intégrer les nouveaux" in html
    assert '<span class="badge badge-failed">Échec</span>' in html
