"""Alert rules open and resolve incidents on the right reports, and only on
them (docs/alerts.md, "Rules"); digests; a stale sync, with the clock moved."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.alerts.evaluation import alerts_evaluate_clock
from dashboard.alerts.models import Incident, Notice
from dashboard.alerts.rules import alert_rule_create
from dashboard.models import ReceivedReport
from dashboard.syncerrors.signatures import group_key
from dashboard.tasks import evaluate_report_alerts
from tests.conftest import iso, make_report, make_step, recent

pytestmark = pytest.mark.django_db
CONSOLE = "console://ops@example.com"


def rule(kind="step_failed", **fields):
    return alert_rule_create(name=f"{kind} rule", kind=kind, destinations=[CONSOLE], **fields)


def step(step_id, minutes_ago, status="succeeded", **fields):
    started = recent(minutes_ago)
    return make_step(
        step_id, started_at=started, status=status, ended_at=iso(started + timedelta(seconds=30)),
        **fields,
    )  # fmt: skip


def cycle(number, *steps):
    started = min(timezone.datetime.fromisoformat(s["started_at"]) for s in steps)
    return make_report(*steps, cycle_id=f"cyc-{number}", started_at=started - timedelta(seconds=5))


def notices(kind=None):
    found = Notice.objects.order_by("pk")
    if kind:
        found = found.filter(kind=kind)
    return list(found)


def test_a_failed_step_opens_an_incident_about_its_object_and_operation(ingest):
    rule()
    ingest(cycle(1, step("pull.lead", 50, "failed")))

    incident = Incident.objects.get()
    assert (incident.object_type, incident.operation, incident.resolved_at) == (
        "lead",
        "pull_updates",
        None,
    )
    [opening] = notices()
    assert opening.kind == "opens"
    assert f"Incident #{incident.pk} opens" in opening.title
    assert "Lead / Pull Updates failed" in opening.body
    assert opening.state == "sent"


def test_a_cleaned_up_step_fires_too_but_an_incomplete_one_does_not(ingest):
    rule()
    ingest(cycle(1, step("pull.lead", 50, "incomplete")))
    assert not Incident.objects.exists()
    ingest(cycle(2, step("pull.lead", 40, "cleaned_up")))
    assert Incident.objects.count() == 1


def test_a_later_success_of_the_same_stream_resolves_it_and_another_one_does_not(ingest):
    rule()
    ingest(cycle(1, step("pull.lead", 50, "failed")))
    ingest(cycle(2, step("push.lead", 40, "succeeded", operation="push_updates")))
    ingest(cycle(3, step("pull.contact", 39, "succeeded", object_type="contact")))
    ingest(cycle(4, step("pull.lead", 38, "incomplete")))
    assert Incident.objects.get().resolved_at is None

    ingest(cycle(5, step("pull.lead", 30, "succeeded")))
    incident = Incident.objects.get()
    assert incident.resolved_at is not None
    assert [n.kind for n in notices()] == ["opens", "resolves"]
    assert f"Incident #{incident.pk} resolves" in notices("resolves")[0].title


def test_a_custom_object_is_its_own_stream(ingest):
    rule()
    invoice = {"object_type": "custom_object", "object_name": "Invoice__c"}
    other = {"object_type": "custom_object", "object_name": "Subscription__c"}
    ingest(cycle(1, step("pull.invoice", 50, "failed", **invoice)))
    ingest(cycle(2, step("pull.sub", 40, "succeeded", **other)))
    assert Incident.objects.get().resolved_at is None
    ingest(cycle(3, step("pull.invoice", 30, "succeeded", **invoice)))
    assert Incident.objects.get().resolved_at is not None


def test_a_report_applied_again_opens_and_tells_nothing_twice(ingest):
    rule()
    [report] = ingest(cycle(1, step("pull.lead", 50, "failed")))
    ingest(cycle(2, step("pull.lead", 40, "succeeded")))

    # The task delivered again, as a redelivery after a lost ack would.
    evaluate_report_alerts.apply(args=[report.pk])
    assert Incident.objects.count() == 1
    assert [n.kind for n in notices()] == ["opens", "resolves"]


def test_a_failure_applied_after_the_success_that_followed_it_opens_and_resolves(ingest):
    rule()
    ingest(cycle(2, step("pull.lead", 40, "succeeded")))
    ingest(cycle(1, step("pull.lead", 50, "failed")))
    assert Incident.objects.get().resolved_at is not None
    assert [n.kind for n in notices()] == ["opens", "resolves"]


def test_a_rule_watches_only_its_object_types_and_operations(ingest):
    rule(object_types=["contact"], operations=["push_updates"])
    ingest(cycle(1, step("pull.lead", 50, "failed")))
    ingest(cycle(2, step("pull.contact", 49, "failed", object_type="contact")))
    assert not Incident.objects.exists()
    ingest(cycle(3, step("push.contact", 48, "failed", object_type="contact",
                         operation="push_updates")))  # fmt: skip
    assert Incident.objects.get().object_type == "contact"


def test_a_disabled_rule_opens_nothing(ingest):
    rule(enabled=False)
    ingest(cycle(1, step("pull.lead", 50, "failed")))
    assert not Incident.objects.exists()


def failures(count):
    return [
        {"record_id": f"00Q{n:05d}", "message": "Postal code is required"} for n in range(count)
    ]


def test_failed_records_open_at_the_threshold_and_resolve_below_it(ingest):
    rule("failed_records", threshold=10)
    ingest(cycle(1, step("pull.lead", 50, "incomplete", counts={"failed": 9},
                         failures=failures(9))))  # fmt: skip
    assert not Incident.objects.exists()
    ingest(cycle(2, step("pull.lead", 40, "incomplete", counts={"failed": 12},
                         failures=failures(12))))  # fmt: skip
    incident = Incident.objects.get()
    assert (incident.failed_records, incident.resolved_at) == (12, None)
    assert "12 failed records (threshold 10)" in notices()[0].body

    ingest(cycle(3, step("pull.lead", 30, "succeeded", counts={"failed": 3},
                         failures=failures(3))))  # fmt: skip
    assert Incident.objects.get().resolved_at is not None
    assert "below 10 failed records again" in notices("resolves")[0].body


def test_a_new_error_group_is_told_once(ingest):
    rule("new_error_group")
    postal = [{"record_id": "00Q1", "message": "Postal code is required"}]
    ingest(cycle(1, step("pull.lead", 50, "incomplete", failures=postal)))
    ingest(cycle(2, step("pull.lead", 40, "incomplete", failures=postal)))
    [incident] = Incident.objects.all()
    assert incident.error_group_id is not None
    assert [n.kind for n in notices()] == ["opens"]
    assert "Postal code is required" in notices()[0].body
    key = group_key(incident.error_group_id)
    assert f"/integration/salesforce/sync-errors/{key}/" in notices()[0].body

    email = [{"record_id": "00Q1", "message": "Email: invalid email address: a@b.con"}]
    ingest(cycle(3, step("pull.lead", 30, "incomplete", failures=email)))
    assert Incident.objects.count() == 2
    assert [n.kind for n in notices()] == ["opens", "opens"]


def test_a_digest_tells_what_happened_since_at_most_once_a_period(ingest, settings):
    settings.SYNC_STATUS_ALERT_DIGEST_MINUTES = 60
    rule()
    ingest(cycle(1, step("pull.lead", 50, "failed", counts={"failed": 2})))
    now = timezone.now()
    ingest(cycle(2, step("pull.lead", 40, "failed", counts={"failed": 3})))
    ingest(cycle(3, step("pull.lead", 30, "cleaned_up", counts={"failed": 4})))

    alerts_evaluate_clock(now=now + timedelta(minutes=30))
    assert notices("digest") == [], "not before the period is over"
    alerts_evaluate_clock(now=now + timedelta(minutes=61))
    [digest] = notices("digest")
    assert "still open" in digest.title
    assert "since the last notice, failed steps +2, failed records +7" in digest.body
    alerts_evaluate_clock(now=now + timedelta(minutes=62))
    alerts_evaluate_clock(now=now + timedelta(minutes=125))
    assert len(notices("digest")) == 1, "nothing happened since the digest"

    ingest(cycle(4, step("pull.lead", 20, "failed", counts={"failed": 1})))
    alerts_evaluate_clock(now=now + timedelta(minutes=130))
    assert len(notices("digest")) == 2


def test_a_stale_sync_opens_once_and_resolves_when_a_cycle_starts(ingest, settings):
    settings.SYNC_STATUS_STALE_MINUTES = 15
    rule("sync_stale")
    ingest(cycle(1, step("pull.lead", 5)))
    now = timezone.now()
    alerts_evaluate_clock(now=now)
    assert not Incident.objects.exists(), "it ran five minutes ago"

    alerts_evaluate_clock(now=now + timedelta(minutes=20))
    alerts_evaluate_clock(now=now + timedelta(minutes=21))
    incident = Incident.objects.get()
    assert incident.resolved_at is None
    assert "the sync has stopped" in notices()[0].body

    ingest(cycle(2, step("pull.lead", 1)))
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    assert "the sync runs again" in notices("resolves")[0].body
    alerts_evaluate_clock(now=now + timedelta(minutes=2))
    assert Incident.objects.count() == 1


def test_ingestion_goes_on_when_alert_evaluation_fails(ingest, monkeypatch):
    from dashboard.alerts import evaluation

    rule()

    def broken(**kwargs):
        raise RuntimeError("evaluation broke")

    monkeypatch.setattr(evaluation, "alerts_evaluate_report", broken)
    [report] = ingest(cycle(1, step("pull.lead", 50, "failed")))
    assert report.status == ReceivedReport.State.APPLIED


def test_an_evaluation_lost_with_its_worker_is_done_by_the_sweep(ingest, monkeypatch):
    from dashboard import tasks

    rule()
    monkeypatch.setattr(tasks, "enqueue_alerts_evaluation", lambda report_pk: None)
    [report] = ingest(cycle(1, step("pull.lead", 50, "failed")))
    assert not Incident.objects.exists()

    ReceivedReport.objects.filter(pk=report.pk).update(
        applied_at=timezone.now() - timedelta(minutes=5)
    )
    tasks.sweep_pending_reports.apply()
    assert Incident.objects.count() == 1
    tasks.sweep_pending_reports.apply()
    assert len(notices()) == 1


def test_a_backlog_is_evaluated_by_its_first_evaluation_as_its_reports_one_by_one(
    ingest, monkeypatch
):
    """A worker behind applies many reports before it reaches their
    evaluations: the first evaluates them all, in their order, and the next
    find theirs done."""
    from dashboard import tasks

    rule()
    rule("failed_records", threshold=10)
    rule("new_error_group")
    postal = [{"record_id": "00Q1", "message": "Postal code is required"}]
    monkeypatch.setattr(tasks, "enqueue_alerts_evaluation", lambda report_pk: None)
    reports = ingest(
        cycle(1, step("pull.lead", 50, "failed", failures=postal)),
        cycle(2, step("pull.lead", 40, "succeeded"),
              step("pull.contact", 40, "incomplete", object_type="contact",
                   counts={"failed": 12}, failures=failures(12))),
        cycle(3, step("pull.lead", 30, "failed")),
        cycle(4, step("pull.lead", 20, "failed"), step("pull.contact", 20, "incomplete",
              object_type="contact", counts={"failed": 11}, failures=failures(11))),
    )  # fmt: skip
    assert not Incident.objects.exists()

    evaluate_report_alerts.apply(args=[reports[-1].pk])
    assert not ReceivedReport.objects.filter(alerts_evaluated_at__isnull=True).exists()
    for report in reports:
        evaluate_report_alerts.apply(args=[report.pk])

    lead = Incident.objects.filter(rule__kind="step_failed").order_by("opened_at", "pk")
    assert [(i.resolved_by, i.occurrences) for i in lead] == [("cyc-2/pull.lead", 1), ("", 2)]
    [contact] = Incident.objects.filter(rule__kind="failed_records")
    assert (contact.occurrences, contact.failed_records, contact.resolved_at) == (2, 23, None)
    groups = Incident.objects.filter(rule__kind="new_error_group").order_by("happened_at")
    assert [group.object_type for group in groups] == ["lead", "contact"]
    assert sorted(n.kind for n in notices()) == ["opens"] * 5 + ["resolves"]


def test_the_later_steps_of_a_cycle_reported_in_parts_count_into_its_incident(ingest):
    rule()
    ingest(cycle(1, step("pull.lead", 50, "failed")))
    ingest(make_report(step("pull.lead.2", 45, "failed"), step("pull.lead.3", 44, "failed"),
                       cycle_id="cyc-1", started_at=recent(50) - timedelta(seconds=5)))  # fmt: skip
    assert Incident.objects.get().occurrences == 3


def test_a_notice_speaks_the_sites_language(ingest, settings):
    settings.LANGUAGE_CODE = "fr"
    rule()
    ingest(cycle(1, step("pull.lead", 50, "failed")))
    [opening] = notices()
    assert "Ouverture de l'incident n°" in opening.title
    assert "Ce qui s’est passé : Lead / Extraire les mises à jour a échoué" in opening.body
    assert f"Incident: {opening.incident_id} (opens)" in opening.body
