"""The live poll of the Sync Status page: its server time when nothing changed
and when one step of page 1 did, against a reload of the page it saves."""

import json
import re
import statistics
import time

from django.test import Client

from dashboard.ingest.reports import report_apply, report_receive
from dashboard.models import SyncStep
from devtools.bench.suite import (
    LIVE,
    PAGE,
    Results,
    admin_client,
    get,
    percentile,
    timed_side_by_side,
)

STATE = re.compile(r'name="(live_mark|live_rows)" value="([^"]*)"')


def state_of(html: str) -> dict[str, str]:
    """The state a page or a poll's answer leaves for the next poll."""
    return dict(STATE.findall(html[html.index('<div id="live-state"') :])[:2])


def poll(client: Client, state: dict[str, str], expect: int):
    response = client.get(LIVE, state, secure=True, HTTP_HX_REQUEST="true")
    if response.status_code != expect:
        raise RuntimeError(f"the live poll answered {response.status_code}, not {expect}")
    return response


def change_the_top_step(counter: int) -> None:
    """Apply a report that changes one step of page 1 in place: the newest
    step gets a new Updated count, everything else about it kept."""
    step = SyncStep.objects.select_related("cycle").order_by("-started_at", "-id").first()
    report = {
        "cycle": {"id": step.cycle.external_id, "started_at": step.cycle.started_at.isoformat()},
        "steps": [
            {
                "id": step.step_id,
                "object_type": step.object_type,
                "object_name": step.object_name,
                "operation": step.operation,
                "status": step.status,
                "started_at": step.started_at.isoformat(),
                "counts": {"updated": counter},
            }
        ],
    }
    received = report_receive(raw=json.dumps(report), source="bench", enqueue=lambda pk: None)
    report_apply(report_pk=received.pk)


def measure_live(results: Results, runs: int) -> None:
    client = admin_client()
    state = state_of(get(client, PAGE).content.decode())
    quiet, page = timed_side_by_side(
        lambda: poll(client, state, 204), lambda: get(client, PAGE), runs
    )
    add(results, "nothing changed (204)", quiet, page)

    changed = []
    for run in range(runs + 2):
        change_the_top_step(run)
        start = time.perf_counter()
        response = poll(client, state, 200)
        if run >= 2:  # as the other measures, two warm-up requests
            changed.append((time.perf_counter() - start) * 1000)
        state = state_of(response.content.decode())
    add(results, "one step changed", changed, page)


def add(results: Results, case: str, ours: list[float], page: list[float]) -> None:
    p95 = percentile(ours, 0.95)
    ratio = statistics.median(page) / statistics.median(ours)
    results.add(
        f"live poll, {case}: server time p50 / p95",
        f"{statistics.median(ours):.1f} / {p95:.1f} ms",
        f"reloading the page {statistics.median(page):.1f} / {percentile(page, 0.95):.1f} ms",
        f"{ratio:.1f}x faster",
        "p95 < 10 ms",
        p95 < 10,
    )
