"""Production settings (DEBUG off) pass `manage.py check --deploy` with no warning."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

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
