"""Sync errors over four and a half days, for the tests of the Sync errors
tab (docs/errors.md), and the truth a reader must see, computed here from the
reports themselves: groups, their counts, trends and states."""

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from dashboard.syncerrors.signatures import failure_signature, group_key, job_error_signature
from tests.conftest import iso, make_report, make_step

FINAL = {"succeeded", "failed", "incomplete", "cleaned_up"}
STREAMS = [
    ("lead", None, "pull_updates"),
    ("lead", None, "push_updates"),
    ("contact", None, "pull_updates"),
    ("contact", None, "push_updates"),
    ("custom_object", "Invoice__c", "pull_updates"),
    ("custom_object", "Quote__c", "pull_updates"),
    ("campaign", None, "push_updates"),
    ("task", None, "push_new"),
]
# (error_code, field, message): the first two share a template.
FAILURES = [
    ("STRING_TOO_LONG", "Company", "Value 'ACME Corp' too long (max 80)"),
    ("STRING_TOO_LONG", "Company", "Value 'Initech' too long (max 255)"),
    ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "PostalCode", "Postal code is required"),
    ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "PostalCode", "Postal code is invalid"),
    ("INVALID_EMAIL_ADDRESS", "Email", "Email: invalid email address: ada@example.com"),
    (None, None, "unable to obtain exclusive access to 00Q5e00000AbCdEAAZ"),
    ("DUPLICATES_DETECTED", None, "Use one of these records?"),
]
# Only in the last half day: its groups are new.
RECENT = ("INVALID_CROSS_REFERENCE_KEY", "OwnerId", "Owner ID: owner cannot be inactive")
JOB_ERRORS = [
    ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    (None, "Session expired or invalid"),
]
RECORDS_PER_STREAM = 8


def marketo_id_of(record_id: str) -> str | None:
    """Records r0 and r1 of a stream share a Marketo id; r7 has none."""
    number = int(record_id.rsplit("r", 1)[1])
    if number == 7:
        return None
    return f"{record_id.split('-')[0]}-m{max(number, 1)}"


