import io
import json

import pytest
from django.core.management import CommandError, call_command

from dashboard.ingest.tokens import token_create
from tests.conftest import make_report

pytestmark = pytest.mark.django_db


def revoke(*args) -> str:
    out = io.StringIO()
    call_command("revoke_ingest_token", *args, stdout=out)
    return out.getvalue()


def post(client, token):
    return client.post(
        "/api/v1/sync-reports/",
        json.dumps(make_report()),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_it_revokes_every_live_token_of_a_name(client):
    first, second = token_create(name="engine-eu"), token_create(name="engine-eu")
    other = token_create(name="engine-us")
    assert revoke("engine-eu") == "Done! Revoked 2 tokens.\n"
    assert post(client, first).status_code == 401
    assert post(client, second).status_code == 401
    assert post(client, other).status_code == 202


def test_it_revokes_one_token_given_in_full(client):
    kept, revoked = token_create(name="engine"), token_create(name="engine")
    assert revoke("--token", revoked) == "Done! Revoked 1 token.\n"
    assert post(client, revoked).status_code == 401
    assert post(client, kept).status_code == 202


def test_it_says_when_nothing_matches():
    with pytest.raises(CommandError, match="No live token matches"):
        revoke("nobody")
    token = token_create(name="engine")
    revoke("engine")
    with pytest.raises(CommandError, match="No live token matches"):
        revoke("--token", token)
