"""Reads of the Sync errors tab: groups with their state, in the order asked
(the sort orders are defined here once: the filter, the table's headers and
the OpenAPI description read GROUP_SORTS), a group's failures, a record's
failures and where it still fails."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from dashboard.choices import FINAL_STATUSES
from dashboard.models import (
    ErrorGroup,
    ErrorGroupBucket,
    ErrorGroupStep,
    FailedRecord,
    RetentionMark,
    StepStream,
    SyncStep,
)
from dashboard.storage.retention import retention_cutoff
from dashboard.syncerrors.changes import BUCKET, StreamKey, bucket_of
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


def groups_version() -> str:
    """What changes whenever the groups do: the live mark, which every applied
    report takes in the transaction that writes its groups, and the purge's
    cutoff, which it moves in the one that takes failures out of them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT value FROM dashboard_livemark WHERE id = 1), "
            "(SELECT groups_expired_before FROM dashboard_retentionmark WHERE id = 1)"
        )
        mark, expired = cursor.fetchone()
    return f"{mark or 0}:{expired}"


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


# --- The list of groups: its sort orders, defined once ----------------------


@dataclass(frozen=True)
class GroupSort:
    """Groups by one of their numbers or times, ties broken by id ascending,
    so that pages never repeat or skip a group."""

    field: str
    descending: bool

    def ordering(self) -> tuple:
        by = F(self.field).desc() if self.descending else F(self.field).asc()
        return by, F("id").asc()


DEFAULT_GROUP_SORT = "-last_seen"
GROUP_SORTS = {
    "-last_seen": GroupSort("last_seen", descending=True),
    "last_seen": GroupSort("last_seen", descending=False),
    "-failures": GroupSort("failures", descending=True),
    "-records": GroupSort("records", descending=True),
    "-first_seen": GroupSort("first_seen", descending=True),
    "first_seen": GroupSort("first_seen", descending=False),
}


def order_groups(groups: QuerySet[ErrorGroup], sort: str | None) -> QuerySet[ErrorGroup]:
    return groups.order_by(*GROUP_SORTS[sort or DEFAULT_GROUP_SORT].ordering())


def error_codes_in_use() -> list[str]:
    """The error codes of the groups with failures, for the filter to offer."""
    codes = ErrorGroup.objects.filter(failures__gt=0).exclude(error_code="")
    return list(codes.values_list("error_code", flat=True).distinct().order_by("error_code"))


# --- A group's failures ------------------------------------------------------


def group_record_failures(group_id: int) -> QuerySet[FailedRecord]:
    """The failed records of a record-level group in the window, most recent
    step first, then by record: the order of the (group_id, ...) index."""
    return (
        FailedRecord.objects.filter(group_id=group_id, cycle_started_at__gte=window_start())
        .select_related("step__cycle")
        .order_by("-step_started_at", "-step_id", "record_id")
    )


def group_job_errors(group_id: int) -> QuerySet[SyncStep]:
    """The steps whose job-level error is of this group, most recent first.
    Found through the group's steps (an index on group_id), not by scanning
    the steps for their error's group."""
    steps = ErrorGroupStep.objects.filter(group_id=group_id).values("step_id")
    return (
        SyncStep.objects.filter(
            pk__in=steps, error_group_id=group_id, cycle_started_at__gte=window_start()
        )
        .select_related("cycle")
        .order_by("-started_at", "-id")
    )


def group_failures(group: ErrorGroup) -> QuerySet:
    """A group's failures in its page's order: failed records, or steps for
    a job-level group."""
    if group.level == ErrorGroup.Level.JOB:
        return group_job_errors(group.id)
    return group_record_failures(group.id)


# --- A record's failures, and where it still fails ----------------------------


def record_failures(record_id: str) -> QuerySet[FailedRecord]:
    """Every failure of this exact record in the window, most recent step first."""
    if "\x00" in record_id:
        # No report can carry one, and PostgreSQL refuses to compare one.
        return FailedRecord.objects.none()
    return (
        FailedRecord.objects.filter(record_id=record_id, cycle_started_at__gte=window_start())
        .select_related("step__cycle")
        .order_by("-step_started_at", "-step_id")
    )


