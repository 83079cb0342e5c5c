"""Benchmark: 1,000 activations through a real Celery worker (Redis) against the simulator over HTTP.

From the technician's trigger (the committed `workorder.provisioning_requested` event) to `service.activated`:
latency one at a time (p50/p95) and throughput in a burst. An activation is two trips through the outbox and the
worker (the event's handler makes the job; the job runs on the worker: claim, the vendor's activate and read back,
the verified outcome). Baselines measured in the same run, interleaved with the activations: the round trip of a
near-no-op event handler through the same outbox and worker (from the event to the handler's outcome saved), and
the simulator's own answer time (activate plus read back). Target: p50 <= 4 x the no-op round trip + the
simulator's time, and every activation of the burst done.

"One at a time" waits until everything the previous activation set off (billing's first invoice) is done, so an
activation's latency does not include another's work. The simulator runs in a process of its own (as a device is
remote), the worker keeps its database connections (as a production worker does), and the figures come from the
database's timestamps, not from when the benchmark notices them.
"""

import subprocess
import sys
import time
from contextlib import suppress
from datetime import date
from decimal import Decimal

from bench.common import (
    ROOT,
    BenchmarkError,
    celery_worker_start,
    celery_worker_stop,
    django_setup,
    env_int,
    events_settle,
    ms,
    percentile,
    port_from_env,
    port_wait,
    process_stop,
    redis_url_from_env,
    run,
    verdict,
    wait_until,
)

