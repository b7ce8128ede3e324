"""GET /healthz: 200 when the database and broker answer, 503 naming what is down."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_it_is_healthy_with_database_and_in_process_tasks(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (
        200,
        {"status": "ok", "database": "ok", "broker": "in-process"},
    )


def test_it_names_a_broker_that_does_not_answer(client, settings, monkeypatch):
    from syncstatus.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"].startswith("down: ")
    assert response.json()["database"] == "ok"


def test_it_names_a_database_that_does_not_answer(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise connection.Database.OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "down: OperationalError"


def test_it_answers_over_plain_http_in_production(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/integration/salesforce/sync-status/").status_code == 301
