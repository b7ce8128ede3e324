"""The embedded default (`make run`): one example rule, whose notices are
e-mails printed to the console, so that a new user sees one arrive."""

import pytest

from dashboard.alerts.models import AlertRule
from dashboard.alerts.rules import alert_rule_create, example_rule_ensure
from tests.conftest import make_report, make_step, recent

pytestmark = pytest.mark.django_db


def test_a_new_database_gets_one_example_rule_and_only_once():
    rule = example_rule_ensure()
    assert (rule.kind, rule.destinations.get().url) == ("step_failed", "console://admin@localhost")
    assert example_rule_ensure() is None
    assert AlertRule.objects.count() == 1


def test_a_database_with_rules_of_its_own_gets_no_example():
    alert_rule_create(name="Ours", kind="sync_stale", destinations=["console://ops@example.com"])
    assert example_rule_ensure() is None
    assert list(AlertRule.objects.values_list("name", flat=True)) == ["Ours"]


def test_the_example_rule_prints_an_email_on_the_console(ingest, capsys):
    example_rule_ensure()
    step = make_step("pull.lead", started_at=recent(50), status="failed")
    ingest(make_report(step, cycle_id="cyc-1", started_at=recent(51)))

    printed = capsys.readouterr().out
    assert "To: admin@localhost" in printed
    assert "Subject: [Sync Status] Incident #" in printed
    assert "Incident #" in printed and "opens" in printed
    assert "Lead / Pull Updates failed" in printed
