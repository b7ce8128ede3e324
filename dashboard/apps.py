from django.apps import AppConfig


class DashboardConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dashboard"
    verbose_name = "Sync Status"

    def ready(self):
        from dashboard import checks  # noqa: F401 - registers the deploy checks
