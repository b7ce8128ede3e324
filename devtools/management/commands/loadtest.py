import contextlib
import math
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count

from dashboard.apps import ADMINS_GROUP
from dashboard.ingest.tokens import token_create
from dashboard.models import ReceivedReport
from devtools.bench.scratch import scratch_database
from devtools.bench.suite import machine, rerun_command
from devtools.loadtest import results
from devtools.processes import (
    GUNICORN_CONFIG,
    ROOT,
    Processes,
    free_port,
    wait_for_port,
    wait_until,
)

LOCUSTFILE = ROOT / "devtools" / "loadtest" / "locustfile.py"
NORMAL_INTERVAL = 300  # seconds between cycle starts of a real sync engine


class Command(BaseCommand):
    help = (
        "Load test on loopback: admins browsing and exporting (locust) while the "
        "simulator ingests faster than a real engine, against gunicorn, a Celery "
        "worker, beat, PostgreSQL and Redis. Fails on any error or lost report. "
        "Works in a database of its own, made and dropped by the run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--duration", type=int, default=120, help="Seconds of load.")
        parser.add_argument("--users", type=int, default=50, help="Concurrent admins.")
        parser.add_argument(
            "--spawn-rate", type=float, default=2, help="Admins logging in a second (default 2)."
        )
        parser.add_argument(
            "--speed",
            type=float,
            default=10,
            help="Cycles this many times as often as a real engine (one every 300 s).",
        )
        parser.add_argument(
            "--rate", type=float, default=1, help="Records per step, times a real engine's."
        )
        parser.add_argument("--backfill", default="5d", help="History made first (e.g. 5d).")
        parser.add_argument(
            "--web-workers",
            type=int,
            default=2 * (os.cpu_count() or 1) + 1,
            help="gunicorn workers (default: 2 x cores + 1; threads: syncstatus/gunicorn.py).",
        )
        parser.add_argument(
            "--output", help="Write the results of a passing run into this Markdown file."
        )
        parser.add_argument("--keep", action="store_true", help="Keep the database and logs.")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("The load test needs PostgreSQL: set DATABASE_URL.")
        workdir = Path(tempfile.mkdtemp(prefix="loadtest-"))
        processes = Processes(workdir)
        with scratch_database("load", keep=options["keep"]):
            try:
                run = self.run(processes, workdir, options)
            finally:
                processes.stop_all()
        found = results.problems(run)
        if found:
            self.stderr.write(processes.all_output())
            self.stderr.write(f"Logs kept in {workdir}")
            raise CommandError("Load test failed:\n- " + "\n- ".join(found))
        if options["output"]:
            results.write_section(options["output"], self.section)
            self.say(f"Wrote {options['output']}")
        if not options["keep"]:
            shutil.rmtree(workdir, ignore_errors=True)
        return "Done! No error, no report lost."

    def say(self, text: str) -> None:
        self.stderr.write(text)

    def run(self, processes: Processes, workdir: Path, options) -> results.Run:
        load_average = os.getloadavg()[0]
        self.say(f"Preparing {connection.settings_dict['NAME']}: migrate, {options['backfill']}...")
        call_command("migrate", verbosity=0)
        database_url = urlsplit(os.environ["DATABASE_URL"])
        database_url = database_url._replace(path="/" + connection.settings_dict["NAME"]).geturl()
        self.backfill(database_url, options["backfill"])
        password = secrets.token_urlsafe(16)
        self.usernames = admins(options["users"], password)
        token = token_create(name="load-simulator")

        env = {
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": processes.broker(),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            # Plain HTTP on loopback, where production has a TLS proxy in front.
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_COOKIES": "0",
            "LOG_LEVEL": "WARNING",
        }
        base = self.web(processes, env, options["web_workers"])
        processes.worker(env)
        processes.beat(env)

        interval = NORMAL_INTERVAL / options["speed"]
        cycles = max(1, math.ceil(options["duration"] / interval))
        self.say(
            f"Load: {options['users']} admins for {options['duration']} s; the simulator "
            f"plays {cycles} cycles, one every {interval:.0f} s..."
        )
        simulator = processes.start(
            "simulator",
            [sys.executable, "manage.py", "simulate_sync", "--live", "--url", base,
             "--token", token, "--cycles", str(cycles), "--speed", str(options["speed"]),
             "--rate", str(options["rate"]), "--seed", "2"],
            env,
        )  # fmt: skip
        locust = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE),
             "--headless", "--host", base, "--users", str(options["users"]),
             "--spawn-rate", str(options["spawn_rate"]), "--run-time", f"{options['duration']}s",
             "--stop-timeout", "10", "--only-summary",
             "--loglevel", "WARNING"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "LOADTEST_USERS": ",".join(self.usernames),
                 "LOADTEST_PASSWORD": password, "LOADTEST_RECORD": str(workdir / "requests.jsonl")},
            stdout=open(workdir / "locust.log", "wb"),  # noqa: SIM115 - closed with the process
            stderr=subprocess.STDOUT,
        )  # fmt: skip

        self.say("Waiting for the simulator to finish and every report to be applied...")
        with contextlib.suppress(subprocess.TimeoutExpired):
            simulator.wait(timeout=120)
        simulator_exit = simulator.poll()
        sent = reports_sent(processes.output("simulator"))
        with contextlib.suppress(TimeoutError):
            wait_until(
                lambda: not ReceivedReport.objects.filter(status="accepted").exists(),
                timeout=120,
                what="no report waiting",
            )
        stopped = [
            name for name in ("web", "worker", "beat") if processes.running[name].poll() is not None
        ]
        processes.stop_all()

        run = self.gather(workdir, processes, locust.returncode, simulator_exit, sent, stopped)
        self.stdout.write(results.table(results.timings(run)))
        self.section = render(run, options, cycles, interval, load_average)
        return run

    def backfill(self, database_url: str, backfill: str) -> None:
        """History through the real ingestion path, applied in that process
        (no broker), so that the worker starts with nothing queued."""
        done = subprocess.run(
            [sys.executable, "manage.py", "simulate_sync", "--backfill", backfill, "--seed", "1"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": "",
                 "REDIS_URL": "", "LOG_LEVEL": "WARNING"},
            capture_output=True,
            text=True,
        )  # fmt: skip
        if done.returncode != 0:
            raise CommandError(f"The backfill failed:\n{done.stderr[-4000:]}")
        self.say(done.stdout.strip().splitlines()[-1])

    def web(self, processes: Processes, env: dict, workers: int) -> str:
        port = free_port()
        processes.start(
            "web",
            [sys.executable, "-m", "gunicorn", *GUNICORN_CONFIG, "syncstatus.wsgi",
             "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
             "--access-logformat", results.ACCESS_LOG_FORMAT],
            env,
        )  # fmt: skip
        wait_for_port(port)
        return f"http://127.0.0.1:{port}"

    def gather(self, workdir, processes, locust_exit, simulator_exit, sent, stopped):
        record = workdir / "requests.jsonl"
        reports = ReceivedReport.objects.filter(source="http")
        statuses = dict(reports.values_list("status").annotate(n=Count("pk")))
        return results.Run(
            admins=len(self.usernames),
            requests=results.parse_requests(record.read_text() if record.exists() else ""),
            accesses=results.parse_access_log(processes.output("web")),
            locust_exit=locust_exit,
            simulator_exit=simulator_exit,
            reports_sent=sent,
            report_statuses=statuses,
            applied_after_ms=[
                (applied - received).total_seconds() * 1000
                for received, applied in reports.exclude(applied_at=None).values_list(
                    "received_at", "applied_at"
                )
            ],
            stopped_processes=stopped,
        )


