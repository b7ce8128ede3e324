"""A group's trend as the pages draw it: bar geometry and the words that say
the same to a screen reader. The SVG itself is written by the templates
(syncerrors/sparkline.html, syncerrors/trend_chart.html)."""

from datetime import datetime

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dashboard.syncerrors.changes import BUCKET
from dashboard.times import local_text

SPARK_BAR, SPARK_STEP, SPARK_HEIGHT = 2, 3, 20
CHART_BAR, CHART_STEP, CHART_HEIGHT = 14, 18, 100


def trend_summary(counts: list[int], buckets: list[datetime]) -> str:
    """`12 failures in 5 days, at most 4 in 4 hours; 1 since 08:00.`"""
    total = sum(counts)
    text = ngettext(
        "%(total)s failure in %(days)s days",
        "%(total)s failures in %(days)s days",
        total,
    ) % {"total": total, "days": settings.SYNC_STATUS_RETENTION_DAYS}
    details = _("at most %(peak)s in %(hours)s hours; %(latest)s since %(since)s") % {
        "peak": max(counts, default=0),
        "hours": BUCKET.seconds // 3600,
        "latest": counts[-1],
        "since": local_text(buckets[-1])[11:16],
    }
    return f"{text}, {details}."


def _height(count: int, peak: int, height: int) -> int:
    # A bucket with any failure gets at least a pixel: one failure is not none.
    return max(1, round(count / peak * height)) if count else 0


def sparkline(counts: list[int], buckets: list[datetime]) -> dict:
    """A small bar chart as one SVG path (a row's cell must stay cheap)."""
    peak = max(counts, default=0)
    path = "".join(
        f"M{n * SPARK_STEP} {SPARK_HEIGHT}v-{h}h{SPARK_BAR}v{h}z"
        for n, count in enumerate(counts)
        if (h := _height(count, peak, SPARK_HEIGHT))
    )
    return {
        "width": len(counts) * SPARK_STEP - (SPARK_STEP - SPARK_BAR),
        "height": SPARK_HEIGHT,
        "path": path,
        "summary": trend_summary(counts, buckets),
    }


def trend_chart(counts: list[int], buckets: list[datetime]) -> dict:
    """The group page's chart: a bar per bucket, each with its time and count,
    and a few times along the axis, in the user's zone."""
    peak = max(counts, default=0)
    bars = []
    for n, (count, start) in enumerate(zip(counts, buckets, strict=True)):
        height = _height(count, peak, CHART_HEIGHT)
        bars.append(
            {
                "x": n * CHART_STEP + (CHART_STEP - CHART_BAR) // 2,
                "y": CHART_HEIGHT - height,
                "height": height,
                "count": count,
                "start": local_text(start)[:16],
                "end": local_text(start + BUCKET)[:16],
            }
        )
    ticks = [
        {"x": n * CHART_STEP + CHART_STEP // 2, "label": local_text(buckets[n])[5:16]}
        for n in range(0, len(buckets), 6)
    ]
    return {
        "width": len(counts) * CHART_STEP,
        "height": CHART_HEIGHT,
        "bar_width": CHART_BAR,
        "bars": bars,
        "ticks": ticks,
        "peak": peak,
        "summary": trend_summary(counts, buckets),
    }
