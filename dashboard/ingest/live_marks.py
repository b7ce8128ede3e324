"""Live marks: how an open page learns which steps changed since it last looked.

Every applied report takes the next mark and stamps it on the steps it
wrote; a page remembers the mark it has seen and asks for the steps above it
(docs/dashboard.md, "The page keeps itself current").

A mark is worth something only if marks become visible in order: a page
that read mark 10 must not later meet a step stamped 9 by a transaction that
was still running. So the mark is taken at the very end of the applying
transaction, with an update of one row whose lock is held until the commit:
the next applier waits on it for that short moment, and takes 11 only once
10 is committed. On SQLite, writers are one at a time anyway.
"""

from collections.abc import Iterable
from datetime import datetime

from django.db import connection

from dashboard.models import SyncStep

# Step pks per UPDATE: well under SQLite's limit on bound variables.
CHUNK = 1000
NEXT_MARK = (
    "INSERT INTO dashboard_livemark (id, value) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET value = dashboard_livemark.value + 1 RETURNING value"
)


def live_marks_stamp(*, steps: dict[datetime, list[int]], cycle_pks: Iterable[int]) -> int:
    """Stamp the next mark on the steps given by their pks under their
    cycle's start (which names their partition), and on every step of the
    cycles `cycle_pks` (rebuilt ones); return it. Call it last before the
    commit of the transaction that wrote them."""
    with connection.cursor() as cursor:
        cursor.execute(NEXT_MARK)
        mark = cursor.fetchone()[0]
    cycle_pks = list(cycle_pks)
    if cycle_pks:
        SyncStep.objects.filter(cycle_id__in=cycle_pks).update(live_mark=mark)
    # A statement for all: the starts keep PostgreSQL to their days' partitions.
    starts, pks = list(steps), [pk for of_cycle in steps.values() for pk in of_cycle]
    for start in range(0, len(pks), CHUNK):
        SyncStep.objects.filter(
            cycle_started_at__in=starts, pk__in=pks[start : start + CHUNK]
        ).update(live_mark=mark)
    return mark


def live_mark_current() -> int:
    """The latest mark committed: one read of one row by its key."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM dashboard_livemark WHERE id = 1")
        row = cursor.fetchone()
    return row[0] if row else 0
