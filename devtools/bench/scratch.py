"""A database of its own for a benchmark or load run, next to the configured one."""

from contextlib import contextmanager

from django.conf import settings
from django.db import connection


@contextmanager
def scratch_database(suffix: str, keep: bool = False):
    """Point the default connection at a new, empty `<name>_<suffix>` for the
    block, and drop it afterwards unless `keep`: a run never touches the data
    of the database it was pointed at."""
    database = settings.DATABASES["default"]
    original, name = database["NAME"], f"{database['NAME']}_{suffix}"
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    database["NAME"] = name
    try:
        yield name
    finally:
        connection.close()
        database["NAME"] = original
        if not keep:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
