"""Benchmark: the revenue-assurance board (/ops/board/) for N subscribers (PostgreSQL), default 100,000.

The network is the wholesale benchmark's (bench.wholesale_settlement: five providers in two marketplaces, four
areas, each subscriber's service with four ledger periods, activations in October and November 2026), and on it,
with set-based SQL: each subscriber's billing account; a first invoice at activation (20 s after it) and a
November cycle invoice for those live in October, each line covering its days; 90 % paid (with the payment), 8 %
open, 2 % late; 0.5 % of live services never billed in November (half of them explained by an open contract
exception); a credit note for 1 %; a manual discount on 0.5 % of the invoices; card chargebacks on 0.2 % of the
payments; an installation job for each November activation, 4 % of them revisited without charge within a week;
each order submitted five days before its activation; refused order requests for 1.5 % of the orders (one to three
problems each). October is settled (statements and the three-way variance check).

Measured, at 2026-11-07 12:00 UTC (the clock moved there): the whole board page as operator staff see it (the ten
readings of the network, each with its twelve-week trend: the eleven closed weeks as kept, this week's computed
live; rendered by the view through the test client), the same for one provider's scope, and the drill-down page of
the largest metric (active but unbilled). Median of COS_BENCH_BOARD_RUNS runs (3) after a scope's first reading,
which computes and keeps its closed weeks (shown, not judged: the board's hourly check does it ahead of the reader).
Baseline, in the same run: the raw SQL of the board's largest question, one reading of active-but-unbilled (the live
periods at a moment left-joined to the invoice lines covering that day, counted), and, for reference, twelve of
them (one per week).

Targets: the whole board for N subscribers in <= 1 s. The readings are checked against figures counted from the
data set (live, unbilled, invoices with a discount).

Options: --n (COS_BENCH_BOARD_N), --runs. Environment: DATABASE_URL (its database name must contain "bench"),
COS_BENCH_KEEP=1 keeps the database. Exit status: 0 every target passed, 1 a target missed, 2 could not measure.
"""

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import django_setup, env_int, run, verdict  # noqa: E402

AT = datetime(2026, 11, 7, 12, 0, tzinfo=UTC)
TARGET_SECONDS = 1.0

