"""The filters of the Sync errors tab (docs/errors.md): the groups' list, shared
by the page and the read API, and the paging of the group and record pages."""

from functools import cache

import django_filters
from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_filters.fields import MultipleChoiceField

from dashboard.choices import Operation
from dashboard.models import ErrorGroup, FailedRecord
from dashboard.syncerrors.selectors import (
    DEFAULT_GROUP_SORT,
    GROUP_SORTS,
    ONGOING,
    RESOLVED,
    error_codes_in_use,
    order_groups,
)
from dashboard.web.filtering import (
    Checkboxes,
    Chip,
    DashboardFilterSet,
    PageFilter,
    codes_filter,
    labelled,
    object_type_choices,
    without,
)


class AnyCodeField(MultipleChoiceField):
    """Offers the codes in use as checkboxes, but takes any code: one that no
    group has any more (a bookmark from last week) finds nothing, it is not
    a mistake."""

    def valid_value(self, value):
        return True

    def labels_of(self, codes: list[str]) -> dict[str, str]:
        """A code is its own label: its chip need not read the codes in use."""
        return {code: code for code in codes}

    def validate(self, value):
        super().validate(value)
        if any("\x00" in code for code in value):
            raise forms.ValidationError(
                ProhibitNullCharactersValidator.message, code="null_characters_not_allowed"
            )


class ErrorCodeFilter(django_filters.MultipleChoiceFilter):
    field_class = AnyCodeField


def state_choices():
    return [(ONGOING, str(_("Ongoing"))), (RESOLVED, str(_("Resolved")))]


def level_choices():
    return [(code, str(label)) for code, label in ErrorGroup.Level.choices]


class ErrorGroupFilter(DashboardFilterSet):
    object_type = codes_filter(object_type_choices, _("Object"))
    operation = codes_filter(labelled(Operation), _("Operation"))
    # null_value=None: a code spelt "null" is a code like any other.
    error_code = ErrorCodeFilter(
        label=_("Error code"), widget=Checkboxes, distinct=False, null_value=None
    )
    level = django_filters.ChoiceFilter(
        choices=level_choices, label=_("Level"), empty_label=_("Any"), widget=forms.RadioSelect
    )
    state = codes_filter(state_choices, _("State"))
    q = django_filters.CharFilter(method="search", label=_("Search"), widget=forms.HiddenInput)
    sort = django_filters.ChoiceFilter(
        choices=[(key, key) for key in GROUP_SORTS],
        method="keep",
        label=_("Sort"),
        widget=forms.HiddenInput,
    )
    page = PageFilter(method="keep", label=_("Page"))

    panel = ("object_type", "operation", "error_code", "level", "state")
    # The search is kept when filters are applied, and the filters when searching.
    carried = ("sort", "q")
    default_sort = DEFAULT_GROUP_SORT

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        chosen = self.data.getlist("error_code") if self.data is not None else []

        @cache
        def error_code_choices():
            # Read when the panel is drawn (once, though the form reads its
            # choices twice), not when an API request is checked.
            codes = error_codes_in_use()
            return [(code, code) for code in codes + sorted(set(chosen) - set(codes))]

        self.filters["error_code"].extra["choices"] = error_code_choices

    def search(self, queryset, name, value):
        """A case-insensitive part of the error code, the template or the field."""
        return queryset.filter(
            Q(error_code__icontains=value)
            | Q(template__icontains=value)
            | Q(field__icontains=value)
        )

    def filter_queryset(self, queryset):
        return order_groups(super().filter_queryset(queryset), self.form.cleaned_data.get("sort"))

    @property
    def search_text(self) -> str:
        return self.form.cleaned_data.get("q") or ""

    def chips(self) -> list[Chip]:
        chips = super().chips()
        if self.search_text:
            query = self.data.copy()
            query.pop("page", None)
            label = self.form.fields["q"].label
            chips.append(Chip(f"{label}: {self.search_text}", without(query, "q")))
        return chips

    def search_carried(self) -> list[tuple[str, str]]:
        """The filters in force, for the search box to keep (a new search
        starts again at page 1)."""
        return [
            (name, value)
            for name, values in self.data.lists()
            if name not in {"q", "page"}
            for value in values
        ]


class PageOnlyFilter(DashboardFilterSet):
    """The one parameter of a group's and a record's pages: which page of 50.
    It filters nothing: the view reads the page number from it."""

    page = PageFilter(method="keep", label=_("Page"))

    class Meta:
        model = FailedRecord
        fields = ()


class RecordsFilter(PageOnlyFilter):
    marketo_id = django_filters.CharFilter(
        method="keep", required=True, label=_("Marketo ID"), widget=forms.HiddenInput
    )
