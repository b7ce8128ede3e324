"""The filters of SPEC 4.1, shared by the page, the export and the read API."""

import re
from datetime import UTC, datetime

import django_filters
from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dashboard.choices import ObjectType, Operation, Status, object_type_label
from dashboard.steps.selectors import SORTS, order_steps

MAX_PAGE = 1_000_000

DATETIME_PATTERN = re.compile(
    r"(?P<local>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?P<offset>Z|[+\- ]\d{2}:\d{2})?"
)


class LocalDateTimeField(forms.Field):
    """YYYY-MM-DDTHH:MM[:SS], in the user's time zone unless it carries Z or ±HH:MM.

    A "+" sent unencoded in a query string arrives as a space: read it as "+".
    A local time in a DST gap or overlap resolves as zoneinfo does with fold=0.
    """

    default_error_messages = {
        "invalid": _(
            "Enter a date and time as YYYY-MM-DDTHH:MM, optionally with :SS and "
            "a Z or ±HH:MM offset."
        ),
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        match = DATETIME_PATTERN.fullmatch(str(value))
        if not match:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        offset = match["offset"]
        text = match["local"] + ("+" + offset[1:] if offset and offset[0] == " " else offset or "")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.get_current_timezone())
        try:
            # 9999-12-31T23:00-05:00 reads, but is past the last moment Python
            # and the database can hold once in UTC.
            moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        return moment


class LocalDateTimeFilter(django_filters.Filter):
    field_class = LocalDateTimeField


class PageField(forms.IntegerField):
    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=MAX_PAGE, **kwargs)


class PageFilter(django_filters.Filter):
    field_class = PageField


def object_type_choices():
    # A callable, so that the Lead/Person branding is read when the form is built.
    return [(code, object_type_label(code)) for code in ObjectType.values]


class SyncStepFilter(django_filters.FilterSet):
    since = LocalDateTimeFilter(field_name="started_at", lookup_expr="gte", label=_("From"))
    until = LocalDateTimeFilter(field_name="started_at", lookup_expr="lt", label=_("To"))
    # distinct=False: django-filter adds DISTINCT for multiple choices, which
    # made PostgreSQL sort every matching row before the LIMIT (docs/performance.md).
    object_type = django_filters.MultipleChoiceFilter(
        choices=object_type_choices,
        label=_("Object"),
        widget=forms.CheckboxSelectMultiple,
        distinct=False,
    )
    operation = django_filters.MultipleChoiceFilter(
        choices=Operation.choices,
        label=_("Operation"),
        widget=forms.CheckboxSelectMultiple,
        distinct=False,
    )
    status = django_filters.MultipleChoiceFilter(
        choices=Status.choices,
        label=_("Status"),
        widget=forms.CheckboxSelectMultiple,
        distinct=False,
    )
    # Ordering and paging are applied by filter_queryset and the views; they
    # are fields here so that a bad value is reported like any other.
    sort = django_filters.ChoiceFilter(
        choices=[(key, key) for key in SORTS], method="keep", label=_("Sort")
    )
    page = PageFilter(method="keep", label=_("Page"))

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(without_empty_values(data), *args, **kwargs)

    def keep(self, queryset, name, value):
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        return order_steps(queryset, self.form.cleaned_data.get("sort"))

    @property
    def sort_order(self) -> str:
        return self.form.cleaned_data.get("sort") or "-start"

    @property
    def page_number(self) -> int:
        return self.form.cleaned_data.get("page") or 1

    def errors_as_list(self) -> list[dict]:
        """The form's errors as the APIs report them."""
        return [
            {"path": field, "message": str(message)}
            for field, messages in self.errors.items()
            for message in messages
        ]


def without_empty_values(data: QueryDict | None) -> QueryDict | None:
    """`status=` (as an HTML form sends an empty field) means no status filter."""
    if data is None:
        return None
    cleaned = QueryDict(mutable=True)
    for key, values in data.lists():
        kept = [value for value in values if value != ""]
        if kept:
            cleaned.setlist(key, kept)
    return cleaned
