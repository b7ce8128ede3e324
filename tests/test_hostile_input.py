"""Any body at all gets a 202 or a 400 from the ingest endpoint: never a 500,
never part of a report stored (issue 6, property-based)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.models import FailedRecord, ReceivedReport, SyncCycle, SyncStep
from tests.conftest import make_report, make_step

URL = "/api/v1/sync-reports/"
pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
# Characters that have broken text handling somewhere: NUL and lone
# surrogates (PostgreSQL refuses them), separators, quotes, formula starts.
NASTY = st.sampled_from(
    ["\x00", "\ud800", "\udfff", "\t", "\n", "\r", "'", '"', "\\", "=", "é", "東"]
)
nasty_text = st.text(alphabet=st.one_of(st.characters(), NASTY), max_size=20)
CODES = ["lead", "pull_updates", "succeeded", "in_process", "custom_object", "bogus", ""]


def near_valid_steps():
    """Steps that are often valid and often almost valid."""
    value = st.one_of(st.sampled_from(CODES), st.none(), st.integers(-2, 3), st.text(max_size=5))
    stamp = st.sampled_from(["2026-11-28T10:05:03Z", "2026-11-28T10:05:03", "x", None, 5])
    return st.fixed_dictionaries(
        {"id": st.one_of(st.text(max_size=6), st.none())},
        optional={
            "object_type": value, "operation": value, "status": value,
            "started_at": stamp, "ended_at": stamp, "object_name": value,
            "counts": st.dictionaries(st.sampled_from(["new", "failed", "x"]), value, max_size=3),
            "failures": st.lists(
                st.fixed_dictionaries({}, optional={"record_id": value, "message": value,
                                                    "field": value}),
                max_size=3,
            ),
            "error": st.one_of(st.none(), st.fixed_dictionaries({}, optional={"message": value})),
        },
    )  # fmt: skip


def post(client, token, body: bytes):
    return client.post(
        URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def assert_all_or_nothing(response, before: int):
    assert response.status_code in {202, 400}, response.content[:300]
    stored = ReceivedReport.objects.count() - before
    if response.status_code == 400:
        assert stored == 0
        assert response.json()["errors"], "a 400 names at least one problem"
        for error in response.json()["errors"]:
            assert isinstance(error["path"], str) and error["message"]
    else:
        assert stored == 1


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.binary(max_size=300))
def test_any_bytes_get_a_202_or_a_400(client, ingest_token, body):
    before = ReceivedReport.objects.count()
    assert_all_or_nothing(post(client, ingest_token, body), before)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=json_values)
def test_any_json_gets_a_202_or_a_400(client, ingest_token, value):
    before = ReceivedReport.objects.count()
    assert_all_or_nothing(post(client, ingest_token, json.dumps(value).encode()), before)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(near_valid_steps(), max_size=4))
def test_near_valid_reports_are_stored_whole_or_not_at_all(
    client, ingest_token, django_capture_on_commit_callbacks, steps
):
    report = make_report()
    report["steps"] = steps
    before = (
        ReceivedReport.objects.count(),
        SyncStep.objects.count(),
        FailedRecord.objects.count(),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, ingest_token, json.dumps(report).encode())
    assert_all_or_nothing(response, before[0])
    if response.status_code == 400:
        assert (SyncStep.objects.count(), FailedRecord.objects.count()) == before[1:]
    else:
        # Accepted means applied here (tasks run in-process): every step is stored.
        assert ReceivedReport.objects.order_by("-pk").first().status == "applied"
        cycle = SyncCycle.objects.get(external_id="cyc-1")
        assert set(cycle.steps.values_list("step_id", flat=True)) >= {s["id"] for s in steps}


def test_the_strategies_reach_both_answers(client, ingest_token):
    # The properties above mean something only if valid reports are among the examples.
    assert (
        post(client, ingest_token, json.dumps(make_report(make_step())).encode()).status_code == 202
    )


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    step_id=nasty_text.filter(bool),
    record_id=nasty_text.filter(bool),
    message=nasty_text,
    object_name=nasty_text.filter(bool),
)
def test_any_text_in_a_valid_report_is_stored_exactly_or_refused(
    client,
    ingest_token,
    django_capture_on_commit_callbacks,
    step_id,
    record_id,
    message,
    object_name,
):
    report = make_report(
        make_step(
            step_id,
            object_type="custom_object",
            object_name=object_name,
            failures=[{"record_id": record_id, "message": message, "field": message or None}],
        ),
        cycle_id="text-cycle",
    )
    before = ReceivedReport.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, ingest_token, json.dumps(report).encode())
    assert_all_or_nothing(response, before)
    if response.status_code == 202:
        assert ReceivedReport.objects.order_by("-pk").first().status == "applied"
        step_id, record_id, message, object_name = as_json_reads_it(
            step_id, record_id, message, object_name
        )
        step = SyncStep.objects.get(cycle__external_id="text-cycle", step_id=step_id)
        assert step.object_name == object_name
        assert step.failures.get(record_id=record_id).message == message


def as_json_reads_it(*texts: str) -> list[str]:
    """Two lone surrogates side by side ("\ud800\udfff") are sent as the
    escapes of a pair, which JSON reads as the one character they encode."""
    return json.loads(json.dumps(texts))
