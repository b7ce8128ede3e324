"""The tables of the Sync errors tab: django-tables2's columns and paging;
their rows are written by the templates (templates/syncerrors/*_table.html),
from dicts with every text ready, labels looked up once a page."""

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import get_format
from django.utils.translation import gettext_lazy as _

from dashboard.choices import ObjectType, Operation, Status, object_type_label
from dashboard.models import ErrorGroup, FailedRecord, SyncStep
from dashboard.syncerrors.charts import sparkline
from dashboard.syncerrors.filters import state_choices
from dashboard.syncerrors.selectors import GROUP_SORTS, RecordStream, group_trends, trend_buckets
from dashboard.syncerrors.signatures import group_key
from dashboard.times import local_text

# The list shows the start of long texts; the group's page shows them whole.
SHOWN_CHARS = 300


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Labels:
    """The labels of codes and the thousands separator, in the current
    language and branding, looked up once a page rather than once a cell."""

    def __init__(self):
        self.objects = {code: object_type_label(code) for code in ObjectType.values}
        self.operations = {code: str(label) for code, label in Operation.choices}
        self.statuses = {code: str(label) for code, label in Status.choices}
        self.levels = {code: str(label) for code, label in ErrorGroup.Level.choices}
        self.states = dict(state_choices())
        self.separator = get_format("THOUSAND_SEPARATOR")

    def number(self, value: int) -> str:
        return f"{value:,}".replace(",", self.separator)


def column(header, css: str = "") -> tables.Column:
    return tables.Column(verbose_name=header, attrs={"th": {"class": css}} if css else {})


