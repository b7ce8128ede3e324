"""Retention: only the last SYNC_STATUS_RETENTION_DAYS days are kept (docs/architecture.md)."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dashboard.health.rollups import steps_expire
from dashboard.models import FailedRecord, ReceivedReport, SyncCycle
from dashboard.storage import partitions
from dashboard.syncerrors.expiry import rollups_expire

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeResult:
    cycles: int
    steps: int
    failed_records: int
    reports: int

    def summary(self) -> str:
        return (
            f"Done! Purged {self.cycles} cycles, {self.steps} steps, "
            f"{self.failed_records} failed records and {self.reports} received reports."
        )


def retention_cutoff(now: datetime | None = None) -> datetime:
    """Cycles that started before this instant are out of the window."""
    return (now or timezone.now()) - timedelta(days=settings.SYNC_STATUS_RETENTION_DAYS)


def purge_expired(*, now: datetime | None = None) -> PurgeResult:
    """Delete cycles (with their steps and failed records) and received reports
    older than the retention window, whatever their state."""
    cutoff = retention_cutoff(now)
    # The error groups first: they are counted from what is about to go.
    rollups_expire(cutoff=cutoff)
    # PostgreSQL: whole expired days go at once, partition by partition.
    dropped = partitions.drop_partitions_before(cutoff)
    partitions.ensure_upcoming_partitions(now)
    with transaction.atomic():
        # What is left: the expired hours of the oldest day (or everything, on
        # SQLite). Children first, one statement each: the foreign keys are
        # DO_NOTHING so that Django deletes in SQL instead of loading the rows.
        failed_records, _ = FailedRecord.objects.filter(cycle_started_at__lt=cutoff).delete()
        # The steps leave the health figures as they are deleted.
        steps = steps_expire(cutoff=cutoff)
        cycles, _ = SyncCycle.objects.filter(started_at__lt=cutoff).delete()
        reports, _ = ReceivedReport.objects.filter(received_at__lt=cutoff).delete()
    result = PurgeResult(
        cycles, steps + dropped.steps, failed_records + dropped.failed_records, reports
    )
    log.info("purge done cutoff=%s %s", cutoff.isoformat(), result.summary())
    return result