COUNT = env_int("COS_BENCH_ACTIVATIONS", 1000)
PACED = min(100, COUNT // 2)  # one at a time; the rest is the burst
WARM = 10  # warm-up activations and round trips, on addresses of their own


def activation_world(count: int, *, start_fee: Decimal = Decimal("0")):
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
                start_fee=start_fee,
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


def noop_round_trip(address) -> float:
    """Seconds from `address.connected` (for an address without a work order: its handler finds nothing to do) to
    its handler's outcome saved: one trip through the outbox and the worker."""
    from django.db import transaction

    from cos import events
    from cos.models import HandlerRun

    with transaction.atomic():
        event = events.publish("address.connected", address_id=address.pk, area_id=address.area_id)
    done = wait_until(
        lambda: HandlerRun.objects.filter(event=event, status="succeeded").values_list("updated_at", flat=True).first(),
        "the no-op handler",
    )
    return (done - event.created_at).total_seconds()


def trigger(address):
    """The technician's trigger at `address`, committed: the worker activates its pending service."""
    from django.db import transaction

    from cos import events

    with transaction.atomic():
        return events.publish("workorder.provisioning_requested", address_id=address.pk, work_order_id=0, task_id=0)


def activation_wait(event, address):
    """The `service.activated` event that follows the trigger `event` at `address`."""
    from cos.models import Event

    return wait_until(
        lambda: Event.objects.filter(pk__gt=event.pk, name="service.activated", payload__address_id=address.pk).first(),
        "an activation",
    )


def _activation_alone(address) -> tuple[float, list[float]]:
    """One activation: seconds from the trigger to `service.activated`, and the stages on the way (from the trigger:
    the handler's outcome saved, the job made, claimed, verified, the event)."""
    from cos.models import HandlerRun
    from provisioning.models import ProvisioningJob

    event = trigger(address)
    done = activation_wait(event, address)
    events_settle(event)  # alone: what it set off (billing's first invoice) is done before the next one starts
    handled = HandlerRun.objects.filter(event=event).values_list("updated_at", flat=True).first()
    job = ProvisioningJob.objects.filter(requested_by_event=event).values("created_at", "started_at", "finished_at")[0]
    stages = [handled, job["created_at"], job["started_at"], job["finished_at"], done.created_at]
    seconds = (done.created_at - event.created_at).total_seconds()
    return seconds, [(t - event.created_at).total_seconds() for t in stages]


def simulator_start() -> tuple[subprocess.Popen, str]:
    """The element-manager simulator in a process of its own (port COS_BENCH_SIMULATOR_PORT, else a free one),
    answering; returns the process and the Adtran API's URL."""
    port = port_from_env("COS_BENCH_SIMULATOR_PORT")
    command = [sys.executable, "manage.py", "run_olt_simulator", "--port", str(port), "--auto-discover"]
    simulator = subprocess.Popen([*command, "--no-inventory"], cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        port_wait(port, simulator, "the simulator")
    except BenchmarkError:
        process_stop(simulator)
        raise
    return simulator, f"http://127.0.0.1:{port}/adtran"


def _simulator_round_trip(adapter, i: int) -> float:
    from provisioning.adapters import ServiceSpec

    spec = ServiceSpec(f"probe-{i}", "ADTNFFFF0000", "HSI_1000", 1000, 1000, 100)
    start = time.perf_counter()
    adapter.activate(spec)
    adapter.read_state(spec.ont_serial)
    return time.perf_counter() - start


def main() -> dict:
    broker = redis_url_from_env("COS_BENCH_ACTIVATION_REDIS_URL", "redis://127.0.0.1:6379/13")
    django_setup(broker=broker, name="activation")
    from cos.models import Event
    from provisioning.adapters.adtran import AdtranAdapter

    addresses = activation_world(COUNT + WARM)
    warm, addresses = addresses[:WARM], addresses[WARM:]
    simulator, adtran_url = simulator_start()
    worker = None
    try:
        worker = celery_worker_start(broker=broker, concurrency=2, env={"PROVISIONING_ADTRAN_URL": adtran_url})
        adapter = AdtranAdapter(base_url=adtran_url, api_key="k", tenant="t", timeout=5)
        for i, address in enumerate(warm):  # warm-up: both worker processes, the simulator, the database's caches
            noop_round_trip(address)
            _activation_alone(address)
            _simulator_round_trip(adapter, i)
        sim_times = [_simulator_round_trip(adapter, i) for i in range(50)]
        noop, paced, stages = [], [], []
        for address in addresses[:PACED]:  # the baseline interleaved with what it is the baseline of
            noop.append(noop_round_trip(address))
            seconds, steps = _activation_alone(address)
            paced.append(seconds)
            stages.append(steps)
        burst = addresses[PACED:]
        mark = Event.objects.order_by("-pk").values_list("pk", flat=True)[0]
        requested = {address.pk: trigger(address).created_at for address in burst}
        activated = Event.objects.filter(pk__gt=mark, name="service.activated")
        with suppress(BenchmarkError):  # judged below: not every activation was done
            wait_until(lambda: activated.count() >= len(burst), "the burst", timeout=600, interval=0.2)
        done = {e.payload["address_id"]: e.created_at for e in activated if e.payload["address_id"] in requested}
    finally:
        if worker is not None:
            celery_worker_stop(worker, broker)
        process_stop(simulator)
    latencies = [(done[pk] - requested[pk]).total_seconds() for pk in done]
    elapsed = (max(done.values()) - min(requested.values())).total_seconds() if done else float("inf")
    p50, p95 = percentile(paced, 50), percentile(paced, 95)
    base, sim_p50 = percentile(noop, 50), percentile(sim_times, 50)
    print(f"== {COUNT} activations through a real Celery worker (2 processes) against the simulator ==")
    print(
        f"burst: {len(done)} of {len(burst)} activated in {elapsed:.1f} s: {len(done) / elapsed:.1f} activations/s"
        + (f" (backlogged: p50 {ms(percentile(latencies, 50))}, p95 {ms(percentile(latencies, 95))})" if done else "")
    )
    print(f"one at a time ({PACED}): trigger -> service.activated  p50 {ms(p50)}  p95 {ms(p95)}")
    print(f"no-op handler round trip (baseline)  p50 {ms(base)}  p95 {ms(percentile(noop, 95))}")
    print(f"simulator activate + read back       p50 {ms(sim_p50)}  p95 {ms(percentile(sim_times, 95))}")
    names = ("handler done", "job made", "job claimed", "job verified", "service.activated")
    medians = [percentile([s[i] for s in stages], 50) * 1000 for i in range(len(names))]
    print(
        "where the time goes (medians, ms from the trigger): "
        + ", ".join(f"{n} {m:.1f}" for n, m in zip(names, medians, strict=True))
    )
    target = 4 * base + sim_p50
    print(f"ratio p50 / no-op round trip: {p50 / base:.1f}x")
    print(
        f"target p50 <= 4 x round trip + simulator = {target * 1000:.1f} ms: {p50 * 1000:.1f} ms  "
        f"{verdict(p50 <= target)}"
    )
    print(f"target every activation of the burst done: {len(done)} of {len(burst)}  {verdict(len(done) == len(burst))}")
    return {"p50": p50, "p95": p95, "noop": base, "simulator": sim_p50}


if __name__ == "__main__":
    run(main)
