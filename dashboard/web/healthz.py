"""GET /healthz: is this process able to serve? For load balancers and compose."""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from syncstatus.celery import app as celery_app

log = logging.getLogger(__name__)


def database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:
        log.warning("health: database down error=%s", exc)
        return f"down: {type(exc).__name__}"


def broker_state() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "in-process"
    try:
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        log.warning("health: broker down error=%s", exc)
        return f"down: {type(exc).__name__}"


@require_GET
def healthz(request):
    checks = {"database": database_state(), "broker": broker_state()}
    healthy = not any(state.startswith("down") for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "down", **checks}, status=200 if healthy else 503
    )
