"""Benchmark: the monthly billing run over N live subscriptions (PostgreSQL), default 100,000.

The data set is built with set-based SQL in a fresh database of the benchmark's own (bench.common.django_setup),
dropped at exit. Every schedule has `billed_until` = the run day (1 March), so all are due for March; February's
invoices (issued and paid, with their lines) are on the books, as they are when a run starts on the 1st. The mix:
one customer in four also has TV on the same account (one invoice, several lines); two marketplaces with different
tax rates; 10% activated in mid-February (their first invoice was prorated), 5% on the anniversary cycle; 15% on
promotions (50% off for three months, 100 off for six, one free month), those ending in March prorated; 10% upgraded
in February, 5% with a downgrade taking effect on the 1st; 1% paused (billed nothing); 1% terminated (not due).

The run is `billing_run` with every chunk billed by `billing_chunk` in this process, timed at N/10 and N; with
--workers W the same run again (after undoing the first) with its chunks sent through the outbox to W real Celery
worker processes on Redis. Baseline, measured in the same run after a warm-up: COPY of the run's own invoice and
line rows into temporary tables of the same shape (columns and indexes), the best of two.

Targets, at N:
- rows (invoices + lines) per second in one process >= 10% of COPY's;
- on two workers (--workers 2) >= 20% of COPY's;
- 1,000,000 subscriptions billed in <= 120 s on two workers: measured with --n 1000000, otherwise extrapolated from
  N (at least linearly: by the larger of 10x and the measured N/10 -> N growth per tenfold), and said so;
- memory flat in N: a run's peak above the process's resident set at its start grows < 3x for 10x the
  subscriptions (counted from 1 MB at least).

Environment (defaults):
- DATABASE_URL (required): the PostgreSQL server; the fresh database is `<its database name>_billing_<random>`, so
  the name must contain "bench" (e.g. postgres://postgres@127.0.0.1:5432/cos_bench);
- COS_BENCH_BILLING_DATABASE_URL (unset): a server and base name to use instead of DATABASE_URL's;
- COS_BENCH_BILLING_REDIS_URL (redis://127.0.0.1:6379/11): the workers' broker, a Redis database of the benchmark's
  own (flushed before and after; never the application's REDIS_URL);
- COS_BENCH_BILLING_N (100000), COS_BENCH_BILLING_WORKERS (0), COS_BENCH_BILLING_CHUNK (billing.runs.CHUNK_SIZE);
- COS_BENCH_KEEP=1 keeps the database for a look afterwards.
Exit status: 0 when every target passed, 1 when one was missed, 2 when the benchmark could not measure.
"""

import argparse
import gc
import io
import math
import os
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    celery_worker_start,
    celery_worker_stop,
    django_setup,
    env_int,
    memory_mb,
    peak_reset,
    redis_url_from_env,
    run,
    verdict,
    wait_until,
)

AS_OF = date(2026, 3, 1)
# internet 100/250/500/1000 and TV; a provider's prices differ a little from the other's
AMOUNTS = [Decimal(a) for a in ("299", "399", "499", "699", "199", "289", "379", "489", "649", "179")]
TAX_RATES = (Decimal("0.25"), Decimal("0.12"))
TARGET_IN_PROCESS = 0.10
TARGET_TWO_WORKERS = 0.20
TARGET_MILLION_SECONDS = 120.0
MILLION = 1_000_000


# --- the data set ------------------------------------------------------------------------------


