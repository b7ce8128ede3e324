"""Notices reach real receivers through Apprise (docs/alerts.md, "Delivery"): a
real SMTP server gets the e-mail, a local HTTP server the webhook's JSON; a
destination that answers 500 is retried with backoff and shows its last
error; a destination's secrets never appear in what is stored or logged."""

import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.alerts.delivery import notice_deliver, notices_due
from dashboard.alerts.models import AlertDestination, Incident, Notice
from dashboard.alerts.rules import alert_rule_create
from dashboard.tasks import sweep_unsent_notices
from tests.conftest import make_report, make_step, recent
from tests.receivers import smtp_server_fixture, webhook_fixture  # noqa: F401

pytestmark = pytest.mark.django_db
SECRET = "hunter2-webhook-secret"


def failed_step_report(cycle_id="cyc-1", minutes_ago=50):
    step = make_step("pull.lead", started_at=recent(minutes_ago), status="failed")
    return make_report(step, cycle_id=cycle_id, started_at=recent(minutes_ago + 1))


def test_an_opening_reaches_a_real_smtp_server_as_an_email(ingest, smtp_server, settings):
    settings.SYNC_STATUS_BASE_URL = "https://sync.example.com"
    settings.TIME_ZONE = "Europe/Paris"
    port, mailbox = smtp_server
    alert_rule_create(
        name="Lead failures",
        kind="step_failed",
        destinations=[f"mailto://127.0.0.1:{port}?from=sync@example.com&to=ops@example.com"],
    )
    ingest(failed_step_report())

    [message] = mailbox.messages
    incident = Incident.objects.get()
    assert message["To"] == "ops@example.com"
    assert message["Subject"] == (
        f"[Sync Status] Incident #{incident.pk} opens: Lead / Pull Updates failed"
    )
    text = message.get_body(("plain",)).get_content()
    assert "step pull.lead of cycle cyc-1 ended Failed" in text
    assert "CET" in text or "CEST" in text, "the site's time zone"
    assert (
        "https://sync.example.com/integration/salesforce/sync-status/"
        "?object_type=lead&operation=pull_updates" in text
    )
    assert f"Incident: {incident.pk} (opens)" in text
    assert Notice.objects.get().state == "sent"


def test_a_resolution_reaches_a_webhook_as_json(ingest, webhook):
    receiver = webhook()
    alert_rule_create(
        name="Lead failures",
        kind="step_failed",
        destinations=[f"json://127.0.0.1:{receiver.port}/hooks/sync"],
    )
    ingest(failed_step_report())
    ingest(make_report(make_step("pull.lead", started_at=recent(30)), cycle_id="cyc-2",
                       started_at=recent(31)))  # fmt: skip

    incident = Incident.objects.get()
    assert [(path, sent["title"]) for path, _, sent in receiver.received] == [
        ("/hooks/sync", f"[Sync Status] Incident #{incident.pk} opens: Lead / Pull Updates failed"),
        (
            "/hooks/sync",
            f"[Sync Status] Incident #{incident.pk} resolves: "
            "Lead / Pull Updates is back to normal",
        ),
    ]
    resolution = receiver.received[1][2]["message"]
    assert "step pull.lead of cycle cyc-2 succeeded" in resolution
    assert f"Incident: {incident.pk} (resolves)" in resolution


def test_a_destination_answering_500_is_retried_with_backoff_then_shows_its_error(
    ingest, webhook, settings, caplog
):
    settings.SYNC_STATUS_ALERT_RETRY_SECONDS = 30
    settings.SYNC_STATUS_ALERT_MAX_ATTEMPTS = 3
    receiver = webhook(statuses=[500])
    url = f"json://ops:{SECRET}@127.0.0.1:{receiver.port}/hook?-token={SECRET}"
    alert_rule_create(name="Lead failures", kind="step_failed", destinations=[url])
    caplog.set_level(logging.INFO)
    ingest(failed_step_report())

    notice = Notice.objects.get()
    assert (notice.state, notice.attempts) == ("pending", 1)
    assert notice.next_attempt_at - timezone.now() > timedelta(seconds=25)
    assert notices_due() == [], "not due before its backoff"
    later = timezone.now() + timedelta(seconds=31)
    assert notices_due(now=later) == [notice.pk]
    assert notice_deliver(notice_pk=notice.pk, now=later) == "retry"
    notice.refresh_from_db()
    assert notice.next_attempt_at - later > timedelta(seconds=55), "the wait doubles"
    assert notice_deliver(notice_pk=notice.pk, now=later + timedelta(minutes=2)) == "failed"

    assert len(receiver.received) == 3
    destination = AlertDestination.objects.get()
    assert "500" in destination.last_error
    assert destination.last_error_at is not None
    assert Notice.objects.get().state == "failed"
    stored = json.dumps(list(Notice.objects.values()), default=str) + json.dumps(
        list(AlertDestination.objects.values("masked_url", "last_error"))
    )
    assert SECRET not in stored
    assert SECRET not in caplog.text
    assert "not sent" in caplog.text


def test_a_destination_that_recovers_gets_the_notice_once(ingest, webhook, settings):
    receiver = webhook(statuses=[500, 200])
    alert_rule_create(
        name="Lead failures",
        kind="step_failed",
        destinations=[f"json://127.0.0.1:{receiver.port}/hook"],
    )
    ingest(failed_step_report())
    later = timezone.now() + timedelta(minutes=5)
    assert notice_deliver(notice_pk=Notice.objects.get().pk, now=later) == "sent"
    assert notice_deliver(notice_pk=Notice.objects.get().pk, now=later) == "skipped"
    assert [notice.state for notice in Notice.objects.all()] == ["sent"]
    assert len(receiver.received) == 2


def test_each_destination_of_a_rule_gets_its_own_notice(ingest, webhook, smtp_server):
    receiver = webhook(statuses=[500])
    port, mailbox = smtp_server
    alert_rule_create(
        name="Lead failures",
        kind="step_failed",
        destinations=[
            f"json://127.0.0.1:{receiver.port}/hook",
            f"mailto://127.0.0.1:{port}?from=sync@example.com&to=ops@example.com",
        ],
    )
    ingest(failed_step_report())
    assert sorted(Notice.objects.values_list("state", flat=True)) == ["pending", "sent"]
    assert len(mailbox.messages) == 1, "a failing webhook holds up no e-mail"


def test_the_sweep_sends_a_notice_whose_task_was_lost(db, webhook):
    from dashboard.alerts.incidents import Outcome, incident_open, stream_about
    from dashboard.alerts.messages import Event

    receiver = webhook()
    rule = alert_rule_create(
        name="Lead failures",
        kind="step_failed",
        destinations=[f"json://127.0.0.1:{receiver.port}/hook"],
    )
    # Written to the outbox, but no task was ever sent for it.
    incident_open(
        rule=rule,
        about=stream_about("lead", None, "pull_updates"),
        opened_by="cyc-1/pull.lead",
        event=Event(at=recent(50), cycle_id="cyc-1", step_id="pull.lead", status="failed"),
        outcome=Outcome(),
    )
    assert Notice.objects.get().state == "pending"
    assert sweep_unsent_notices.apply().get() == 1
    assert Notice.objects.get().state == "sent"
    assert len(receiver.received) == 1
    assert sweep_unsent_notices.apply().get() == 0
