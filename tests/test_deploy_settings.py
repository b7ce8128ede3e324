"""Production settings (DEBUG off) pass `manage.py check --deploy` with no warning."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def check_deploy(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_pass_the_deploy_check():
    result = check_deploy(
        DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="sync.example.com"
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_the_deploy_check_refuses_the_embedded_secret_key():
    result = check_deploy(DEBUG="0", ALLOWED_HOSTS="sync.example.com")
    assert result.returncode != 0
    assert "syncstatus.E001" in result.stderr


def test_an_unknown_lead_label_is_refused_at_start():
    result = check_deploy(DEBUG="1", SYNC_STATUS_LEAD_LABEL="Prospect")
    assert result.returncode != 0
    assert "syncstatus.E002" in result.stderr


def test_the_readme_lists_every_environment_variable_the_settings_read():
    import re

    settings_source = (ROOT / "syncstatus" / "settings.py").read_text()
    read = set(re.findall(r'(?:environ\.get|env_\w+)\(\s*"([A-Z_]+)"', settings_source))
    readme = (ROOT / "README.md").read_text()
    assert read, "the settings read the environment"
    assert sorted(name for name in read if f"`{name}`" not in readme) == []


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000"])
def test_a_plain_http_run_on_this_machine_says_what_to_set(client, settings, host):
    # What `manage.py runserver` on a fresh clone meets: DEBUG off, HTTPS enforced.
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/integration/salesforce/sync-status/", HTTP_HOST=host)
    assert response.status_code == 403
    assert "start it with DEBUG=1" in response.content.decode()


def test_production_still_redirects_other_hosts_and_lets_https_through(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["sync.example.com", "127.0.0.1"]
    plain = client.get("/integration/salesforce/sync-status/", HTTP_HOST="sync.example.com")
    assert (plain.status_code, plain["Location"]) == (
        301,
        "https://sync.example.com/integration/salesforce/sync-status/",
    )
    proxied = client.get("/healthz", HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
    assert proxied.status_code in {200, 503}
    exempt = client.get("/healthz", HTTP_HOST="127.0.0.1")
    assert exempt.status_code in {200, 503}


@pytest.mark.django_db(transaction=True)
def test_runserver_on_a_fresh_clone_explains_itself_over_plain_http(processes):
    """A Django user's first habit: `manage.py runserver`, then the address it prints."""
    import urllib.error
    import urllib.request

    from devtools.processes import free_port, test_database_url, wait_for_port

    port = free_port()
    processes.start(
        "runserver",
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        # As on a fresh clone: empty means unset, the defaults apply.
        env={"DEBUG": "", "SECURE_SSL_REDIRECT": "", "DATABASE_URL": test_database_url()},
    )
    wait_for_port(port)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)  # noqa: S310
        raise AssertionError("a plain-HTTP request got through with DEBUG off")
    except urllib.error.HTTPError as error:
        assert error.code == 403
        assert "start it with DEBUG=1" in error.read().decode()
