"""Error groups, kept current as reports are applied (docs/errors.md).

A group's counts, first and last seen, trend and distinct records are
rollups, changed in the transaction that writes the failures: a report adds
what it adds, and takes out of a group what it moves elsewhere (a failure
named again with another message), so a report applied twice changes
nothing the second time. Concurrent workers only ever add to or take from
a group's numbers (never write a number they read), and take their row
locks in one order, so that two reports of different cycles hitting one
group neither lose a count nor deadlock. The purge takes out what leaves the
window (`rollups_expire`).

Every statement here is plain SQL that SQLite and PostgreSQL both read.
"""

# ruff: noqa: S608 - the f-strings only add placeholders; every value is bound.

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice

from django.db import connection
from django.utils.dateparse import parse_datetime

from dashboard.choices import FINAL_STATUSES
from dashboard.ingest.failures import COPY_THRESHOLD, copy_into_temp, copy_text
from dashboard.syncerrors.signatures import Signature
from dashboard.times import EARLIEST

BUCKET = timedelta(hours=4)
# Rows per statement: well under SQLite's limit on bound variables.
ROWS_PER_STATEMENT = 500
FINAL = tuple(sorted(FINAL_STATUSES))


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


def rollups_write(changes: Changes) -> None:
    """Write what reports did to the groups, in their transaction, after their
    failures: group rows last, so that their locks are held the least time."""
    with connection.cursor() as cursor:
        _write_group_steps(cursor, changes)
        new_records = _write_pairs(cursor, changes)
        _write_buckets(cursor, changes)
        _write_groups(cursor, changes, new_records)
        _read_seen_again(cursor, changes.shrunk)
        _write_streams(cursor, changes)


def db(moment: datetime | None):
    """A moment as a raw query's parameter: in UTC without offset on SQLite,
    as Django's own queries store it, so that comparisons hold."""
    return connection.ops.adapt_datetimefield_value(moment)


