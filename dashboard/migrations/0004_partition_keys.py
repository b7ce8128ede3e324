import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_cycle_start_to_failures(apps, schema_editor):
    SyncStep = apps.get_model("dashboard", "SyncStep")
    FailedRecord = apps.get_model("dashboard", "FailedRecord")
    FailedRecord.objects.update(
        cycle_started_at=Subquery(
            SyncStep.objects.filter(pk=OuterRef("step_id")).values("cycle_started_at")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0003_user_preference")]

    operations = [
        migrations.AddField(
            model_name="failedrecord",
            name="cycle_started_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(copy_cycle_start_to_failures, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="failedrecord",
            name="cycle_started_at",
            field=models.DateTimeField(),
        ),
        migrations.RemoveConstraint(model_name="syncstep", name="step_unique_in_cycle"),
        migrations.AddConstraint(
            model_name="syncstep",
            constraint=models.UniqueConstraint(
                fields=("cycle", "step_id", "cycle_started_at"), name="step_unique_in_cycle"
            ),
        ),
        migrations.RemoveConstraint(model_name="failedrecord", name="failure_unique_in_step"),
        migrations.AddConstraint(
            model_name="failedrecord",
            constraint=models.UniqueConstraint(
                fields=("step", "record_id", "cycle_started_at"), name="failure_unique_in_step"
            ),
        ),
        migrations.AlterField(
            model_name="failedrecord",
            name="step",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="failures",
                to="dashboard.syncstep",
            ),
        ),
    ]
