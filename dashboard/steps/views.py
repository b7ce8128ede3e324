"""The Sync Status page and its errors export."""

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render

from dashboard.health.strip import health_strip_html
from dashboard.ingest.live_marks import live_mark_current
from dashboard.steps.export import export_response
from dashboard.steps.filters import SyncStepFilter
from dashboard.steps.live import is_live, page_live, strip_live
from dashboard.steps.selectors import visible_steps, with_step_page_facts
from dashboard.steps.tables import ROWS_PER_PAGE, SyncStepTable
from dashboard.web.access import page_permission_required
from dashboard.web.paging import PastTheEndPaginator


@page_permission_required
def sync_status(request):
    filterset = SyncStepFilter(request.GET, queryset=visible_steps())
    # Read once, before the rows, as a poll does (steps/live.py): the page's
    # live state and the strip's drawing both go by it.
    live_mark = live_mark_current()
    export_query = request.GET.copy()
    export_query.pop("page", None)
    context = {
        "filterset": filterset,
        "table": None,
        "chips": [],
        "export_query": export_query.urlencode(),
        "retention_days": settings.SYNC_STATUS_RETENTION_DAYS,
        "health_strip": health_strip_html(live_mark),
    }
    if not filterset.is_valid():
        # The form again, with a message next to each filter it could not read.
        return render(request, "dashboard/sync_status.html", context, status=400)
    table = SyncStepTable(with_step_page_facts(filterset.qs), order_by=filterset.sort_order)
    table.paginate(
        paginator_class=PastTheEndPaginator, page=filterset.page_number, per_page=ROWS_PER_PAGE
    )
    context.update(table=table, chips=filterset.chips())
    if is_live(filterset):
        live = page_live(table=table, mark=live_mark, query=context["export_query"])
        context.update(uses_htmx=True, live=live, strip_live=strip_live())
    return render(request, "dashboard/sync_status.html", context)


@page_permission_required
def sync_errors_export(request):
    filterset = SyncStepFilter(request.GET, queryset=visible_steps())
    if not filterset.is_valid():
        lines = [f"{error['path']}: {error['message']}" for error in filterset.errors_as_list()]
        return HttpResponse(
            "\n".join(lines) + "\n", status=400, content_type="text/plain; charset=utf-8"
        )
    return export_response(filterset.qs, filterset.sort_order)
