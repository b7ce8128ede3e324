from django.contrib import admin

from dashboard.models import IngestToken, ReceivedReport, SyncStep
from dashboard.web.login import ThrottledAdminAuthenticationForm

# The admin's login form is as throttled as the site's.
admin.site.login_form = ThrottledAdminAuthenticationForm


@admin.register(ReceivedReport)
class ReceivedReportAdmin(admin.ModelAdmin):
    """Where an operator looks for reports that failed to apply, and why."""

    list_display = [
        "report_id",
        "cycle_external_id",
        "source",
        "status",
        "received_at",
        "applied_at",
        "attempts",
    ]
    list_filter = ["status", "source"]
    search_fields = ["cycle_external_id", "=report_id"]
    readonly_fields = [f.name for f in ReceivedReport._meta.fields]
    ordering = ["-pk"]

    def has_add_permission(self, request):
        return False


@admin.register(IngestToken)
class IngestTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "scope", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["name", "scope", "token_hash", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        # Tokens are made with `manage.py create_ingest_token`, which shows the secret once.
        return False


@admin.register(SyncStep)
class SyncStepAdmin(admin.ModelAdmin):
    """Django's stock changelist over steps: for operators, and the baseline the
    benchmark measures the dashboard page against (it COUNTs every time)."""

    list_display = ["started_at", "ended_at", "object_type", "operation", "status", "new_count",
                    "updated_count", "deleted_count", "failed_count", "skipped_count"]  # fmt: skip
    list_filter = ["status", "object_type", "operation"]
    ordering = ["-started_at", "-pk"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
