"""What the reports applied in one transaction write once, at its end
(dashboard/ingest/reports.py applies them)."""

from datetime import date, datetime

from django.utils import timezone

from dashboard.health import rollups as step_hours
from dashboard.ingest.failures import StepFailures, failures_write
from dashboard.ingest.live_marks import live_marks_stamp
from dashboard.models import ReceivedReport
from dashboard.storage.partitions import day_of, ensure_partition_for
from dashboard.syncerrors import expiry, rollups
from dashboard.syncerrors.changes import Changes


class Pending:
    """What the reports applied in one transaction write once, at its end:
    their status, the error groups, the steps of each hour, the live mark.
    Each is written in one order of keys, so that two workers' transactions
    wait for each other and never deadlock."""

    def __init__(self):
        self.applied: list[int] = []
        self.changes: Changes | None = None
        self.deltas = step_hours.Deltas()
        # Steps written, by their cycle's start (their partition), and rebuilt cycles.
        self.steps: dict[datetime, list[int]] = {}
        self.rebuilt: set[int] = set()
        # The failures of steps new here: one COPY for them all, before
        # anything reads or changes stored failures.
        self.new_failures: list[StepFailures] = []
        self._mark: datetime | None = None
        self._days: set[date] = set()

    def in_window(self, cycle_started_at: datetime) -> bool:
        """Whether the groups count this cycle (read once: it locks the mark)."""
        if self._mark is None:
            self._mark = expiry.retention_mark()
        return cycle_started_at >= self._mark

    def ensure_partition(self, cycle_started_at: datetime) -> None:
        day = day_of(cycle_started_at)
        if day not in self._days:
            ensure_partition_for(cycle_started_at)
            self._days.add(day)

    def write_new_failures(self) -> None:
        if self.new_failures:
            failures_write(self.new_failures, replacing=False)
            self.new_failures = []

    def add_changes(self, changes: Changes) -> None:
        if self.changes is None:
            self.changes = changes
        else:
            self.changes.absorb(changes)

    def write(self) -> None:
        self.write_new_failures()
        if self.changes is not None:
            rollups.rollups_write(self.changes)
        # Last: every report of the hour writes these rows (their locks, the shortest).
        self.deltas.write()
        ReceivedReport.objects.filter(pk__in=self.applied).update(
            status=ReceivedReport.State.APPLIED, applied_at=timezone.now(), error=None
        )
        if self.steps or self.rebuilt:
            live_marks_stamp(steps=self.steps, cycle_pks=self.rebuilt)
