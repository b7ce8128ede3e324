"""The health strip above the Sync Status table (docs/dashboard.md, Health):
one context, so that whatever renders the strip (the page, or a poll that
refreshes it) renders the same thing from `health/strip.html`."""

from datetime import datetime, timedelta

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

from dashboard.choices import Status
from dashboard.health.chart import health_chart
from dashboard.health.figures import (
    Health,
    Window,
    health_at,
    health_cached,
    health_current,
    stuck_before,
)
from dashboard.times import duration_text, local_input, local_text

FIGURES = ("cycles", "steps", "failed_steps", "failed_records")
# Figures for which more is worse: their rise is shown as bad news.
WORSE_WHEN_MORE = {"failed_steps", "failed_records"}


def health_strip_html(mark: int) -> str:
    """health/strip.html as of now, drawn at most once per report applied
    (`mark`, the live mark the caller read) and HEALTH_CACHE_SECONDS, for
    each language and time zone: its figures and chart cost more than the
    rest of the page (`make bench`)."""
    key = ":".join(
        ["health-strip", str(mark), translation.get_language() or "",
         timezone.get_current_timezone_name()]
    )  # fmt: skip
    html = health_cached(
        key, lambda: render_to_string("health/strip.html", strip_context(health_current(mark)))
    )
    return mark_safe(html)  # noqa: S308 - our template's output, escaped by it


def health_strip(now: datetime | None = None) -> dict:
    """The template context of health/strip.html as of `now`, in the current
    language and time zone."""
    return strip_context(health_at(now or timezone.now()))


def strip_context(health: Health) -> dict:
    """The template context of health/strip.html for `health`, in the current
    language and time zone."""
    now = health.now
    cadence = health.cadence
    last_activity = max(
        (m for m in (cadence.last_cycle_started_at, cadence.last_cycle_ended_at) if m),
        default=None,
    )
    interval = cadence.cycle_interval_s
    return {
        "health": {
            "last_started": _moment(cadence.last_cycle_started_at, now),
            "last_ended": _moment(cadence.last_cycle_ended_at, now),
            "interval": duration_text(timedelta(seconds=interval)) if interval else None,
            "stale": cadence.stale,
            "stale_after": duration_text(timedelta(seconds=cadence.stale_after_s)),
            "quiet_since": _moment(last_activity, now),
            "stuck": len(health.stuck_entries),
            "stuck_minutes": settings.SYNC_STATUS_STUCK_MINUTES,
            "stuck_url": reverse("sync-status")
            + "?"
            + urlencode({"status": Status.IN_PROCESS, "until": local_input(stuck_before(now))}),
            "comparison": _comparison(health.last_24h, health.previous_24h),
            "chart": health_chart(health.chart),
        }
    }


def _moment(moment: datetime | None, now: datetime) -> dict | None:
    if moment is None:
        return None
    return {
        "text": local_text(moment)[:16],
        "iso": moment.isoformat(),
        # Django's own words, translated ("3 heures"); a moment ahead of our
        # clock (the engine's drifts) is "0 minutes" ago.
        "ago": timesince(moment, now, depth=1),
        # Under a minute, "0 minutes ago" reads as a fault: "just now".
        "just_now": now - moment < timedelta(minutes=1),
    }


def _comparison(last: Window, previous: Window) -> list[dict]:
    rows = []
    for name in FIGURES:
        now_value, then_value = getattr(last, name), getattr(previous, name)
        change = now_value - then_value
        trend = "same" if change == 0 else ("up" if change > 0 else "down")
        if trend != "same":
            good = (change < 0) if name in WORSE_WHEN_MORE else None
            trend += "" if good is None else (" better" if good else " worse")
        rows.append(
            {
                "name": name,
                "last": number_format(now_value, force_grouping=True),
                "previous": number_format(then_value, force_grouping=True),
                "change": ("+" if change > 0 else "−" if change < 0 else "±")
                + number_format(abs(change), force_grouping=True),
                "trend": trend,
            }
        )
    return rows
