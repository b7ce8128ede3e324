"""docs/reports.md: what the stored data is after reports are applied, in any order."""

import json
from datetime import timedelta

import pytest

from dashboard.ingest.reports import report_apply, report_receive
from dashboard.ingest.step_rows import STEPS_COPY_THRESHOLD
from dashboard.models import FailedRecord, ReceivedReport, StepHour, SyncCycle, SyncStep
from dashboard.tasks import enqueue_report_apply
from tests.conftest import (
    example_report,
    example_shift,
    iso,
    make_report,
    make_step,
    recent,
    waiting,
)

pytestmark = pytest.mark.django_db


def snapshot() -> dict:
    """Everything a user could see of the stored data, without surrogate keys."""
    steps = {}
    for step in SyncStep.objects.select_related("cycle"):
        steps[(step.cycle.external_id, step.step_id)] = {
            "object_type": step.object_type,
            "object_name": step.object_name,
            "operation": step.operation,
            "status": step.status,
            "started_at": step.started_at,
            "ended_at": step.ended_at,
            "counts": [
                step.new_count,
                step.updated_count,
                step.deleted_count,
                step.failed_count,
                step.skipped_count,
            ],
            "error": (step.error_code, step.error_message),
            "failures": sorted(
                step.failures.values_list(
                    "record_id", "marketo_id", "error_code", "field", "message"
                )
            ),
        }
    cycles = sorted(SyncCycle.objects.values_list("external_id", "started_at", "ended_at"))
    return {"cycles": cycles, "steps": steps}


def step_state(step_id: str) -> dict:
    return next(value for (_, key), value in snapshot()["steps"].items() if key == step_id)


def test_it_stores_the_spec_examples_as_their_readme_says(ingest):
    shift = example_shift()
    ingest(
        example_report("cycle-started.json", shift), example_report("cycle-finished.json", shift)
    )

    state = snapshot()
    assert len(state["cycles"]) == 1
    cycle_id, started_at, ended_at = state["cycles"][0]
    assert cycle_id == "cyc-20261128-1005"
    assert ended_at - started_at == timedelta(minutes=4, seconds=12)
    steps = {step_id: value for (_, step_id), value in state["steps"].items()}
    assert set(steps) == {"schema.lead", "pull.lead", "pull.invoice", "push.campaign", "fks"}
    assert steps["pull.lead"]["status"] == "incomplete"
    assert steps["pull.lead"]["counts"] == [3, 120, None, 2, 40]
    assert [f[0] for f in steps["pull.lead"]["failures"]] == [
        "00Q5e00000AbCdEAAZ",
        "00Q5e00000AbCdFAAZ",
    ]
    assert steps["pull.lead"]["failures"][1][4].startswith("=HYPERLINK(")
    assert steps["schema.lead"]["status"] == "succeeded"
    assert steps["pull.invoice"]["object_name"] == "Invoice__c"
    assert steps["push.campaign"]["status"] == "cleaned_up"
    assert steps["fks"]["counts"] == [None] * 5
    assert steps["schema.lead"]["object_name"] is None


def test_it_gives_the_same_examples_whatever_order_they_are_applied_in(ingest):
    shift = example_shift()
    started = example_report("cycle-started.json", shift)
    finished = example_report("cycle-finished.json", shift)
    ingest(started, finished)
    in_order = snapshot()
    SyncStep.objects.all().delete()  # nothing references steps once failures are gone
    FailedRecord.objects.all().delete()
    SyncCycle.objects.all().delete()
    ReceivedReport.objects.all().delete()

    first = report_receive(raw=json.dumps(started), source="test", enqueue=enqueue_report_apply)
    second = report_receive(raw=json.dumps(finished), source="test", enqueue=enqueue_report_apply)
    assert report_apply(report_pk=second.pk) == "applied"
    assert report_apply(report_pk=first.pk) == "rebuilt"
    assert snapshot() == in_order


@pytest.fixture
def poison(monkeypatch):
    """Applying the cycle "poison" always fails, as a bug met by one report would."""
    from dashboard.ingest import reports as ingest_module

    real_apply = ingest_module._apply_to_cycle

    def apply_unless_poisoned(cycle, clean, *args, **options):
        if cycle.external_id == "poison":
            raise RuntimeError("engine sent something we cannot apply")
        real_apply(cycle, clean, *args, **options)

    monkeypatch.setattr(ingest_module, "_apply_to_cycle", apply_unless_poisoned)


