"""A sync engine that never was: realistic cycles of steps, as reports.

Used by `manage.py simulate_sync` (demo data, load) and by tests. It only
produces report dicts; sending them is the caller's business, through the
same ingestion path as the real engine.
"""

import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dashboard.choices import OPERATION_COUNTERS, ObjectType, Operation, Status

OT, OP = ObjectType, Operation

# Salesforce key prefixes, so that record ids look like the ones admins fix.
ID_PREFIX = {
    OT.ACCOUNT: "001",
    OT.CONTACT: "003",
    OT.LEAD: "00Q",
    OT.OPPORTUNITY: "006",
    OT.CAMPAIGN: "701",
    OT.CAMPAIGN_MEMBER: "00v",
    OT.TASK: "00T",
    OT.EVENT: "00U",
    OT.USER: "005",
    OT.EMAIL_TEMPLATE: "00X",
    OT.CUSTOM_OBJECT: "a0X",
}
CUSTOM_OBJECTS = ("Invoice__c", "Subscription__c", "Product_Interest__c")

# (error code, message, field) as Salesforce words them; {word} is a record's
# own value, which the error groups gather under one template.
RECORD_ERRORS = [
    ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Postal code is required", "PostalCode"),
    ("DUPLICATES_DETECTED", "Use one of these records?", None),
    ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", None),
    ("INVALID_EMAIL_ADDRESS", "Email: invalid email address: {word}@example.con", "Email"),
    ("STRING_TOO_LONG", "Company: data value too large: '{word}' (max length=80)", "Company"),
    ("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", "LastName"),
    ("INVALID_CROSS_REFERENCE_KEY", "Owner ID: owner cannot be inactive", "OwnerId"),
    ("ENTITY_IS_DELETED", "entity is deleted", None),
]
# Weights: a few error codes make most of the failures, as in real orgs.
RECORD_ERROR_WEIGHTS = [30, 25, 15, 10, 8, 6, 4, 2]
JOB_ERRORS = [
    ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    ("INVALID_SESSION_ID", "Session expired or invalid"),
    ("SERVER_UNAVAILABLE", "Salesforce is temporarily unavailable, try again later."),
]

# A cycle's steps in the engine's order: schema first, pulls, pushes, Update
# FKS last. Each with the chance it runs in a given cycle.
CYCLE_PLAN: list[tuple[str, str, float]] = [
    (OP.SYNC_SCHEMA, OT.LEAD, 0.3),
    (OP.SYNC_SCHEMA, OT.CAMPAIGN, 0.2),
    (OP.SYNC_SCHEMA, OT.CUSTOM_OBJECT, 0.2),
    (OP.SYNC_SCHEMA, OT.USER, 0.1),
    (OP.PULL_UPDATES, OT.LEAD, 1.0),
    (OP.PULL_UPDATES, OT.CONTACT, 1.0),
    (OP.PULL_UPDATES, OT.ACCOUNT, 0.9),
    (OP.PULL_UPDATES, OT.OPPORTUNITY, 0.8),
    (OP.PULL_UPDATES, OT.CAMPAIGN, 0.6),
    (OP.PULL_UPDATES, OT.CAMPAIGN_MEMBER, 0.6),
    (OP.PULL_UPDATES, OT.TASK, 0.5),
    (OP.PULL_UPDATES, OT.EVENT, 0.3),
    (OP.PULL_UPDATES, OT.LEAD_STATUS, 0.1),
    (OP.PULL_UPDATES, OT.CUSTOM_OBJECT, 0.5),
    (OP.PULL_CONVERSIONS, OT.LEAD, 0.7),
    (OP.PULL_DELETES, OT.LEAD, 0.5),
    (OP.PULL_DELETES, OT.CONTACT, 0.5),
    (OP.PULL_DELETES, OT.OPPORTUNITY, 0.3),
    (OP.PULL_DELETES, OT.CUSTOM_OBJECT, 0.3),
    (OP.PUSH_UPDATES, OT.LEAD, 1.0),
    (OP.PUSH_UPDATES, OT.CONTACT, 0.9),
    (OP.PUSH_UPDATES, OT.CAMPAIGN, 0.4),
    (OP.PUSH_NEW, OT.TASK, 0.6),
    (OP.PUSH_UPDATES, OT.TASK, 0.4),
    (OP.PUSH_NEW, OT.EMAIL_TEMPLATE, 0.05),
    (OP.SYNC_WITH_PROGRAM, OT.CAMPAIGN, 0.3),
    (OP.LINK_WITH_PROGRAM, OT.CAMPAIGN, 0.05),
    (OP.UPDATE_ACTIVITIES, OT.TASK, 0.4),
    (OP.UPDATE_FKS, OT.OPPORTUNITY, 1.0),
]

