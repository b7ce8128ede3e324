"""What a notice says (docs/alerts.md, "The message"): its incident and whether
it opens or resolves, what happened, when in the site's time zone, the
counts, and a link to the matching filtered page."""

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from dashboard.alerts.models import AlertRule, Incident, Notice
from dashboard.choices import Operation, Status, object_type_label
from dashboard.syncerrors.signatures import group_key

Kind = AlertRule.Kind


@dataclass(frozen=True)
class Event:
    """The step (or moment) a notice is about."""

    at: datetime
    cycle_id: str = ""
    step_id: str = ""
    status: str = ""
    failed_records: int | None = None


def site_time(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(settings.TIME_ZONE)).strftime("%Y-%m-%d %H:%M:%S %Z")


def subject(incident: Incident) -> str:
    """The object type, object name and operation, as the table shows them."""
    if not incident.object_type:
        return _("The sync")
    name = object_type_label(incident.object_type)
    if incident.object_name:
        name = f"{name} {incident.object_name}"
    return f"{name} / {Operation(incident.operation).label}"


def incident_link(incident: Incident, kind: str) -> str:
    """The page that shows what the incident is about, filtered to it."""
    rule = incident.rule
    if incident.error_group_id is not None:
        path = reverse("error-group", args=[group_key(incident.error_group_id)])
        return settings.SYNC_STATUS_BASE_URL + path
    query = []
    if incident.object_type:
        query += [("object_type", incident.object_type), ("operation", incident.operation)]
        since = incident.happened_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        query.append(("since", since))
        if rule.kind == Kind.STEP_FAILED and kind != Notice.Kind.RESOLVES:
            query += [("status", Status.FAILED), ("status", Status.CLEANED_UP)]
    path = reverse("sync-status")
    return settings.SYNC_STATUS_BASE_URL + path + (f"?{urlencode(query)}" if query else "")


def notice_text(*, incident: Incident, kind: str, event: Event) -> tuple[str, str]:
    """The title and body of a notice, in the site's language."""
    with translation.override(settings.LANGUAGE_CODE):
        what = _what(incident, kind, event)
        heading = {
            Notice.Kind.OPENS: _("Incident #%(id)s opens"),
            Notice.Kind.RESOLVES: _("Incident #%(id)s resolves"),
            Notice.Kind.DIGEST: _("Incident #%(id)s is still open"),
        }[kind] % {"id": incident.pk}
        lines = [
            _('%(heading)s (rule "%(rule)s": %(kind)s).')
            % {
                "heading": heading,
                "rule": incident.rule.name,
                "kind": incident.rule.get_kind_display(),
            },
            _("What happened: %(what)s") % {"what": what},
            _("When: %(when)s") % {"when": site_time(event.at)},
            _("Counts: %(counts)s") % {"counts": _counts(incident, kind)},
            _("Link: %(link)s") % {"link": incident_link(incident, kind)},
            # For a receiver's filters: the same line in every language.
            f"Incident: {incident.pk} ({kind})",
        ]
        title = f"[Sync Status] {heading}: {_headline(incident, kind)}"
    return title[:500], "\n".join(lines) + "\n"


def _headline(incident: Incident, kind: str) -> str:
    rule, values = incident.rule, {"subject": subject(incident)}
    if rule.kind == Kind.SYNC_STALE:
        if kind == Notice.Kind.RESOLVES:
            return _("the sync runs again")
        return _("the sync has stopped")
    if rule.kind == Kind.NEW_ERROR_GROUP:
        return _("new error group on %(subject)s") % values
    if kind == Notice.Kind.RESOLVES:
        return _("%(subject)s is back to normal") % values
    if rule.kind == Kind.FAILED_RECORDS:
        return _("%(subject)s has failed records") % values
    return _("%(subject)s failed") % values


def _what(incident: Incident, kind: str, event: Event) -> str:
    rule = incident.rule
    values = {
        "subject": subject(incident),
        "status": Status(event.status).label if event.status else "",
        "cycle": event.cycle_id,
        "step": event.step_id,
        "failed": event.failed_records or 0,
        "threshold": rule.threshold,
    }
    if rule.kind == Kind.SYNC_STALE:
        if kind == Notice.Kind.RESOLVES:
            return _("the sync runs again: a cycle started (%(cycle)s).") % values
        return _("the sync has stopped: no cycle has started for longer than usual.")
    if rule.kind == Kind.NEW_ERROR_GROUP:
        return _("a new error group on %(subject)s: %(template)s") % {
            **values,
            "template": incident.summary,
        }
    if kind == Notice.Kind.DIGEST:
        return (
            _("%(subject)s keeps failing; its latest step: %(step)s of cycle %(cycle)s.") % values
        )
    if kind == Notice.Kind.RESOLVES:
        if rule.kind == Kind.FAILED_RECORDS:
            return (
                _(
                    "%(subject)s is below %(threshold)s failed records again: step %(step)s of "
                    "cycle %(cycle)s ended %(status)s with %(failed)s."
                )
                % values
            )
        return _("%(subject)s succeeds again: step %(step)s of cycle %(cycle)s succeeded.") % values
    if rule.kind == Kind.FAILED_RECORDS:
        return (
            _(
                "%(subject)s: step %(step)s of cycle %(cycle)s ended %(status)s with %(failed)s "
                "failed records (threshold %(threshold)s)."
            )
            % values
        )
    return _("%(subject)s failed: step %(step)s of cycle %(cycle)s ended %(status)s.") % values


def _counts(incident: Incident, kind: str) -> str:
    rule = incident.rule
    if rule.kind == Kind.SYNC_STALE:
        return _("stale since %(since)s.") % {"since": site_time(incident.happened_at)}
    if rule.kind == Kind.NEW_ERROR_GROUP:
        return _("%(failures)s failures so far.") % {"failures": incident.failed_records}
    values = {
        "steps": incident.occurrences - incident.noticed_occurrences,
        "records": incident.failed_records - incident.noticed_failed_records,
        "all_steps": incident.occurrences,
        "all_records": incident.failed_records,
    }
    if kind == Notice.Kind.OPENS:
        return _("failed steps %(all_steps)s, failed records %(all_records)s.") % values
    return (
        _(
            "since the last notice, failed steps +%(steps)s, failed records +%(records)s; "
            "since it opened, failed steps %(all_steps)s, failed records %(all_records)s."
        )
        % values
    )
