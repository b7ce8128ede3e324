"""GET /api/v1/health/: the health strip as JSON (docs/dashboard.md, Health)."""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from dashboard.health.figures import Health, Window, health_cached, health_current
from dashboard.health.stuck import stuck_steps_json
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


# Where the stuck steps go in the body: their entries are written already
# (stuck.py), thousands at volume. Nothing else in the body is text of ours
# that could hold it.
STUCK_STEPS = "\u0000stuck_steps"


def health_body(health: Health) -> str:
    body = json.dumps(health_as_json(health), cls=DjangoJSONEncoder)
    return body.replace(json.dumps(STUCK_STEPS), stuck_steps_json(health.stuck_entries), 1)


def health_as_json(health: Health) -> dict:
    cadence = health.cadence
    return {
        "last_cycle_started_at": utc_text(cadence.last_cycle_started_at),
        "last_cycle_ended_at": utc_text(cadence.last_cycle_ended_at),
        "cycle_interval_s": cadence.cycle_interval_s,
        "stale_after_s": cadence.stale_after_s,
        "stale": cadence.stale,
        "stuck_steps": STUCK_STEPS,
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
    body = health_cached(f"health-json:{mark}", lambda: health_body(health_current(mark)))
    return HttpResponse(body, content_type="application/json")
