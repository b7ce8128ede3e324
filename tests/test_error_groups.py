"""Error groups (docs/errors.md): their numbers as reports are applied, in any
order, any number of times, and as the window moves, against a ground truth
computed here from the reports themselves."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from dashboard.ingest.reports import report_apply
from dashboard.models import ErrorGroup, ErrorGroupRecord, ErrorGroupStep, ReceivedReport
from dashboard.storage.retention import purge_expired
from dashboard.syncerrors.changes import bucket_of
from dashboard.syncerrors.signatures import failure_signature, job_error_signature
from tests.conftest import iso, make_report, make_step, waiting

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime.now(UTC).replace(microsecond=0)
# (message, its template): the templates are written out, not computed.
TOO_LONG = [("Value 'ACME' too long (max 80)", "Value <value> too long (max <n>)"),
            ("Value 'Initech' too long (max 255)", "Value <value> too long (max <n>)")]  # fmt: skip
REQUIRED = ("Postal code is required", "Postal code is required")
LOCKED = ("unable to lock 00Q5e00000AbCdEAAZ", "unable to lock <id>")


def failure(record, message, code="STRING_TOO_LONG", field="Company"):
    return {"record_id": record, "message": message, "error_code": code, "field": field}


def too_long(record, variant=0):
    return failure(record, TOO_LONG[variant][0])


def required(record):
    return failure(record, REQUIRED[0], "REQUIRED", "PostalCode")


def cycle(n: int, hours_ago: float, steps: list[dict]) -> dict:
    """Cycle n, started `hours_ago`, its steps a minute apart unless dated."""
    started = NOW - timedelta(hours=hours_ago)
    for index, step in enumerate(steps):
        at = started + timedelta(minutes=index)
        step.setdefault("started_at", iso(at))
        if step["status"] != "in_process":
            step.setdefault(
                "ended_at", iso(datetime.fromisoformat(step["started_at"]) + timedelta(seconds=30))
            )
    return make_report(*steps, cycle_id=f"cyc-{n}", started_at=started)


def pull(step_id="lead.pull", status="incomplete", failures=(), **fields):
    step = make_step(step_id, status=status, failures=list(failures), **fields)
    if "started_at" not in fields:
        del step["started_at"]  # dated by its cycle
    return step


def push(status="failed", **fields):
    step = make_step("campaign.push", object_type="campaign", operation="push_updates",
                     status=status, **fields)  # fmt: skip
    del step["started_at"]
    return step


LIMIT = {"code": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}


def world() -> list[dict]:
    """Five cycles over two days: one group failing throughout, one that
    stopped failing, records failing again and again, a job-level error."""
    return [
        # r5 fails only here: when this cycle leaves the window, its group keeps
        # failing, one record fewer.
        cycle(1, 40, [pull(failures=[too_long("r1"), too_long("r2", 1), required("r3"),
                                     too_long("r5")])]),
        cycle(2, 30, [pull(failures=[too_long("r1", 1), required("r3")]), push(error=LIMIT)]),
        cycle(3, 20, [pull(failures=[too_long("r1"), failure("r4", LOCKED[0], "LOCK", None)])]),
        cycle(4, 10, [pull(status="succeeded"), push(status="succeeded")]),
        cycle(5, 2, [pull(failures=[too_long("r2")])]),
    ]  # fmt: skip


def truth(reports: list[dict]) -> dict[int, dict]:
    """The groups a reader must see, from the reports: a failure per (cycle,
    step, record), the one received last winning; job errors one per step."""
    failures, steps = {}, {}
    for report in reports:
        for step in report["steps"]:
            key = (report["cycle"]["id"], step["id"])
            steps[key] = step
            for f in step.get("failures", []):
                failures[key + (f["record_id"],)] = f
            if "error" in step:
                failures[key + (None,)] = step["error"]
    groups: dict[int, dict] = defaultdict(lambda: {"failures": 0, "records": set(), "starts": []})
    for (cycle_id, step_id, record), f in failures.items():
        step = steps[cycle_id, step_id]
        args = (
            step["object_type"],
            step.get("object_name"),
            step["operation"],
            f.get("code", f.get("error_code")),
        )
        if record is None:
            group = job_error_signature(*args, f["message"]).group_id
        else:
            group = failure_signature(*args, f.get("field"), f["message"]).group_id
        groups[group]["failures"] += 1
        groups[group]["records"].add(record or step_id + cycle_id)
        groups[group]["starts"].append(datetime.fromisoformat(step["started_at"]))
    return {
        group: {
            "failures": g["failures"],
            "records": len(g["records"]),
            "first_seen": min(g["starts"]),
            "last_seen": max(g["starts"]),
            "trend": sorted(
                (bucket, sum(1 for start in g["starts"] if bucket_of(start) == bucket))
                for bucket in {bucket_of(start) for start in g["starts"]}
            ),
        }
        for group, g in groups.items()
    }  # fmt: skip


def stored() -> dict[int, dict]:
    return {
        group.id: {
            "failures": group.failures,
            "records": group.records,
            "first_seen": group.first_seen,
            "last_seen": group.last_seen,
            "trend": sorted((b.bucket, b.failures) for b in group.buckets.all()),
        }
        for group in ErrorGroup.objects.filter(failures__gt=0).prefetch_related("buckets")
    }


def test_groups_count_failures_records_first_and_last_seen_and_trend(ingest):
    reports = world()
    ingest(*reports)
    assert stored() == truth(reports)


def test_the_templates_gather_messages_that_differ_only_in_their_values(ingest):
    ingest(*world())
    templates = sorted(ErrorGroup.objects.values_list("template", "failures"))
    assert templates == [
        ("Postal code is required", 2),
        ("TotalRequests Limit exceeded.", 1),
        ("Value <value> too long (max <n>)", 6),
        ("unable to lock <id>", 1),
    ]
    too_long = ErrorGroup.objects.get(template__startswith="Value")
    # r1 three times, r2 twice, r5 once: six failures of three records.
    assert (too_long.records, too_long.level, too_long.field) == (3, "record", "Company")
    assert too_long.sample_message in {message for message, _ in TOO_LONG}


def test_a_report_delivered_again_counts_once(ingest):
    reports = world()
    ingest(*reports)
    ingest(*reports)
    ingest(reports[2])
    assert stored() == truth(reports)


def test_a_large_report_counts_its_records_once_whatever_their_ids_hold(ingest):
    # Enough failures to take PostgreSQL's COPY path, ids that COPY must escape.
    odd = [f"r{n}{char}" for n in range(60) for char in ["\t", "\\", "\n", "\r", "'x"]]
    first = cycle(1, 5, [pull(failures=[too_long(record, n % 2) for n, record in enumerate(odd)])])
    later = cycle(2, 3, [pull(failures=[required(record) for record in odd[:100]])])
    ingest(first, first, later)
    assert stored() == truth([first, later])
    assert set(ErrorGroupRecord.objects.values_list("record_id", flat=True)) == set(odd)


def test_reports_applied_in_any_order_give_the_groups_of_the_order_received():
    first = cycle(7, 5, [pull(status="in_process", failures=[failure("r1", TOO_LONG[0][0])])])
    second = cycle(7, 5, [pull(failures=[failure("r1", REQUIRED[0], "REQUIRED", "PostalCode"),
                                         failure("r9", TOO_LONG[1][0])])])  # fmt: skip
    older, newer = waiting(first, second)
    assert report_apply(report_pk=newer.pk) == "applied"
    assert report_apply(report_pk=older.pk) == "rebuilt"
    assert stored() == truth([first, second])


def test_reports_applied_together_by_a_worker_behind_give_the_groups_of_each_alone():
    # Cycle 1 again, last: r1 moves to another group, r2 to the other template's variant.
    reports = [*world(), cycle(1, 40, [pull(failures=[required("r1"), too_long("r2")])])]
    received = waiting(*reports)

    assert report_apply(report_pk=received[0].pk, batch=len(received)) == "applied"

    assert set(ReceivedReport.objects.values_list("status", flat=True)) == {"applied"}
    assert stored() == truth(reports)
    assert report_apply(report_pk=received[-1].pk, batch=len(received)) == "skipped"


def test_a_worker_behind_replays_a_cycle_with_the_reports_it_holds_unapplied():
    first = cycle(7, 5, [pull(status="in_process", failures=[too_long("r1"), required("r5")])])
    second = cycle(7, 5, [pull(status="in_process", failures=[required("r1"), too_long("r2")])])
    third = cycle(7, 5, [pull(failures=[too_long("r9", 1)])])
    older, middle, newer = waiting(first, second, third)
    assert report_apply(report_pk=newer.pk) == "applied"

    # Both replay the cycle: the second with the first, not yet marked applied.
    assert report_apply(report_pk=older.pk, batch=3) == "rebuilt"

    assert stored() == truth([first, second, third])
    middle.refresh_from_db()
    assert middle.status == "applied"


def test_many_steps_failing_in_two_groups_count_exactly_when_their_cycle_reports_again(ingest):
    # Thirty (group, step) rows a report: enough for PostgreSQL's COPY path.
    first = cycle(
        8,
        3,
        [
            pull(f"s{n}", status="in_process", failures=[too_long(f"r{n}"), required(f"q{n}")])
            for n in range(15)
        ],
    )
    second = cycle(8, 3, [pull(f"s{n}", failures=[too_long(f"x{n}", 1), required(f"y{n}")])
                          for n in range(15)])  # fmt: skip
    ingest(first, second)

    assert stored() == truth([first, second])
    # Each step's share of each group: a record of each report.
    shares = list(ErrorGroupStep.objects.values_list("failures", flat=True))
    assert shares == [2] * 30


def test_a_failure_named_again_with_another_message_moves_to_its_new_group(ingest):
    first = cycle(
        1,
        5,
        [
            pull(
                status="in_process",
                failures=[failure("r1", TOO_LONG[0][0]), failure("r2", TOO_LONG[0][0])],
            )
        ],
    )
    again = cycle(1, 5, [pull(failures=[required("r1")])])
    ingest(first, again)
    assert stored() == truth([first, again])
    assert sorted(ErrorGroupRecord.objects.values_list("record_id", flat=True)) == ["r1", "r2"]


def test_a_job_error_replaced_by_another_leaves_its_group(ingest):
    def failed(code, message):
        return cycle(
            1, 3, [make_step("s", status="failed", error={"code": code, "message": message})]
        )

    ingest(
        failed("INVALID_SESSION_ID", "Session expired"), failed("SERVER_UNAVAILABLE", "Try later")
    )
    assert list(
        ErrorGroup.objects.filter(failures__gt=0).values_list("error_code", "level", "records")
    ) == [("SERVER_UNAVAILABLE", "job", 1)]


def test_a_step_corrected_to_another_object_regroups_its_failures(ingest):
    first = cycle(1, 5, [pull(status="in_process", failures=[too_long("r1")])])
    moved = NOW - timedelta(hours=9)
    corrected = cycle(
        1, 5, [pull(object_type="contact", started_at=moved, failures=[too_long("r2", 1)])]
    )
    ingest(first, corrected)
    # Both records now fail on the contact step, dated as corrected.
    both = corrected["steps"][0] | {"failures": [too_long("r1"), too_long("r2", 1)]}
    assert stored() == truth([{"cycle": corrected["cycle"], "steps": [both]}])


def test_a_cycle_re_dated_by_its_engine_moves_its_records_latest_cycle(ingest):
    late = cycle(1, 2, [pull(failures=[too_long("r1")])])
    early = cycle(1, 30, [pull(failures=[too_long("r1")])])
    other = cycle(2, 20, [pull(failures=[too_long("r1", 1)])])
    ingest(late, other, early)
    last = ErrorGroupRecord.objects.get(record_id="r1").last_cycle_started_at
    assert last == NOW - timedelta(hours=20)


def test_state_is_ongoing_until_a_later_final_step_of_its_stream_has_none_of_it(ingest):
    from dashboard.syncerrors.selectors import visible_groups

    ingest(*world())
    states = {g.template: g.state for g in visible_groups()}
    # lead.pull failed in cycle 5, after cycle 4's success: only its group of cycle 5 goes on.
    assert states == {
        "Value <value> too long (max <n>)": "ongoing",
        "Postal code is required": "resolved",
        "unable to lock <id>": "resolved",
        "TotalRequests Limit exceeded.": "resolved",
    }
    ingest(cycle(6, 1, [pull(status="in_process", failures=[required("r3")])]))
    assert {g.template: g.state for g in visible_groups()}["Postal code is required"] == "ongoing"


def test_the_purge_takes_out_what_leaves_the_window_exactly(ingest, settings):
    settings.SYNC_STATUS_RETENTION_DAYS = 5
    reports = world()
    ingest(*reports)
    # Cycles 1 and 2 (40 and 30 hours ago) leave a window of 25 hours.
    settings.SYNC_STATUS_RETENTION_DAYS = 25 / 24
    out = purge_expired()
    assert out.cycles == 2
    assert stored() == truth(reports[2:])
    # Nothing left of the job error's group: it is gone, not shown at 0.
    assert not ErrorGroup.objects.filter(error_code="REQUEST_LIMIT_EXCEEDED").exists()
    assert not ErrorGroupStep.objects.filter(
        cycle_started_at__lt=NOW - timedelta(hours=25)
    ).exists()
    # Run again, or interrupted and run again: nothing is taken out twice.
    purge_expired()
    assert stored() == truth(reports[2:])


def test_a_partial_day_leaves_exact_counts(ingest, settings):
    reports = world()
    ingest(*reports)
    settings.SYNC_STATUS_RETENTION_DAYS = 35 / 24  # between cycles 1 and 2
    call_command("purge_expired", verbosity=0)
    assert stored() == truth(reports[1:])


def test_the_groups_can_be_counted_again_from_what_is_stored(ingest):
    reports = world()
    ingest(*reports)
    before = stored()
    ErrorGroup.objects.update(failures=0, records=0)
    call_command("rebuild_error_groups", verbosity=0)
    assert stored() == before == truth(reports)


def test_a_report_of_an_expired_cycle_adds_nothing(ingest, settings):
    ingest(*world())
    before = stored()
    old = cycle(9, 24 * 6, [pull(failures=[too_long("r1")])])
    (received,) = ingest(old)
    assert received.status == ReceivedReport.State.APPLIED
    assert stored() == before
