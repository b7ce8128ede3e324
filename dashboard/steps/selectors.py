"""Reads: the steps a user may see, in the order they asked for."""

from django.db.models import F, Q, QuerySet

from dashboard.models import SyncStep
from dashboard.storage.retention import retention_cutoff

DEFAULT_SORT = "-start"
# Every ordering ends in the pk, so that pages never repeat or skip a row.
# Running steps (no end) come first for -end and last for end (SPEC 4.1);
# those are PostgreSQL's defaults for DESC and ASC, so the (ended_at, id)
# index serves both.
SORTS = {
    "-start": (F("started_at").desc(), F("id").desc()),
    "start": (F("started_at").asc(), F("id").asc()),
    "-end": (F("ended_at").desc(nulls_first=True), F("id").desc()),
    "end": (F("ended_at").asc(nulls_last=True), F("id").asc()),
}


def visible_steps() -> QuerySet[SyncStep]:
    """Steps of cycles that started within the retention window, whatever the filter."""
    return SyncStep.objects.filter(cycle_started_at__gte=retention_cutoff())


def order_steps(queryset: QuerySet[SyncStep], sort: str | None) -> QuerySet[SyncStep]:
    return queryset.order_by(*SORTS[sort or DEFAULT_SORT])


def steps_after(queryset: QuerySet[SyncStep], sort: str, value, pk: int) -> QuerySet[SyncStep]:
    """The steps after the one whose sort key is `value` and pk `pk`, in `sort`
    order (keyset paging: as fast on page 1000 as on page 1)."""
    descending = sort.startswith("-")
    field = "started_at" if sort.endswith("start") else "ended_at"
    beyond = "lt" if descending else "gt"
    if value is None:
        # Only ended_at is ever null: running steps sit first (-end) or last (end).
        after = Q(ended_at__isnull=True, **{f"id__{beyond}": pk})
        if descending:
            after |= Q(ended_at__isnull=False)
        return queryset.filter(after)
    after = Q(**{f"{field}__{beyond}": value}) | Q(**{field: value, f"id__{beyond}": pk})
    if field == "ended_at" and not descending:
        after |= Q(ended_at__isnull=True)
    return queryset.filter(after)
