"""The sync errors export (docs/dashboard.md): CSV streamed from one query.

Two paths serve users, side by side and reading one definition of the
columns: PostgreSQL writes the CSV itself with COPY (production), Python's
csv module writes it elsewhere (the embedded SQLite mode). The failures of
one error group (docs/errors.md) have the same columns, written by Python's
csv module on every database: they are read in their page's order through
the group's own index, a chunk at a time.
"""

import contextlib
import csv
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from django.db import connection
from django.db.models import F, Q, QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from dashboard.models import FailedRecord, SyncStep
from dashboard.steps.selectors import SORTS


class Column(NamedTuple):
    """One column of the export: its header, and where its value comes from:
    a field of the step (`s.`) or of the error row (`e.`: a job-level error
    or a failed record)."""

    header: str
    source: str
    is_time: bool = False


# The columns, in order: both paths below write exactly these.
COLUMNS = (
    Column("started_at", "s.started_at", is_time=True),
    Column("ended_at", "s.ended_at", is_time=True),
    Column("object_type", "s.object_type"),
    Column("operation", "s.operation"),
    Column("object_name", "s.object_name"),
    Column("status", "s.status"),
    Column("cycle_id", "s.cycle_external_id"),
    Column("step_id", "s.step_id"),
    Column("record_id", "e.record_id"),
    Column("marketo_id", "e.marketo_id"),
    Column("error_code", "e.error_code"),
    Column("field", "e.field"),
    Column("message", "e.message"),
)
HEADER = [column.header for column in COLUMNS]
STEP_FIELDS = [column.source[2:] for column in COLUMNS if column.source.startswith("s.")]
ERROR_FIELDS = [column.source[2:] for column in COLUMNS if column.source.startswith("e.")]
# What a spreadsheet may read as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
ROWS_PER_FETCH = 2000


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


# --- SQLite (and any database): Python's csv module -------------------------


def error_rows(steps: QuerySet[SyncStep]) -> Iterator[list[str]]:
    """The rows for the errors of `steps`, in the steps' order: a step's
    job-level error first, then its failed records by record_id. One query,
    read in chunks, so memory stays flat whatever the number of rows."""
    ordering = [*steps.query.order_by, "failures__record_id"]
    rows = (
        steps.annotate(cycle_external_id=F("cycle__external_id"))
        .filter(Q(error_message__isnull=False) | Q(failures__isnull=False))
        .order_by(*ordering)
        .values_list("pk", "error_code", "error_message", *STEP_FIELDS,
                     *(f"failures__{name}" for name in ERROR_FIELDS))
        .iterator(chunk_size=ROWS_PER_FETCH)
    )  # fmt: skip
    steps_end = 3 + len(STEP_FIELDS)
    previous_pk = None
    for row in rows:
        pk, error_code, error_message = row[:3]
        step = dict(zip(STEP_FIELDS, row[3:steps_end], strict=True))
        failure = dict(zip(ERROR_FIELDS, row[steps_end:], strict=True))
        if pk != previous_pk and error_message is not None:
            yield cells(step, job_error(error_code, error_message))
        previous_pk = pk
        if failure["record_id"] is not None:
            yield cells(step, failure)


# Where a failed record finds its step's cells (a group's export, docs/errors.md).
FAILURE_STEP_PATHS = [
    "step__cycle__external_id" if name == "cycle_external_id" else f"step__{name}"
    for name in STEP_FIELDS
]


def failure_rows(failures: QuerySet[FailedRecord]) -> Iterator[list[str]]:
    """The rows of these failed records, in their queryset's order, each
    with its step's cells: one query, read in chunks."""
    rows = failures.values_list(*FAILURE_STEP_PATHS, *ERROR_FIELDS).iterator(
        chunk_size=ROWS_PER_FETCH
    )
    for row in rows:
        step = dict(zip(STEP_FIELDS, row[: len(STEP_FIELDS)], strict=True))
        yield cells(step, dict(zip(ERROR_FIELDS, row[len(STEP_FIELDS) :], strict=True)))


