"""The ingest API (docs/reports.md), for sync engines with an ingest token, and
the OpenAPI description of every API."""

import logging
import uuid
from functools import cache
from pathlib import Path

import yaml
from django.conf import settings
from django.db import DatabaseError
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from dashboard.choices import ObjectType, Operation, Status
from dashboard.ingest.reports import report_receive
from dashboard.ingest.throttle import rate_limited
from dashboard.ingest.tokens import token_authenticate
from dashboard.ingest.validation import ReportInvalid
from dashboard.models import ErrorGroup, IngestToken, ReceivedReport
from dashboard.steps.selectors import SORTS
from dashboard.syncerrors.selectors import GROUP_SORTS, ONGOING, RESOLVED
from dashboard.tasks import enqueue_report_apply
from dashboard.web.http import error_response, unauthorized

log = logging.getLogger(__name__)

OPENAPI_DESCRIPTION = Path(__file__).with_name("openapi.yaml")


# The lists the description names with `x-enum-from`, from where the code keeps them.
ENUMS = {
    "object_types": ObjectType.values,
    "operations": Operation.values,
    "statuses": Status.values,
    "step_sorts": list(SORTS),
    "group_levels": ErrorGroup.Level.values,
    "group_states": [ONGOING, RESOLVED],
    "error_group_sorts": list(GROUP_SORTS),
}


@cache
def openapi_description() -> dict:
    # Written as YAML to be read and commented; parsed once per process.
    return with_enums(yaml.safe_load(OPENAPI_DESCRIPTION.read_text(encoding="utf-8")))


def with_enums(node):
    """The description with every `x-enum-from: NAME` replaced by its `enum`."""
    if isinstance(node, list):
        return [with_enums(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: with_enums(value) for key, value in node.items()}
    if "x-enum-from" in node:
        node["enum"] = list(ENUMS[node.pop("x-enum-from")])
    return node


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
        return JsonResponse(exc.as_dict(), status=400)
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
