from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def secret_key_is_set(app_configs, **kwargs):
    if settings.SECRET_KEY == settings.EMBEDDED_SECRET_KEY:
        return [
            Error(
                "SECRET_KEY is the embedded demo key.",
                hint="Set the SECRET_KEY environment variable to a long random value.",
                id="syncstatus.E001",
            )
        ]
    return []


@register()
def lead_label_is_known(app_configs, **kwargs):
    if settings.SYNC_STATUS_LEAD_LABEL not in {"Lead", "Person"}:
        return [
            Error(
                f"SYNC_STATUS_LEAD_LABEL is {settings.SYNC_STATUS_LEAD_LABEL!r}.",
                hint='Set it to "Lead" or "Person".',
                id="syncstatus.E002",
            )
        ]
    return []
