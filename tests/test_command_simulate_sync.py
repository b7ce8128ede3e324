import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from statistics import median

import pytest
from django.core.management import CommandError, call_command

from dashboard.choices import OPERATION_OBJECTS
from dashboard.ingest.simulator import SyncEngineSimulator
from dashboard.models import FailedRecord, ReceivedReport, SyncCycle, SyncStep

pytestmark = pytest.mark.django_db(transaction=True)


def simulate(*args) -> str:
    out = io.StringIO()
    call_command("simulate_sync", *args, stdout=out)
    return out.getvalue()


def test_it_backfills_history_through_the_real_ingestion_path():
    out = simulate("--backfill", "12h", "--seed", "3")
    cycles = SyncCycle.objects.count()
    assert out.startswith(f"Done! Sent {cycles} cycles in ")
    assert 130 <= cycles <= 150, "one cycle every five minutes, give or take"
    assert ReceivedReport.objects.filter(source="simulator").exclude(status="applied").count() == 0
    assert SyncStep.objects.filter(status="in_process").count() == 0
    oldest = SyncCycle.objects.order_by("started_at").first().started_at
    assert datetime.now(UTC) - oldest <= timedelta(hours=12, minutes=1)


def test_its_steps_follow_the_engines_order_and_matrix():
    simulate("--backfill", "3h", "--seed", "5")
    for cycle in SyncCycle.objects.all():
        operations = list(cycle.steps.order_by("started_at").values_list("operation", flat=True))
        assert operations[-1] == "update_fks", "Update FKS runs last"
        schema = [i for i, op in enumerate(operations) if op == "sync_schema"]
        assert schema == list(range(len(schema))), "schema steps run first"
    for step in SyncStep.objects.all():
        assert step.object_type in OPERATION_OBJECTS[step.operation]


def test_it_produces_realistic_failures():
    simulate("--backfill", "2d", "--seed", "11")
    statuses = Counter(SyncStep.objects.values_list("status", flat=True))
    assert statuses["succeeded"] > 0.7 * sum(statuses.values())
    assert statuses["incomplete"] > 0 and statuses["failed"] > 0
    codes = Counter(FailedRecord.objects.values_list("error_code", flat=True))
    assert {"FIELD_CUSTOM_VALIDATION_EXCEPTION", "DUPLICATES_DETECTED"} <= set(codes)
    job_errors = set(SyncStep.objects.filter(status="failed").values_list("error_code", flat=True))
    assert "REQUEST_LIMIT_EXCEEDED" in job_errors
    assert SyncStep.objects.filter(
        object_type="custom_object", object_name__endswith="__c"
    ).exists()


def test_the_same_seed_gives_the_same_cycles():
    start = datetime(2026, 11, 28, 10, 5, tzinfo=UTC)
    first = SyncEngineSimulator(seed=42).cycle_reports(start)
    again = SyncEngineSimulator(seed=42).cycle_reports(start)
    other = SyncEngineSimulator(seed=43).cycle_reports(start)
    assert first == again
    assert first != other


def test_rate_scales_the_volume():
    start = datetime(2026, 11, 28, 10, 5, tzinfo=UTC)

    def typical_step(rate):
        # The median step: the rare bulk loads would drown a sum.
        simulator = SyncEngineSimulator(seed=1, rate=rate)
        return median(
            sum(step["counts"].values())
            for minutes in range(0, 600, 5)
            for report in simulator.cycle_reports(start + timedelta(minutes=minutes))
            for step in report["steps"]
            if step.get("counts")
        )

    assert typical_step(10) >= 5 * typical_step(1) > 0


def test_it_plays_a_live_cycle_step_by_step():
    simulate("--live", "--cycles", "2", "--interval", "30", "--speed", "200", "--seed", "2")
    assert SyncCycle.objects.count() == 2
    assert SyncCycle.objects.filter(ended_at__isnull=True).count() == 0
    assert SyncStep.objects.filter(status="in_process").count() == 0
    # Each step was reported running first, then finished: two reports a step at least.
    assert ReceivedReport.objects.count() >= 2 * SyncStep.objects.count()


def test_it_says_what_to_play():
    with pytest.raises(CommandError, match="--backfill 5d, --live, or both"):
        simulate()
    with pytest.raises(CommandError, match="--url needs --token"):
        simulate("--live", "--url", "http://127.0.0.1:1")


def test_over_http_it_waits_as_retry_after_says_and_loses_no_report(
    live_server, settings, monkeypatch
):
    from types import SimpleNamespace

    from dashboard.ingest import throttle
    from dashboard.ingest.tokens import token_create
    from dashboard.management.commands import simulate_sync

    settings.SYNC_STATUS_INGEST_RATE_PER_MINUTE = 5
    clock = SimpleNamespace(now=1_800_000_010.0)
    monkeypatch.setattr(throttle, "time", SimpleNamespace(time=lambda: clock.now))
    waits = []

    def sleep(seconds):  # the server's minute passes while the sender waits
        waits.append(seconds)
        clock.now += seconds

    monkeypatch.setattr(simulate_sync, "time", SimpleNamespace(sleep=sleep))

    out = simulate(
        "--backfill",
        "2h",
        "--seed",
        "4",
        "--url",
        live_server.url,
        "--token",
        token_create(name="e"),
    )

    sent = int(out.split(" reports")[0].rsplit(" ", 1)[1])
    assert sent > 10
    # Five reports a window: the first window had 50 s left, the next ones 60.
    assert waits == [50] + [60] * ((sent - 1) // 5 - 1)
    assert ReceivedReport.objects.count() == sent
