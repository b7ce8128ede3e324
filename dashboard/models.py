import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from dashboard.choices import ObjectType, Operation, Status

# Longest identifier or code a report may carry; longer is a validation error.
MAX_ID_LENGTH = 255


class SyncCycle(models.Model):
    external_id = models.CharField(max_length=MAX_ID_LENGTH, unique=True)
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The health strip's "last cycle ended at": a max() read from the
        # index's end rather than from every cycle of the window.
        indexes = [models.Index(fields=["ended_at"], name="cycle_ended")]

    def __str__(self):
        return self.external_id


class SyncStep(models.Model):
    # DO_NOTHING: the purge deletes failed records, steps and cycles with one
    # statement each; Django's cascade would load every row into memory first.
    # No index of its own: the (cycle, step_id, ...) constraint serves.
    cycle = models.ForeignKey(
        SyncCycle, on_delete=models.DO_NOTHING, related_name="steps", db_index=False
    )
    step_id = models.CharField(max_length=MAX_ID_LENGTH)
    # Copied from the cycle so that the retention window is one indexed
    # condition on this table, with no join, on every page view; and, on
    # PostgreSQL, the key this table is partitioned by, a partition a day,
    # so that the purge drops whole days (dashboard/storage/partitions.py).
    cycle_started_at = models.DateTimeField()
    object_type = models.CharField(max_length=32, choices=ObjectType.choices)
    object_name = models.CharField(max_length=MAX_ID_LENGTH, null=True, blank=True)
    operation = models.CharField(max_length=32, choices=Operation.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # The counters: null means the step did not report it (shown as "—").
    new_count = models.BigIntegerField(null=True, blank=True)
    updated_count = models.BigIntegerField(null=True, blank=True)
    deleted_count = models.BigIntegerField(null=True, blank=True)
    failed_count = models.BigIntegerField(null=True, blank=True)
    skipped_count = models.BigIntegerField(null=True, blank=True)
    # The job-level error of a step that failed as a whole, and its error group.
    error_code = models.CharField(max_length=MAX_ID_LENGTH, null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)
    error_group_id = models.BigIntegerField(null=True, blank=True)
    # How many failed records of it are stored, kept by ingestion
    # (dashboard/health/rollups.py): the health figures count a range of
    # steps' failed records from the steps alone.
    stored_failures = models.BigIntegerField(default=0, db_default=0)
    # The live mark (LiveMark) of the last report that wrote this step: an
    # open page asks for the steps written since the mark it last saw. A
    # database default, so that a COPY or a raw insert may leave it out.
    live_mark = models.BigIntegerField(db_default=0)

    class Meta:
        permissions = [("view_sync_status", "Can view the sync status dashboard")]
        constraints = [
            # A step's identity is (cycle, step_id); the partition key is part
            # of the constraint because PostgreSQL requires it of a unique
            # index on a partitioned table. All steps of a cycle share it.
            models.UniqueConstraint(
                fields=["cycle", "step_id", "cycle_started_at"], name="step_unique_in_cycle"
            ),
            models.CheckConstraint(
                condition=Q(new_count__gte=0)
                & Q(updated_count__gte=0)
                & Q(deleted_count__gte=0)
                & Q(failed_count__gte=0)
                & Q(skipped_count__gte=0),
                name="step_counts_not_negative",
            ),
        ]
        # The page orders by start or end, always ending in the pk so pages
        # never repeat or skip rows, and filters by object, status, operation
        # within a start-time window.
        indexes = [
            models.Index(fields=["started_at", "id"], name="step_started"),
            models.Index(fields=["ended_at", "id"], name="step_ended"),
            models.Index(fields=["cycle_started_at"], name="step_cycle_started"),
            models.Index(fields=["object_type", "started_at"], name="step_object_started"),
            models.Index(fields=["operation", "started_at"], name="step_operation_started"),
            models.Index(fields=["status", "started_at"], name="step_status_started"),
        ]

    def __str__(self):
        return f"{self.cycle_id}/{self.step_id}"


class FailedRecord(models.Model):
    # No database constraint: on PostgreSQL steps are partitioned, and a
    # foreign key cannot point at one. Ingestion writes a step before its
    # failures in one transaction, and the purge removes both by the same day.
    # No index of its own: the (step, record_id, ...) constraint serves, and
    # every index here is written by every failed record ingested.
    step = models.ForeignKey(
        SyncStep,
        on_delete=models.DO_NOTHING,
        related_name="failures",
        db_constraint=False,
        db_index=False,
    )
    # The step's cycle_started_at: the partition key here too.
    cycle_started_at = models.DateTimeField()
    record_id = models.CharField(max_length=MAX_ID_LENGTH)
    marketo_id = models.CharField(max_length=MAX_ID_LENGTH, null=True, blank=True)
    error_code = models.CharField(max_length=MAX_ID_LENGTH, null=True, blank=True)
    field = models.CharField(max_length=MAX_ID_LENGTH, null=True, blank=True)
    message = models.TextField()
    # Its error group (dashboard/syncerrors/signatures.py), and its step's
    # start, by which a group and a record list their failures.
    group_id = models.BigIntegerField()
    step_started_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Also the export's order within a step: records by record_id.
            models.UniqueConstraint(
                fields=["step", "record_id", "cycle_started_at"], name="failure_unique_in_step"
            ),
        ]
        indexes = [
            # A group's page: most recent step first, then by record.
            models.Index(
                fields=["group_id", "-step_started_at", "-step", "record_id"], name="failure_group"
            ),
            # A record's timeline, and the search by Marketo id.
            models.Index(fields=["record_id", "-step_started_at", "-step"], name="failure_record"),
            models.Index(
                fields=["marketo_id"], name="failure_marketo", condition=Q(marketo_id__isnull=False)
            ),
        ]

    def __str__(self):
        return self.record_id