FAILURES_PER_REPORT = 500


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class SimulatedStep:
    report: dict
    failures: list[dict] = field(default_factory=list)
    duration: timedelta = timedelta(seconds=1)


class SyncEngineSimulator:
    def __init__(self, seed: int | None = None, rate: float = 1.0):
        self.rng = random.Random(seed)
        self.rate = rate

    def cycle_id(self, started_at: datetime) -> str:
        # The start time reads well; the suffix keeps ids unique when cycles
        # are played faster than one a second.
        return f"cyc-{started_at:%Y%m%dT%H%M%S}Z-{self.rng.randrange(16**4):04x}"

    def steps(self, started_at: datetime) -> list[SimulatedStep]:
        """The steps of one cycle, back to back from its start, all final."""
        rng, steps, clock = self.rng, [], started_at + timedelta(seconds=1)
        previous_failed = False
        for operation, object_type, chance in CYCLE_PLAN:
            if rng.random() > chance:
                continue
            step = self._step(operation, object_type, clock, previous_failed)
            previous_failed = step.report["status"] == Status.FAILED
            steps.append(step)
            clock += step.duration + timedelta(milliseconds=rng.randint(100, 900))
        return steps

    def _step(self, operation, object_type, started_at, after_failure) -> SimulatedStep:
        rng = self.rng
        step_id = f"{object_type}.{operation}"
        object_name = None
        if object_type == OT.CUSTOM_OBJECT:
            object_name = rng.choice(CUSTOM_OBJECTS)
            step_id = f"{object_name}.{operation}"
        counters = OPERATION_COUNTERS[operation]
        handled = self._volume() if counters else 0
        counts, failures = {}, []
        if counters:
            failed = 0
            if "failed" in counters and rng.random() < 0.12:
                failed = min(handled, max(1, int(rng.paretovariate(1.2))))
            skipped = rng.randint(0, handled // 3) if "skipped" in counters else 0
            rest = max(handled - failed - skipped, 0)
            if "new" in counters and "updated" in counters:
                counts["new"] = rng.randint(0, rest)
                counts["updated"] = rest - counts["new"]
            elif "new" in counters:
                counts["new"] = rest
            elif "updated" in counters:
                counts["updated"] = rest
            elif "deleted" in counters:
                counts["deleted"] = rest
            if "failed" in counters:
                counts["failed"] = failed
            if "skipped" in counters:
                counts["skipped"] = skipped
            failures = [self._failure(object_type) for _ in range(failed)]
            failures = list({f["record_id"]: f for f in failures}.values())

        status = Status.INCOMPLETE if failures else Status.SUCCEEDED
        error = None
        if rng.random() < 0.02:
            status = Status.FAILED
            code, message = rng.choice(JOB_ERRORS)
            error = {"code": code, "message": message}
            counts, failures = {}, []
        elif after_failure and operation.startswith("push") and rng.random() < 0.5:
            status = Status.CLEANED_UP

        seconds = 0.5 + sum(counts.values()) / rng.uniform(400, 2000)
        duration = timedelta(seconds=round(seconds, 3))
        report = {
            "id": step_id,
            "object_type": str(object_type),
            "operation": str(operation),
            "status": str(status),
            "started_at": iso(started_at),
            "ended_at": iso(started_at + duration),
        }
        if object_name:
            report["object_name"] = object_name
        if counts:
            report["counts"] = counts
        if error:
            report["error"] = error
        return SimulatedStep(report=report, failures=failures, duration=duration)

    def _volume(self) -> int:
        """Mostly a handful of records; now and then a bulk load of tens of thousands."""
        rng = self.rng
        if rng.random() < 0.005:
            return int(rng.randint(10_000, 60_000) * self.rate)
        return int(rng.expovariate(1 / 25) * self.rate)

    def _failure(self, object_type) -> dict:
        rng = self.rng
        code, message, field_name = rng.choices(RECORD_ERRORS, RECORD_ERROR_WEIGHTS)[0]
        word = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 9)))
        suffix = "".join(rng.choices(string.ascii_letters + string.digits, k=12))
        failure = {
            "record_id": ID_PREFIX.get(object_type, "a0Z") + suffix + "AAZ",
            "marketo_id": str(rng.randint(1000, 9_999_999)),
            "error_code": code,
            "message": message.format(word=word),
        }
        if field_name:
            failure["field"] = field_name
        return failure

    def cycle_reports(self, started_at: datetime) -> list[dict]:
        """One finished cycle as the engine reports it after the fact: the cycle
        with its steps, then the failures of large steps in further chunks."""
        cycle_id = self.cycle_id(started_at)
        steps = self.steps(started_at)
        ended_at = datetime.fromisoformat(steps[-1].report["ended_at"]) if steps else started_at
        cycle = {"id": cycle_id, "started_at": iso(started_at), "ended_at": iso(ended_at)}
        reports = [
            {
                "cycle": cycle,
                "steps": [s.report | {"failures": s.failures[:FAILURES_PER_REPORT]} for s in steps],
            }
        ]
        for step in steps:
            for start in range(FAILURES_PER_REPORT, len(step.failures), FAILURES_PER_REPORT):
                chunk = step.failures[start : start + FAILURES_PER_REPORT]
                reports.append({"cycle": cycle, "steps": [step.report | {"failures": chunk}]})
        return reports

    def live_reports(self, started_at: datetime):
        """One cycle as it happens: yields (when, report) as each step starts
        (in_process) and ends, failures chunked, the cycle end last."""
        cycle_id = self.cycle_id(started_at)
        cycle = {"id": cycle_id, "started_at": iso(started_at)}
        yield started_at, {"cycle": cycle, "steps": []}
        ended_at = started_at
        for step in self.steps(started_at):
            began = datetime.fromisoformat(step.report["started_at"])
            running = {k: v for k, v in step.report.items() if k not in {"ended_at", "error"}}
            running["status"] = Status.IN_PROCESS.value
            running.pop("counts", None)
            yield began, {"cycle": cycle, "steps": [running]}
            ended_at = datetime.fromisoformat(step.report["ended_at"])
            chunks = [
                step.failures[i : i + FAILURES_PER_REPORT]
                for i in range(0, len(step.failures), FAILURES_PER_REPORT)
            ] or [[]]
            for chunk in chunks[:-1]:
                yield ended_at, {"cycle": cycle, "steps": [running | {"failures": chunk}]}
            yield ended_at, {"cycle": cycle, "steps": [step.report | {"failures": chunks[-1]}]}
        yield ended_at, {"cycle": cycle | {"ended_at": iso(ended_at)}, "steps": []}


