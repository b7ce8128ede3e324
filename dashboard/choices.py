"""The vocabulary of docs/reports.md (Codes): codes, labels and what each operation reports.

Codes are a public interface (reports, URLs, CSV): never rename one. Labels are
what people see; French comes from the translation catalogue. The lead family
is labelled "Lead" or "Person" by the SYNC_STATUS_LEAD_LABEL setting, so its
labels are looked up through `object_type_label()` rather than the choices.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ObjectType(models.TextChoices):
    ACCOUNT = "account", _("Account")
    ACCOUNT_TYPE = "account_type", _("Account Type")
    CAMPAIGN = "campaign", _("Campaign")
    CAMPAIGN_MEMBER = "campaign_member", _("Campaign Member")
    CAMPAIGN_MEMBER_STATUS = "campaign_member_status", _("Campaign Member Status")
    CONTACT = "contact", _("Contact")
    CUSTOM_OBJECT = "custom_object", _("Custom Object")
    EMAIL_TEMPLATE = "email_template", _("Email Template")
    EVENT = "event", _("Event")
    LEAD = "lead", pgettext_lazy("object type", "Lead")
    LEAD_QUEUE = "lead_queue", _("Lead Queue")
    LEAD_STATUS = "lead_status", _("Lead Status")
    OPPORTUNITY = "opportunity", _("Opportunity")
    OPPORTUNITY_CONTACT_ROLE = "opportunity_contact_role", _("Opportunity Contact Role")
    TASK = "task", _("Task")
    USER = "user", _("User")


PERSON_LABELS = {
    ObjectType.LEAD: pgettext_lazy("object type", "Person"),
    ObjectType.LEAD_QUEUE: _("Person Queue"),
    ObjectType.LEAD_STATUS: _("Person Status"),
}


class Operation(models.TextChoices):
    LINK_WITH_PROGRAM = "link_with_program", _("Init Link with Program")
    PULL_CONVERSIONS = "pull_conversions", _("Pull Conversions")
    PULL_DELETES = "pull_deletes", _("Pull Deletes")
    PULL_UPDATES = "pull_updates", _("Pull Updates")
    PUSH_NEW = "push_new", _("Push New")
    PUSH_UPDATES = "push_updates", _("Push Updates")
    SYNC_SCHEMA = "sync_schema", _("Sync Schema")
    SYNC_WITH_PROGRAM = "sync_with_program", _("Sync with Program")
    UPDATE_ACTIVITIES = "update_activities", _("Update Activities")
    UPDATE_FKS = "update_fks", _("Update FKS")


class Status(models.TextChoices):
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", pgettext_lazy("step status", "Failed")
    INCOMPLETE = "incomplete", _("Incomplete")
    IN_PROCESS = "in_process", _("In Process")
    CLEANED_UP = "cleaned_up", _("Cleaned up")


FINAL_STATUSES = frozenset(Status) - {Status.IN_PROCESS}

# The five counters, in the order the table and the API show them.
COUNTERS = ("new", "updated", "deleted", "failed", "skipped")

OT = ObjectType
# What the engine is known to produce: the counters each operation reports and
# the objects it is seen for. Ingestion accepts any pair; the UI uses this to help.
OPERATION_COUNTERS: dict[str, tuple[str, ...]] = {
    Operation.LINK_WITH_PROGRAM: ("updated",),
    Operation.PULL_CONVERSIONS: ("updated", "failed", "skipped"),
    Operation.PULL_DELETES: ("deleted", "failed", "skipped"),
    Operation.PULL_UPDATES: ("new", "updated", "failed", "skipped"),
    Operation.PUSH_NEW: ("new", "failed", "skipped"),
    Operation.PUSH_UPDATES: ("updated", "failed", "skipped"),
    Operation.SYNC_SCHEMA: (),
    Operation.SYNC_WITH_PROGRAM: ("new", "updated", "failed", "skipped"),
    Operation.UPDATE_ACTIVITIES: (),
    Operation.UPDATE_FKS: (),
}
OPERATION_OBJECTS: dict[str, tuple[str, ...]] = {
    Operation.LINK_WITH_PROGRAM: (OT.CAMPAIGN,),
    Operation.PULL_CONVERSIONS: (OT.LEAD,),
    Operation.PULL_DELETES: (
        OT.CONTACT,
        OT.LEAD,
        OT.OPPORTUNITY,
        OT.CAMPAIGN,
        OT.CAMPAIGN_MEMBER,
        OT.CAMPAIGN_MEMBER_STATUS,
        OT.OPPORTUNITY_CONTACT_ROLE,
        OT.CUSTOM_OBJECT,
    ),
    Operation.PULL_UPDATES: (
        OT.TASK,
        OT.LEAD,
        OT.LEAD_QUEUE,
        OT.CONTACT,
        OT.EVENT,
        OT.OPPORTUNITY,
        OT.ACCOUNT,
        OT.ACCOUNT_TYPE,
        OT.CAMPAIGN,
        OT.CAMPAIGN_MEMBER,
        OT.CAMPAIGN_MEMBER_STATUS,
        OT.LEAD_STATUS,
        OT.OPPORTUNITY_CONTACT_ROLE,
        OT.CUSTOM_OBJECT,
    ),
    Operation.PUSH_NEW: (OT.TASK, OT.EMAIL_TEMPLATE),
    Operation.PUSH_UPDATES: (OT.TASK, OT.EMAIL_TEMPLATE, OT.LEAD, OT.CONTACT, OT.CAMPAIGN),
    Operation.SYNC_SCHEMA: (
        OT.CAMPAIGN,
        OT.CAMPAIGN_MEMBER,
        OT.CAMPAIGN_MEMBER_STATUS,
        OT.CUSTOM_OBJECT,
        OT.LEAD,
        OT.OPPORTUNITY,
        OT.OPPORTUNITY_CONTACT_ROLE,
        OT.TASK,
        OT.USER,
    ),
    Operation.SYNC_WITH_PROGRAM: (OT.CAMPAIGN,),
    Operation.UPDATE_ACTIVITIES: (OT.TASK,),
    Operation.UPDATE_FKS: tuple(ObjectType),
}
del OT


def object_type_label(code: str) -> str:
    """The label people see for an object code, honouring the Lead/Person branding."""
    if settings.SYNC_STATUS_LEAD_LABEL == "Person" and code in PERSON_LABELS:
        return str(PERSON_LABELS[code])
    return str(ObjectType(code).label)