def _world() -> dict:
    """Two providers on two marketplaces (different tax rates), four internet products and TV each, prices."""
    from billing.models import BillingConfig
    from cos.models import Area, Organization
    from marketplace.models import ContractTerm, Marketplace, Price, Product

    area = Area.objects.create(code="BBILL", name="Billing benchmark")
    marketplaces = [
        Marketplace.objects.create(
            slug=f"bench-billing-{i}", name=f"Bench billing {i}", segment=segment, currency="SEK", tax_rate=rate
        )
        for i, (segment, rate) in enumerate(zip(("residential", "business"), TAX_RATES, strict=True))
    ]
    providers, products, prices = [], [], []
    for p in range(2):
        provider = Organization.objects.create(slug=f"bench-bill-{p}", name=f"Bench ISP {p}", kind="service_provider")
        providers.append(provider)
        term = ContractTerm.objects.create(provider=provider, name="none")
        for i, (category, speed) in enumerate(
            (("internet", 100), ("internet", 250), ("internet", 500), ("internet", 1000), ("tv", None))
        ):
            product = Product.objects.create(
                provider=provider,
                name=f"Fiber {speed}" if speed else "TV Bas",
                category=category,
                download_mbps=speed,
                upload_mbps=speed,
                service_profile=f"HSI_{speed}" if speed else "IPTV",
                requires_category="" if speed else "internet",
                term=term,
            )
            products.append(product.pk)
            for marketplace in marketplaces:
                prices.append(
                    Price.objects.create(
                        product=product,
                        marketplace=marketplace,
                        monthly_amount=AMOUNTS[p * 5 + i],
                        start_fee=Decimal("0"),
                        currency="SEK",
                        valid_from=date(2024, 1, 1),
                    ).pk
                )
    for marketplace in marketplaces:
        # drafts wait a week for review: the run only issues drafts, as in production
        BillingConfig.objects.create(marketplace=marketplace, review_minutes=7 * 24 * 60)
    return {
        "area": area.pk,
        "marketplaces": [m.pk for m in marketplaces],
        "providers": [p.pk for p in providers],
        "products": products,
        "prices": prices,
    }


BILLING_TABLES = "billing_invoiceline, billing_invoice, billing_billingrun"
DATA_TABLES = (
    "billing_pause, billing_ratechange, billing_billingschedule, billing_billingaccount, marketplace_subscription, "
    "marketplace_orderline, marketplace_order, cos_customer, cos_addressobject"
)

# One row per subscription g; a customer c has one address and one account (g % 5 = 0: TV beside g - 1's internet).
PLAN = """
CREATE TEMP TABLE bench_plan AS
SELECT g, c, k, pv, mk, pi, pv * 5 + pi + 1 AS product_index, (pv * 5 + pi) * 2 + mk + 1 AS price_index,
    (%(amounts)s::numeric[])[pv * 5 + pi + 1] AS amount,
    CASE WHEN k BETWEEN 10 AND 14 THEN 'anniversary' ELSE 'monthly' END AS cycle,
    CASE
        WHEN k < 10 THEN date '2026-02-02' + g %% 26              -- mid-February: the first invoice was prorated
        WHEN k < 15 THEN make_date(2025, 1 + g %% 12, 1)         -- anniversary, on the 1st
        WHEN k BETWEEN 20 AND 27 THEN date '2025-12-02' + g %% 58 -- 50%% off for 3 months, some ending in March
        WHEN k BETWEEN 28 AND 31 THEN date '2025-10-01' + g %% 120
        WHEN k BETWEEN 32 AND 34 THEN date '2026-02-02' + g %% 26 -- a free month, ending in March
        ELSE date '2024-01-01' + g %% 760
    END AS activated_on,
    CASE WHEN k BETWEEN 20 AND 27 THEN 'percent_off' WHEN k BETWEEN 28 AND 31 THEN 'amount_off'
        WHEN k BETWEEN 32 AND 34 THEN 'free_months' ELSE '' END AS promotion_kind,
    CASE WHEN k BETWEEN 20 AND 27 THEN 50 WHEN k BETWEEN 28 AND 31 THEN 100 END::numeric AS promotion_value,
    CASE WHEN k BETWEEN 20 AND 27 THEN 3 WHEN k BETWEEN 28 AND 31 THEN 6 WHEN k BETWEEN 32 AND 34 THEN 1 END
        AS promotion_periods
FROM (
    SELECT g, c, g %% 100 AS k, c %% 2 AS pv, CASE WHEN c %% 3 = 0 THEN 1 ELSE 0 END AS mk,
        CASE WHEN g %% 5 = 0 THEN 4 ELSE g %% 4 END AS pi
    FROM (SELECT g, g - g / 5 AS c FROM generate_series(1, %(n)s) AS g) AS numbered
) AS s
"""

