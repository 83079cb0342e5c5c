"""Benchmark: the month's wholesale settlement (settlement_run) over N service periods (PostgreSQL), default
1,000,000, and N/10 to show that memory stays flat.

The data set is built with set-based SQL in a fresh database of the benchmark's own (bench.common.django_setup),
dropped at exit: N/4 services (each with its customer, address, ONT, order, order line and subscription), four
ledger periods each, all of them on November 2026's days. Five providers in two marketplaces (Stockholm and
Helsinki time, so a period's local days depend on its marketplace), four areas, three network profiles. The mix:
15 % activated inside the month (an activation fee), 5 % switched to their provider inside the month, the rest
activated in October; inside the month each service is then suspended and resumed (cause 'suspend', 20 %) or
changes profile twice, then changes profile once more: that last period is open, or (10 %) ends mid-month with a
deactivation. The period boundaries fall at every hour of three days (some on the next local day). Rate cards: a
default card (for the provider without one), four provider cards with two or three versions changing on the 11th
and the 21st (lines split there), an area card and a marketplace card; per-profile and any-profile rates,
activation fees, suspended-day rates. Settlement models: one provider settles access only in one marketplace, one
has a revenue share in the other.

Measured at each size: `settlement_run(month="2026-11")` for every provider, from no statements (the month's first
run: the median of COS_BENCH_WHOLESALE_RUNS runs, the statement tables emptied before each), after a warm-up run
under tracemalloc; then once more over the drafts the last one left, under tracemalloc too (a rerun rebuilds each
draft's lines: what re-running a month before its statements are issued costs). Baseline, measured in the same run
(median of three, after a warm-up): the raw PostgreSQL GROUP BY of the same rows: every period overlapping the
month joined to its marketplace's time zone, cut to the month in local days, counted and summed per provider. For
reference (not judged), the run's lines written again by INSERT ... SELECT into a new table of their columns: bare
(the floor of writing them at all), with the line table's indexes, and with its indexes and foreign keys (the floor
of any query with this schema). The statements are checked against the raw aggregate (each period's days in the
month are on its provider's statement), and the rerun's against the first runs'.

Targets, at N (the issue's):
- the month's run <= 1 s;
- the month's run <= 8x the raw GROUP BY;
- memory flat in N: the Python allocations' peak (tracemalloc; the warm-up run's and the rerun's) grows < 3x for
  10x the periods (counted from 1 MB at least). The peak resident set above a run's start is shown beside it.

Options: --n (COS_BENCH_WHOLESALE_N), --runs (COS_BENCH_WHOLESALE_RUNS, 3), --explain (after the figures, one more
run with each SQL statement timed and the largest provider's line INSERTs under EXPLAIN ANALYZE).
Environment: DATABASE_URL (required; its database name must contain "bench"), COS_BENCH_KEEP=1 keeps the database.
Exit status: 0 when every target passed, 1 when one was missed, 2 when the benchmark could not measure.
"""

import argparse
import gc
import re
import statistics
import sys
import time
import tracemalloc
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import django_setup, env_int, memory_mb, peak_reset, run, verdict  # noqa: E402

MONTH = "2026-11"
MONTH_START, MONTH_END = date(2026, 11, 1), date(2026, 12, 1)
PROVIDERS = 5
AREAS = 4
PROFILES = ("HSI_100_100", "HSI_250_250", "HSI_1000_1000")
ZONES = ("Europe/Stockholm", "Europe/Helsinki")
PERIODS_PER_SERVICE = 4
TARGET_SECONDS = 1.0
TARGET_RATIO = 8.0
MEMORY_GROWTH = 3.0


# --- the world: organisations, marketplaces, products, rate cards ---------------------------------------------


def _rates(base: int, *, fee: int = 500, suspended: int = 30) -> list:
    """An any-profile internet rate at `base` and a dearer one for the gigabit profile."""
    from wholesale.rates import RateInput

    return [
        RateInput("internet", Decimal(base), activation_fee=Decimal(fee), suspended_rate=Decimal(suspended)),
        RateInput(
            "internet",
            Decimal(base + 60),
            profile="HSI_1000_1000",
            activation_fee=Decimal(fee),
            suspended_rate=Decimal(suspended),
        ),
    ]


