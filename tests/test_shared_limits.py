"""The ingest rate limit is one count for all web processes, kept in Redis."""

import time

import pytest

from dashboard.ingest.tokens import token_create
from dashboard.models import ReceivedReport
from tests.conftest import make_report, make_step
from tests.test_worker import http

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]


def test_two_web_servers_share_one_token_rate(processes):
    env = processes.app_env(processes.broker(), SYNC_STATUS_INGEST_RATE_PER_MINUTE="4")
    bases = [f"http://127.0.0.1:{processes.web(env, name=name)}" for name in ("web-a", "web-b")]
    token = token_create(name="engine")
    # The eight requests below must fall in one minute's window.
    if time.time() % 60 > 40:
        time.sleep(61 - time.time() % 60)

    statuses = [
        http("POST", f"{bases[i % 2]}/api/v1/sync-reports/", token, make_report(make_step()))[0]
        for i in range(8)
    ]

    assert statuses == [202] * 4 + [429] * 4
    assert ReceivedReport.objects.count() == 4