def from_db(value) -> datetime | None:
    """A moment read by a raw query (SQLite gives aggregates back as text)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _chunks(items: Iterable, size: int = ROWS_PER_STATEMENT):
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _values(rows: list[tuple]) -> tuple[str, list]:
    """`(%s, %s), (%s, %s)` for the rows, and their parameters flattened."""
    row = "(" + ", ".join(["%s"] * len(rows[0])) + ")"
    return ", ".join([row] * len(rows)), [value for values in rows for value in values]


def _write_group_steps(cursor, changes: Changes) -> None:
    # A step's moments, adapted once: a step has failures of many groups.
    moments = {
        pk: (db(cycle), db(started), db(bucket_of(started)))
        for pk, (cycle, started) in changes.step_times.items()
    }
    rows = [
        (group, pk, *moments[pk], count)
        for (group, pk), count in sorted(changes.steps.items())
        if count
    ]
    columns = "group_id, step_id, cycle_started_at, step_started_at, bucket, failures"
    upsert = (
        "ON CONFLICT (step_id, group_id, cycle_started_at) DO UPDATE SET "
        "failures = dashboard_errorgroupstep.failures + excluded.failures, "
        "step_started_at = excluded.step_started_at, bucket = excluded.bucket"
    )
    if connection.vendor == "postgresql" and len(rows) >= COPY_THRESHOLD:
        # A batch of reports gives thousands: by COPY, without binding six
        # parameters a row, and locked in the rows' order.
        copy_into_temp(
            cursor,
            "incoming_group_steps",
            "group_id bigint, step_id bigint, cycle_started_at timestamptz, "
            "step_started_at timestamptz, bucket timestamptz, failures bigint",
            columns,
            "".join("\t".join(map(str, row)) + "\n" for row in rows),
        )
        cursor.execute(
            f"INSERT INTO dashboard_errorgroupstep ({columns}) "
            f"SELECT {columns} FROM incoming_group_steps ORDER BY group_id, step_id {upsert}"
        )
        rows = []
    for chunk in _chunks(rows):
        values, params = _values(chunk)
        cursor.execute(
            f"INSERT INTO dashboard_errorgroupstep ({columns}) VALUES {values} {upsert}", params
        )
    if any(count < 0 for count in changes.steps.values()):
        cursor.execute("DELETE FROM dashboard_errorgroupstep WHERE failures <= 0")


def _write_pairs(cursor, changes: Changes) -> Counter:
    """Records new to their group, counted; the latest cycle of the others moved on;
    records that may have left a group looked up again."""
    # A cycle's moment adapted once: a large report gives it ten thousand pairs.
    moments = {cycle: db(cycle) for cycle in set(changes.pairs_added.values())}
    pairs = [
        (group, record, moments[cycle]) for (group, record), cycle in changes.pairs_added.items()
    ]
    if connection.vendor == "postgresql":
        # Unsorted: its statement sorts them, as it locks them.
        new_records = _add_pairs_postgresql(cursor, pairs)
    else:
        new_records = _add_pairs(cursor, sorted(pairs))
    new_records.subtract(_check_pairs_again(cursor, sorted(changes.pairs_left)))
    return new_records


def _add_pairs(cursor, pairs: list[tuple[int, str, object]]) -> Counter:
    """Any database: two statements a chunk of (group, record, cycle)."""
    new_records: Counter = Counter()
    for chunk in _chunks(pairs):
        values, params = _values(chunk)
        cursor.execute(
            "INSERT INTO dashboard_errorgrouprecord (group_id, record_id, last_cycle_started_at) "
            f"VALUES {values} ON CONFLICT (group_id, record_id) DO NOTHING RETURNING group_id",
            params,
        )
        new_records.update(group for (group,) in cursor.fetchall())
        cursor.execute(
            # A VALUES list names its columns column1, column2, ...
            "UPDATE dashboard_errorgrouprecord SET last_cycle_started_at = incoming.column3 "
            f"FROM (VALUES {values}) AS incoming "
            "WHERE dashboard_errorgrouprecord.group_id = incoming.column1 "
            "AND dashboard_errorgrouprecord.record_id = incoming.column2 "
            "AND dashboard_errorgrouprecord.last_cycle_started_at < incoming.column3",
            params,
        )
    return new_records


def _add_pairs_postgresql(cursor, pairs: list[tuple[int, str, object]]) -> Counter:
    """PostgreSQL: every pair in one statement, a large report's taken by COPY
    into a temporary table first (a third faster than binding them as
    arrays: 44 against 65 ms for 10,000 pairs, /tmp profile of `make bench`).
    Rows are inserted and locked in the pairs' order, so that two workers
    whose cycles share records wait for each other, never deadlock; a row
    PostgreSQL has just inserted has no xmax, one it updated has."""
    if not pairs:
        return Counter()
    if len(pairs) >= COPY_THRESHOLD:
        copy_into_temp(
            cursor,
            "incoming_pairs",
            "group_id bigint, record_id varchar(255), cycle timestamptz",
            "group_id, record_id, cycle",
            "".join(f"{group}\t{copy_text(record)}\t{cycle}\n" for group, record, cycle in pairs),
        )
        incoming, params = "incoming_pairs AS incoming", []
    else:
        incoming = (
            "unnest(%s::bigint[], %s::varchar[], %s::timestamptz[]) "
            "AS incoming (group_id, record_id, cycle)"
        )
        params = [list(column) for column in zip(*pairs, strict=True)]
    cursor.execute(
        "WITH written AS (INSERT INTO dashboard_errorgrouprecord "
        "(group_id, record_id, last_cycle_started_at) "
        f"SELECT group_id, record_id, cycle FROM {incoming} ORDER BY group_id, record_id "
        "ON CONFLICT (group_id, record_id) DO UPDATE "
        "SET last_cycle_started_at = excluded.last_cycle_started_at "
        "WHERE dashboard_errorgrouprecord.last_cycle_started_at "
        "< excluded.last_cycle_started_at RETURNING group_id, xmax = 0 AS new) "
        "SELECT group_id, count(*) FROM written WHERE new GROUP BY group_id",
        params,
    )
    return Counter(dict(cursor.fetchall()))


def _check_pairs_again(cursor, pairs: list[tuple[int, str]]) -> Counter:
    """Pairs whose record may have left its group: their latest cycle read
    again from the failures; those with none left deleted. Returns how many
    records each group lost."""
    lost: Counter = Counter()
    for chunk in _chunks(pairs):
        keys, key_params = _values(chunk)
        records = sorted({record for _, record in chunk})
        placeholders = ", ".join(["%s"] * len(records))
        cursor.execute(
            "SELECT group_id, record_id, max(cycle_started_at) FROM dashboard_failedrecord "
            f"WHERE record_id IN ({placeholders}) AND cycle_started_at >= "
            "(SELECT groups_expired_before FROM dashboard_retentionmark WHERE id = 1) "
            "GROUP BY group_id, record_id",
            records,
        )
        still = {(group, record): last for group, record, last in cursor.fetchall()}
        gone = [pair for pair in chunk if pair not in still]
        for pair in chunk:
            if pair in still:
                cursor.execute(
                    "UPDATE dashboard_errorgrouprecord SET last_cycle_started_at = %s "
                    "WHERE group_id = %s AND record_id = %s",
                    [db(from_db(still[pair])), *pair],
                )
        if gone:
            keys, key_params = _values(gone)
            cursor.execute(
                "DELETE FROM dashboard_errorgrouprecord "
                f"WHERE (group_id, record_id) IN (VALUES {keys}) RETURNING group_id",
                key_params,
            )
            lost.update(group for (group,) in cursor.fetchall())
    return lost


def _write_buckets(cursor, changes: Changes) -> None:
    rows = sorted(
        (group, db(bucket), count) for (group, bucket), count in changes.buckets.items() if count
    )
    for chunk in _chunks(rows):
        values, params = _values(chunk)
        cursor.execute(
            "INSERT INTO dashboard_errorgroupbucket (group_id, bucket, failures) "
            f"VALUES {values} ON CONFLICT (group_id, bucket) DO UPDATE SET "
            "failures = dashboard_errorgroupbucket.failures + excluded.failures",
            params,
        )
    if any(count < 0 for count in changes.buckets.values()):
        cursor.execute("DELETE FROM dashboard_errorgroupbucket WHERE failures <= 0")


def _write_groups(cursor, changes: Changes, new_records: Counter) -> None:
    seen: dict[int, list[datetime]] = {}
    for (group, pk), count in changes.steps.items():
        if count > 0:
            seen.setdefault(group, []).append(changes.step_times[pk][1])
    groups = sorted(set(changes.failures) | set(new_records) | set(changes.signatures))
    rows = []
    for group in groups:
        signature, message = changes.signatures.get(group, (None, None))
        starts = seen.get(group) or [None]
        rows.append(
            (
                group,
                *(signature or ("", "", "", "", "", "", "")),
                message or "",
                changes.failures[group],
                changes.records[group] + new_records[group],
                db(min(starts, key=lambda start: start or datetime.max.replace(tzinfo=UTC))),
                db(max(starts, key=lambda start: start or datetime.min.replace(tzinfo=UTC))),
            )
        )
    for chunk in _chunks(rows):
        values, params = _values(chunk)
        # A group first met here is created with its signature; one already
        # there keeps its own and has the counts added to its numbers.
        cursor.execute(
            "INSERT INTO dashboard_errorgroup (id, object_type, object_name, operation, "
            "error_code, field, level, template, sample_message, failures, records, "
            f"first_seen, last_seen) VALUES {values} ON CONFLICT (id) DO UPDATE SET "
            "failures = dashboard_errorgroup.failures + excluded.failures, "
            "records = dashboard_errorgroup.records + excluded.records, "
            "sample_message = CASE WHEN excluded.sample_message = '' "
            "THEN dashboard_errorgroup.sample_message ELSE excluded.sample_message END, "
            "first_seen = CASE WHEN dashboard_errorgroup.first_seen IS NULL "
            "OR excluded.first_seen < dashboard_errorgroup.first_seen "
            "THEN excluded.first_seen ELSE dashboard_errorgroup.first_seen END, "
            "last_seen = CASE WHEN dashboard_errorgroup.last_seen IS NULL "
            "OR excluded.last_seen > dashboard_errorgroup.last_seen "
            "THEN excluded.last_seen ELSE dashboard_errorgroup.last_seen END",
            params,
        )


def _write_streams(cursor, changes: Changes) -> None:
    rows = sorted(
        (object_type, object_name, operation, db(latest))
        for (object_type, object_name, operation), latest in changes.stream_latest.items()
    )
    for chunk in _chunks(rows):
        values, params = _values(chunk)
        cursor.execute(
            "INSERT INTO dashboard_stepstream (object_type, object_name, operation, "
            f"latest_final_started_at) VALUES {values} "
            "ON CONFLICT (object_type, object_name, operation) DO UPDATE SET "
            "latest_final_started_at = CASE WHEN dashboard_stepstream.latest_final_started_at "
            "IS NULL OR excluded.latest_final_started_at > "
            "dashboard_stepstream.latest_final_started_at "
            "THEN excluded.latest_final_started_at "
            "ELSE dashboard_stepstream.latest_final_started_at END",
            params,
        )
    for key in sorted(changes.streams_to_read):
        streams_read_again(cursor, [key])


def streams_read_again(cursor, keys: Iterable[StreamKey]) -> None:
    """The latest final start of these streams, read from their steps in the window."""
    statuses = ", ".join(["%s"] * len(FINAL))
    for object_type, object_name, operation in keys:
        cursor.execute(
            "INSERT INTO dashboard_stepstream (object_type, object_name, operation, "
            "latest_final_started_at) SELECT %s, %s, %s, max(started_at) "
            "FROM dashboard_syncstep WHERE object_type = %s "
            "AND COALESCE(object_name, '') = %s AND operation = %s "
            f"AND status IN ({statuses}) AND cycle_started_at >= "
            "(SELECT groups_expired_before FROM dashboard_retentionmark WHERE id = 1) "
            "ON CONFLICT (object_type, object_name, operation) DO UPDATE SET "
            "latest_final_started_at = excluded.latest_final_started_at",
            [object_type, object_name, operation, object_type, object_name, operation, *FINAL],
        )


# --- Leaving the window ---------------------------------------------------------


def rollups_expire(*, cutoff: datetime) -> int:
    """Take out of the groups everything of the cycles that started before
    `cutoff` and that an earlier run has not taken out yet; return how many
    failures left. Run every minute and by the purge; safe to run twice, or
    after a run interrupted, and beside workers applying reports.

    A few set-based statements whatever the number of groups, buckets or
    records leaving: the transaction holds the retention mark, on which
    workers applying reports wait, and a large expired day must not hold it
    for seconds, nor bring hundreds of thousands of rows into Python."""
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cursor:
        mark = _lock_mark(cursor)
        if cutoff <= mark:
            return 0
        window = [db(mark), db(cutoff)]
        cursor.execute(
            "SELECT COALESCE(SUM(failures), 0) FROM dashboard_errorgroupstep "
            "WHERE cycle_started_at >= %s AND cycle_started_at < %s",
            window,
        )
        (left,) = cursor.fetchone()
        cursor.execute(
            "SELECT DISTINCT group_id FROM dashboard_errorgroupstep WHERE cycle_started_at < %s",
            [db(cutoff)],
        )
        shrunk = [group for (group,) in cursor.fetchall()]
        _take_out_shares(cursor, window)
        _take_out_records(cursor, cutoff)
        cursor.execute(
            "DELETE FROM dashboard_errorgroupstep WHERE cycle_started_at < %s", [db(cutoff)]
        )
        _read_seen_again(cursor, shrunk)
        cursor.execute("DELETE FROM dashboard_errorgroupbucket WHERE failures <= 0")
        cursor.execute(
            "DELETE FROM dashboard_errorgroupbucket WHERE group_id IN "
            "(SELECT id FROM dashboard_errorgroup WHERE failures <= 0)"
        )
        cursor.execute("DELETE FROM dashboard_errorgroup WHERE failures <= 0")
        cursor.execute(
            "UPDATE dashboard_retentionmark SET groups_expired_before = %s WHERE id = 1",
            [db(cutoff)],
        )
        # A stream whose latest final step has left the window has an earlier one, or none.
        cursor.execute(
            "SELECT object_type, object_name, operation FROM dashboard_stepstream "
            "WHERE latest_final_started_at < %s",
            [db(cutoff)],
        )
        streams_read_again(cursor, cursor.fetchall())
    return left


def _take_out_shares(cursor, window: list) -> None:
    """The expired steps' shares leave their groups' trends and counts (a
    job-level group counts steps as its records), each in one statement."""
    cursor.execute(
        "UPDATE dashboard_errorgroupbucket "
        "SET failures = dashboard_errorgroupbucket.failures - expired.failures "
        "FROM (SELECT group_id, bucket, SUM(failures) AS failures "
        "FROM dashboard_errorgroupstep WHERE cycle_started_at >= %s AND cycle_started_at < %s "
        "GROUP BY group_id, bucket) AS expired "
        "WHERE dashboard_errorgroupbucket.group_id = expired.group_id "
        "AND dashboard_errorgroupbucket.bucket = expired.bucket",
        window,
    )
    cursor.execute(
        "UPDATE dashboard_errorgroup "
        "SET failures = dashboard_errorgroup.failures - expired.failures, "
        "records = dashboard_errorgroup.records - CASE WHEN dashboard_errorgroup.level = 'job' "
        "THEN expired.failures ELSE 0 END "
        "FROM (SELECT group_id, SUM(failures) AS failures "
        "FROM dashboard_errorgroupstep WHERE cycle_started_at >= %s AND cycle_started_at < %s "
        "GROUP BY group_id) AS expired "
        "WHERE dashboard_errorgroup.id = expired.group_id",
        window,
    )


def _take_out_records(cursor, cutoff: datetime) -> None:
    """A record whose latest failure in a group was in an expired cycle leaves
    the group's distinct records. A worker moving the record's latest cycle
    on meanwhile keeps it: the delete reads the row again once it may."""
    if connection.vendor == "postgresql":
        # Counted where they are deleted: an expired day is some 400,000 rows.
        cursor.execute(
            "WITH gone AS (DELETE FROM dashboard_errorgrouprecord "
            "WHERE last_cycle_started_at < %s RETURNING group_id), "
            "lost AS (SELECT group_id, count(*) AS records FROM gone GROUP BY group_id) "
            "UPDATE dashboard_errorgroup SET records = dashboard_errorgroup.records - lost.records "
            "FROM lost WHERE dashboard_errorgroup.id = lost.group_id",
            [db(cutoff)],
        )
        return
    # SQLite (the embedded mode) has no DELETE in a WITH.
    cursor.execute(
        "DELETE FROM dashboard_errorgrouprecord WHERE last_cycle_started_at < %s "
        "RETURNING group_id",
        [db(cutoff)],
    )
    lost = Counter(group for (group,) in cursor.fetchall())
    cursor.executemany(
        "UPDATE dashboard_errorgroup SET records = records - %s WHERE id = %s",
        sorted((records, group) for group, records in lost.items()),
    )


def _read_seen_again(cursor, groups: Iterable[int]) -> None:
    """First and last seen of groups something was taken out of, from their
    steps left: a statement a chunk of groups, each an index lookup at either
    end of a group's steps. Their rows are locked already, by the writes of
    their counts."""
    for chunk in _chunks(sorted(groups)):
        placeholders = ", ".join(["%s"] * len(chunk))
        cursor.execute(
            "UPDATE dashboard_errorgroup SET "
            "first_seen = (SELECT min(step_started_at) FROM dashboard_errorgroupstep "
            "WHERE group_id = dashboard_errorgroup.id), "
            "last_seen = (SELECT max(step_started_at) FROM dashboard_errorgroupstep "
            "WHERE group_id = dashboard_errorgroup.id) "
            f"WHERE id IN ({placeholders})",
            chunk,
        )


def _lock_mark(cursor) -> datetime:
    """The retention mark, locked until the transaction ends: a worker applying
    a report reads it shared (`retention_mark`), the purge alone writes it."""
    return _read_mark(cursor, " FOR UPDATE")


def retention_mark() -> datetime:
    """Where the groups' window starts; held in share mode until the
    transaction ends, so that the purge cannot take out a cycle whose
    failures this transaction is adding."""
    with connection.cursor() as cursor:
        return _read_mark(cursor, " FOR SHARE")


def ensure_retention_mark(cursor) -> None:
    """The mark's one row (id 1), from the earliest moment until a purge moves it."""
    cursor.execute(
        "INSERT INTO dashboard_retentionmark (id, groups_expired_before) VALUES (1, %s) "
        "ON CONFLICT (id) DO NOTHING",
        [db(EARLIEST)],
    )


def _read_mark(cursor, lock: str) -> datetime:
    lock = lock if connection.vendor == "postgresql" else ""
    query = f"SELECT groups_expired_before FROM dashboard_retentionmark WHERE id = 1{lock}"
    cursor.execute(query)
    row = cursor.fetchone()
    if row is None:  # a database flushed since migrate (the tests do)
        ensure_retention_mark(cursor)
        cursor.execute(query)
        row = cursor.fetchone()
    return from_db(row[0])