def bucket_of(moment: datetime) -> datetime:
    """The start of the 4-hour bucket, aligned to UTC multiples of 4 hours."""
    utc = moment.astimezone(UTC)
    return utc.replace(hour=utc.hour // 4 * 4, minute=0, second=0, microsecond=0)


def reports(now: datetime, seed: int = 7) -> list[dict]:
    """30 cycles, one every 3.5 hours back from `now`, each with a step of
    every stream: some succeed, some fail with record failures, job errors
    or both, and the latest still runs."""
    rng = random.Random(seed)
    cycles = []
    for n in range(30):
        started = now - timedelta(hours=3.5 * n + 0.5)
        steps = []
        for index, (object_type, object_name, operation) in enumerate(STREAMS):
            status = rng.choice(["succeeded", "failed", "incomplete", "incomplete"])
            if n == 0 and index % 2:
                status = "in_process"
            at = started + timedelta(minutes=index)
            step = make_step(
                f"{object_type}.{object_name or ''}.{operation}",
                started_at=at,
                object_type=object_type,
                operation=operation,
                status=status,
            )
            if object_name:
                step["object_name"] = object_name
            if status != "in_process":
                step["ended_at"] = iso(at + timedelta(seconds=40))
            if status != "succeeded":
                records = rng.sample(range(RECORDS_PER_STREAM), rng.randint(1, 4))
                kinds = FAILURES + [RECENT] * 3 if n < 4 else FAILURES
                step["failures"] = [
                    failure(f"{object_type}{object_name or ''}{operation}-r{r}", rng.choice(kinds))
                    for r in records
                ]
            if status == "failed" and rng.random() < 0.5:
                code, message = rng.choice(JOB_ERRORS)
                step["error"] = {"message": message} | ({"code": code} if code else {})
            steps.append(step)
        cycles.append(make_report(*steps, cycle_id=f"cyc-{n}", started_at=started))
    return cycles


def failure(record_id: str, kind: tuple) -> dict:
    code, field, message = kind
    found = {"record_id": record_id, "message": message}
    if code:
        found["error_code"] = code
    if field:
        found["field"] = field
    if marketo_id_of(record_id):
        found["marketo_id"] = marketo_id_of(record_id)
    return found


def truth(cycles: list[dict], now: datetime) -> dict[str, dict]:
    """Every group a reader must see, by its key, as the API describes it."""
    groups: dict[int, dict] = {}
    latest_final: dict[tuple, datetime] = {}
    members = defaultdict(lambda: {"starts": [], "records": set()})
    for report in cycles:
        for step in report["steps"]:
            stream = (step["object_type"], step.get("object_name") or "", step["operation"])
            started = datetime.fromisoformat(step["started_at"])
            if step["status"] in FINAL:
                latest_final[stream] = max(started, latest_final.get(stream, started))
            found = []
            for f in step.get("failures", []):
                signature = failure_signature(
                    *stream, f.get("error_code"), f.get("field"), f["message"]
                )
                found.append((signature, f["message"], f["record_id"]))
            if "error" in step:
                error = step["error"]
                signature = job_error_signature(*stream, error.get("code"), error["message"])
                found.append((signature, error["message"], report["cycle"]["id"]))
            for signature, message, member in found:
                group = signature.group_id
                groups.setdefault(group, {"signature": signature, "messages": set()})
                groups[group]["messages"].add(message)
                members[group]["starts"].append(started)
                members[group]["records"].add(member)
    buckets = trend_buckets(now)
    result = {}
    for group, found in groups.items():
        signature, starts = found["signature"], members[group]["starts"]
        stream = (signature.object_type, signature.object_name, signature.operation)
        last = max(starts)
        final = latest_final.get(stream)
        result[group_key(group)] = {
            "id": group_key(group),
            "group_id": group,
            "object_type": signature.object_type,
            "object_name": signature.object_name or None,
            "operation": signature.operation,
            "error_code": signature.error_code or None,
            "field": signature.field or None,
            "level": signature.level,
            "template": signature.template,
            "messages": found["messages"],
            "failures": len(starts),
            "records": len(members[group]["records"]),
            "first_seen": min(starts),
            "last_seen": last,
            "trend": [sum(1 for s in starts if bucket_of(s) == b) for b in buckets],
            "state": "ongoing" if final is None or last >= final else "resolved",
            "new": min(starts) >= now - timedelta(hours=24),
        }
    return result


def trend_buckets(now: datetime) -> list[datetime]:
    first, last = bucket_of(now - timedelta(days=5)), bucket_of(now)
    count = int((last - first) / timedelta(hours=4)) + 1
    return [first + timedelta(hours=4 * n) for n in range(count)]


SORT_KEYS = {
    "-last_seen": lambda g: (-g["last_seen"].timestamp(), g["group_id"]),
    "last_seen": lambda g: (g["last_seen"].timestamp(), g["group_id"]),
    "-failures": lambda g: (-g["failures"], g["group_id"]),
    "-records": lambda g: (-g["records"], g["group_id"]),
    "-first_seen": lambda g: (-g["first_seen"].timestamp(), g["group_id"]),
    "first_seen": lambda g: (g["first_seen"].timestamp(), g["group_id"]),
}


def in_order(groups, sort: str = "-last_seen") -> list[str]:
    """The keys of these groups in the order of docs/errors.md: ties by id, ascending."""
    return [g["id"] for g in sorted(groups, key=SORT_KEYS[sort])]


def ingest_world(ingest) -> dict[str, dict]:
    """Ingest the reports through the real path; return the truth about them."""
    now = datetime.now(UTC).replace(microsecond=0)
    cycles = reports(now)
    ingest(*cycles)
    return truth(cycles, now)


def table_cells(response, table_class: str = "steps") -> list[list[str]]:
    """The text of every cell of a table's body, row by row, as a reader sees it."""
    import re
    from html import unescape

    html = response.content.decode()
    start = html.index(f'<table class="{table_class}')
    body = html[html.index("<tbody", start) : html.index("</tbody>", start)]
    return [
        [
            unescape(re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", cell)).strip())
            for cell in cells
        ]
        for cells in (
            re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
        )
    ]
