from django.db import migrations

GROUP_NAME = "Sync Status admins"


def create_group(apps, schema_editor):
    # Permissions are normally created after migrate (post_migrate), too late
    # for this migration on a fresh database: create this one here.
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    content_type, _ = ContentType.objects.get_or_create(app_label="dashboard", model="syncstep")
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename="view_sync_status",
        defaults={"name": "Can view the sync status dashboard"},
    )
    group, _ = Group.objects.get_or_create(name=GROUP_NAME)
    group.permissions.add(permission)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
