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