def test_a_worker_behind_applies_the_reports_waiting_together_as_it_would_each_alone(ingest):
    from dashboard.health.figures import health_at
    from dashboard.ingest.live_marks import live_mark_current
    from dashboard.tasks import apply_report

    shift = example_shift()
    reports = [
        example_report("cycle-started.json", shift),
        make_report(make_step(failures=[{"record_id": "00Q1", "message": "Bad"}]), cycle_id="b"),
        example_report("cycle-finished.json", shift),
    ]
    for report in reports:
        ingest(report)
    alone, health_alone = snapshot(), health_at(recent(0))
    for model in [FailedRecord, SyncStep, SyncCycle, ReceivedReport, StepHour]:
        model.objects.all().delete()
    mark = live_mark_current()

    first, *others = waiting(*reports)
    assert apply_report.apply(args=[first.pk]).get() == "applied"
    assert [apply_report.apply(args=[report.pk]).get() for report in others] == ["skipped"] * 2

    assert snapshot() == alone
    together = health_at(health_alone.now)
    assert (together.last_24h, together.chart) == (health_alone.last_24h, health_alone.chart)
    assert set(ReceivedReport.objects.values_list("status", flat=True)) == {"applied"}
    # An open page asking for what changed since `mark` is given every step.
    assert not SyncStep.objects.filter(live_mark__lte=mark).exists()


def test_a_report_that_fails_beside_others_does_not_hold_them_back(ingest, poison):
    from dashboard.tasks import apply_report

    poisoned, given, other = waiting(
        make_report(make_step(), cycle_id="poison"), make_report(make_step(), cycle_id="given"),
        make_report(make_step(), cycle_id="other"),
    )  # fmt: skip

    assert apply_report.apply(args=[given.pk]).get() == "applied"

    for report in (poisoned, given, other):
        report.refresh_from_db()
    assert (poisoned.status, poisoned.attempts) == ("accepted", 0), "its own task counts it"
    assert (given.status, other.status) == ("applied", "applied")
    apply_report.apply(args=[poisoned.pk])
    poisoned.refresh_from_db()
    assert (poisoned.status, poisoned.attempts) == ("accepted", 1)


def test_a_worker_behind_leaves_large_reports_to_their_own_tasks(ingest, monkeypatch):
    from dashboard.ingest import reports as ingest_module

    small = make_report(make_step(), cycle_id="small")
    monkeypatch.setattr(ingest_module, "BATCHED_REPORT_BYTES", len(json.dumps(small)) + 1)
    large_step = make_step(failures=[{"record_id": f"00Q{n}", "message": "Bad"} for n in range(9)])
    given, large, other = waiting(
        make_report(make_step(), cycle_id="given"), make_report(large_step, cycle_id="large"), small
    )

    assert report_apply(report_pk=given.pk, batch=50) == "applied"

    statuses = dict(ReceivedReport.objects.values_list("cycle_external_id", "status"))
    assert statuses == {"given": "applied", "large": "accepted", "small": "applied"}


def test_it_handles_the_same_report_ten_times(ingest):
    report = make_report(
        make_step(counts={"new": 1}, failures=[{"record_id": "00Q1", "message": "Bad"}])
    )
    ingest(report)
    once = snapshot()
    ingest(*[report] * 9)
    assert snapshot() == once
    assert (SyncCycle.objects.count(), SyncStep.objects.count(), FailedRecord.objects.count()) == (
        1,
        1,
        1,
    )
    assert set(ReceivedReport.objects.values_list("status", flat=True)) == {"applied"}


def test_it_applies_a_report_once_however_often_its_task_runs(ingest):
    (received,) = ingest(make_report(make_step(counts={"new": 1})))
    assert report_apply(report_pk=received.pk) == "skipped"


def test_it_never_moves_a_final_step_back_to_in_process(ingest):
    started = recent(30)
    final = make_step(
        status="succeeded",
        started_at=started,
        ended_at=iso(started + timedelta(minutes=1)),
        counts={"new": 5, "updated": 7},
    )
    stale = make_step(
        status="in_process", started_at=started - timedelta(seconds=5), counts={"new": 1}
    )
    ingest(make_report(final))
    before = step_state("lead.pull_updates")
    ingest(make_report(stale))
    assert step_state("lead.pull_updates") == before
    assert before["status"] == "succeeded"


