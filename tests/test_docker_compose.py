"""docker-compose.yml agrees with the settings and runs what the process tests run.

There is no Docker engine where the tests run, so the stack itself is proven
process by process (test_worker.py); this checks the file that wires it.
"""

import re
from pathlib import Path

import dj_database_url
import pytest
import yaml

from devtools.processes import GUNICORN_CONFIG

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ["web", "worker", "beat"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def resolved_default(value: str) -> str:
    """`${NAME:-default}` as compose resolves it with NAME unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def command(service: dict) -> str:
    cmd = service["command"]
    return " ".join(cmd) if isinstance(cmd, list) else cmd


def test_it_runs_the_whole_stack(compose):
    assert set(compose["services"]) == {"postgres", "redis", *APP_SERVICES, "simulator"}
    assert compose["services"]["simulator"]["profiles"] == ["simulator"]


def test_the_simulator_feeds_the_real_ingestion_path(compose):
    simulator = compose["services"]["simulator"]
    assert command(simulator) == "python manage.py simulate_sync --backfill 5d --live"
    assert simulator["image"] == compose["services"]["web"]["image"]
    assert simulator["environment"]["CELERY_BROKER_URL"].startswith("redis://redis:")


def test_the_web_health_check_asks_healthz(compose):
    assert "http://127.0.0.1:8000/healthz" in " ".join(
        compose["services"]["web"]["healthcheck"]["test"]
    )


def test_every_service_has_a_health_check(compose):
    for name, service in compose["services"].items():
        assert service.get("healthcheck", {}).get("test"), name


def test_web_worker_and_beat_share_one_image(compose):
    images = {compose["services"][name]["image"] for name in APP_SERVICES}
    builds = {compose["services"][name]["build"] for name in APP_SERVICES}
    assert (len(images), builds) == (1, {"."})
    assert (ROOT / "Dockerfile").exists()


def test_the_commands_are_the_ones_the_process_tests_run(compose):
    services = compose["services"]
    web = command(services["web"])
    served = " ".join(["gunicorn", *GUNICORN_CONFIG, "syncstatus.wsgi"])
    assert web.index("manage.py migrate") < web.index(served)
    image = ", ".join(f'"{word}"' for word in served.split())
    assert f"CMD [{image}]" in (ROOT / "Dockerfile").read_text()
    assert command(services["worker"]).startswith("celery -A syncstatus worker")
    assert command(services["beat"]).startswith("celery -A syncstatus beat")


def test_the_app_waits_for_healthy_database_and_broker(compose):
    for name in APP_SERVICES:
        depends = compose["services"][name]["depends_on"]
        assert depends == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }


def test_every_variable_given_to_the_app_is_read_by_the_settings(compose):
    settings_source = (ROOT / "syncstatus" / "settings.py").read_text()
    for name in APP_SERVICES:
        for variable in compose["services"][name]["environment"]:
            assert re.search(rf"""(environ\.get|env_\w+)\(\s*"{variable}\"""", settings_source), (
                f"{variable} is set in docker-compose.yml but never read by settings.py"
            )


def test_the_database_and_broker_urls_point_at_their_services(compose):
    environment = compose["services"]["web"]["environment"]
    postgres = compose["services"]["postgres"]["environment"]
    database = dj_database_url.parse(resolved_default(environment["DATABASE_URL"]))
    assert "127.0.0.1" in resolved_default(environment["ALLOWED_HOSTS"]).split(",")
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["NAME"], database["USER"]) == (
        "postgres",
        postgres["POSTGRES_DB"],
        postgres["POSTGRES_USER"],
    )
    assert database["PASSWORD"] == resolved_default(postgres["POSTGRES_PASSWORD"])
    assert environment["CELERY_BROKER_URL"].startswith("redis://redis:6379/")


def test_production_runs_without_debug(compose):
    assert compose["services"]["web"]["environment"]["DEBUG"] == "0"
