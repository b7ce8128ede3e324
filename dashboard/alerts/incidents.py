"""Incidents open, count, resolve and digest, each in one transaction with the
notices it owes its destinations (the outbox): what is in the database is
what will be sent, and database constraints keep two workers, or a report
applied twice, from opening or telling anything twice."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from dashboard.alerts.messages import Event, notice_text
from dashboard.alerts.models import AlertRule, Incident, Notice


@dataclass(frozen=True)
class About:
    """What an incident is about: its key and the fields that show it."""

    key: str
    object_type: str = ""
    object_name: str = ""
    operation: str = ""
    error_group_id: int | None = None
    summary: str = ""


def stream_about(object_type: str, object_name: str | None, operation: str) -> About:
    return About(
        key=f"{object_type}|{object_name or ''}|{operation}",
        object_type=object_type,
        object_name=object_name or "",
        operation=operation,
    )


@dataclass
class Outcome:
    """The notices written, to be sent once their transaction has committed."""

    notice_pks: list[int] = field(default_factory=list)


def incident_open(
    *,
    rule: AlertRule,
    about: About,
    opened_by: str,
    event: Event,
    failed_records: int = 0,
    one_notice: bool = False,
    last_seen_at: datetime | None = None,
    outcome: Outcome,
) -> Incident | None:
    """Open an incident and write its opening notices; None when this event
    has opened one already, or one is open about the same key (another
    worker got there first). `one_notice`: it is closed at once, as nothing
    will ever resolve it (a new error group). `last_seen_at`: what a later
    event must come after to count or resolve (the event's time by default)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            incident = Incident.objects.create(
                rule=rule,
                key=about.key,
                object_type=about.object_type,
                object_name=about.object_name,
                operation=about.operation,
                error_group_id=about.error_group_id,
                summary=about.summary,
                opened_by=opened_by[:600],
                opened_at=now,
                happened_at=event.at,
                resolved_at=now if one_notice else None,
                failed_records=failed_records,
                noticed_failed_records=failed_records,
                last_seen_at=last_seen_at or event.at,
                last_notice_at=now,
            )
            incident.rule = rule
            outcome.notice_pks += _notices_write(incident, Notice.Kind.OPENS, 0, event)
    except IntegrityError:
        return None
    return incident


def incident_count(
    *,
    incident: Incident,
    first_at: datetime,
    last_at: datetime,
    occurrences: int,
    failed_records: int,
) -> None:
    """More steps, started from `first_at` to `last_at`, fired the open
    incident. Counted once: steps no later than the latest counted (a report
    applied again) add nothing."""
    Incident.objects.filter(pk=incident.pk, last_seen_at__lt=first_at).update(
        occurrences=F("occurrences") + occurrences,
        failed_records=F("failed_records") + failed_records,
        last_seen_at=last_at,
    )
    incident.last_seen_at = max(incident.last_seen_at, last_at)


def incident_resolve(
    *, incident: Incident, resolved_by: str, event: Event, outcome: Outcome
) -> bool:
    """Resolve the open incident and write its resolution notices; False when
    it was resolved already (by another worker)."""
    with transaction.atomic():
        updated = Incident.objects.filter(pk=incident.pk, resolved_at__isnull=True).update(
            resolved_at=timezone.now(), resolved_by=resolved_by[:600], resolved_happened_at=event.at
        )
        if not updated:
            return False
        incident.refresh_from_db()
        outcome.notice_pks += _notices_write(incident, Notice.Kind.RESOLVES, 0, event)
    return True


def incidents_digest(*, now: datetime, outcome: Outcome) -> int:
    """A digest of what happened since the last notice, for every incident
    still open whose last notice is older than SYNC_STATUS_ALERT_DIGEST_MINUTES
    and that has fired again since. Returns how many were digested."""
    cutoff = now - timedelta(minutes=settings.SYNC_STATUS_ALERT_DIGEST_MINUTES)
    due = Incident.objects.filter(
        resolved_at__isnull=True,
        last_notice_at__lte=cutoff,
        occurrences__gt=F("noticed_occurrences"),
    ).values_list("pk", flat=True)
    digested = 0
    for pk in list(due):
        with transaction.atomic():
            # Locked, and read again: the counts a digest tells are the ones
            # it marks as told, even while a report is counting into it.
            incident = (
                Incident.objects.select_for_update()
                .select_related("rule")
                .filter(pk=pk, resolved_at__isnull=True, last_notice_at__lte=cutoff)
                .first()
            )
            if incident is None:
                continue
            event = Event(at=incident.last_seen_at)
            number = incident.digests + 1
            outcome.notice_pks += _notices_write(incident, Notice.Kind.DIGEST, number, event)
            incident.digests = number
            incident.noticed_occurrences = incident.occurrences
            incident.noticed_failed_records = incident.failed_records
            incident.last_notice_at = now
            incident.save(
                update_fields=[
                    "digests",
                    "noticed_occurrences",
                    "noticed_failed_records",
                    "last_notice_at",
                ]
            )
            digested += 1
    return digested


def _notices_write(incident: Incident, kind: str, number: int, event: Event) -> list[int]:
    title, body = notice_text(incident=incident, kind=kind, event=event)
    notices = Notice.objects.bulk_create(
        Notice(
            incident=incident,
            destination=destination,
            kind=kind,
            number=number,
            title=title,
            body=body,
        )
        for destination in incident.rule.destinations.all()
    )
    return [notice.pk for notice in notices]
