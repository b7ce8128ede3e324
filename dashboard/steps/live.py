"""The Sync Status page keeps itself current (docs/dashboard.md).

Page 1 in the default order polls every SYNC_STATUS_LIVE_SECONDS with htmx,
sending back what it last saw: the live mark (dashboard/ingest/live_marks.py)
and the ids of its rows, top to bottom. The answer is 204 when no report has
been applied since, which costs one read of one row; otherwise only what
changed, swapped out of band: the rows that left the page deleted, those
written since the mark replaced in place, the new ones inserted where they
belong, and the new state. The server wrote every state the page holds, so
it knows which rows the page has without keeping anything of it.

The health strip above the table refreshes itself by a request of its own,
every minute and right after a poll that brought changes.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRefresh, trigger_client_event

from dashboard.health.strip import health_strip_html
from dashboard.ingest.live_marks import live_mark_current
from dashboard.models import SyncStep
from dashboard.steps.filters import SyncStepFilter
from dashboard.steps.selectors import DEFAULT_SORT, visible_steps, with_step_page_facts
from dashboard.steps.tables import (
    ROWS_PER_PAGE,
    SyncStepTable,
    live_row_id,
    page_rows,
)
from dashboard.web.access import page_permission_required

# A mark is below 2**63 (a signed 64-bit integer in the database).
MARK = re.compile(r"[0-9]{1,18}")
ROW_ID = re.compile(r"[0-9a-f]{12}")
ROWS_TARGET = "#live-rows"
# The health strip's own refresh (strip_live).
HEALTH_REFRESH_SECONDS = 60
HEALTH_CHANGED = "health-changed"


@dataclass(frozen=True)
class LiveState:
    """What an open page shows: the mark it has seen, its rows' ids in order."""

    mark: int
    rows: tuple[str, ...]

    @property
    def rows_param(self) -> str:
        return ".".join(self.rows)


class PageEntry(NamedTuple):
    """A step on page 1 as a poll first reads it: enough to tell what changed."""

    pk: int
    # The partition key: the rows to draw are read from their partitions only.
    cycle_started_at: datetime
    row_id: str
    live_mark: int


@dataclass
class LiveUpdate:
    """What a poll swaps into the page to bring it to `state`; the rows to
    draw are named by their page entries until live_rows() draws them."""

    state: LiveState
    removed: list[str] = field(default_factory=list)
    changed: list = field(default_factory=list)
    # Each new row with where it goes (an htmx out-of-band swap position).
    added: list[tuple[str, Any]] = field(default_factory=list)
    # Every row anew, when the page's rows moved rather than came and went
    # (a step re-dated by a report), or the page was or becomes empty.
    whole: list | None = None

    def drawn(self) -> list[PageEntry]:
        return [*self.changed, *(entry for _, entry in self.added), *(self.whole or ())]


def is_live(filterset: SyncStepFilter) -> bool:
    """Only page 1 in the default order keeps itself current: anywhere else
    new steps would push the reader's rows onto another page under them."""
    return (
        settings.SYNC_STATUS_LIVE_SECONDS > 0
        and filterset.sort_order == DEFAULT_SORT
        and filterset.page_number == 1
    )


def live_state_read(query: QueryDict) -> LiveState | None:
    """The state a poll sends back, or None if it is not one the page can hold."""
    mark, rows = query.get("live_mark", ""), query.get("live_rows", "")
    if not MARK.fullmatch(mark):
        return None
    ids = tuple(rows.split(".")) if rows else ()
    if len(ids) > ROWS_PER_PAGE or len(set(ids)) != len(ids):
        return None
    if not all(ROW_ID.fullmatch(row_id) for row_id in ids):
        return None
    return LiveState(int(mark), ids)


def page_entries(steps: QuerySet[SyncStep]) -> list[PageEntry]:
    """Page 1 of `steps`, only what tells what changed: drawing all its rows
    (their cycle, their failed records) would cost four times as much, and a
    poll draws one or two (measured on `make bench` data: 2.1 ms against 6.8)."""
    rows = steps.values_list("pk", "cycle_started_at", "cycle__external_id", "step_id", "live_mark")
    return [
        PageEntry(pk, cycle_started_at, live_row_id(cycle_id, step_id), mark)
        for pk, cycle_started_at, cycle_id, step_id, mark in rows[:ROWS_PER_PAGE]
    ]


