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
from operator import attrgetter

from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When, Window
from django.db.models.functions import RowNumber
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
# Reports evaluated in one transaction at most.
CLAIMED = 100


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
    """The incidents an applied report opens, counts into and resolves, and
    with it every report applied before it whose evaluation still waits; the
    pks of the notices written, to send (once this has committed).

    A worker with a backlog applies many reports before it reaches their
    evaluations: the first evaluates them all, in one transaction, and the
    others find theirs done (`make bench`, alerts, measures it)."""
    with transaction.atomic():
        outcome = _evaluate_reports(_claim(report_pk))
        if not outcome.notice_pks and connection.vendor == "postgresql":
            # Nothing to send: a commit lost in a database crash would only
            # lose counts and the "evaluated" marks, and the sweep evaluates
            # the reports again. Not waiting for the disk keeps evaluation
            # off ingestion's back (`make bench` measures it).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
    return outcome.notice_pks


def _claim(report_pk: int) -> list[int]:
    """The report, unless it was evaluated already (a task delivered again),
    and up to CLAIMED of the oldest reports applied and waiting for their
    evaluation, locked until the transaction ends: a second worker skips
    them and takes the next."""
    waiting = ReceivedReport.objects.filter(
        status=ReceivedReport.State.APPLIED, alerts_evaluated_at__isnull=True
    )
    if connection.vendor == "postgresql":
        waiting = waiting.select_for_update(skip_locked=True)
    # The report itself first, whatever its age: one query.
    itself_first = Case(When(pk=report_pk, then=Value(0)), default=Value(1))
    claimed = waiting.order_by(itself_first, "applied_at").values_list("pk", flat=True)[:CLAIMED]
    return sorted(claimed)


