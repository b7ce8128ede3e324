"""Logging in (accounts/login/ and the admin's form), throttled after failures."""

import pytest
from django.contrib.auth.models import Group, User

from devtools.processes import free_port

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


@pytest.fixture
def ada(db):
    user = User.objects.create_user("ada", password="right horse battery")
    user.groups.add(Group.objects.get(name="Sync Status admins"))
    return user


@pytest.fixture
def five_failures_allowed(settings):
    settings.SYNC_STATUS_LOGIN_FAILURES_ALLOWED = 5
    settings.SYNC_STATUS_LOGIN_LOCKOUT_SECONDS = 900


def log_in(client, password, username="ada", url=LOGIN):
    return client.post(url, {"username": username, "password": password})


def test_the_right_password_logs_in(client, ada):
    response = log_in(client, "right horse battery")

    assert response.status_code == 302
    assert client.get("/integration/salesforce/sync-status/").status_code == 200


def test_after_five_failures_even_the_right_password_is_refused_for_a_while(
    client, ada, five_failures_allowed
):
    failures = [log_in(client, f"guess {i}").status_code for i in range(5)]
    refused = log_in(client, "right horse battery")

    assert failures == [200] * 5
    assert refused.status_code == 429
    assert "Too many failed attempts. Try again in" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/integration/salesforce/sync-status/").status_code == 302


def test_the_lock_holds_for_one_username_only(client, ada, five_failures_allowed):
    User.objects.create_user("grace", password="another good one")
    for i in range(5):
        log_in(client, f"guess {i}")

    assert log_in(client, "another good one", username="grace").status_code == 302


def test_a_username_is_locked_whatever_its_case(client, ada, five_failures_allowed):
    for i in range(5):
        log_in(client, f"guess {i}", username="ADA" if i % 2 else "ada")

    assert log_in(client, "right horse battery").status_code == 429


def test_a_successful_login_forgets_earlier_failures(client, ada, five_failures_allowed):
    for i in range(4):
        log_in(client, f"guess {i}")
    assert log_in(client, "right horse battery").status_code == 302
    client.logout()
    for i in range(4):
        log_in(client, f"again {i}")

    assert log_in(client, "right horse battery").status_code == 302


def test_the_admin_login_form_is_throttled_too(client, five_failures_allowed):
    User.objects.create_superuser("root", password="root password here")
    for i in range(5):
        log_in(client, f"guess {i}", username="root", url="/admin/login/")

    refused = log_in(client, "root password here", username="root", url="/admin/login/")

    assert "Too many failed attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_throttle_message_is_translated(client, ada, five_failures_allowed):
    for i in range(5):
        log_in(client, f"guess {i}")

    refused = client.post(LOGIN, {"username": "ada", "password": "x"}, HTTP_ACCEPT_LANGUAGE="fr")

    assert "Trop de tentatives" in refused.content.decode()


def test_logins_go_on_without_throttling_while_the_cache_is_unreachable(
    client, ada, settings, five_failures_allowed
):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        }
    }
    for i in range(6):
        log_in(client, f"guess {i}")

    assert log_in(client, "right horse battery").status_code == 302
