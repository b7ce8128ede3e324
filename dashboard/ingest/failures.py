"""Writing failed records: one definition of the columns, two writers.

PostgreSQL takes large batches by COPY (about five times the rows/s of an
INSERT, `make bench`: no parameters to bind); every database takes the
rest by one multi-row INSERT. Either way a failure named again replaces the
stored one whole (docs/reports.md), and the cycle's lock, held by the
caller, keeps every other writer off these steps.
"""

# ruff: noqa: S608 - the f-strings only add column names and placeholders.

import io
from collections.abc import Iterable
from datetime import datetime
from itertools import chain, islice
from typing import NamedTuple

from django.db import connection

from dashboard.ingest.validation import CleanFailure

# From this many failed records in a report, PostgreSQL takes them by COPY:
# a live engine's report of 8 steps and 100 failures is applied 16% faster
# so than by INSERT (measured in-process at 200k steps, 58 -> 67 reports/s).
COPY_THRESHOLD = 20
# Rows per INSERT: well under SQLite's limit on bound variables.
ROWS_PER_INSERT = 500
COLUMNS = ("step_id", "cycle_started_at", "step_started_at", "group_id",
           "record_id", "marketo_id", "error_code", "field", "message")  # fmt: skip
REPLACED = ("marketo_id", "error_code", "field", "message", "group_id")
UPSERT = "ON CONFLICT (step_id, record_id, cycle_started_at) DO UPDATE SET " + ", ".join(
    f"{name} = excluded.{name}" for name in REPLACED
)


class StepFailures(NamedTuple):
    """The failures a report gives for one step, each with its error group."""

    step_pk: int
    cycle_started_at: datetime
    step_started_at: datetime
    failures: tuple[CleanFailure, ...]
    group_ids: list[int]


def failures_write(batches: list[StepFailures], replacing: bool = True) -> None:
    """Write the failures, of any steps of any cycles; unless `replacing` is
    false (their steps are new), each replaces the one of its record stored
    on its step."""
    count = sum(len(batch.failures) for batch in batches)
    if connection.vendor == "postgresql" and count >= COPY_THRESHOLD:
        _copy(batches, replacing)
    elif count:
        _insert(batches)


def stored_groups(
    cycle_started_at: datetime, keys: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], int]:
    """The group of each (step pk, record_id) already stored, for the failures a
    report is about to replace; all of steps of the cycle started then."""
    found = {}
    iterator = iter(keys)
    started = connection.ops.adapt_datetimefield_value(cycle_started_at)
    with connection.cursor() as cursor:
        while chunk := list(islice(iterator, ROWS_PER_INSERT)):
            pairs = ", ".join(["(%s, %s)"] * len(chunk))
            cursor.execute(
                "SELECT step_id, record_id, group_id FROM dashboard_failedrecord "
                f"WHERE cycle_started_at = %s AND (step_id, record_id) IN (VALUES {pairs})",
                [started, *(value for key in chunk for value in key)],
            )
            found.update(((step, record), group) for step, record, group in cursor.fetchall())
    return found


def _insert(batches: list[StepFailures]) -> None:
    adapt = connection.ops.adapt_datetimefield_value
    rows = (
        (batch.step_pk, adapt(batch.cycle_started_at), adapt(batch.step_started_at),
         group, f.record_id, f.marketo_id, f.error_code, f.field, f.message)
        for batch in batches
        for f, group in zip(batch.failures, batch.group_ids, strict=True)
    )  # fmt: skip
    row = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    with connection.cursor() as cursor:
        while chunk := list(islice(rows, ROWS_PER_INSERT)):
            cursor.execute(
                f"INSERT INTO dashboard_failedrecord ({', '.join(COLUMNS)}) "
                f"VALUES {', '.join([row] * len(chunk))} {UPSERT}",
                list(chain.from_iterable(chunk)),
            )


# --- PostgreSQL: COPY ---------------------------------------------------------


def copy_text(value) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if not isinstance(value, str):
        return str(value)
    # Most values need no escaping; four scans in C are cheaper than replacing.
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def copy_into_temp(cursor, table: str, definition: str, columns: str, text: str) -> None:
    """COPY lines of `text` into a temporary table of this connection, created
    on first use (with `definition`) and emptied by every use."""
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({definition})")
    cursor.execute(f"TRUNCATE {table}")
    cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", io.StringIO(text))


def copy_lines(batches: list[StepFailures]) -> str:
    """Failed records as lines of COPY text, in the order of COLUMNS."""
    records = chain.from_iterable(batch.failures for batch in batches)
    # Through filter and chain, the loop over every value runs in C.
    texts = "".join(filter(None, chain.from_iterable(records)))
    escape = any(char in texts for char in "\\\t\n\r")
    null = "\\N"
    lines = []
    for batch in batches:
        prefix = f"{batch.step_pk}\t{batch.cycle_started_at}\t{batch.step_started_at}\t"
        rows = zip(batch.failures, batch.group_ids, strict=True)
        if escape:
            lines += [
                f"{prefix}{group}\t"
                + "\t".join(map(copy_text, (f.record_id, f.marketo_id, f.error_code, f.field)))
                + f"\t{copy_text(f.message)}\n"
                for f, group in rows
            ]
        else:
            # Nothing to escape in the whole report, the usual case: one
            # f-string a record instead of a conversion a value.
            lines += [
                f"{prefix}{group}\t{record_id}\t{null if marketo_id is None else marketo_id}\t"
                f"{null if code is None else code}\t{null if field is None else field}\t"
                f"{message}\n"
                for (record_id, message, marketo_id, code, field), group in rows
            ]
    return "".join(lines)


def _copy(batches: list[StepFailures], replacing: bool) -> None:
    text = copy_lines(batches)
    columns = ", ".join(COLUMNS)
    step_ids = sorted(batch.step_pk for batch in batches if batch.failures)
    starts = sorted({batch.cycle_started_at for batch in batches})
    with connection.cursor() as cursor:
        # A first delivery (the usual case) has nothing to replace: straight in.
        if replacing:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM dashboard_failedrecord "
                "WHERE step_id = ANY(%s) AND cycle_started_at = ANY(%s))",
                [step_ids, starts],
            )
            replacing = cursor.fetchone()[0]
        if not replacing:
            cursor.copy_expert(
                f"COPY dashboard_failedrecord ({columns}) FROM STDIN", io.StringIO(text)
            )
            return
        copy_into_temp(
            cursor,
            "incoming_failed_records",
            "step_id bigint, cycle_started_at timestamptz, step_started_at timestamptz, "
            "group_id bigint, record_id varchar(255), marketo_id varchar(255), "
            "error_code varchar(255), field varchar(255), message text",
            columns,
            text,
        )
        cursor.execute(
            f"INSERT INTO dashboard_failedrecord ({columns}) "
            f"SELECT {columns} FROM incoming_failed_records {UPSERT}"
        )
