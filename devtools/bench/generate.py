"""Generate a large customer's five days on PostgreSQL, fast, with COPY.

Realistic shapes rather than uniform noise: one cycle every five minutes, most
steps succeed, failures concentrated in a few objects and a few signatures
(devtools/bench/messages.py), the same records failing cycle after cycle,
some steps failing as a whole with a job-level error, and a run of steps of
exactly 100 failures each (the shape whose export once started late). The
error groups' rollups are then counted from the rows, in SQL.
"""

# ruff: noqa: S608 - the SQL names constant tables and expressions; values are bound.

import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection

from dashboard.choices import FINAL_STATUSES, OPERATION_OBJECTS
from dashboard.syncerrors.signatures import job_error_signature
from devtools.bench.messages import OBJECTS, RECORD_PREFIX, Catalogue

ROWS_PER_COPY = 200_000
PAIRS = [(op, obj) for op, objects in OPERATION_OBJECTS.items() for obj in objects]
OPERATIONS_OF = {
    obj: [op for op, objects in OPERATION_OBJECTS.items() if obj in objects and op != "sync_schema"]
    for obj in OBJECTS
}
# Records that fail, per object: the same ones again and again across cycles.
RECORD_POOL = 200_000
# Messages drawn per signature, so that messages vary without a format a row.
MESSAGES_PER_SIGNATURE = 64
HUNDRED = 100
LIMIT = ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


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
    # One catalogue whatever the seed: a customer's signatures stay the same.
    catalogue = Catalogue(random.Random(1), OPERATIONS_OF)
    end = end or datetime.now(UTC)
    # A run of steps of exactly 100 failures each: a tenth of the failures.
    hundreds = min(10_000, failures // (10 * HUNDRED))
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
                operation = rng.choice(OPERATIONS_OF[object_type])
            roll = rng.random()
            status = (
                "succeeded" if roll < 0.93 else "incomplete" if roll < 0.975
                else "failed" if roll < 0.99 else "cleaned_up" if roll < 0.995 else "in_process"
            )  # fmt: skip
            duration = timedelta(milliseconds=rng.randint(200, 20_000))
            ended = None if status == "in_process" else clock + duration
            new, updated = rng.randint(0, 40), rng.randint(0, 200)
            object_name = "Invoice__c" if object_type == "custom_object" else None
            error_code = error_message = error_group = None
            if status == "failed":
                error_code, error_message = LIMIT
                error_group = job_error_signature(
                    object_type, object_name, operation, *LIMIT
                ).group_id
                new = updated = None
            step_rows.append(
                (step_id, cycle_id, f"{object_type}.{operation}.{s}", started, object_type,
                 object_name, operation, status, clock, ended, new, updated, None,
                 0 if status == "succeeded" else None, rng.randint(0, 30), error_code,
                 error_message, error_group)
            )  # fmt: skip
            if status == "incomplete" and (object_type, operation) in catalogue.by_stream:
                failing.append((step_id, started, clock, object_type, operation))
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
         "deleted_count", "failed_count", "skipped_count", "error_code", "error_message",
         "error_group_id"],
        (tuple(map(_text, row)) for row in step_rows),
    )  # fmt: skip

    # Failures per failing step: the run of hundreds spread over the window,
    # the rest weighted by object, heavy-tailed within.
    every = max(1, len(failing) // max(1, hundreds))
    hundred_steps = set(range(0, len(failing), every)[:hundreds])
    rest = failures - HUNDRED * len(hundred_steps)
    weights = [
        0 if index in hundred_steps else OBJECTS[failing_step[3]] * rng.paretovariate(1.5)
        for index, failing_step in enumerate(failing)
    ]
    total = sum(weights) or 1
    messages = {
        signature.group_id: [
            catalogue.render(signature.pattern, n) for n in range(MESSAGES_PER_SIGNATURE)
        ]
        for signature in catalogue.signatures()
    }

    def failure_rows():
        nonlocal failure_id
        written = 0
        for index, (step_pk, cycle_started, step_started, object_type, operation) in enumerate(
            failing
        ):
            if index in hundred_steps:
                share = HUNDRED
            elif index == len(failing) - 1:
                share = failures - written
            else:
                share = int(rest * weights[index] / total)
            share = min(share, RECORD_POOL)
            cycle_text, step_text = cycle_started.isoformat(), step_started.isoformat()
            first_record = rng.randrange(RECORD_POOL)
            for n in range(share):
                signature = catalogue.pick(object_type, operation)
                message = messages[signature.group_id][failure_id % MESSAGES_PER_SIGNATURE]
                record = (first_record + n) % RECORD_POOL
                yield (str(failure_id), str(step_pk),
                       f"{RECORD_PREFIX.get(object_type, 'a0X')}5e0000{record:09d}",
                       str(1_000_000 + record), signature.code or r"\N",
                       signature.field or r"\N", message, cycle_text, step_text,
                       str(signature.group_id))  # fmt: skip
                failure_id += 1
            written += share

    failed_records = _copy(
        "dashboard_failedrecord",
        ["id", "step_id", "record_id", "marketo_id", "error_code", "field", "message",
         "cycle_started_at", "step_started_at", "group_id"],
        failure_rows(),
    ) if failing else 0  # fmt: skip
    with connection.cursor() as cursor:
        for table in ["dashboard_synccycle", "dashboard_syncstep", "dashboard_failedrecord"]:
            # The table names are the constants above, never input.
            next_id = f"(SELECT COALESCE(max(id), 0) + 1 FROM {table})"
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), {next_id}, false)", [table]
            )
    count_groups(catalogue, first_ids)
    return Generated(len(cycle_rows), len(step_rows), failed_records, start)