def world() -> dict:
    """The operator, five providers in two marketplaces, four areas, three internet products per provider, their
    prices, and the rate cards; returns the ids the data set needs."""
    from cos.choices import OrganizationKind
    from cos.models import Area, Organization
    from marketplace.choices import SettlementModel
    from marketplace.models import ContractTerm, Marketplace, Participation, Price, Product
    from wholesale.rates import rate_card_create

    operator = Organization.objects.create(
        slug="bench-ws-operator", name="Bench Stadsnät", kind=OrganizationKind.NETWORK_OPERATOR, country="SE"
    )
    areas = [Area.objects.create(code=f"BWS{i}", name=f"Wholesale benchmark {i}") for i in range(AREAS)]
    marketplaces = [
        Marketplace.objects.create(
            slug=f"bench-ws-{i}",
            name=f"Bench wholesale {i}",
            segment="residential",
            currency="SEK",
            tax_rate=Decimal("0.25"),
            time_zone=zone,
        )
        for i, zone in enumerate(ZONES)
    ]
    providers, products, prices = [], [], []
    for p in range(PROVIDERS):
        provider = Organization.objects.create(
            slug=f"bench-ws-isp-{p}", name=f"Bench ISP {p}", kind=OrganizationKind.SERVICE_PROVIDER, country="SE"
        )
        providers.append(provider)
        term = ContractTerm.objects.create(provider=provider, name="none")
        for i, profile in enumerate(PROFILES):
            speed = int(profile.split("_")[1])
            product = Product.objects.create(
                provider=provider,
                name=f"Fiber {speed}",
                category="internet",
                download_mbps=speed,
                upload_mbps=speed,
                service_profile=profile,
                requires_category="",
                term=term,
            )
            products.append(product.pk)
            for marketplace in marketplaces:
                prices.append(
                    Price.objects.create(
                        product=product,
                        marketplace=marketplace,
                        monthly_amount=Decimal(299 + 100 * i),
                        start_fee=Decimal("0"),
                        currency="SEK",
                        valid_from=date(2024, 1, 1),
                    ).pk
                )
        for m, marketplace in enumerate(marketplaces):
            model = SettlementModel.WHOLESALE
            if (p, m) == (3, 1):
                model = SettlementModel.ACCESS_ONLY
            elif (p, m) == (4, 0):
                model = SettlementModel.REVENUE_SHARE
            Participation.objects.create(marketplace=marketplace, provider=provider, settlement_model=model)

    def card(name, valid_from, rates, **scope):
        rate_card_create(operator=operator, name=name, currency="SEK", valid_from=valid_from, rates=rates, **scope)

    card("Default access", date(2020, 1, 1), _rates(150))  # provider 4 has no card of its own
    versions = {
        0: (date(2026, 11, 11), date(2026, 11, 21)),
        1: (date(2026, 11, 11),),
        2: (date(2026, 11, 21),),
        3: (date(2026, 11, 11), date(2026, 11, 21)),
    }
    for p, changes in versions.items():
        for v, valid_from in enumerate((date(2025, 1, 1), *changes)):
            card(f"ISP {p} access", valid_from, _rates(100 + 10 * p + 5 * v), provider=providers[p])
    card("ISP 2 in area 3", date(2026, 1, 1), _rates(90, fee=300), provider=providers[2], area=areas[3])
    card(
        "ISP 1 in Helsinki",
        date(2026, 6, 1),
        _rates(95, suspended=0),
        provider=providers[1],
        marketplace=marketplaces[1],
    )
    return {
        "operator": operator.pk,
        "providers": [p.pk for p in providers],
        "marketplaces": [m.pk for m in marketplaces],
        "areas": [a.pk for a in areas],
        "products": products,
        "prices": prices,
    }


# --- the data set: services and their ledger periods ---------------------------------------------------------

