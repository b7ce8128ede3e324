"""Health (docs/dashboard.md): each step's count of stored failed records, the
steps of each hour by status, and an index for the latest cycle end; a
database with steps already has its rollups counted from them."""

from django.db import migrations, models

import dashboard.choices


def count_what_is_stored(apps, schema_editor):
    # The current code, not the historical models: the rules that count a
    # step live there. Nothing to do on a new database.
    SyncStep = apps.get_model("dashboard", "SyncStep")
    if not SyncStep.objects.exists():
        return
    from dashboard.health.rollups import step_hours_rebuild

    step_hours_rebuild()


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0006_error_groups")]

    operations = [
        migrations.CreateModel(
            name="StepHour",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("cycle_day", models.DateField()),
                ("hour", models.DateTimeField()),
                ("status", models.CharField(choices=dashboard.choices.Status.choices, max_length=16)),
                ("steps", models.BigIntegerField(default=0)),
                ("failed_records", models.BigIntegerField(default=0)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("cycle_day", "hour", "status"), name="step_hour_unique"
                    )
                ]
            },
        ),
        migrations.AddField(
            model_name="syncstep",
            name="stored_failures",
            field=models.BigIntegerField(db_default=0, default=0),
        ),
        migrations.AddIndex(
            model_name="synccycle",
            index=models.Index(fields=["ended_at"], name="cycle_ended"),
        ),
        migrations.RunPython(count_what_is_stored, migrations.RunPython.noop),
    ]
