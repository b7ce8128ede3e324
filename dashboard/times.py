"""Moments as this product accepts and shows them: one range, one way to write them.

Python's datetime holds the years 1 to 9999, and a moment near either end in
UTC falls outside them in some zones: 0001-01-01T00:00Z is still year 0 in
New York, whose offset was then -04:56:02, and 9999-12-31T20:00Z is already
year 10000 in Tokyo. Every moment the product accepts (in a report, a
filter, a cursor) lies a day inside those years, so that every one of them
can be shown, exported and filtered in every IANA zone.
"""

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)
RANGE_MESSAGE = "Must be between 0001-01-02 and 9999-12-30 in UTC."
# Durations shorter than this many seconds are written with tenths.
SHORT = 10


def in_range(moment: datetime) -> bool:
    """Whether an aware moment is one the product accepts."""
    try:
        return EARLIEST <= moment.astimezone(UTC) <= LATEST
    except OverflowError:  # it is not even a moment Python can hold in UTC
        return False


def local_text(moment: datetime) -> str:
    """`2026-11-28 11:05:00` in the current zone, as the pages show times.

    Written through isoformat, not strftime: strftime writes the year 1 as
    "1", not "0001".
    """
    return timezone.localtime(moment).isoformat(sep=" ", timespec="seconds")[:19]


def local_input(moment: datetime) -> str:
    """`2026-11-28T11:05:00` in the current zone: what a datetime-local input holds."""
    return timezone.localtime(moment).isoformat(timespec="seconds")[:19]


def utc_text(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as the JSON APIs write times; None stays None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def duration_text(duration: timedelta) -> str:
    """`4 min 12 s`, `0.4 s`: how long something ran, in its two largest units,
    with tenths of a second under ten seconds (engines run many short steps)."""
    total = duration.total_seconds()
    tenths = round(total * 10)
    if not total.is_integer() and tenths < SHORT * 10:
        if tenths == 0:
            return _("< 0.1 s")
        return _("%(count)s s") % {"count": number_format(tenths / 10, decimal_pos=1)}
    days, rest = divmod(round(total), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    units = [
        (days, _("%(count)s d")),
        (hours, _("%(count)s h")),
        (minutes, _("%(count)s min")),
        (seconds, _("%(count)s s")),
    ]
    while units and not units[0][0]:  # from the largest unit it has
        units.pop(0)
    return " ".join(text % {"count": count} for count, text in units[:2] if count) or _("0 s")
