"""Sending the outbox: each notice once per destination, retried with backoff,
never lost with a worker.

A worker claims a notice with one conditional update before it sends, and
records it as sent right after. A second worker, or the same task delivered
again, finds it claimed and leaves it. A worker killed in between leaves it
"sending": once the claim's lease has run out, the sweep sends it again, so
it goes once more only if the worker died after sending and before recording.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from dashboard.alerts.destinations import destination_send
from dashboard.alerts.models import AlertDestination, Notice

log = logging.getLogger(__name__)
# The longest wait between two attempts at one notice.
MAX_BACKOFF = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... up to an hour (SYNC_STATUS_ALERT_RETRY_SECONDS)."""
    seconds = settings.SYNC_STATUS_ALERT_RETRY_SECONDS * 2 ** max(attempts - 1, 0)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


def _claimable(now: datetime) -> Q:
    lease = timedelta(seconds=settings.SYNC_STATUS_ALERT_SEND_LEASE_SECONDS)
    return Q(state=Notice.State.PENDING, next_attempt_at__lte=now) | Q(
        state=Notice.State.SENDING, claimed_at__lt=now - lease
    )


def notice_deliver(*, notice_pk: int, now: datetime | None = None) -> str:
    """Send one notice if it is due and nobody holds it. Returns "sent",
    "retry" (it failed, and will be tried again), "failed" (given up) or
    "skipped" (sent already, held by another worker, or not due yet)."""
    # `now`: the sweep's clock, or a test's moved one.
    now = now or timezone.now()
    claimed = (
        Notice.objects.filter(_claimable(now), pk=notice_pk)
        .update(state=Notice.State.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )  # fmt: skip
    if claimed != 1:
        # Nothing got updated: another worker got there first, or it is done.
        return "skipped"
    notice = Notice.objects.select_related("destination").get(pk=notice_pk)
    destination = notice.destination
    error = destination_send(url=destination.url, title=notice.title, body=notice.body)
    done = max(now, timezone.now())
    if error is None:
        Notice.objects.filter(pk=notice_pk).update(
            state=Notice.State.SENT, sent_at=done, last_error=""
        )
        AlertDestination.objects.filter(pk=destination.pk).update(last_sent_at=done)
        log.info(
            "notice sent incident=%s kind=%s destination=%s",
            notice.incident_id,
            notice.kind,
            destination.masked_url,
        )
        return "sent"
    given_up = notice.attempts >= settings.SYNC_STATUS_ALERT_MAX_ATTEMPTS
    Notice.objects.filter(pk=notice_pk).update(
        state=Notice.State.FAILED if given_up else Notice.State.PENDING,
        next_attempt_at=done + backoff(notice.attempts),
        last_error=error,
    )
    AlertDestination.objects.filter(pk=destination.pk).update(last_error=error, last_error_at=done)
    log.warning(
        "notice not sent incident=%s kind=%s destination=%s attempt=%d error=%s",
        notice.incident_id,
        notice.kind,
        destination.masked_url,
        notice.attempts,
        error[:500],
    )
    return "failed" if given_up else "retry"


def notices_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Notices to send now: due again after a failure, never sent because
    their task was lost, or held past the lease by a worker that died."""
    return list(
        Notice.objects.filter(_claimable(now or timezone.now()))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def destination_test(*, destination: AlertDestination) -> str | None:
    """Send a test notice straight away; None when it went, else the error
    (masked), which the destination then shows as its last error."""
    with translation.override(settings.LANGUAGE_CODE):
        title = "[Sync Status] " + _("Test notice")
        body = _(
            'A test notice of the alert rule "%(rule)s", sent from %(site)s/ on request. '
            "Nothing is wrong."
        ) % {"rule": destination.rule.name, "site": settings.SYNC_STATUS_BASE_URL}
    error = destination_send(url=destination.url, title=title, body=body + "\n")
    done = timezone.now()
    if error is None:
        AlertDestination.objects.filter(pk=destination.pk).update(last_sent_at=done)
    else:
        AlertDestination.objects.filter(pk=destination.pk).update(
            last_error=error, last_error_at=done
        )
    return error


def notice_wait(*, notice_pk: int) -> float:
    """Seconds until the notice is due again."""
    due = Notice.objects.filter(pk=notice_pk).values_list("next_attempt_at", flat=True).first()
    return max((due - timezone.now()).total_seconds(), 0.0) if due else 0.0
