import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from dashboard.models import FailedRecord, ReceivedReport, SyncCycle, SyncStep
from dashboard.tasks import purge_expired
from tests.conftest import age_cycle, make_report, make_step, recent

# Transactional: on PostgreSQL the purge detaches partitions concurrently,
# which cannot happen inside the transaction a plain django_db test runs in.
pytestmark = pytest.mark.django_db(transaction=True)

FAILURES = [{"record_id": f"r{n}", "message": "Bad"} for n in range(3)]


def purge() -> str:
    out = io.StringIO()
    call_command("purge_expired", stdout=out)
    return out.getvalue()


@pytest.fixture
def old_and_young(ingest):
    ingest(
        make_report(
            make_step("a", failures=FAILURES),
            make_step("b"),
            cycle_id="old",
            started_at=recent(60 * 24 * 5 - 10),
        ),
        make_report(
            make_step("a", failures=FAILURES), cycle_id="young", started_at=recent(60 * 24 * 5 - 5)
        ),
    )
    age_cycle("old", timedelta(minutes=15))
    # The reports came in long ago too.
    ReceivedReport.objects.filter(cycle_external_id="old").update(
        received_at=timezone.now() - timedelta(days=5, minutes=1)
    )


def test_it_purges_a_cycle_older_than_the_retention_with_its_steps_and_failures(old_and_young):
    assert purge() == "Done! Purged 1 cycles, 2 steps, 3 failed records and 1 received reports.\n"
    assert list(SyncCycle.objects.values_list("external_id", flat=True)) == ["young"]
    assert SyncStep.objects.filter(cycle__external_id="young").count() == 1
    assert FailedRecord.objects.count() == 3
    assert list(ReceivedReport.objects.values_list("cycle_external_id", flat=True)) == ["young"]


def test_it_purges_nothing_twice(old_and_young):
    purge()
    assert purge() == "Done! Purged 0 cycles, 0 steps, 0 failed records and 0 received reports.\n"


def test_it_honours_the_retention_setting(old_and_young, settings):
    settings.SYNC_STATUS_RETENTION_DAYS = 6
    assert purge().startswith("Done! Purged 0 cycles")
    settings.SYNC_STATUS_RETENTION_DAYS = 1
    assert purge().startswith("Done! Purged 2 cycles, 3 steps, 6 failed records")


def test_it_purges_a_report_whatever_its_state(ingest):
    ReceivedReport.objects.create(
        cycle_external_id="x", payload="{}", source="t", status="accepted"
    )
    ReceivedReport.objects.update(received_at=timezone.now() - timedelta(days=6))
    purge()
    assert ReceivedReport.objects.count() == 0


def test_the_beat_task_runs_the_same_purge(old_and_young):
    assert (
        purge_expired()
        == "Done! Purged 1 cycles, 2 steps, 3 failed records and 1 received reports."
    )
