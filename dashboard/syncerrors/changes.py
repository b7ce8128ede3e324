"""What applying reports does to the error groups, gathered before anything
is written (rollups.py writes it): failures joining and leaving groups, per
group, trend bucket, step and record, and the streams' latest final steps."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dashboard.choices import FINAL_STATUSES
from dashboard.syncerrors.signatures import Signature
from dashboard.times import EARLIEST

BUCKET = timedelta(hours=4)


def bucket_of(moment: datetime) -> datetime:
    """The start of the 4-hour bucket, aligned to UTC multiples of 4 hours, holding `moment`."""
    utc = moment.astimezone(UTC)
    return utc.replace(hour=utc.hour - utc.hour % 4, minute=0, second=0, microsecond=0)


StreamKey = tuple[str, str, str]  # object type, object name ("" if none), operation


@dataclass
class Changes:
    """What a report does to the groups, gathered before anything is written:
    the failures of one cycle, or of several once it has absorbed others'."""

    signatures: dict[int, tuple[Signature, str]] = field(default_factory=dict)
    failures: Counter = field(default_factory=Counter)  # group -> failures
    records: Counter = field(default_factory=Counter)  # job-level group -> steps
    buckets: Counter = field(default_factory=Counter)  # (group, bucket) -> failures
    steps: Counter = field(default_factory=Counter)  # (group, step pk) -> failures
    step_times: dict[int, tuple[datetime, datetime]] = field(default_factory=dict)
    # (group, record) -> the start of the latest cycle it failed in here.
    pairs_added: dict[tuple[int, str], datetime] = field(default_factory=dict)
    pairs_left: set[tuple[int, str]] = field(default_factory=set)
    # Groups something was taken out of: their first and last seen are read again.
    shrunk: set[int] = field(default_factory=set)
    # The latest final start seen per stream, and streams to read again.
    stream_latest: dict[StreamKey, datetime] = field(default_factory=dict)
    streams_to_read: set[StreamKey] = field(default_factory=set)

    def add(self, signature: Signature, message: str, step: tuple, record_id: str | None):
        """One failure (a record's, or a step's job-level error) joins its group.
        `step` is (pk, cycle_started_at, step_started_at)."""
        group = signature.group_id
        self.signatures.setdefault(group, (signature, message))
        self._count(group, step, record_id, 1)
        if record_id is not None:
            self.pairs_added[group, record_id] = step[1]
            self.pairs_left.discard((group, record_id))

    def add_step(self, signatures: list, messages: list[str], step: tuple, record_ids: list[str]):
        """Failures of one step joining their groups, counted a group at a time:
        a large report's first delivery is tens of thousands of them."""
        pk, cycle_started_at, step_started_at = step
        groups = [signature.group_id for signature in signatures]
        bucket = bucket_of(step_started_at)
        for group, count in Counter(groups).items():
            self.failures[group] += count
            self.buckets[group, bucket] += count
            self.steps[group, pk] += count
        self.step_times[pk] = (cycle_started_at, step_started_at)
        # Each group's first failure here, as add() would keep it: zipped in
        # reverse, the first of a group is the last one the dict is given.
        firsts = zip(reversed(signatures), reversed(messages), strict=True)
        for group, first in dict(zip(reversed(groups), firsts, strict=True)).items():
            self.signatures.setdefault(group, first)
        pairs = set(zip(groups, record_ids, strict=True))
        self.pairs_added.update(dict.fromkeys(pairs, cycle_started_at))
        if self.pairs_left:
            self.pairs_left -= pairs

    def remove(self, group: int, step: tuple, record_id: str | None):
        """One failure leaves its group (moved to another, or its step regrouped)."""
        self._count(group, step, record_id, -1)
        self.shrunk.add(group)
        if record_id is not None and (group, record_id) not in self.pairs_added:
            self.pairs_left.add((group, record_id))

    def _count(self, group: int, step: tuple, record_id: str | None, count: int):
        pk, cycle_started_at, step_started_at = step
        self.failures[group] += count
        if record_id is None:
            self.records[group] += count
        self.buckets[group, bucket_of(step_started_at)] += count
        self.steps[group, pk] += count
        self.step_times[pk] = (cycle_started_at, step_started_at)

    def absorb(self, later: "Changes") -> None:
        """Add what a later report did to what this holds: several reports
        applied in one transaction write their groups once (reports.py).

        A pair added and not left is one whose record fails in its group
        once the report is applied; whatever else may have left is read again."""
        for group, first in later.signatures.items():
            self.signatures.setdefault(group, first)
        for name in ["failures", "records", "buckets", "steps"]:
            getattr(self, name).update(getattr(later, name))
        self.step_times.update(later.step_times)
        self.pairs_left -= later.pairs_added.keys()
        self.pairs_left |= later.pairs_left
        for pair, cycle_started_at in later.pairs_added.items():
            self.pairs_added[pair] = max(cycle_started_at, self.pairs_added.get(pair, EARLIEST))
        self.shrunk |= later.shrunk
        for key, latest in later.stream_latest.items():
            self.stream_latest[key] = max(latest, self.stream_latest.get(key, latest))
        self.streams_to_read |= later.streams_to_read

    def step_ran(self, key: StreamKey, status: str, started_at: datetime) -> None:
        if status in FINAL_STATUSES and started_at > self.stream_latest.get(key, started_at):
            self.stream_latest[key] = started_at
        elif status in FINAL_STATUSES:
            self.stream_latest.setdefault(key, started_at)
