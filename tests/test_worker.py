"""The production path, process for process: gunicorn, Redis, Celery worker and beat."""

import json
import time
import urllib.error
import urllib.request

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection

from dashboard.ingest.tokens import token_create
from dashboard.models import ReceivedReport, SyncStep
from devtools.processes import free_port, wait_until
from tests.conftest import example_report, example_shift, make_report, make_step
from tests.test_full_stack import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]


def http(method: str, url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def report_status(base: str, token: str, report_id: str) -> str:
    return http("GET", f"{base}/api/v1/sync-reports/{report_id}/", token)[1]["status"]


def test_a_worker_applies_the_spec_examples_posted_over_http(processes):
    env = processes.app_env(processes.broker())
    base = f"http://127.0.0.1:{processes.web(env)}"
    processes.worker(env)
    token = token_create(name="engine")

    shift = example_shift()
    ids = []
    for name in ["cycle-started.json", "cycle-finished.json"]:
        status, body = http(
            "POST", f"{base}/api/v1/sync-reports/", token, example_report(name, shift)
        )
        assert (status, body["status"]) == (202, "accepted")
        ids.append(body["report_id"])

    wait_until(
        lambda: all(report_status(base, token, id) == "applied" for id in ids),
        timeout=60,
        what="both reports applied",
    )
    steps = {step.step_id: step for step in SyncStep.objects.all()}
    assert set(steps) == {"schema.lead", "pull.lead", "pull.invoice", "push.campaign", "fks"}
    assert steps["pull.lead"].status == "incomplete"
    assert steps["pull.lead"].failures.count() == 2
    assert steps["pull.invoice"].object_name == "Invoice__c"
    assert steps["push.campaign"].status == "cleaned_up"
    assert [steps["fks"].new_count, steps["fks"].failed_count] == [None, None]
    assert "report applied" in processes.output("worker")


def test_while_redis_is_down_reports_are_kept_and_admins_read_and_export(processes):
    port = free_port()
    processes.redis(port)
    env = processes.app_env(f"redis://127.0.0.1:{port}/0")
    base = f"http://127.0.0.1:{processes.web(env)}"
    processes.worker(env)
    processes.beat(env)
    token = token_create(name="engine")

    admin = User.objects.create_user("ada", password="correct horse battery")
    admin.groups.add(Group.objects.get(name="Sync Status admins"))
    failure = {"record_id": "00Q000000000001", "error_code": "X", "message": "Postal code"}
    status, before = http(
        "POST",
        f"{base}/api/v1/sync-reports/",
        token,
        make_report(make_step("before", status="incomplete", failures=[failure]), cycle_id="c0"),
    )
    wait_until(lambda: report_status(base, token, before["report_id"]) == "applied", timeout=60)

    processes.stop("redis")
    posted = [
        http(
            "POST",
            f"{base}/api/v1/sync-reports/",
            token,
            make_report(make_step(counts={"new": n}), cycle_id=f"while-down-{n}"),
        )
        for n in (41, 42, 43)
    ]
    assert [status for status, _ in posted] == [202] * 3
    ids = [body["report_id"] for _, body in posted]
    assert set(
        ReceivedReport.objects.filter(report_id__in=ids).values_list("status", flat=True)
    ) == {"accepted"}
    assert not SyncStep.objects.exclude(step_id="before").exists()
    # Admins can log in, read the page and export while Redis is down.
    browser = log_in(base, "ada", "correct horse battery")
    page = browser.open(f"{base}/integration/salesforce/sync-status/", timeout=30)
    assert page.status == 200
    export = browser.open(f"{base}/integration/salesforce/sync-status/export.csv", timeout=30)
    assert export.status == 200
    assert ",before,00Q000000000001,,X,,Postal code" in export.read().decode()

    processes.redis(port)
    wait_until(
        lambda: all(report_status(base, token, id) == "applied" for id in ids),
        timeout=120,
        interval=1,
        what="every report applied after Redis came back",
    )
    assert sorted(
        SyncStep.objects.filter(step_id="lead.pull_updates").values_list("new_count", flat=True)
    ) == [41, 42, 43]


POISON_TRIGGER = {
    "postgresql": [
        """CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN
             IF NEW.external_id = 'poison' THEN RAISE EXCEPTION 'cycle poison refused'; END IF;
             RETURN NEW; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER refuse_poison BEFORE INSERT ON dashboard_synccycle
             FOR EACH ROW EXECUTE FUNCTION refuse_poison()""",
    ],
    "sqlite": [
        """CREATE TRIGGER refuse_poison BEFORE INSERT ON dashboard_synccycle
             WHEN NEW.external_id = 'poison'
             BEGIN SELECT RAISE(ABORT, 'cycle poison refused'); END""",
    ],
}
DROP_POISON_TRIGGER = {
    "postgresql": [
        "DROP TRIGGER refuse_poison ON dashboard_synccycle",
        "DROP FUNCTION refuse_poison()",
    ],
    "sqlite": ["DROP TRIGGER refuse_poison"],
}


@pytest.fixture
def poisoned_database():
    """The database itself refuses cycle "poison": the apply task fails on
    every attempt, for a reason no retry can cure."""
    with connection.cursor() as cursor:
        for statement in POISON_TRIGGER[connection.vendor]:
            cursor.execute(statement)
    yield
    with connection.cursor() as cursor:
        for statement in DROP_POISON_TRIGGER[connection.vendor]:
            cursor.execute(statement)


def test_a_report_that_always_fails_is_given_up_without_blocking_others(
    processes, poisoned_database, admin_client
):
    env = processes.app_env(processes.broker(), SYNC_STATUS_APPLY_MAX_ATTEMPTS="3")
    base = f"http://127.0.0.1:{processes.web(env)}"
    processes.worker(env)
    processes.beat(env)
    token = token_create(name="engine")
    posted = {
        name: http(
            "POST", f"{base}/api/v1/sync-reports/", token, make_report(make_step(), cycle_id=name)
        )[1]["report_id"]
        for name in ["healthy-before", "poison", "healthy-after"]
    }

    wait_until(
        lambda: report_status(base, token, posted["poison"]) == "failed",
        timeout=120,
        interval=0.5,
        what="the poisoned report given up",
    )
    assert report_status(base, token, posted["healthy-before"]) == "applied"
    assert report_status(base, token, posted["healthy-after"]) == "applied"
    poison = ReceivedReport.objects.get(report_id=posted["poison"])
    assert poison.attempts == 3
    detail = http("GET", f"{base}/api/v1/sync-reports/{posted['poison']}/", token)[1]
    assert "cycle poison refused" in detail["error"]
    # Given up for good: sweeps come and go (every second here), attempts stay.
    time.sleep(4)
    assert ReceivedReport.objects.get(pk=poison.pk).attempts == 3
    # An operator finds it among the failed reports in the admin, with its reason.
    admin_client.force_login(User.objects.create_superuser("operator"))
    failed = admin_client.get("/admin/dashboard/receivedreport/?status__exact=failed")
    assert posted["poison"] in failed.content.decode()
    page = admin_client.get(f"/admin/dashboard/receivedreport/{poison.pk}/change/")
    assert "cycle poison refused" in page.content.decode()
