"""The steps stuck in process (docs/dashboard.md, Health): still running
SYNC_STATUS_STUCK_MINUTES after they started, in a cycle of the window.

Which steps are in process changes only when a report is applied, which
moves the live mark (dashboard/ingest/live_marks.py); the purge only deletes
steps whose cycle any later moment leaves out of the window anyway. So the
steps in process are read once per mark, and which of them are stuck is
told from them at any moment, by their start and their cycle's.

They may be thousands (`make bench`: 941 at 200k steps, 4,700 at 1M, all
listed by /api/v1/health/), so they are kept as plain numbers and the JSON
the API writes of each: reading them again, building their objects or
encoding them on every reading of the figures cost more than every other
figure together at that volume.
"""

import json
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from dashboard.choices import Status
from dashboard.kept import kept
from dashboard.models import SyncStep
from dashboard.times import utc_text

# At most this long per mark, should something write the steps without a
# report (a restored backup): a mark lasts until the next report anyway.
IN_PROCESS_CACHE_SECONDS = 120
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class StuckStep(NamedTuple):
    """A stuck step as /api/v1/health/ lists it."""

    cycle_id: str  # the cycle's own id (SyncCycle.external_id)
    step_id: str
    object_type: str
    object_name: str | None
    operation: str
    started_at: datetime


@dataclass(frozen=True)
class InProcess:
    """The steps in process as of one mark, oldest first: each one's start
    and its cycle's (microseconds since 1970, to compare) and its entry in
    /api/v1/health/'s `stuck_steps`."""

    starts: list[int]
    cycle_starts: list[int]
    entries: list[str]

    def stuck(self, *, before: datetime, cutoff: datetime) -> list[str]:
        """The entries of those that started before `before`, in a cycle
        that started at `cutoff` or later."""
        end = bisect_left(self.starts, _micros(before))
        since = _micros(cutoff)
        return [
            entry
            for entry, cycle_start in zip(self.entries[:end], self.cycle_starts[:end], strict=True)
            if cycle_start >= since
        ]


def in_process_steps(mark: int) -> InProcess:
    """The steps in process as of the live mark `mark`, read once per mark."""
    return kept(f"health-in-process:{mark}", IN_PROCESS_CACHE_SECONDS, _read_in_process)


def stuck_step(entry: str) -> StuckStep:
    """The step an entry of `stuck_steps` names."""
    fields = json.loads(entry)
    return StuckStep(**{**fields, "started_at": datetime.fromisoformat(fields["started_at"])})


def stuck_steps_json(entries: list[str]) -> str:
    """`stuck_steps` as /api/v1/health/ writes it (json.dumps's separators)."""
    return "[" + ", ".join(entries) + "]"


def _read_in_process() -> InProcess:
    rows = (
        SyncStep.objects.filter(status=Status.IN_PROCESS)
        .order_by("started_at", "pk")
        .values_list("cycle_started_at", "cycle__external_id", *StuckStep._fields[1:])
    )
    starts, cycle_starts, entries = [], [], []
    for cycle_started_at, *fields, started_at in rows:
        step = StuckStep(*fields, utc_text(started_at))
        starts.append(_micros(started_at))
        cycle_starts.append(_micros(cycle_started_at))
        # Text and null only: json.dumps's own encoder, as the body's.
        entries.append(json.dumps(step._asdict()))
    return InProcess(starts, cycle_starts, entries)


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND
