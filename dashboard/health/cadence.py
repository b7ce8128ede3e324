"""How often the sync runs and whether it has stopped: the one definition of
"stale" that the health strip, its JSON and the `sync_stale` alert share."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from statistics import median

from django.conf import settings
from django.db.models import Max, Subquery

from dashboard.models import SyncCycle

# Without a usual interval to go by, or with a sync that runs very often, the
# sync is stale after this long without a new cycle.
MIN_STALE_AFTER_S = 900


@dataclass(frozen=True)
class Cadence:
    last_cycle_started_at: datetime | None
    last_cycle_ended_at: datetime | None
    cycle_interval_s: float | None
    stale_after_s: float
    now: datetime

    @property
    def stale(self) -> bool:
        """No cycle has started for longer than `stale_after_s` (nor ever)."""
        return self.stale_since is not None

    @property
    def stale_since(self) -> datetime | None:
        """When the sync became stale: the last start plus `stale_after_s`;
        None while it is not. A sync that never ran is stale since "now"."""
        if self.last_cycle_started_at is None:
            return self.now
        deadline = self.last_cycle_started_at + timedelta(seconds=self.stale_after_s)
        return deadline if self.now > deadline else None


def cadence_at(now: datetime) -> Cadence:
    """The sync's cadence as of `now`: the latest cycle's start and end, the
    median gap between the starts of the last 24 hours' cycles (None with
    fewer than two), and how long without a new cycle makes it stale."""
    # The latest start and end ride along with each start, computed once by
    # the database: one query rather than two while the sync runs.
    rows = list(
        SyncCycle.objects.filter(started_at__gt=now - timedelta(hours=24), started_at__lte=now)
        .annotate(
            latest_started=Subquery(
                SyncCycle.objects.order_by("-started_at").values("started_at")[:1]
            ),
            latest_ended=Subquery(
                SyncCycle.objects.filter(ended_at__isnull=False)
                .order_by("-ended_at")
                .values("ended_at")[:1]
            ),
        )
        .order_by("started_at")
        .values_list("started_at", "latest_started", "latest_ended")
    )
    starts = [start for start, _, _ in rows]
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(starts)]
    interval = median(gaps) if gaps else None
    if rows:
        latest = {"started": rows[0][1], "ended": rows[0][2]}
    else:
        latest = SyncCycle.objects.aggregate(started=Max("started_at"), ended=Max("ended_at"))
    return Cadence(
        last_cycle_started_at=latest["started"],
        last_cycle_ended_at=latest["ended"],
        cycle_interval_s=interval,
        stale_after_s=stale_after_s(interval),
        now=now,
    )


def stale_after_s(interval_s: float | None) -> float:
    """SYNC_STATUS_STALE_MINUTES if set, else three usual intervals, and never
    less than MIN_STALE_AFTER_S."""
    if settings.SYNC_STATUS_STALE_MINUTES is not None:
        return settings.SYNC_STATUS_STALE_MINUTES * 60.0
    if interval_s is None:
        return float(MIN_STALE_AFTER_S)
    return max(3 * interval_s, MIN_STALE_AFTER_S)
