"""The ingest API (SPEC 3.1): JSON in, JSON out, Bearer tokens only."""

import logging
import uuid

from django.conf import settings
from django.db import DatabaseError
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from dashboard.ingest import report_receive
from dashboard.models import IngestToken, ReceivedReport
from dashboard.tokens import token_authenticate
from dashboard.validation import ReportInvalid

log = logging.getLogger(__name__)


def error_response(status: int, message: str, path: str = "", **headers) -> JsonResponse:
    response = JsonResponse({"errors": [{"path": path, "message": message}]}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def unauthorized() -> JsonResponse:
    return error_response(
        401, "A valid Bearer token is required.", WWW_Authenticate='Bearer realm="sync-status"'
    )


@csrf_exempt
@require_POST
def sync_report_create(request):
    if token_authenticate(request.headers.get("Authorization"), IngestToken.Scope.INGEST) is None:
        return unauthorized()
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
        report = report_receive(raw=body, source="http")
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