def play_backfill(
    simulator: SyncEngineSimulator,
    send: Callable[[dict], None],
    since: datetime,
    interval: timedelta,
) -> int:
    """Send finished cycles from `since` until one interval ago; return how many."""
    now = datetime.now(UTC)
    started_at, cycles = since.replace(microsecond=0), 0
    while started_at < now - interval:
        for report in simulator.cycle_reports(started_at):
            send(report)
        cycles += 1
        jitter = timedelta(seconds=simulator.rng.randint(-20, 20))
        started_at += max(interval + jitter, timedelta(seconds=1))
    return cycles


def play_live(
    simulator: SyncEngineSimulator,
    send: Callable[[dict], None],
    interval: timedelta,
    cycles: int | None = None,
    speed: float = 1.0,
) -> int:
    """Play cycles as they happen, one every `interval`, until `cycles` were
    played. `speed` > 1 plays faster than real time (for tests and demos): the
    reports' timestamps stay realistic, only the waits shrink."""
    played = 0
    while cycles is None or played < cycles:
        started_at = datetime.now(UTC).replace(microsecond=0)
        clock = time.monotonic()
        for when, report in simulator.live_reports(started_at):
            due = clock + (when - started_at).total_seconds() / speed
            time.sleep(max(0.0, due - time.monotonic()))
            send(report)
        played += 1
        if cycles is None or played < cycles:
            due = clock + interval.total_seconds() / speed
            time.sleep(max(0.0, due - time.monotonic()))
    return played
