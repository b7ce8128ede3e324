"""Creating alert rules and their destinations: from `manage.py
create_alert_rule`, the admin and the tests alike."""

from collections.abc import Iterable

from django.db import transaction

from dashboard.alerts.destinations import DestinationInvalid, destination_parse
from dashboard.alerts.models import AlertDestination, AlertRule
from dashboard.choices import ObjectType, Operation


class RuleInvalid(ValueError):
    """Every problem with a rule's arguments, in one message a line."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def rule_problems(
    *, name: str, kind: str, threshold: int, object_types: Iterable[str], operations: Iterable[str]
) -> list[str]:
    problems = []
    if not name.strip():
        problems.append("The name must not be empty.")
    if kind not in AlertRule.Kind.values:
        problems.append(f"Unknown kind {kind!r}: use one of {', '.join(AlertRule.Kind.values)}.")
    if threshold < 1:
        problems.append(f"The threshold must be 1 or more, not {threshold}.")
    for code in object_types:
        if code not in ObjectType.values:
            problems.append(f"Unknown object type {code!r}: use a code such as lead, contact.")
    for code in operations:
        if code not in Operation.values:
            problems.append(f"Unknown operation {code!r}: use a code such as pull_updates.")
    return problems


def alert_rule_create(
    *,
    name: str,
    kind: str,
    destinations: Iterable[str],
    threshold: int = 1,
    object_types: Iterable[str] = (),
    operations: Iterable[str] = (),
    enabled: bool = True,
) -> AlertRule:
    """A rule and its destinations; RuleInvalid naming every problem, and
    nothing stored then."""
    object_types, operations = list(dict.fromkeys(object_types)), list(dict.fromkeys(operations))
    problems = rule_problems(
        name=name, kind=kind, threshold=threshold, object_types=object_types, operations=operations
    )
    parsed = []
    for url in destinations:
        try:
            parsed.append(destination_parse(url))
        except DestinationInvalid as exc:
            problems.append(str(exc))
    if not parsed and not problems:
        problems.append("Give at least one destination (an Apprise URL).")
    if problems:
        raise RuleInvalid(problems)
    with transaction.atomic():
        rule = AlertRule.objects.create(
            name=name.strip(),
            kind=kind,
            threshold=threshold,
            object_types=object_types,
            operations=operations,
            enabled=enabled,
        )
        for destination in parsed:
            AlertDestination.objects.create(
                rule=rule, url=destination.url, masked_url=destination.masked
            )
    return rule


EXAMPLE_RULE_NAME = "Example: a step failed"
EXAMPLE_DESTINATION = "console://admin@localhost"


def example_rule_ensure() -> AlertRule | None:
    """The embedded default's example: any failed step, e-mailed to the
    console, so that a new user sees a notice arrive. Made once, on a
    database with no rule yet; None when there are rules already."""
    if AlertRule.objects.exists():
        return None
    return alert_rule_create(
        name=EXAMPLE_RULE_NAME, kind=AlertRule.Kind.STEP_FAILED, destinations=[EXAMPLE_DESTINATION]
    )