def job_error_rows(steps: QuerySet[SyncStep]) -> Iterator[list[str]]:
    """A row for the job-level error of each of these steps, in their order,
    and nothing of their failed records."""
    rows = (
        steps.annotate(cycle_external_id=F("cycle__external_id"))
        .values_list("error_code", "error_message", *STEP_FIELDS)
        .iterator(chunk_size=ROWS_PER_FETCH)
    )
    for error_code, error_message, *step in rows:
        yield cells(dict(zip(STEP_FIELDS, step, strict=True)), job_error(error_code, error_message))


def job_error(error_code: str | None, message: str) -> dict:
    """A step's job-level error as an error row: no record, no field."""
    error = dict.fromkeys(ERROR_FIELDS)
    error.update(error_code=error_code, message=message)
    return error


def cells(step: dict, error: dict) -> list[str]:
    """One row's cells: times in the user's zone, text neutralised, None empty."""
    values = {"s": step, "e": error}
    row = []
    for column in COLUMNS:
        value = values[column.source[0]][column.source[2:]]
        if value is None:
            row.append("")
        elif column.is_time:
            row.append(timezone.localtime(value).isoformat())
        else:
            row.append(neutralise(value))
    return row


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[list[str]]) -> Iterator[str]:
    # Rows end in a bare newline, as PostgreSQL's COPY writes them. The writer
    # is told "\r\n" so that it quotes a cell holding either character.
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield writer.writerow(HEADER)[:-2] + "\n"
    for row in rows:
        yield writer.writerow(row)[:-2] + "\n"


# --- PostgreSQL: the same CSV, written by the server itself --------------------

# For the export's own transaction. Its estimated cost (the whole window)
# made PostgreSQL compile the query first (JIT) and sort every step of the
# window before the first row: the first rows left after a second or more,
# and the whole export took three times as long (make bench). Without them
# the steps come in order from their indexes and the rows leave at once.
EXPORT_SETTINGS = "SET LOCAL jit = off; SET LOCAL enable_sort = off"
CHUNK_BYTES = 64 * 1024
CHUNKS_IN_FLIGHT = 16
# The characters of FORMULA_STARTS, as PostgreSQL string literals.
SQL_FORMULA_STARTS = "'=', '+', '-', '@', E'\\t', E'\\r', E'\\n'"


def _sql_text(source: str) -> str:
    """A text cell: neutralised like `neutralise`, and empty as Python's csv writes it."""
    quote = "''''"  # SQL for a string holding one single quote
    return (
        f"NULLIF(CASE WHEN left({source}, 1) IN ({SQL_FORMULA_STARTS}) "
        f"THEN {quote} || {source} ELSE {source} END, '')"
    )


def _sql_time(source: str) -> str:
    """ISO 8601 in the session's time zone, as datetime.isoformat() writes it:
    microseconds only when there are some, and the offset's seconds only when
    there are some (the local mean times of the 1800s had them)."""
    offset_seconds = f"(date_part('timezone', {source})::int %% 60)"
    return (
        f"to_char({source}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        f"CASE WHEN date_part('microseconds', {source})::int %% 1000000 <> 0 "
        f"THEN to_char({source}, '.US') ELSE '' END || to_char({source}, 'TZH:TZM') || "
        f"CASE WHEN {offset_seconds} <> 0 "
        f"THEN ':' || to_char(abs({offset_seconds}), 'FM00') ELSE '' END"
    )


def _sql_cell(column: Column) -> str:
    return _sql_time(column.source) if column.is_time else _sql_text(column.source)