BILLING = (
    # each subscriber's account, at its provider
    """
    INSERT INTO billing_billingaccount (id, created_at, updated_at, currency, billing_cycle, collection, delivery,
        invoice_email, customer_id, provider_id, gateway_customer)
    SELECT s.id, now(), now(), 'SEK', 'monthly', 'manual', 'email', '', s.customer_id, s.provider_id, ''
    FROM marketplace_subscription s
    """,
    # the orders were submitted five days before their activation
    """
    UPDATE marketplace_order o SET submitted_at = s.activated_at - interval '5 days',
        decided_at = s.activated_at - interval '4 days', terms_accepted_at = s.activated_at - interval '5 days'
    FROM marketplace_subscription s WHERE s.order_line_id = o.id
    """,
    # the invoices: 1 to 100k the first invoice at activation; 100k+ the November cycle of those live in October
    """
    CREATE TEMP TABLE bench_invoice AS
    SELECT s.id AS subscription_id, s.id AS id, s.marketplace_id, s.activated_at + interval '20 seconds' AS finalized,
        (s.activated_at AT TIME ZONE 'Europe/Stockholm')::date AS period_start,
        (date_trunc('month', s.activated_at AT TIME ZONE 'Europe/Stockholm') + interval '1 month - 1 day')::date
            AS period_end,
        s.monthly_amount AS rate, 'activation' AS reason
    FROM marketplace_subscription s
    UNION ALL
    SELECT s.id, %(offset)s + s.id, s.marketplace_id, timestamptz '2026-11-01 03:00+00', date '2026-11-01',
        date '2026-11-30', s.monthly_amount, 'cycle'
    FROM marketplace_subscription s
    WHERE s.activated_at < timestamptz '2026-11-01 00:00+00' AND s.id %% 200 <> 7
    """,
    """
    INSERT INTO billing_invoice (id, created_at, updated_at, kind, reason, status, number, currency, tax_rate, subtotal,
        tax, total, amount_paid, finalize_after, issued_on, due_on, finalized_at, paid_at, voided_at, late_at,
        account_id, corrects_id, issuer_id, marketplace_id, run_id, payment_reference, prices_include_tax)
    SELECT i.id, i.finalized, i.finalized, 'invoice', i.reason,
        CASE WHEN i.id %% 50 = 3 THEN 'late' WHEN i.id %% 25 IN (1, 2) THEN 'open' ELSE 'paid' END,
        'BB-' || i.id, 'SEK', 0.25, i.rate * 0.8, i.rate * 0.2, i.rate,
        CASE WHEN i.id %% 50 = 3 OR i.id %% 25 IN (1, 2) THEN 0 ELSE i.rate END, NULL, i.finalized::date,
        i.finalized::date + 20, i.finalized,
        CASE WHEN i.id %% 50 = 3 OR i.id %% 25 IN (1, 2) THEN NULL ELSE i.finalized + interval '15 days' END, NULL,
        CASE WHEN i.id %% 50 = 3 THEN i.finalized + interval '25 days' END, i.subscription_id, NULL,
        %(operator)s, i.marketplace_id, NULL, 'OCR' || i.id, true
    FROM bench_invoice i
    """,
    """
    INSERT INTO billing_invoiceline (id, kind, description, amount, period_start, period_end, rate, days, period_days,
        coverage, voided, invoice_id, refers_to_id, subscription_id, repeat, tax)
    SELECT i.id, 'subscription', 'Fiber', i.rate, i.period_start, i.period_end, i.rate,
        i.period_end - i.period_start + 1, 30, 1, false, i.id, NULL, i.subscription_id, 0, i.rate * 0.2
    FROM bench_invoice i
    """,
    # the paid invoices' payments, by card; a chargeback on 0.2 % of them, open
    """
    INSERT INTO billing_payment (id, created_at, updated_at, method_type, channel, gateway, status, amount, currency,
        attempt, idempotency_key, reference, charge_reference, client_secret, external_reference, received_on,
        failure_code, failure_message, submit_errors, next_retry_at, amount_refunded, settled_at, note, account_id,
        invoice_id, recorded_by_id, method_id)
    SELECT i.id, i.paid_at, i.paid_at, 'card', 'automatic', 'offline', 'succeeded', i.total, 'SEK', 1, 'pay-' || i.id,
        'pi_' || i.id, 'ch_' || i.id, '', '', NULL, '', '', 0, NULL, 0, i.paid_at, '', i.account_id, i.id, NULL, NULL
    FROM billing_invoice i WHERE i.status = 'paid'
    """,
    """
    INSERT INTO billing_dispute (created_at, updated_at, reference, amount, reason, status, closed_at, payment_id)
    SELECT p.created_at + interval '3 days', p.created_at + interval '3 days', 'dp_' || p.id, p.amount, 'fraudulent',
        'needs_response', NULL, p.id
    FROM billing_payment p WHERE p.id %% 500 = 11
    """,
    # credit notes for 1 %
    """
    INSERT INTO billing_invoice (id, created_at, updated_at, kind, reason, status, number, currency, tax_rate, subtotal,
        tax, total, amount_paid, finalize_after, issued_on, due_on, finalized_at, paid_at, voided_at, late_at,
        account_id, corrects_id, issuer_id, marketplace_id, run_id, payment_reference, prices_include_tax)
    SELECT 2 * %(offset)s + i.id, i.finalized_at + interval '6 days', i.finalized_at + interval '6 days',
        'credit_note', 'adjustment', 'paid', 'BK-' || i.id, 'SEK', 0.25, -i.subtotal / 2, -i.tax / 2, -i.total / 2, 0,
        NULL, i.issued_on + 6, NULL, i.finalized_at + interval '6 days', NULL, NULL, NULL, i.account_id, i.id,
        %(operator)s, i.marketplace_id, NULL, '', true
    FROM billing_invoice i WHERE i.kind = 'invoice' AND i.id %% 100 = 9
    """,
    """
    INSERT INTO billing_reasoncode (id, created_at, updated_at, code, label, active)
    VALUES (1, now(), now(), 'price-match', 'Price match', true)
    """,
    """
    INSERT INTO billing_pricingoverride (kind, old_value, new_value, note, created_at, actor_id, invoice_id, line_id,
        result_id, reason_code_id)
    SELECT 'discount', i.total, i.total - 50, 'matched', i.finalized_at, NULL, i.id, NULL, NULL, 1
    FROM billing_invoice i WHERE i.kind = 'invoice' AND i.id %% 200 = 13
    """,
    # 0.5 % of the services are never billed in November: their November invoices go (the activation ones too)
    """
    DELETE FROM billing_invoiceline l USING billing_invoice i
    WHERE l.invoice_id = i.id AND i.finalized_at >= timestamptz '2026-11-01 00:00+00' AND l.subscription_id %% 200 = 7
    """,
    """
    INSERT INTO provisioning_contractexception (created_at, updated_at, kind, severity, ont_serial, device_service_id,
        detail, status, last_seen_at, resolution_code, service_id)
    SELECT now(), now(), 'device_unbound', 'red', 'BNCH' || s.id, 'cos-' || s.id, 'ONT no longer bound', 'open',
        now(), '', s.id
    FROM provisioning_serviceinstance s WHERE s.id %% 400 = 7
    """,
    # the field: an installation job for each November activation; 4 % revisited without charge
    """
    INSERT INTO workorders_workordertemplate (id, created_at, updated_at, name, code, kind, building_types, is_active)
    VALUES (1, now(), now(), 'Installation', 'install', 'installation', '[]', true),
        (2, now(), now(), 'Repair', 'repair', 'repair', '[]', true)
    """,
    """
    INSERT INTO workorders_workorder (id, created_at, updated_at, kind, status, scheduled_for, due_date, notes,
        completed_at, accepted_at, rejection_reason, address_id, template_id, scheduled_window_end,
        scheduled_window_start, charged, reworks_id)
    SELECT s.id, s.activated_at - interval '4 days', s.activated_at, 'installation', 'accepted',
        (s.activated_at - interval '1 hour')::date, NULL, '', s.activated_at - interval '1 hour', s.activated_at, '',
        s.address_id, 1, NULL, NULL, false, NULL
    FROM marketplace_subscription s WHERE s.activated_at >= timestamptz '2026-11-01 00:00+00'
    """,
    """
    INSERT INTO workorders_workorder_orders (workorder_id, order_id)
    SELECT w.id, l.order_id FROM workorders_workorder w
    JOIN marketplace_subscription s ON s.id = w.id JOIN marketplace_orderline l ON l.id = s.order_line_id
    """,
    """
    INSERT INTO workorders_workorder (id, created_at, updated_at, kind, status, scheduled_for, due_date, notes,
        completed_at, accepted_at, rejection_reason, address_id, template_id, scheduled_window_end,
        scheduled_window_start, charged, reworks_id)
    SELECT %(offset)s + w.id, w.completed_at + interval '5 days', w.completed_at + interval '6 days', 'repair',
        'completed', NULL, NULL, '', w.completed_at + interval '6 days', NULL, '', w.address_id, 2, NULL, NULL, false,
        w.id
    FROM workorders_workorder w WHERE (w.id / 20) %% 25 = 3
    """,
    # refused order requests: 1.5 % of the orders, one to three problems each
    """
    INSERT INTO marketplace_validationfailure (code, message, channel, idempotency_key, created_at, address_id,
        customer_id, marketplace_id, product_id, provider_id, refusal)
    SELECT (ARRAY['address', 'plan', 'tax', 'duplicate'])[1 + (o.id + n) %% 4], 'refused', 'api', '',
        o.submitted_at - interval '1 hour', o.address_id, NULL, o.marketplace_id, NULL, o.provider_id,
        md5('refusal' || o.id)::uuid
    FROM marketplace_order o, generate_series(0, 2) AS n
    WHERE (o.id / 20) %% 67 = 5 AND o.id %% 20 < 3 AND n <= o.id %% 3
    """,
)
SEQUENCED = (
    "billing_invoice",
    "billing_invoiceline",
    "billing_payment",
    "billing_reasoncode",
    "workorders_workordertemplate",
    "workorders_workorder",
)


