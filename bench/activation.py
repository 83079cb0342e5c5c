"""Benchmark: 1,000 activations through a real Celery worker (Redis) against the simulator over HTTP.

From the technician's trigger (the committed `workorder.provisioning_requested` event) to
`service.activated`: throughput and p50/p95. Baselines measured in the same run: the round trip of a
near-no-op event handler through the same outbox and worker, and the simulator's own answer time
(activate plus read back). Target: p50 <= 4 x the no-op round trip + the simulator's time.
"""

import os
import subprocess
import time
from datetime import date
from decimal import Decimal

from bench.common import ROOT, django_setup, ms, percentile, verdict

COUNT = int(os.environ.get("COS_BENCH_ACTIVATIONS", "1000"))
BROKER = os.environ.get("COS_BENCH_ACTIVATION_REDIS_URL", "redis://127.0.0.1:6379/13")


def _world(count: int):
    """`count` connected addresses, each with an accepted internet order, a pending service and a bound ONT."""
    from django.utils import timezone

    from cos.models import OLT, ONT, AddressObject, Area, Customer, Organization, PonPort
    from marketplace.models import ContractTerm, Marketplace, Order, OrderLine, Price, Product, Subscription
    from provisioning.models import ServiceInstance

    now = timezone.now()
    area, _ = Area.objects.get_or_create(code="BACT", defaults={"name": "Activation benchmark"})
    provider, _ = Organization.objects.get_or_create(
        slug="bench-act", defaults={"name": "Bench", "kind": "service_provider"}
    )
    marketplace, _ = Marketplace.objects.get_or_create(
        slug="bench-act",
        defaults={"name": "Bench act", "segment": "residential", "currency": "SEK", "tax_rate": Decimal("0.25")},
    )
    term, _ = ContractTerm.objects.get_or_create(provider=provider, name="none")
    product, _ = Product.objects.get_or_create(
        provider=provider,
        name="Bench 1000",
        defaults={
            "category": "internet",
            "download_mbps": 1000,
            "upload_mbps": 1000,
            "service_profile": "HSI_1000",
            "term": term,
        },
    )
    price, _ = Price.objects.get_or_create(
        product=product,
        marketplace=marketplace,
        defaults={"monthly_amount": Decimal("399"), "currency": "SEK", "valid_from": date(2026, 1, 1)},
    )
    olt, _ = OLT.objects.get_or_create(
        name="OLT-BENCH", defaults={"vendor": "adtran", "model": "x", "management_host": "sim"}
    )
    port, _ = PonPort.objects.get_or_create(olt=olt, slot=1, port=1)
    customer, _ = Customer.objects.get_or_create(
        email="bench@bench.example",
        defaults={
            "customer_type": "residential",
            "first_name": "B",
            "last_name": "C",
            "billing_street": "x",
            "billing_postal_code": "1",
            "billing_city": "x",
        },
    )
    run = int(time.time())
    addresses = AddressObject.objects.bulk_create(
        [
            AddressObject(
                external_id=f"BACT-{run}-{i}",
                street="Aktivgatan",
                house_number=i + 1,
                postal_code="11111",
                city="Benchby",
                building_type="single_family",
                area=area,
                status="connected",
            )
            for i in range(count)
        ]
    )
    orders = Order.objects.bulk_create(
        [
            Order(
                customer=customer,
                address=a,
                marketplace=marketplace,
                provider=provider,
                status="accepted",
                channel="api",
            )
            for a in addresses
        ]
    )
    lines = OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=o,
                product=product,
                category="internet",
                price=price,
                monthly_amount=price.monthly_amount,
                start_fee=0,
                currency="SEK",
                minimum_months=0,
                notice_days=30,
            )
            for o in orders
        ]
    )
    subscriptions = Subscription.objects.bulk_create(
        [
            Subscription(
                customer=customer,
                address=line.order.address,
                marketplace=marketplace,
                provider=provider,
                order_line=line,
                product=product,
                category="internet",
                monthly_amount=price.monthly_amount,
                start_fee=0,
                currency="SEK",
                minimum_months=0,
                notice_days=30,
                billing_cycle="monthly",
            )
            for line in lines
        ]
    )
    ServiceInstance.objects.bulk_create(
        [
            ServiceInstance(
                subscription=s,
                address=s.address,
                provider=provider,
                service_profile="HSI_1000",
                download_mbps=1000,
                upload_mbps=1000,
            )
            for s in subscriptions
        ]
    )
    ONT.objects.bulk_create(
        [
            ONT(
                serial=f"ADTN{(run * 4096 + i) % 0xFFFFFFFF:08X}",
                vendor="adtran",
                model="x",
                pon_port=port,
                address=a,
                bound_at=now,
            )
            for i, a in enumerate(addresses)
        ]
    )
    return addresses


