"""Error groups: what leaves the retention window taken out of them
(docs/errors.md), every minute and by the purge, and the retention mark
that says where the groups' window starts.

Every statement here is plain SQL that SQLite and PostgreSQL both read.
"""

# ruff: noqa: S608 - the f-strings only add placeholders; every value is bound.

from collections import Counter
from datetime import datetime

from django.db import connection, transaction

from dashboard.syncerrors.rollups import db, from_db, read_seen_again, streams_read_again
from dashboard.times import EARLIEST


def rollups_expire(*, cutoff: datetime) -> int:
    """Take out of the groups everything of the cycles that started before
    `cutoff` and that an earlier run has not taken out yet; return how many
    failures left. Run every minute and by the purge; safe to run twice, or
    after a run interrupted, and beside workers applying reports.

    A few set-based statements whatever the number of groups, buckets or
    records leaving: the transaction holds the retention mark, on which
    workers applying reports wait, and a large expired day must not hold it
    for seconds, nor bring hundreds of thousands of rows into Python."""
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
        read_seen_again(cursor, shrunk)
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
