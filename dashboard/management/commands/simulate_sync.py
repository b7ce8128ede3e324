import json
import re
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError

from dashboard.ingest.reports import report_receive
from dashboard.ingest.simulator import SyncEngineSimulator, play_backfill, play_live
from dashboard.tasks import enqueue_report_apply


def duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([dhm])", text)
    if not match:
        raise ValueError(text)
    number, unit = int(match[1]), match[2]
    return timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: number})


# Attempts at posting one report when the server asks to come back later.
RETRIES = 10


class Command(BaseCommand):
    help = (
        "Play a realistic sync engine against the real ingestion path: "
        "history with --backfill, then live cycles until stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--backfill",
            type=duration,
            metavar="5d",
            help="Write this much finished history first (e.g. 5d, 12h).",
        )
        parser.add_argument(
            "--live",
            action="store_true",
            help="After any backfill, play cycles as they happen, until stopped.",
        )
        parser.add_argument("--cycles", type=int, help="Stop live play after this many cycles.")
        parser.add_argument(
            "--interval",
            type=float,
            default=300,
            help="Seconds between cycle starts (default 300).",
        )
        parser.add_argument("--seed", type=int, help="Make the run reproducible.")
        parser.add_argument(
            "--speed", type=float, default=1.0, help="Play live cycles this many times faster."
        )
        parser.add_argument(
            "--rate",
            type=float,
            default=1.0,
            help="Scale record volumes (10 = ten times the records).",
        )
        parser.add_argument(
            "--url",
            help="Post to this server's API instead of in-process, e.g. http://127.0.0.1:8000",
        )
        parser.add_argument("--token", help="Ingest token for --url.")

    def handle(self, *args, **options):
        if options["url"] and not options["token"]:
            raise CommandError("--url needs --token (make one with create_ingest_token).")
        if options["url"] and not options["url"].startswith(("http://", "https://")):
            raise CommandError("--url must be an http:// or https:// address.")
        if not options["backfill"] and not options["live"]:
            raise CommandError("Say what to play: --backfill 5d, --live, or both.")
        self.url, self.token = options["url"], options["token"]
        self.sent = self.steps = self.failures = 0
        simulator = SyncEngineSimulator(seed=options["seed"], rate=options["rate"])
        interval = timedelta(seconds=options["interval"])
        cycles = 0
        if options["backfill"]:
            since = datetime.now(UTC) - options["backfill"]
            cycles += play_backfill(simulator, self.send, since, interval)
        if options["live"]:
            cycles += play_live(
                simulator, self.send, interval, options["cycles"], speed=options["speed"]
            )
        return (
            f"Done! Sent {cycles} cycles in {self.sent} reports "
            f"({self.steps} steps, {self.failures} failed records)."
        )

    def send(self, report: dict) -> None:
        body = json.dumps(report)
        if self.url:
            self.post(body)
        else:
            report_receive(raw=body, source="simulator", enqueue=enqueue_report_apply)
        self.sent += 1
        self.steps += len(report["steps"])
        self.failures += sum(len(step.get("failures", ())) for step in report["steps"])

    def post(self, body: str) -> None:
        """POST a report as the engine should: a 429 or 503 is not a refusal
        of the report but a request to send it again after Retry-After."""
        for attempt in range(1, RETRIES + 1):
            request = urllib.request.Request(  # noqa: S310 - scheme checked in handle()
                self.url.rstrip("/") + "/api/v1/sync-reports/",
                data=body.encode(),
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Content-Type": "application/json",
                },
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=30):  # noqa: S310
                    return
            except urllib.error.HTTPError as error:
                if error.code not in (429, 503) or attempt == RETRIES:
                    raise CommandError(
                        f"The server refused a report: {error.code} {error.read()[:500]!r}"
                    ) from None
                retry_after = error.headers.get("Retry-After", "")
                time.sleep(min(int(retry_after) if retry_after.isdigit() else 5, 120))
