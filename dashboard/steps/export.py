"""The sync errors export (SPEC 4.2): CSV streamed row by row from one query."""

import contextlib
import csv
import queue
import threading
from collections.abc import Iterable, Iterator

from django.db import connection
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from dashboard.models import SyncStep

HEADER = [
    "started_at",
    "ended_at",
    "object_type",
    "operation",
    "object_name",
    "status",
    "cycle_id",
    "step_id",
    "record_id",
    "marketo_id",
    "error_code",
    "field",
    "message",
]
# What a spreadsheet may read as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
STEP_COLUMNS = [
    "pk",
    "started_at",
    "ended_at",
    "object_type",
    "operation",
    "object_name",
    "status",
    "cycle__external_id",
    "step_id",
    "error_code",
    "error_message",
]
FAILURE_COLUMNS = [
    "failures__record_id",
    "failures__marketo_id",
    "failures__error_code",
    "failures__field",
    "failures__message",
]
ROWS_PER_FETCH = 2000


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def error_rows(steps: QuerySet[SyncStep]) -> Iterator[list[str]]:
    """The CSV rows for the errors of `steps`, in the steps' order: a step's
    job-level error first, then its failed records by record_id.

    One query, read through a server-side cursor on PostgreSQL, so memory
    stays flat whatever the number of rows.
    """
    ordering = list(steps.query.order_by) + ["failures__record_id"]
    rows = (
        steps.filter(Q(error_message__isnull=False) | Q(failures__isnull=False))
        .order_by(*ordering)
        .values_list(*STEP_COLUMNS, *FAILURE_COLUMNS)
        .iterator(chunk_size=ROWS_PER_FETCH)
    )
    previous_pk = None
    for row in rows:
        (pk, started_at, ended_at, object_type, operation, object_name, status, cycle_id,
         step_id, error_code, error_message, record_id, *failure) = row  # fmt: skip
        step = [
            timezone.localtime(started_at).isoformat(),
            timezone.localtime(ended_at).isoformat() if ended_at else "",
            object_type,
            operation,
            object_name or "",
            status,
            cycle_id,
            step_id,
        ]
        if pk != previous_pk and error_message is not None:
            yield [*step, "", "", error_code or "", "", error_message]
        previous_pk = pk
        if record_id is not None:
            marketo_id, failure_code, field, message = failure
            yield [*step, record_id, marketo_id or "", failure_code or "", field or "", message]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[list[str]]) -> Iterator[str]:
    # Rows end in a bare newline, as PostgreSQL's COPY writes them. The writer
    # is told "\r\n" so that it quotes a cell holding either character.
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield writer.writerow(HEADER)[:-2] + "\n"
    for row in rows:
        yield writer.writerow([neutralise(cell) for cell in row])[:-2] + "\n"


# --- PostgreSQL: the same CSV, written by the server itself --------------------

# Sort keys of the step subquery `s`, as SQL (mirrors selectors.SORTS).
SQL_SORTS = {
    "-start": "s.started_at DESC, s.id DESC",
    "start": "s.started_at ASC, s.id ASC",
    "-end": "s.ended_at DESC NULLS FIRST, s.id DESC",
    "end": "s.ended_at ASC NULLS LAST, s.id ASC",
}
CHUNK_BYTES = 64 * 1024
CHUNKS_IN_FLIGHT = 16


# The characters of FORMULA_STARTS, as PostgreSQL string literals.
SQL_FORMULA_STARTS = "'=', '+', '-', '@', E'\\t', E'\\r', E'\\n'"


def _sql_text(column: str) -> str:
    """A text cell: neutralised like `neutralise`, and empty as Python's csv writes it."""
    quote = "''''"  # SQL for a string holding one single quote
    return (
        f"NULLIF(CASE WHEN left({column}, 1) IN ({SQL_FORMULA_STARTS}) "
        f"THEN {quote} || {column} ELSE {column} END, '')"
    )


def _sql_time(column: str) -> str:
    """ISO 8601 in the session's time zone, exactly as datetime.isoformat() writes it."""
    return (
        f"to_char({column}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        f"CASE WHEN date_part('microseconds', {column})::int %% 1000000 <> 0 "
        f"THEN to_char({column}, '.US') ELSE '' END || to_char({column}, 'TZH:TZM')"
    )


def copy_sql(steps: QuerySet[SyncStep], sort: str, quote) -> str:
    """One COPY statement producing the export's rows, in the export's order.

    Steps come in the page's order through their indexes; for each, a lateral
    subquery gives its job-level error, then its failed records through the
    (step, record_id) index, so the sort at the end only orders rows within a
    step (an incremental sort): the first row leaves at once, memory stays flat.
    """
    step_sql, params = (
        steps.annotate(cycle_external_id=F("cycle__external_id"))
        .values(
            "id",
            "started_at",
            "ended_at",
            "object_type",
            "operation",
            "object_name",
            "status",
            "cycle_external_id",
            "step_id",
            "error_code",
            "error_message",
            "cycle_started_at",
        )  # fmt: skip
        .query.sql_with_params()
    )
    columns = ", ".join(
        [
            _sql_time("s.started_at"),
            f"CASE WHEN s.ended_at IS NULL THEN NULL ELSE {_sql_time('s.ended_at')} END",
            *(_sql_text(f"s.{name}") for name in ["object_type", "operation", "object_name",
                                                   "status", "cycle_external_id", "step_id"]),
            *(_sql_text(f"e.{name}") for name in ["record_id", "marketo_id", "error_code",
                                                   "field", "message"]),
        ]
    )  # fmt: skip
    query = f"""
        SELECT {columns}
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
        ORDER BY {SQL_SORTS[sort]}, e.kind, e.record_id
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
    Python's csv module on SQLite. Both give the same bytes."""
    if connection.vendor == "postgresql":
        return copy_csv_chunks(steps, sort)
    return csv_lines(error_rows(steps))
