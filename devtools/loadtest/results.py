"""What a load run measured and whether it passed, read from the admins'
requests (recorded by the locustfile), gunicorn's access log and the stored
reports. Pure functions: the driver
(`make load`) gathers the inputs, tests feed their own."""

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field

PAGE = "/integration/salesforce/sync-status/"
EXPORT = "/integration/salesforce/sync-status/export.csv"
INGEST = "/api/v1/sync-reports/"

# The access-log line the driver asks gunicorn for: request line, status, microseconds.
ACCESS_LOG_FORMAT = 'access "%(r)s" %(s)s %(D)s'
ACCESS_LINE = re.compile(
    r'^access "(?P<method>\S+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) (?P<us>\d+)$'
)

SECTION_BEGIN = '<!-- load: begin (written by `make load LOAD_ARGS="--output ..."`) -->'
SECTION_END = "<!-- load: end -->"


@dataclass
class Access:
    method: str
    path: str
    status: int
    ms: float


@dataclass
class Request:
    """One request of the admins, as the locustfile records it."""

    start: float | None
    name: str
    ms: float
    error: str | None


@dataclass
class Timing:
    name: str
    requests: int
    failures: int
    p50: float
    p95: float
    p99: float
    measured: str


@dataclass
class Run:
    admins: int
    requests: list[Request]
    accesses: list[Access]
    locust_exit: int
    simulator_exit: int | None
    reports_sent: int
    report_statuses: dict[str, int]
    applied_after_ms: list[float] = field(default_factory=list)
    stopped_processes: list[str] = field(default_factory=list)


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0


def timing(name: str, times: list[float], failures: int, measured: str) -> Timing:
    return Timing(
        name=name,
        requests=len(times),
        failures=failures,
        p50=percentile(times, 0.50),
        p95=percentile(times, 0.95),
        p99=percentile(times, 0.99),
        measured=measured,
    )


def parse_requests(jsonl: str) -> list[Request]:
    return [Request(**json.loads(line)) for line in jsonl.splitlines() if line.strip()]


def client_timing(label: str, requests: list[Request]) -> Timing:
    times = [request.ms for request in requests]
    failures = sum(request.error is not None for request in requests)
    return timing(label, times, failures, "admins (locust)")


def all_in_at(requests: list[Request], admins: int) -> float | None:
    """When the last admin was through the login form, if all of them were."""
    logins = [r for r in requests if r.name == "login" and r.error is None]
    if len(logins) < admins:
        return None
    return max(r.start + r.ms / 1000 for r in logins)


def parse_access_log(text: str) -> list[Access]:
    accesses = []
    for line in text.splitlines():
        match = ACCESS_LINE.match(line.strip())
        if match:
            accesses.append(
                Access(
                    match["method"], match["path"], int(match["status"]), int(match["us"]) / 1000
                )
            )
    return accesses


def server_timing(label: str, accesses: list[Access]) -> Timing:
    failures = sum(access.status >= 400 for access in accesses)
    return timing(label, [access.ms for access in accesses], failures, "gunicorn (server)")


def is_page(access: Access) -> bool:
    return access.method == "GET" and access.path.split("?")[0] == PAGE


def is_ingest(access: Access) -> bool:
    return access.method == "POST" and access.path == INGEST


def timings(run: Run) -> list[Timing]:
    """The table of the run: what admins saw, what the server spent, how
    fast the simulator's reports were applied."""
    requests = [r for r in run.requests if r.start is not None]

    def named(*names: str) -> list[Request]:
        return [r for r in requests if r.name in names]

    rows = [
        client_timing("login (form, then POST)", named("login form", "login")),
        client_timing("page, whole run", named("page")),
    ]
    # Once every admin is in, the login ramp (password hashing, slow on
    # purpose) no longer competes for the CPU: the steady state of browsing.
    settled = all_in_at(requests, run.admins)
    steady, suffix = requests, ", whole run"
    if settled is not None:
        steady = [r for r in requests if r.start >= settled]
        suffix = ", once every admin had logged in"
        rows.append(client_timing("page" + suffix, [r for r in steady if r.name == "page"]))
    rows += [
        server_timing("page, whole run", [a for a in run.accesses if is_page(a)]),
        client_timing("export.csv" + suffix, [r for r in steady if r.name == "export.csv"]),
        client_timing("read API" + suffix, [r for r in steady if r.name == "api: sync-steps"]),
        client_timing("all requests of the admins, whole run", requests),
        server_timing("ingest POST", [a for a in run.accesses if is_ingest(a)]),
        timing(
            "ingest: received → applied",
            run.applied_after_ms,
            sum(n for state, n in run.report_statuses.items() if state != "applied"),
            "stored reports",
        ),
    ]
    return rows


def problems(run: Run) -> list[str]:
    """Why the run failed; empty when it passed."""
    found = []
    pages = [r for r in run.requests if r.name == "page"]
    if not pages:
        found.append("the admins requested no page")
    errors = Counter(f"{r.name}: {r.error}" for r in run.requests if r.error)
    if errors:
        shown = "; ".join(f"{n}x {error}" for error, n in errors.most_common(5))
        found.append(f"{errors.total()} requests of the admins failed ({shown})")
    if run.locust_exit != 0:
        found.append(f"locust exited with {run.locust_exit}")
    refused = Counter(f"{a.status} {a.method} {a.path.split('?')[0]}" for a in run.accesses
                      if a.status >= 400)  # fmt: skip
    if refused:
        shown = "; ".join(f"{n}x {what}" for what, n in refused.most_common(5))
        found.append(f"the server answered {refused.total()} requests with an error ({shown})")
    if run.simulator_exit != 0:
        found.append(f"the simulator exited with {run.simulator_exit}")
    if run.reports_sent == 0:
        found.append("the simulator sent no report")
    stored = sum(run.report_statuses.values())
    if stored != run.reports_sent:
        found.append(f"the simulator sent {run.reports_sent} reports, {stored} were stored")
    unapplied = {state: n for state, n in run.report_statuses.items() if state != "applied"}
    if unapplied:
        found.append(f"reports not applied: {unapplied}")
    found += [f"{name} stopped during the run" for name in run.stopped_processes]
    return found


def table(rows: list[Timing]) -> str:
    lines = [
        "| requests of | count | failures | p50 | p95 | p99 | measured by |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for t in rows:
        lines.append(
            f"| {t.name} | {t.requests:,} | {t.failures:,} | {t.p50:,.0f} ms "
            f"| {t.p95:,.0f} ms | {t.p99:,.0f} ms | {t.measured} |"
        )
    return "\n".join(lines)


def write_section(path: str, section: str, title: str = "# Reliability") -> None:
    """Write `section` between the markers of a load section, leaving the rest
    of the file (other sections, written by hand or by other tools) as it is."""
    try:
        with open(path) as previous:
            text = previous.read()
    except FileNotFoundError:
        text = f"{title}\n"
    marked = f"{SECTION_BEGIN}\n{section.strip()}\n{SECTION_END}"
    if SECTION_BEGIN in text and SECTION_END in text:
        before = text[: text.index(SECTION_BEGIN)]
        after = text[text.index(SECTION_END) + len(SECTION_END) :]
        text = before + marked + after
    else:
        text = text.rstrip() + "\n\n" + marked + "\n"
    with open(path, "w") as out:
        out.write(text)