def live_update(*, state: LiveState, mark: int, page: list[PageEntry]) -> LiveUpdate:
    """How the page that shows `state` becomes page 1 as `page` is now, all
    written at `mark` or before."""
    ids = [entry.row_id for entry in page]
    update = LiveUpdate(state=LiveState(mark, tuple(ids)))
    shown, now = set(state.rows), set(ids)
    moved = [row for row in state.rows if row in now] != [row for row in ids if row in shown]
    if moved or (not state.rows) != (not ids):
        update.whole = list(page)
        return update
    update.removed = [row for row in state.rows if row not in now]
    update.changed = [
        entry for entry in page if entry.row_id in shown and entry.live_mark > state.mark
    ]
    update.added = [
        (
            f"afterbegin:{ROWS_TARGET}" if index == 0 else f"afterend:#step-{ids[index - 1]}",
            entry,
        )
        for index, entry in enumerate(page)
        if entry.row_id not in shown
    ]
    return update


def live_rows(update: LiveUpdate) -> bool:
    """Draw the rows `update` names, in one query; False if a step is gone
    since page 1 was read (its cycle rebuilt meanwhile): the next poll, from
    the same state, then tells again."""
    entries = update.drawn()
    steps = []
    if entries:
        # By their partition key too: the planner then plans one or two day
        # partitions of the steps, not all of them (its planning 0.6 -> 0.4 ms
        # on `make bench` data).
        wanted = visible_steps().filter(
            pk__in=[entry.pk for entry in entries],
            cycle_started_at__in={entry.cycle_started_at for entry in entries},
        )
        steps = list(with_step_page_facts(wanted))
    rows = {step.pk: row for step, row in zip(steps, page_rows(steps), strict=True)}
    if len(rows) != len(entries):
        return False
    update.changed = [rows[entry.pk] for entry in update.changed]
    update.added = [(place, rows[entry.pk]) for place, entry in update.added]
    if update.whole is not None:
        update.whole = [rows[entry.pk] for entry in update.whole]
    return True


def page_live(*, table: SyncStepTable, mark: int, query: str) -> dict:
    """What the page just drawn polls with: its filters (`query`), and its
    state, `mark` having been read before its rows were."""
    return {
        "url": reverse("sync-status-live") + (f"?{query}" if query else ""),
        "state": LiveState(mark, tuple(row["row_id"] for row in table.page_rows)),
        "seconds": settings.SYNC_STATUS_LIVE_SECONDS,
    }


def bad_poll(message: str) -> HttpResponse:
    return HttpResponseBadRequest(message + "\n", content_type="text/plain; charset=utf-8")


@require_GET
@never_cache
@vary_on_headers("HX-Request")
@page_permission_required
def sync_status_live(request):
    if not request.htmx:
        # Someone opened the poll's address: the page it keeps current.
        query = request.GET.copy()
        for name in ("live_mark", "live_rows"):
            query.pop(name, None)
        return redirect(reverse("sync-status") + (f"?{query.urlencode()}" if query else ""))
    state = live_state_read(request.GET)
    if state is None:
        return bad_poll("live_mark and live_rows are not a state this page can hold.")
    filterset = SyncStepFilter(request.GET, queryset=visible_steps())
    if not filterset.is_valid():
        lines = [f"{error['path']}: {error['message']}" for error in filterset.errors_as_list()]
        return bad_poll("\n".join(lines))
    if not is_live(filterset):
        return bad_poll("Only page 1 in the default order keeps itself current.")
    # Read before the rows: a step written meanwhile is then sent again at
    # the next poll, never missed.
    mark = live_mark_current()
    if mark < state.mark:
        # A mark this database never gave (restored from a backup, or made
        # up): the page is drawn again from what there is.
        return HttpResponseClientRefresh()
    if mark == state.mark:
        return HttpResponse(status=204)
    update = live_update(state=state, mark=mark, page=page_entries(filterset.qs))
    if not live_rows(update):
        return HttpResponse(status=204)
    context = {
        "update": update,
        "columns": len(SyncStepTable.base_columns),
        "empty_text": SyncStepTable._meta.empty_text,
    }
    # Once the rows are in, the strip asks for itself again (sync_status_live_health): a
    # poll stays one cheap thing, and the rows never wait for the figures.
    return trigger_client_event(
        render(request, "dashboard/live_poll.html", context), HEALTH_CHANGED, after="settle"
    )


def strip_live() -> dict:
    """How the health strip of a live page refreshes itself: every
    HEALTH_REFRESH_SECONDS, as its words move by the minute ("3 minutes ago",
    stale), and at once after a poll that brought changes."""
    return {
        "url": reverse("sync-status-live-health"),
        "seconds": HEALTH_REFRESH_SECONDS,
        "event": HEALTH_CHANGED,
    }


@require_GET
@never_cache
@vary_on_headers("HX-Request")
@page_permission_required
def sync_status_live_health(request):
    """The health strip alone, for a live page to swap in place of its own."""
    if not request.htmx:
        return redirect("sync-status")
    return HttpResponse(health_strip_html(live_mark_current()))
