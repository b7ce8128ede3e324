"""The filters of the Sync Status page, shared by the page, the export and the read API."""

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from dashboard.choices import Operation, Status
from dashboard.steps.selectors import DEFAULT_SORT, SORTS, order_steps
from dashboard.web.filtering import (
    DashboardFilterSet,
    LocalDateTimeFilter,
    PageFilter,
    codes_filter,
    labelled,
    object_type_choices,
)


class SyncStepFilter(DashboardFilterSet):
    since = LocalDateTimeFilter(field_name="started_at", lookup_expr="gte", label=_("Started from"))
    until = LocalDateTimeFilter(
        field_name="started_at", lookup_expr="lt", label=_("Started before")
    )
    object_type = codes_filter(object_type_choices, _("Object"))
    operation = codes_filter(labelled(Operation), _("Operation"))
    status = codes_filter(labelled(Status), _("Status"))
    sort = django_filters.ChoiceFilter(
        choices=[(key, key) for key in SORTS],
        method="keep",
        label=_("Sort"),
        widget=forms.HiddenInput,
    )
    page = PageFilter(method="keep", label=_("Page"))

    panel = ("since", "until", "object_type", "operation", "status")
    default_sort = DEFAULT_SORT

    def filter_queryset(self, queryset):
        return order_steps(super().filter_queryset(queryset), self.form.cleaned_data.get("sort"))