def _evaluate_reports(report_pks: list[int]) -> Outcome:
    outcome = Outcome()
    if not report_pks:
        return outcome
    rules = list(AlertRule.objects.filter(enabled=True).order_by("pk"))
    # Every open incident of those rules in one query: it runs for every report.
    open_incidents: dict[int, dict[str, Incident]] = {rule.pk: {} for rule in rules}
    if rules:
        for incident in Incident.objects.filter(rule__in=rules, resolved_at__isnull=True):
            open_incidents[incident.rule_id][incident.key] = incident
    watching = [rule for rule in rules if rule.kind != Kind.SYNC_STALE]
    # The reports' cycles and their steps in one query (each cycle by its
    # engine id, as a report names it), oldest first.
    steps = []
    if watching:
        steps = list(
            SyncStep.objects.filter(
                cycle__external_id__in=ReceivedReport.objects.filter(
                    pk__in=report_pks, status=ReceivedReport.State.APPLIED
                ).values("cycle_external_id")
            )
            .order_by("started_at", "pk")
            .values("cycle__external_id", "cycle_started_at", *STEP_FIELDS)
        )
    cycles: dict[CycleRef, list[dict]] = {}
    for step in steps:
        ref = CycleRef(step["cycle__external_id"], step["cycle_started_at"])
        cycles.setdefault(ref, []).append(step)
    for rule in watching:
        if rule.kind == Kind.NEW_ERROR_GROUP:
            _evaluate_new_groups(rule, cycles, outcome)
        elif steps:
            _evaluate_steps(rule, steps, open_incidents[rule.pk], outcome)
    if any(open_incidents[rule.pk] for rule in rules if rule.kind == Kind.SYNC_STALE):
        # A cycle started: the sync is no longer stale, and need not wait for the clock.
        _evaluate_stale(timezone.now(), outcome)
    ReceivedReport.objects.filter(pk__in=report_pks, status=ReceivedReport.State.APPLIED).update(
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
    abouts = [stream_about(s["object_type"], s["object_name"], s["operation"]) for s in watched]
    # The latest incident of each stream that fires with none open, read
    # for all of them at once: what a step that would open one must follow.
    latest = _latest_incidents(
        rule,
        {
            about.key
            for step, about in zip(watched, abouts, strict=True)
            if fires(step) and about.key not in open_incidents
        },
    )
    # The steps that fire an open incident, counted into it with one update
    # per incident rather than one per step.
    counting: dict[str, list[dict]] = {}
    for step, about in zip(watched, abouts, strict=True):
        incident = open_incidents.get(about.key)
        event = Event(
            at=step["started_at"],
            cycle_id=step["cycle__external_id"],
            step_id=step["step_id"],
            status=step["status"],
            failed_records=step["failed_count"],
        )
        if fires(step):
            if incident is not None:
                counting.setdefault(about.key, []).append(step)
                continue
            incident = _open_for_step(rule, about, event, _failed(step), resolves, outcome, latest)
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
    # Of a cycle reported in parts, the steps of its earlier reports have
    # been counted already: the rest count.
    fired = [step for step in fired if step["started_at"] > incident.last_seen_at]
    if fired:
        incident_count(
            incident=incident,
            first_at=fired[0]["started_at"],
            last_at=fired[-1]["started_at"],
            occurrences=len(fired),
            failed_records=sum(_failed(step) for step in fired),
        )


def _latest_incidents(rule: AlertRule, keys: set[str]) -> dict[str, dict | None]:
    """The latest incident of the rule about each key (None: there has been
    none), its last_seen_at and resolved_happened_at: one query."""
    latest: dict[str, dict | None] = dict.fromkeys(keys)
    if keys:
        rows = (
            Incident.objects.filter(rule=rule, key__in=keys)
            .annotate(
                rank=Window(
                    RowNumber(),
                    partition_by=[F("key")],
                    order_by=[F("opened_at").desc(), F("pk").desc()],
                )
            )
            .filter(rank=1)
            .values("key", "last_seen_at", "resolved_happened_at")
        )
        latest.update((row["key"], row) for row in rows)
    return latest


def _open_for_step(rule, about: About, event: Event, failed: int, resolves, outcome, latest):
    """Open the incident this step fires, unless the latest about its key
    has been told of it; `latest`, as _latest_incidents reads it, is kept
    current for the next step."""
    if about.key not in latest:
        # This report opened one about it: read what it left.
        latest.update(_latest_incidents(rule, {about.key}))
    told = latest[about.key]
    if told and event.at <= max(told["last_seen_at"], told["resolved_happened_at"] or EARLIEST):
        # An older step, applied late or again: its incident has been told.
        return None
    # From here, whatever happens, the latest incident about it may change.
    del latest[about.key]
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


def _evaluate_new_groups(rule: AlertRule, cycles: dict[CycleRef, list[dict]], outcome: Outcome):
    """The groups first seen in one of these cycles: a failure of it in one
    of the cycle's steps, and none before its start."""
    watched = {
        step["pk"]: cycle
        for cycle, steps in cycles.items()
        for step in steps
        if rule.watches(step["object_type"], step["operation"])
    }
    if not watched:
        return
    # The groups of the watched steps, each with the cycles it failed in:
    # one query for every cycle.
    cycles_of: dict[int, set[CycleRef]] = {}
    for group_id, step_pk in ErrorGroupStep.objects.filter(
        step_id__in=list(watched),
        cycle_started_at__in={cycle.started_at for cycle in watched.values()},
    ).values_list("group_id", "step_id"):
        cycles_of.setdefault(group_id, set()).add(watched[step_pk])
    new = ErrorGroup.objects.filter(
        id__in=list(cycles_of), first_seen__gte=min(c.started_at for c in watched.values())
    ).order_by("first_seen", "id")
    # First seen in one of its cycles: the latest that started before it was.
    seen_in: dict[int, CycleRef] = {}
    for group in new:
        if before := [c for c in cycles_of[group.id] if c.started_at <= group.first_seen]:
            seen_in[group.id] = max(before, key=attrgetter("started_at"))
    groups = {f"group:{group.id}": group for group in new if group.id in seen_in}
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
            event=Event(at=group.first_seen, cycle_id=seen_in[group.id].external_id),
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
