"""The Sync errors tab's pages (docs/errors.md): the groups, one group and its
export, a record's timeline, and the records of a Marketo id."""

import contextlib
import hashlib
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from dashboard.syncerrors.charts import trend_chart
from dashboard.syncerrors.export import group_export_lines
from dashboard.syncerrors.filters import ErrorGroupFilter, PageOnlyFilter, RecordsFilter
from dashboard.syncerrors.rollups import bucket_of
from dashboard.syncerrors.selectors import (
    NEW_FOR,
    group_failures,
    group_trends,
    groups_version,
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
# How long a drawing of the groups' panel and table is kept: it stays exact
# as long as it is kept (groups_drawing), so this only bounds the memory
# held for queries nobody asks again.
GROUPS_CACHE_SECONDS = 300


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
    context |= groups_drawing(request, context)
    return render(request, "syncerrors/sync_errors.html", context)


def groups_drawing(request, context: dict) -> dict:
    """The panel and the table of the groups' page, drawn once for every
    reader of one query, language and zone while they stay what they are.

    Drawing them was most of the page (16 of 16 ms of CPU on the first page,
    12 of 12 with the error-code filter, against 3 for a page without them,
    in-process at 200k steps; their queries took 2-4 ms), and the readers
    between two reports see the same. What the drawing shows changes when
    the groups do, which the version in its key says (read before the groups,
    so a drawing can be newer than its key, never older); when the trend's
    bucket turns, also in its key; and when a group shown new stops being
    so, which the drawing says itself."""
    now = timezone.now()
    parts = [groups_version(), bucket_of(now).isoformat(), translation.get_language() or "",
             timezone.get_current_timezone_name(), str(settings.SYNC_STATUS_RETENTION_DAYS),
             request.GET.urlencode()]  # fmt: skip
    key = "sync-errors:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()
    try:
        drawing = cache.get(key)
    except Exception:
        # The cache (Redis) is down: the page draws them itself.
        drawing = None
    if drawing is None or (drawing["new_until"] and now >= drawing["new_until"]):
        filterset = context["filterset"]
        table = paged(ErrorGroupTable(filterset.qs, sort=filterset.sort_order), filterset)
        drawing = {
            "panel": render_to_string("syncerrors/groups_panel.html", context, request),
            "table": render_to_string("syncerrors/groups.html", {"table": table}, request),
            "new_until": min(
                (row.record.first_seen + NEW_FOR for row in table.page.object_list
                 if row.record.is_new),
                default=None,
            ),
        }  # fmt: skip
        with contextlib.suppress(Exception):  # drawn again next time, then
            cache.set(key, drawing, GROUPS_CACHE_SECONDS)
    # Our templates' output, escaped by them.
    return {name: mark_safe(drawing[name]) for name in ("panel", "table")}  # noqa: S308


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
    context = {"cells": group_cells(group), "key": key, "filterset": filterset, "table": None}
    if not filterset.is_valid():
        return render(request, "syncerrors/error_group.html", context, status=400)
    now = timezone.now()
    context.update(
        chart=trend_chart(group_trends([group.id], now)[group.id], trend_buckets(now)),
        table=paged(GroupFailureTable(group_failures(group)), filterset),
    )
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


@page_permission_required
def record_timeline(request, record_id):
    streams = record_streams(record_id)
    if not streams:
        return not_found(
            request,
            _("No failure of the record %(record_id)s in the last %(days)s days.")
            % {"record_id": isolated(record_id), "days": settings.SYNC_STATUS_RETENTION_DAYS},
        )
    filterset = PageOnlyFilter(request.GET)
    context = {
        "record_id": record_id,
        "streams": stream_rows(streams),
        "filterset": filterset,
        "table": None,
    }
    if not filterset.is_valid():
        return render(request, "syncerrors/record_timeline.html", context, status=400)
    context["table"] = paged(RecordFailureTable(record_failures(record_id)), filterset)
    return render(request, "syncerrors/record_timeline.html", context)


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
