"""/healthz reports the database and the broker; 200 when usable, 503 when not."""

import pytest
from django.db import connections

pytestmark = pytest.mark.django_db


def test_healthy_in_eager_mode(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "eager"}


def test_broker_unreachable_gives_503(client):
    # given: Celery is not eager and the broker URL points at a closed port
    from cos.celery import app

    app.conf.task_always_eager = False
    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        # when
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = previous
    # then
    assert response.status_code == 503
    assert response.json() == {"status": "down", "database": "ok", "broker": "down"}


@pytest.mark.celery_worker
def test_reachable_redis_broker_is_ok(client, settings):
    from cos.celery import app

    app.conf.task_always_eager = False
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["broker"] == "ok"


def test_database_unreachable_gives_503(client, monkeypatch):
    # given: the database connection cannot be opened
    connection = connections["default"]

    def refuse(*args, **kwargs):
        raise connection.Database.OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    # when
    response = client.get("/healthz")
    # then
    assert response.status_code == 503
    assert response.json()["database"] == "down"
