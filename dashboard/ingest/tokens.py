"""Bearer tokens for the APIs (docs/reports.md): random secrets of which only a hash is kept."""

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from dashboard.models import IngestToken

TOKEN_PREFIX = "sst_"
LAST_USED_STEP = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_create(*, name: str, scope: str = IngestToken.Scope.INGEST) -> str:
    """Create a token and return it: the only time it is ever seen in full."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    IngestToken.objects.create(name=name, scope=scope, token_hash=token_hash(token))
    return token


def token_authenticate(authorization: str | None, scope: str) -> IngestToken | None:
    """The live token of that scope named by an `Authorization: Bearer` header.

    Looking up by hash compares secrets without timing leaks: the database only
    ever sees the hash, and the index lookup's time says nothing about the token.
    """
    if not authorization:
        return None
    kind, _, token = authorization.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        return None
    found = IngestToken.objects.filter(
        token_hash=token_hash(token.strip()), scope=scope, revoked_at__isnull=True
    ).first()
    now = timezone.now()
    # Once a minute is precise enough, and spares every ingest request a write
    # to the one row all of an engine's requests share.
    if found is not None and (
        found.last_used_at is None or now - found.last_used_at > LAST_USED_STEP
    ):
        IngestToken.objects.filter(pk=found.pk).update(last_used_at=now)
    return found


def has_bearer(authorization: str | None) -> bool:
    return bool(authorization) and authorization.split(" ", 1)[0].lower() == "bearer"
