"""Counting attempts per key in fixed time windows, in the shared cache.

Used for the ingest rate limit (per token) and login throttling (per username
and address). Redis in production, so that every web process sees the same
counts. When the cache cannot be reached the counts are skipped, not the
requests: an outage of Redis must not stop ingestion or logins (docs/reports.md's
promise that accepted reports are kept matters more than the limit).
"""

import logging
import math
import time
from typing import NamedTuple

from django.core.cache import cache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class Window(NamedTuple):
    key: str
    seconds_left: int


def current_window(key: str, seconds: int) -> Window:
    now = time.time()
    start = int(now // seconds) * seconds
    return Window(f"throttle:{key}:{start}", max(1, math.ceil(start + seconds - now)))


def attempt_count(key: str, *, seconds: int) -> int:
    """Attempts counted so far in the current window."""
    try:
        return cache.get(current_window(key, seconds).key, 0)
    except RedisError:
        log.warning("throttle count unavailable (cache down): %s not limited", key)
        return 0


def attempt_record(key: str, *, seconds: int) -> int:
    """Count one attempt; the count so far in the window, this one included."""
    window = current_window(key, seconds)
    try:
        try:
            # The window's key is there but for its first attempt: counting
            # first spares every other request a round trip to Redis.
            return cache.incr(window.key)
        except ValueError:
            if cache.add(window.key, 1, timeout=seconds + 1):
                return 1
            # Another request made the key meanwhile.
            return cache.incr(window.key)
    except RedisError:
        log.warning("throttle count unavailable (cache down): %s not limited", key)
        return 0


def attempts_forget(key: str, *, seconds: int) -> None:
    try:
        cache.delete(current_window(key, seconds).key)
    except RedisError:
        log.warning("throttle count unavailable (cache down): %s not reset", key)


def rate_limited(key: str, *, limit: int, seconds: int) -> int:
    """Count one request; 0 when within `limit` per window, else the seconds
    until the window ends, for a Retry-After header."""
    if attempt_record(key, seconds=seconds) <= limit:
        return 0
    return current_window(key, seconds).seconds_left