def count_groups(catalogue: Catalogue, first_ids: tuple[int, int, int]) -> None:
    """Add the rows generated from `first_ids` on to the error groups' rollups,
    counted in SQL, as applying their reports one by one would have; the
    groups' window starts at the earliest cycle generated, so that a purge
    takes an expired day out of them."""
    _, first_step, first_failure = first_ids
    bucket = "date_bin('4 hours', {}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
    final = ", ".join(f"'{status}'" for status in sorted(FINAL_STATUSES))
    signatures = [
        (s.group_id, s.object_type, s.object_name or "", s.operation, s.code, s.field, "record",
         s.template, s.pattern)
        for s in catalogue.signatures()
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_steps (LIKE dashboard_errorgroupstep)")
        cursor.execute(
            "INSERT INTO bench_steps (id, group_id, step_id, cycle_started_at, step_started_at, "
            "bucket, failures) SELECT 0, group_id, step_id, cycle_started_at, step_started_at, "
            f"{bucket.format('step_started_at')}, count(*) FROM dashboard_failedrecord "
            "WHERE id >= %s GROUP BY group_id, step_id, cycle_started_at, step_started_at "
            "UNION ALL SELECT 0, error_group_id, id, cycle_started_at, started_at, "
            f"{bucket.format('started_at')}, 1 FROM dashboard_syncstep "
            "WHERE id >= %s AND error_group_id IS NOT NULL",
            [first_failure, first_step],
        )
        cursor.execute(
            "INSERT INTO dashboard_errorgroupstep (group_id, step_id, cycle_started_at, "
            "step_started_at, bucket, failures) SELECT group_id, step_id, cycle_started_at, "
            "step_started_at, bucket, failures FROM bench_steps"
        )
        cursor.execute(
            "INSERT INTO dashboard_errorgrouprecord (group_id, record_id, last_cycle_started_at) "
            "SELECT group_id, record_id, max(cycle_started_at) FROM dashboard_failedrecord "
            "WHERE id >= %s GROUP BY group_id, record_id ON CONFLICT (group_id, record_id) "
            "DO UPDATE SET last_cycle_started_at = GREATEST("
            "dashboard_errorgrouprecord.last_cycle_started_at, excluded.last_cycle_started_at)",
            [first_failure],
        )
        cursor.execute(
            "INSERT INTO dashboard_errorgroupbucket (group_id, bucket, failures) "
            "SELECT group_id, bucket, sum(failures) FROM bench_steps GROUP BY group_id, bucket "
            "ON CONFLICT (group_id, bucket) DO UPDATE SET "
            "failures = dashboard_errorgroupbucket.failures + excluded.failures"
        )
        cursor.execute(
            "CREATE TEMP TABLE bench_signatures (id bigint, object_type text, object_name text, "
            "operation text, error_code text, field text, level text, template text, "
            "sample text)"
        )
        cursor.executemany(
            "INSERT INTO bench_signatures VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", signatures
        )
        # The job-level groups: one per stream whose steps failed as a whole.
        cursor.execute(
            "INSERT INTO bench_signatures SELECT DISTINCT error_group_id, object_type, "
            "COALESCE(object_name, ''), operation, error_code, '', 'job', error_message, "
            "error_message FROM dashboard_syncstep WHERE id >= %s AND error_group_id IS NOT NULL",
            [first_step],
        )
        cursor.execute(
            "INSERT INTO dashboard_errorgroup (id, object_type, object_name, operation, "
            "error_code, field, level, template, sample_message, failures, records, "
            "first_seen, last_seen) "
            "SELECT DISTINCT ON (s.id) s.id, s.object_type, s.object_name, s.operation, "
            "s.error_code, s.field, s.level, s.template, s.sample, g.failures, 0, g.first_seen, "
            "g.last_seen FROM bench_signatures s JOIN (SELECT group_id, sum(failures) AS "
            "failures, min(step_started_at) AS first_seen, max(step_started_at) AS last_seen "
            "FROM bench_steps GROUP BY group_id) g ON g.group_id = s.id "
            "ON CONFLICT (id) DO UPDATE SET "
            "failures = dashboard_errorgroup.failures + excluded.failures, "
            "first_seen = LEAST(dashboard_errorgroup.first_seen, excluded.first_seen), "
            "last_seen = GREATEST(dashboard_errorgroup.last_seen, excluded.last_seen)"
        )
        cursor.execute(
            "UPDATE dashboard_errorgroup g SET records = CASE WHEN g.level = 'job' "
            "THEN g.failures ELSE (SELECT count(*) FROM dashboard_errorgrouprecord r "
            "WHERE r.group_id = g.id) END"
        )
        cursor.execute("DROP TABLE bench_signatures")
        cursor.execute("DROP TABLE bench_steps")
        cursor.execute("DELETE FROM dashboard_stepstream")
        cursor.execute(
            "INSERT INTO dashboard_stepstream (object_type, object_name, operation, "
            "latest_final_started_at) SELECT object_type, COALESCE(object_name, ''), operation, "
            f"max(started_at) FILTER (WHERE status IN ({final})) FROM dashboard_syncstep "
            "GROUP BY object_type, COALESCE(object_name, ''), operation"
        )
        cursor.execute(
            "INSERT INTO dashboard_retentionmark (id, groups_expired_before) "
            "SELECT 1, min(started_at) FROM dashboard_synccycle ON CONFLICT (id) DO UPDATE "
            "SET groups_expired_before = excluded.groups_expired_before"
        )
