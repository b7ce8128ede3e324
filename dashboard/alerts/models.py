"""Alert rules, their incidents and the outbox of their notices (docs/alerts.md).

Imported by dashboard/models.py, which keeps the app's models in one place for
Django; they live here, in the alerts' room, because nothing else reads them.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dashboard.choices import ObjectType, Operation


class AlertRule(models.Model):
    class Kind(models.TextChoices):
        STEP_FAILED = "step_failed", _("A step failed")
        FAILED_RECORDS = "failed_records", _("Failed records")
        NEW_ERROR_GROUP = "new_error_group", _("A new error group")
        SYNC_STALE = "sync_stale", _("The sync is stale")

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    # failed_records: a step with at least this many failed records fires.
    threshold = models.PositiveIntegerField(_("threshold"), default=1)
    # Codes of dashboard/choices.py; empty means any.
    object_types = models.JSONField(_("object types"), default=list, blank=True)
    operations = models.JSONField(_("operations"), default=list, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        constraints = [
            models.CheckConstraint(condition=Q(threshold__gte=1), name="alert_threshold_positive")
        ]

    def __str__(self):
        return self.name

    def watches(self, object_type: str, operation: str) -> bool:
        return (not self.object_types or object_type in self.object_types) and (
            not self.operations or operation in self.operations
        )


class AlertDestination(models.Model):
    """Where a rule sends: one Apprise URL. The URL may hold a secret (a
    password, a token): it is shown only through `masked_url`."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="destinations")
    url = models.TextField(_("Apprise URL"))
    # Apprise's own rendering of the URL with its secrets elided, kept so that
    # pages never need to parse, or hold, the secret.
    masked_url = models.TextField(_("destination"), editable=False)
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("destination")
        verbose_name_plural = _("destinations")

    def __str__(self):
        return self.masked_url


class Incident(models.Model):
    """One stretch of trouble a rule saw about one key: an object type, object
    name and operation; an error group; or the sync as a whole."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="incidents")
    # "lead||pull_updates", "group:<id>" or "sync": what it is about.
    key = models.CharField(max_length=600)
    object_type = models.CharField(max_length=32, choices=ObjectType.choices, blank=True)
    object_name = models.CharField(max_length=255, blank=True)
    operation = models.CharField(max_length=32, choices=Operation.choices, blank=True)
    error_group_id = models.BigIntegerField(null=True, blank=True)
    # What it is about in words, as it was when it opened (a group's template).
    summary = models.TextField(blank=True)
    # What opened it ("<cycle id>/<step id>", a group's first sighting, the
    # last cycle before the sync went stale): the same event never opens a
    # second incident, however often its report is applied.
    opened_by = models.CharField(max_length=600)
    opened_at = models.DateTimeField(default=timezone.now)
    # When it happened: the opening step's start, the sync's stale-since.
    happened_at = models.DateTimeField()
    resolved_by = models.CharField(max_length=600, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # When the resolution happened: the resolving step's start, the new cycle's.
    resolved_happened_at = models.DateTimeField(null=True, blank=True)
    # Steps (or sightings) that fired it, and their failed records, since it
    # opened; the start of the latest, so that none counts twice.
    occurrences = models.PositiveIntegerField(default=1)
    failed_records = models.BigIntegerField(default=0)
    last_seen_at = models.DateTimeField()
    # The same counts as of the last notice: a digest tells the difference.
    noticed_occurrences = models.PositiveIntegerField(default=1)
    noticed_failed_records = models.BigIntegerField(default=0)
    last_notice_at = models.DateTimeField(default=timezone.now)
    digests = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        constraints = [
            # Two workers, or a report applied twice, cannot open it twice.
            models.UniqueConstraint(
                fields=["rule", "key"], condition=Q(resolved_at__isnull=True), name="incident_open"
            ),
            models.UniqueConstraint(fields=["rule", "key", "opened_by"], name="incident_event"),
        ]
        indexes = [models.Index(fields=["rule", "key", "-opened_at"], name="incident_latest")]

    def __str__(self):
        return f"#{self.pk} {self.key}"


class Notice(models.Model):
    """The outbox: a message to one destination, written in the transaction
    that opens, resolves or digests its incident, before anything is sent."""

    class Kind(models.TextChoices):
        OPENS = "opens", _("opens")
        RESOLVES = "resolves", _("resolves")
        DIGEST = "digest", _("digest")

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notices")
    destination = models.ForeignKey(
        AlertDestination, on_delete=models.CASCADE, related_name="notices"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # 0 for an opening or a resolution; the digest's number otherwise.
    number = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=500)
    body = models.TextField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # When a worker took it: past the lease, a worker that died sending it
    # is presumed dead and another takes it over.
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Once per opening and per resolution (and per digest) per destination.
            models.UniqueConstraint(
                fields=["incident", "destination", "kind", "number"], name="notice_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="notice_unsent",
                condition=Q(state__in=["pending", "sending"]),
            )
        ]

    def __str__(self):
        return f"{self.incident_id} {self.kind} to {self.destination_id}: {self.state}"