def test_it_moves_an_in_process_step_to_its_final_status(ingest):
    started, ended = recent(30), recent(20)
    ingest(make_report(make_step(status="in_process", started_at=started, counts={"new": 2})))
    assert step_state("lead.pull_updates")["ended_at"] is None
    ingest(make_report(make_step(status="incomplete", started_at=started, ended_at=iso(ended))))
    state = step_state("lead.pull_updates")
    assert state["status"] == "incomplete"
    assert state["ended_at"] == ended
    assert state["counts"][0] == 2, "a counter the report omits keeps its value"


def test_it_lets_the_report_received_last_win_between_final_statuses(ingest):
    ingest(make_report(make_step(status="failed", counts={"failed": 3})))
    ingest(make_report(make_step(status="cleaned_up", counts={"failed": 4})))
    state = step_state("lead.pull_updates")
    assert (state["status"], state["counts"][3]) == ("cleaned_up", 4)


def test_it_lets_the_report_received_last_win_when_applied_first():
    older = report_receive(
        raw=json.dumps(make_report(make_step(counts={"new": 1, "updated": 9}))),
        source="t",
        enqueue=enqueue_report_apply,
    )
    newer = report_receive(
        raw=json.dumps(make_report(make_step(counts={"new": 2}))),
        source="t",
        enqueue=enqueue_report_apply,
    )
    report_apply(report_pk=newer.pk)
    report_apply(report_pk=older.pk)
    assert step_state("lead.pull_updates")["counts"][:2] == [2, 9]


def test_it_keeps_stored_values_a_report_sends_as_null(ingest):
    started, ended = recent(30), recent(29)
    ingest(
        make_report(
            make_step(
                started_at=started,
                ended_at=iso(ended),
                counts={"new": 1},
                error={"message": "x"},
            )
        )
    )
    ingest(
        make_report(make_step(started_at=started, ended_at=None, counts={"new": None}, error=None))
    )
    state = step_state("lead.pull_updates")
    assert (state["ended_at"], state["counts"][0], state["error"]) == (ended, 1, (None, "x"))


def test_it_leaves_alone_the_steps_a_report_does_not_name(ingest):
    ingest(make_report(make_step("a", counts={"new": 1}), make_step("b", counts={"new": 2})))
    ingest(make_report(make_step("a", counts={"new": 10})))
    assert step_state("a")["counts"][0] == 10
    assert step_state("b")["counts"][0] == 2


def test_it_accumulates_failures_sent_in_overlapping_chunks(ingest):
    def chunk(*records):
        failures = [{"record_id": r, "message": m, "field": "Email"} for r, m in records]
        return make_report(make_step(status="in_process", failures=failures))

    ingest(chunk(("r1", "first"), ("r2", "first")))
    ingest(chunk(("r2", "second"), ("r3", "second")))
    ingest(
        make_report(
            make_step(status="incomplete", failures=[{"record_id": "r4", "message": "last"}])
        )
    )
    failures = step_state("lead.pull_updates")["failures"]
    assert [(f[0], f[4]) for f in failures] == [
        ("r1", "first"),
        ("r2", "second"),
        ("r3", "second"),
        ("r4", "last"),
    ]


def test_it_replaces_a_failure_named_again_whole(ingest):
    full = {"record_id": "r1", "message": "a", "marketo_id": "7", "error_code": "E", "field": "F"}
    ingest(make_report(make_step(failures=[full])))
    ingest(make_report(make_step(failures=[{"record_id": "r1", "message": "b"}])))
    assert step_state("lead.pull_updates")["failures"] == [("r1", None, None, None, "b")]


def test_it_replaces_a_job_level_error_whole(ingest):
    ingest(
        make_report(
            make_step(status="failed", error={"code": "REQUEST_LIMIT_EXCEEDED", "message": "a"})
        )
    )
    ingest(make_report(make_step(status="failed", error={"message": "b"})))
    assert step_state("lead.pull_updates")["error"] == (None, "b")


def test_it_keeps_the_cycle_end_once_reported(ingest):
    ended = recent(1)
    ingest(make_report(cycle_id="c", ended_at=iso(ended)))
    ingest(make_report(cycle_id="c"))
    assert SyncCycle.objects.get().ended_at == ended


def test_it_moves_the_steps_with_their_cycle_start(ingest):
    ingest(make_report(make_step(), started_at=recent(100)))
    moved = recent(95)
    ingest(make_report(started_at=moved))
    assert SyncStep.objects.get().cycle_started_at == moved


