"""docs/reports.md, one rule per test: what a sender gets told about a bad report."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dashboard.ingest.validation import ReportInvalid, parse_report_json, validate_report
from tests.conftest import make_report, make_step


def errors_of(report) -> dict[str, str]:
    with pytest.raises(ReportInvalid) as caught:
        validate_report(report)
    return {error.path: error.message for error in caught.value.errors}


def test_it_accepts_the_spec_example_shape():
    report = make_report(
        make_step(
            counts={"new": 3, "updated": 120, "failed": 2, "skipped": 40},
            failures=[{"record_id": "00Q5e00000AbCdEAAZ", "message": "Postal code is required"}],
            ended_at="2099-01-01T00:00:00Z",
        )
    )
    clean = validate_report(report)
    assert clean.cycle_id == "cyc-1"
    assert clean.steps[0].counts == {"new": 3, "updated": 120, "failed": 2, "skipped": 40}
    assert clean.steps[0].failures[0].record_id == "00Q5e00000AbCdEAAZ"


def test_it_accepts_an_empty_step_list():
    assert validate_report(make_report()).steps == ()


@pytest.mark.parametrize("body", [[], "report", 3, None])
def test_it_requires_an_object(body):
    assert errors_of(body) == {"": "Must be an object."}


def test_it_requires_the_cycle_and_the_steps():
    assert errors_of({}) == {
        "cycle": "This field is required.",
        "cycle.id": "This field is required.",
        "cycle.started_at": "This field is required.",
        "steps": "This field is required.",
    }


def test_it_requires_steps_to_be_a_list():
    report = make_report()
    report["steps"] = {"id": "x"}
    assert errors_of(report) == {"steps": "Must be a list."}


@pytest.mark.parametrize("field", ["id", "started_at"])
def test_it_requires_cycle_fields(field):
    report = make_report()
    del report["cycle"][field]
    assert errors_of(report) == {f"cycle.{field}": "This field is required."}


@pytest.mark.parametrize("field", ["id", "object_type", "operation", "status", "started_at"])
def test_it_requires_each_step_field(field):
    step = make_step()
    del step[field]
    assert errors_of(make_report(make_step("ok"), step)) == {
        f"steps[1].{field}": "This field is required."
    }


@pytest.mark.parametrize("field", ["id", "object_type", "operation", "status", "started_at"])
def test_it_treats_a_null_required_field_as_missing(field):
    assert errors_of(make_report(make_step() | {field: None})) == {
        f"steps[0].{field}": "This field is required."
    }


def test_it_rejects_a_blank_step_id():
    assert errors_of(make_report(make_step(" "))) == {"steps[0].id": "Must not be empty."}


def test_it_rejects_a_naive_timestamp():
    errors = errors_of(
        make_report(make_step(started_at=None) | {"started_at": "2026-11-28T10:05:03"})
    )
    assert "time zone" in errors["steps[0].started_at"]


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "", 1732780800])
def test_it_rejects_an_unreadable_timestamp(value):
    errors = errors_of(make_report(started_at=None) | {"cycle": {"id": "c", "started_at": value}})
    assert list(errors) == ["cycle.started_at"]


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_it_rejects_a_timestamp_some_time_zone_could_not_show(value):
    errors = errors_of(make_report(started_at=None) | {"cycle": {"id": "c", "started_at": value}})
    assert errors == {"cycle.started_at": "Must be between 0001-01-02 and 9999-12-30 in UTC."}


def test_it_reads_offsets_and_z_as_the_same_instant():
    report = make_report(
        make_step("a") | {"started_at": "2026-11-28T11:05:03+01:00"},
        make_step("b") | {"started_at": "2026-11-28T10:05:03Z"},
    )
    first, second = validate_report(report).steps
    assert first.started_at == second.started_at


def test_it_accepts_a_missing_or_null_end():
    report = make_report(make_step("a"), make_step("b", ended_at=None))
    report["cycle"]["ended_at"] = None
    clean = validate_report(report)
    assert clean.cycle_ended_at is None
    assert [step.ended_at for step in clean.steps] == [None, None]


def test_it_rejects_a_step_ending_before_it_started():
    step = make_step() | {"started_at": "2026-11-28T10:05:03Z", "ended_at": "2026-11-28T10:05:02Z"}
    assert errors_of(make_report(step)) == {"steps[0].ended_at": "Must not be before started_at."}


def test_it_rejects_a_cycle_ending_before_it_started():
    report = make_report()
    report["cycle"] = {
        "id": "c",
        "started_at": "2026-11-28T10:05Z",
        "ended_at": "2026-11-28T10:04Z",
    }
    assert errors_of(report) == {"cycle.ended_at": "Must not be before started_at."}


def test_it_rejects_a_step_id_twice_in_one_report():
    errors = errors_of(make_report(make_step("a"), make_step("b"), make_step("a")))
    assert errors == {"steps[2].id": "Step 'a' appears twice in this report."}


def test_it_requires_the_object_name_of_a_custom_object():
    errors = errors_of(make_report(make_step(object_type="custom_object")))
    assert errors == {"steps[0].object_name": "This field is required."}


def test_it_keeps_the_object_name_of_a_custom_object():
    step = make_step(object_type="custom_object", object_name="Invoice__c")
    assert validate_report(make_report(step)).steps[0].object_name == "Invoice__c"


def test_it_ignores_the_object_name_of_other_objects():
    step = make_step(object_type="lead", object_name={"not": "even a string"})
    assert validate_report(make_report(step)).steps[0].object_name is None


def test_it_keeps_only_the_counters_given():
    step = make_step(counts={"updated": 5, "deleted": None})
    assert validate_report(make_report(step)).steps[0].counts == {"updated": 5}


@pytest.mark.parametrize("value", [-1, 1.5, "3", True, 2**63])
def test_it_rejects_a_counter_that_is_not_a_non_negative_integer(value):
    errors = errors_of(make_report(make_step(counts={"new": value})))
    assert errors == {"steps[0].counts.new": "Must be a non-negative integer."}


def test_it_rejects_counts_that_are_not_an_object():
    assert errors_of(make_report(make_step(counts=[1, 2]))) == {
        "steps[0].counts": "Must be an object."
    }


@pytest.mark.parametrize("field", ["record_id", "message"])
def test_it_requires_the_record_id_and_message_of_a_failure(field):
    failure = {"record_id": "00Q1", "message": "Bad"}
    del failure[field]
    errors = errors_of(make_report(make_step(failures=[failure])))
    assert errors == {f"steps[0].failures[0].{field}": "This field is required."}


def test_it_keeps_the_optional_fields_of_a_failure():
    failure = {
        "record_id": "00Q1",
        "message": "Bad",
        "marketo_id": 1048576,
        "error_code": "DUPLICATES_DETECTED",
        "field": "Email",
    }
    clean = validate_report(make_report(make_step(failures=[failure]))).steps[0].failures[0]
    assert (clean.marketo_id, clean.error_code, clean.field) == (
        "1048576",
        "DUPLICATES_DETECTED",
        "Email",
    )


def test_it_rejects_a_record_twice_in_one_step():
    failures = [{"record_id": "00Q1", "message": "a"}, {"record_id": "00Q1", "message": "b"}]
    errors = errors_of(make_report(make_step(failures=failures)))
    assert errors == {"steps[0].failures[1].record_id": "Record '00Q1' appears twice in this step."}


def test_it_accepts_the_same_record_in_two_steps():
    failures = [{"record_id": "00Q1", "message": "a"}]
    report = make_report(make_step("a", failures=failures), make_step("b", failures=failures))
    assert len(validate_report(report).steps) == 2


def test_it_requires_the_message_of_a_job_level_error():
    errors = errors_of(make_report(make_step(error={"code": "REQUEST_LIMIT_EXCEEDED"})))
    assert errors == {"steps[0].error.message": "This field is required."}


def test_it_keeps_a_job_level_error_without_code():
    step = make_step(status="failed", error={"message": "Session expired"})
    error = validate_report(make_report(step)).steps[0].error
    assert (error.code, error.message) == (None, "Session expired")


@pytest.mark.parametrize(
    ("field", "allowed"),
    [
        ("object_type", "account, account_type, campaign"),
        ("operation", "link_with_program, pull_conversions"),
        ("status", "succeeded, failed, incomplete, in_process, cleaned_up"),
    ],
)
def test_it_rejects_an_unknown_code_listing_the_allowed_ones(field, allowed):
    errors = errors_of(make_report(make_step(**{field: "bogus"})))
    assert errors[f"steps[0].{field}"].startswith("Unknown code 'bogus'; allowed: ")
    assert allowed in errors[f"steps[0].{field}"]


def test_it_ignores_unknown_keys_everywhere():
    step = make_step(
        counts={"new": 1, "merged": 4},
        failures=[{"record_id": "r", "message": "m", "severity": "high"}],
        colour="blue",
    )
    report = make_report(step) | {"engine": "v9"}
    report["cycle"]["region"] = "eu1"
    clean = validate_report(report)
    assert clean.steps[0].counts == {"new": 1}


def test_it_treats_null_optional_fields_as_absent():
    step = make_step(ended_at=None, counts=None, failures=None, error=None)
    clean = validate_report(make_report(step)).steps[0]
    assert (clean.ended_at, clean.counts, clean.failures, clean.error) == (None, {}, (), None)


def test_it_names_every_problem_of_a_report_at_once():
    report = make_report(
        make_step("good"),
        make_step("bad", status="done", counts={"new": -2}),
        make_step("worse", object_type="leads", started_at=None) | {"started_at": None},
    )
    assert set(errors_of(report)) == {
        "steps[1].status",
        "steps[1].counts.new",
        "steps[2].object_type",
        "steps[2].started_at",
    }


def test_it_rejects_text_postgresql_cannot_store():
    failures = [{"record_id": "a\x00b", "message": "\ud800"}]
    assert set(errors_of(make_report(make_step(failures=failures)))) == {
        "steps[0].failures[0].record_id",
        "steps[0].failures[0].message",
    }


def test_it_rejects_identifiers_longer_than_their_column():
    assert errors_of(make_report(make_step("x" * 256))) == {
        "steps[0].id": "Must be at most 255 characters long."
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{", "The report is not valid JSON"),
        (b'{"cycle": NaN}', "The report is not valid JSON"),
        (b"\xff\xfe", "The report is not valid UTF-8."),
        (b"[" * 100_000, "The report is not valid JSON"),
    ],
)
def test_it_rejects_a_body_that_is_not_json(raw, message):
    with pytest.raises(ReportInvalid) as caught:
        parse_report_json(raw)
    assert caught.value.errors[0].message.startswith(message)


field_values = (
    st.none()
    | st.integers(-5, 10**12)
    | st.booleans()
    | st.text(max_size=3)
    | st.text(alphabet=st.characters(codec="ascii"), min_size=250, max_size=260)
    | st.sampled_from(["00Q5e00000AbCdEAAZ", " ", "", "a\x00b", "é", "\ud800", "Postal code"])
)
failure_dicts = st.fixed_dictionaries(
    {},
    optional={
        name: field_values for name in ["record_id", "message", "marketo_id", "error_code", "field"]
    },
)
# Failed records that are valid or one flaw away from it.
nearly_plain_failures = st.fixed_dictionaries(
    {
        "record_id": st.sampled_from(["00Q1", "00Q2", "00Q3", " ", "", "a\x00b", "é", "x" * 256]),
        "message": st.sampled_from(["Postal code", "", "a\x00", "é", "\ud800"]),
    },
    optional={
        "marketo_id": st.none() | st.sampled_from(["42", "", "9" * 256, 42, True]),
        "field": st.sampled_from(["Email", "é", None]),
    },
)


@given(st.lists(failure_dicts | nearly_plain_failures | st.integers() | st.none(), max_size=4))
@example([{"record_id": "00Q1", "message": "m", "marketo_id": "9" * 256}])
@example(
    [{"record_id": "00Q1", "message": "m", "field": "Email"}, {"record_id": "00Q1", "message": "m"}]
)
@settings(max_examples=1000, deadline=None)
def test_the_fast_path_for_failed_records_judges_as_the_full_checks_do(raw):
    from dashboard.ingest.validation import _checked_failures, _Checker, _plain_failures

    check = _Checker()
    checked = _checked_failures(check, raw, "failures")
    fast = _plain_failures(raw)

    # The fast path takes only what the checks accept, exactly as they would.
    if fast is not None:
        assert (check.errors, checked) == ([], fast)
    # And it takes the usual case (plain ASCII that fits) itself.
    all_plain = all(
        isinstance(failure, dict)
        and all(
            value is None or (isinstance(value, str) and value.isascii() and "\x00" not in value)
            for value in failure.values()
        )
        for failure in raw
    )
    if raw and all_plain and not check.errors:
        assert fast == checked
