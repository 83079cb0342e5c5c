"""Benchmark: order placement through the provider API, served by gunicorn, 16 concurrent clients (wrk, loopback).

Baseline measured in the same run with the same server and load: the trivial authenticated
endpoint GET /api/v1/me/. Every order is valid (its own connected address), so the server does
the whole job: idempotency check, address lock, validation, order, line, customer, events.
Targets: >= 250 orders/s, p95 <= 100 ms, zero errors.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import ROOT, django_setup, verdict

PORT = 8123
CONNECTIONS = 16
THREADS = 4
SECONDS = 15
WORKERS = int(os.environ.get("COS_BENCH_WORKERS", "3"))
BROKER = os.environ.get("COS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def _wrk(script: Path, path: str, env: dict) -> dict:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(THREADS),
            "-c",
            str(CONNECTIONS),
            "-d",
            f"{SECONDS}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            f"http://127.0.0.1:{PORT}{path}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=SECONDS + 60,
        check=True,
    ).stdout
    reported = " ".join(line for line in out.splitlines() if line.startswith("COS"))
    figures = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", reported)}
    figures["rate"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def _wait_for_port() -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", PORT)) == 0:
                return
        time.sleep(0.2)
    sys.exit("gunicorn did not start")


def main() -> dict:
    if shutil.which("wrk") is None:
        sys.exit("the order API benchmark needs wrk (apt-get install wrk)")
    django_setup()
    from django.contrib.auth import get_user_model

    from bench import address_search
    from bench.marketplace_world import marketplace_world
    from cos.models import AddressObject
    from cos.services import api_token_rotate, membership_grant
    from marketplace.models import Price

    address_search._load()
    marketplaces, providers, products = marketplace_world()
    provider, marketplace = providers[0], marketplaces[0]
    product = next(p for p in products[provider.pk] if p.category == "internet")
    price = Price.objects.get(product=product, marketplace=marketplace)
    user, _ = get_user_model().objects.get_or_create(username="bench-api")
    membership_grant(user=user, organization=provider, role="api")
    _, key = api_token_rotate(user=user, name="bench")  # a key is only known when issued: a new one per run
    free = (
        AddressObject.objects.filter(external_id__startswith="BSRCH-", orders__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:30000]
    )
    ids_file = Path(tempfile.mkstemp(prefix="cos-bench-ids-")[1])
    ids_file.write_text("\n".join(str(pk) for pk in free) + "\n")

    server_env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "bench",
        "REDIS_URL": BROKER,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DB_CONN_MAX_AGE": "60",
    }
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "cos.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            str(WORKERS),
            "--backlog",
            "64",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=server_env,
    )
    try:
        _wait_for_port()
        env = {
            "COS_BENCH_IDS": str(ids_file),
            "COS_BENCH_THREADS": str(THREADS),
            "COS_BENCH_TOKEN": key,
            "COS_BENCH_MARKETPLACE": str(marketplace.pk),
            "COS_BENCH_PRODUCT": str(product.pk),
            "COS_BENCH_AMOUNT": str(price.monthly_amount),
            "COS_BENCH_RUN": uuid.uuid4().hex[:8],
        }
        baseline = _wrk(ROOT / "bench/get_auth.lua", "/api/v1/me/", env)
        orders = _wrk(ROOT / "bench/order_post.lua", "/api/v1/orders/", env)
    finally:
        server.terminate()
        server.wait(timeout=30)
        ids_file.unlink(missing_ok=True)
        import redis

        redis.Redis.from_url(BROKER).flushdb()

    print(
        f"== order placement via the API: gunicorn ({WORKERS} sync workers), {CONNECTIONS} clients, {SECONDS} s each =="
    )
    for name, f in (("GET /api/v1/me/ (baseline)", baseline), ("POST /api/v1/orders/", orders)):
        print(
            f"{name:<28} {f['rate']:8.1f} req/s  p50 {f['p50_us'] / 1000:7.1f} ms  p95 {f['p95_us'] / 1000:7.1f} ms  "
            f"non-2xx {f['non2xx']}  socket errors {f['socket_errors']}"
        )
    print(f"orders/s as a share of the baseline's requests/s: {orders['rate'] / baseline['rate']:.2f}")
    ok_rate, ok_p95 = orders["rate"] >= 250, orders["p95_us"] <= 100_000
    ok_errors = orders["non2xx"] == 0 and orders["socket_errors"] == 0
    print(f"target >= 250 orders/s: {orders['rate']:.0f}  {verdict(ok_rate)}")
    print(f"target p95 <= 100 ms: {orders['p95_us'] / 1000:.1f} ms  {verdict(ok_p95)}")
    print(f"target zero errors: {orders['non2xx'] + orders['socket_errors']}  {verdict(ok_errors)}")
    return orders


if __name__ == "__main__":
    main()
