"""The Sync errors tab's pages (docs/errors.md): the groups, one group and its
export, a record's timeline, and the records of a Marketo id."""

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from dashboard.syncerrors.charts import trend_chart
from dashboard.syncerrors.drawings import kept_drawing
from dashboard.syncerrors.export import group_export_lines
from dashboard.syncerrors.filters import ErrorGroupFilter, PageOnlyFilter, RecordsFilter
from dashboard.syncerrors.selectors import (
    NEW_FOR,
    group_failures,
    group_trends,
    record_failures,
    record_has_failures,
    record_streams,
    records_of_marketo_id,
    trend_buckets,
    visible_groups,
)
from dashboard.syncerrors.signatures import group_id_of
from dashboard.syncerrors.tables import (
    ErrorGroupTable,
    GroupFailureTable,
    RecordFailureTable,
    RecordTable,
    group_cells,
    stream_rows,
)
from dashboard.web.access import page_permission_required
from dashboard.web.paging import PastTheEndPaginator

ROWS_PER_PAGE = 50


def paged(table, filterset):
    table.paginate(
        paginator_class=PastTheEndPaginator, page=filterset.page_number, per_page=ROWS_PER_PAGE
    )
    return table


def not_found(request, message: str):
    return render(request, "syncerrors/not_found.html", {"message": message}, status=404)


def isolated(text: str) -> str:
    """Text from a report inside a sentence: right-to-left text in it must
    not turn the sentence around (Unicode's first strong isolate)."""
    return f"\u2068{text}\u2069"


def two_records_of(marketo_id: str) -> list[str]:
    """Up to two records with this Marketo id: enough to tell none, one and several."""
    return [row["record_id"] for row in records_of_marketo_id(marketo_id)[:2]]


def search_target(text: str) -> str | None:
    """Where a search for an exact record id or Marketo id leads: the record's
    timeline, or the list of the Marketo id's records; None for any other text."""
    if record_has_failures(text):
        return reverse("record-timeline", args=[text])
    records = two_records_of(text)
    if len(records) == 1:
        return reverse("record-timeline", args=records)
    if records:
        return f"{reverse('records')}?{urlencode({'marketo_id': text})}"
    return None


@page_permission_required
def sync_errors(request):
    filterset = ErrorGroupFilter(request.GET, queryset=visible_groups())
    context = {
        "filterset": filterset,
        "chips": [],
        "retention_days": settings.SYNC_STATUS_RETENTION_DAYS,
    }
    if not filterset.is_valid():
        # The form again, with a message next to each filter it could not read.
        context["panel"] = render_to_string("syncerrors/groups_panel.html", context, request)
        return render(request, "syncerrors/sync_errors.html", context, status=400)
    if filterset.search_text and (target := search_target(filterset.search_text)):
        return redirect(target)
    context["chips"] = filterset.chips()

    def draw():
        table = paged(ErrorGroupTable(filterset.qs, sort=filterset.sort_order), filterset)
        shown = [row.record for row in table.page.object_list]
        return {
            "panel": render_to_string("syncerrors/groups_panel.html", context, request),
            "table": render_to_string("syncerrors/table.html", {"table": table}, request),
        }, min((group.first_seen + NEW_FOR for group in shown if group.is_new), default=None)

    context |= kept_drawing(request, draw)
    return render(request, "syncerrors/sync_errors.html", context)


def group_of_key(key: str):
    group_id = group_id_of(key)
    return None if group_id is None else visible_groups().filter(pk=group_id).first()


def group_not_found(request):
    return not_found(
        request,
        _("No such error group: it has no failure in the last %(days)s days.")
        % {"days": settings.SYNC_STATUS_RETENTION_DAYS},
    )


@page_permission_required
def error_group(request, key):
    group = group_of_key(key)
    if group is None:
        return group_not_found(request)
    filterset = PageOnlyFilter(request.GET)
    context = {"cells": group_cells(group), "key": key, "filterset": filterset}
    if not filterset.is_valid():
        return render(request, "syncerrors/error_group.html", context, status=400)

    def draw():
        now = timezone.now()
        chart = trend_chart(group_trends([group.id], now)[group.id], trend_buckets(now))
        table = paged(GroupFailureTable(group_failures(group)), filterset)
        return {
            "chart": render_to_string("syncerrors/trend_chart.html", {"chart": chart}, request),
            "table": render_to_string("syncerrors/table.html", {"table": table}, request),
        }, None

    context |= kept_drawing(request, draw)
    return render(request, "syncerrors/error_group.html", context)


@page_permission_required
def error_group_export(request, key):
    group = group_of_key(key)
    if group is None:
        return HttpResponse(
            _("No such error group.") + "\n", status=404, content_type="text/plain; charset=utf-8"
        )
    response = StreamingHttpResponse(
        group_export_lines(group), content_type="text/csv; charset=utf-8"
    )
    filename = f"sync-errors-{key}-{timezone.localtime():%Y-%m-%dT%H%M}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def streams_html(request, streams) -> str:
    return render_to_string(
        "syncerrors/record_streams.html", {"streams": stream_rows(streams)}, request
    )


def record_not_found(request, record_id: str):
    return not_found(
        request,
        _("No failure of the record %(record_id)s in the last %(days)s days.")
        % {"record_id": isolated(record_id), "days": settings.SYNC_STATUS_RETENTION_DAYS},
    )


@page_permission_required
def record_timeline(request, record_id):
    filterset = PageOnlyFilter(request.GET)
    context = {"record_id": record_id, "filterset": filterset}
    if not filterset.is_valid():
        if not (streams := record_streams(record_id)):
            return record_not_found(request, record_id)
        context["streams"] = mark_safe(streams_html(request, streams))  # noqa: S308
        return render(request, "syncerrors/record_timeline.html", context, status=400)

    def draw():
        if not (streams := record_streams(record_id)):
            return {}, None
        table = paged(RecordFailureTable(record_failures(record_id)), filterset)
        return {
            "streams": streams_html(request, streams),
            "table": render_to_string("syncerrors/table.html", {"table": table}, request),
        }, None

    drawing = kept_drawing(request, draw)
    if not drawing:
        return record_not_found(request, record_id)
    return render(request, "syncerrors/record_timeline.html", context | drawing)


@page_permission_required
def records(request):
    filterset = RecordsFilter(request.GET)
    context = {"filterset": filterset, "table": None, "marketo_id": None}
    if not filterset.is_valid():
        return render(request, "syncerrors/records.html", context, status=400)
    marketo_id = filterset.form.cleaned_data["marketo_id"]
    found = two_records_of(marketo_id)
    if not found:
        return not_found(
            request,
            _("No record with the Marketo ID %(marketo_id)s failed in the last %(days)s days.")
            % {"marketo_id": isolated(marketo_id), "days": settings.SYNC_STATUS_RETENTION_DAYS},
        )
    if len(found) == 1:
        return redirect("record-timeline", found[0])
    table = paged(RecordTable(records_of_marketo_id(marketo_id)), filterset)
    context.update(marketo_id=marketo_id, table=table)
    return render(request, "syncerrors/records.html", context)
