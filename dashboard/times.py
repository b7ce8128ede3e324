"""Moments as this product accepts and shows them: one range, one way to write them.

Python's datetime holds the years 1 to 9999, and a moment near either end in
UTC falls outside them in some zones: 0001-01-01T00:00Z is still year 0 in
New York, whose offset was then -04:56:02, and 9999-12-31T20:00Z is already
year 10000 in Tokyo. Every moment the product accepts (in a report, a
filter, a cursor) lies a day inside those years, so that every one of them
can be shown, exported and filtered in every IANA zone.
"""

from datetime import UTC, datetime

from django.utils import timezone

EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)
RANGE_MESSAGE = "Must be between 0001-01-02 and 9999-12-30 in UTC."


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