# One row per service g: its provider, marketplace, area and product, and its four periods' boundaries (UTC).
PLAN = """
CREATE TEMP TABLE bench_plan AS
SELECT g, k, pv, mk, ar, pi, pv * 3 + pi + 1 AS product_index, (pv * 3 + pi) * 2 + mk + 1 AS price_index,
    CASE WHEN k < 3 THEN timestamptz '2026-11-01 09:00+00' + (g %% 9) * interval '1 day'
         WHEN k = 3 THEN timestamptz '2026-11-03 15:00+00' + (g %% 6) * interval '1 day'
         ELSE timestamptz '2026-10-01 10:00+00' + (g %% 30) * interval '1 day' END AS t0,
    CASE WHEN k < 3 THEN 'activate' WHEN k = 3 THEN 'switch' ELSE 'activate' END AS cause0,
    timestamptz '2026-11-10 00:00+00' + (g %% 72) * interval '1 hour' AS t1,
    timestamptz '2026-11-16 00:00+00' + ((g * 7) %% 72) * interval '1 hour' AS t2,
    timestamptz '2026-11-22 00:00+00' + ((g * 13) %% 72) * interval '1 hour' AS t3,
    CASE WHEN k IN (8, 9) THEN timestamptz '2026-11-27 00:00+00' + (g %% 48) * interval '1 hour' END AS t4,
    k BETWEEN 4 AND 7 AS suspended
FROM (
    SELECT g, g %% 20 AS k, g %% %(providers_n)s AS pv, (g / 5) %% 2 AS mk, (g / 10) %% %(areas_n)s AS ar,
        (g / 40) %% 3 AS pi
    FROM generate_series(1, %(services)s) AS g
) AS s
"""

INSERTS = (
    """
    INSERT INTO cos_customer (id, created_at, updated_at, customer_type, first_name, last_name, company_name, email,
        phone, billing_street, billing_postal_code, billing_city, billing_country, language, notify_by_email,
        notify_by_sms)
    SELECT g, now(), now(), 'residential', 'Kund', g::text, '', 'kund' || g || '@bench.example', '',
        'Grossistgatan ' || g, '11111', 'Benchby', 'SE', 'sv', true, false
    FROM bench_plan
    """,
    """
    INSERT INTO cos_addressobject (id, created_at, updated_at, external_id, street, house_number, suffix, unit,
        postal_code, city, country, building_type, units, status, circuit_id, circuit_name, extra, area_id)
    SELECT g, now(), now(), 'BWS-' || g, 'Grossistgatan', 1 + g %% 500, '', (g / 500)::text, '11111', 'Benchby',
        'SE', 'single_family', 1, 'connected', '', '', '{}', (%(areas)s::bigint[])[ar + 1]
    FROM bench_plan
    """,
    """
    INSERT INTO cos_ont (id, created_at, updated_at, serial, vendor, model, bound_at, address_id, pon_port_id)
    SELECT g, now(), now(), 'BNCH' || lpad(upper(to_hex(g)), 8, '0'), 'adtran', 'SDX 611', t0, g, NULL
    FROM bench_plan
    """,
    """
    INSERT INTO marketplace_order (id, created_at, updated_at, status, channel, idempotency_key, request_fingerprint,
        preferred_install_slot, is_preorder, rejection_reason, cancellation_reason, address_id, customer_id,
        marketplace_id, provider_id)
    SELECT g, now(), now(), 'completed', 'api', '', '', 'any', false, '', '', g, g,
        (%(marketplaces)s::bigint[])[mk + 1], (%(providers)s::bigint[])[pv + 1]
    FROM bench_plan
    """,
    """
    INSERT INTO marketplace_orderline (id, created_at, updated_at, category, monthly_amount, start_fee, currency,
        promotion_kind, promotion_value, promotion_periods, minimum_months, notice_days, order_id, price_id, product_id)
    SELECT g, now(), now(), 'internet', 299 + 100 * pi, 0, 'SEK', '', NULL, NULL, 0, 30, g,
        (%(prices)s::bigint[])[price_index], (%(products)s::bigint[])[product_index]
    FROM bench_plan
    """,
    """
    INSERT INTO marketplace_subscription (id, created_at, updated_at, category, status, monthly_amount, start_fee,
        currency, promotion_kind, promotion_value, promotion_periods, minimum_months, notice_days, billing_cycle,
        activated_at, terminated_at, address_id, customer_id, marketplace_id, order_line_id, product_id, provider_id,
        cancellation_reason, cancellation_note, early_termination_charged)
    SELECT g, now(), now(), 'internet', CASE WHEN t4 IS NULL THEN 'active' ELSE 'terminated' END, 299 + 100 * pi, 0,
        'SEK', '', NULL, NULL, 0, 30, 'monthly', t0, t4, g, g, (%(marketplaces)s::bigint[])[mk + 1], g,
        (%(products)s::bigint[])[product_index], (%(providers)s::bigint[])[pv + 1], '', '', false
    FROM bench_plan
    """,
    """
    INSERT INTO provisioning_serviceinstance (id, created_at, updated_at, service_profile, download_mbps, upload_mbps,
        c_vlan, s_vlan, qos_class, status, activated_at, deactivated_at, billing_blocked, failure_reason, address_id,
        olt_id, ont_id, pon_port_id, provider_id, subscription_id, network_service_id)
    SELECT g, now(), now(), (%(profiles)s::text[])[(pi + 2) %% 3 + 1], NULL, NULL, NULL, NULL, 'best_effort',
        CASE WHEN t4 IS NULL THEN 'active' ELSE 'inactive' END, t0, t4, false, '', g, NULL, g, NULL,
        (%(providers)s::bigint[])[pv + 1], g, 'cos-' || g
    FROM bench_plan
    """,
    # Four periods per service, one after the other: the first opened by the activation (or the switch), then a
    # profile change or a suspension, a change back (resume) or another, and a last one, open or deactivated.
    """
    INSERT INTO provisioning_serviceperiod (id, network_service_id, profile, download_mbps, upload_mbps, c_vlan,
        s_vlan, started_at, ended_at, cause, end_cause, recorded_at, address_id, end_job_id, job_id, olt_id, ont_id,
        pon_port_id, provider_id, service_id, subscription_id)
    SELECT (g - 1) * 4 + n, 'cos-' || g, profile, CASE WHEN profile = 'suspended' THEN 1 ELSE 100 END,
        CASE WHEN profile = 'suspended' THEN 1 ELSE 100 END, NULL, NULL, started, ended, cause, end_cause, started,
        g, NULL, NULL, NULL, g, NULL, (%(providers)s::bigint[])[pv + 1], g, g
    FROM (
        SELECT g, pv, 1 AS n, (%(profiles)s::text[])[pi + 1] AS profile, t0 AS started, t1 AS ended,
            cause0 AS cause, CASE WHEN suspended THEN 'suspend' ELSE 'modify' END AS end_cause
        FROM bench_plan
        UNION ALL
        SELECT g, pv, 2, CASE WHEN suspended THEN 'suspended' ELSE (%(profiles)s::text[])[(pi + 1) %% 3 + 1] END,
            t1, t2, CASE WHEN suspended THEN 'suspend' ELSE 'modify' END,
            CASE WHEN suspended THEN 'resume' ELSE 'modify' END
        FROM bench_plan
        UNION ALL
        SELECT g, pv, 3, (%(profiles)s::text[])[pi + 1], t2, t3, CASE WHEN suspended THEN 'resume' ELSE 'modify' END,
            'modify'
        FROM bench_plan
        UNION ALL
        SELECT g, pv, 4, (%(profiles)s::text[])[(pi + 2) %% 3 + 1], t3, t4, 'modify',
            CASE WHEN t4 IS NULL THEN '' ELSE 'deactivate' END
        FROM bench_plan
    ) AS periods
    """,
)

