import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from dashboard.alerts.models import AlertRule
from devtools.processes import ROOT, test_database_url

pytestmark = pytest.mark.django_db
WEBHOOK = "json://hooks.example.com/sync"


def create(*args) -> str:
    out = io.StringIO()
    call_command("create_alert_rule", *args, stdout=out)
    return out.getvalue()


def test_it_prints_the_rule_id_and_nothing_else():
    out = create("Lead failures", "--kind", "step_failed", "--destination", WEBHOOK)
    rule = AlertRule.objects.get()
    assert out == f"{rule.pk}\n"
    assert (rule.name, rule.kind, rule.threshold, rule.object_types, rule.operations) == (
        "Lead failures",
        "step_failed",
        1,
        [],
        [],
    )
    assert rule.enabled


def test_it_takes_a_threshold_objects_operations_and_several_destinations():
    create(
        "Many failed records",
        "--kind", "failed_records", "--threshold", "25",
        "--object-type", "lead", "--object-type", "contact",
        "--operation", "pull_updates",
        "--destination", WEBHOOK,
        "--destination", "mailtos://ops:s3cret@smtp.example.com?to=team@example.com",
    )  # fmt: skip
    rule = AlertRule.objects.get()
    assert (rule.threshold, rule.object_types, rule.operations) == (
        25,
        ["lead", "contact"],
        ["pull_updates"],
    )
    assert sorted(d.url for d in rule.destinations.all()) == sorted(
        [WEBHOOK, "mailtos://ops:s3cret@smtp.example.com?to=team@example.com"]
    )
    assert all("s3cret" not in d.masked_url for d in rule.destinations.all())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "step_failed", "--object-type", "leads"], "Unknown object type 'leads'"),
        (["--kind", "step_failed", "--operation", "pull"], "Unknown operation 'pull'"),
        (["--kind", "step_broke"], "Unknown kind 'step_broke'"),
        (["--kind", "failed_records", "--threshold", "0"], "must be 1 or more"),
        (["--kind", "failed_records", "--threshold", "many"], "must be a whole number"),
    ],
)
def test_it_refuses_a_bad_argument_and_stores_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        create("Rule", *args, "--destination", WEBHOOK)
    assert not AlertRule.objects.exists()


def test_it_refuses_a_url_apprise_cannot_read_without_showing_its_secret():
    with pytest.raises(CommandError, match="Apprise cannot read this URL") as raised:
        create("Rule", "--kind", "step_failed", "--destination", "smtp://ops:s3cret@mail")
    assert "s3cret" not in str(raised.value)
    assert not AlertRule.objects.exists()


def test_it_wants_a_destination():
    with pytest.raises(CommandError, match="at least one destination"):
        create("Rule", "--kind", "step_failed")


@pytest.mark.django_db(transaction=True)
def test_a_bad_argument_exits_1_with_the_message_on_stderr():
    done = subprocess.run(
        [sys.executable, "manage.py", "create_alert_rule", "Rule", "--kind", "step_failed",
         "--object-type", "leads", "--destination", WEBHOOK],
        cwd=ROOT,
        env={"DATABASE_URL": test_database_url(), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Unknown object type 'leads'" in done.stderr
