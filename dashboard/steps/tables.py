"""The table of the Sync Status page: django-tables2's headers, ordering and
paging; its rows are written by a template (dashboard/step_row.html).

The rows were once one f-string each, for speed; in the template (cached
loader, one loop, no include a row) 50 rows cost about 2 ms more a page,
measured on the embedded data (`manage.py run_embedded`): 7.9 ms a page
without rows, 9.9 ms with them, against a budget of 50 ms. The row is now a
template of its own, which the page's live updates render too: its include
costs about 1.5 ms a page of 50 rows (4.8 ms against 3.4 ms inline, the rows
alone, on `make bench` data at 20k steps, on a busy machine).
"""

import hashlib
from functools import cached_property
from typing import TypedDict

import django_tables2 as tables
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import get_format
from django.utils.translation import gettext_lazy as _

from dashboard.choices import COUNTERS, ObjectType, Operation, Status, object_type_label
from dashboard.health.figures import stuck_before
from dashboard.models import SyncStep
from dashboard.times import local_text

NOT_REPORTED = "—"
ROWS_PER_PAGE = 50
COUNTER_LABELS = {
    "new": _("New"),
    "updated": _("Updated"),
    "deleted": _("Deleted"),
    "failed": _("Failed"),
    "skipped": _("Skipped"),
}


class StepRow(TypedDict):
    """One step as the pages show it: every text ready for the template.

    A dict, not a named tuple: the template engine tries `row[name]` before
    `row.name`, and a tuple answers that with an exception, once a cell.
    """

    started: str
    ended: str
    object: str
    object_name: str | None  # a custom object's API name; None for any other
    operation: str
    status: str  # the code, for the badge's class
    status_label: str
    # For a step in process for longer than SYNC_STATUS_STUCK_MINUTES, what its
    # "stuck" flag says on hover; None for any other.
    stuck: str | None
    error_code: str | None
    error_message: str | None
    # Each counter's text, and the link it is: the step's page for a Failed
    # count with failed records stored behind it, None otherwise.
    counts: list[tuple[str, str | None]]
    status_url: str | None  # the step's page, for a step with a job-level error
    row_id: str | None  # its live_row_id on the Sync Status page, None elsewhere


def live_row_id(cycle_id: str, step_id: str) -> str:
    """A step's row on the Sync Status page, named by the engine's ids (a late
    report rebuilds a cycle's steps under new keys): short, to be sent back
    by every poll, and safe in an HTML id whatever the ids hold."""
    return hashlib.blake2b(f"{cycle_id}\0{step_id}".encode(), digest_size=6).hexdigest()


class StepCells:
    """Writes steps as the pages show them, with labels and the thousands
    separator looked up once a page rather than once a cell."""

    def __init__(self):
        self.objects = {code: object_type_label(code) for code in ObjectType.values}
        self.operations = {code: str(label) for code, label in Operation.choices}
        self.statuses = {code: str(label) for code, label in Status.choices}
        self.separator = get_format("THOUSAND_SEPARATOR")
        self.stuck_before = stuck_before(timezone.now())
        self.stuck_title = _("Running for more than %(minutes)s minutes") % {
            "minutes": settings.SYNC_STATUS_STUCK_MINUTES
        }

    def count(self, value: int | None) -> str:
        return NOT_REPORTED if value is None else f"{value:,}".replace(",", self.separator)

    def row(
        self,
        step: SyncStep,
        failures_url: str | None = None,
        error_url: str | None = None,
        row_id: str | None = None,
    ) -> StepRow:
        """`step`'s cells; its Failed count links to `failures_url`, its status to `error_url`."""
        return StepRow(
            started=local_text(step.started_at),
            ended=local_text(step.ended_at) if step.ended_at else NOT_REPORTED,
            object=self.objects[step.object_type],
            object_name=step.object_name,
            operation=self.operations[step.operation],
            status=step.status,
            status_label=self.statuses[step.status],
            stuck=self.stuck_title
            if step.status == Status.IN_PROCESS and step.started_at < self.stuck_before
            else None,
            error_code=step.error_code,
            error_message=step.error_message,
            counts=[
                (
                    self.count(getattr(step, f"{name}_count")),
                    failures_url if name == "failed" else None,
                )
                for name in COUNTERS
            ],
            status_url=error_url,
            row_id=row_id,
        )


class SyncStepTable(tables.Table):
    # Named start and end so that the header links say ?sort=start / -start /
    # end / -end, the parameter values of the page.
    start = tables.Column(accessor="started_at", verbose_name=_("Started At"), orderable=True)
    end = tables.Column(accessor="ended_at", verbose_name=_("Ended At"), orderable=True)
    object = tables.Column(accessor="object_type", verbose_name=_("Object"))
    operation = tables.Column(verbose_name=_("Operation"))
    status = tables.Column(verbose_name=_("Status"), attrs={"th": {"class": "status"}})
    new = tables.Column(verbose_name=COUNTER_LABELS["new"], attrs={"th": {"class": "num"}})
    updated = tables.Column(verbose_name=COUNTER_LABELS["updated"], attrs={"th": {"class": "num"}})
    deleted = tables.Column(verbose_name=COUNTER_LABELS["deleted"], attrs={"th": {"class": "num"}})
    failed = tables.Column(verbose_name=COUNTER_LABELS["failed"], attrs={"th": {"class": "num"}})
    skipped = tables.Column(verbose_name=COUNTER_LABELS["skipped"], attrs={"th": {"class": "num"}})

    class Meta:
        orderable = False
        order_by_field = "sort"
        page_field = "page"
        template_name = "dashboard/steps_table.html"
        empty_text = _("No sync step matches these filters in the last days.")
        attrs = {"class": "steps"}

    def order_start(self, queryset, is_descending):
        # The filterset has ordered the rows already, with its tie-breaker.
        return queryset, True

    order_end = order_start

    @cached_property
    def page_rows(self) -> list[StepRow]:
        """This page's steps. The Failed count of a step with failed records
        stored, and the status of one with a job-level error, link to the
        step's page (the rows carry selectors.with_step_page_facts)."""
        return page_rows([bound_row.record for bound_row in self.page.object_list])


def page_rows(steps: list[SyncStep]) -> list[StepRow]:
    """The Sync Status page's rows of `steps`, which carry
    selectors.with_step_page_facts: the page's and its live updates'."""
    cells = StepCells()

    def row(step: SyncStep) -> StepRow:
        row_id = live_row_id(step.cycle_external_id, step.step_id)
        has_error = step.error_message is not None
        if not (step.has_failures or has_error):
            return cells.row(step, row_id=row_id)
        # About 60 µs a reverse(): 3 ms for a page whose 50 rows all link,
        # measured on the embedded data, against the page's 50 ms budget.
        url = reverse("step", args=[step.cycle_external_id, step.step_id])
        return cells.row(
            step,
            failures_url=url if step.has_failures else None,
            error_url=url if has_error else None,
            row_id=row_id,
        )

    return [row(step) for step in steps]
