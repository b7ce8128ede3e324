"""Error groups, kept current as reports are applied (docs/errors.md).

A group's counts, first and last seen, trend and distinct records are
rollups, changed in the transaction that writes the failures: a report adds
what it adds, and takes out of a group what it moves elsewhere (a failure
named again with another message), so a report applied twice changes
nothing the second time. Concurrent workers only ever add to or take from
a group's numbers (never write a number they read), and take their row
locks in one order, so that two reports of different cycles hitting one
group neither lose a count nor deadlock. What leaves the window is taken
out by expiry.py.

Every statement here is plain SQL that SQLite and PostgreSQL both read.
"""

# ruff: noqa: S608 - the f-strings only add placeholders; every value is bound.

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import islice

from django.db import connection
from django.utils.dateparse import parse_datetime

from dashboard.choices import FINAL_STATUSES
from dashboard.ingest.failures import COPY_THRESHOLD, copy_into_temp, copy_text
from dashboard.syncerrors.changes import Changes, StreamKey, bucket_of

# Rows per statement: well under SQLite's limit on bound variables.
ROWS_PER_STATEMENT = 500
FINAL = tuple(sorted(FINAL_STATUSES))


def rollups_write(changes: Changes) -> None:
    """Write what reports did to the groups, in their transaction, after their
    failures: group rows last, so that their locks are held the least time."""
    with connection.cursor() as cursor:
        _write_group_steps(cursor, changes)
        new_records = _write_pairs(cursor, changes)
        _write_buckets(cursor, changes)
        _write_groups(cursor, changes, new_records)
        read_seen_again(cursor, changes.shrunk)
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


def read_seen_again(cursor, groups: Iterable[int]) -> None:
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
