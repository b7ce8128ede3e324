"""Celery tasks: thin wrappers around the ingest, storage and alerts services."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from dashboard.alerts import delivery, evaluation
from dashboard.ingest import reports as ingest
from dashboard.models import ReceivedReport
from dashboard.storage import retention
from dashboard.syncerrors import expiry

log = logging.getLogger(__name__)


@shared_task(bind=True)
def apply_report(self, report_pk: int) -> str:
    try:
        outcome = ingest.report_apply(
            report_pk=report_pk,
            batch=settings.SYNC_STATUS_APPLY_BATCH,
            applied=enqueue_alerts_evaluation,
        )
    except Exception as exc:
        log.exception("report apply failed pk=%s", report_pk)
        attempts = ingest.report_record_attempt_failure(
            report_pk=report_pk,
            error=f"{type(exc).__name__}: {exc}",
            max_attempts=settings.SYNC_STATUS_APPLY_MAX_ATTEMPTS,
        )
        if attempts >= settings.SYNC_STATUS_APPLY_MAX_ATTEMPTS or self.request.is_eager:
            # Given up (the report is marked failed), or in-process: the sweep
            # tries again later rather than blocking the request.
            return "failed"
        raise self.retry(exc=exc, countdown=min(2**attempts, 60)) from exc
    return outcome


def enqueue_alerts_evaluation(report_pk: int) -> None:
    """Alerting never fails ingestion: the report is applied whatever happens
    here (an evaluation lost with the broker only delays the clock's own)."""
    try:
        evaluate_report_alerts.delay(report_pk)
    except Exception:
        log.warning("alerts evaluation not queued pk=%s", report_pk, exc_info=True)


def enqueue_notices(notice_pks: list[int]) -> None:
    """Send each notice in a task of its own; a notice whose task is lost
    is sent by the sweep (sweep_unsent_notices)."""
    for notice_pk in notice_pks:
        try:
            deliver_notice.delay(notice_pk)
        except Exception:
            log.warning("notice not queued, the sweep will send it pk=%s", notice_pk)
            return


@shared_task
def evaluate_report_alerts(report_pk: int) -> int:
    notice_pks = evaluation.alerts_evaluate_report(report_pk=report_pk)
    enqueue_notices(notice_pks)
    return len(notice_pks)


@shared_task
def evaluate_alerts() -> int:
    """Every minute: sync_stale rules and the digests of open incidents."""
    notice_pks = evaluation.alerts_evaluate_clock(now=timezone.now())
    enqueue_notices(notice_pks)
    return len(notice_pks)


@shared_task(bind=True)
def deliver_notice(self, notice_pk: int) -> str:
    outcome = delivery.notice_deliver(notice_pk=notice_pk)
    if outcome == "retry" and not self.request.is_eager:
        # Due again after its backoff; in-process, the sweep tries it again.
        wait = delivery.notice_wait(notice_pk=notice_pk)
        deliver_notice.apply_async(args=[notice_pk], countdown=wait)
    return outcome


@shared_task
def sweep_unsent_notices() -> int:
    """Send what is due and unsent: retries, notices whose task was lost,
    notices held by a worker that died sending them."""
    due = delivery.notices_due()
    for notice_pk in due:
        deliver_notice.apply(args=[notice_pk])
    if due:
        log.info("sweep tried unsent notices count=%d", len(due))
    return len(due)


def enqueue_report_apply(report_pk: int) -> None:
    """Send the task, but never fail the caller: the report is already stored,
    and the sweep applies it if the broker cannot take the task right now."""
    try:
        apply_report.delay(report_pk)
    except Exception:
        log.warning(
            "report apply not queued, the sweep will apply it pk=%s", report_pk, exc_info=True
        )


@shared_task
def sweep_pending_reports(limit: int = 1000) -> int:
    """Apply reports still waiting well after they were received: their task was
    lost (broker down when they came in, Redis restarted, worker killed); and
    evaluate the alert rules against those applied whose evaluation was lost."""
    grace = timedelta(seconds=settings.SYNC_STATUS_SWEEP_GRACE_SECONDS)
    pending = (
        ReceivedReport.objects.filter(
            status=ReceivedReport.State.ACCEPTED, received_at__lt=timezone.now() - grace
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    swept = 0
    for report_pk in pending:
        apply_report.apply(args=[report_pk])
        swept += 1
    if swept:
        log.info("sweep applied pending reports count=%d", swept)
    # Applied, but their alerts evaluation was lost with its task or worker.
    unevaluated = evaluation.reports_unevaluated(applied_before=timezone.now() - grace)
    for report_pk in unevaluated:
        evaluate_report_alerts.apply(args=[report_pk])
    if unevaluated:
        log.info("sweep evaluated alerts of applied reports count=%d", len(unevaluated))
    return swept


@shared_task
def purge_expired() -> str:
    return retention.purge_expired().summary()


@shared_task
def expire_error_groups() -> int:
    """Every minute: take out of the error groups what has just left the
    window, so that their counts follow it closely between hourly purges."""
    return expiry.rollups_expire(cutoff=retention.retention_cutoff())