INSERTS = (
    """
    INSERT INTO cos_customer (id, created_at, updated_at, customer_type, first_name, last_name, company_name, email,
        phone, billing_street, billing_postal_code, billing_city, billing_country)
    SELECT DISTINCT ON (bench_plan.c) c, now(), now(), CASE mk WHEN 1 THEN 'business' ELSE 'residential' END,
        'Kund', c::text, '', 'kund' || c || '@bench.example', '', 'Fakturagatan ' || c, '11111', 'Benchby', 'SE'
    FROM bench_plan ORDER BY bench_plan.c
    """,
    """
    INSERT INTO cos_addressobject (id, created_at, updated_at, external_id, street, house_number, suffix, unit,
        postal_code, city, country, building_type, units, status, circuit_id, circuit_name, extra, area_id)
    SELECT DISTINCT ON (bench_plan.c) c, now(), now(), 'BBILL-' || c, 'Fakturagatan', 1 + c %% 500, '', (c / 500)::text,
        '11111', 'Benchby', 'SE', 'single_family', 1, 'connected', '', '', '{}', %(area)s
    FROM bench_plan ORDER BY bench_plan.c
    """,
    """
    INSERT INTO marketplace_order (id, created_at, updated_at, status, channel, idempotency_key, request_fingerprint,
        preferred_install_slot, is_preorder, rejection_reason, cancellation_reason, address_id, customer_id,
        marketplace_id, provider_id)
    SELECT g, now(), now(), 'completed', 'api', '', '', 'any', false, '', '', c, c,
        (%(marketplaces)s::bigint[])[mk + 1], (%(providers)s::bigint[])[pv + 1]
    FROM bench_plan
    """,
    """
    INSERT INTO marketplace_orderline (id, created_at, updated_at, category, monthly_amount, start_fee, currency,
        promotion_kind, promotion_value, promotion_periods, minimum_months, notice_days, order_id, price_id, product_id)
    SELECT g, now(), now(), CASE pi WHEN 4 THEN 'tv' ELSE 'internet' END, amount, 0, 'SEK', promotion_kind,
        promotion_value, promotion_periods, 0, 30, g, (%(prices)s::bigint[])[price_index],
        (%(products)s::bigint[])[product_index]
    FROM bench_plan
    """,
    """
    INSERT INTO marketplace_subscription (id, created_at, updated_at, category, status, monthly_amount, start_fee,
        currency, promotion_kind, promotion_value, promotion_periods, minimum_months, notice_days, billing_cycle,
        activated_at, address_id, customer_id, marketplace_id, order_line_id, product_id, provider_id,
        cancellation_reason, cancellation_note, early_termination_charged)
    SELECT g, now(), now(), CASE pi WHEN 4 THEN 'tv' ELSE 'internet' END,
        CASE k WHEN 60 THEN 'suspended' ELSE 'active' END,
        CASE WHEN k BETWEEN 50 AND 54 THEN amount + 100 ELSE amount END, 0, 'SEK', promotion_kind, promotion_value,
        promotion_periods, 0, 30, cycle, activated_on + time '10:00', c, c, (%(marketplaces)s::bigint[])[mk + 1], g,
        (%(products)s::bigint[])[product_index], (%(providers)s::bigint[])[pv + 1], '', '', false
    FROM bench_plan
    """,
    """
    INSERT INTO billing_billingaccount (id, created_at, updated_at, currency, billing_cycle, collection, delivery,
        invoice_email, customer_id, provider_id, gateway_customer)
    SELECT DISTINCT ON (bench_plan.c) c, now(), now(), 'SEK', 'monthly', 'manual', 'email',
        'kund' || c || '@bench.example', c, (%(providers)s::bigint[])[pv + 1], ''
    FROM bench_plan ORDER BY bench_plan.c
    """,
    """
    INSERT INTO billing_billingschedule (id, created_at, updated_at, cycle, activated_on, ends_on, billed_until,
        equipment_returned, account_id, subscription_id)
    SELECT g, now(), now(), cycle, activated_on, CASE k WHEN 62 THEN date '2026-02-20' END, %(as_of)s, true, c, g
    FROM bench_plan
    """,
    """
    INSERT INTO billing_ratechange (id, created_at, updated_at, effective_on, monthly_amount, product_id,
        schedule_id)
    SELECT g, now(), now(), activated_on,
        CASE WHEN k BETWEEN 40 AND 49 THEN amount - 100 WHEN k BETWEEN 50 AND 54 THEN amount + 100 ELSE amount END,
        (%(products)s::bigint[])[product_index], g
    FROM bench_plan
    UNION ALL  -- upgrades in February (already billed), downgrades from the 1st (billed in this run)
    SELECT %(n)s + g, now(), now(), CASE WHEN k < 50 THEN date '2026-02-10' + g %% 15 ELSE %(as_of)s END, amount,
        (%(products)s::bigint[])[product_index], g
    FROM bench_plan WHERE k BETWEEN 40 AND 54
    """,
    """
    INSERT INTO billing_pause (id, created_at, updated_at, starts_on, ends_on, note, schedule_id)
    SELECT g, now(), now(), CASE k WHEN 60 THEN date '2026-02-10' ELSE date '2025-11-03' END,
        CASE k WHEN 61 THEN date '2025-11-20' END, '', g
    FROM bench_plan WHERE k IN (60, 61)
    """,
)


