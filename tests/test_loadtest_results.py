"""How `make load` judges a run (devtools/loadtest/results.py). The run itself
is too slow for the suite: CI runs it as a step of its own."""

from devtools.loadtest.results import (
    SECTION_BEGIN,
    SECTION_END,
    Request,
    Run,
    parse_access_log,
    problems,
    table,
    timings,
    write_section,
)

ACCESS_LOG = """\
[2026-11-29 05:40:01 +0000] [812] [INFO] Booting worker with pid: 812
access "GET /accounts/login/ HTTP/1.1" 200 31000
access "POST /accounts/login/ HTTP/1.1" 302 240000
access "GET /integration/salesforce/sync-status/?status=failed HTTP/1.1" 200 12500
access "GET /integration/salesforce/sync-status/export.csv HTTP/1.1" 200 40000
access "POST /api/v1/sync-reports/ HTTP/1.1" 202 9000
access "POST /api/v1/sync-reports/ HTTP/1.1" 202 11000
"""


def admin_requests(admins: int = 2) -> list[Request]:
    requests = []
    for n in range(admins):
        requests += [
            Request(start=100.0 + n, name="login form", ms=30, error=None),
            Request(start=100.1 + n, name="login", ms=250, error=None),
        ]
    requests += [Request(start=110.0 + n, name="page", ms=10 + n, error=None) for n in range(20)]
    requests.append(Request(start=111.0, name="export.csv", ms=45, error=None))
    return requests


def passing_run(**changes) -> Run:
    fields = dict(
        admins=2,
        requests=admin_requests(),
        accesses=parse_access_log(ACCESS_LOG),
        locust_exit=0,
        simulator_exit=0,
        reports_sent=2,
        report_statuses={"applied": 2},
        applied_after_ms=[120.0, 300.0],
    )
    return Run(**(fields | changes))


def test_it_passes_a_run_without_error_or_lost_report():
    assert problems(passing_run()) == []


def test_it_reads_gunicorns_access_log_in_the_format_it_asks_for():
    accesses = parse_access_log(ACCESS_LOG)
    assert len(accesses) == 6
    assert accesses[2].path == "/integration/salesforce/sync-status/?status=failed"
    assert (accesses[2].status, accesses[2].ms) == (200, 12.5)


def test_it_fails_a_run_where_a_request_of_an_admin_failed():
    requests = admin_requests()
    requests.append(Request(start=112.0, name="page", ms=30_000, error="ReadTimeout: 30s"))
    found = problems(passing_run(requests=requests))
    assert found == ["1 requests of the admins failed (1x page: ReadTimeout: 30s)"]


def test_it_fails_a_run_where_locust_failed_whatever_it_recorded():
    assert problems(passing_run(locust_exit=1)) == ["locust exited with 1"]


def test_it_fails_a_run_where_the_server_answered_an_error_to_anyone():
    log = ACCESS_LOG + 'access "POST /api/v1/sync-reports/ HTTP/1.1" 500 3000\n'
    found = problems(passing_run(accesses=parse_access_log(log)))
    assert found == [
        "the server answered 1 requests with an error (1x 500 POST /api/v1/sync-reports/)"
    ]


def test_it_fails_a_run_where_a_report_was_lost_or_not_applied():
    assert problems(passing_run(report_statuses={"applied": 1})) == [
        "the simulator sent 2 reports, 1 were stored"
    ]
    assert problems(passing_run(report_statuses={"applied": 1, "accepted": 1})) == [
        "reports not applied: {'accepted': 1}"
    ]


def test_it_fails_a_run_where_the_simulator_or_a_server_process_stopped():
    found = problems(passing_run(simulator_exit=1, stopped_processes=["worker"]))
    assert found == ["the simulator exited with 1", "worker stopped during the run"]


def test_it_tells_the_page_once_every_admin_was_in_apart_from_the_whole_run():
    requests = admin_requests()
    requests.append(Request(start=101.0, name="page", ms=900, error=None))  # while logging in
    rows = {
        row.name: row for row in timings(passing_run(requests=requests)) if "admins" in row.measured
    }
    assert rows["page, whole run"].requests == 21
    assert rows["page, whole run"].p99 == 900
    settled = rows["page, once every admin had logged in"]
    assert (settled.requests, settled.p50, settled.p95) == (20, 19, 28)
    row = "| export.csv, once every admin had logged in | 1 | 0 | 45 ms | 45 ms | 45 ms |"
    assert row in table(list(rows.values()))


def test_it_writes_its_section_and_leaves_the_rest_of_the_file_alone(tmp_path):
    path = tmp_path / "reliability.md"
    write_section(str(path), "## Load\n\nfirst run")
    assert (
        path.read_text()
        == f"# Reliability\n\n{SECTION_BEGIN}\n## Load\n\nfirst run\n{SECTION_END}\n"
    )

    path.write_text(path.read_text() + "\n## Faults\n\nwritten by hand\n")
    write_section(str(path), "## Load\n\nsecond run")
    text = path.read_text()
    assert "second run" in text and "first run" not in text
    assert text.endswith(f"{SECTION_END}\n\n## Faults\n\nwritten by hand\n")