DATA_TABLES = (
    "provisioning_serviceperiod, provisioning_serviceinstance, marketplace_subscription, marketplace_orderline, "
    "marketplace_order, cos_ont, cos_addressobject, cos_customer"
)
SEQUENCED = (
    "cos_customer",
    "cos_addressobject",
    "cos_ont",
    "marketplace_order",
    "marketplace_orderline",
    "marketplace_subscription",
    "provisioning_serviceinstance",
    "provisioning_serviceperiod",
)
SETTLEMENT_TABLES = (
    "wholesale_disputedline, wholesale_statementline, wholesale_statementdispute, wholesale_statement, "
    "wholesale_rateslice, wholesale_settlementrun"
)


def data_set(ids: dict, periods: int) -> float:
    """`periods` ledger periods (four per service, with the services, subscriptions, orders, addresses, ONTs and
    customers they need), replacing any of an earlier size; returns the seconds taken."""
    from django.db import connection

    start = time.perf_counter()
    services = periods // PERIODS_PER_SERVICE
    params = {**ids, "services": services, "providers_n": PROVIDERS, "areas_n": AREAS, "profiles": list(PROFILES)}
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {SETTLEMENT_TABLES}, {DATA_TABLES} CASCADE")
        cursor.execute("DROP TABLE IF EXISTS bench_plan")
        cursor.execute(PLAN, params)
        for sql in INSERTS:
            cursor.execute(sql, params)
        for table in SEQUENCED:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        cursor.execute("DROP TABLE bench_plan")
    vacuum()
    return time.perf_counter() - start


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def settlement_reset() -> None:
    """No statement, line or run left: the month's next run is its first."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {SETTLEMENT_TABLES}")


# --- the run and its baseline --------------------------------------------------------------------------------

RAW_AGGREGATE = """
SELECT provider_id, count(*) FILTER (WHERE days > 0), sum(days) FILTER (WHERE days > 0)
FROM (
    SELECT p.provider_id,
        LEAST(COALESCE((p.ended_at AT TIME ZONE m.time_zone)::date, %(end)s), %(end)s)
        - GREATEST((p.started_at AT TIME ZONE m.time_zone)::date, %(start)s) AS days
    FROM provisioning_serviceperiod p
    JOIN marketplace_subscription s ON s.id = p.subscription_id
    JOIN marketplace_marketplace m ON m.id = s.marketplace_id
    WHERE p.started_at < %(end_utc)s AND (p.ended_at IS NULL OR p.ended_at > %(start_utc)s)
) AS cut
GROUP BY provider_id
"""


def _bounds() -> dict:
    """The month in local days, and moments a day either side in UTC (every local day of it lies between)."""
    utc = ZoneInfo("UTC")
    return {
        "start": MONTH_START,
        "end": MONTH_END,
        "start_utc": datetime(2026, 10, 31, tzinfo=utc),
        "end_utc": datetime(2026, 12, 2, tzinfo=utc),
    }


def raw_aggregate() -> tuple[float, dict[int, tuple[int, int]]]:
    """(median seconds of three after a warm-up, {provider id: (periods with days in the month, days)})."""
    from django.db import connection

    timings, rows = [], []
    with connection.cursor() as cursor:
        for _ in range(4):
            start = time.perf_counter()
            cursor.execute(RAW_AGGREGATE, _bounds())
            rows = cursor.fetchall()
            timings.append(time.perf_counter() - start)
    return statistics.median(timings[1:]), {provider: (count, days) for provider, count, days in rows}


def settle(operator_id: int, *, trace: bool = False) -> dict:
    """One settlement_run of the month for every provider: seconds, lines, the memory it took, and its totals."""
    from cos.models import Organization
    from wholesale.settlement import settlement_run

    operator = Organization.objects.get(pk=operator_id)
    gc.collect()
    reset = peak_reset()
    before = memory_mb("VmRSS")
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    result = settlement_run(month=MONTH, operator=operator)
    seconds = time.perf_counter() - start
    traced = 0.0
    if trace:
        traced = tracemalloc.get_traced_memory()[1] / 1024**2
        tracemalloc.stop()
    peak = memory_mb("VmHWM" if reset else "ru_maxrss")
    return {
        "seconds": seconds,
        "lines": result.lines,
        "statements": len(result.statements),
        "totals": result.totals,
        "growth": peak - before,
        "traced": traced,
    }


def statement_figures() -> dict:
    """What the run put on the statements: lines by kind, days per provider, the statements' total."""
    from django.db.models import Count, Sum

    from wholesale.choices import DAY_KINDS
    from wholesale.models import Statement, StatementLine

    lines = StatementLine.objects.filter(statement__month=MONTH_START)
    return {
        "kinds": dict(lines.values_list("kind").annotate(n=Count("id")).order_by()),
        "days": dict(
            lines.filter(kind__in=DAY_KINDS).values_list("statement__provider_id").annotate(days=Sum("days")).order_by()
        ),
        "periods": lines.filter(kind__in=DAY_KINDS).values("period_id").distinct().count(),
        "total": Statement.objects.filter(month=MONTH_START).aggregate(t=Sum("total"))["t"],
    }


