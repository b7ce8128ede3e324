import io
import json

import pytest
from django.core.management import call_command

from dashboard.models import ReceivedReport, SyncStep
from tests.conftest import example_report, example_shift, make_report, make_step

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command("ingest_reports", *args, stdout=out, stderr=err, stdin=io.StringIO(stdin))
    except SystemExit as exit:
        code = exit.code
    return code, out.getvalue(), err.getvalue()


def test_it_ingests_json_files(tmp_path):
    # The examples moved to two hours ago: as written, they leave the window in days.
    paths = []
    for name in ["cycle-started.json", "cycle-finished.json"]:
        path = tmp_path / name
        path.write_text(json.dumps(example_report(name, example_shift())))
        paths.append(str(path))
    code, out, _ = run(*paths)
    assert (code, out) == (0, "Accepted 2 reports, rejected 0.\n")
    assert SyncStep.objects.get(step_id="pull.lead").status == "incomplete"
    assert set(ReceivedReport.objects.values_list("source", "status")) == {("cli", "applied")}


def test_it_ingests_json_lines_with_blank_lines(tmp_path):
    lines = tmp_path / "reports.jsonl"
    reports = [make_report(make_step(f"s{n}"), cycle_id=f"c{n}") for n in range(3)]
    lines.write_text("\n".join(json.dumps(report) for report in reports) + "\n\n")
    assert run(str(lines))[:2] == (0, "Accepted 3 reports, rejected 0.\n")
    assert SyncStep.objects.count() == 3


def test_it_reads_stdin():
    code, out, _ = run("-", stdin=json.dumps(make_report(make_step())))
    assert (code, out) == (0, "Accepted 1 reports, rejected 0.\n")


def test_it_applies_the_valid_reports_and_exits_1_naming_the_rejected(tmp_path):
    lines = tmp_path / "mixed.ndjson"
    good = make_report(make_step("good"), cycle_id="good")
    bad = make_report(make_step("bad", status="exploded"), cycle_id="bad")
    lines.write_text(f"{json.dumps(good)}\n{json.dumps(bad)}\nnot json\n")

    code, out, err = run(str(lines))

    assert code == 1
    assert out == "Accepted 1 reports, rejected 2.\n"
    assert f"{lines}:2: steps[0].status: Unknown code 'exploded'" in err
    assert f"{lines}:3: (report): The report is not valid JSON" in err
    assert list(SyncStep.objects.values_list("step_id", flat=True)) == ["good"]
    assert ReceivedReport.objects.count() == 1


def test_it_reports_a_missing_file(tmp_path):
    code, out, err = run(str(tmp_path / "nope.json"))
    assert (code, out) == (1, "Accepted 0 reports, rejected 1.\n")
    assert "nope.json: cannot read" in err
