"""The read API of the Sync errors tab (docs/errors.md): the groups, and a
record's failures."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from dashboard.models import ErrorGroup, FailedRecord
from dashboard.syncerrors.filters import ErrorGroupFilter
from dashboard.syncerrors.selectors import (
    RecordStream,
    group_trends,
    record_failures,
    record_streams,
    visible_groups,
)
from dashboard.syncerrors.signatures import group_key
from dashboard.times import utc_text
from dashboard.web.access import read_api_access_required
from dashboard.web.http import error_response
from dashboard.web.paging import page_offset

GROUPS_PER_PAGE = 100


def group_as_json(group: ErrorGroup, trend: list[int]) -> dict:
    return {
        "id": group_key(group.id),
        "object_type": group.object_type,
        "object_name": group.object_name or None,
        "operation": group.operation,
        "error_code": group.error_code or None,
        "field": group.field or None,
        "level": group.level,
        "template": group.template,
        "sample_message": group.sample_message,
        "failures": group.failures,
        "records": group.records,
        "first_seen": utc_text(group.first_seen),
        "last_seen": utc_text(group.last_seen),
        "trend": trend,
        "state": group.state,
        "new": group.is_new,
    }


@require_GET
@read_api_access_required
def error_group_list(request):
    """The page's groups as JSON, 100 a page; `q` filters, it never redirects."""
    filterset = ErrorGroupFilter(request.GET, queryset=visible_groups())
    if not filterset.is_valid():
        return JsonResponse({"errors": filterset.errors_as_list()}, status=400)
    offset = page_offset(filterset.page_number, GROUPS_PER_PAGE)
    groups = [] if offset is None else list(filterset.qs[offset : offset + GROUPS_PER_PAGE + 1])
    next_url = None
    if len(groups) > GROUPS_PER_PAGE:
        groups = groups[:GROUPS_PER_PAGE]
        query = request.GET.copy()
        query["page"] = str(filterset.page_number + 1)
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    trends = group_trends([group.id for group in groups])
    results = [group_as_json(group, trends[group.id]) for group in groups]
    return JsonResponse({"results": results, "next": next_url})


def stream_as_json(stream: RecordStream) -> dict:
    return {
        "object_type": stream.object_type,
        "object_name": stream.object_name or None,
        "operation": stream.operation,
        "still_failing": stream.still_failing,
        "last_failed_at": utc_text(stream.last_failed_at),
        "not_failing_since": utc_text(stream.not_failing_since),
    }


def failure_as_json(failure: FailedRecord) -> dict:
    step = failure.step
    return {
        "cycle_id": step.cycle.external_id,
        "step_id": step.step_id,
        "object_type": step.object_type,
        "object_name": step.object_name,
        "operation": step.operation,
        "status": step.status,
        "started_at": utc_text(step.started_at),
        "marketo_id": failure.marketo_id,
        "error_code": failure.error_code,
        "field": failure.field,
        "message": failure.message,
        "group_id": group_key(failure.group_id),
    }


@require_GET
@read_api_access_required
def record_failure_list(request, record_id):
    """Where a record fails and every failure of it in the window, most recent first."""
    streams = record_streams(record_id)
    if not streams:
        return error_response(404, "This record has no failure in the retention window.")
    failures = record_failures(record_id).iterator(chunk_size=500)
    return JsonResponse(
        {
            "record_id": record_id,
            "objects": [stream_as_json(stream) for stream in streams],
            "results": [failure_as_json(failure) for failure in failures],
        }
    )