def main() -> dict:
    django_setup(broker=BROKER)
    import redis
    import requests
    from django.db import transaction

    from cos import events
    from cos.models import Event, HandlerRun
    from provisioning.adapters import ServiceSpec
    from provisioning.adapters.adtran import AdtranAdapter
    from provisioning.simulator import Simulator

    redis.Redis.from_url(BROKER).flushdb()
    sim = Simulator(0, auto_discover=True).start()
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "bench",
        "REDIS_URL": BROKER,
        "PROVISIONING_ADTRAN_URL": f"{sim.url}/adtran",
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    worker = subprocess.Popen(
        [str(ROOT / ".venv/bin/celery"), "-A", "cos", "worker", "-l", "WARNING", "-c", "2"], cwd=ROOT, env=env
    )
    try:
        addresses = _world(COUNT)
        time.sleep(3)  # let the worker connect before the clock starts
        # baseline 1: a near-no-op handler (address.connected for an address with no work order) round trip
        noop = []
        for address in addresses[:50]:
            with transaction.atomic():
                event = events.publish("address.connected", address_id=address.pk, area_id=address.area_id)
            deadline = time.monotonic() + 30
            while not HandlerRun.objects.filter(event=event, status="succeeded").exists():
                if time.monotonic() > deadline:
                    raise SystemExit("the worker did not answer")
                time.sleep(0.005)
            run = HandlerRun.objects.filter(event=event).order_by("-finished_at").first()
            noop.append((run.finished_at - event.created_at).total_seconds())
        # baseline 2: the simulator's own activate + read back
        adapter, sim_times = AdtranAdapter(base_url=f"{sim.url}/adtran", api_key="k", tenant="t", timeout=5), []
        for i in range(50):
            spec = ServiceSpec(f"probe-{i}", "ADTNFFFF0000", "HSI_1000", 1000, 1000, 100)
            start = time.perf_counter()
            adapter.activate(spec)
            adapter.read_state(spec.ont_serial)
            sim_times.append(time.perf_counter() - start)
        # latency: activations one at a time (no backlog)
        paced = []
        for address in addresses[:50]:
            with transaction.atomic():
                event = events.publish(
                    "workorder.provisioning_requested", address_id=address.pk, work_order_id=0, task_id=0
                )
            deadline = time.monotonic() + 60
            while not (done := Event.objects.filter(name="service.activated", payload__address_id=address.pk).first()):
                if time.monotonic() > deadline:
                    raise SystemExit("an activation did not finish")
                time.sleep(0.005)
            paced.append((done.created_at - event.created_at).total_seconds())
        # throughput: the rest all at once
        burst = addresses[50:]
        start = time.perf_counter()
        requested = {}
        for address in burst:
            with transaction.atomic():
                event = events.publish(
                    "workorder.provisioning_requested", address_id=address.pk, work_order_id=0, task_id=0
                )
            requested[address.pk] = event.created_at
        deadline = time.monotonic() + 600
        while Event.objects.filter(name="service.activated", payload__address_id__in=list(requested)).count() < len(
            burst
        ):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - start
        latencies = [
            (e.created_at - requested[e.payload["address_id"]]).total_seconds()
            for e in Event.objects.filter(name="service.activated", payload__address_id__in=list(requested))
        ]
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        sim.stop()
        requests.Session().close()
    p50, p95 = percentile(paced, 50), percentile(paced, 95)
    base = percentile(noop, 50)
    sim_p50 = percentile(sim_times, 50)
    print(f"== {COUNT} activations through a real Celery worker (2 processes) against the simulator ==")
    print(
        f"burst: {len(latencies)} of {len(burst)} activated in {elapsed:.1f} s: "
        f"{len(latencies) / elapsed:.1f} activations/s (backlogged: p50 {ms(percentile(latencies, 50))}, "
        f"p95 {ms(percentile(latencies, 95))})"
    )
    print(f"one at a time: trigger -> service.activated  p50 {ms(p50)}  p95 {ms(p95)}")
    print(f"no-op handler round trip       p50 {ms(base)}  p95 {ms(percentile(noop, 95))}")
    print(f"simulator activate + read back p50 {ms(sim_p50)}")
    target = 4 * base + sim_p50
    print(
        f"target p50 <= 4 x round trip + simulator = {target * 1000:.1f} ms: {p50 * 1000:.1f} ms  "
        f"{verdict(p50 <= target and len(latencies) == COUNT)}"
    )
    return {"p50": p50, "p95": p95}


if __name__ == "__main__":
    main()
