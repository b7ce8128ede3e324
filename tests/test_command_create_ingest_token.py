import io

import pytest
from django.core.management import call_command

from dashboard.ingest.tokens import token_authenticate
from dashboard.models import IngestToken

pytestmark = pytest.mark.django_db


def create(*args) -> str:
    out = io.StringIO()
    call_command("create_ingest_token", *args, stdout=out)
    return out.getvalue()


def test_it_prints_the_token_and_nothing_else():
    out = create("sync-engine")
    token = out.strip()
    assert out == token + "\n"
    assert len(token) > 40


def test_it_stores_only_a_hash():
    token = create("sync-engine").strip()
    stored = IngestToken.objects.get()
    assert (stored.name, stored.scope) == ("sync-engine", "ingest")
    assert token not in stored.token_hash
    assert token_authenticate(f"Bearer {token}", "ingest") == stored


def test_it_creates_a_read_token():
    token = create("grafana", "--scope", "read").strip()
    assert token_authenticate(f"Bearer {token}", "read").scope == "read"
    assert token_authenticate(f"Bearer {token}", "ingest") is None


def test_it_makes_a_different_token_each_time():
    assert create("a") != create("a")
