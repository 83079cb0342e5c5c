"""Benchmark: activation -> first invoice through a real Celery worker (Redis), default 300 activations.

Each pending subscription (committed beforehand, with its service being provisioned) is made active the way the
provisioning job does on a verified activation (service and subscription transitions and `service.activated`, in one
transaction); billing's handler then issues the first invoice (start fee and the prorated rest of the month) and
finalizes it. One activation at a time: the time from the event to the invoice row, p50/p95. Baseline measured in
the same run, interleaved: the round trip of a near-no-op event handler through the same outbox and worker. Both are
measured as in bench/activation.py, from the event's timestamp to the result's. Target: p50 <= 4 x the round trip.
Runs in a database of its own (`<DATABASE_URL's name>_first_invoice`), dropped at the end.
"""

import argparse
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.billing_run import dedicated_setup, dedicated_teardown, worker_start, worker_stop  # noqa: E402
from bench.common import ms, percentile, verdict  # noqa: E402

BROKER = os.environ.get("COS_BENCH_FIRST_INVOICE_REDIS_URL", "redis://127.0.0.1:6379/12")
START_FEE = Decimal("495.00")


def _wait(query, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while (found := query()) is None:
        if time.monotonic() > deadline:
            raise SystemExit(f"the worker did not answer: {what}")
        time.sleep(0.002)
    return found


def _noop_round_trip(address) -> float:
    """`address.connected` for an address without a work order: its handler finds nothing to do."""
    from django.db import transaction

    from cos import events
    from cos.models import HandlerRun

    with transaction.atomic():
        event = events.publish("address.connected", address_id=address.pk, area_id=address.area_id)
    finished = _wait(
        lambda: (
            HandlerRun.objects.filter(event=event, status="succeeded").values_list("finished_at", flat=True).first()
        ),
        "no-op handler",
    )
    return (finished - event.created_at).total_seconds()


def _activate(service_id: int):
    """What the provisioning job does once the device reads back the contract: service and subscription active."""
    from django.db import transaction
    from django.utils import timezone

    from cos import events
    from cos.fsm import transition_apply
    from provisioning.models import ServiceInstance

    with transaction.atomic():
        service = ServiceInstance.objects.select_for_update().select_related("subscription").get(pk=service_id)
        at = timezone.now()
        transition_apply(service, "activate", at=at)
        service.save()
        subscription = service.subscription
        transition_apply(subscription, "activate", at=at, reason="service verified active on the network")
        subscription.save(update_fields=["status", "activated_at", "updated_at"])
        return events.publish(
            "service.activated",
            activated_at=at,
            address_id=service.address_id,
            service_id=service.pk,
            subscription_id=subscription.pk,
            provider_id=service.provider_id,
        )


def _first_invoice(event) -> tuple[float, float]:
    """Seconds from the event to the first invoice row, and to its finalization (numbered, issued)."""
    from billing.models import Invoice

    subscription_id = event.payload["subscription_id"]
    created, finalized = _wait(
        lambda: (
            Invoice.objects.filter(lines__subscription_id=subscription_id, reason="activation")
            .exclude(finalized_at=None)
            .values_list("created_at", "finalized_at")
            .first()
        ),
        "first invoice",
    )
    return (created - event.created_at).total_seconds(), (finalized - event.created_at).total_seconds()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=int(os.environ.get("COS_BENCH_FIRST_INVOICES", "300")))
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database for a look afterwards")
    args = parser.parse_args(argv)

    url = dedicated_setup(suffix="first_invoice", broker=BROKER)
    from bench.activation import _world
    from billing.models import Invoice, InvoiceLine
    from marketplace.models import Subscription
    from provisioning.models import ServiceInstance

    worker = None
    try:
        addresses = _world(args.m)
        Subscription.objects.update(start_fee=START_FEE)
        ServiceInstance.objects.update(status="provisioning")  # the job has claimed them
        services = list(ServiceInstance.objects.order_by("address_id").values_list("pk", flat=True))
        worker = worker_start(broker=BROKER, concurrency=2)
        for address in addresses[:5]:  # warm both worker processes (connections, imports)
            _noop_round_trip(address)
        noop, created, finalized = [], [], []
        for address, service_id in zip(addresses, services, strict=True):
            noop.append(_noop_round_trip(address))
            first, final = _first_invoice(_activate(service_id))
            created.append(first)
            finalized.append(final)
        invoices = Invoice.objects.filter(reason="activation").count()
        kinds = sorted(set(InvoiceLine.objects.values_list("kind", flat=True)))
    finally:
        if worker is not None:
            worker_stop(worker, BROKER)
        if not args.keep:
            dedicated_teardown(url)
    p50, p95 = percentile(created, 50), percentile(created, 95)
    base = percentile(noop, 50)
    print(f"== {args.m} activations -> first invoice through a real Celery worker (2 processes, Redis) ==")
    print(f"{invoices} first invoices, finalized at once (lines: {', '.join(kinds)})")
    print(f"service.activated -> first invoice row   p50 {ms(p50)}  p95 {ms(p95)}")
    print(
        f"service.activated -> invoice finalized   p50 {ms(percentile(finalized, 50))}  "
        f"p95 {ms(percentile(finalized, 95))}"
    )
    print(f"no-op handler round trip                 p50 {ms(base)}  p95 {ms(percentile(noop, 95))}")
    print(
        f"target p50 <= 4 x round trip = {4 * base * 1000:.1f} ms: {p50 * 1000:.1f} ms ({p50 / base:.1f}x)  "
        f"{verdict(p50 <= 4 * base and invoices == args.m)}"
    )
    return {"p50": p50, "p95": p95, "noop": base}


if __name__ == "__main__":
    main()
