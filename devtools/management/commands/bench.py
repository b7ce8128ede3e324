import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from devtools.bench import (
    alerts,
    error_pages,
    export,
    health,
    http_ingest,
    ingestion,
    live,
    pages,
    purge,
    suite,
)
from devtools.bench.generate import generate
from devtools.bench.scratch import scratch_database

PARTS = {
    "page": lambda results, runs, **_: pages.measure_page(results, runs),
    "errors": lambda results, runs, **_: error_pages.measure_error_pages(results, runs),
    "health": lambda results, runs, **_: health.measure_health(results, runs),
    "live": lambda results, runs, **_: live.measure_live(results, runs),
    "export": lambda results, failures, **_: export.measure_export(
        results, min(1_000_000, failures)
    ),
    "ingestion": lambda results, steps, failures, **_: ingestion.measure_ingestion(
        results,
        failures=min(100_000, max(1_000, failures // 10)),
        steps=min(20_000, max(1_000, steps // 10)),
        small=min(10_000, max(200, steps // 20)),
    ),
    "alerts": lambda results, steps, failures, **_: alerts.measure_alerts(
        results,
        reports=min(2_000, max(200, steps // 50)),
        failures=min(100_000, max(1_000, failures // 10)),
    ),
    "http": lambda results, steps, **_: http_ingest.measure_http_ingestion(
        results, reports=min(10_000, max(500, steps // 20))
    ),
    "purge": lambda results, steps, failures, **_: purge.measure_purge(
        results, max(1, failures // 5), max(1, steps // 5)
    ),
}
"""Each part of the run, in its order; `--only` picks some while working on them."""


class Command(BaseCommand):
    help = (
        "Benchmark the page, the Sync errors pages, the export, ingestion and the purge "
        "at a large customer's volume, each against a baseline measured in the same run "
        "(PostgreSQL only). "
        "Works in a database of its own, made and dropped by the run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--steps", type=int, default=1_000_000)
        parser.add_argument("--failures", type=int, help="Failed records (default: 10 per step).")
        parser.add_argument("--runs", type=int, default=30, help="Timed runs per page case.")
        parser.add_argument("--output", help="Write the results as Markdown to this file.")
        parser.add_argument("--keep", action="store_true", help="Keep the benchmark database.")
        parser.add_argument(
            "--only",
            type=lambda text: text.split(","),
            help=f"Measure only these parts, comma-separated ({', '.join(PARTS)}).",
        )

    def handle(self, *args, steps, failures, runs, output, keep, only, **options):
        if connection.vendor != "postgresql":
            raise CommandError("The benchmark needs PostgreSQL: set DATABASE_URL.")
        failures = 10 * steps if failures is None else failures
        unknown = set(only or ()) - set(PARTS)
        if unknown:
            raise CommandError(f"Unknown parts: {', '.join(sorted(unknown))}.")
        if only and output:
            raise CommandError("--output writes the whole table: leave out --only.")
        self.parts = only or PARTS
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        with scratch_database("bench", keep=keep):
            self.run(steps, failures, runs, output)

    def say(self, text: str) -> None:
        self.stderr.write(text)

    def run(self, steps: int, failures: int, runs: int, output: str | None) -> None:
        call_command("migrate", verbosity=0)
        results = suite.Results()
        self.say(f"Generating {steps:,} steps and {failures:,} failed records with COPY...")
        start = time.perf_counter()
        generated = generate(steps=steps, failures=failures)
        health.count_rollups()
        with connection.cursor() as cursor:
            # As a table in its steady state is: otherwise autovacuum wakes up
            # for the rows just inserted and competes with the measurements.
            cursor.execute("VACUUM (ANALYZE)")
        seconds = time.perf_counter() - start
        rows = generated.steps + generated.failed_records
        results.notes.insert(
            0,
            f"Data: {generated.cycles:,} cycles, {generated.steps:,} steps and "
            f"{generated.failed_records:,} failed records over five days, generated, "
            f"vacuumed and analysed in {seconds:.0f} s ({rows / seconds:,.0f} rows/s).",
        )
        for name in self.parts:
            self.say(f"{name}...")
            PARTS[name](results, runs=runs, steps=steps, failures=failures)

        command = suite.rerun_command("bench", "BENCH_ARGS")
        self.stdout.write(results.table())
        missed = [row.measure for row in results.rows if row.met is False]
        self.stdout.write(
            f"\nTargets missed: {len(missed)}" + (f" ({'; '.join(missed)})" if missed else "")
        )
        if output:
            write_keeping_analysis(output, render(results, command))
            self.say(f"Wrote {output}")


def render(results, command: str) -> str:
    notes = "\n\n".join(results.notes)
    return f"""# Performance

Measured by `{command}`, with `DATABASE_URL` pointing at PostgreSQL, on
{suite.machine()}. The benchmark makes a database of its own next to the one
named (`<name>_bench`), fills it with COPY and drops it at the end.

Every line compares the product with a baseline measured in the same run on
the same data. Re-run it to check a change; CI runs it at `--steps 20000` so
that it cannot rot, without judging its timings.

{results.table()}

## How each line is measured

- **Page**: server time of `GET /integration/salesforce/sync-status/` through
  Django's test client in-process (middleware, query, rendering), after two
  warm-up requests, against Django admin's default changelist of the same
  table (`/admin/dashboard/syncstep/`, which COUNTs the table every time),
  timed in turns with ours (one admin request every three of ours) so that a
  slower minute of the machine weighs on both sides of the ratio alike.
  Filtered: 24 hours, one object, one status (the admin: object and status).
  Before any measure the data is vacuumed and analysed, as a table in its
  steady state is.
- **Sync errors**: server time of `GET /integration/salesforce/sync-errors/`
  (first page; one error code sorted by failures), measured as the page is,
  against the same groups (failures, records, first and last seen, the
  page's order, 51 rows) computed at read time by a `GROUP BY` over the raw
  failures of the window in `dashboard_failedrecord`, timed in turns with
  ours. The group page is the first page of the record-level group with the
  most failures; the timeline is that group's most frequent record's. Each
  is also timed drawn for every request (nothing kept between them), as the
  first reader after a report is applied finds it.
- **Live poll**: server time of the Sync Status page's poll, as htmx sends
  it, through the test client: with nothing applied since the page's state
  (204), and after a report changed the newest step (its row swapped in
  place), against reloading page 1, which the poll saves.
- **Export**: the CSV download consumed in a forked process, as a web worker
  would serve it; peak RSS is that process's VmHWM, reset before the request.
  The baselines: `psql -c "\\copy (same query) to stdout csv"`, and
  django-tables2's `ExportMixin` (tablib) over 50,000 rows.
- **Ingestion**: the `apply_report` Celery task run in this process on stored
  reports (ten of 10 steps with many failed records; ten of many steps),
  against a raw COPY of as many failed-record rows into a table with the same
  indexes.
- **Purge**: one expired day added to the data, then `purge_expired` while
  another connection reads the page in a loop (the slowest page meanwhile is
  reported), against a plain `DELETE` of the same day re-created.

{notes}
"""


ANALYSIS_HEADING = "## Analysis"


def write_keeping_analysis(path: str, measured: str) -> None:
    """Rewrite the measured part of the file, keeping its hand-written analysis."""
    try:
        with open(path) as previous:
            text = previous.read()
        analysis = text[text.index(ANALYSIS_HEADING) :]
    except (OSError, ValueError):
        analysis = f"{ANALYSIS_HEADING}\n\n(What the numbers mean, by whoever ran it.)\n"
    with open(path, "w") as out:
        out.write(measured.rstrip() + "\n\n" + analysis)
