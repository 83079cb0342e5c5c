"""Benchmark: activation -> first invoice through a real Celery worker (Redis), default 300 activations.

Each pending subscription is activated by the provisioning job on the worker (against the simulator, as in
bench/activation.py); billing's handler then issues the first invoice (start fee and the prorated rest of the month)
and finalizes it. One activation at a time: the time from the `service.activated` event to the invoice row, p50/p95.
Baseline measured in the same run, interleaved: the round trip of a near-no-op event handler through the same outbox
and worker. Both are measured as in bench/activation.py, from the event's timestamp to the result's, and each step
waits until what the previous one set off is done. Target: p50 <= 4 x the round trip, and one first invoice per
activation. A few activations and round trips warm the worker up first, on addresses of their own.
"""

import argparse
import os
import sys
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.activation import activation_wait, activation_world, noop_round_trip, simulator_start, trigger  # noqa: E402
from bench.common import (  # noqa: E402
    celery_worker_start,
    celery_worker_stop,
    django_setup,
    env_int,
    events_settle,
    ms,
    percentile,
    process_stop,
    redis_url_from_env,
    run,
    verdict,
    wait_until,
)

START_FEE = Decimal("495.00")
WARM = 5


def _first_invoice(event) -> tuple[float, float]:
    """Seconds from the event to the first invoice row, and to its finalization (numbered, issued)."""
    from billing.models import Invoice

    subscription_id = event.payload["subscription_id"]
    created, finalized = wait_until(
        lambda: (
            Invoice.objects.filter(lines__subscription_id=subscription_id, reason="activation")
            .exclude(finalized_at=None)
            .values_list("created_at", "finalized_at")
            .first()
        ),
        "the first invoice",
    )
    events_settle(event)  # its collection handler too, before the next measure
    return (created - event.created_at).total_seconds(), (finalized - event.created_at).total_seconds()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=env_int("COS_BENCH_FIRST_INVOICES", 300))
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database (as COS_BENCH_KEEP=1)")
    args = parser.parse_args(argv)
    if args.keep:
        os.environ["COS_BENCH_KEEP"] = "1"

    broker = redis_url_from_env("COS_BENCH_FIRST_INVOICE_REDIS_URL", "redis://127.0.0.1:6379/12")
    django_setup(broker=broker, name="first_invoice")
    from billing.models import Invoice, InvoiceLine

    addresses = activation_world(args.m + WARM, start_fee=START_FEE)
    simulator, adtran_url = simulator_start()
    worker = None
    try:
        worker = celery_worker_start(broker=broker, concurrency=2, env={"PROVISIONING_ADTRAN_URL": adtran_url})
        noop, created, finalized = [], [], []
        for i, address in enumerate(addresses):
            round_trip = noop_round_trip(address)
            first, final = _first_invoice(activation_wait(trigger(address), address))
            if i >= WARM:  # the first ones warm both worker processes up
                noop.append(round_trip)
                created.append(first)
                finalized.append(final)
        invoices = Invoice.objects.filter(reason="activation").count() - WARM
        kinds = sorted(set(InvoiceLine.objects.values_list("kind", flat=True)))
    finally:
        if worker is not None:
            celery_worker_stop(worker, broker)
        process_stop(simulator)
    p50, p95 = percentile(created, 50), percentile(created, 95)
    base = percentile(noop, 50)
    print(f"== {args.m} activations -> first invoice through a real Celery worker (2 processes, Redis) ==")
    print(f"{invoices} first invoices, finalized at once (lines: {', '.join(kinds)})")
    print(f"service.activated -> first invoice row   p50 {ms(p50)}  p95 {ms(p95)}")
    print(
        f"service.activated -> invoice finalized   p50 {ms(percentile(finalized, 50))}  "
        f"p95 {ms(percentile(finalized, 95))}"
    )
    print(f"no-op handler round trip (baseline)      p50 {ms(base)}  p95 {ms(percentile(noop, 95))}")
    print(f"ratio p50 / no-op round trip: {p50 / base:.1f}x")
    print(f"target p50 <= 4 x round trip = {4 * base * 1000:.1f} ms: {p50 * 1000:.1f} ms  {verdict(p50 <= 4 * base)}")
    print(f"target one first invoice per activation: {invoices} of {args.m}  {verdict(invoices == args.m)}")
    return {"p50": p50, "p95": p95, "noop": base}


if __name__ == "__main__":
    run(main)
