"""Shared set-up for the benchmarks: a fresh PostgreSQL database per run, production-like settings, ports and Redis
databases from the environment, a real Celery worker, timing helpers, and the PASS/MISS verdicts that make the exit
code (0 every target passed, 1 a target missed, 2 an error) that bench/run.py summarises.
"""

import atexit
import os
import re
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXIT_MISS = 1
EXIT_ERROR = 2

_verdicts: list[bool] = []
_app_redis_url = os.environ.get("REDIS_URL", "")  # the application's own Redis: never flushed here


class BenchmarkError(Exception):
    """The benchmark could not measure (a server did not start, a worker did not answer...): exit 2."""


# --- settings from the environment ---------------------------------------------------------------


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise BenchmarkError(f"{name} must be a whole number, not {value!r}") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    try:
        return float(value) if value else default
    except ValueError:
        raise BenchmarkError(f"{name} must be a number, not {value!r}") from None


def port_from_env(name: str) -> int:
    """The port in `name`, checked free; unset or 0: a free port picked now (parallel runs do not collide)."""
    wanted = env_int(name, 0)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", wanted))
        except OSError as exc:
            raise BenchmarkError(f"{name}={wanted}: the port is taken ({exc}); set another or leave it unset") from exc
        return sock.getsockname()[1]


def port_wait(port: int, process: subprocess.Popen, what: str, timeout: float = 60) -> None:
    """Until `process` accepts connections on `port`; an error if it exits or does not within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError(f"{what} exited with {process.returncode} before listening on port {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise BenchmarkError(f"{what} did not listen on port {port} within {timeout:g} s")


def redis_url_from_env(name: str, default: str) -> str:
    """A benchmark's own Redis database: `name` from the environment, else `default`; it must name its db number
    and differ from the application's REDIS_URL, because the benchmark flushes it."""
    url = os.environ.get(name) or default
    if not re.fullmatch(r"rediss?://[^/]*/\d+", url):
        raise BenchmarkError(f"{name}={url!r}: name the benchmark's own Redis database, e.g. redis://127.0.0.1:6379/13")
    if _app_redis_url and url.rstrip("/") == _app_redis_url.rstrip("/"):
        raise BenchmarkError(
            f"{name} is REDIS_URL, which the benchmark would flush: give it a Redis database of its own"
        )
    return url


def redis_flush(url: str) -> None:
    """Empty the benchmark's own Redis database (one from redis_url_from_env): left-over tasks of an earlier run."""
    import redis

    redis.Redis.from_url(url).flushdb()


# --- a fresh database per run --------------------------------------------------------------------


def _admin(url: str):
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
    return admin, config["NAME"]


def _with_name(url: str, name: str) -> str:
    base, _, rest = url.rpartition("/")
    _, sep, query = rest.partition("?")
    return f"{base}/{name}{sep}{query}"


def database_create(url: str, name: str) -> str:
    """Create the empty database `<url's database>_<name>_<random>` on url's server; returns its URL."""
    admin, base_name = _admin(url)
    fresh = f"{base_name}_{name}_{secrets.token_hex(3)}".lower()[:63]
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{fresh}"')
    admin.close()
    return _with_name(url, fresh)


def database_drop(url: str) -> None:
    """Drop a benchmark database (its name must say it is one), closing whatever is still connected to it."""
    admin, name = _admin(url)
    if "bench" not in name:
        raise BenchmarkError(f"refusing to drop {name!r}: a benchmark database's name contains 'bench'")
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _teardown(url: str) -> None:
    name = url.rpartition("/")[2].partition("?")[0]
    if os.environ.get("COS_BENCH_KEEP") == "1":
        print(f"(COS_BENCH_KEEP=1: the database {name} is kept; drop it when done)", file=sys.stderr)
        return
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # noqa: BLE001 - Django may not be set up yet; the drop closes connections anyway
        pass
    try:
        database_drop(url)
    except Exception as exc:  # noqa: BLE001 - say so, and leave the exit code to the benchmark's outcome
        print(f"could not drop the benchmark database {name}: {exc}", file=sys.stderr)