class ReceivedReport(models.Model):
    """A report exactly as it was received, kept until it is applied and beyond.

    Storing it before answering 202 is what makes the 202 a promise: the
    report is applied from here, whatever happened to its task.
    """

    class State(models.TextChoices):
        ACCEPTED = "accepted"
        APPLIED = "applied"
        FAILED = "failed"

    # The pk orders reports by receipt: "the report received last wins".
    report_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    cycle_external_id = models.CharField(max_length=MAX_ID_LENGTH)
    payload = models.TextField()
    source = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=State.choices, default=State.ACCEPTED)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(null=True, blank=True)
    # When the alert rules were evaluated against it once applied: an
    # evaluation lost with its worker is done again by the sweep.
    alerts_evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["cycle_external_id", "id"], name="report_cycle"),
            models.Index(fields=["id"], name="report_pending", condition=Q(status="accepted")),
            models.Index(
                fields=["applied_at"],
                name="report_unevaluated",
                condition=Q(status="applied", alerts_evaluated_at__isnull=True),
            ),
        ]

    def __str__(self):
        return str(self.report_id)


class IngestToken(models.Model):
    class Scope(models.TextChoices):
        INGEST = "ingest"
        READ = "read"

    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.INGEST)
    # SHA-256 of the token: tokens are random 256-bit secrets, so a fast hash
    # is enough and the token itself is never stored.
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} ({self.scope})"


class UserPreference(models.Model):
    user = models.OneToOneField("auth.User", on_delete=models.CASCADE, related_name="preference")
    # An IANA name such as Europe/Paris; empty means the site's TIME_ZONE.
    time_zone = models.CharField(max_length=64, blank=True)

    def __str__(self):
        return f"{self.user} ({self.time_zone or 'site time zone'})"


# --- Error groups: rollups kept current as reports are applied --------------


class ErrorGroup(models.Model):
    """Every failure (and job-level error) of one signature, in the retention
    window. The counts are kept by dashboard/syncerrors/rollups.py in the
    transaction that writes the failures, and by the purge."""

    class Level(models.TextChoices):
        RECORD = "record", _("Record")
        JOB = "job", _("Job")

    # Derived from the signature alone (Signature.group_id), so a link to a
    # group keeps working while it has failures.
    id = models.BigIntegerField(primary_key=True)
    object_type = models.CharField(max_length=32, choices=ObjectType.choices)
    object_name = models.CharField(max_length=MAX_ID_LENGTH, blank=True)
    operation = models.CharField(max_length=32, choices=Operation.choices)
    error_code = models.CharField(max_length=MAX_ID_LENGTH, blank=True)
    field = models.CharField(max_length=MAX_ID_LENGTH, blank=True)
    level = models.CharField(max_length=8, choices=Level.choices)
    template = models.TextField()
    # A real message of the group, shown on hover.
    sample_message = models.TextField()
    failures = models.BigIntegerField(default=0)
    # Distinct record_ids; for job-level groups, steps.
    records = models.BigIntegerField(default=0)
    # The starts of the earliest and latest steps with a failure of the group.
    first_seen = models.DateTimeField(null=True)
    last_seen = models.DateTimeField(null=True)

    def __str__(self):
        return f"{self.error_code or '-'}: {self.template[:60]}"


