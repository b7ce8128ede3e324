import json
import sys
from collections.abc import Iterator
from pathlib import Path

from django.core.management.base import BaseCommand

from dashboard.ingest.reports import report_receive
from dashboard.ingest.validation import ReportInvalid
from dashboard.tasks import enqueue_report_apply


def read_reports(name: str, stdin) -> Iterator[tuple[str, str]]:
    """Yield (where, text) for each report in a JSON or JSON Lines file."""
    if name == "-":
        label, text = "<stdin>", stdin.read()
    else:
        label, text = name, Path(name).read_text(encoding="utf-8")
    if Path(name).suffix not in {".jsonl", ".ndjson"}:
        try:
            json.loads(text)
        except ValueError:
            pass  # Not one JSON document: read it as JSON Lines.
        else:
            yield label, text
            return
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield f"{label}:{number}", line


class Command(BaseCommand):
    help = "Ingest sync reports from JSON or JSON Lines files ('-' for stdin)."
    # Lets tests hand in stdin, as they do stdout.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE")

    def handle(self, *args, files, **options):
        accepted = rejected = 0
        for name in files:
            try:
                reports = list(read_reports(name, options.get("stdin") or sys.stdin))
            except (OSError, UnicodeDecodeError) as exc:
                self.stderr.write(f"{name}: cannot read: {exc}")
                rejected += 1
                continue
            for where, text in reports:
                try:
                    report_receive(raw=text, source="cli", enqueue=enqueue_report_apply)
                except ReportInvalid as exc:
                    rejected += 1
                    for error in exc.errors:
                        self.stderr.write(f"{where}: {error.path or '(report)'}: {error.message}")
                    if exc.total > len(exc.errors):
                        self.stderr.write(
                            f"{where}: and {exc.total - len(exc.errors)} more problems"
                        )
                else:
                    accepted += 1
        self.stdout.write(f"Accepted {accepted} reports, rejected {rejected}.")
        if rejected:
            sys.exit(1)
