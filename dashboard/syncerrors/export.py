"""A group's failures as CSV (docs/errors.md): the columns, time zone and
formula rules of the sync errors export, whose module writes them."""

from collections.abc import Iterator

from dashboard.models import ErrorGroup
from dashboard.steps.export import csv_lines, failure_rows, job_error_rows
from dashboard.syncerrors.selectors import group_failures


def group_export_lines(group: ErrorGroup) -> Iterator[str]:
    """The CSV of a group's failures in its page's order, streamed: a row per
    failed record, or per step for a job-level group."""
    failures = group_failures(group)
    if group.level == ErrorGroup.Level.JOB:
        return csv_lines(job_error_rows(failures))
    return csv_lines(failure_rows(failures))
