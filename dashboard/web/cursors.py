"""Opaque cursors for keyset paging in the JSON APIs: where a page ended.

A cursor comes back from the client, so it is read as untrusted input: any
string decodes to the values it was made of or raises ValueError, never
anything else (deep nesting, huge numbers and odd types included).
"""

import base64
import binascii
import json

# A cursor we make is well under this; a longer one is not ours.
MAX_CURSOR_LENGTH = 2048


def cursor_encode(*values) -> str:
    raw = json.dumps(list(values), separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(cursor: str, length: int) -> list:
    """The `length` values a cursor holds; ValueError if it is not one we made."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise ValueError("This cursor is not one this API gave.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise ValueError("This cursor is not one this API gave.") from None
    if not isinstance(values, list) or len(values) != length:
        raise ValueError("This cursor is not one this API gave.")
    return values
