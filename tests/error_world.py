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


def ingest_failures(ingest) -> list[dict]:
    """Ingest the reports; return every failure in them."""
    cycles = reports(datetime.now(UTC).replace(microsecond=0))
    ingest(*cycles)
    return all_failures(cycles)


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


def all_failures(cycles: list[dict]) -> list[dict]:
    """Every failure of the reports (a job-level error with no record), with
    its step and the key of its group."""
    found = []
    for report in cycles:
        for step in report["steps"]:
            stream = (step["object_type"], step.get("object_name") or "", step["operation"])
            common = {
                "cycle_id": report["cycle"]["id"],
                "step_id": step["id"],
                "object_type": step["object_type"],
                "object_name": step.get("object_name"),
                "operation": step["operation"],
                "status": step["status"],
                "started_at": datetime.fromisoformat(step["started_at"]),
                "ended_at": step.get("ended_at") and datetime.fromisoformat(step["ended_at"]),
            }
            for f in step.get("failures", []):
                signature = failure_signature(
                    *stream, f.get("error_code"), f.get("field"), f["message"]
                )
                found.append(
                    common
                    | {
                        "group": group_key(signature.group_id),
                        "record_id": f["record_id"],
                        "marketo_id": f.get("marketo_id"),
                        "error_code": f.get("error_code"),
                        "field": f.get("field"),
                        "message": f["message"],
                    }
                )
            if "error" in step:
                error = step["error"]
                signature = job_error_signature(*stream, error.get("code"), error["message"])
                found.append(
                    common
                    | {
                        "group": group_key(signature.group_id),
                        "record_id": None,
                        "marketo_id": None,
                        "error_code": error.get("code"),
                        "field": None,
                        "message": error["message"],
                    }
                )
    return found


def newest_first(failures: list[dict]) -> list[dict]:
    """A group's or a record's order: most recent step first, then by record.
    In these reports no two steps start at the same moment."""
    by_record = sorted(failures, key=lambda f: f["record_id"] or "")
    return sorted(by_record, key=lambda f: f["started_at"], reverse=True)


RECORD = "00Q5e00000AbCdEAAZ"


def ingest_record_story(ingest) -> dict[str, datetime]:
    """One record failing in four object types and operations, each ending
    its own way; returns the moments of the story (steps of custom objects and
    contacts start a minute after them):

    - lead pull_updates: fails at t1 and t2; a running step at t2b; succeeds
      at t3 and t4: not failing since t3, last failure t2.
    - contact push_updates: fails at t2, a final step without it at t4, fails
      again in a running step at t5: still failing since a running step
      reports it, last failure t5.
    - custom object Quote__c: fails at t3 in the latest final step: still failing.
    - custom object Invoice__c: fails at t1 in a running step, no final step yet:
      still failing.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    t = {name: now - timedelta(hours=hours) for name, hours in
         [("t1", 50), ("t2", 40), ("t2b", 35), ("t3", 30), ("t4", 20), ("t5", 10)]}  # fmt: skip

    base = {"record_id": RECORD, "marketo_id": "1048576", "field": "PostalCode",
            "error_code": "FIELD_CUSTOM_VALIDATION_EXCEPTION"}  # fmt: skip

    def fails(message="Postal code is required", **fields):
        return [base | {"message": message} | fields]

    def step(step_id, at, status, minutes=0, **fields):
        started = t[at] + timedelta(minutes=minutes)
        if status != "in_process":
            fields["ended_at"] = iso(started + timedelta(seconds=30))
        return make_step(step_id, started_at=started, status=status, **fields)

    contact = {"object_type": "contact", "operation": "push_updates"}
    invoice = {"object_type": "custom_object", "object_name": "Invoice__c"}
    quote = {"object_type": "custom_object", "object_name": "Quote__c"}
    other = [{"record_id": "00Q-other", "message": "Postal code is required"}]
    ingest(
        make_report(step("lead", "t1", "incomplete", failures=fails()),
                    step("inv", "t1", "in_process", 1, failures=fails("Bad value"), **invoice),
                    cycle_id="c1", started_at=t["t1"]),
        make_report(step("lead", "t2", "incomplete", failures=fails()),
                    step("contact", "t2", "incomplete", 1, failures=fails(field="City"), **contact),
                    cycle_id="c2", started_at=t["t2"]),
        make_report(step("lead", "t2b", "in_process", failures=other),
                    cycle_id="c2b", started_at=t["t2b"]),
        make_report(step("lead", "t3", "succeeded"),
                    step("quote", "t3", "incomplete", 1, failures=fails("Locked"), **quote),
                    cycle_id="c3", started_at=t["t3"]),
        make_report(step("lead", "t4", "succeeded"),
                    step("contact", "t4", "failed", 1, error={"message": "Session expired"},
                         **contact),
                    cycle_id="c4", started_at=t["t4"]),
        make_report(step("contact", "t5", "in_process", 1, failures=fails(field="City"),
                         **contact),
                    cycle_id="c5", started_at=t["t5"]),
        # Another record, whose id differs only by its case.
        make_report(step("lead", "t5", "incomplete", 2,
                         failures=[{"record_id": RECORD.lower(), "message": "Other"}]),
                    cycle_id="c6", started_at=t["t5"]),
    )  # fmt: skip
    return t