class ErrorGroupBucket(models.Model):
    """A group's failures by the 4-hour bucket (UTC) of their step's start: its trend."""

    group = models.ForeignKey(
        ErrorGroup, on_delete=models.DO_NOTHING, related_name="buckets", db_constraint=False
    )
    bucket = models.DateTimeField()
    failures = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "bucket"], name="bucket_unique")]

    def __str__(self):
        return f"{self.group_id} {self.bucket:%Y-%m-%d %H:%M}: {self.failures}"


class ErrorGroupStep(models.Model):
    """A step's share of a group: what the purge takes out of the group when
    the step expires, and where the group's first and last seen come from."""

    group_id = models.BigIntegerField()
    step = models.ForeignKey(
        SyncStep, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False,
        db_index=False,
    )  # fmt: skip
    cycle_started_at = models.DateTimeField(db_index=True)
    step_started_at = models.DateTimeField()
    # The 4-hour bucket of step_started_at (changes.bucket_of).
    bucket = models.DateTimeField()
    failures = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["step", "group_id", "cycle_started_at"], name="group_step_unique"
            )
        ]
        indexes = [models.Index(fields=["group_id", "step_started_at"], name="group_step_seen")]

    def __str__(self):
        return f"{self.group_id} in step {self.step_id}: {self.failures}"


class ErrorGroupRecord(models.Model):
    """A record that failed in a group, and the start of the latest cycle in
    which it did: a group's distinct records, counted without a scan. One
    index only (its key): a large report writes a row here a record."""

    pk = models.CompositePrimaryKey("group_id", "record_id")
    group_id = models.BigIntegerField()
    record_id = models.CharField(max_length=MAX_ID_LENGTH)
    last_cycle_started_at = models.DateTimeField()

    def __str__(self):
        return f"{self.group_id}: {self.record_id}"


class StepStream(models.Model):
    """The steps of one object type, object name and operation: the start of
    the latest one with a final status, which decides whether a group or a
    record is still failing."""

    object_type = models.CharField(max_length=32, choices=ObjectType.choices)
    object_name = models.CharField(max_length=MAX_ID_LENGTH, blank=True)
    operation = models.CharField(max_length=32, choices=Operation.choices)
    latest_final_started_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "object_name", "operation"], name="stream_unique"
            )
        ]

    def __str__(self):
        return f"{self.object_type} {self.object_name} {self.operation}".replace("  ", " ")


class RetentionMark(models.Model):
    """One row: the cutoff up to which the purge has taken expired failures
    out of the groups, so that a purge interrupted or run twice takes nothing
    out twice, and a report applied at the edge of the window adds nothing
    the purge has already taken out."""

    groups_expired_before = models.DateTimeField()

    def __str__(self):
        return f"groups expired before {self.groups_expired_before.isoformat()}"


# --- Health: the steps of each hour, kept current as reports are applied ----


class StepHour(models.Model):
    """The steps that started in one hour (UTC) with one status, and their
    failed records, among the cycles that started on one day (UTC): the
    health strip's figures without a scan of the steps. Kept by
    dashboard/health/rollups.py in the transaction that writes the steps;
    the day is the purge's, which drops a day's rows with its partition."""

    cycle_day = models.DateField()
    hour = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices)
    steps = models.BigIntegerField(default=0)
    failed_records = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cycle_day", "hour", "status"], name="step_hour_unique")
        ]

    def __str__(self):
        return f"{self.hour:%Y-%m-%d %H}h {self.status}: {self.steps}"


class LiveMark(models.Model):
    """One row: how many reports have been applied, which each applied report
    stamps on the steps it wrote (SyncStep.live_mark). Taken last in the
    applying transaction and held until its commit, so that marks become
    visible in the order they were given: a page that has seen mark N has
    seen every step written under a smaller one (dashboard/ingest/live_marks.py)."""

    value = models.BigIntegerField(default=0)

    def __str__(self):
        return f"live mark {self.value}"


# --- Alerts: their models live in their room --------------------------------

from dashboard.alerts.models import (  # noqa: E402, F401
    AlertDestination,
    AlertRule,
    Incident,
    Notice,
)
