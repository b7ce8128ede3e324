"""On PostgreSQL, turn steps and failed records into tables partitioned by day.

Every name Django knows (table, primary key, constraints, indexes) is kept,
so later migrations find what they expect. The primary key becomes (id,
cycle_started_at) because PostgreSQL requires the partition key in it; id
alone stays unique, drawn from its sequence. SQLite is left as it is.
"""

from datetime import UTC, datetime, time, timedelta

from django.db import migrations

TABLES = ("dashboard_syncstep", "dashboard_failedrecord")


def partition_by_day(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(
                """
                SELECT con.conname, pg_get_constraintdef(con.oid), con.contype
                FROM pg_constraint con
                WHERE con.conrelid = %s::regclass AND con.contype IN ('p', 'u', 'f')
                """,
                [table],
            )
            constraints = cursor.fetchall()
            constraint_names = {name for name, _, _ in constraints}
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table]
            )
            indexes = [(n, d) for n, d in cursor.fetchall() if n not in constraint_names]
            cursor.execute(
                "SELECT DISTINCT (cycle_started_at AT TIME ZONE 'UTC')::date FROM " + table
            )
            days = {row[0] for row in cursor.fetchall()}

            new = f"{table}_partitioned"
            cursor.execute(
                f"CREATE TABLE {new} (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY "
                f"INCLUDING CONSTRAINTS) PARTITION BY RANGE (cycle_started_at)"
            )
            for day in sorted(days):
                low = datetime.combine(day, time(), tzinfo=UTC)
                cursor.execute(
                    f"CREATE TABLE {table}_p{day:%Y%m%d} PARTITION OF {new} "
                    f"FOR VALUES FROM (%s) TO (%s)",
                    [low, low + timedelta(days=1)],
                )
            cursor.execute(f"INSERT INTO {new} OVERRIDING SYSTEM VALUE SELECT * FROM {table}")
            cursor.execute(f"DROP TABLE {table}")
            cursor.execute(f"ALTER TABLE {new} RENAME TO {table}")
            for name, definition, kind in constraints:
                if kind == "p":
                    definition = "PRIMARY KEY (id, cycle_started_at)"
                cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
            for _, definition in indexes:
                cursor.execute(definition)
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)",
                [table],
            )


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0004_partition_keys")]

    operations = [migrations.RunPython(partition_by_day, migrations.RunPython.noop)]