def write_floors() -> dict[str, float]:
    """Seconds to write the run's lines again, by INSERT ... SELECT into a new (logged) table of the same columns:
    bare (the floor of writing them at all: the best of two), with the line table's indexes, and with its indexes
    and foreign keys (checked at once, not at the commit; the floor of any query with this schema)."""
    from django.db import connection

    timings: dict[str, float] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'wholesale_statementline'::regclass AND contype = 'f' ORDER BY conname"
        )
        keys = [definition.replace(" DEFERRABLE INITIALLY DEFERRED", "") for (definition,) in cursor.fetchall()]
        for name, including, repeat in (("bare", "DEFAULTS", 2), ("indexes", "ALL", 1), ("keys", "ALL", 1)):
            for _ in range(repeat):
                cursor.execute(f"CREATE TABLE bench_line_copy (LIKE wholesale_statementline INCLUDING {including})")
                if name == "keys":
                    for key in keys:
                        cursor.execute(f"ALTER TABLE bench_line_copy ADD {key}")
                start = time.perf_counter()
                cursor.execute("INSERT INTO bench_line_copy SELECT * FROM wholesale_statementline")
                seconds = time.perf_counter() - start
                timings[name] = min(timings.get(name, seconds), seconds)
                cursor.execute("DROP TABLE bench_line_copy")
    return timings


