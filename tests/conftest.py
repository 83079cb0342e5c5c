"""Suite-wide setup: which database and broker the run uses, markers, Celery mode, a live worker."""

import os
import time
from collections.abc import Callable

import pytest
from django.conf import settings


def _database_label() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        return f"PostgreSQL {db.get('HOST') or 'socket'}:{db.get('PORT') or 5432}/{db['NAME']}"
    return "SQLite (in memory)"


def _broker_label() -> str:
    return f"Redis {settings.REDIS_URL} (real-worker tests on)" if settings.REDIS_URL else "eager Celery (no REDIS_URL)"


def pytest_report_header(config) -> list[str]:
    return [f"cos database: {_database_label()}", f"cos broker: {_broker_label()}"]


def pytest_sessionstart(session) -> None:
    """CI sets COS_REQUIRE_SERVICES=1: then PostgreSQL and Redis must really be there, or the run fails."""
    if os.environ.get("COS_REQUIRE_SERVICES") != "1":
        return
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.exit("COS_REQUIRE_SERVICES=1 but DATABASE_URL does not point at PostgreSQL", returncode=3)
    if not settings.REDIS_URL:
        pytest.exit("COS_REQUIRE_SERVICES=1 but REDIS_URL is not set", returncode=3)
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.exit(f"COS_REQUIRE_SERVICES=1 but Redis at {settings.REDIS_URL} is unreachable: {exc}", returncode=3)


def pytest_collection_modifyitems(config, items) -> None:
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (row locks, concurrency, pg_trgm): set DATABASE_URL")
    skip_worker = pytest.mark.skip(reason="needs a Redis broker for a real Celery worker: set REDIS_URL")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip_pg)
        if "celery_worker" in item.keywords and not settings.REDIS_URL:
            item.add_marker(skip_worker)


@pytest.fixture(autouse=True)
def _celery_mode(request):
    """Unit tests run tasks eagerly in-process; tests marked celery_worker use the real broker and worker."""
    from cos.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = "celery_worker" not in request.keywords
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Rate limits are shared state across tests (and, on Redis, across runs): off, and the bad-key count forgotten,
    # unless a test sets them.
    settings.API_RATE_LIMIT = ""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    cache = caches["default"]
    cache.delete("api-bad-keys:127.0.0.1")
    # Callers' counts of an earlier test or run (user ids repeat after a rollback or on a fresh database). Redis's
    # database is shared with the broker, so only these keys go.
    if isinstance(cache, RedisCache):
        client = cache._cache.get_client(write=True)
        for key in client.scan_iter(match=cache.make_key("api-calls*")):
            client.delete(key)
    else:
        cache.clear()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.DEMO_HISTORY_SUBSCRIBERS = 0  # seed_demo without its simulated months (tests/simulation asks for them)
    # SMS are kept in cos.sms.outbox (as e-mail is in django.core.mail.outbox), emptied for each test.
    from cos import sms

    settings.SMS_URL = "locmem://"
    sms.outbox.clear()
    # No test reaches an element manager it did not start (e.g. a simulator of `make run` on this machine): the
    # simulator fixture points these at its own server.
    for vendor in ("adtran", "nokia", "calix"):
        setattr(settings, f"PROVISIONING_{vendor.upper()}_URL", f"http://127.0.0.1:9/{vendor}")


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker (threads pool) consuming from the Redis broker, for the duration of a test."""
    from celery.contrib.testing.worker import start_worker

    from cos.celery import app

    app.control.purge()
    with start_worker(app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING"):
        yield app
    from django.db import connections

    connections.close_all()
    _worker_connections_settle()


def _worker_connections_settle(timeout: float = 15.0) -> None:
    """Wait until no other session is working in the test database: a task the stopped worker was still finishing
    would otherwise hold its locks while the test's tables are emptied (a deadlock with TRUNCATE)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')"
            )
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.05)
    connection.close()


@pytest.fixture
def wait_until() -> Callable:
    """Poll a condition until it holds or a deadline passes (for work done by another process or thread)."""

    def wait(predicate: Callable[[], bool], *, timeout: float = 20.0, message: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {message}")

    return wait


@pytest.fixture(scope="session", autouse=True)
def _no_stray_connections_at_the_end(django_db_setup, django_db_blocker):
    """Threads of a test worker or live server may leave a connection open; the test database must still drop."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture
def wait_for_quiet(wait_until) -> Callable:
    """Wait until the worker has nothing left to do for what a test set off: every event handled, every
    provisioning job ended. A test that stops earlier would have its database emptied under a busy worker."""

    def wait(*, timeout: float = 30.0) -> None:
        from cos.models import HandlerRun
        from provisioning.models import ProvisioningJob

        wait_until(
            lambda: (
                not HandlerRun.objects.filter(status="pending").exists()
                and not ProvisioningJob.objects.filter(status__in=["queued", "running"]).exists()
            ),
            timeout=timeout,
            message="the worker to be done",
        )

    return wait
