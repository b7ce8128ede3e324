from html import escape

import django_tables2 as tables
from django.utils import timezone
from django.utils.formats import get_format, number_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from dashboard.choices import ObjectType, Operation, Status, object_type_label

NOT_REPORTED = "—"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# The ten cells of a row, in order (SyncStepTable.page_rows_html).
ROW_HTML = (
    '<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="status">{}</td>'
    + '<td class="num">{}</td>' * 5
    + "</tr>"
)


def local_time(value) -> str:
    return timezone.localtime(value).strftime(TIME_FORMAT)


def object_cell(label: str, record) -> SafeString:
    """The object's label; a custom object's API name beside it. `label` is escaped."""
    if record.object_type == ObjectType.CUSTOM_OBJECT and record.object_name:
        return mark_safe(f'{label} <code class="api-name">{escape(record.object_name)}</code>')  # noqa: S308 - escaped
    return mark_safe(label)  # noqa: S308 - escaped by the caller


def status_cell(label: str, record) -> SafeString:
    """The status badge, and the step's error behind it. `label` is escaped."""
    badge = f'<span class="badge badge-{escape(record.status)}">{label}</span>'
    if not record.error_message:
        return mark_safe(badge)  # noqa: S308 - escaped
    message = escape(record.error_message)
    summary = escape(record.error_code or str(_("Error")))
    return mark_safe(  # noqa: S308 - escaped
        f'{badge}<details class="step-error"><summary title="{message}">{summary}</summary>'
        f"<p>{message}</p></details>"
    )


class CountColumn(tables.Column):
    """A counter; one the step did not report is unknown, shown as "—", never 0."""

    def __init__(self, **kwargs):
        super().__init__(
            default=NOT_REPORTED, attrs={"td": {"class": "num"}, "th": {"class": "num"}}, **kwargs
        )

    def render(self, value):
        return number_format(value, force_grouping=True)


class SyncStepTable(tables.Table):
    # Named start and end so that the header links say ?sort=start / -start /
    # end / -end, the parameter values of SPEC 4.1.
    start = tables.Column(accessor="started_at", verbose_name=_("Started At"), orderable=True)
    end = tables.Column(
        accessor="ended_at", verbose_name=_("Ended At"), orderable=True, default=NOT_REPORTED
    )
    object = tables.Column(accessor="object_type", verbose_name=_("Object"))
    operation = tables.Column(verbose_name=_("Operation"))
    status = tables.Column(verbose_name=_("Status"), attrs={"td": {"class": "status"}})
    new = CountColumn(accessor="new_count", verbose_name=_("New"))
    updated = CountColumn(accessor="updated_count", verbose_name=_("Updated"))
    deleted = CountColumn(accessor="deleted_count", verbose_name=_("Deleted"))
    failed = CountColumn(accessor="failed_count", verbose_name=_("Failed"))
    skipped = CountColumn(accessor="skipped_count", verbose_name=_("Skipped"))

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

    def page_rows_html(self):
        """This page's rows as ready HTML, one `<tr>` each, with the same cells
        as the columns' render_* methods.

        django-tables2 renders every cell through its accessor and template
        machinery: about a millisecond a row here, the page's whole time
        budget at 50 rows (measured by `manage.py bench`). Labels, the time
        zone and the thousands separator are looked up once a page, and text
        is escaped with the standard library's html.escape (what Django's
        escape runs, without its check for lazy strings on every call).
        Headers, ordering and paging stay django-tables2's.
        """
        objects = {code: escape(object_type_label(code)) for code in ObjectType.values}
        operations = {code: escape(str(label)) for code, label in Operation.choices}
        statuses = {code: escape(str(label)) for code, label in Status.choices}
        zone = timezone.get_current_timezone()
        separator = get_format("THOUSAND_SEPARATOR")

        def count(value) -> str:
            return NOT_REPORTED if value is None else f"{value:,}".replace(",", separator)

        for bound_row in self.page.object_list:
            step = bound_row.record
            ended = step.ended_at
            yield mark_safe(  # noqa: S308 - every text is escaped above or in its cell
                ROW_HTML.format(
                    step.started_at.astimezone(zone).strftime(TIME_FORMAT),
                    ended.astimezone(zone).strftime(TIME_FORMAT) if ended else NOT_REPORTED,
                    object_cell(objects[step.object_type], step),
                    operations[step.operation],
                    status_cell(statuses[step.status], step),
                    count(step.new_count),
                    count(step.updated_count),
                    count(step.deleted_count),
                    count(step.failed_count),
                    count(step.skipped_count),
                )
            )

    def render_start(self, value):
        return local_time(value)

    def render_end(self, value):
        return local_time(value)

    # For a field with choices, django-tables2 shows (and hands render_* as
    # `value`) its label; codes are read from the record.
    def render_object(self, record):
        return object_cell(escape(object_type_label(record.object_type)), record)

    def render_status(self, value, record):
        return status_cell(escape(str(value)), record)
