"""Drawings of the Sync errors pages, each kept for the readers after the
first while it stays exact.

Drawing a page's tables and charts was most of its time (in-process at 200k
steps, of the CPU of a request: 16 ms of 16 on the groups' first page, 12
of 12 with the error-code filter, 10.5 on a group's page and 9 on a record's
timeline, against 3 for a page without them; their queries took 2-5 ms),
and every reader between two reports sees the same. What a drawing shows
changes when the groups or the failures do, which the version in its key
says (read before them, so that a drawing can be newer than its key, never
older); when the trend's 4-hour bucket turns, also in its key; and at a
moment the drawing may name itself (a group shown "new" a day after it was
first seen), after which it is drawn again.
"""

import hashlib
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe

from dashboard.kept import kept
from dashboard.syncerrors.changes import bucket_of
from dashboard.syncerrors.selectors import groups_version

# How long a drawing is kept: it stays exact as long as it is kept, so this
# only bounds the memory held for pages nobody asks again.
KEPT_SECONDS = 300

# What a page draws: its parts' HTML by name (none: the page has nothing to
# show), and the moment it stops being exact, if the clock alone can end it.
Drawing = tuple[dict[str, str], datetime | None]


def kept_drawing(request, draw: Callable[[], Drawing]) -> dict[str, SafeString]:
    """The parts `draw` renders for this request's page and query, in its
    reader's language and zone, drawn once for every reader while exact."""
    now = timezone.now()
    parts = [groups_version(), bucket_of(now).isoformat(), translation.get_language() or "",
             timezone.get_current_timezone_name(), str(settings.SYNC_STATUS_RETENTION_DAYS),
             request.path, request.GET.urlencode()]  # fmt: skip
    key = "sync-errors:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()
    # Drawn again once the clock alone has ended a drawing's exactness.
    drawing = kept(
        key, KEPT_SECONDS, draw, expired=lambda kept: kept[1] is not None and now >= kept[1]
    )
    # Our templates' output, escaped by them.
    return {name: mark_safe(html) for name, html in drawing[0].items()}  # noqa: S308