def data_set(subscribers: int) -> dict:
    """The network (the wholesale benchmark's) and its billing, field and order data; October settled."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from bench import wholesale_settlement as ws
    from cos.models import Organization
    from wholesale.settlement import settlement_run
    from wholesale.variance import variance_check

    start = time.perf_counter()
    ids = ws.world()
    ws.data_set(ids, subscribers * ws.PERIODS_PER_SERVICE)
    with connection.cursor() as cursor:
        for sql in BILLING:
            cursor.execute(sql, {"offset": 10 * subscribers, "operator": ids["operator"]})
        cursor.execute("DROP TABLE bench_invoice")
        for table in SEQUENCED:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
    operator = Organization.objects.get(pk=ids["operator"])
    settlement_run(month="2026-10", operator=operator)
    variance_check(month="2026-10", operator=operator)
    ws.vacuum()
    get_user_model().objects.create_superuser("bench-board", "board@bench.example", None)
    return {**ids, "setup": time.perf_counter() - start}


def expected_now() -> dict:
    """What the board should say now, counted straight from the data set."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(RAW_UNBILLED, {"at": AT})
        live, unbilled = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM billing_invoice i WHERE i.kind = 'invoice' AND i.finalized_at > %s - interval "
            "'7 days' AND i.finalized_at <= %s AND EXISTS (SELECT 1 FROM billing_pricingoverride o WHERE "
            "o.invoice_id = i.id)",
            [AT, AT],
        )
        (discounted,) = cursor.fetchone()
    return {"live": live, "unbilled": unbilled, "discounted": discounted}


