"""Notices on the production path, with real processes: reports posted to
gunicorn, applied, evaluated and delivered by Celery workers, with beat's
sweep racing them. Two workers send each notice once; a worker SIGKILLed
while sending loses none (docs/alerts.md, "Delivery")."""

from collections import Counter

import pytest

from dashboard.alerts.models import Incident, Notice
from dashboard.alerts.rules import alert_rule_create
from dashboard.ingest.tokens import token_create
from dashboard.models import ReceivedReport
from devtools.processes import wait_until
from tests.conftest import iso, make_report, make_step, recent
from tests.receivers import webhook_fixture  # noqa: F401
from tests.test_worker import http

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]
STREAMS = 12


def report(number: int, status: str, minutes_ago: float) -> dict:
    """A cycle with one step on a stream of its own (a custom object per number)."""
    started = recent(minutes_ago)
    step = make_step(
        f"pull.obj{number}",
        started_at=started,
        status=status,
        object_type="custom_object",
        object_name=f"Obj{number}__c",
        ended_at=iso(started),
    )
    return make_report(step, cycle_id=f"cyc-{status}-{number}", started_at=recent(minutes_ago + 1))


def post_all(base: str, token: str, reports: list[dict]) -> None:
    for sent in reports:
        assert http("POST", f"{base}/api/v1/sync-reports/", token, sent)[0] == 202


def test_two_workers_send_each_opening_and_resolution_once_per_destination(processes, webhook):
    receiver = webhook(delay=0.2)
    alert_rule_create(
        name="Custom objects",
        kind="step_failed",
        destinations=[
            f"json://127.0.0.1:{receiver.port}/team-a",
            f"json://127.0.0.1:{receiver.port}/team-b",
        ],
    )
    env = processes.app_env(processes.broker())
    base = f"http://127.0.0.1:{processes.web(env)}"
    processes.worker(env, name="worker-1")
    processes.worker(env, name="worker-2")
    processes.beat(env)  # its sweep, every second, races the workers for the same notices
    token = token_create(name="engine")

    failing = [report(n, "failed", 50) for n in range(STREAMS)]
    # Every report twice, as an engine retrying a POST would send it.
    post_all(base, token, failing + failing)
    wait_until(
        lambda: (
            Incident.objects.count() == STREAMS
            and ReceivedReport.objects.filter(status="applied").count() == 2 * STREAMS
        ),
        timeout=120,
        what="every incident opened",
    )
    post_all(base, token, [report(n, "succeeded", 40) for n in range(STREAMS)])
    expected = 2 * STREAMS * 2  # opening and resolution, to each of two destinations
    wait_until(
        lambda: Notice.objects.filter(state="sent").count() == expected,
        timeout=180,
        interval=0.5,
        what="every notice sent",
    )

    sent = Counter((path, body["title"].split(":")[0]) for path, _, body in list(receiver.received))
    assert len(sent) == expected
    assert set(sent.values()) == {1}, "no notice sent twice"
    assert Incident.objects.filter(resolved_at__isnull=True).count() == 0
    assert Notice.objects.count() == expected
    for name in ["worker-1", "worker-2"]:
        assert "notice sent" in processes.output(name), f"{name} took part"


def test_a_worker_killed_while_sending_loses_no_notice(processes, webhook):
    # The first request is held: the worker sending it is caught in the middle.
    receiver = webhook(hold_first=60)
    alert_rule_create(
        name="Custom objects",
        kind="step_failed",
        destinations=[f"json://127.0.0.1:{receiver.port}/team"],
    )
    env = processes.app_env(processes.broker(), SYNC_STATUS_ALERT_SEND_LEASE_SECONDS="3")
    base = f"http://127.0.0.1:{processes.web(env)}"
    processes.worker(env, name="doomed", concurrency=1)
    token = token_create(name="engine")
    post_all(base, token, [report(n, "failed", 50) for n in range(3)])

    wait_until(lambda: receiver.received, timeout=120, what="a notice being sent")
    processes.kill("doomed")
    assert Notice.objects.filter(state="sending").count() == 1

    processes.worker(env, name="successor")
    processes.beat(env)
    wait_until(
        lambda: (
            ReceivedReport.objects.filter(status="applied").count() == 3
            and Notice.objects.count() == 3
            and Notice.objects.filter(state="sent").count() == 3
        ),
        timeout=180,
        interval=0.5,
        what="every notice sent",
    )
    titles = Counter(body["title"] for _, _, body in list(receiver.received))
    assert len(titles) == 3, "every opening arrived"
    # The one caught sending went twice, its receiver saw it once before the
    # kill; the others once.
    assert sorted(titles.values()) == [1, 1, 2]
