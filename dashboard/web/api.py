"""The ingest API (SPEC 3.1): JSON in, JSON out, Bearer tokens only."""

import base64
import binascii
import json
import logging
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import yaml
from django.conf import settings
from django.db import DatabaseError
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from dashboard.choices import COUNTERS
from dashboard.ingest.reports import report_receive
from dashboard.ingest.throttle import rate_limited
from dashboard.ingest.tokens import token_authenticate
from dashboard.ingest.validation import ReportInvalid
from dashboard.models import IngestToken, ReceivedReport, SyncStep
from dashboard.steps.filters import SyncStepFilter
from dashboard.steps.selectors import steps_after, visible_steps
from dashboard.tasks import enqueue_report_apply
from dashboard.web.access import read_api_access_required
from dashboard.web.http import error_response, unauthorized

log = logging.getLogger(__name__)

OPENAPI_DESCRIPTION = Path(__file__).with_name("openapi.yaml")


@cache
def openapi_description() -> dict:
    # Written as YAML to be read and commented; parsed once per process.
    return yaml.safe_load(OPENAPI_DESCRIPTION.read_text(encoding="utf-8"))


@require_GET
def openapi(request):
    """The description of these APIs: public, as it holds no data."""
    return JsonResponse(openapi_description())


@csrf_exempt
@require_POST
def sync_report_create(request):
    token = token_authenticate(request.headers.get("Authorization"), IngestToken.Scope.INGEST)
    if token is None:
        return unauthorized()
    per_minute = settings.SYNC_STATUS_INGEST_RATE_PER_MINUTE
    # Keyed by the token's hash, unique across databases sharing one Redis.
    wait = rate_limited(f"ingest:{token.token_hash}", limit=per_minute, seconds=60)
    if wait:
        return error_response(
            429,
            f"At most {per_minute} reports a minute per token; try again in {wait} s.",
            Retry_After=str(wait),
        )
    limit = settings.SYNC_STATUS_MAX_REPORT_BYTES
    declared = request.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        return error_response(413, f"A report may be at most {limit} bytes.")
    # Read the stream ourselves, one byte past the limit: a chunked body has
    # no Content-Length to check beforehand.
    body = request.read(limit + 1)
    if len(body) > limit:
        return error_response(413, f"A report may be at most {limit} bytes.")
    try:
        report = report_receive(raw=body, source="http", enqueue=enqueue_report_apply)
    except ReportInvalid as exc:
        return JsonResponse({"errors": [error.as_dict() for error in exc.errors]}, status=400)
    except DatabaseError:
        # Not stored, so not accepted: the sender must retry, and says so to
        # its operator better with a 503 than with a traceback.
        log.exception("report not stored: database unavailable")
        return error_response(
            503, "The report could not be stored; try again later.", Retry_After="30"
        )
    response = JsonResponse({"report_id": str(report.report_id), "status": "accepted"}, status=202)
    response["Location"] = reverse("sync-report-detail", args=[report.report_id])
    return response


@require_GET
def sync_report_detail(request, report_id):
    if token_authenticate(request.headers.get("Authorization"), IngestToken.Scope.INGEST) is None:
        return unauthorized()
    try:
        report = ReceivedReport.objects.filter(report_id=uuid.UUID(report_id)).first()
    except ValueError:
        report = None
    if report is None:
        return error_response(
            404, "No such report (unknown, or purged after the retention period)."
        )
    return JsonResponse(
        {
            "report_id": str(report.report_id),
            "status": report.status,
            "received_at": report.received_at.isoformat(),
            "applied_at": report.applied_at.isoformat() if report.applied_at else None,
            # Set while a failed attempt waits for its retry, and once given up.
            "error": report.error,
        }
    )


STEPS_PER_PAGE = 100


def utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def encode_cursor(sort: str, step: SyncStep) -> str:
    value = step.started_at if sort.endswith("start") else step.ended_at
    raw = json.dumps([sort, value.isoformat() if value else None, step.pk])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[datetime | None, int]:
    """(sort key, pk) of the last step of the previous page; ValueError if forged."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, pk = json.loads(raw)
        value = datetime.fromisoformat(value) if value is not None else None
        if value is not None and value.tzinfo is not None:
            value.astimezone(UTC)  # OverflowError past year 9999 in UTC
    except (binascii.Error, ValueError, TypeError, OverflowError):
        raise ValueError("This cursor is not one this API gave.") from None
    if cursor_sort != sort or not isinstance(pk, int) or (value and value.tzinfo is None):
        raise ValueError("This cursor belongs to another sort order or is damaged.")
    return value, pk


def step_as_json(step: SyncStep) -> dict:
    return {
        "cycle_id": step.cycle.external_id,
        "step_id": step.step_id,
        "object_type": step.object_type,
        "object_name": step.object_name,
        "operation": step.operation,
        "status": step.status,
        "started_at": utc(step.started_at),
        "ended_at": utc(step.ended_at),
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
    """SPEC 4.3: the page's rows as JSON, paged by an opaque cursor in `next`."""
    filterset = SyncStepFilter(request.GET, queryset=visible_steps().select_related("cycle"))
    if not filterset.is_valid():
        return JsonResponse({"errors": filterset.errors_as_list()}, status=400)
    steps = filterset.qs
    cursor = request.GET.get("cursor")
    if cursor:
        try:
            value, pk = decode_cursor(cursor, filterset.sort_order)
        except ValueError as exc:
            return error_response(400, str(exc), path="cursor")
        steps = steps_after(steps, filterset.sort_order, value, pk)
    else:
        offset = (filterset.page_number - 1) * STEPS_PER_PAGE
        steps = steps[offset:]
    rows = list(steps[: STEPS_PER_PAGE + 1])
    next_url = None
    if len(rows) > STEPS_PER_PAGE:
        rows = rows[:STEPS_PER_PAGE]
        query = request.GET.copy()
        query.pop("page", None)
        query["cursor"] = encode_cursor(filterset.sort_order, rows[-1])
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return JsonResponse({"results": [step_as_json(step) for step in rows], "next": next_url})
