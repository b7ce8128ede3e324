"""Generate a large customer's five days on PostgreSQL, fast, with COPY.

Realistic shapes rather than uniform noise: one cycle every five minutes, most
steps succeed, failures concentrated in a few objects and a few error codes,
some steps failing as a whole with a job-level error.
"""

import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection

from dashboard.choices import OPERATION_OBJECTS

ROWS_PER_COPY = 200_000
ERROR_CODES = [
    ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Postal code is required", "PostalCode", 40),
    ("DUPLICATES_DETECTED", "Use one of these records?", "", 30),
    ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", "", 15),
    ("INVALID_EMAIL_ADDRESS", "Email: invalid email address: jdoe@", "Email", 10),
    ("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", "LastName", 5),
]
# Where failures happen: most of them on a few objects.
FAILING_OBJECTS = {"lead": 50, "contact": 30, "custom_object": 10, "opportunity": 6, "task": 4}
PAIRS = [(op, obj) for op, objects in OPERATION_OBJECTS.items() for obj in objects]


@dataclass
class Generated:
    cycles: int
    steps: int
    failed_records: int
    first_cycle_start: datetime


def _copy(table: str, columns: list[str], rows) -> int:
    """COPY rows (tuples of already formatted text) into `table`, in chunks."""
    count, buffer = 0, io.StringIO()
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor:
        for row in rows:
            buffer.write("\t".join(row))
            buffer.write("\n")
            count += 1
            if count % ROWS_PER_COPY == 0:
                buffer.seek(0)
                cursor.cursor.copy_expert(sql, buffer)
                buffer = io.StringIO()
        buffer.seek(0)
        cursor.cursor.copy_expert(sql, buffer)
    return count


def _text(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def generate(
    *,
    steps: int,
    failures: int,
    days: float = 5,
    cycle_minutes: int = 5,
    seed: int = 1,
    end: datetime | None = None,
    first_ids: tuple[int, int, int] = (1, 1, 1),
    cycle_prefix: str = "bench",
) -> Generated:
    """Write cycles, steps and failed records ending at `end` (default now)."""
    rng = random.Random(seed)
    end = end or datetime.now(UTC)
    n_cycles = max(1, int(days * 24 * 60 / cycle_minutes))
    start = end - timedelta(minutes=cycle_minutes * n_cycles)
    cycle_id, step_id, failure_id = first_ids
    cycle_rows, step_rows, failing = [], [], []
    steps_left = steps
    for c in range(n_cycles):
        started = start + timedelta(minutes=cycle_minutes * c, seconds=rng.randint(0, 40))
        per_cycle = steps_left // (n_cycles - c)
        steps_left -= per_cycle
        clock = started
        for s in range(per_cycle):
            operation, object_type = PAIRS[rng.randrange(len(PAIRS))]
            if rng.random() < 0.3:  # the bulk of the work is on a few objects
                object_type = rng.choice(["lead", "contact"])
            roll = rng.random()
            status = (
                "succeeded" if roll < 0.93 else "incomplete" if roll < 0.975
                else "failed" if roll < 0.99 else "cleaned_up" if roll < 0.995 else "in_process"
            )  # fmt: skip
            duration = timedelta(milliseconds=rng.randint(200, 20_000))
            ended = None if status == "in_process" else clock + duration
            new, updated = rng.randint(0, 40), rng.randint(0, 200)
            error_code = error_message = None
            if status == "failed":
                error_code, error_message = (
                    "REQUEST_LIMIT_EXCEEDED",
                    "TotalRequests Limit exceeded.",
                )
                new = updated = None
            step_rows.append(
                (step_id, cycle_id, f"{object_type}.{operation}.{s}", started, object_type,
                 "Invoice__c" if object_type == "custom_object" else None, operation, status,
                 clock, ended, new, updated, None, 0 if status == "succeeded" else None,
                 rng.randint(0, 30), error_code, error_message)
            )  # fmt: skip
            if status == "incomplete":
                failing.append((step_id, started, FAILING_OBJECTS.get(object_type, 1)))
            step_id += 1
            clock += duration
        cycle_rows.append((cycle_id, f"{cycle_prefix}-{cycle_id}", started, clock))
        cycle_id += 1

    _copy(
        "dashboard_synccycle",
        ["id", "external_id", "started_at", "ended_at"],
        (tuple(map(_text, row)) for row in cycle_rows),
    )
    _copy(
        "dashboard_syncstep",
        ["id", "cycle_id", "step_id", "cycle_started_at", "object_type", "object_name",
         "operation", "status", "started_at", "ended_at", "new_count", "updated_count",
         "deleted_count", "failed_count", "skipped_count", "error_code", "error_message"],
        (tuple(map(_text, row)) for row in step_rows),
    )  # fmt: skip

    # Failures per failing step: weighted by object, heavy-tailed within.
    weights = [weight * rng.paretovariate(1.5) for _, _, weight in failing]
    total = sum(weights) or 1
    picks = rng.choices(ERROR_CODES, [code[3] for code in ERROR_CODES], k=997)

    def failure_rows():
        nonlocal failure_id
        written = 0
        for index, (step_pk, cycle_started, _) in enumerate(failing):
            share = (
                failures - written
                if index == len(failing) - 1
                else int(failures * weights[index] / total)
            )
            started_text = cycle_started.isoformat()
            for n in range(share):
                code, message, field, _ = picks[failure_id % 997]
                yield (str(failure_id), str(step_pk), f"00Q{step_pk:07d}{n:08d}",
                       str(1_000_000 + n), code, field, message, started_text)  # fmt: skip
                failure_id += 1
            written += share

    failed_records = _copy(
        "dashboard_failedrecord",
        ["id", "step_id", "record_id", "marketo_id", "error_code", "field", "message",
         "cycle_started_at"],
        failure_rows(),
    ) if failing else 0  # fmt: skip
    with connection.cursor() as cursor:
        for table in ["dashboard_synccycle", "dashboard_syncstep", "dashboard_failedrecord"]:
            # The table names are the constants above, never input.
            next_id = f"(SELECT COALESCE(max(id), 0) + 1 FROM {table})"  # noqa: S608
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), {next_id}, false)", [table]
            )
    return Generated(len(cycle_rows), len(step_rows), failed_records, start)
