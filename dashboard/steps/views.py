import zoneinfo
from html import escape

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import EmptyPage, Page
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tables2.paginators import LazyPaginator

from dashboard.models import UserPreference
from dashboard.steps.export import export_chunks
from dashboard.steps.filters import SyncStepFilter
from dashboard.steps.selectors import visible_steps
from dashboard.steps.tables import SyncStepTable
from dashboard.web.access import page_permission_required
from dashboard.web.middleware import SESSION_KEY

ROWS_PER_PAGE = 50


class PastTheEndPaginator(LazyPaginator):
    """No COUNT(*) (LazyPaginator), and a page past the last one has no rows
    (SPEC 4.1) instead of quietly showing the last page."""

    def page(self, number):
        try:
            return super().page(number)
        except EmptyPage:
            self._num_pages = self._final_num_pages = number
            return Page([], number, self)


def home(request):
    return redirect("sync-status")


@page_permission_required
def sync_status(request):
    filterset = SyncStepFilter(request.GET, queryset=visible_steps())
    valid = filterset.is_valid()
    export_query = request.GET.copy()
    export_query.pop("page", None)
    context = {
        "filterset": filterset,
        "table": None,
        "active_filters": [],
        "time_inputs": time_inputs(filterset.form),
        "choice_fields": [
            (field, checkboxes_html(field))
            for field in (filterset.form[name] for name in ["object_type", "operation", "status"])
        ],
        "export_query": export_query.urlencode(),
        "retention_days": settings.SYNC_STATUS_RETENTION_DAYS,
    }
    if not valid:
        # The form again, with a message next to each filter it could not read.
        return render(request, "dashboard/sync_status.html", context, status=400)
    table = SyncStepTable(filterset.qs, order_by=filterset.sort_order)
    table.paginate(
        paginator_class=PastTheEndPaginator, page=filterset.page_number, per_page=ROWS_PER_PAGE
    )
    context.update(table=table, active_filters=active_filters(request, filterset))
    return render(request, "dashboard/sync_status.html", context)


def time_inputs(form) -> list[tuple]:
    """The since/until fields with what their datetime-local inputs show: the
    moment in the user's zone, or what was typed if it could not be read."""
    inputs = []
    for name in ["since", "until"]:
        field = form[name]
        moment = form.cleaned_data.get(name) if hasattr(form, "cleaned_data") else None
        if moment is not None:
            value = timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M:%S")
        else:
            value = field.value() or ""
        inputs.append((field, value))
    return inputs


def checkboxes_html(field) -> SafeString:
    """The boxes of a multiple-choice filter, as iterating the bound field in
    the template would write them, without building a widget context a box
    (31 of them cost more than the page's 50 rows)."""
    selected = {str(value) for value in field.value() or ()}
    name = escape(field.html_name)
    return mark_safe(  # noqa: S308 - every text escaped
        "\n".join(
            f'<label class="check"><input type="checkbox" name="{name}" '
            f'value="{escape(str(value))}" id="{escape(field.auto_id)}_{index}"'
            f"{' checked' if str(value) in selected else ''}> {escape(str(label))}</label>"
            for index, (value, label) in enumerate(field.field.choices)
        )
    )


def active_filters(request, filterset) -> list[dict]:
    """Each filter in force, with the address of the same view without it."""
    chips = []
    form = filterset.form
    for name in ["since", "until"]:
        value = form.cleaned_data.get(name)
        if value is not None:
            moment = timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
            chips.append(
                {"label": f"{form.fields[name].label} {moment}", "remove": without(request, name)}
            )
    for name in ["object_type", "operation", "status"]:
        labels = dict(form.fields[name].choices)
        for code in form.cleaned_data.get(name) or []:
            chips.append(
                {
                    "label": f"{form.fields[name].label}: {labels[code]}",
                    "remove": without(request, name, code),
                }
            )
    return chips


def without(request, name: str, value: str | None = None) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    if value is None:
        query.pop(name, None)
    else:
        query.setlist(name, [item for item in query.getlist(name) if item != value])
    return f"?{query.urlencode()}" if query else "?"


@page_permission_required
def sync_errors_export(request):
    filterset = SyncStepFilter(request.GET, queryset=visible_steps())
    if not filterset.is_valid():
        lines = [f"{error['path']}: {error['message']}" for error in filterset.errors_as_list()]
        return HttpResponse(
            "\n".join(lines) + "\n", status=400, content_type="text/plain; charset=utf-8"
        )
    response = StreamingHttpResponse(
        export_chunks(filterset.qs, filterset.sort_order), content_type="text/csv; charset=utf-8"
    )
    filename = f"sync-errors-{timezone.localtime():%Y-%m-%dT%H%M}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class PreferencesForm(forms.Form):
    time_zone = forms.CharField(
        label=gettext_lazy("Time zone"),
        help_text=gettext_lazy("An IANA name such as Europe/Paris or America/New_York."),
    )

    def clean_time_zone(self):
        name = self.cleaned_data["time_zone"].strip()
        if name not in zoneinfo.available_timezones():
            raise forms.ValidationError(_("Unknown time zone %(name)s.") % {"name": name})
        return name


@page_permission_required
def preferences(request):
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            UserPreference.objects.update_or_create(
                user=request.user, defaults={"time_zone": form.cleaned_data["time_zone"]}
            )
            request.session[SESSION_KEY] = form.cleaned_data["time_zone"]
            messages.success(
                request,
                _("Times are now shown in %(zone)s.") % {"zone": form.cleaned_data["time_zone"]},
            )
            return redirect(reverse("preferences"))
        status = 400
    else:
        form = PreferencesForm(initial={"time_zone": timezone.get_current_timezone_name()})
        status = 200
    context = {"form": form, "time_zones": sorted(zoneinfo.available_timezones())}
    return render(request, "dashboard/preferences.html", context, status=status)
