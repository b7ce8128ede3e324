"""Error groups: each failure and job-level error gets its group, and the
groups' rollups are counted from what is stored."""

import django.db.models.deletion
from django.db import migrations, models

import dashboard.choices


def group_what_is_stored(apps, schema_editor):
    # The current code, not the historical models: the rules that group a
    # failure live there. Nothing to do on a new database.
    FailedRecord = apps.get_model("dashboard", "FailedRecord")
    SyncStep = apps.get_model("dashboard", "SyncStep")
    RetentionMark = apps.get_model("dashboard", "RetentionMark")
    if not SyncStep.objects.exists() and not FailedRecord.objects.exists():
        RetentionMark.objects.create(id=1, groups_expired_before="0001-01-02T00:00:00Z")
        return
    from dashboard.syncerrors.grouping import groups_rebuild

    groups_rebuild()


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0005_partition_by_day")]

    operations = [
        # Each was an index of its own that a unique constraint starting with
        # the same column already serves; every failed record wrote both.
        migrations.AlterField(
            model_name="failedrecord",
            name="step",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="failures",
                to="dashboard.syncstep",
            ),
        ),
        migrations.AlterField(
            model_name="syncstep",
            name="cycle",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="steps",
                to="dashboard.synccycle",
            ),
        ),
        migrations.AddField(
            model_name="syncstep",
            name="error_group_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="failedrecord",
            name="group_id",
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="failedrecord",
            name="step_started_at",
            field=models.DateTimeField(default="0001-01-02T00:00:00Z"),
            preserve_default=False,
        ),
        migrations.CreateModel(
            name="ErrorGroup",
            fields=[
                ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("object_type", models.CharField(choices=dashboard.choices.ObjectType.choices, max_length=32)),
                ("object_name", models.CharField(blank=True, max_length=255)),
                ("operation", models.CharField(choices=dashboard.choices.Operation.choices, max_length=32)),
                ("error_code", models.CharField(blank=True, max_length=255)),
                ("field", models.CharField(blank=True, max_length=255)),
                ("level", models.CharField(choices=[("record", "Record"), ("job", "Job")], max_length=8)),
                ("template", models.TextField()),
                ("sample_message", models.TextField()),
                ("failures", models.BigIntegerField(default=0)),
                ("records", models.BigIntegerField(default=0)),
                ("first_seen", models.DateTimeField(null=True)),
                ("last_seen", models.DateTimeField(null=True)),
            ],
        ),
        migrations.CreateModel(
            name="ErrorGroupBucket",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("bucket", models.DateTimeField()),
                ("failures", models.BigIntegerField()),
                (
                    "group",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="buckets",
                        to="dashboard.errorgroup",
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("group", "bucket"), name="bucket_unique")]
            },
        ),
        migrations.CreateModel(
            name="ErrorGroupStep",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("group_id", models.BigIntegerField()),
                ("cycle_started_at", models.DateTimeField(db_index=True)),
                ("step_started_at", models.DateTimeField()),
                ("bucket", models.DateTimeField()),
                ("failures", models.BigIntegerField()),
                (
                    "step",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="dashboard.syncstep",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("step", "group_id", "cycle_started_at"), name="group_step_unique"
                    )
                ],
                "indexes": [models.Index(fields=["group_id", "step_started_at"], name="group_step_seen")],
            },
        ),
        migrations.CreateModel(
            name="ErrorGroupRecord",
            fields=[
                ("pk", models.CompositePrimaryKey("group_id", "record_id", blank=True, editable=False, primary_key=True, serialize=False)),
                ("group_id", models.BigIntegerField()),
                ("record_id", models.CharField(max_length=255)),
                ("last_cycle_started_at", models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name="StepStream",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("object_type", models.CharField(choices=dashboard.choices.ObjectType.choices, max_length=32)),
                ("object_name", models.CharField(blank=True, max_length=255)),
                ("operation", models.CharField(choices=dashboard.choices.Operation.choices, max_length=32)),
                ("latest_final_started_at", models.DateTimeField(null=True)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("object_type", "object_name", "operation"), name="stream_unique"
                    )
                ]
            },
        ),
        migrations.CreateModel(
            name="RetentionMark",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("groups_expired_before", models.DateTimeField()),
            ],
        ),
        migrations.AddIndex(
            model_name="failedrecord",
            index=models.Index(
                fields=["group_id", "-step_started_at", "-step", "record_id"], name="failure_group"
            ),
        ),
        migrations.AddIndex(
            model_name="failedrecord",
            index=models.Index(fields=["record_id", "-step_started_at", "-step"], name="failure_record"),
        ),
        migrations.AddIndex(
            model_name="failedrecord",
            index=models.Index(
                condition=models.Q(("marketo_id__isnull", False)),
                fields=["marketo_id"],
                name="failure_marketo",
            ),
        ),
        migrations.RunPython(group_what_is_stored, migrations.RunPython.noop),
    ]