def test_it_accepts_a_cycle_older_than_the_retention_but_never_stores_it(ingest):
    (received,) = ingest(make_report(make_step(), started_at=recent(60 * 24 * 5 + 1)))
    assert received.status == "applied"
    assert SyncStep.objects.count() == 0
    assert ReceivedReport.objects.count() == 1, "the report itself is purged like any other"


def test_it_marks_failed_a_stored_report_that_no_longer_validates(ingest):
    received = ReceivedReport.objects.create(
        cycle_external_id="c", payload='{"steps": 1}', source="t"
    )
    assert report_apply(report_pk=received.pk) == "invalid"
    received.refresh_from_db()
    assert received.status == "failed"
    assert "steps: Must be a list." in received.error


def test_it_gives_up_on_a_report_that_always_fails_and_applies_the_others(ingest, poison, settings):
    from dashboard.tasks import sweep_pending_reports

    settings.SYNC_STATUS_SWEEP_GRACE_SECONDS = 0
    poisoned, healthy = ingest(
        make_report(make_step(), cycle_id="poison"), make_report(make_step())
    )
    assert (poisoned.status, poisoned.attempts) == ("accepted", 1)
    assert healthy.status == "applied"
    for _ in range(10):
        sweep_pending_reports()
    poisoned.refresh_from_db()
    assert (poisoned.status, poisoned.attempts) == (
        "failed",
        settings.SYNC_STATUS_APPLY_MAX_ATTEMPTS,
    )
    assert "engine sent something we cannot apply" in poisoned.error
    assert not SyncCycle.objects.filter(external_id="poison").exists()


def test_it_applies_large_chunks_of_failures_exactly(ingest):
    # Large enough for PostgreSQL's COPY path; text that COPY must escape.
    tricky = 'tab\there, new\nline, back\\slash, \\N, quote \' and "double"'

    def chunk(numbers, message):
        failures = [
            {"record_id": f"00Q{n:06}", "message": f"{message} {n} {tricky}", "field": "Email"}
            for n in numbers
        ]
        return make_report(make_step(status="in_process", failures=failures))

    ingest(chunk(range(0, 300), "first"))
    ingest(chunk(range(200, 500), "second"))
    failures = step_state("lead.pull_updates")["failures"]
    assert len(failures) == 500
    assert failures[0] == ("00Q000000", None, None, "Email", f"first 0 {tricky}")
    assert failures[250] == ("00Q000250", None, None, "Email", f"second 250 {tricky}")
    assert failures[499][4] == f"second 499 {tricky}"


def test_a_large_report_with_nothing_to_escape_is_stored_exactly(ingest):
    # Large enough for PostgreSQL's COPY, whose plain reports take a path of their own.
    failures = [
        {"record_id": f"00Q{n:06}", "message": f"Postal code {n}", "marketo_id": str(n)}
        | ({"error_code": "X", "field": "Zip"} if n % 2 else {})
        for n in range(300)
    ]
    ingest(make_report(make_step(failures=failures)))
    stored = step_state("lead.pull_updates")["failures"]
    assert stored[:2] == [
        ("00Q000000", "0", None, None, "Postal code 0"),
        ("00Q000001", "1", "X", "Zip", "Postal code 1"),
    ]
    assert len(stored) == 300 and stored[299] == ("00Q000299", "299", "X", "Zip", "Postal code 299")


def test_a_report_of_many_steps_is_stored_exactly_and_updates_keep_their_rows(ingest):
    # Enough steps for PostgreSQL's COPY of steps; text that COPY must escape.
    tricky = 'tab\there, new\nline, back\\slash, \\N, quote \' and "double"'
    many = STEPS_COPY_THRESHOLD + 50

    def steps(status, error_message):
        return [
            make_step(f"s{n:03}", status=status, counts={"new": n, "failed": 1},
                      error={"code": "X", "message": f"{error_message} {n}"} if n % 2 else None)
            for n in range(many)
        ]  # fmt: skip

    ingest(make_report(*steps("in_process", "running")))
    first = dict(SyncStep.objects.values_list("step_id", "pk"))
    ingest(make_report(*steps("failed", tricky)))
    assert dict(SyncStep.objects.values_list("step_id", "pk")) == first
    assert len(first) == many
    assert step_state("s001")["status"] == "failed"
    assert step_state("s001")["error"] == ("X", f"{tricky} 1")
    assert step_state("s002")["error"] == (None, None)
    assert step_state(f"s{many - 1:03}")["counts"] == [many - 1, None, None, 1, None]
