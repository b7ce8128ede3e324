from django.apps import AppConfig
from django.db.models.signals import post_migrate

ADMINS_GROUP = "Sync Status admins"


def ensure_admins_group(sender, using="default", **kwargs):
    """The group exists after every migrate, and after a test flush, which
    empties the tables the data migration filled."""
    from django.contrib.auth.models import Group, Permission

    permission = (
        Permission.objects.using(using)
        .filter(content_type__app_label="dashboard", codename="view_sync_status")
        .first()
    )
    if permission is None:  # permissions are made by auth's post_migrate, not yet run
        return
    group, _ = Group.objects.using(using).get_or_create(name=ADMINS_GROUP)
    group.permissions.add(permission)


def ensure_retention_mark_after_migrate(sender, using="default", **kwargs):
    """The retention mark's row exists after every migrate and test flush,
    once its table does (not when migrating to a version before it)."""
    from django.db import connections

    from dashboard.syncerrors.expiry import ensure_retention_mark

    connection = connections[using]
    if "dashboard_retentionmark" not in connection.introspection.table_names():
        return
    with connection.cursor() as cursor:
        ensure_retention_mark(cursor)


def ensure_partitions_after_migrate(sender, using="default", **kwargs):
    from dashboard.storage.partitions import ensure_upcoming_partitions

    ensure_upcoming_partitions()


class DashboardConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dashboard"
    verbose_name = "Sync Status"

    def ready(self):
        from dashboard import checks  # noqa: F401 - registers the deploy checks

        post_migrate.connect(ensure_admins_group, sender=self)
        post_migrate.connect(ensure_partitions_after_migrate, sender=self)
        post_migrate.connect(ensure_retention_mark_after_migrate, sender=self)
