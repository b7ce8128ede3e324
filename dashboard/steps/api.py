"""The read API of the Sync Status page: GET /api/v1/sync-steps/ (docs/dashboard.md)."""

from datetime import UTC, datetime

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from dashboard.choices import COUNTERS
from dashboard.models import SyncStep
from dashboard.steps.filters import SyncStepFilter
from dashboard.steps.selectors import SORTS, visible_steps
from dashboard.times import in_range, utc_text
from dashboard.web.access import read_api_access_required
from dashboard.web.cursors import cursor_decode, cursor_encode
from dashboard.web.http import error_response
from dashboard.web.paging import page_offset

STEPS_PER_PAGE = 100


def encode_step_cursor(sort: str, step: SyncStep) -> str:
    value = getattr(step, SORTS[sort].field)
    return cursor_encode(sort, value.isoformat() if value else None, step.pk)


def decode_step_cursor(cursor: str, sort: str) -> tuple[datetime | None, int]:
    """(sort key, pk) of the last step of the previous page; ValueError if forged."""
    cursor_sort, value, pk = cursor_decode(cursor, length=3)
    if cursor_sort != sort:
        raise ValueError("This cursor belongs to another sort order.")
    if not isinstance(pk, int) or isinstance(pk, bool) or not 0 < pk < 2**63:
        raise ValueError("This cursor is damaged.")
    if value is None:
        return None, pk
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError("This cursor is damaged.") from None
    if moment.tzinfo is None or not in_range(moment):
        raise ValueError("This cursor is damaged.")
    return moment.astimezone(UTC), pk


def step_as_json(step: SyncStep) -> dict:
    return {
        "cycle_id": step.cycle.external_id,
        "step_id": step.step_id,
        "object_type": step.object_type,
        "object_name": step.object_name,
        "operation": step.operation,
        "status": step.status,
        "started_at": utc_text(step.started_at),
        "ended_at": utc_text(step.ended_at),
        "counts": {name: getattr(step, f"{name}_count") for name in COUNTERS},
        "error": (
            {"code": step.error_code, "message": step.error_message}
            if step.error_message is not None
            else None
        ),
    }


@require_GET
@read_api_access_required
def sync_step_list(request):
    """The page's rows as JSON, paged by an opaque cursor in `next`."""
    filterset = SyncStepFilter(request.GET, queryset=visible_steps().select_related("cycle"))
    if not filterset.is_valid():
        return JsonResponse({"errors": filterset.errors_as_list()}, status=400)
    steps, sort = filterset.qs, filterset.sort_order
    cursor = request.GET.get("cursor")
    if cursor:
        try:
            value, pk = decode_step_cursor(cursor, sort)
        except ValueError as exc:
            return error_response(400, str(exc), path="cursor")
        rows = list(SORTS[sort].after(steps, value, pk)[: STEPS_PER_PAGE + 1])
    else:
        offset = page_offset(filterset.page_number, STEPS_PER_PAGE)
        rows = [] if offset is None else list(steps[offset : offset + STEPS_PER_PAGE + 1])
    next_url = None
    if len(rows) > STEPS_PER_PAGE:
        rows = rows[:STEPS_PER_PAGE]
        query = request.GET.copy()
        query.pop("page", None)
        query["cursor"] = encode_step_cursor(sort, rows[-1])
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return JsonResponse({"results": [step_as_json(step) for step in rows], "next": next_url})
