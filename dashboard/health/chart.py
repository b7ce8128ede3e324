"""The health chart as the strip draws it: the retention window in 4-hour
buckets, steps by status stacked, failed records beneath, and the words that
say the same to a screen reader. The SVG is written by the template
(health/chart.html)."""

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from dashboard.choices import Status
from dashboard.health.figures import FAILED_STATUSES, Bucket
from dashboard.syncerrors.changes import BUCKET
from dashboard.times import local_text

BAR, STEP = 12, 16
STEPS_HEIGHT, RECORDS_HEIGHT, GAP = 80, 28, 14
# Bottom to top: what went well under what did not, the running steps on top.
STACK = (Status.SUCCEEDED, Status.INCOMPLETE, Status.FAILED, Status.CLEANED_UP, Status.IN_PROCESS)
TICK_EVERY = 6  # buckets: one label a day


def _height(count: int, peak: int, height: int) -> int:
    # Anything at all gets at least a pixel: one failed step is not none.
    return max(1, round(count / peak * height)) if count else 0


def health_chart(buckets: list[Bucket]) -> dict:
    labels = dict(Status.choices)
    steps_peak = max((sum(b.steps.values()) for b in buckets), default=0)
    records_peak = max((b.failed_records for b in buckets), default=0)
    records_base = STEPS_HEIGHT + GAP + RECORDS_HEIGHT
    columns = []
    for n, bucket in enumerate(buckets):
        x, y, parts = n * STEP + (STEP - BAR) // 2, STEPS_HEIGHT, []
        for status in STACK:
            height = _height(bucket.steps[status], steps_peak, STEPS_HEIGHT)
            if height:
                y -= height
                parts.append({"status": status, "y": y, "height": height})
        records = _height(bucket.failed_records, records_peak, RECORDS_HEIGHT)
        columns.append(
            {
                "x": x,
                "parts": parts,
                "records_y": records_base - records,
                "records_height": records,
                "start": local_text(bucket.start)[:16],
                "end": local_text(bucket.start + BUCKET)[11:16],
                "counts": [bucket.steps[status] for status in Status.values],
                "steps": sum(bucket.steps.values()),
                "failed_records": bucket.failed_records,
            }
        )
    return {
        "width": len(buckets) * STEP,
        "steps_height": STEPS_HEIGHT,
        "records_top": STEPS_HEIGHT + GAP,
        "records_base": records_base,
        "height": records_base,
        "bar_width": BAR,
        "steps_peak": steps_peak,
        "records_peak": records_peak,
        "columns": columns,
        "statuses": [(status, labels[status]) for status in Status.values],
        "legend": [(status, labels[status]) for status in reversed(STACK)],
        "ticks": [
            {
                "x": n * STEP + STEP // 2,
                "day": local_text(buckets[n].start)[5:10],
                "time": local_text(buckets[n].start)[11:16],
            }
            for n in range(len(buckets) - 1, -1, -TICK_EVERY)
        ],
        "summary": chart_summary(buckets),
    }


def chart_summary(buckets: list[Bucket]) -> str:
    """`1,234 steps in 5 days, 56 failed, incomplete or cleaned up; 789 failed
    records; at most 40 steps in 4 hours.`"""
    steps = sum(sum(b.steps.values()) for b in buckets)
    failed = sum(b.steps[status] for b in buckets for status in FAILED_STATUSES)
    return _(
        "%(steps)s steps in %(days)s days, %(failed)s of them failed, incomplete or cleaned up; "
        "%(records)s failed records; at most %(peak)s steps in %(hours)s hours."
    ) % {
        "steps": number_format(steps, force_grouping=True),
        "days": settings.SYNC_STATUS_RETENTION_DAYS,
        "failed": number_format(failed, force_grouping=True),
        "records": number_format(sum(b.failed_records for b in buckets), force_grouping=True),
        "peak": number_format(
            max((sum(b.steps.values()) for b in buckets), default=0), force_grouping=True
        ),
        "hours": BUCKET.seconds // 3600,
    }