class ErrorGroupTable(tables.Table):
    """One row per group. The sort links are the table's own (sort_headers):
    some orders go one way only (`-failures`), which django-tables2's
    toggling cannot say."""

    object = column(_("Object"))
    operation = column(_("Operation"))
    error = column(_("Error"))
    field = column(_("Field"))
    level = column(_("Level"))
    failures = column(_("Failures"), "num")
    records = column(_("Records"), "num")
    first_seen = column(_("First seen"))
    last_seen = column(_("Last seen"))
    trend = column(_("Trend"))
    state = column(_("State"))

    class Meta:
        orderable = False
        order_by_field = "sort"
        page_field = "page"
        template_name = "syncerrors/groups_table.html"
        empty_text = _("No error group matches these filters in the last days.")
        attrs = {"class": "steps groups"}

    def __init__(self, *args, sort: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.sort = sort

    def sort_headers(self) -> list[dict]:
        """Each header, with the sort its link asks for: the column's other
        direction when it is the current order, its first order otherwise."""
        headers = []
        for bound in self.columns:
            sorts = [key for key, sort in GROUP_SORTS.items() if sort.field == bound.name]
            header = {"label": bound.header, "class": bound.attrs["th"].get("class", "")}
            if sorts:
                current = self.sort in sorts
                others = [key for key in sorts if key != self.sort]
                header |= {
                    "sort": others[0] if current and others else sorts[0],
                    "active": current,
                    "descending": current and GROUP_SORTS[self.sort].descending,
                }
            headers.append(header)
        return headers

    def page_rows(self) -> list[dict]:
        groups = [row.record for row in self.page.object_list]
        now = timezone.now()
        trends, buckets = group_trends([group.id for group in groups], now), trend_buckets(now)
        labels = Labels()
        return [
            group_cells(group, labels)
            | {
                "url": reverse("error-group", args=[group_key(group.id)]),
                "template": shorten(group.template),
                "sample": shorten(group.sample_message, 3 * SHOWN_CHARS),
                "trend": sparkline(trends[group.id], buckets),
            }
            for group in groups
        ]


def group_cells(group: ErrorGroup, labels: Labels | None = None) -> dict:
    """A group as the pages show it (its texts whole)."""
    labels = labels or Labels()
    return {
        "object": labels.objects[group.object_type],
        "object_name": group.object_name,
        "operation": labels.operations[group.operation],
        "error_code": group.error_code,
        "template": group.template,
        "sample": group.sample_message,
        "field": group.field,
        "level": labels.levels[group.level],
        "is_job": group.level == ErrorGroup.Level.JOB,
        "failures": labels.number(group.failures),
        "records": labels.number(group.records),
        "first_seen": local_text(group.first_seen),
        "last_seen": local_text(group.last_seen),
        "state": group.state,
        "state_label": labels.states[group.state],
        "new": group.is_new,
    }


class FailureTable(tables.Table):
    """50 failures a page, newest step first, written by a template."""

    class Meta:
        orderable = False
        page_field = "page"
        attrs = {"class": "steps failures"}
        empty_text = _("No failure on this page.")


def step_cells(step: SyncStep, labels: Labels) -> dict:
    return {
        "started": local_text(step.started_at),
        "object": labels.objects[step.object_type],
        "object_name": step.object_name,
        "operation": labels.operations[step.operation],
        "cycle_id": step.cycle.external_id,
        "step_id": step.step_id,
        "status": step.status,
        "status_label": labels.statuses[step.status],
    }


class GroupFailureTable(FailureTable):
    started = column(_("Step started at"))
    cycle = column(_("Cycle"))
    step = column(_("Step"))
    status = column(_("Step status"))
    record = column(_("Record ID"))
    marketo = column(_("Marketo ID"))
    field = column(_("Field"))
    message = column(_("Message"))

    class Meta(FailureTable.Meta):
        template_name = "syncerrors/group_failures_table.html"

    def page_rows(self) -> list[dict]:
        """A record-level group lists failed records; a job-level one, steps."""
        labels = Labels()
        rows = []
        for item in (row.record for row in self.page.object_list):
            if isinstance(item, FailedRecord):
                rows.append(
                    step_cells(item.step, labels)
                    | {
                        "record_id": item.record_id,
                        "record_url": reverse("record-timeline", args=[item.record_id]),
                        "marketo_id": item.marketo_id,
                        "field": item.field,
                        "message": item.message,
                    }
                )
            else:
                rows.append(step_cells(item, labels) | {"message": item.error_message})
        return rows


class RecordFailureTable(FailureTable):
    started = column(_("Step started at"))
    object = column(_("Object"))
    operation = column(_("Operation"))
    cycle = column(_("Cycle"))
    step = column(_("Step"))
    status = column(_("Step status"))
    error_code = column(_("Error code"))
    field = column(_("Field"))
    message = column(_("Message"))
    group = column(_("Group"))

    class Meta(FailureTable.Meta):
        template_name = "syncerrors/record_failures_table.html"

    def page_rows(self) -> list[dict]:
        labels = Labels()
        failures = [row.record for row in self.page.object_list]
        templates = dict(
            ErrorGroup.objects.filter(id__in={f.group_id for f in failures}).values_list(
                "id", "template"
            )
        )
        return [
            step_cells(failure.step, labels)
            | {
                "error_code": failure.error_code,
                "field": failure.field,
                "message": failure.message,
                "group_url": reverse("error-group", args=[group_key(failure.group_id)]),
                "group": shorten(templates.get(failure.group_id, ""), SHOWN_CHARS),
            }
            for failure in failures
        ]


class RecordTable(tables.Table):
    """The records of one Marketo id."""

    record = column(_("Record ID"))
    failures = column(_("Failures"), "num")
    last_failed_at = column(_("Last failure"))

    class Meta:
        orderable = False
        page_field = "page"
        template_name = "syncerrors/records_table.html"
        empty_text = _("No record on this page.")
        attrs = {"class": "steps records"}

    def page_rows(self) -> list[dict]:
        labels = Labels()
        return [
            {
                "record_id": row.record["record_id"],
                "url": reverse("record-timeline", args=[row.record["record_id"]]),
                "failures": labels.number(row.record["failures"]),
                "last_failed_at": local_text(row.record["last_failed_at"]),
            }
            for row in self.page.object_list
        ]


def stream_rows(streams: list[RecordStream]) -> list[dict]:
    """Where a record failed, for the summary above its timeline."""
    labels = Labels()
    return [
        {
            "object": labels.objects[stream.object_type],
            "object_name": stream.object_name,
            "operation": labels.operations[stream.operation],
            "still_failing": stream.still_failing,
            "last_failed_at": local_text(stream.last_failed_at),
            "not_failing_since": stream.not_failing_since and local_text(stream.not_failing_since),
        }
        for stream in streams
    ]
