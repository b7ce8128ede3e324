"""The measurements of docs/performance.md, each against a baseline measured in
the same run on the same data. Timings live here, never in the test suite."""

import multiprocessing
import os
import platform
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.test import Client

PAGE = "/integration/salesforce/sync-status/"
EXPORT = "/integration/salesforce/sync-status/export.csv"
LIVE = "/integration/salesforce/sync-status/live/"  # the page's poll (devtools/bench/live.py)
ADMIN = "/admin/dashboard/syncstep/"


@dataclass
class Row:
    measure: str
    ours: str
    baseline: str
    ratio: str
    target: str
    met: bool | None = None


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args, **kwargs):
        self.rows.append(Row(*args, **kwargs))

    def table(self) -> str:
        lines = [
            "| measure | ours | baseline | ratio | target | met |",
            "|---|---|---|---|---|---|",
        ]
        for row in self.rows:
            met = "—" if row.met is None else ("yes" if row.met else "**no**")
            cells = [row.measure, row.ours, row.baseline, row.ratio, row.target, met]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def timed(fn: Callable, runs: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def timed_side_by_side(
    ours: Callable, baseline: Callable, runs: int, baseline_runs: int = 10
) -> tuple[list[float], list[float]]:
    """Both timed in turns rather than one after the other, so that a slower
    minute of a shared machine weighs on both sides of the ratio alike. The
    baseline, seconds a run at full size where ours takes milliseconds, is
    timed at most `baseline_runs` times, spread over ours."""
    ours_times, baseline_times = [], []
    timed(ours, runs=0)  # its warm-up requests only
    timed(baseline, runs=0, warmup=1)
    every = max(3, -(-runs // baseline_runs))
    for run in range(runs):
        ours_times += timed(ours, 1, warmup=0)
        if run % every == 0:
            baseline_times += timed(baseline, 1, warmup=0)
    return ours_times, baseline_times


def rerun_command(target: str, variable: str) -> str:
    """How to run this again from the Makefile, with the arguments of this run."""
    arguments = shlex.join(sys.argv[2:])
    return f"make {target}" + (f' {variable}="{arguments}"' if arguments else "")


def machine() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}, "
        f"PostgreSQL {version}"
    )


def admin_client() -> Client:
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    return client


def get(client: Client, url: str, expect: int = 200):
    response = client.get(url, secure=True)
    if response.status_code != expect:
        raise RuntimeError(f"{url} answered {response.status_code}")
    if response.streaming:
        for _ in response.streaming_content:
            pass
    return response


def in_child(function: Callable[..., dict], *args) -> dict:
    """Run `function` in a forked process (a web worker of its own, whose peak
    memory is its own) and return its result; its failure fails the run."""
    connections.close_all()  # never share a database connection with the child
    receiver, sender = multiprocessing.Pipe(duplex=False)

    def run():
        try:
            sender.send(("ok", function(*args)))
        except BaseException:
            sender.send(("error", traceback.format_exc()))

    child = multiprocessing.get_context("fork").Process(target=run)
    child.start()
    while not receiver.poll(1):
        if not child.is_alive():
            raise RuntimeError(f"the measuring process died (exit code {child.exitcode})")
    outcome, value = receiver.recv()
    child.join()
    if outcome == "error":
        raise RuntimeError(f"the measuring process failed:\n{value}")
    return value


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key + ":"))
