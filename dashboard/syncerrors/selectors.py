"""Reads of the Sync errors tab: groups with their state, in the order asked."""

from datetime import datetime, timedelta

from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from dashboard.models import ErrorGroup, ErrorGroupBucket, RetentionMark, StepStream
from dashboard.storage.retention import retention_cutoff
from dashboard.syncerrors.rollups import BUCKET, bucket_of
from dashboard.times import EARLIEST

ONGOING, RESOLVED = "ongoing", "resolved"
NEW_FOR = timedelta(hours=24)


def visible_groups() -> QuerySet[ErrorGroup]:
    """Groups with failures in the window, each with its `state` and `is_new`.

    Ongoing: a failure of the group in a step that started at or after the
    latest final step of its object type, object name and operation (or no
    final step of them yet); resolved otherwise. New: first seen less than a
    day ago.
    """
    latest_final = StepStream.objects.filter(
        object_type=OuterRef("object_type"),
        object_name=OuterRef("object_name"),
        operation=OuterRef("operation"),
    ).values("latest_final_started_at")[:1]
    return (
        ErrorGroup.objects.filter(failures__gt=0)
        .annotate(latest_final=Subquery(latest_final))
        .annotate(
            state=Case(
                When(
                    Q(latest_final__isnull=True) | Q(last_seen__gte=F("latest_final")),
                    then=Value(ONGOING),
                ),
                default=Value(RESOLVED),
            ),
            is_new=ExpressionWrapper(
                Q(first_seen__gte=timezone.now() - NEW_FOR), output_field=BooleanField()
            ),
        )
    )


def window_start() -> datetime:
    """Where the groups' window starts: the cutoff the purge last took them to
    (every minute), so that a group's numbers and its listed failures agree."""
    mark = RetentionMark.objects.filter(pk=1).values_list("groups_expired_before", flat=True)
    return mark.first() or EARLIEST


def trend_buckets(now: datetime | None = None) -> list[datetime]:
    """The 4-hour buckets of a trend, oldest first: from the one holding the
    start of the retention window to the one holding now (31 for 5 days)."""
    now = now or timezone.now()
    first, last = bucket_of(retention_cutoff(now)), bucket_of(now)
    return [first + BUCKET * n for n in range((last - first) // BUCKET + 1)]


def group_trends(group_ids, now: datetime | None = None) -> dict[int, list[int]]:
    """Each group's failures per bucket of trend_buckets(), oldest first; a
    failure dated outside them counts in the nearest, so the sum is the group's."""
    buckets = trend_buckets(now)
    index = {bucket: n for n, bucket in enumerate(buckets)}
    trends = {group: [0] * len(buckets) for group in group_ids}
    rows = ErrorGroupBucket.objects.filter(group_id__in=list(trends)).values_list(
        "group_id", "bucket", "failures"
    )
    for group, bucket, failures in rows:
        if bucket in index:
            position = index[bucket]
        else:
            position = 0 if bucket < buckets[0] else len(buckets) - 1
        trends[group][position] += failures
    return trends
