"""Values kept in the cache (Redis in production) for the readers after the
first: the health figures, the steps in process, the Sync errors drawings.

Each caller names in its key what the value depends on (the live mark, the
reader's language...), so that a kept value is exact while it is kept. The
cache is a help, never a dependency: when it is down, every reader computes
the value itself and the page still answers.
"""

from collections.abc import Callable
from contextlib import suppress
from typing import TypeVar

from django.core.cache import cache

T = TypeVar("T")


def kept(
    key: str, seconds: int, compute: Callable[[], T], *, expired: Callable[[T], bool] | None = None
) -> T:
    """What `compute()` returns, computed once per `seconds` for `key`, or
    sooner if `expired(value)` says the kept one no longer holds."""
    try:
        value = cache.get(key)
    except Exception:
        # The cache is down: this reader computes it.
        value = None
    if value is None or (expired is not None and expired(value)):
        value = compute()
        with suppress(Exception):  # computed again next time, then
            cache.set(key, value, seconds)
    return value