# The baseline: one reading of the board's largest question in plain SQL.
RAW_UNBILLED = """
SELECT count(DISTINCT p.service_id), count(DISTINCT p.service_id) FILTER (WHERE b.net IS NULL OR b.net <= 0)
FROM provisioning_serviceperiod p
LEFT JOIN LATERAL (
    SELECT sum(l.coverage) AS net FROM billing_invoiceline l JOIN billing_invoice i ON i.id = l.invoice_id
    WHERE l.subscription_id = p.subscription_id AND NOT l.voided
        AND l.period_start <= (%(at)s AT TIME ZONE 'Europe/Stockholm')::date
        AND l.period_end >= (%(at)s AT TIME ZONE 'Europe/Stockholm')::date
        AND i.finalized_at <= %(at)s AND i.status NOT IN ('draft', 'void')
) b ON true
WHERE p.started_at <= %(at)s AND (p.ended_at IS NULL OR p.ended_at > %(at)s)
"""


def raw_seconds(weeks: int) -> float:
    from datetime import timedelta

    from django.db import connection

    with connection.cursor() as cursor:
        start = time.perf_counter()
        for back in range(weeks):
            cursor.execute(RAW_UNBILLED, {"at": AT - timedelta(weeks=back)})
            cursor.fetchall()
        return time.perf_counter() - start


