"""A step's page with its failed records and their export, and its cycle's
page with the steps on the cycle's time line (docs/dashboard.md).

Both are named by the engine's own ids, not by primary keys: a late report
rebuilds its cycle's steps under new keys, and a bookmark must outlive it.
"""

from datetime import datetime, timedelta
from typing import NamedTuple

from django import forms
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dashboard.choices import COUNTERS, Status
from dashboard.models import FailedRecord, SyncStep
from dashboard.steps.export import export_response
from dashboard.steps.selectors import (
    DEFAULT_SORT,
    cycle_steps,
    engine_step,
    order_steps,
    step_failures,
    visible_cycles,
)
from dashboard.steps.tables import COUNTER_LABELS, NOT_REPORTED, StepCells, StepRow
from dashboard.steps.timeline import BAR_HEIGHT, Bar, cycle_timeline
from dashboard.syncerrors.signatures import group_key
from dashboard.times import duration_text, local_text
from dashboard.web.access import page_permission_required
from dashboard.web.filtering import PageField
from dashboard.web.paging import PastTheEndPaginator

FAILURES_PER_PAGE = 50
# Engines run a few dozen steps a cycle; past this many the page would weigh
# megabytes, so it draws the first ones and says so.
MAX_CYCLE_STEPS = 2000


class FailuresPageForm(forms.Form):
    page = PageField(required=False, label=gettext_lazy("Page"))


def ran_for(started: datetime, ended: datetime | None, running: bool, now: datetime) -> str:
    """How long something ran; while it runs, how long so far; "—" when it
    stopped without saying when."""
    if ended is not None:
        return duration_text(ended - started)
    if running:
        so_far = duration_text(max(now - started, timedelta(0)))
        return _("%(duration)s so far") % {"duration": so_far}
    return NOT_REPORTED


def step_ran_for(step: SyncStep, now: datetime) -> str:
    return ran_for(step.started_at, step.ended_at, step.status == Status.IN_PROCESS, now)


class FailureLine(NamedTuple):
    failure: FailedRecord
    record_url: str
    group_url: str


@page_permission_required
def step_page(request, cycle_id: str, step_id: str):
    step = get_object_or_404(engine_step(cycle_id, step_id).select_related("cycle"))
    cells = StepCells()
    row = cells.row(step)
    form = FailuresPageForm(request.GET)
    context = {
        "step": step,
        "row": row,
        "counters": [
            (COUNTER_LABELS[name], text)
            for name, (text, _link) in zip(COUNTERS, row["counts"], strict=True)
        ],
        "ran_for": step_ran_for(step, timezone.now()),
        "error_group_url": (
            reverse("error-group", args=[group_key(step.error_group_id)])
            if step.error_group_id is not None
            else None
        ),
        "form": form,
        "page": None,
    }
    if not form.is_valid():
        # The step still shows, with the message where its failures would be.
        return render(request, "steps/step.html", context, status=400)
    paginator = PastTheEndPaginator(step_failures(step), FAILURES_PER_PAGE)
    page = paginator.page(form.cleaned_data["page"] or 1)
    context["page"] = page
    context["failures"] = [
        FailureLine(
            failure,
            reverse("record-timeline", args=[failure.record_id]),
            reverse("error-group", args=[group_key(failure.group_id)]),
        )
        for failure in page.object_list
    ]
    return render(request, "steps/step.html", context)


@page_permission_required
def step_errors_export(request, cycle_id: str, step_id: str):
    steps = engine_step(cycle_id, step_id)
    if not steps.exists():
        raise Http404
    return export_response(order_steps(steps, DEFAULT_SORT), DEFAULT_SORT)


class CycleStepLine(NamedTuple):
    """One step of the cycle's page: its bar, its cells, its page, how long it ran."""

    bar: Bar
    row: StepRow
    url: str
    ran_for: str


@page_permission_required
def cycle_page(request, cycle_id: str):
    cycle = get_object_or_404(visible_cycles(), external_id=cycle_id)
    steps = list(cycle_steps(cycle)[: MAX_CYCLE_STEPS + 1])
    now = timezone.now()
    timeline = cycle_timeline(cycle, steps[:MAX_CYCLE_STEPS], now)
    cells = StepCells()
    lines = [
        CycleStepLine(
            bar,
            cells.row(bar.step),
            reverse("step", args=[cycle.external_id, bar.step.step_id]),
            step_ran_for(bar.step, now),
        )
        for bar in timeline.bars
    ]
    context = {
        "cycle": cycle,
        "started": local_text(cycle.started_at),
        "ended": local_text(cycle.ended_at) if cycle.ended_at else NOT_REPORTED,
        "ran_for": ran_for(cycle.started_at, cycle.ended_at, cycle.ended_at is None, now),
        "timeline": timeline,
        "lines": lines,
        "longest": next((line for line in lines if line.bar is timeline.longest), None),
        "statuses": Status.choices,
        "bar_height": BAR_HEIGHT,
        "more_steps": len(steps) > MAX_CYCLE_STEPS,
        "max_steps": MAX_CYCLE_STEPS,
    }
    return render(request, "steps/cycle.html", context)
