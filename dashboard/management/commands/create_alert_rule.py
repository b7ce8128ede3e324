from django.core.management.base import BaseCommand, CommandError

from dashboard.alerts.models import AlertRule
from dashboard.alerts.rules import RuleInvalid, alert_rule_create


class Command(BaseCommand):
    help = (
        "Create an alert rule and print its id (docs/alerts.md). Rules kept as code: "
        "run it from a deployment script."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the rule is called in notices and pages.")
        # Checked by the rule's own validation, not by argparse, so that every
        # bad argument is told the same way and exits 1.
        parser.add_argument("--kind", default="", help=", ".join(AlertRule.Kind.values))
        parser.add_argument(
            "--threshold",
            default="1",
            help="failed_records: the failed records of a step that fire it (default 1).",
        )
        parser.add_argument(
            "--object-type",
            action="append",
            default=[],
            dest="object_types",
            metavar="CODE",
            help="An object type code to watch (repeatable; none means any).",
        )
        parser.add_argument(
            "--operation",
            action="append",
            default=[],
            dest="operations",
            metavar="CODE",
            help="An operation code to watch (repeatable; none means any).",
        )
        parser.add_argument(
            "--destination",
            action="append",
            default=[],
            dest="destinations",
            metavar="URL",
            help="An Apprise URL to send to (repeatable; at least one).",
        )

    def handle(self, *args, name, kind, threshold, object_types, operations, destinations, **o):
        try:
            threshold_value = int(threshold)
        except ValueError:
            raise CommandError(
                f"The threshold must be a whole number, not {threshold!r}."
            ) from None
        try:
            rule = alert_rule_create(
                name=name,
                kind=kind,
                threshold=threshold_value,
                object_types=object_types,
                operations=operations,
                destinations=destinations,
            )
        except RuleInvalid as exc:
            raise CommandError(str(exc)) from None
        # Its id and nothing else on stdout, so that scripts can capture it.
        return str(rule.pk)
