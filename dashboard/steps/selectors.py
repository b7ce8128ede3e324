"""Reads: the steps a user may see, in the order they asked for.

The sort orders are defined here once; the filter's choices, the read API's
cursor, the export's SQL and the OpenAPI description all read SORTS.
"""

from dataclasses import dataclass

from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet

from dashboard.models import FailedRecord, SyncCycle, SyncStep
from dashboard.storage.retention import retention_cutoff


@dataclass(frozen=True)
class StepSort:
    """Steps by their start or end, then by pk, so that pages never repeat or
    skip a row. Running steps (no end) come first in a descending order and
    last in an ascending one; those are PostgreSQL's own defaults for DESC
    and ASC, so one (field, id) index serves both directions."""

    field: str
    descending: bool

    def ordering(self) -> tuple:
        if self.descending:
            return F(self.field).desc(nulls_first=True), F("id").desc()
        return F(self.field).asc(nulls_last=True), F("id").asc()

    def sql(self, alias: str) -> str:
        """The same order as SQL over a subquery named `alias`."""
        if self.descending:
            return f"{alias}.{self.field} DESC NULLS FIRST, {alias}.id DESC"
        return f"{alias}.{self.field} ASC NULLS LAST, {alias}.id ASC"

    def after(self, steps: QuerySet[SyncStep], value, pk: int) -> QuerySet[SyncStep]:
        """The steps after the one whose sort key is `value` and pk `pk`
        (keyset paging: as fast on page 1000 as on page 1)."""
        beyond = "lt" if self.descending else "gt"
        same_value_later_pk = {f"id__{beyond}": pk}
        if value is None:
            # Only ended_at is ever null: running steps sit first (-end) or last (end).
            after = Q(**{f"{self.field}__isnull": True}, **same_value_later_pk)
            if self.descending:
                after |= Q(**{f"{self.field}__isnull": False})
            return steps.filter(after)
        after = Q(**{f"{self.field}__{beyond}": value}) | Q(
            **{self.field: value}, **same_value_later_pk
        )
        if not self.descending:
            after |= Q(**{f"{self.field}__isnull": True})
        return steps.filter(after)


DEFAULT_SORT = "-start"
SORTS = {
    "-start": StepSort("started_at", descending=True),
    "start": StepSort("started_at", descending=False),
    "-end": StepSort("ended_at", descending=True),
    "end": StepSort("ended_at", descending=False),
}


def visible_steps() -> QuerySet[SyncStep]:
    """Steps of cycles that started within the retention window, whatever the filter."""
    return SyncStep.objects.filter(cycle_started_at__gte=retention_cutoff())


def order_steps(steps: QuerySet[SyncStep], sort: str | None) -> QuerySet[SyncStep]:
    return steps.order_by(*SORTS[sort or DEFAULT_SORT].ordering())


def visible_cycles() -> QuerySet[SyncCycle]:
    """Cycles that started within the retention window."""
    return SyncCycle.objects.filter(started_at__gte=retention_cutoff())


def with_step_page_facts(steps: QuerySet[SyncStep]) -> QuerySet[SyncStep]:
    """Steps with what a link to their page needs, read in the rows' own query:
    their cycle's external id, and whether they have stored failed records,
    which ingestion counts on the step (an EXISTS over the failures let
    PostgreSQL hash every failure of the window for a page of 50 rows)."""
    return steps.annotate(
        cycle_external_id=F("cycle__external_id"),
        has_failures=ExpressionWrapper(Q(stored_failures__gt=0), output_field=BooleanField()),
    )


def step_failures(step: SyncStep) -> QuerySet[FailedRecord]:
    """A step's failed records by record_id, unique within a step (the export's order)."""
    return FailedRecord.objects.filter(step=step, cycle_started_at=step.cycle_started_at).order_by(
        "record_id"
    )


def engine_step(cycle_id: str, step_id: str) -> QuerySet[SyncStep]:
    """The visible step the engine names `step_id` in its cycle `cycle_id`
    (at most one): named so, a link outlives a late report, which rebuilds
    the cycle's steps under new primary keys."""
    return visible_steps().filter(cycle__external_id=cycle_id, step_id=step_id)


def cycle_steps(cycle: SyncCycle) -> QuerySet[SyncStep]:
    """A cycle's steps in start order."""
    steps = SyncStep.objects.filter(cycle=cycle, cycle_started_at=cycle.started_at)
    return order_steps(steps, "start")
