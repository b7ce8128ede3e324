"""The health of the sync as of a moment (docs/dashboard.md, Health): its
cadence, its stuck steps, the last 24 hours against the 24 before, and the
window in 4-hour buckets; what the strip shows and /api/v1/health/ gives.

Cheap whatever the volume: the steps come from the hourly rollups
(rollups.py), and a 24-hour window's edges, which cut an hour in two, from
the steps that started in the shorter part of that hour, found by their
index (at most half an hour of steps an edge). Everything is read in one
snapshot, so that the rollups and the steps agree.
"""

from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import or_
from typing import TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When
from django.utils import timezone

from dashboard.choices import Status
from dashboard.health.cadence import Cadence, cadence_at
from dashboard.health.rollups import HOUR, hour_of
from dashboard.health.stuck import StuckStep, in_process_steps, stuck_step
from dashboard.ingest.live_marks import live_mark_current
from dashboard.kept import kept
from dashboard.models import StepHour, SyncCycle, SyncStep
from dashboard.storage.retention import retention_cutoff
from dashboard.syncerrors.changes import bucket_of
from dashboard.syncerrors.selectors import trend_buckets

DAY = timedelta(hours=24)
FAILED_STATUSES = (Status.FAILED, Status.INCOMPLETE, Status.CLEANED_UP)
# How long one reading of the figures serves every reader (the strip, the
# JSON) while no report is applied: the live mark is in its key. Their words
# move with the clock only by the minute.
HEALTH_CACHE_SECONDS = 10
T = TypeVar("T")


@dataclass(frozen=True)
class Window:
    """24 hours: cycles by their start, steps by theirs."""

    cycles: int
    steps: int
    failed_steps: int
    failed_records: int


@dataclass(frozen=True)
class Bucket:
    start: datetime
    steps: dict[str, int]  # every status, in the vocabulary's order
    failed_records: int


@dataclass(frozen=True)
class Health:
    now: datetime
    cadence: Cadence
    # The stuck steps, oldest first, as /api/v1/health/ writes each (stuck.py).
    stuck_entries: list[str]
    last_24h: Window
    previous_24h: Window
    chart: list[Bucket]  # the retention window, oldest first

    @property
    def stuck_steps(self) -> list[StuckStep]:
        return [stuck_step(entry) for entry in self.stuck_entries]


def stuck_before(now: datetime) -> datetime:
    """A step still in process that started before this is stuck."""
    return now - timedelta(minutes=settings.SYNC_STATUS_STUCK_MINUTES)


def health_cached(key: str, draw: Callable[[], T]) -> T:
    """What `draw()` returns, drawn at most once per HEALTH_CACHE_SECONDS for
    `key`, which names the live mark (dashboard/ingest/live_marks.py), so
    that a report applied is seen at once: the one rule by which the
    figures, the strip and the JSON are kept."""
    return kept(key, HEALTH_CACHE_SECONDS, draw)


def health_current(mark: int) -> Health:
    """The health as of now, for the live mark `mark`: what the strip draws
    and /api/v1/health/ gives, read once for both."""
    return health_cached(f"health-figures:{mark}", lambda: health_at(timezone.now(), mark))


def health_at(now: datetime, mark: int | None = None) -> Health:
    """The health as of `now`; `mark`, the live mark if the caller read it."""
    with _one_snapshot():
        cadence = cadence_at(now)
        in_process = in_process_steps(live_mark_current() if mark is None else mark)
        stuck = in_process.stuck(before=stuck_before(now), cutoff=retention_cutoff(now))
        hours = _rollup_hours()
        last, previous = (now - DAY, now), (now - 2 * DAY, now - DAY)
        splits = {window: _split(*window, now) for window in (last, previous)}
        raw = _raw_ranges({rng for _, _, terms in splits.values() for _, rng in terms})
        cycles = SyncCycle.objects.filter(
            started_at__gte=previous[0], started_at__lt=now
        ).aggregate(
            last=Count("id", filter=Q(started_at__gte=last[0])),
            previous=Count("id", filter=Q(started_at__lt=previous[1])),
        )
    return Health(
        now=now,
        cadence=cadence,
        stuck_entries=stuck,
        last_24h=_window(cycles["last"], splits[last], hours, raw),
        previous_24h=_window(cycles["previous"], splits[previous], hours, raw),
        chart=_chart(hours, trend_buckets(now)),
    )