def copy_sql(steps: QuerySet[SyncStep], sort: str, quote) -> str:
    """One COPY statement producing the export's rows, in the export's order.

    Steps come in the page's order through their indexes; for each, a lateral
    subquery gives its job-level error, then its failed records through the
    (step, record_id) index, so the sort at the end only orders rows within a
    step (an incremental sort): the first row leaves at once, memory stays flat.
    """
    step_sql, params = (
        steps.annotate(cycle_external_id=F("cycle__external_id"))
        .values("id", "cycle_started_at", "error_code", "error_message", *STEP_FIELDS)
        .query.sql_with_params()
    )
    query = f"""
        SELECT {", ".join(_sql_cell(column) for column in COLUMNS)}
        FROM ({step_sql}) AS s
        CROSS JOIN LATERAL (
            SELECT 0 AS kind, NULL::varchar AS record_id, NULL::varchar AS marketo_id,
                   s.error_code AS error_code, NULL::varchar AS field, s.error_message AS message
            WHERE s.error_message IS NOT NULL
            UNION ALL
            SELECT 1, f.record_id, f.marketo_id, f.error_code, f.field, f.message
            FROM dashboard_failedrecord f
            WHERE f.step_id = s.id AND f.cycle_started_at = s.cycle_started_at
        ) AS e
        ORDER BY {SORTS[sort].sql("s")}, e.kind, e.record_id
    """  # noqa: S608 - every value is bound through `quote`; names are constants
    return "COPY (" + quote(query, params) + ") TO STDOUT WITH (FORMAT csv)"


class _ChunkWriter:
    """The file COPY writes into: batches rows into chunks for a bounded queue."""

    def __init__(self, chunks: queue.Queue, stop: threading.Event):
        self.chunks, self.stop, self.parts, self.size = chunks, stop, [], 0

    def write(self, data: bytes) -> None:
        if self.stop.is_set():
            raise ExportAborted
        self.parts.append(data)
        self.size += len(data)
        if self.size >= CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.chunks.put(b"".join(self.parts))
            self.parts, self.size = [], 0


class ExportAborted(Exception):
    """The download was abandoned: stop copying."""


def copy_csv_chunks(steps: QuerySet[SyncStep], sort: str) -> Iterator[bytes]:
    """The export as CSV bytes, produced by COPY on a connection of its own, in a
    thread, handed over through a bounded queue (memory stays flat)."""
    yield (",".join(HEADER) + "\n").encode()
    raw = connection.get_new_connection(connection.get_connection_params())
    with raw.cursor() as cursor:
        sql = copy_sql(steps, sort, lambda query, params: cursor.mogrify(query, params).decode())
    time_zone = timezone.get_current_timezone_name()
    chunks: queue.Queue = queue.Queue(maxsize=CHUNKS_IN_FLIGHT)
    stop = threading.Event()
    done = object()

    def copy() -> None:
        try:
            with raw, raw.cursor() as cursor:
                cursor.execute("SET LOCAL TIME ZONE %s", [time_zone])
                cursor.execute(EXPORT_SETTINGS)
                writer = _ChunkWriter(chunks, stop)
                cursor.copy_expert(sql, writer)
                writer.flush()
            chunks.put(done)
        except Exception as exc:  # handed to the response, or dropped if abandoned
            chunks.put(exc)
        finally:
            raw.close()

    worker = threading.Thread(target=copy, name="csv-export", daemon=True)
    worker.start()
    try:
        while (item := chunks.get()) is not done:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a worker waiting on a full queue
            with contextlib.suppress(queue.Empty):
                chunks.get(timeout=0.1)


def export_chunks(steps: QuerySet[SyncStep], sort: str) -> Iterator[str | bytes]:
    """The sync errors CSV: written by PostgreSQL itself where it runs, by
    Python's csv module elsewhere."""
    if connection.vendor == "postgresql":
        return copy_csv_chunks(steps, sort)
    return csv_lines(error_rows(steps))


def export_response(steps: QuerySet[SyncStep], sort: str) -> StreamingHttpResponse:
    """The sync errors of `steps` as a download, named by when it was made."""
    response = StreamingHttpResponse(
        export_chunks(steps, sort), content_type="text/csv; charset=utf-8"
    )
    filename = f"sync-errors-{timezone.localtime():%Y-%m-%dT%H%M}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
