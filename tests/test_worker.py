"""The production path, process for process: gunicorn, Redis, Celery worker and beat."""

import json
import urllib.error
import urllib.request

import pytest
from django.contrib.auth.models import Group, User

from dashboard.models import ReceivedReport, SyncStep
from dashboard.tokens import token_create
from tests.conftest import example_report, example_shift, make_report, make_step
from tests.processes import free_port, wait_until
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
    status, body = http(
        "POST", f"{base}/api/v1/sync-reports/", token, make_report(make_step(counts={"new": 42}))
    )
    assert status == 202
    assert ReceivedReport.objects.get(report_id=body["report_id"]).status == "accepted"
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
        lambda: report_status(base, token, body["report_id"]) == "applied",
        timeout=120,
        interval=1,
        what="the report applied after Redis came back",
    )
    assert SyncStep.objects.get(step_id="lead.pull_updates").new_count == 42
