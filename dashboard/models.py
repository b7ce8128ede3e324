import uuid

from django.db import models
from django.db.models import Q

from dashboard.choices import ObjectType, Operation, Status

# Longest identifier or code a report may carry; longer is a validation error.
MAX_ID_LENGTH = 255


class SyncCycle(models.Model):
    external_id = models.CharField(max_length=MAX_ID_LENGTH, unique=True)
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.external_id


class SyncStep(models.Model):
    # DO_NOTHING: the purge deletes failed records, steps and cycles with one
    # statement each; Django's cascade would load every row into memory first.
    cycle = models.ForeignKey(SyncCycle, on_delete=models.DO_NOTHING, related_name="steps")
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
    # The job-level error of a step that failed as a whole.
    error_code = models.CharField(max_length=MAX_ID_LENGTH, null=True, blank=True)
    error_message = models.TextField(null=True, blank=True)

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
    step = models.ForeignKey(
        SyncStep, on_delete=models.DO_NOTHING, related_name="failures", db_constraint=False
    )
    # The step's cycle_started_at: the partition key here too.
    cycle_started_at = models.DateTimeField()
    record_id = models.CharField(max_length=MAX_ID_LENGTH)
    marketo_id = models.CharField(max_length=MAX_ID_LENGTH, null=True, blank=True)
    error_code = models.CharField(max_length=MAX_ID_LENGTH, null=True, blank=True)
    field = models.CharField(max_length=MAX_ID_LENGTH, null=True, blank=True)
    message = models.TextField()

    class Meta:
        constraints = [
            # Also the export's order within a step: records by record_id.
            models.UniqueConstraint(
                fields=["step", "record_id", "cycle_started_at"], name="failure_unique_in_step"
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

    class Meta:
        indexes = [
            models.Index(fields=["cycle_external_id", "id"], name="report_cycle"),
            models.Index(fields=["id"], name="report_pending", condition=Q(status="accepted")),
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
