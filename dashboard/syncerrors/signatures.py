"""What makes two failures the same error: their signature (docs/errors.md).

A pure function of the failure and its step. The message's variable parts
are replaced, in this order, so that `Value 'ACME' too long (max 80)` and
`Value 'Initech' too long (max 255)` share the template
`Value <value> too long (max <n>)`.
"""

import hashlib
import re
from functools import lru_cache
from typing import NamedTuple

QUOTED = re.compile(r"""'[^']*'|"[^"]*\"""")
# E-mail addresses are `[^\s@<>'"]+@[^\s@<>'"]+\.[A-Za-z]{2,}`, but that regex
# takes time quadratic in a long word with no address in it (a 10 MiB message:
# hours), so replace_emails finds the same matches from whole words instead.
EMAIL_CANDIDATE = re.compile(r"""(?<![^\s@<>'"])[^\s@<>'"]++@(?=[^\s@<>'"]+\.[A-Za-z]{2,})""")
DOMAIN = re.compile(r"""[^\s@<>'"]+\.[A-Za-z]{2,}""")
SALESFORCE_ID = re.compile(
    r"(?<![A-Za-z0-9])(?=[A-Za-z]*[0-9])[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?(?![A-Za-z0-9])"
)
NUMBER = re.compile(r"(?<![A-Za-z0-9])[0-9]+(?:\.[0-9]+)?(?![A-Za-z0-9])")
DIGIT = re.compile("[0-9]")

RECORD, JOB = "record", "job"


# Messages longer than this are not cached: one report may carry megabytes.
CACHED_LENGTH = 500


def message_template(message: str) -> str:
    """The message with quoted text, e-mail addresses, Salesforce ids and
    numbers replaced, white space folded: the template of a template is itself."""
    if len(message) <= CACHED_LENGTH:
        return _cached_template(message)
    return _template(message)


@lru_cache(maxsize=50_000)
def _cached_template(message: str) -> str:
    # Engines send the same few thousand messages over and over.
    return _template(message)


def replace_emails(text: str) -> str:
    """`text` with what the e-mail regex matches replaced by <email>, as
    `re.sub` would, in time linear in the text.

    A match's local part is a run of allowed characters just before an "@",
    starting where the previous match ended at the earliest: so only whole
    runs followed by an "@" and a domain are tried (EMAIL_CANDIDATE, whose
    lookbehind spares it every start inside a run).
    """
    parts, end = [], 0
    for candidate in EMAIL_CANDIDATE.finditer(text):
        at = candidate.end() - 1
        start = max(candidate.start(), end)
        if start == at:  # its word was the domain of the previous address
            continue
        parts += [text[end:start], "<email>"]
        end = DOMAIN.match(text, at + 1).end()
    return "".join(parts) + text[end:]


def _template(message: str) -> str:
    # Each replacement only where it can match: a test of a character costs a
    # tenth of a regex's scan, and most messages lack quotes, "@" or digits
    # (the bench's 50,000 messages: 0.26 s before, 0.15 s with the tests).
    template = message
    if "'" in template or '"' in template:
        template = QUOTED.sub("<value>", template)
    if "@" in template:
        template = replace_emails(template)
    if DIGIT.search(template):
        template = SALESFORCE_ID.sub("<id>", template)
        template = NUMBER.sub("<n>", template)
    # White space folded: what re.sub(r"\s+", " ", ...).strip() gives (both
    # read white space as str.isspace does), four times as fast.
    return " ".join(template.split())


class Signature(NamedTuple):
    object_type: str
    object_name: str  # a custom object's API name; empty otherwise
    operation: str
    error_code: str  # empty if none
    field: str  # empty if none, and for job-level errors
    level: str  # RECORD or JOB
    template: str

    @property
    def group_id(self) -> int:
        """A number derived from the signature alone, so that a link to a group
        keeps working for as long as it has failures: the first 63 bits of its
        SHA-256 (a positive bigint; collisions among a few thousand groups are
        about as likely as a meteorite)."""
        return _group_id(self)


@lru_cache(maxsize=50_000)
def _group_id(signature: tuple) -> int:
    # Cached: a report's failures share a few signatures.
    text = "\x1f".join(signature)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def failure_signature(
    object_type: str,
    object_name: str | None,
    operation: str,
    error_code: str | None,
    field: str | None,
    message: str,
) -> Signature:
    return record_signature(
        object_type, object_name, operation, error_code, field, message_template(message)
    )


def record_signature(
    object_type: str,
    object_name: str | None,
    operation: str,
    error_code: str | None,
    field: str | None,
    template: str,
) -> Signature:
    """A record's failure's signature, from its message's template."""
    return Signature(
        object_type, object_name or "", operation, error_code or "", field or "", RECORD, template
    )  # fmt: skip


def job_error_signature(
    object_type: str, object_name: str | None, operation: str, error_code: str | None, message: str
) -> Signature:
    return Signature(
        object_type, object_name or "", operation, error_code or "", "", JOB,
        message_template(message),
    )  # fmt: skip


def group_key(group_id: int) -> str:
    """How a group's id is written in URLs and the API: 16 hexadecimal digits."""
    return f"{group_id:016x}"


def group_id_of(key: str) -> int | None:
    """The id a URL's key names, or None if it cannot name one."""
    if len(key) != 16 or not all(char in "0123456789abcdef" for char in key):
        return None
    return int(key, 16)