def admins(count: int, password: str) -> list[str]:
    """`count` admins through the group, as the README makes them; one
    password hash for all, since hashing is slow on purpose."""
    hashed = make_password(password)
    users = User.objects.bulk_create(
        User(username=f"loadtest-admin-{n}", password=hashed) for n in range(1, count + 1)
    )
    Group.objects.get(name=ADMINS_GROUP).user_set.add(*users)
    return [user.username for user in users]


def reports_sent(output: str) -> int:
    """From the simulator's "Done! Sent 4 cycles in 170 reports (...)"."""
    for line in output.splitlines():
        if line.startswith("Done! Sent"):
            return int(line.split(" in ")[1].split()[0])
    return 0


def render(run, options, cycles, interval, load_average) -> str:
    command = rerun_command("load", "LOAD_ARGS")
    per_minute = run.reports_sent / max(options["duration"], interval * cycles) * 60
    redis = "the Redis of REDIS_URL" if os.environ.get("REDIS_URL") else "a Redis of its own"
    applied = run.report_statuses.get("applied", 0)
    users, speed, rate = options["users"], options["speed"], options["rate"]
    text = f"""## Load

Measured by `{command}`, with `DATABASE_URL` pointing at
PostgreSQL and {redis}, on {machine()}. Load average {load_average:.1f} when it
started: the two cores are shared with other work (including the load
generator itself), so timings vary from run to run; the errors and lost
reports, which are what the run judges, do not. Run on
{datetime.now(UTC):%Y-%m-%d %H:%M} UTC.

What runs: gunicorn ({options["web_workers"]} workers, 2 x cores + 1), a
Celery worker (concurrency 2) and beat, on simulated history
(`--backfill {options["backfill"]}`) in a database of its own (`<name>_load`,
dropped at the end). For {options["duration"]} s, {users} admins (locust,
{options["spawn_rate"]:g} logging in a second through the login form, CSRF and
all) browse with 1-4 s of thought between clicks: the first page, filters
(objects, operations, statuses, a start-time window), sorts, a few next pages
or a far one, the CSV export of errors, the JSON read API. Meanwhile the
simulator posts live cycles over HTTP {speed:g} times as often as a real
engine: one every {interval:.0f} s instead of {NORMAL_INTERVAL} s
(`simulate_sync --speed {speed:g}`), {run.reports_sent} reports in {cycles}
cycles, about {per_minute:.0f} a minute. Rate, not size: `--rate` (here
{rate:g}) would make every step carry more records, a bigger customer rather
than a busier engine, which [performance.md](performance.md) measures; and it
stays well under the 600 reports a minute a token may send.

{results.table(results.timings(run))}

"Once every admin had logged in" leaves out the ramp, when each login spends
about 0.2 s of CPU hashing the password (on purpose) and requests queue behind
it: the steady state of {users} admins browsing. Server times come from
gunicorn's access log, admins' times from locust (they include the wait for a
free gunicorn worker); received → applied is how long a report waited for the
worker after its 202.

The run passes only if no request of the admins failed (status, or content:
the table of steps, the CSV header, the JSON shape), gunicorn answered no
request with 400 or more, the simulator exited 0, and every report it sent
was stored and applied: {applied} of {run.reports_sent}.
"""
    return reflow(text)


def reflow(markdown: str, width: int = 78) -> str:
    """Paragraphs filled to `width`, since the values put into them vary in length."""
    blocks = markdown.strip().split("\n\n")
    return (
        "\n\n".join(
            block
            if block.startswith(("|", "#"))
            else textwrap.fill(
                " ".join(block.split()), width, break_long_words=False, break_on_hyphens=False
            )
            for block in blocks
        )
        + "\n"
    )
