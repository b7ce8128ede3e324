"""The table of the Sync Status page: django-tables2's headers, ordering and
paging; its rows are written by the template (dashboard/steps_table.html).

The rows were once one f-string each, for speed; in the template (cached
loader, one loop, no include a row) 50 rows cost about 2 ms more a page,
measured on the embedded data (`manage.py run_embedded`): 7.9 ms a page
without rows, 9.9 ms with them, against a budget of 50 ms.
"""

from typing import TypedDict

import django_tables2 as tables
from django.utils.formats import get_format
from django.utils.translation import gettext_lazy as _

from dashboard.choices import COUNTERS, ObjectType, Operation, Status, object_type_label
from dashboard.models import SyncStep
from dashboard.times import local_text

NOT_REPORTED = "—"


class StepRow(TypedDict):
    """One step as the page shows it: every text ready for the template.

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
    error_code: str | None
    error_message: str | None
    counts: list[str]


class SyncStepTable(tables.Table):
    # Named start and end so that the header links say ?sort=start / -start /
    # end / -end, the parameter values of the page.
    start = tables.Column(accessor="started_at", verbose_name=_("Started At"), orderable=True)
    end = tables.Column(accessor="ended_at", verbose_name=_("Ended At"), orderable=True)
    object = tables.Column(accessor="object_type", verbose_name=_("Object"))
    operation = tables.Column(verbose_name=_("Operation"))
    status = tables.Column(verbose_name=_("Status"), attrs={"th": {"class": "status"}})
    new = tables.Column(verbose_name=_("New"), attrs={"th": {"class": "num"}})
    updated = tables.Column(verbose_name=_("Updated"), attrs={"th": {"class": "num"}})
    deleted = tables.Column(verbose_name=_("Deleted"), attrs={"th": {"class": "num"}})
    failed = tables.Column(verbose_name=_("Failed"), attrs={"th": {"class": "num"}})
    skipped = tables.Column(verbose_name=_("Skipped"), attrs={"th": {"class": "num"}})

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

    def page_rows(self) -> list[StepRow]:
        """This page's steps, with labels, the time zone and the thousands
        separator looked up once a page rather than once a cell."""
        objects = {code: object_type_label(code) for code in ObjectType.values}
        operations = {code: str(label) for code, label in Operation.choices}
        statuses = {code: str(label) for code, label in Status.choices}
        separator = get_format("THOUSAND_SEPARATOR")

        def count(value) -> str:
            return NOT_REPORTED if value is None else f"{value:,}".replace(",", separator)

        def row(step: SyncStep) -> StepRow:
            return StepRow(
                started=local_text(step.started_at),
                ended=local_text(step.ended_at) if step.ended_at else NOT_REPORTED,
                object=objects[step.object_type],
                object_name=step.object_name,
                operation=operations[step.operation],
                status=step.status,
                status_label=statuses[step.status],
                error_code=step.error_code,
                error_message=step.error_message,
                counts=[count(getattr(step, f"{name}_count")) for name in COUNTERS],
            )

        return [row(bound_row.record) for bound_row in self.page.object_list]
