"""The stack of docker-compose.yml, process for process: gunicorn, a Celery
worker and beat on the real database and Redis, fed by the simulator over HTTP."""

import http.client
import http.cookiejar
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
from django.contrib.auth.models import Group, User

from dashboard.ingest.tokens import token_create
from dashboard.models import ReceivedReport, SyncCycle, SyncStep
from devtools.processes import ROOT, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]


def log_in(base: str, username: str, password: str) -> urllib.request.OpenerDirector:
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    form = browser.open(f"{base}/accounts/login/", timeout=10).read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)[1]
    data = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": csrf, "next": "/"}
    ).encode()
    landing = browser.open(f"{base}/accounts/login/", data, timeout=10)
    assert landing.url.endswith("/integration/salesforce/sync-status/")
    return browser


def page_rows(browser, base: str) -> list[str]:
    rows, page = [], 1
    while True:
        html = browser.open(f"{base}/integration/salesforce/sync-status/?page={page}", timeout=30)
        html = html.read().decode()
        body = html[html.index("<tbody") : html.index("</tbody>")]
        found = re.findall(r"<tr\b.*?</tr>", body, re.S)
        rows += [row for row in found if "<td" in row and "No sync step" not in row]
        if 'rel="next"' not in html:
            return rows
        page += 1


def test_simulated_cycles_flow_through_gunicorn_celery_and_beat_onto_the_page(processes):
    env = processes.app_env(processes.broker())
    base = f"http://127.0.0.1:{processes.web(env)}"
    processes.worker(env)
    processes.beat(env)
    token = token_create(name="simulator")
    admin = User.objects.create_user("ada", password="correct horse battery")
    admin.groups.add(Group.objects.get(name="Sync Status admins"))

    # A minute's worth of cycles (one every 20 s), played 20 times faster.
    simulator = subprocess.run(
        [sys.executable, "manage.py", "simulate_sync", "--live", "--cycles", "3",
         "--interval", "20", "--speed", "20", "--seed", "9", "--url", base, "--token", token],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert simulator.returncode == 0, simulator.stderr
    sent = int(re.search(r"in (\d+) reports", simulator.stdout)[1])

    wait_until(
        lambda: ReceivedReport.objects.filter(status="applied").count() == sent,
        timeout=120,
        what=f"all {sent} reports applied",
    )
    assert SyncCycle.objects.count() == 3
    assert not SyncStep.objects.filter(status="in_process").exists()
    rows = page_rows(log_in(base, "ada", "correct horse battery"), base)
    assert len(rows) == SyncStep.objects.count() > 3 * 5
    assert (
        sum("badge-succeeded" in row for row in rows)
        == SyncStep.objects.filter(status="succeeded").count()
    )
    health = urllib.request.urlopen(f"{base}/healthz", timeout=10).read().decode()
    assert health == '{"status": "ok", "database": "ok", "broker": "ok"}'


def test_an_idle_connection_outlives_an_admins_pause_between_clicks(processes):
    """A connection the server closed while the client sent its next request
    fails that request: the server keeps it open longer than people pause."""
    port = processes.web(processes.app_env(processes.broker()))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    answers = []
    for pause in (0, 5):
        time.sleep(pause)
        connection.request("GET", "/healthz")
        answer = connection.getresponse()
        answer.read()
        answers.append(answer.status)
    assert answers == [200, 200]