# February, billed and paid: one invoice per account (its lines' net, taxed at its marketplace's rate), one line per
# subscription and the tax line. What a run on the 1st finds on the books (and the planner's statistics with it).
HISTORY = (
    """
    INSERT INTO billing_invoice (id, created_at, updated_at, account_id, issuer_id, marketplace_id, kind, reason,
        status, number, currency, tax_rate, subtotal, tax, total, amount_paid, finalize_after, issued_on, due_on,
        finalized_at, paid_at)
    SELECT c, now(), now(), c, (%(providers)s::bigint[])[pv + 1], (%(marketplaces)s::bigint[])[mk + 1], 'invoice',
        'cycle', 'paid', 'INV-2026-' || lpad(c::text, 8, '0'), 'SEK', rate, net, round(net * rate, 2),
        net + round(net * rate, 2), net + round(net * rate, 2), timestamptz '2026-02-01 00:00+01', date '2026-02-01',
        date '2026-02-15', timestamptz '2026-02-01 00:00+01', timestamptz '2026-02-10 12:00+01'
    FROM (
        SELECT c, min(pv) AS pv, min(mk) AS mk, sum(amount) AS net, (%(tax_rates)s::numeric[])[min(mk) + 1] AS rate
        FROM bench_plan GROUP BY c
    ) AS accounts
    """,
    """
    INSERT INTO billing_invoiceline (invoice_id, subscription_id, kind, description, amount, period_start, period_end,
        rate, days, period_days, coverage, repeat, voided)
    SELECT c, g, 'recurring', 'February 2026', amount, date '2026-02-01', date '2026-02-28', amount, 28, 28, 1, 0,
        false
    FROM bench_plan
    UNION ALL
    SELECT id, NULL, 'tax', 'VAT', tax, NULL, NULL, NULL, 0, 0, 0, 0, false FROM billing_invoice
    """,
)

SEQUENCED = (
    "cos_customer",
    "cos_addressobject",
    "marketplace_order",
    "marketplace_orderline",
    "marketplace_subscription",
    "billing_billingaccount",
    "billing_billingschedule",
    "billing_ratechange",
    "billing_pause",
    "billing_invoice",
)


