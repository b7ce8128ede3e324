"""When the database cannot be reached: 503 and a page that says so, never a
traceback; and everything works again once it is back."""

import json
import urllib.error
import urllib.request

import pytest
from django.contrib.auth.models import Group, User
from django.db import OperationalError, connection

from dashboard.ingest.tokens import token_create
from dashboard.models import ReceivedReport, SyncStep
from devtools.processes import test_database_url as database_url_of_tests
from devtools.processes import wait_until
from tests.conftest import make_report, make_step
from tests.tcpproxy import TcpProxy
from tests.test_full_stack import log_in
from tests.test_worker import http

PAGE = "/integration/salesforce/sync-status/"


@pytest.fixture
def database_down(client, monkeypatch):
    """Every query fails as it does when the server cannot be reached."""

    def refuse(*args, **kwargs):
        raise OperationalError('connection to server at "db" failed: Connection refused')

    client.raise_request_exception = False
    monkeypatch.setattr(connection, "cursor", refuse)


@pytest.mark.django_db
def test_the_page_says_the_database_is_unreachable(admin_client, database_down):
    response = admin_client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    html = response.content.decode()
    assert "Sync status is unavailable" in html
    assert "Traceback" not in html and "Connection refused" not in html


@pytest.mark.django_db
def test_ingest_answers_503_with_retry_after(client, ingest_token, database_down):
    response = client.post(
        "/api/v1/sync-reports/",
        json.dumps(make_report(make_step())),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {ingest_token}",
    )

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json() == {
        "errors": [{"path": "", "message": "The database cannot be reached; try again later."}]
    }


@pytest.mark.django_db
def test_other_errors_are_still_plain_500s(admin_client, monkeypatch):
    def fail(*args, **kwargs):
        raise ZeroDivisionError

    admin_client.raise_request_exception = False
    monkeypatch.setattr("dashboard.steps.views.visible_steps", fail)

    assert admin_client.get(PAGE).status_code == 500


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="cuts the network to a PostgreSQL server"
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.processes
def test_web_and_worker_ride_out_a_postgresql_outage(processes):
    proxy = TcpProxy(target_port=int(connection.settings_dict["PORT"] or 5432))
    proxy.restore()
    direct = database_url_of_tests()
    through_proxy = direct.replace(
        f":{connection.settings_dict['PORT'] or 5432}/", f":{proxy.port}/"
    )
    assert through_proxy != direct
    env = processes.app_env(processes.broker(), DATABASE_URL=through_proxy)
    base = f"http://127.0.0.1:{processes.web(env)}"
    processes.worker(env)
    token = token_create(name="engine")
    admin = User.objects.create_user("ada", password="correct horse battery")
    admin.groups.add(Group.objects.get(name="Sync Status admins"))
    browser = log_in(base, "ada", "correct horse battery")
    # The worker holds a connection of its own from then on, which the outage breaks.
    assert (
        http("POST", f"{base}/api/v1/sync-reports/", token, make_report(cycle_id="before"))[0]
        == 202
    )
    wait_until(
        lambda: ReceivedReport.objects.filter(status="applied").count() == 1,
        timeout=60,
        what="the report sent before the outage applied",
    )

    try:
        proxy.cut()
        status, body = http("POST", f"{base}/api/v1/sync-reports/", token, make_report(make_step()))
        assert (status, body["errors"][0]["message"]) == (
            503,
            "The database cannot be reached; try again later.",
        )
        with pytest.raises(urllib.error.HTTPError) as page:
            browser.open(f"{base}{PAGE}", timeout=30)
        assert page.value.code == 503
        assert "Sync status is unavailable" in page.value.read().decode()
        with pytest.raises(urllib.error.HTTPError) as health:
            urllib.request.urlopen(f"{base}/healthz", timeout=30)
        assert health.value.code == 503
    finally:
        proxy.restore()

    status, body = http(
        "POST", f"{base}/api/v1/sync-reports/", token, make_report(make_step(counts={"new": 7}))
    )
    assert status == 202
    wait_until(
        lambda: ReceivedReport.objects.filter(status="applied").count() == 2,
        timeout=60,
        what="the report sent after the outage applied",
    )
    assert SyncStep.objects.get(cycle__external_id="cyc-1").new_count == 7
    assert browser.open(f"{base}{PAGE}", timeout=30).status == 200
    proxy.cut()
