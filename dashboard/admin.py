from django import forms
from django.contrib import admin, messages
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from dashboard.alerts.delivery import destination_test
from dashboard.alerts.destinations import DestinationInvalid, destination_parse, mask_url
from dashboard.choices import ObjectType, Operation
from dashboard.models import (
    AlertDestination,
    AlertRule,
    Incident,
    IngestToken,
    Notice,
    ReceivedReport,
    SyncStep,
)
from dashboard.web.login import ThrottledAdminAuthenticationForm

# The admin's login form is as throttled as the site's.
admin.site.login_form = ThrottledAdminAuthenticationForm
# The admin is where alert rules are managed: it wears the product's name
# (and its colours, templates/admin/base_site.html) and leads back to it.
admin.site.site_header = admin.site.site_title = "Sync Status"
admin.site.index_title = _("Administration")
admin.site.site_url = reverse_lazy("sync-status")


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


# --- Alerts (docs/alerts.md): rules are managed here by those who may change them


class AlertsPermission:
    """Rules are for staff who may see the dashboard (4.4's permission) and
    may change rules (dashboard.change_alertrule), which is the right to
    add, change and delete them and their destinations: the others do not
    see them at all."""

    def _allowed(self, request) -> bool:
        return request.user.has_perm("dashboard.view_sync_status") and request.user.has_perm(
            "dashboard.change_alertrule"
        )

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request)

    def has_add_permission(self, request, *args):
        return self._allowed(request)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request)


class WriteOnlyInput(forms.TextInput):
    """A field for a secret: what is typed is sent, never rendered back, not
    even after a validation error."""

    def get_context(self, name, value, attrs):
        return super().get_context(name, None, attrs)


class DestinationForm(forms.ModelForm):
    url = forms.CharField(
        label=_("Apprise URL"),
        required=False,
        widget=WriteOnlyInput(attrs={"size": 26, "autocomplete": "off", "spellcheck": "false"}),
        help_text=_(
            "Such as mailtos://user:password@smtp.example.com?to=ops@example.com, "
            "slack://TokenA/TokenB/TokenC/#channel or json://hooks.example.com/path. "
            "Never shown back: leave it empty to keep the current one."
        ),
    )

    class Meta:
        model = AlertDestination
        fields = ["url"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["url"] = ""
        self.parsed = None

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        if not url:
            if self.instance.pk:
                return self.instance.url
            raise forms.ValidationError(_("Give the destination's Apprise URL."))
        try:
            self.parsed = destination_parse(url)
        except DestinationInvalid:
            raise forms.ValidationError(
                _("Apprise cannot read this URL: %(url)s"), params={"url": mask_url(url)}
            ) from None
        return self.parsed.url

    def save(self, commit=True):
        if self.parsed is not None:
            self.instance.masked_url = self.parsed.masked
            self.instance.last_error, self.instance.last_error_at = "", None
        return super().save(commit)


class DestinationInline(AlertsPermission, admin.TabularInline):
    model = AlertDestination
    form = DestinationForm
    fields = ["masked_url", "url", "last_sent_at", "last_error", "last_error_at"]
    readonly_fields = ["masked_url", "last_sent_at", "last_error", "last_error_at"]
    extra = 0
    min_num = 1
    validate_min = True


class AlertRuleForm(forms.ModelForm):
    object_types = forms.MultipleChoiceField(
        label=_("Object types"),
        choices=ObjectType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None means any."),
    )
    operations = forms.MultipleChoiceField(
        label=_("Operations"),
        choices=Operation.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None means any."),
    )

    class Meta:
        model = AlertRule
        fields = ["name", "kind", "threshold", "object_types", "operations", "enabled"]
        help_texts = {
            "kind": _(
                "A step failed: a step ends failed or cleaned up, until a later one of its "
                "object and operation succeeds. Failed records: a step ends with at least "
                "the threshold, until a later one has fewer. A new error group: a group is "
                "first seen (one notice). The sync is stale: no cycle has started for "
                "longer than usual, until one starts."
            ),
            "threshold": _("For failed records: how many failed records in one step fire it."),
        }


@admin.register(AlertRule)
class AlertRuleAdmin(AlertsPermission, admin.ModelAdmin):
    form = AlertRuleForm
    inlines = [DestinationInline]
    list_display = ["name", "kind", "threshold", "enabled", "destinations_shown", "last_errors"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name"]
    ordering = ["name", "pk"]
    actions = ["send_test_notice"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("destinations")

    @admin.display(description=_("Destinations"))
    def destinations_shown(self, rule):
        return ", ".join(destination.masked_url for destination in rule.destinations.all())

    @admin.display(description=_("Last errors"))
    def last_errors(self, rule):
        errors = [d.last_error for d in rule.destinations.all() if d.last_error]
        return "; ".join(errors) or "—"

    @admin.action(description=_("Send a test notice"), permissions=["change"])
    def send_test_notice(self, request, queryset):
        for rule in queryset.prefetch_related("destinations"):
            for destination in rule.destinations.all():
                error = destination_test(destination=destination)
                values = {"rule": rule.name, "destination": destination.masked_url}
                if error is None:
                    self.message_user(
                        request, _("%(rule)s: test notice sent to %(destination)s.") % values
                    )
                else:
                    values["error"] = error
                    self.message_user(
                        request,
                        _("%(rule)s: %(destination)s did not take the test notice: %(error)s")
                        % values,
                        level=messages.ERROR,
                    )


class NoticeInline(AlertsPermission, admin.TabularInline):
    model = Notice
    fields = ["kind", "number", "destination", "state", "attempts", "sent_at", "last_error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(AlertsPermission, admin.ModelAdmin):
    """What the rules have seen, and what they told whom: read only."""

    list_display = ["pk", "rule", "key", "happened_at", "resolved_at", "occurrences"]
    list_filter = ["rule"]
    ordering = ["-opened_at", "-pk"]
    inlines = [NoticeInline]
    exclude = ["opened_by", "resolved_by"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Incident._meta.fields if f.name not in self.exclude]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