def data_set(world: dict, n: int) -> float:
    """N subscriptions due on AS_OF, with their customers, accounts, schedules, rates and February's invoices;
    returns seconds taken."""
    from django.db import connection

    start = time.perf_counter()
    params = {**world, "n": n, "as_of": AS_OF, "amounts": AMOUNTS, "tax_rates": list(TAX_RATES)}
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {BILLING_TABLES}, {DATA_TABLES} RESTART IDENTITY CASCADE")
        cursor.execute("DROP TABLE IF EXISTS bench_plan")
        cursor.execute(PLAN, params)
        for sql in (*INSERTS, *HISTORY):
            cursor.execute(sql, params)
        for table in SEQUENCED:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        cursor.execute("DROP TABLE bench_plan")
        cursor.execute("VACUUM ANALYZE")
    return time.perf_counter() - start


RUN_INVOICES = "SELECT id FROM billing_invoice WHERE run_id IS NOT NULL"


def billing_reset() -> None:
    """Back to before the run: the run's invoices gone, every schedule due again."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM billing_invoiceline WHERE invoice_id IN ({RUN_INVOICES})")
        cursor.execute("DELETE FROM billing_invoice WHERE run_id IS NOT NULL")
        cursor.execute("DELETE FROM billing_billingrun")
        cursor.execute("UPDATE billing_billingschedule SET billed_until = %s", [AS_OF])
        cursor.execute("VACUUM ANALYZE billing_billingschedule, billing_invoice, billing_invoiceline")


# --- the run and its baseline ------------------------------------------------------------------


def _bill_in_process(run_id: int, account_ids: list[int], as_of: date) -> None:
    from billing.runs import billing_chunk

    billing_chunk(run_id=run_id, account_ids=account_ids, as_of=as_of)


def run_in_process(chunk_size: int, profile: bool = False) -> tuple[float, float, float]:
    """(seconds, MB resident before, peak MB during) of the whole run, chunks billed one after the other here."""
    from billing.runs import billing_run

    gc.collect()
    reset = peak_reset()
    before = memory_mb("VmRSS")
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    run = billing_run(as_of=AS_OF, chunk_size=chunk_size, dispatch=_bill_in_process)
    elapsed = time.perf_counter() - start
    if profiler:
        profiler.disable()
        import pstats

        print(f"-- profile of the in-process run (chunks of {chunk_size}) --")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    run.refresh_from_db()
    assert run.status == "done", run.status
    return elapsed, before, memory_mb("VmHWM" if reset else "ru_maxrss")


def run_on_workers(chunk_size: int) -> float:
    """Seconds of the whole run, chunks sent through the outbox to Celery and billed by the worker processes."""
    from billing.models import BillingRun
    from billing.runs import billing_run

    start = time.perf_counter()
    run = billing_run(as_of=AS_OF, chunk_size=chunk_size)
    wait_until(
        lambda: BillingRun.objects.filter(pk=run.pk, status="done").exists(),
        "the workers finishing the run",
        timeout=1800,
        interval=0.05,
    )
    return time.perf_counter() - start


def billed() -> tuple[int, int, Decimal]:
    """The run's invoices, lines and total; nothing left due."""
    from django.db.models import Sum

    from billing.models import BillingSchedule, Invoice, InvoiceLine
    from billing.runs import due_account_chunks

    assert next(due_account_chunks(AS_OF, 1), None) is None, "schedules left due after the run"
    assert not BillingSchedule.objects.filter(billed_until=AS_OF, ends_on__isnull=True).exists()
    invoices = Invoice.objects.filter(run__isnull=False)
    return (
        invoices.count(),
        InvoiceLine.objects.filter(invoice__run__isnull=False).count(),
        invoices.aggregate(s=Sum("total"))["s"],
    )


