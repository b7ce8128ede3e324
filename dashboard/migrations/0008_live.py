"""The live mark: what an open Sync Status page asks about when it polls.

Adding a column with a constant default is instant on PostgreSQL, on the
partitioned steps table too (no rewrite); the steps already stored carry
mark 0, which every page has seen.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0007_health")]

    operations = [
        migrations.AddField(
            model_name="syncstep",
            name="live_mark",
            field=models.BigIntegerField(db_default=0),
        ),
        migrations.CreateModel(
            name="LiveMark",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("value", models.BigIntegerField(default=0)),
            ],
        ),
    ]
