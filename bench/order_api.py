"""Benchmark: order placement through the provider API, served by gunicorn, 16 concurrent clients (wrk, loopback).

Every order is valid (its own connected address among the 1,000,000 of bench/address_search.py), so the server does
the whole job: authentication, idempotency check, address lock, validation, customer, order, line, events. Baseline
measured in the same run with the same server and load, interleaved round by round: the trivial authenticated
endpoint GET /api/v1/me/. Both are warmed up first (a few seconds of each, the orders on throwaway addresses), and
the database is a fresh one, so runs are comparable.

Two phases: the provider with 1,000 customers, then with 100,000 (customers with an order of the provider, loaded
in bulk between the phases); each phase is ROUNDS rounds of /me/ then orders, SECONDS each.
Targets: >= 250 orders/s (median of the rounds at 1,000 customers), p95 <= 100 ms (median of those rounds), zero
errors, never below 150 orders/s in any round; at 100,000 customers within 10 % of the throughput at 1,000, each
taken as a share of its own rounds' baseline (the machine's other load moves both alike).
"""

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import uuid
from pathlib import Path

from bench.common import (
    ROOT,
    BenchmarkError,
    django_setup,
    env_int,
    port_from_env,
    port_wait,
    process_stop,
    redis_flush,
    redis_url_from_env,
    run,
    verdict,
)

CONNECTIONS = 16
THREADS = 4
SECONDS = env_int("COS_BENCH_ORDER_SECONDS", 10)
ROUNDS = env_int("COS_BENCH_ORDER_ROUNDS", 3)
WARM_SECONDS = 5
WORKERS = env_int("COS_BENCH_GUNICORN_WORKERS", 3)
MAX_RATE = 2_000  # orders/s the address slices are sized for (a thread that runs out stops, and the run errs)
CUSTOMERS = (1_000, 100_000)


class _Wrk:
    """wrk against one server, with the environment its scripts read; each orders call gets fresh addresses."""

    def __init__(self, port: int, env: dict, addresses: list[int]):
        self.port, self.env, self.addresses, self.files = port, env, iter(addresses), []
        self.answered = 0  # 2xx answers to orders, warm-up included

    def _call(self, script: str, path: str, seconds: int, env: dict) -> dict:
        out = subprocess.run(
            ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--timeout", "5s"]
            + ["-s", str(ROOT / "bench" / script), f"http://127.0.0.1:{self.port}{path}"],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env, **env},
            timeout=seconds + 60,
            check=True,
        ).stdout
        reported = " ".join(line for line in out.splitlines() if line.startswith("COS"))
        figures = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", reported)}
        if "requests" not in figures:
            raise BenchmarkError(f"wrk reported no figures: {out[-500:]}")
        if figures.get("exhausted"):
            raise BenchmarkError(
                f"wrk ran out of addresses ({MAX_RATE} orders/s foreseen; {figures['requests']} requests, "
                f"{figures['non2xx']} not 2xx)"
            )
        figures["rate"] = figures["requests"] / (figures["duration_us"] / 1e6)
        figures["errors"] = figures["non2xx"] + figures["socket_errors"]
        return figures

    def me(self, seconds: int = SECONDS) -> dict:
        return self._call("get_auth.lua", "/api/v1/me/", seconds, {})

    def orders(self, seconds: int = SECONDS) -> dict:
        ids = [next(self.addresses) for _ in range(seconds * MAX_RATE)]
        handle, name = tempfile.mkstemp(prefix="cos-bench-ids-")
        os.close(handle)
        self.files.append(Path(name))
        self.files[-1].write_text("\n".join(str(pk) for pk in ids) + "\n")
        figures = self._call(
            "order_post.lua", "/api/v1/orders/", seconds, {"COS_BENCH_IDS": name, "COS_BENCH_RUN": _key()}
        )
        self.answered += figures["requests"] - figures["non2xx"]
        return figures

    def probe(self) -> None:
        """One order by hand first: a refusal is shown as the server gave it, before wrk counts thousands."""
        import requests

        lua = (ROOT / "bench/order_post.lua").read_text()
        address, key = next(self.addresses), f"bench-probe-{_key()}"
        body = {
            "customer": {
                "customer_type": "residential",
                "first_name": "Bench",
                "last_name": "Customer",
                "email": f"{key}@bench.example",
                "billing_street": "Benchvägen 1",
                "billing_postal_code": "11111",
                "billing_city": "Benchby",
            },
            "address": address,
            "marketplace": int(self.env["COS_BENCH_MARKETPLACE"]),
            "lines": [
                {
                    "product": int(self.env["COS_BENCH_PRODUCT"]),
                    "monthly_amount": self.env["COS_BENCH_AMOUNT"],
                    "currency": "SEK",
                }
            ],
            "terms_accepted": True,
        }
        assert '"terms_accepted": true' in lua, "the probe sends what bench/order_post.lua sends"
        answer = requests.post(
            f"http://127.0.0.1:{self.port}/api/v1/orders/",
            json=body,
            headers={"Authorization": f"Token {self.env['COS_BENCH_TOKEN']}", "Idempotency-Key": key},
            timeout=30,
        )
        if answer.status_code != 201:
            raise BenchmarkError(f"an order was refused: {answer.status_code} {answer.text[:1000]}")

    def close(self) -> None:
        for path in self.files:
            path.unlink(missing_ok=True)


