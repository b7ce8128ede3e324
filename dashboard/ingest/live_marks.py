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

from django.db import connection

from dashboard.models import SyncCycle, SyncStep

# Step ids per UPDATE: well under SQLite's limit on bound variables.
CHUNK = 1000
NEXT_MARK = (
    "INSERT INTO dashboard_livemark (id, value) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET value = dashboard_livemark.value + 1 RETURNING value"
)


def live_marks_stamp(*, cycle: SyncCycle, step_ids: list[str] | None) -> int:
    """Stamp the next mark on the steps of `cycle` named `step_ids` (all of
    them with None: a rebuilt cycle) and return it. Call it last before the
    commit of the transaction that wrote them."""
    with connection.cursor() as cursor:
        cursor.execute(NEXT_MARK)
        mark = cursor.fetchone()[0]
    steps = SyncStep.objects.filter(cycle=cycle, cycle_started_at=cycle.started_at)
    if step_ids is None:
        steps.update(live_mark=mark)
    for start in range(0, len(step_ids or ()), CHUNK):
        steps.filter(step_id__in=step_ids[start : start + CHUNK]).update(live_mark=mark)
    return mark


def live_mark_current() -> int:
    """The latest mark committed: one read of one row by its key."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM dashboard_livemark WHERE id = 1")
        row = cursor.fetchone()
    return row[0] if row else 0