def _terminate(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds: servers and workers stop in their `finally`, atexit drops the database


def _main_module_name() -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        return spec.name.rpartition(".")[2]
    return Path(sys.argv[0]).stem or "bench"


def django_setup(*, broker: str | None = None, name: str | None = None) -> None:
    """Configure Django for a benchmark on a fresh database: no DEBUG (no query log), migrated, dropped at exit.

    The database is `<DATABASE_URL's name>_<name>_<random>` on DATABASE_URL's server (name: the benchmark module's),
    created here and put into os.environ's DATABASE_URL, so servers and workers started from here use it too; it is
    dropped at exit, on Ctrl-C and on SIGTERM (COS_BENCH_KEEP=1 keeps it). Without `broker`, event handlers are
    queued in memory and never run: the benchmark times the service itself (in production its side effects run on
    Celery workers). With it, tasks go to that broker (one from redis_url_from_env).
    """
    sys.path.insert(0, str(ROOT))
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise BenchmarkError(
            "benchmarks run on PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/cos_bench"
        )
    if "bench" not in url.rpartition("/")[2].partition("?")[0]:
        raise BenchmarkError("DATABASE_URL's database name must contain 'bench' (the benchmarks drop what they make)")
    os.environ["DEBUG"] = "false"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    if broker:
        os.environ["REDIS_URL"] = broker
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cos.settings")
    fresh = database_create(url, name or _main_module_name())
    atexit.register(_teardown, fresh)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _terminate)
    os.environ["DATABASE_URL"] = fresh
    fate = "kept (COS_BENCH_KEEP=1)" if os.environ.get("COS_BENCH_KEEP") == "1" else "dropped at exit"
    print(f"(database {fresh.rpartition('/')[2]}, {fate})", flush=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- a real Celery worker ------------------------------------------------------------------------


def celery_worker_start(*, broker: str, concurrency: int = 2, env: dict | None = None) -> subprocess.Popen:
    """A Celery worker of `concurrency` processes on `broker` (flushed first), answering before this returns.

    Its database connections persist between tasks (DB_CONN_MAX_AGE=60), as a production worker's do.
    """
    from cos.celery import app

    others = app.control.ping(timeout=0.5)
    if others:
        names = ", ".join(name for reply in others for name in reply)
        raise BenchmarkError(
            f"a Celery worker already listens on {broker} ({names}): it would take the benchmark's tasks"
        )
    redis_flush(broker)
    node = f"bench-{secrets.token_hex(3)}@%h"
    worker = subprocess.Popen(
        [str(ROOT / ".venv/bin/celery"), "-A", "cos", "worker", "-l", "WARNING", "-c", str(concurrency), "-n", node],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,  # the banner; warnings and errors go to stderr
        env={
            **os.environ,
            "DEBUG": "false",
            "REDIS_URL": broker,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "DB_CONN_MAX_AGE": os.environ.get("DB_CONN_MAX_AGE", "60"),
            **(env or {}),
        },
    )
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        if worker.poll() is not None or time.monotonic() > deadline:
            process_stop(worker)
            raise BenchmarkError("the Celery worker did not start")
    return worker


def process_stop(process: subprocess.Popen, timeout: float = 60) -> None:
    """Terminate a server or worker this benchmark started, and wait for it (killed if it does not stop)."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def celery_worker_stop(worker: subprocess.Popen, broker: str) -> None:
    process_stop(worker)
    redis_flush(broker)


# --- timing and verdicts -------------------------------------------------------------------------


def wait_until(query: Callable, what: str, *, timeout: float = 60, interval: float = 0.01):
    """Poll `query` until it returns something other than None or False. The figures come from the database's
    timestamps, not from when this notices, so the interval only sets how much the polling loads the machine."""
    deadline = time.monotonic() + timeout
    while (found := query()) is None or found is False:
        if time.monotonic() > deadline:
            raise BenchmarkError(f"no answer within {timeout:g} s: {what}")
        time.sleep(interval)
    return found


def events_settle(event) -> None:
    """Until every handler run of `event` and of the events after it is done: what one measured step set off
    (e.g. billing's first invoice after an activation) does not overlap the next step."""
    from cos.models import HandlerRun

    pending = HandlerRun.objects.filter(event_id__gte=event.pk, status="pending")
    wait_until(lambda: not pending.exists(), f"the handlers set off by {event.name}")


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
    """PASS or MISS for one target, remembered for the exit code."""
    _verdicts.append(bool(ok))
    return "PASS" if ok else "MISS"


def run(main: Callable) -> None:
    """Run a benchmark's main() and exit: 0 when every target passed, 1 when one was missed, 2 on an error."""
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except BenchmarkError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            print(f"ERROR: {exc.code}" if isinstance(exc.code, str) else f"ERROR: exit {exc.code}", file=sys.stderr)
            sys.exit(exc.code if isinstance(exc.code, int) and exc.code > EXIT_ERROR else EXIT_ERROR)
    except Exception:  # noqa: BLE001 - any failure to measure is an error, reported with its traceback
        traceback.print_exc()
        sys.exit(EXIT_ERROR)
    if not _verdicts:
        print("ERROR: the benchmark judged no target", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    sys.exit(0 if all(_verdicts) else EXIT_MISS)


# --- memory -----------------------------------------------------------------------------------------------------


def peak_reset() -> bool:
    """Reset the process's peak resident set (Linux); False where it cannot be reset."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def memory_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) in MB; getrusage's lifetime peak elsewhere."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