def _timed(client, url: str) -> tuple[float, object]:
    start = time.perf_counter()
    response = client.get(url, secure=True)
    seconds = time.perf_counter() - start
    if response.status_code != 200:
        raise AssertionError(f"{url}: HTTP {response.status_code}")
    return seconds, response


def measure(runs: int, provider_id: int) -> dict:
    import time_machine
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client, override_settings

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-board"))
    pages = {
        "board": "/ops/board/",
        "provider board": f"/ops/board/?provider={provider_id}",
        "drill-down": "/ops/board/active_unbilled/",
    }
    figures = {}
    plain_static = {  # the pages are rendered in this process: static files by name (no collectstatic manifest)
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with time_machine.travel(AT, tick=True), override_settings(STORAGES=plain_static):
        for name, url in pages.items():
            figures[f"{name} first"] = _timed(client, url)[0]  # a scope's first reading computes its closed weeks
            times = [_timed(client, url)[0] for _ in range(runs)]
            figures[name] = statistics.median(times)
        _, response = _timed(client, "/ops/board.json")
    raws = [raw_seconds(1) for _ in range(3)]
    figures["raw"] = statistics.median(raws)
    figures["raw12"] = raw_seconds(12)
    figures["json"] = response.json()
    return figures


def check(figures: dict, expected: dict) -> None:
    """The board's readings are the data set's figures."""
    metrics = {m["key"]: m["weeks"][-1] for m in figures["json"]["metrics"]}
    unbilled = metrics["active_unbilled"]
    got = (int(float(unbilled["numerator"])), int(float(unbilled["denominator"])))
    if got != (expected["unbilled"], expected["live"]):
        raise AssertionError(f"active but unbilled {got}, the data set has {expected['unbilled'], expected['live']}")
    if int(float(metrics["pricing_exceptions"]["numerator"])) != expected["discounted"]:
        raise AssertionError("the pricing exceptions are not the discounted invoices of the week")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=env_int("COS_BENCH_BOARD_N", 100_000))
    parser.add_argument("--runs", type=int, default=env_int("COS_BENCH_BOARD_RUNS", 3))
    args = parser.parse_args(argv)
    django_setup(name="board")
    ids = data_set(args.n)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM billing_invoice")
        (invoices,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM provisioning_serviceperiod")
        (periods,) = cursor.fetchone()
    print(
        f"== the board for {args.n:,} subscribers (PostgreSQL): {periods:,} ledger periods, {invoices:,} invoices and "
        f"credit notes; set up in {ids['setup']:.1f} s; at {AT:%Y-%m-%d %H:%M} UTC ==",
        flush=True,
    )
    expected = expected_now()
    figures = measure(max(args.runs, 1), ids["providers"][0])
    check(figures, expected)
    print(
        f"live {expected['live']:,}, unbilled {expected['unbilled']:,}, discounted invoices this week "
        f"{expected['discounted']:,} (the board's readings agree)"
    )
    print()
    print(f"{'page':<16} {'seconds':>8} {'x raw':>7} {'first s':>8}")
    for name in ("board", "provider board", "drill-down"):
        print(
            f"{name:<16} {figures[name]:>8.3f} {figures[name] / figures['raw']:>6.1f}x {figures[name + ' first']:>8.3f}"
        )
    print(f"{'raw reading':<16} {figures['raw']:>8.3f}")
    print(f"{'raw x 12 weeks':<16} {figures['raw12']:>8.3f}")
    print(
        "board: /ops/board/ (ten readings, each with its twelve-week trend), median of the runs; first: a scope's "
        "first reading (its eleven closed weeks computed and kept); raw reading: one active-but-unbilled reading in "
        "plain SQL (the board's largest question)"
    )
    print()
    print(
        f"target the whole board for {args.n:,} subscribers in <= {TARGET_SECONDS:.0f} s: {figures['board']:.3f} s  "
        f"{verdict(figures['board'] <= TARGET_SECONDS)}"
    )
    return figures


if __name__ == "__main__":
    run(main)
