"""Destinations are Apprise URLs (e-mail, Slack, Teams, webhooks, ...): the
one place that reads them, masks their secrets and sends through them."""

import logging
import re
import sys
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import apprise
from apprise.decorators import notify
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

log = logging.getLogger(__name__)

CONSOLE_SCHEMA = "console"
MASK = "****"
# What a URL is cut at to find its parts, any of which may be a secret.
URL_DELIMITERS = re.compile(r"[/:@?&=#%,+;]+")
# Parts this short are ports, schemas and the like; a secret is longer.
SHORTEST_SECRET = 4
# Query arguments Apprise shows back as given, though they may hold a secret:
# the headers (+name) and the extra parameters (-name) of a webhook, and
# arguments named like one.
SECRET_ARGUMENT = re.compile(r"^[+-]|token|key|secret|pass|auth|sig|code", re.IGNORECASE)


@notify(on=CONSOLE_SCHEMA, name="Console e-mail")
def console_email(body, title, notify_type, meta, *args, **kwargs):
    """`console://someone@example.com`: the e-mail printed to standard output
    by Django's console backend, so the embedded default shows notices with no
    mail server (the address is only printed)."""
    user, host = meta.get("user"), meta.get("host")
    recipient = f"{user}@{host}" if user and host else (host or "admin@localhost")
    connection = get_connection("django.core.mail.backends.console.EmailBackend", stream=sys.stdout)
    EmailMessage(
        subject=title,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[recipient],
        connection=connection,
    ).send()
    return True


class DestinationInvalid(ValueError):
    pass


@dataclass(frozen=True)
class Parsed:
    url: str
    masked: str


def destination_parse(url: str) -> Parsed:
    """The URL and its masked form; DestinationInvalid when Apprise cannot
    read it (an unknown schema, a missing part)."""
    url = url.strip()
    plugin = apprise.Apprise.instantiate(url) if url else None
    if plugin is None:
        raise DestinationInvalid(f"Apprise cannot read this URL: {mask_url(url)}")
    return Parsed(url=url, masked=_private_url(plugin, url))


def _private_url(plugin, url: str) -> str:
    if url.startswith(f"{CONSOLE_SCHEMA}://"):
        # Our own schema renders as a bare "console://"; the address says more.
        return mask_url(url)
    # Decoded for reading (an address rather than its %40), masked again after.
    rendered = unquote(mask_secrets(_given_arguments_only(plugin.url(privacy=True), url), url))
    return mask_secrets(rendered, url)


def _given_arguments_only(rendered: str, url: str) -> str:
    """Apprise's rendering without the arguments it adds of its own accord
    (overflow=upstream&retry=0&...): the URL as its author would know it."""
    base, _, query = rendered.partition("?")
    given = {name for name, _ in parse_qsl(url.partition("?")[2], keep_blank_values=True)}
    kept = [part for part in query.split("&") if part and unquote(part.split("=", 1)[0]) in given]
    return base + (f"?{'&'.join(kept)}" if kept else "")


def url_secrets(url: str) -> set[str]:
    """The parts of the URL that Apprise's private rendering of it leaves out
    (its passwords, tokens and keys, whatever the service calls them), and
    the values of its arguments that may hold one."""
    plugin = apprise.Apprise.instantiate(url) if url else None
    schema, _, rest = url.partition("://")
    if schema == CONSOLE_SCHEMA:
        # Ours: an address, and nothing else to show back.
        address = urlsplit(url)
        public = {schema, address.hostname or "", address.username or ""}
    elif plugin is None:
        # Unreadable: which part is a token is anyone's guess; its host is not.
        public = {schema, urlsplit(url).hostname or ""}
    else:
        public = set(URL_DELIMITERS.split(unquote(plugin.url(privacy=True))))
    parts = {part for part in URL_DELIMITERS.split(unquote(url)) if len(part) >= SHORTEST_SECRET}
    secrets = {part for part in parts if part not in public and part != schema}
    query = rest.partition("?")[2]
    secrets |= {
        value
        for name, value in parse_qsl(query, keep_blank_values=False)
        if SECRET_ARGUMENT.search(name) and len(value) >= SHORTEST_SECRET
    }
    return secrets


def mask_secrets(text: str, url: str) -> str:
    """`text` (an error, a log line) with every secret of `url` masked, as
    written in it or URL-encoded."""
    for secret in sorted(url_secrets(url), key=len, reverse=True):
        for form in {secret, quote(secret, safe="")}:
            text = text.replace(form, MASK)
    return text


def mask_url(url: str) -> str:
    return mask_secrets(url, url)


def destination_send(*, url: str, title: str, body: str) -> str | None:
    """Send one message; None when it went, else what went wrong, with the
    URL's secrets masked."""
    sender = apprise.Apprise()
    if not sender.add(url):
        return f"Apprise cannot read this URL: {mask_url(url)}"
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as output:
        try:
            sent = bool(sender.notify(body=body, title=title))
        except Exception as exc:  # a plugin's bug must not lose the notice
            sent = False
            log.warning("destination raised %s", type(exc).__name__)
        captured = output.getvalue().strip()
    if sent:
        return None
    return mask_secrets(captured or "The destination did not accept the message.", url)[:2000]
