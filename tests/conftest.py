import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncstatus.celery import app as celery_app

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "spec" / "examples"


@pytest.fixture(autouse=True, scope="session")
def _tasks_run_in_process():
    """Tasks run in the test process, whatever broker the settings name; the
    tests that need a real worker start one themselves (test_worker.py)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def recent(minutes_ago: float = 60) -> datetime:
    """A moment well inside the retention window, to the second."""
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).replace(microsecond=0)


def make_step(step_id="lead.pull_updates", started_at=None, **fields) -> dict:
    step = {
        "id": step_id,
        "object_type": "lead",
        "operation": "pull_updates",
        "status": "succeeded",
        "started_at": iso(started_at or recent()),
    }
    step.update(fields)
    return step


def make_report(*steps, cycle_id="cyc-1", started_at=None, **cycle_fields) -> dict:
    cycle = {"id": cycle_id, "started_at": iso(started_at or recent(90))}
    cycle.update(cycle_fields)
    return {"cycle": cycle, "steps": list(steps)}


def example_report(name: str, shift: timedelta) -> dict:
    """An example report of the spec, every timestamp moved by `shift`."""

    def move(value):
        if isinstance(value, dict):
            return {
                key: (
                    iso(datetime.fromisoformat(item) + shift)
                    if key.endswith("_at") and isinstance(item, str)
                    else move(item)
                )
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [move(item) for item in value]
        return value

    return move(json.loads((EXAMPLES / name).read_text()))


def example_shift() -> timedelta:
    """Moves the examples (2026-11-28T10:05Z) to two hours ago."""
    return (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0) - datetime(
        2026, 11, 28, 10, 5, tzinfo=UTC
    )


@pytest.fixture
def ingest(db, django_capture_on_commit_callbacks):
    """Receive reports as the API does, and let their tasks run as on commit."""
    from dashboard.ingest import report_receive

    def ingest(*reports: dict, source="test"):
        received = []
        for report in reports:
            with django_capture_on_commit_callbacks(execute=True):
                received.append(report_receive(raw=json.dumps(report), source=source))
        for report in received:
            report.refresh_from_db()
        return received

    return ingest


@pytest.fixture
def ingest_token(db):
    from dashboard.tokens import token_create

    return token_create(name="engine")