def _key() -> str:
    return uuid.uuid4().hex[:10]


def _customers_seed(*, provider, marketplace, addresses: list[int]) -> None:
    """One customer per address with a (completed) order of `provider` there: the provider's customer base."""
    from django.db import connection

    from cos.models import Customer
    from marketplace.models import Order

    run_key = _key()
    for start in range(0, len(addresses), 5_000):
        chunk = addresses[start : start + 5_000]
        customers = Customer.objects.bulk_create(
            [
                Customer(
                    customer_type="residential",
                    first_name="Seed",
                    last_name=f"Customer {start + i}",
                    email=f"seed-{run_key}-{start + i}@bench.example",
                    billing_street="Seedvägen 1",
                    billing_postal_code="11111",
                    billing_city="Benchby",
                )
                for i in range(len(chunk))
            ]
        )
        Order.objects.bulk_create(
            [
                Order(
                    customer=customer,
                    address_id=address_id,
                    marketplace=marketplace,
                    provider=provider,
                    status="completed",
                    channel="api",
                )
                for customer, address_id in zip(customers, chunk, strict=True)
            ]
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cos_customer")
        cursor.execute("ANALYZE marketplace_order")


def _provider_customers(provider) -> int:
    from cos.models import Customer

    return Customer.objects.filter(orders__provider=provider).distinct().count()


def _median(rounds: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def main() -> dict:
    if shutil.which("wrk") is None:
        raise BenchmarkError("the order API benchmark needs wrk (make bench installs it: apt-get install wrk)")
    broker = redis_url_from_env("COS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    django_setup(name="order_api")
    from django.contrib.auth import get_user_model

    from bench import address_search
    from bench.marketplace_world import marketplace_world
    from cos.models import AddressObject
    from cos.services import api_token_rotate, membership_grant
    from marketplace.models import Order, Price

    address_search.addresses_load()
    marketplaces, providers, products = marketplace_world()
    provider, marketplace = providers[0], marketplaces[0]
    product = next(p for p in products[provider.pk] if p.category == "internet")
    price = Price.objects.get(product=product, marketplace=marketplace)
    user, _ = get_user_model().objects.get_or_create(username="bench-api")
    membership_grant(user=user, organization=provider, role="api")
    _, key = api_token_rotate(user=user, name="bench")
    addresses = list(
        AddressObject.objects.filter(external_id__startswith="BSRCH-").order_by("pk").values_list("pk", flat=True)
    )
    seeds, free = addresses[-CUSTOMERS[-1] :], addresses[: -CUSTOMERS[-1]]
    _customers_seed(provider=provider, marketplace=marketplace, addresses=seeds[: CUSTOMERS[0]])

    port = port_from_env("COS_BENCH_PORT")
    redis_flush(broker)
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "cos.wsgi", "-b", f"127.0.0.1:{port}", "-w", str(WORKERS)]
        + ["--backlog", "64", "--log-level", "warning"],
        cwd=ROOT,
        env={
            **os.environ,
            "DEBUG": "false",
            "REDIS_URL": broker,  # the outbox enqueues on it; no worker takes the tasks (the server is measured)
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback, as from the proxy that ends TLS
            "API_RATE_LIMIT": "10000000/min",  # counted as in production (in Redis), never reached
            "DB_CONN_MAX_AGE": "60",
        },
    )
    wrk = _Wrk(
        port,
        {
            "COS_BENCH_THREADS": str(THREADS),
            "COS_BENCH_TOKEN": key,
            "COS_BENCH_MARKETPLACE": str(marketplace.pk),
            "COS_BENCH_PRODUCT": str(product.pk),
            "COS_BENCH_AMOUNT": str(price.monthly_amount),
        },
        free,
    )
    phases = []
    try:
        port_wait(port, server, "gunicorn")
        wrk.probe()
        for customers in CUSTOMERS:
            if customers > CUSTOMERS[0]:
                _customers_seed(provider=provider, marketplace=marketplace, addresses=seeds[CUSTOMERS[0] : customers])
            counted = _provider_customers(provider)
            wrk.me(WARM_SECONDS)  # warm-up: every gunicorn worker, both endpoints, the database's caches
            wrk.orders(WARM_SECONDS)
            rounds = [(wrk.me(), wrk.orders()) for _ in range(ROUNDS)]
            phases.append((customers, counted, rounds))
        placed = Order.objects.filter(placed_by=user).count()
    finally:
        process_stop(server)
        redis_flush(broker)
        wrk.close()

    print(
        f"== order placement via the API: gunicorn ({WORKERS} sync workers), {CONNECTIONS} clients, "
        f"{ROUNDS} rounds of {SECONDS} s per phase, after {WARM_SECONDS} s of warm-up at each endpoint =="
    )
    print(
        f"{'customers':>9} {'round':>5} {'GET /me/ req/s':>14} {'p95 ms':>7} {'POST orders/s':>13} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'errors':>6} {'ratio':>6}"
    )
    results = {}
    for customers, counted, rounds in phases:
        for i, (me, orders) in enumerate(rounds, 1):
            print(
                f"{counted:>9,} {i:>5} {me['rate']:>14.1f} {me['p95_us'] / 1000:>7.1f} {orders['rate']:>13.1f} "
                f"{orders['p50_us'] / 1000:>7.1f} {orders['p95_us'] / 1000:>7.1f} {orders['errors']:>6} "
                f"{orders['rate'] / me['rate']:>6.2f}"
            )
        me_rounds, order_rounds = [r[0] for r in rounds], [r[1] for r in rounds]
        results[customers] = {
            "rate": _median(order_rounds, "rate"),
            "p95_ms": _median(order_rounds, "p95_us") / 1000,
            "slowest": min(r["rate"] for r in order_rounds),
            "errors": sum(r["errors"] for r in order_rounds + me_rounds),
            "me_rate": _median(me_rounds, "rate"),
            # orders/s over the same round's /me/ requests/s: what the machine's other load does to both cancels out
            "share": statistics.median(orders["rate"] / me["rate"] for me, orders in rounds),
        }
        r = results[customers]
        print(
            f"{'median':>15} {r['me_rate']:>14.1f} {'':>7} {r['rate']:>13.1f} {'':>7} {r['p95_ms']:>7.1f} "
            f"{r['errors']:>6} {r['share']:>6.2f}"
        )
    small, large = results[CUSTOMERS[0]], results[CUSTOMERS[1]]
    slowest = min(r["slowest"] for r in results.values())
    errors = sum(r["errors"] for r in results.values())
    scaling = large["share"] / small["share"]
    print(f"orders/s as a share of the baseline's requests/s (median of the rounds): {small['share']:.2f}")
    print(f"target >= 250 orders/s: {small['rate']:.0f}  {verdict(small['rate'] >= 250)}")
    print(f"target p95 <= 100 ms: {small['p95_ms']:.1f} ms  {verdict(small['p95_ms'] <= 100)}")
    print(f"target zero errors: {errors}  {verdict(errors == 0)}")
    print(f"target never below 150 orders/s (slowest round): {slowest:.0f}  {verdict(slowest >= 150)}")
    print(
        f"target at {CUSTOMERS[1]:,} customers within 10 % of {CUSTOMERS[0]:,} (as shares of the same rounds' "
        f"baseline): {large['share']:.2f} vs {small['share']:.2f} ({scaling:.2f}x; raw {large['rate']:.0f} vs "
        f"{small['rate']:.0f} orders/s)  {verdict(scaling >= 0.9)}"
    )
    print(
        f"orders in the database: {placed:,}; 2xx answers counted by wrk: {wrk.answered:,} "
        "(a call's requests still in flight when it ends are not counted)"
    )
    return results


if __name__ == "__main__":
    run(main)