def record_has_failures(record_id: str) -> bool:
    return record_failures(record_id).exists()


def records_of_marketo_id(marketo_id: str) -> QuerySet:
    """The records with this Marketo id and a failure in the window: each
    with its number of failures and its last, most recent first."""
    return (
        FailedRecord.objects.filter(marketo_id=marketo_id, cycle_started_at__gte=window_start())
        .values("record_id")
        .annotate(failures=Count("id"), last_failed_at=Max("step_started_at"))
        .order_by("-last_failed_at", "record_id")
    )


@dataclass(frozen=True)
class RecordStream:
    """Where a record failed: one object type, object name and operation."""

    object_type: str
    object_name: str  # "" unless a custom object
    operation: str
    last_failed_at: datetime
    # The start of the first final step after its last failure, or None
    # while it is still failing.
    not_failing_since: datetime | None

    @property
    def still_failing(self) -> bool:
        return self.not_failing_since is None


def record_streams(record_id: str) -> list[RecordStream]:
    """Each object type, object name and operation the record failed in, its
    latest failure first. Still failing: a failure in a step that started at
    or after the latest final step of them (or none is final yet); otherwise
    not failing since the first final step after its last failure. Three
    queries, however many there are."""
    last_failures = (
        record_failures(record_id)
        .order_by()
        .values("step__object_type", "step__object_name", "step__operation")
        .annotate(last=Max("step_started_at"))
    )
    last: dict[StreamKey, datetime] = {}
    for row in last_failures:
        key = (row["step__object_type"], row["step__object_name"] or "", row["step__operation"])
        last[key] = max(row["last"], last.get(key, row["last"]))
    if not last:
        return []
    latest_final = {
        (s.object_type, s.object_name, s.operation): s.latest_final_started_at
        for s in StepStream.objects.filter(_any_stream(last))
    }
    resolved = {
        key: moment
        for key, moment in last.items()
        if latest_final.get(key) is not None and moment < latest_final[key]
    }
    since = _first_final_steps_after(resolved) if resolved else {}
    streams = [
        RecordStream(*key, last_failed_at=moment, not_failing_since=since.get(key))
        for key, moment in last.items()
    ]
    return sorted(streams, key=lambda s: (-s.last_failed_at.timestamp(), _key(s)))


def _key(stream: RecordStream) -> StreamKey:
    return (stream.object_type, stream.object_name, stream.operation)


def _any_stream(keys) -> Q:
    condition = Q(pk__in=[])
    for object_type, object_name, operation in keys:
        condition |= Q(object_type=object_type, object_name=object_name, operation=operation)
    return condition


def _first_final_steps_after(last: dict[StreamKey, datetime]) -> dict[StreamKey, datetime]:
    """For each stream, the start of its first final step after the moment given.

    One query: each stream's row with its moment, and the stream's steps read
    from that moment on in the (object_type, started_at) index, first final
    one only. A MIN() over every final step after the moment read all of them,
    in proportion to the window (12,068 steps, 17 ms, for a record of three
    streams at 200k steps)."""
    moment = Case(
        *(
            When(object_type=object_type, object_name=object_name, operation=operation, then=at)
            for (object_type, object_name, operation), at in last.items()
        ),
        output_field=DateTimeField(),
    )
    first_final = (
        SyncStep.objects.annotate(stream_name=Coalesce("object_name", Value("")))
        .filter(
            object_type=OuterRef("object_type"),
            stream_name=OuterRef("object_name"),
            operation=OuterRef("operation"),
            status__in=FINAL_STATUSES,
            cycle_started_at__gte=window_start(),
            started_at__gt=OuterRef("moment"),
        )
        .order_by("started_at")
        .values("started_at")[:1]
    )
    rows = (
        StepStream.objects.filter(_any_stream(last))
        .annotate(moment=moment)
        .annotate(first=Subquery(first_final))
        .values_list("object_type", "object_name", "operation", "first")
    )
    return {(t, n, o): first for t, n, o, first in rows if first is not None}
