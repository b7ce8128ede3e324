import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from dashboard.alerts.rules import example_rule_ensure
from dashboard.ingest.reports import report_receive
from dashboard.ingest.simulator import SyncEngineSimulator, play_backfill, play_live
from dashboard.models import SyncCycle
from dashboard.storage.retention import purge_expired, retention_cutoff
from dashboard.tasks import (
    enqueue_report_apply,
    evaluate_alerts,
    expire_error_groups,
    sweep_pending_reports,
    sweep_unsent_notices,
)

log = logging.getLogger(__name__)


def send_in_process(report: dict) -> None:
    report_receive(raw=json.dumps(report), source="simulator", enqueue=enqueue_report_apply)


def every(seconds: float, job) -> None:
    """Run `job` forever, every `seconds`; a failure is logged, not fatal."""
    while True:
        time.sleep(seconds)
        try:
            job()
        except Exception:
            log.exception("embedded periodic job failed")


class Command(BaseCommand):
    help = (
        "Run the whole product in one process, with no server to install: SQLite, "
        "tasks in-process, five days of simulated history, live cycles, hourly purge."
    )

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument(
            "--no-simulator",
            action="store_true",
            help="Serve what is stored; send no simulated cycles.",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=60,
            help="Seconds between live simulated cycles (default 60).",
        )

    def handle(self, *args, addrport, no_simulator, interval, **options):
        call_command("migrate", interactive=False, verbosity=0)
        User = get_user_model()
        if not User.objects.exists():
            User.objects.create_superuser("admin", password="admin")
            self.stdout.write("Created the demo user admin (password: admin).")
        self.stdout.write(purge_expired().summary())

        if not no_simulator:
            simulator = SyncEngineSimulator()
            latest = SyncCycle.objects.order_by("-started_at").first()
            since = retention_cutoff()
            if latest is not None:
                since = max(since, latest.started_at + timedelta(minutes=5))
            self.stdout.write("Filling in the history since the last cycle...")
            # One log line per backfilled report would bury the server's address.
            ingest_log = logging.getLogger("dashboard.ingest.reports")
            level, ingest_log.level = ingest_log.level, logging.WARNING
            cycles = play_backfill(simulator, send_in_process, since, timedelta(minutes=5))
            ingest_log.setLevel(level)
            self.stdout.write(f"Backfilled {cycles} cycles; live cycles every {interval:g}s.")
        # After the backfill, so that five days of history send no notices.
        if example_rule_ensure() is not None:
            self.stdout.write(
                "Created an example alert rule: each failed step is e-mailed to this "
                "console (change it at /admin/dashboard/alertrule/)."
            )
        if not no_simulator:
            threading.Thread(
                target=play_live,
                args=(simulator, send_in_process, timedelta(seconds=interval)),
                daemon=True,
                name="simulator",
            ).start()

        threading.Thread(target=every, args=(3600, purge_expired), daemon=True).start()
        threading.Thread(target=every, args=(60, expire_error_groups), daemon=True).start()
        # In-process tasks rarely fail, but one that did is retried from here.
        threading.Thread(target=every, args=(60, sweep_pending_reports), daemon=True).start()
        # sync_stale rules and digests; notices to retry.
        threading.Thread(target=every, args=(60, evaluate_alerts), daemon=True).start()
        threading.Thread(target=every, args=(60, sweep_unsent_notices), daemon=True).start()
        self.stdout.write(
            f"Sync Status at http://{addrport}/ (started {datetime.now(UTC):%H:%M} UTC)."
        )
        call_command("runserver", addrport, use_reloader=False)
