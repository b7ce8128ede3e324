"""The Sync errors pages' measurements (docs/errors.md): the groups page
against the same groups computed at read time by a GROUP BY over the raw
failures, in the same run; a group's page and a record's timeline against
their budget."""

# ruff: noqa: S608 - the SQL joins constant fragments; values are bound.

import contextlib
import statistics
from collections.abc import Callable
from datetime import timedelta
from unittest import mock

from django.conf import settings
from django.db import connection
from django.utils import timezone

from dashboard import kept
from dashboard.syncerrors.signatures import group_key
from devtools.bench.suite import (
    Results,
    admin_client,
    get,
    percentile,
    timed,
    timed_side_by_side,
)

ERRORS = "/integration/salesforce/sync-errors/"
RECORD = "/integration/salesforce/records/{}/"
ROWS_PER_PAGE = 50
# The groups of a page as the rollups hold them, computed instead from every
# failure of the window: what the page would cost without them.
RAW_GROUPS = (
    "SELECT group_id, count(*) AS failures, count(DISTINCT record_id) AS records, "
    "min(step_started_at) AS first_seen, max(step_started_at) AS last_seen "
    "FROM dashboard_failedrecord WHERE cycle_started_at >= %s {where} "
    "GROUP BY group_id ORDER BY {order}, group_id LIMIT %s"
)
# (name, the page's query, the baseline's extra condition, its order, its parameters)
CASES = [
    ("first page", "", "", "max(step_started_at) DESC", []),
    ("one error code, by failures", "?error_code=STRING_TOO_LONG&sort=-failures",
     "AND error_code = %s", "count(*) DESC", ["STRING_TOO_LONG"]),
]  # fmt: skip


def raw_groups(where: str, order: str, params: list) -> Callable[[], list]:
    sql = RAW_GROUPS.format(where=where, order=order)

    def run() -> list:
        since = timezone.now() - timedelta(days=settings.SYNC_STATUS_RETENTION_DAYS)
        with connection.cursor() as cursor:
            cursor.execute(sql, [since, *params, ROWS_PER_PAGE + 1])
            return cursor.fetchall()

    return run


class NothingKept:
    """A cache that keeps nothing: every request draws its page."""

    def get(self, *args, **kwargs):
        return None

    def set(self, *args, **kwargs):
        pass


@contextlib.contextmanager
def drawn_every_time():
    """The pages as the first reader after a report is applied finds them:
    their drawing (dashboard/syncerrors/drawings.py, kept by dashboard/kept.py)
    made for the request."""
    with mock.patch.object(kept, "cache", NothingKept()):
        yield


def add_drawn(results: Results, name: str, client, url: str, runs: int) -> None:
    with drawn_every_time():
        times = timed(lambda: get(client, url), runs)
    results.add(
        f"{name}, first reader after a report (drawn): server time p50 / p95",
        f"{statistics.median(times):.1f} / {percentile(times, 0.95):.1f} ms",
        "",
        "",
        "",
        None,
    )


def measure_error_pages(results: Results, runs: int) -> None:
    client = admin_client()
    describe_data(results)
    for name, query, where, order, params in CASES:
        baseline = raw_groups(where, order, params)
        if not baseline():
            raise RuntimeError(f"no failures for the Sync errors case {name!r}")
        ours, raw = timed_side_by_side(lambda q=query: get(client, ERRORS + q), baseline, runs)
        p95 = percentile(ours, 0.95)
        ratio = statistics.median(raw) / statistics.median(ours)
        results.add(
            f"Sync errors, {name}: server time p50 / p95",
            f"{statistics.median(ours):.1f} / {p95:.1f} ms",
            f"GROUP BY over the failures {statistics.median(raw):.1f} / "
            f"{percentile(raw, 0.95):.1f} ms",
            "",
            "p95 < 50 ms",
            p95 < 50,
        )
        results.add(
            f"Sync errors, {name}: against the GROUP BY (p50)",
            "",
            "",
            f"{ratio:.1f}x faster",
            "≥ 50x",
            ratio >= 50,
        )
        add_drawn(results, f"Sync errors, {name}", client, ERRORS + query, runs)
    group, record = busiest()
    for name, url in [
        (f"group page, first of its {group['failures']:,} failures", f"{ERRORS}{group['key']}/"),
        (f"record timeline, {record['failures']} failures", RECORD.format(record["id"])),
    ]:
        times = timed(lambda url=url: get(client, url), runs)
        p95 = percentile(times, 0.95)
        results.add(
            f"{name}: server time p50 / p95",
            f"{statistics.median(times):.1f} / {p95:.1f} ms",
            "",
            "",
            "p95 < 30 ms",
            p95 < 30,
        )
        add_drawn(results, name, client, url, runs)


def busiest() -> tuple[dict, dict]:
    """The record-level group with the most failures, and the record of it
    that failed most often: the heaviest group page and timeline there are."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, failures FROM dashboard_errorgroup WHERE level = 'record' "
            "ORDER BY failures DESC, id LIMIT 1"
        )
        group_id, failures = cursor.fetchone()
        cursor.execute(
            "SELECT record_id, count(*) FROM dashboard_failedrecord WHERE group_id = %s "
            "GROUP BY record_id ORDER BY count(*) DESC, record_id LIMIT 1",
            [group_id],
        )
        record_id, _ = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM dashboard_failedrecord WHERE record_id = %s", [record_id]
        )
        (record_failures,) = cursor.fetchone()
    return (
        {"key": group_key(group_id), "failures": failures},
        {"id": record_id, "failures": record_failures},
    )


def describe_data(results: Results) -> None:
    """Say how the failures' messages are mixed, for the reader to judge the data."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE level = 'job'), "
            "count(DISTINCT template), count(DISTINCT sample_message), "
            "count(*) FILTER (WHERE template ~ '<(value|n|id|email)>') "
            "FROM dashboard_errorgroup"
        )
        groups, job, templates, _, variable = cursor.fetchone()
        cursor.execute(
            "SELECT coalesce(sum(failures), 0), coalesce(max(failures), 0) "
            "FROM dashboard_errorgroup WHERE level = 'record'"
        )
        failures, largest = cursor.fetchone()
    results.notes.append(
        f"Sync errors data: {groups:,} error groups ({job:,} of job-level errors) over "
        f"{templates:,} message templates; {variable:,} of the groups' messages carry "
        f"ids, numbers, quoted values or e-mails; the largest group holds "
        f"{largest:,} of the {failures:,} failed records."
    )
