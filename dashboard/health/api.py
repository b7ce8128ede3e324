"""GET /api/v1/health/: the health strip as JSON (docs/dashboard.md, Health)."""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from dashboard.health.figures import Health, Window, health_cached, health_current
from dashboard.ingest.live_marks import live_mark_current
from dashboard.times import utc_text
from dashboard.web.access import read_api_access_required


def window_as_json(window: Window) -> dict:
    return {
        "cycles": window.cycles,
        "steps": window.steps,
        "failed_steps": window.failed_steps,
        "failed_records": window.failed_records,
    }


def health_as_json(health: Health) -> dict:
    cadence = health.cadence
    return {
        "last_cycle_started_at": utc_text(cadence.last_cycle_started_at),
        "last_cycle_ended_at": utc_text(cadence.last_cycle_ended_at),
        "cycle_interval_s": cadence.cycle_interval_s,
        "stale_after_s": cadence.stale_after_s,
        "stale": cadence.stale,
        "stuck_steps": [
            {
                "cycle_id": step.cycle_id,
                "step_id": step.step_id,
                "object_type": step.object_type,
                "object_name": step.object_name,
                "operation": step.operation,
                "started_at": utc_text(step.started_at),
            }
            for step in health.stuck_steps
        ],
        "last_24h": window_as_json(health.last_24h),
        "previous_24h": window_as_json(health.previous_24h),
        "buckets": [
            {
                "start": utc_text(bucket.start),
                "steps": bucket.steps,
                "failed_records": bucket.failed_records,
            }
            for bucket in health.chart
        ],
    }


@require_GET
@read_api_access_required
def health(request):
    # Drawn once per report applied and HEALTH_CACHE_SECONDS, as the strip
    # is: encoding its stuck steps (thousands at volume) costs more than
    # reading the cached figures (`make bench`).
    mark = live_mark_current()
    body = health_cached(
        f"health-json:{mark}",
        lambda: json.dumps(health_as_json(health_current(mark)), cls=DjangoJSONEncoder),
    )
    return HttpResponse(body, content_type="application/json")