def explain(operator_id: int) -> None:
    """One more run of the month (a rerun over the drafts), each of its SQL statements timed, grouped by verb and
    table; the statement-line INSERTs of the provider with the most periods run under EXPLAIN (ANALYZE, BUFFERS),
    which executes them too: the plan, then the time of each constraint trigger (the foreign keys checked per row)."""
    from django.db import connection, transaction

    from cos.models import Organization
    from wholesale.settlement import settlement_run

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT provider_id FROM provisioning_serviceperiod GROUP BY provider_id ORDER BY count(*) DESC LIMIT 1"
        )
        largest = cursor.fetchone()[0]
    spent: dict[str, list] = defaultdict(lambda: [0.0, 0])
    plans: list[str] = []

    def timed_sql(execute, sql, params, many, context):
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)', sql)
        kind = f"{sql.split()[0]} {table.group(1) if table else ''}"
        if sql.lstrip().startswith("INSERT INTO wholesale_statementline") and "provisioning_serviceperiod" in sql:
            kind += ": activation fees" if "'activation'" in sql else ": days"
        start = time.perf_counter()
        if kind.endswith(("fees", "days")) and params.get("provider") == largest:
            raw = context["cursor"].cursor  # psycopg's own: not through this wrapper again
            raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plans.append(f"\n-- EXPLAIN ANALYZE, {kind} of provider {largest} --")
            plans.extend(row[0] for row in raw.fetchall())
            result = None
        else:
            result = execute(sql, params, many, context)
        spent[kind][0] += time.perf_counter() - start
        spent[kind][1] += 1
        return result

    operator = Organization.objects.get(pk=operator_id)
    start = time.perf_counter()
    with transaction.atomic(), connection.execute_wrapper(timed_sql):
        # The foreign keys are checked at each statement instead of at the commit, so that the plans show them.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        settlement_run(month=MONTH, operator=operator)
    total = time.perf_counter() - start
    print(f"\n-- where a rerun's {total:.2f} s go (its SQL statements, by verb and table) --")
    for kind, (seconds, count) in sorted(spent.items(), key=lambda item: -item[1][0]):
        print(f"{seconds:8.3f} s {count:>6}x  {kind}")
    print("\n".join(plans))


# --- main ----------------------------------------------------------------------------------------------------


def measure(ids: dict, periods: int, runs: int) -> dict:
    """Build `periods`; the baseline; a warm-up run (traced); the month's first runs; the floors of writing the
    lines; a rerun over the drafts (traced). Checks the statements against the raw aggregate (every period's days
    in the month on its provider's statement) and the rerun against the first runs."""
    setup = data_set(ids, periods)
    raw_seconds, raw = raw_aggregate()
    warm = settle(ids["operator"], trace=True)
    firsts = []
    for _ in range(runs):
        settlement_reset()
        firsts.append(settle(ids["operator"]))
    figures = statement_figures()
    for provider, (_count, days) in raw.items():
        if figures["days"].get(provider) != days:
            raise AssertionError(
                f"provider {provider}: {figures['days'].get(provider)} days on the statement, {days} in the ledger"
            )
    counted = sum(count for count, _ in raw.values())
    if figures["periods"] != counted:
        raise AssertionError(f"{figures['periods']:,} periods on the statements, {counted:,} with days in the month")
    floors = write_floors()
    rerun = settle(ids["operator"], trace=True)
    if rerun["totals"] != firsts[-1]["totals"] or statement_figures() != figures:
        raise AssertionError("the rerun over the drafts gave other statements than the first run")
    return {
        "setup": setup,
        "periods": counted,
        "raw": raw_seconds,
        "warm": warm,
        "firsts": firsts,
        "seconds": statistics.median(r["seconds"] for r in firsts),
        "rerun": rerun,
        "floors": floors,
        "figures": figures,
    }


