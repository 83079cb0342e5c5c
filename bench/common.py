"""Shared set-up for the benchmarks: PostgreSQL from DATABASE_URL, production-like settings, timing helpers."""

import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_setup(*, broker: str | None = None) -> None:
    """Configure Django for a benchmark: no DEBUG (no query log), the database from DATABASE_URL, migrated.

    Without `broker`, event handlers are queued in memory and never run: the benchmark times the service
    itself (in production its side effects run on Celery workers). With it, tasks go to that broker.
    """
    sys.path.insert(0, str(ROOT))
    os.environ["DEBUG"] = "false"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    if broker:
        os.environ["REDIS_URL"] = broker
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cos.settings")
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("benchmarks run on PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/cos_bench")
    _database_create_if_missing(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _database_create_if_missing(url: str) -> None:
    import environ
    import psycopg2

    config = environ.Env.db_url_config(url)
    admin = psycopg2.connect(
        dbname="postgres",
        user=config["USER"],
        password=config["PASSWORD"] or None,
        host=config["HOST"] or None,
        port=config["PORT"] or None,
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{config["NAME"]}"')
    admin.close()


@contextmanager
def timed(into: list):
    start = time.perf_counter()
    yield
    into.append(time.perf_counter() - start)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(pct) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"