def copy_baseline() -> float:
    """Seconds to COPY the run's invoice and line rows into temporary tables of the same columns and indexes: the
    best of two, after a warm-up."""
    from django.db import connection

    with connection.cursor() as cursor:
        invoices, lines = io.StringIO(), io.StringIO()
        cursor.copy_expert(f"COPY (SELECT * FROM billing_invoice WHERE id IN ({RUN_INVOICES})) TO STDOUT", invoices)
        cursor.copy_expert(
            f"COPY (SELECT * FROM billing_invoiceline WHERE invoice_id IN ({RUN_INVOICES})) TO STDOUT", lines
        )
        timings = []
        for _ in range(3):
            cursor.execute("CREATE TEMP TABLE bench_invoice_copy (LIKE billing_invoice INCLUDING ALL)")
            cursor.execute("CREATE TEMP TABLE bench_invoiceline_copy (LIKE billing_invoiceline INCLUDING ALL)")
            invoices.seek(0)
            lines.seek(0)
            start = time.perf_counter()
            cursor.copy_expert("COPY bench_invoice_copy FROM STDIN", invoices)
            cursor.copy_expert("COPY bench_invoiceline_copy FROM STDIN", lines)
            timings.append(time.perf_counter() - start)
            cursor.execute("DROP TABLE bench_invoice_copy, bench_invoiceline_copy")
    return min(timings[1:])  # the first warms up


def _line_mix() -> str:
    from django.db.models import Count

    from billing.models import InvoiceLine

    counts = dict(
        InvoiceLine.objects.filter(invoice__run__isnull=False).values_list("kind").annotate(n=Count("id")).order_by()
    )
    return ", ".join(f"{kind} {count:,}" for kind, count in sorted(counts.items()))


