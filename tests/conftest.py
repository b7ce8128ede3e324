import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.test import override_settings

from syncstatus.celery import app as celery_app

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@pytest.fixture(autouse=True, scope="session")
def _tasks_run_in_process():
    """Tasks run in the test process, whatever broker the settings name; the
    tests that need a real worker start one themselves (test_worker.py)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True, scope="session")
def _plain_http():
    """The test client and live servers speak plain HTTP, which production
    redirects to HTTPS. Session-wide and autouse, so that it is in force
    before pytest-django's live server builds its middleware."""
    with override_settings(SECURE_SSL_REDIRECT=False):
        yield


@pytest.fixture(autouse=True)
def _live_server_settles(request):
    """The tables are emptied for the next test only once the live server has
    answered every request it took. A page still polling when its test ends
    leaves one in flight, and the health figures it reads are one REPEATABLE
    READ transaction: on PostgreSQL, pytest-django's TRUNCATE and that read
    deadlock, the flush fails and so does the next test."""
    yield
    if "live_server" in request.fixturenames:
        for thread in threading.enumerate():
            if thread.name.endswith("(process_request_thread)"):
                thread.join(timeout=30)


@pytest.fixture(autouse=True)
def _cache_of_its_own(settings):
    """Each test counts rate limits and failed logins from zero, in keys of its
    own: with REDIS_URL the cache is a Redis that other runs may share."""
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
    }


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


def waiting(*reports: dict) -> list:
    """Reports received while the workers are busy: stored, their tasks not run."""
    from dashboard.ingest.reports import report_receive

    return [
        report_receive(raw=json.dumps(report), source="test", enqueue=lambda pk: None)
        for report in reports
    ]


def example_report(name: str, shift: timedelta) -> dict:
    """An example report of docs/examples, every timestamp moved by `shift`."""

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
    from dashboard.ingest.reports import report_receive
    from dashboard.tasks import enqueue_report_apply

    def ingest(*reports: dict, source="test"):
        received = []
        for report in reports:
            with django_capture_on_commit_callbacks(execute=True):
                received.append(
                    report_receive(
                        raw=json.dumps(report), source=source, enqueue=enqueue_report_apply
                    )
                )
        for report in received:
            report.refresh_from_db()
        return received

    return ingest


@pytest.fixture
def ingest_token(db):
    from dashboard.ingest.tokens import token_create

    return token_create(name="engine")


WORLD_OBJECTS = ["lead", "contact", "campaign", "custom_object", "task"]
WORLD_OPERATIONS = ["pull_updates", "push_updates", "pull_deletes", "sync_schema"]
WORLD_STATUSES = ["succeeded", "failed", "incomplete", "in_process", "cleaned_up"]


@pytest.fixture
def world(ingest):
    """Steps over the last six days (the oldest cycles out of the window),
    ingested through the real path. Returns the ground truth: one dict per
    visible step, built from the reports, not from the database."""
    import random

    rng = random.Random(20261129)
    now = datetime.now(UTC).replace(microsecond=0)
    truth, reports, expired = [], [], []
    for n in range(36):
        cycle_start = now - timedelta(hours=4 * n + 1, minutes=rng.randint(0, 50))
        # Expired cycles are never stored as such: they are ingested a day
        # younger and aged afterwards, as if time had passed.
        shift = timedelta(days=1) if cycle_start < now - timedelta(days=5) else timedelta(0)
        if shift:
            expired.append(f"cyc-{n}")
        steps = []
        for index in range(4):
            started = cycle_start + timedelta(minutes=index, seconds=rng.randint(0, 59))
            status = rng.choice(WORLD_STATUSES)
            step = make_step(
                f"step-{index}",
                started_at=started + shift,
                object_type=rng.choice(WORLD_OBJECTS),
                operation=rng.choice(WORLD_OPERATIONS),
                status=status,
            )
            if step["object_type"] == "custom_object":
                step["object_name"] = "Invoice__c"
            ended = None
            if status != "in_process":
                # Some steps share an end, to exercise the tie-breaker.
                ended = started + timedelta(seconds=rng.choice([30, 30, 45, 90]))
                step["ended_at"] = iso(ended + shift)
            steps.append(step)
            if cycle_start >= now - timedelta(days=5):
                truth.append(
                    {
                        "cycle_id": f"cyc-{n}",
                        "step_id": step["id"],
                        "object_type": step["object_type"],
                        "operation": step["operation"],
                        "status": status,
                        "started_at": started,
                        "ended_at": ended,
                    }
                )
        reports.append(make_report(*steps, cycle_id=f"cyc-{n}", started_at=cycle_start + shift))
    ingest(*reports)
    for cycle_id in expired:
        age_cycle(cycle_id, timedelta(days=1))
    assert expired, "the world reaches past the retention window"
    return truth


def expected_order(rows: list[dict], sort: str = "-start") -> list[tuple[str, str]]:
    """Ground-truth order of docs/dashboard.md. Ties are broken by a unique key: the
    database's pk, which follows ingestion order (cycle, then step)."""
    from dashboard.models import SyncStep

    pks = {(s.cycle.external_id, s.step_id): s.pk for s in SyncStep.objects.select_related("cycle")}
    field = "started_at" if sort.endswith("start") else "ended_at"
    descending = sort.startswith("-")

    def key(row):
        value = row[field]
        pk = pks[(row["cycle_id"], row["step_id"])]
        if value is None:
            # Running steps: first for -end, last for end.
            return (1, 0, pk)
        return (0, value.timestamp(), pk)

    ordered = sorted(rows, key=key, reverse=descending)
    return [(row["cycle_id"], row["step_id"]) for row in ordered]


def age_cycle(external_id: str, by: timedelta) -> None:
    """Move a stored cycle back in time, as if it had been ingested `by` earlier:
    reports about already-expired cycles are never stored, so tests of what
    expires ingest young cycles and age them."""
    from django.db.models import F

    from dashboard.models import FailedRecord, SyncCycle, SyncStep
    from dashboard.storage.partitions import ensure_partition_for

    cycle = SyncCycle.objects.get(external_id=external_id)
    ensure_partition_for(cycle.started_at - by)
    SyncCycle.objects.filter(external_id=external_id).update(started_at=F("started_at") - by)
    steps = SyncStep.objects.filter(cycle__external_id=external_id)
    FailedRecord.objects.filter(step__in=steps.values("pk")).update(
        cycle_started_at=F("cycle_started_at") - by
    )
    steps.update(
        cycle_started_at=F("cycle_started_at") - by,
        started_at=F("started_at") - by,
        ended_at=F("ended_at") - by,
    )
    # The hourly rollups follow the steps, as if they had been applied so.
    from dashboard.health.rollups import step_hours_rebuild

    step_hours_rebuild()


@pytest.fixture
def processes(tmp_path):
    """Real processes (tests/processes.py), stopped when the test ends; their
    output is printed, which pytest shows only for a failed test."""
    from devtools.processes import Processes

    running = Processes(tmp_path)
    yield running
    running.stop_all()
    print(running.all_output())


@pytest.fixture
def admin_client(client):
    """A client logged in as "ada", an admin of sync status through the group,
    not a superuser (this replaces pytest-django's fixture of that name)."""
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("ada", password="pw")
    user.groups.add(Group.objects.get(name="Sync Status admins"))
    client.force_login(user)
    return client
