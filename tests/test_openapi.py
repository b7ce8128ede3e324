"""GET /api/v1/openapi.json, and the app held to it: schemathesis sends the
APIs requests generated from the description, valid and invalid, with real
tokens, and checks every answer against it (no 5xx, documented status codes,
content types, headers and bodies)."""

from datetime import timedelta

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dashboard.choices import ObjectType, Operation, Status
from dashboard.ingest.tokens import token_create
from dashboard.models import IngestToken, ReceivedReport
from dashboard.web.api import openapi_description
from tests.conftest import iso, make_report, make_step, recent

URL = "/api/v1/openapi.json"
pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# The read operations refuse every request the description does not allow
# (docs/dashboard.md: a bad parameter is never silently ignored). Not so the report:
# its validation accepts every ISO 8601 form Python reads, more than the
# RFC 3339 `date-time` it is described with, and refuses what JSON Schema
# cannot say (an end before the start, a step id twice).
READ_CHECKS = [*CHECKS, negative_data_rejection]


@pytest.fixture
def wsgi_in_test_transaction():
    """The WSGI app, built now that the test settings are in force, serving
    requests inside the test's transaction: as Django's test client does,
    keep the end of a request from closing the connection (which would roll
    the test's data back)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def steps(ingest):
    """More than a page of steps, with every kind of value a step can show."""
    started = recent(120)
    steps = []
    for n in range(105):
        step = make_step(
            f"step-{n}",
            started_at=started + timedelta(seconds=n),
            object_type=ObjectType.values[n % len(ObjectType.values)],
            operation=Operation.values[n % len(Operation.values)],
            status=Status.values[n % len(Status.values)],
        )
        if step["object_type"] == ObjectType.CUSTOM_OBJECT:
            step["object_name"] = "Invoice__c"
        if n % 3:
            step["ended_at"] = iso(started + timedelta(seconds=n + 30))
        if n % 4 == 0:
            step["counts"] = {"new": n, "failed": 1}
        if n % 5 == 0:
            step["error"] = {"message": "TotalRequests Limit exceeded."}
        if n % 7 == 0:
            step["failures"] = [
                {"record_id": f"00Q{n % 3}", "message": f"Value '{n}' too long", "field": "Name"}
            ]
        steps.append(step)
    ingest(make_report(*steps, cycle_id="cyc-openapi", started_at=started))


@pytest.fixture
def authorization(db):
    """The header each operation needs, with real tokens."""
    ingest = token_create(name="engine", scope=IngestToken.Scope.INGEST)
    read = token_create(name="grafana", scope=IngestToken.Scope.READ)

    def authorization(case) -> dict:
        token = ingest if case.operation.path.startswith("/api/v1/sync-reports/") else read
        return {"Authorization": f"Bearer {token}"}

    return authorization


def test_it_serves_a_valid_openapi_description_without_authentication(client):
    response = client.get(URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    description = response.json()
    assert description == openapi_description()
    assert description["openapi"].startswith("3.1")
    # Raises if the description is not valid OpenAPI 3.1.
    schemathesis.openapi.from_dict(description).validate()


def test_it_describes_the_six_api_operations(wsgi_in_test_transaction):
    api = schemathesis.openapi.from_wsgi(URL, wsgi_in_test_transaction)
    assert sorted(operation.ok().label for operation in api.get_all_operations()) == [
        "GET /api/v1/error-groups/",
        "GET /api/v1/health/",
        "GET /api/v1/records/{record_id}/failures/",
        "GET /api/v1/sync-reports/{report_id}/",
        "GET /api/v1/sync-steps/",
        "POST /api/v1/sync-reports/",
    ]


def test_its_codes_are_those_of_the_vocabulary(client):
    schemas = client.get(URL).json()["components"]["schemas"]
    assert schemas["ObjectType"]["enum"] == ObjectType.values
    assert schemas["Operation"]["enum"] == Operation.values
    assert schemas["Status"]["enum"] == Status.values
    assert schemas["GroupLevel"]["enum"] == ["record", "job"]
    assert schemas["GroupState"]["enum"] == ["ongoing", "resolved"]


# Loaded from the same dict the view serves (checked above): a schema loaded in
# a fixture would be more natural, but schemathesis's lazy loading does not
# work with pytest 9 (it sets a node attribute pytest no longer has).
api = schemathesis.openapi.from_dict(openapi_description())


@api.parametrize()
@settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_to_its_description(case, wsgi_in_test_transaction, steps, authorization):
    checks = CHECKS if case.operation.method == "post" else READ_CHECKS
    case.call_and_validate(app=wsgi_in_test_transaction, headers=authorization(case), checks=checks)


@pytest.mark.parametrize("state", ["accepted", "applied", "failed"])
def test_a_report_status_keeps_to_the_description_in_every_state(
    state, ingest, wsgi_in_test_transaction, authorization
):
    # Generated report ids name no report: this reads real ones.
    report = ingest(make_report(make_step()))[0]
    if state != "applied":
        error = "Invalid report: steps[0].status: ..." if state == "failed" else None
        ReceivedReport.objects.filter(pk=report.pk).update(
            status=state, applied_at=None, error=error
        )
    case = api.find_operation_by_id("getSyncReport").Case(
        path_parameters={"report_id": str(report.report_id)}
    )

    response = case.call_and_validate(
        app=wsgi_in_test_transaction, headers=authorization(case), checks=CHECKS
    )

    assert response.status_code == 200
    assert response.json()["status"] == state


@pytest.mark.parametrize("record_id", ["00Q0", "00Q1"])
def test_a_records_failures_keep_to_the_description(
    record_id, wsgi_in_test_transaction, steps, authorization
):
    # Generated record ids name no record: this reads real ones.
    case = api.find_operation_by_id("getRecordFailures").Case(
        path_parameters={"record_id": record_id}
    )

    response = case.call_and_validate(
        app=wsgi_in_test_transaction, headers=authorization(case), checks=READ_CHECKS
    )

    assert response.status_code == 200
    assert response.json()["results"]


# A valid request of each operation, for the answers generated requests
# cannot reach.
CASES = {
    "createSyncReport": {"body": make_report(make_step()), "media_type": "application/json"},
    "getSyncReport": {"path_parameters": {"report_id": "6f1c1d2e-0000-4000-8000-000000000000"}},
    "listSyncSteps": {},
    "listErrorGroups": {},
    "getHealth": {},
    "getRecordFailures": {"path_parameters": {"record_id": "00Q0"}},
}


@pytest.mark.parametrize("operation_id", list(CASES))
def test_the_answers_of_an_unreachable_database_keep_to_the_description(
    operation_id, wsgi_in_test_transaction, authorization, monkeypatch
):
    from django.db import OperationalError, connection

    case = api.find_operation_by_id(operation_id).Case(**CASES[operation_id])
    headers = authorization(case)

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    # A 503 is a 5xx on purpose here: everything but not_a_server_error.
    checks = [check for check in CHECKS if check is not not_a_server_error]
    response = case.call_and_validate(app=wsgi_in_test_transaction, headers=headers, checks=checks)

    assert response.status_code == 503


def test_the_rate_limit_answer_keeps_to_the_description(
    wsgi_in_test_transaction, authorization, settings
):
    settings.SYNC_STATUS_INGEST_RATE_PER_MINUTE = 0
    case = api.find_operation_by_id("createSyncReport").Case(**CASES["createSyncReport"])

    response = case.call_and_validate(
        app=wsgi_in_test_transaction, headers=authorization(case), checks=CHECKS
    )

    assert response.status_code == 429
