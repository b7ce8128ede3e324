"""When each kind of rule fires and resolves (docs/alerts.md, "Rules"), read
from what an applied report stored, and from the clock for `sync_stale`.

Evaluating the same report twice, or two reports of one cycle side by side,
changes nothing the first evaluation did not: an event opens at most one
incident (a constraint), a step is counted once (incident_count), and only a
step later than the incident's latest can resolve it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from dashboard.alerts.incidents import (
    About,
    Outcome,
    incident_count,
    incident_open,
    incident_resolve,
    incidents_digest,
    stream_about,
)
from dashboard.alerts.messages import Event
from dashboard.alerts.models import AlertRule, Incident
from dashboard.choices import FINAL_STATUSES, Status
from dashboard.health.cadence import cadence_at
from dashboard.models import ErrorGroup, ErrorGroupStep, ReceivedReport, SyncCycle, SyncStep
from dashboard.times import EARLIEST

Kind = AlertRule.Kind
STEP_FIELDS = ["pk", "step_id", "object_type", "object_name", "operation", "status",
               "started_at", "failed_count"]  # fmt: skip
SYNC = About(key="sync")


@dataclass(frozen=True)
class CycleRef:
    external_id: str
    started_at: datetime


def _failed(step: dict) -> int:
    return step["failed_count"] or 0


def step_rules(rule: AlertRule) -> tuple[Callable[[dict], bool], Callable[[dict], bool]]:
    """What fires the rule and what resolves it, of the final steps it watches."""
    if rule.kind == Kind.STEP_FAILED:
        failing = {Status.FAILED, Status.CLEANED_UP}
        return (
            lambda step: step["status"] in failing,
            lambda step: step["status"] == Status.SUCCEEDED,
        )
    threshold = rule.threshold
    return (lambda step: _failed(step) >= threshold, lambda step: _failed(step) < threshold)


def alerts_evaluate_report(*, report_pk: int) -> list[int]:
    """The incidents an applied report opens, counts into and resolves; the
    pks of the notices written, to send (once this has committed)."""
    # One transaction, so that a report costs one commit however many
    # incidents it counts into.
    with transaction.atomic():
        outcome = _evaluate_report(report_pk)
        if not outcome.notice_pks and connection.vendor == "postgresql":
            # Nothing to send: a commit lost in a database crash would only
            # lose counts and the "evaluated" mark, and the sweep evaluates
            # the report again. Not waiting for the disk keeps evaluation
            # off ingestion's back (`make bench` measures it).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
    return outcome.notice_pks


def _evaluate_report(report_pk: int) -> Outcome:
    outcome = Outcome()
    rules = list(AlertRule.objects.filter(enabled=True).order_by("pk"))
    # Every open incident of those rules in one query: it runs for every report.
    open_incidents: dict[int, dict[str, Incident]] = {rule.pk: {} for rule in rules}
    if rules:
        for incident in Incident.objects.filter(rule__in=rules, resolved_at__isnull=True):
            open_incidents[incident.rule_id][incident.key] = incident
    watching = [rule for rule in rules if rule.kind != Kind.SYNC_STALE]
    # The report's cycle and its steps in one query (the cycle by its engine
    # id, as the report names it).
    steps = []
    if watching:
        steps = list(
            SyncStep.objects.filter(
                cycle__external_id__in=ReceivedReport.objects.filter(
                    pk=report_pk, status=ReceivedReport.State.APPLIED
                ).values("cycle_external_id")
            )
            .order_by("started_at", "pk")
            .values("cycle__external_id", "cycle_started_at", *STEP_FIELDS)
        )
    if steps:
        cycle = CycleRef(steps[0]["cycle__external_id"], steps[0]["cycle_started_at"])
        for rule in watching:
            if rule.kind == Kind.NEW_ERROR_GROUP:
                _evaluate_new_groups(rule, cycle, steps, outcome)
            else:
                _evaluate_steps(rule, cycle, steps, open_incidents[rule.pk], outcome)
    if any(open_incidents[rule.pk] for rule in rules if rule.kind == Kind.SYNC_STALE):
        # A cycle started: the sync is no longer stale, and need not wait for the clock.
        _evaluate_stale(timezone.now(), outcome)
    ReceivedReport.objects.filter(pk=report_pk, status=ReceivedReport.State.APPLIED).update(
        alerts_evaluated_at=timezone.now()
    )
    return outcome


def reports_unevaluated(*, applied_before: datetime, limit: int = 1000) -> list[int]:
    """Reports applied a while ago whose evaluation never finished (its task
    was lost, or its worker died): the sweep evaluates them."""
    return list(
        ReceivedReport.objects.filter(
            status=ReceivedReport.State.APPLIED,
            alerts_evaluated_at__isnull=True,
            applied_at__lt=applied_before,
        )
        .order_by("applied_at")
        .values_list("pk", flat=True)[:limit]
    )


def alerts_evaluate_clock(*, now: datetime) -> list[int]:
    """Every minute: whether the sync became stale or runs again, and the
    digests that are due. The pks of the notices written."""
    outcome = Outcome()
    _evaluate_stale(now, outcome)
    incidents_digest(now=now, outcome=outcome)
    return outcome.notice_pks


def _evaluate_steps(
    rule: AlertRule,
    cycle: CycleRef,
    steps: list[dict],
    open_incidents: dict[str, Incident],
    outcome: Outcome,
):
    fires, resolves = step_rules(rule)
    watched = [
        step
        for step in steps
        if step["status"] in FINAL_STATUSES and rule.watches(step["object_type"], step["operation"])
    ]
    if not watched:
        return
    # The steps that fire an open incident, counted into it with one update
    # per incident rather than one per step.
    counting: dict[str, list[dict]] = {}
    for step in watched:
        about = stream_about(step["object_type"], step["object_name"], step["operation"])
        incident = open_incidents.get(about.key)
        event = Event(
            at=step["started_at"],
            cycle_id=cycle.external_id,
            step_id=step["step_id"],
            status=step["status"],
            failed_records=step["failed_count"],
        )
        if fires(step):
            if incident is not None:
                counting.setdefault(about.key, []).append(step)
                continue
            incident = _open_for_step(rule, about, event, _failed(step), resolves, outcome)
            if incident is not None:
                open_incidents[about.key] = incident
        elif incident is not None and resolves(step):
            _count(incident, counting.pop(about.key, []))
            if event.at > incident.last_seen_at:
                incident_resolve(
                    incident=incident, resolved_by=_step_ref(event), event=event, outcome=outcome
                )
                del open_incidents[about.key]
    # In the incidents' order: two reports counting into the same incidents
    # side by side then lock them in the same order, and never deadlock.
    for key, fired in sorted(counting.items(), key=lambda item: open_incidents[item[0]].pk):
        _count(open_incidents[key], fired)


def _count(incident: Incident, fired: list[dict]) -> None:
    if fired:
        incident_count(
            incident=incident,
            first_at=fired[0]["started_at"],
            last_at=fired[-1]["started_at"],
            occurrences=len(fired),
            failed_records=sum(_failed(step) for step in fired),
        )


def _open_for_step(rule, about: About, event: Event, failed: int, resolves, outcome):
    latest = (
        Incident.objects.filter(rule=rule, key=about.key)
        .order_by("-opened_at", "-pk")
        .values("last_seen_at", "resolved_happened_at")
        .first()
    )
    if latest and event.at <= max(
        latest["last_seen_at"], latest["resolved_happened_at"] or EARLIEST
    ):
        # An older step, applied late or again: its incident has been told.
        return None
    incident = incident_open(
        rule=rule,
        about=about,
        opened_by=_step_ref(event),
        event=event,
        failed_records=failed,
        outcome=outcome,
    )
    if incident is None:
        return None
    # Reports may be applied out of order: a later step that resolves it may
    # be stored already. Then it opened and resolved, and both are told.
    later = (
        SyncStep.objects.filter(
            object_type=about.object_type,
            operation=about.operation,
            started_at__gt=event.at,
            status__in=FINAL_STATUSES,
        )
        .filter(
            Q(object_name=about.object_name) if about.object_name else Q(object_name__isnull=True)
        )
        .order_by("-started_at", "-pk")
        .values("cycle__external_id", *STEP_FIELDS)
        .first()
    )
    if later is not None and resolves(later):
        event = Event(
            at=later["started_at"],
            cycle_id=later["cycle__external_id"],
            step_id=later["step_id"],
            status=later["status"],
            failed_records=later["failed_count"],
        )
        incident_resolve(
            incident=incident, resolved_by=_step_ref(event), event=event, outcome=outcome
        )
        return None
    return incident


def _step_ref(event: Event) -> str:
    return f"{event.cycle_id}/{event.step_id}"


def _evaluate_new_groups(rule: AlertRule, cycle: CycleRef, steps: list[dict], outcome: Outcome):
    watched = [s["pk"] for s in steps if rule.watches(s["object_type"], s["operation"])]
    if not watched:
        return
    # First seen in this cycle: a failure of it in one of its steps, and none before.
    groups = ErrorGroup.objects.filter(
        id__in=ErrorGroupStep.objects.filter(
            step_id__in=watched, cycle_started_at=cycle.started_at
        ).values("group_id"),
        first_seen__gte=cycle.started_at,
    ).order_by("first_seen", "id")
    groups = {f"group:{group.id}": group for group in groups}
    # Told already (a later report of the same cycle): one query, not a
    # refused insert each.
    told = Incident.objects.filter(rule=rule, key__in=list(groups)).values_list("key", flat=True)
    for key in set(told) if groups else ():
        del groups[key]
    for group in groups.values():
        incident_open(
            rule=rule,
            about=About(
                key=f"group:{group.id}",
                object_type=group.object_type,
                object_name=group.object_name,
                operation=group.operation,
                error_group_id=group.id,
                summary=f"{group.error_code + ': ' if group.error_code else ''}{group.template}",
            ),
            opened_by=f"first seen {group.first_seen.isoformat()}",
            event=Event(at=group.first_seen, cycle_id=cycle.external_id),
            failed_records=group.failures,
            one_notice=True,
            outcome=outcome,
        )


def _evaluate_stale(now: datetime, outcome: Outcome) -> None:
    rules = list(AlertRule.objects.filter(enabled=True, kind=Kind.SYNC_STALE).order_by("pk"))
    if not rules:
        return
    cadence = cadence_at(now)
    last_start = cadence.last_cycle_started_at
    for rule in rules:
        incident = Incident.objects.filter(
            rule=rule, key=SYNC.key, resolved_at__isnull=True
        ).first()
        if incident is None and cadence.stale:
            # last_seen_at: the last cycle's start as it went stale, so that
            # the next start is what resolves it.
            incident_open(
                rule=rule,
                about=SYNC,
                opened_by=f"after {last_start.isoformat() if last_start else 'no cycle'}",
                event=Event(at=cadence.stale_since),
                last_seen_at=last_start or EARLIEST,
                outcome=outcome,
            )
        elif incident is not None and last_start and last_start > incident.last_seen_at:
            cycle_id = (
                SyncCycle.objects.filter(started_at=last_start)
                .values_list("external_id", flat=True)
                .first()
            )
            incident_resolve(
                incident=incident,
                resolved_by=f"cycle {cycle_id}",
                event=Event(at=last_start, cycle_id=cycle_id or ""),
                outcome=outcome,
            )
