"""The sync errors export (SPEC 4.2): CSV streamed row by row from one query."""

import csv
from collections.abc import Iterable, Iterator

from django.db.models import Q, QuerySet
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
    writer = csv.writer(_Echo())
    yield writer.writerow(HEADER)
    for row in rows:
        yield writer.writerow([neutralise(cell) for cell in row])