@contextmanager
def _one_snapshot():
    """A transaction of its own that sees one state of the database, so that
    an hour's rollup and its steps agree; inside a caller's, the caller's."""
    if connection.in_atomic_block:
        yield
        return
    if connection.vendor != "postgresql":
        with transaction.atomic():
            yield
        return
    # BEGIN with its isolation level in one statement, where Django's atomic
    # sends BEGIN and then SET TRANSACTION: a round trip less, which on a
    # busy database server is most of the time a reading takes (`make bench`).
    # Nothing in it writes, nor opens a transaction of Django's.
    with connection.cursor() as cursor:
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            cursor.execute("COMMIT")


Tallies = dict[str, tuple[int, int]]  # status -> (steps, failed records)


def _rollup_hours() -> dict[datetime, Tallies]:
    """Every hour of the rollups (a few hundred rows: the window's hours)."""
    rows = (
        StepHour.objects.values_list("hour", "status")
        .annotate(steps=Sum("steps"), failed=Sum("failed_records"))
        .order_by()
    )
    hours: dict[datetime, Tallies] = {}
    for hour, status, steps, failed in rows:
        hours.setdefault(hour, {})[status] = (steps, failed)
    return hours


Range = tuple[datetime, datetime]


def _split(
    start: datetime, end: datetime, now: datetime
) -> tuple[datetime, datetime, list[tuple[int, Range]]]:
    """[start, end) as the rollups' whole hours from the first returned to
    the second, plus or minus steps counted raw in the listed ranges: an
    edge inside an hour is that hour's part with fewer steps, added to the
    whole hours, or taken out of the hour it belongs to. That is its shorter
    part, but at `now`, where it is the part to come (none have started
    there yet, but by a clock ahead of ours)."""
    terms = []
    first = hour_of(start)
    if first != start:
        if first + HOUR - start <= start - first:
            terms.append((+1, (start, first + HOUR)))
            first += HOUR
        else:
            terms.append((-1, (first, start)))
    last = hour_of(end)
    if last != end:
        if end < now and end - last <= last + HOUR - end:
            terms.append((+1, (last, end)))
        else:
            terms.append((-1, (end, last + HOUR)))
            last += HOUR
    return first, last, terms


def _raw_ranges(ranges: set[Range]) -> dict[Range, Tallies]:
    """The steps that started in each range, by status, in one query that
    reads each range from the index on the steps' start."""
    found: dict[Range, Tallies] = {rng: {} for rng in ranges}
    if not ranges:
        return found
    ordered = sorted(ranges)
    which = Case(
        *[
            When(started_at__gte=s, started_at__lt=e, then=Value(n))
            for n, (s, e) in enumerate(ordered)
        ],
        output_field=IntegerField(),
    )
    rows = (
        SyncStep.objects.filter(
            reduce(or_, [Q(started_at__gte=s, started_at__lt=e) for s, e in ordered])
        )
        .annotate(which=which)
        .values_list("which", "status")
        .annotate(steps=Count("id"), failed=Sum("stored_failures"))
        .order_by()
    )
    for n, status, steps, failed in rows:
        found[ordered[n]][status] = (steps, failed or 0)
    return found


def _window(cycles: int, split, hours, raw) -> Window:
    first, last, terms = split
    steps, failed = Counter(), 0
    parts = [(+1, tallies) for hour, tallies in hours.items() if first <= hour < last]
    parts += [(sign, raw[rng]) for sign, rng in terms]
    for sign, tallies in parts:
        for status, (count, records) in tallies.items():
            steps[status] += sign * count
            failed += sign * records
    return Window(
        cycles=cycles,
        steps=sum(steps.values()),
        failed_steps=sum(steps[status] for status in FAILED_STATUSES),
        failed_records=failed,
    )


def _chart(hours: dict[datetime, Tallies], buckets: list[datetime]) -> list[Bucket]:
    """Steps by status and failed records per bucket; a step dated outside
    the buckets counts in the nearest, as in a group's trend."""
    index = {bucket: n for n, bucket in enumerate(buckets)}
    steps = [Counter() for _ in buckets]
    failed = [0] * len(buckets)
    for hour, tallies in hours.items():
        bucket = bucket_of(hour)
        n = index.get(bucket, 0 if bucket < buckets[0] else len(buckets) - 1)
        for status, (count, records) in tallies.items():
            steps[n][status] += count
            failed[n] += records
    return [
        Bucket(start, {status: counts[status] for status in Status.values}, records)
        for start, counts, records in zip(buckets, steps, failed, strict=True)
    ]