def million_seconds(small: tuple[int, float], large: tuple[int, float]) -> tuple[float, bool]:
    """Seconds for 1,000,000 subscriptions, and whether they were measured: extrapolated from (size, seconds) at
    N/10 and N by the larger of 10x and the measured growth per tenfold (never better than linear)."""
    (small_size, small_seconds), (large_size, large_seconds) = small, large
    if large_size >= MILLION:
        return large_seconds * MILLION / large_size, large_size == MILLION
    per_tenfold = max(10.0, large_seconds / small_seconds * 10 / (large_size / small_size))
    return large_seconds * per_tenfold ** math.log10(MILLION / large_size), False


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=env_int("COS_BENCH_BILLING_N", 100_000))
    parser.add_argument("--workers", type=int, default=env_int("COS_BENCH_BILLING_WORKERS", 0))
    parser.add_argument("--chunk-size", type=int, default=env_int("COS_BENCH_BILLING_CHUNK", 0) or None)
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process run at the largest size")
    args = parser.parse_args(argv)
    sizes = (args.n // 10, args.n)

    broker = redis_url_from_env("COS_BENCH_BILLING_REDIS_URL", "redis://127.0.0.1:6379/11") if args.workers else None
    base = os.environ.get("COS_BENCH_BILLING_DATABASE_URL")
    if base:
        os.environ["DATABASE_URL"] = base
    django_setup(broker=broker, name="billing")
    from billing.runs import CHUNK_SIZE

    chunk_size = args.chunk_size or CHUNK_SIZE
    worker = None
    results: dict = {}
    try:
        world = _world()
        if args.workers:
            worker = celery_worker_start(broker=broker, concurrency=args.workers)
        print(
            f"== billing run for {AS_OF} (PostgreSQL, chunks of {chunk_size} accounts, in this process"
            f"{f' and on {args.workers} Celery worker processes' if args.workers else ''}) =="
        )
        for size in sizes:
            setup = data_set(world, size)
            seconds, before, peak = run_in_process(chunk_size, profile=args.profile and size == sizes[-1])
            invoices, lines, amount = billed()
            mix = _line_mix()
            copy = copy_baseline()
            row = {"seconds": seconds, "invoices": invoices, "lines": lines, "copy": copy, "rss": before, "peak": peak}
            if args.workers:
                billing_reset()
                row["workers"] = run_on_workers(chunk_size)
                if billed() != (invoices, lines, amount):
                    raise AssertionError("the workers billed differently from the run in this process")
            results[size] = row
            print(
                f"{size:,} subscriptions (set up in {setup:.1f} s): {invoices:,} invoices, {lines:,} lines "
                f"({mix}), {amount:,} SEK"
            )
        _report(results, sizes, args.workers)
    finally:
        if worker is not None:
            celery_worker_stop(worker, broker)
    return results


def _report(results: dict, sizes: tuple[int, int], workers: int) -> None:
    print()
    print(
        f"{'subscriptions':>13} {'seconds':>8} {'invoices/s':>10} {'rows/s':>9} {'COPY s':>7} {'COPY rows/s':>12} "
        f"{'ratio':>6} {'RSS MB':>7} {'peak MB':>8} {'growth':>7}"
        + (f" {'workers s':>9} {'rows/s':>8} {'ratio':>6}" if workers else "")
    )
    for size, r in results.items():
        rows = r["invoices"] + r["lines"]
        line = (
            f"{size:>13,} {r['seconds']:>8.2f} {r['invoices'] / r['seconds']:>10,.0f} {rows / r['seconds']:>9,.0f} "
            f"{r['copy']:>7.2f} {rows / r['copy']:>12,.0f} {r['copy'] / r['seconds']:>6.1%} {r['rss']:>7.0f} "
            f"{r['peak']:>8.0f} {r['peak'] - r['rss']:>7.1f}"
        )
        if workers:
            line += f" {r['workers']:>9.2f} {rows / r['workers']:>8,.0f} {r['copy'] / r['workers']:>6.1%}"
        print(line)
    small, large = results[sizes[0]], results[sizes[1]]
    print(f"time {sizes[1]:,} / {sizes[0]:,} subscriptions: {large['seconds'] / small['seconds']:.2f}x in this process")
    print()
    ratio = large["copy"] / large["seconds"]
    print(
        f"target rows/s in one process >= {TARGET_IN_PROCESS:.0%} of COPY's: {ratio:.1%}  "
        f"{verdict(ratio >= TARGET_IN_PROCESS)}"
    )
    if workers:
        ratio = large["copy"] / large["workers"]
        judged = f"{verdict(ratio >= TARGET_TWO_WORKERS)}" if workers == 2 else "(judged on two workers only)"
        print(f"target rows/s on two workers >= {TARGET_TWO_WORKERS:.0%} of COPY's: {ratio:.1%} on {workers}  {judged}")
        seconds, measured = million_seconds((sizes[0], small["workers"]), (sizes[1], large["workers"]))
        how = "measured" if measured else f"extrapolated from {sizes[1]:,}"
        judged = f"{verdict(seconds <= TARGET_MILLION_SECONDS)}" if workers == 2 else "(judged on two workers only)"
        print(
            f"target 1,000,000 subscriptions on two workers <= {TARGET_MILLION_SECONDS:.0f} s: {seconds:,.0f} s "
            f"({how}) on {workers}  {judged}"
        )
    # each run's peak above the resident set at its own start: what the baseline and the data set of the size
    # before left allocated is not the run's (the first run also pays one-time costs: imports, caches)
    growth_small = max(small["peak"] - small["rss"], 1.0)
    growth_large = large["peak"] - large["rss"]
    print(
        f"target memory flat in N (a run's peak growth < 3x for 10x the subscriptions, 1 MB at least): "
        f"{small['peak'] - small['rss']:.1f} MB at {sizes[0]:,}, {growth_large:.1f} MB at {sizes[1]:,} "
        f"({growth_large / growth_small:.1f}x)  {verdict(growth_large < 3 * growth_small)}"
    )


if __name__ == "__main__":
    run(main)
