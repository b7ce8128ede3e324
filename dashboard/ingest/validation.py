"""Validation of sync reports (docs/reports.md): parsed JSON in, clean report or errors out.

A pure function with no database access, so that the HTTP view, the command
line and the Celery task all judge a report the same way, and tests can throw
anything at it. Every problem is reported with its path (`steps[3].status`),
not just the first one.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from dashboard.choices import COUNTERS, ObjectType, Operation, Status
from dashboard.models import MAX_ID_LENGTH
from dashboard.times import RANGE_MESSAGE, in_range

# Looked up per step: `TextChoices.values` builds a new list at every call.
CODES = {choices: frozenset(choices.values) for choices in (ObjectType, Operation, Status)}
# In the order of CleanFailure's fields after record_id and message.
OPTIONAL_FAILURE_FIELDS = ("marketo_id", "error_code", "field")
# The largest value a counter column (bigint) holds.
MAX_COUNTER = 2**63 - 1
# Problems named in an answer; the rest are counted. A 10 MiB report of empty
# steps holds millions of them, and naming each would take gigabytes.
MAX_ERRORS_LISTED = 100


class CleanFailure(NamedTuple):
    # A tuple, not a frozen dataclass: a large report holds 100,000 of them,
    # and a frozen dataclass is several times slower to build.
    record_id: str
    message: str
    marketo_id: str | None = None
    error_code: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class CleanError:
    message: str
    code: str | None = None


@dataclass(frozen=True)
class CleanStep:
    step_id: str
    object_type: str
    operation: str
    status: str
    started_at: datetime
    object_name: str | None = None
    ended_at: datetime | None = None
    # Only the counters the report gave: an absent counter keeps its stored value.
    counts: dict[str, int] = field(default_factory=dict)
    failures: tuple[CleanFailure, ...] = ()
    error: CleanError | None = None


@dataclass(frozen=True)
class CleanReport:
    cycle_id: str
    cycle_started_at: datetime
    cycle_ended_at: datetime | None
    steps: tuple[CleanStep, ...]


@dataclass
class ValidationError:
    path: str
    message: str

    def as_dict(self) -> dict:
        return {"path": self.path, "message": self.message}


class ReportInvalid(Exception):
    """The first problems of a report (at most MAX_ERRORS_LISTED), and how many there are."""

    def __init__(self, errors: list[ValidationError], total: int | None = None):
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))
        self.errors = errors
        self.total = len(errors) if total is None else total

    def as_dict(self) -> dict:
        """The body of the API's 400 answer."""
        body = {"errors": [error.as_dict() for error in self.errors]}
        if self.total > len(self.errors):
            body["errors_total"] = self.total
        return body


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def parse_report_json(raw: bytes | str) -> object:
    """Decode a report body; ReportInvalid if it is not UTF-8 JSON."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ReportInvalid([ValidationError("", "The report is not valid UTF-8.")]) from None
    except (ValueError, RecursionError) as exc:
        raise ReportInvalid([ValidationError("", f"The report is not valid JSON: {exc}")]) from None


class _Checker:
    """Collects errors while reading one report; each reader returns None on error."""

    def __init__(self):
        self.errors: list[ValidationError] = []
        self.total = 0

    def error(self, path: str, message: str) -> None:
        self.total += 1
        if len(self.errors) < MAX_ERRORS_LISTED:
            self.errors.append(ValidationError(path, message))

    def object(self, value, path: str, required: bool) -> dict | None:
        if value is None:
            if required:
                self.error(path, "This field is required.")
            return None
        if not isinstance(value, dict):
            self.error(path, "Must be an object.")
            return None
        return value

    def text(self, value, path: str, required: bool, identifier: bool = True) -> str | None:
        """A string; an identifier must also be non-blank and fit its column."""
        if value is None:
            if required:
                self.error(path, "This field is required.")
            return None
        if not isinstance(value, str):
            self.error(path, "Must be a string.")
            return None
        if identifier and required and not value.strip():
            self.error(path, "Must not be empty.")
            return None
        if identifier and len(value) > MAX_ID_LENGTH:
            self.error(path, f"Must be at most {MAX_ID_LENGTH} characters long.")
            return None
        # Neither can be stored in PostgreSQL text; better a 400 than a failed task.
        if "\x00" in value:
            self.error(path, "Must not contain the NUL character.")
            return None
        if not value.isascii():  # the common case skips the encoding
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                self.error(path, "Must be valid Unicode (it contains a lone surrogate).")
                return None
        return value

    def timestamp(self, value, path: str, required: bool) -> datetime | None:
        text = self.text(value, path, required)
        if text is None:
            return None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            self.error(path, "Must be an ISO 8601 timestamp such as 2026-11-28T10:05:00Z.")
            return None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            self.error(path, "Must carry a time zone offset or Z (naive timestamps are ambiguous).")
            return None
        if not in_range(parsed):
            # 0001-01-01T00:00+01:00 reads, but it is before year 1 in UTC,
            # and 9999-12-31T23:00Z is year 10000 in Tokyo (dashboard/times.py).
            self.error(path, RANGE_MESSAGE)
            return None
        # In UTC: Python reads offsets up to ±23:59, PostgreSQL only to ±15:59.
        return parsed.astimezone(UTC)

    def code(self, value, path: str, choices) -> str | None:
        text = self.text(value, path, required=True)
        if text is None:
            return None
        if text not in CODES[choices]:
            allowed = ", ".join(choices.values)
            self.error(path, f"Unknown code {text!r}; allowed: {allowed}.")
            return None
        return text

    def ended_at(self, value, path: str, started_at: datetime | None) -> datetime | None:
        ended = self.timestamp(value, path, required=False)
        if ended is not None and started_at is not None and ended < started_at:
            self.error(path, "Must not be before started_at.")
            return None
        return ended


def validate_report(data: object) -> CleanReport:
    """Return the clean report, or raise ReportInvalid naming every problem."""
    if not isinstance(data, dict):
        raise ReportInvalid([ValidationError("", "Must be an object.")])
    check = _Checker()
    report = data

    cycle = check.object(report.get("cycle"), "cycle", required=True) or {}
    cycle_id = check.text(cycle.get("id"), "cycle.id", required=True)
    cycle_started = check.timestamp(cycle.get("started_at"), "cycle.started_at", required=True)
    cycle_ended = check.ended_at(cycle.get("ended_at"), "cycle.ended_at", cycle_started)

    raw_steps = report.get("steps")
    steps = []
    if raw_steps is None:
        check.error("steps", "This field is required.")
    elif not isinstance(raw_steps, list):
        check.error("steps", "Must be a list.")
    else:
        seen_ids = set()
        for index, raw_step in enumerate(raw_steps):
            step = _validate_step(check, raw_step, f"steps[{index}]")
            if step is None:
                continue
            if step.step_id in seen_ids:
                check.error(
                    f"steps[{index}].id", f"Step {step.step_id!r} appears twice in this report."
                )
            seen_ids.add(step.step_id)
            steps.append(step)

    if check.total:
        raise ReportInvalid(check.errors, check.total)
    return CleanReport(cycle_id, cycle_started, cycle_ended, tuple(steps))


def _validate_step(check: _Checker, raw, path: str) -> CleanStep | None:
    errors_before = check.total
    step = check.object(raw, path, required=True)
    if step is None:
        return None
    step_id = check.text(step.get("id"), f"{path}.id", required=True)
    object_type = check.code(step.get("object_type"), f"{path}.object_type", ObjectType)
    operation = check.code(step.get("operation"), f"{path}.operation", Operation)
    status = check.code(step.get("status"), f"{path}.status", Status)
    started_at = check.timestamp(step.get("started_at"), f"{path}.started_at", required=True)
    ended_at = check.ended_at(step.get("ended_at"), f"{path}.ended_at", started_at)
    object_name = None
    if object_type == ObjectType.CUSTOM_OBJECT:
        object_name = check.text(step.get("object_name"), f"{path}.object_name", required=True)

    counts = {}
    raw_counts = check.object(step.get("counts"), f"{path}.counts", required=False) or {}
    for name in COUNTERS:
        value = raw_counts.get(name)
        if value is None:
            continue
        # bool is an int in Python, but `true` is not a count.
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNTER:
            check.error(f"{path}.counts.{name}", "Must be a non-negative integer.")
        else:
            counts[name] = value

    failures = _validate_failures(check, step.get("failures"), f"{path}.failures")

    error = None
    raw_error = check.object(step.get("error"), f"{path}.error", required=False)
    if raw_error is not None:
        message = check.text(
            raw_error.get("message"), f"{path}.error.message", required=True, identifier=False
        )
        code = check.text(raw_error.get("code"), f"{path}.error.code", required=False)
        error = CleanError(message=message, code=code)

    if check.total > errors_before:
        return None
    return CleanStep(
        step_id=step_id,
        object_type=object_type,
        operation=operation,
        status=status,
        started_at=started_at,
        object_name=object_name,
        ended_at=ended_at,
        counts=counts,
        failures=failures,
        error=error,
    )


def _validate_failures(check: _Checker, raw, path: str) -> tuple[CleanFailure, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        check.error(path, "Must be a list.")
        return ()
    plain = _plain_failures(raw)
    return plain if plain is not None else _checked_failures(check, raw, path)


def _checked_failures(check: _Checker, raw: list, path: str) -> tuple[CleanFailure, ...]:
    """Each failed record judged on its own, every problem named."""
    failures = []
    seen = set()
    for index, raw_failure in enumerate(raw):
        record_id, failure = _checked_failure(check, raw_failure, f"{path}[{index}]")
        if record_id is not None:
            if record_id in seen:
                check.error(
                    f"{path}[{index}].record_id",
                    f"Record {record_id!r} appears twice in this step.",
                )
            seen.add(record_id)
        if failure is not None:
            failures.append(failure)
    return tuple(failures)


STRING_OR_NONE = {str, type(None)}


def _plain_failures(raw: list) -> tuple[CleanFailure, ...] | None:
    """The usual failed records, judged a column at a time in loops that run
    in C: ASCII strings that fit their columns, no record twice. None when in
    any doubt, for _checked_failure to judge each one and name the problem;
    what this accepts, that accepts too, unchanged. (A large report holds
    100,000 records: record by record, validation was half the task's time.)"""
    if not raw or set(map(type, raw)) != {dict}:
        return None
    record_ids = [failure.get("record_id") for failure in raw]
    messages = [failure.get("message") for failure in raw]
    optional = [[failure.get(name) for failure in raw] for name in OPTIONAL_FAILURE_FIELDS]
    if set(map(type, record_ids)) != {str} or set(map(type, messages)) != {str}:
        return None
    if max(map(len, record_ids)) > MAX_ID_LENGTH or not all(map(str.strip, record_ids)):
        return None
    for column in optional:
        if not set(map(type, column)) <= STRING_OR_NONE:
            return None
        if max(map(len, filter(None, column)), default=0) > MAX_ID_LENGTH:
            return None
    text = "".join(record_ids) + "".join(messages)
    text += "".join("".join(filter(None, column)) for column in optional)
    if not text.isascii() or "\x00" in text or len(set(record_ids)) != len(record_ids):
        return None
    return tuple(map(CleanFailure, record_ids, messages, *optional))


def _checked_failure(check: _Checker, raw, path: str) -> tuple[str | None, CleanFailure | None]:
    """(record id, failure) with every problem named; either may be None."""
    failure = check.object(raw, path, required=True)
    if failure is None:
        return None, None
    record_id = check.text(failure.get("record_id"), f"{path}.record_id", required=True)
    message = check.text(failure.get("message"), f"{path}.message", required=True, identifier=False)
    marketo_id = failure.get("marketo_id")
    # Marketo ids are numbers; an engine may well send one unquoted.
    if isinstance(marketo_id, int) and not isinstance(marketo_id, bool):
        marketo_id = str(marketo_id)
    marketo_id = check.text(marketo_id, f"{path}.marketo_id", required=False)
    error_code = check.text(failure.get("error_code"), f"{path}.error_code", required=False)
    field_name = check.text(failure.get("field"), f"{path}.field", required=False)
    if record_id is None or message is None:
        return record_id, None
    return record_id, CleanFailure(record_id, message, marketo_id, error_code, field_name)