def benchmark(ids: dict, sizes: tuple[int, ...], runs: int) -> dict:
    """Each size measured (see measure), said as it is done; then the table and the verdicts at the largest."""
    print(
        f"== wholesale settlement of {MONTH} (PostgreSQL; {PROVIDERS} providers, {len(ZONES)} marketplaces, "
        f"{AREAS} areas; {PERIODS_PER_SERVICE} periods per service) =="
    )
    results = {}
    for size in sizes:
        r = results[size] = measure(ids, size, max(runs, 1))
        kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(r["figures"]["kinds"].items()))
        times = ", ".join(f"{x['seconds']:.2f}" for x in r["firsts"])
        print(
            f"{size:,} periods (set up in {r['setup']:.1f} s): {r['periods']:,} with days in the month; "
            f"{r['firsts'][-1]['lines']:,} lines ({kinds}) on {r['firsts'][-1]['statements']} statements, "
            f"{r['figures']['total']:,} SEK; first runs {times} s (warm-up {r['warm']['seconds']:.2f} s, traced); "
            f"rerun over the drafts {r['rerun']['seconds']:.2f} s (traced)",
            flush=True,
        )
    _report(results, sizes)
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=env_int("COS_BENCH_WHOLESALE_N", 1_000_000))
    parser.add_argument("--runs", type=int, default=env_int("COS_BENCH_WHOLESALE_RUNS", 3))
    parser.add_argument("--explain", action="store_true", help="after the figures: where a rerun's time goes")
    args = parser.parse_args(argv)
    django_setup(name="wholesale")
    ids = world()
    results = benchmark(ids, (args.n // 10, args.n), args.runs)
    if args.explain:
        explain(ids["operator"])
    return results


def _peak(r: dict) -> float:
    """The largest of a size's Python allocation peaks (tracemalloc): the warm-up run's and the rerun's."""
    return max(r["warm"]["traced"], r["rerun"]["traced"])


def _report(results: dict, sizes: tuple[int, ...]) -> None:
    print()
    print(
        f"{'periods':>9} {'run s':>7} {'periods/s':>10} {'lines/s':>9} {'raw s':>6} {'ratio':>6} {'rerun s':>8} "
        f"{'bare s':>7} {'indexed s':>9} {'keys s':>7} {'traced MB':>9} {'RSS MB':>7}"
    )
    for size, r in results.items():
        lines, floors = r["firsts"][-1]["lines"], r["floors"]
        rss = max([x["growth"] for x in r["firsts"]] + [r["warm"]["growth"], r["rerun"]["growth"]])
        print(
            f"{size:>9,} {r['seconds']:>7.2f} {r['periods'] / r['seconds']:>10,.0f} {lines / r['seconds']:>9,.0f} "
            f"{r['raw']:>6.3f} {r['seconds'] / r['raw']:>5.1f}x {r['rerun']['seconds']:>8.2f} {floors['bare']:>7.2f} "
            f"{floors['indexes']:>9.2f} {floors['keys']:>7.2f} {_peak(r):>9.1f} {rss:>7.1f}"
        )
    print(
        "run: the median of the month's first runs; raw: the GROUP BY baseline (median of three); rerun: once more "
        "over the drafts; bare, indexed, keys: the run's lines written again into a table of their columns, with "
        "the line table's indexes, and with its indexes and foreign keys; traced: the largest tracemalloc peak of "
        "the warm-up and the rerun; RSS: the largest peak resident set above a run's start"
    )
    large, n = results[sizes[-1]], f"{sizes[-1]:,}"
    print()
    print(
        f"target {n} periods in <= {TARGET_SECONDS:.0f} s: {large['seconds']:.2f} s  "
        f"{verdict(large['seconds'] <= TARGET_SECONDS)}"
    )
    ratio = large["seconds"] / large["raw"]
    print(
        f"target <= {TARGET_RATIO:.0f}x the raw GROUP BY at {n}: {ratio:.1f}x ({large['raw']:.3f} s)  "
        f"{verdict(ratio <= TARGET_RATIO)}"
    )
    if len(sizes) > 1:
        small = results[sizes[0]]
        grown = _peak(large) / max(_peak(small), 1.0)
        print(
            f"target memory flat in N (Python's peak < {MEMORY_GROWTH:.0f}x for 10x the periods, from 1 MB): "
            f"{_peak(small):.1f} MB at {sizes[0]:,}, {_peak(large):.1f} MB at {n} ({grown:.1f}x)  "
            f"{verdict(grown < MEMORY_GROWTH)}"
        )


if __name__ == "__main__":
    run(main)
