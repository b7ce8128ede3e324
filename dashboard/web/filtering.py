"""What every filterable page shares: its FilterSet knows each filter once.

A FilterSet subclass declares its filters (label, widget, choices); from that
alone the page's template renders the panel, the chips of the filters in
force are made here, and the APIs report bad values. Adding a filter is one
line in one FilterSet.
"""

import re
from datetime import UTC, datetime
from typing import NamedTuple

import django_filters
from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dashboard.choices import ObjectType, object_type_label
from dashboard.times import in_range, local_input, local_text

DATETIME_PATTERN = re.compile(
    r"(?P<local>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?P<offset>Z|[+\- ]\d{2}:\d{2})?"
)


class Checkboxes(forms.CheckboxSelectMultiple):
    """Checkboxes written in one template loop: Django's own includes two
    templates a box, and the Sync Status panel's 31 boxes then cost about as
    much as its 50 rows (manage.py bench: 14.9 ms a page against 8.5 ms)."""

    template_name = "dashboard/widgets/checkboxes.html"


def object_type_choices():
    # A callable, so that the Lead/Person branding is read when the form is built.
    return [(code, object_type_label(code)) for code in ObjectType.values]


def labelled(choices):
    """Choices as a callable giving labels in the current language: a form
    deep-copies its fields, and lazy labels made that a millisecond a page."""
    return lambda: [(code, str(label)) for code, label in choices.choices]


def codes_filter(choices, label) -> django_filters.MultipleChoiceFilter:
    # distinct=False: django-filter adds DISTINCT for multiple choices, which
    # made PostgreSQL sort every matching row before the LIMIT (docs/performance.md).
    return django_filters.MultipleChoiceFilter(
        choices=choices, label=label, widget=Checkboxes, distinct=False
    )


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self):
        super().__init__(attrs={"step": "1"})


class LocalDateTimeField(forms.Field):
    """YYYY-MM-DDTHH:MM[:SS], in the user's time zone unless it carries Z or ±HH:MM.

    A "+" sent unencoded in a query string arrives as a space: read it as "+".
    A local time in a DST gap or overlap resolves as zoneinfo does with fold=0.
    """

    widget = LocalDateTimeInput
    default_error_messages = {
        "invalid": _(
            "Enter a date and time as YYYY-MM-DDTHH:MM, optionally with :SS and "
            "a Z or ±HH:MM offset."
        ),
        "out_of_range": _("Enter a date and time between the years 1 and 9999."),
    }

    def to_python(self, value) -> datetime | None:
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
        if not in_range(moment):
            raise forms.ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        # In UTC: Python reads offsets up to ±23:59, PostgreSQL only to ±15:59.
        return moment.astimezone(UTC)

    def prepare_value(self, value):
        """What the datetime-local input shows: the moment in the user's zone,
        whatever offset it was typed with, or what was typed if unreadable."""
        try:
            moment = value if isinstance(value, datetime) else self.to_python(value)
        except forms.ValidationError:
            return value
        return local_input(moment) if moment is not None else ""


class LocalDateTimeFilter(django_filters.Filter):
    field_class = LocalDateTimeField


class PageField(forms.IntegerField):
    """A page number from 1; past the last page there are just no rows."""

    def __init__(self, **kwargs):
        super().__init__(min_value=1, **kwargs)


class PageFilter(django_filters.Filter):
    field_class = PageField


class Chip(NamedTuple):
    label: str
    remove: str  # the query string of the same view without this filter


class DashboardFilterSet(django_filters.FilterSet):
    """A FilterSet whose form is the page's filter panel.

    Subclasses name the filters the panel shows in `panel`, and those it
    carries along unchanged when it is applied in `carried` (the sort: a new
    filter starts again at page 1). `sort` and `page` are read like any other
    filter, so that a bad value is reported like any other, but applied by
    the view.
    """

    panel: tuple[str, ...] = ()
    carried: tuple[str, ...] = ("sort",)
    default_sort: str = ""

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(without_empty_values(data), *args, **kwargs)

    def keep(self, queryset, name, value):
        """For the parameters a view applies itself (sort, page)."""
        return queryset

    @property
    def panel_fields(self) -> list:
        return [self.form[name] for name in self.panel]

    @property
    def carried_fields(self) -> list:
        return [self.form[name] for name in self.carried]

    @property
    def sort_order(self) -> str:
        return self.form.cleaned_data.get("sort") or self.default_sort

    @property
    def page_number(self) -> int:
        return self.form.cleaned_data.get("page") or 1

    def chips(self) -> list[Chip]:
        """Each filter of the panel in force, with the query that removes it."""
        query = self.data.copy() if self.data is not None else QueryDict(mutable=True)
        query.pop("page", None)
        chips = []
        for name in self.panel:
            field = self.form.fields[name]
            value = self.form.cleaned_data.get(name)
            if isinstance(value, datetime):
                chips.append(Chip(f"{field.label} {local_text(value)}", without(query, name)))
            elif isinstance(value, list) and value:
                # A field may know its labels without its choices (the error
                # codes' choices are a query, and a code is its own label).
                labels = (
                    field.labels_of(value) if hasattr(field, "labels_of") else dict(field.choices)
                )
                for code in value:
                    label = f"{field.label}: {labels[code]}"
                    chips.append(Chip(label, without(query, name, code)))
            elif value:
                label = dict(getattr(field, "choices", ())).get(value, value)
                chips.append(Chip(f"{field.label}: {label}", without(query, name)))
        return chips

    def errors_outside_panel(self) -> list[tuple[str, str, str]]:
        """(name, label, message) of each bad parameter the panel does not show."""
        return [
            (name, str(self.form.fields[name].label), message)
            for name, messages in self.form.errors.items()
            if name not in self.panel
            for message in messages
        ]

    def errors_as_list(self) -> list[dict]:
        """The form's errors as the APIs report them."""
        return [
            {"path": field, "message": str(message)}
            for field, messages in self.errors.items()
            for message in messages
        ]


def without(query: QueryDict, name: str, value: str | None = None) -> str:
    """The query string of `query` without `name` (or only without its `value`)."""
    query = query.copy()
    if value is None:
        query.pop(name, None)
    else:
        query.setlist(name, [item for item in query.getlist(name) if item != value])
    return f"?{query.urlencode()}" if query else "?"


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
