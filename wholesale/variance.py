"""Variance, three ways: what the network delivered (ledger days, priced at the cards), what subscribers were billed
(retail days, from billing) and what the provider's statement charges (statement lines), per service and month.

Each difference is a Variance row of its kind; the settlement variance of a provider's month is
|expected − actual| ÷ expected, expected being the ledger's days at the cards and actual the statement's charge.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum

from billing.engine import money
from billing.selectors import manual_credits, retail_days
from cos.models import Organization
from provisioning.models import ServiceInstance
from wholesale.choices import DAY_KINDS, VarianceKind
from wholesale.models import SettlementRun, StatementLine, Variance
from wholesale.rates import slices_make
from wholesale.settlement import (
    _ZONE_SLACK,
    _Dialect,
    _utc,
    expected_by_service_sql,
    month_of,
    network_days_sql,
    network_operator,
    providers_to_settle,
)

CENT = Decimal("0.01")


@dataclass
class _Service:
    subscription_id: int | None = None
    network_days: int = 0
    covered_days: int = 0
    expected: Decimal = Decimal("0.00")
    statement_days: int = 0
    charged: Decimal = Decimal("0.00")
    retail_days: int = 0
    credited: Decimal = Decimal("0.00")


def _rows_of(provider: Organization, operator: Organization, month, services: dict[int, _Service]) -> list[Variance]:
    rows = []

    def add(kind, service_id, item, amount, detail):
        rows.append(
            Variance(
                operator=operator,
                provider=provider,
                month=month.start,
                kind=kind,
                service_id=service_id,
                subscription_id=item.subscription_id,
                network_days=item.network_days,
                retail_days=item.retail_days,
                statement_days=item.statement_days,
                expected=item.expected,
                charged=item.charged,
                amount=money(amount),
                detail=detail[:300],
            )
        )

    for service_id, item in sorted(services.items()):
        gap = item.expected - item.charged
        if item.statement_days < item.network_days:
            uncovered = item.network_days - item.covered_days
            detail = f"{item.network_days - item.statement_days} live day(s) not charged"
            if uncovered:
                detail += f"; no rate card covers {uncovered} of them"
            add(VarianceKind.LIVE_NOT_ON_STATEMENT, service_id, item, gap, detail)
        elif item.statement_days > item.network_days:
            add(
                VarianceKind.ON_STATEMENT_NOT_LIVE,
                service_id,
                item,
                gap,
                f"{item.statement_days - item.network_days} charged day(s) the ledger does not have live",
            )
        elif gap:
            add(
                VarianceKind.RATE_MISMATCH,
                service_id,
                item,
                gap,
                f"charged {item.charged}, the cards say {item.expected}",
            )
        per_day = item.expected / item.network_days if item.network_days else Decimal("0")
        if item.retail_days > item.statement_days:
            days = item.retail_days - item.statement_days
            add(
                VarianceKind.RETAIL_WITHOUT_WHOLESALE,
                service_id,
                item,
                per_day * days,
                f"{days} day(s) billed to the subscriber are not on the statement",
            )
        elif item.retail_days < item.statement_days:
            days = item.statement_days - item.retail_days
            add(
                VarianceKind.WHOLESALE_WITHOUT_RETAIL,
                service_id,
                item,
                -per_day * days,
                f"{days} day(s) on the statement are not billed to the subscriber",
            )
        elif item.credited > 0 and item.statement_days:
            add(
                VarianceKind.WHOLESALE_WITHOUT_RETAIL,
                service_id,
                item,
                -min(item.charged, item.credited),
                f"{item.credited} credited to the subscriber by hand for days on the statement",
            )
    return rows


def variance_check(
    *, month, operator: Organization | None = None, provider: Organization | None = None
) -> list[Variance]:
    """Compare the three for the month and keep the differences as Variance rows (replacing the month's last)."""
    period = month_of(month)
    operator = operator or network_operator()
    d = _Dialect(connection.vendor)
    made = []
    with transaction.atomic():
        run = SettlementRun.objects.create(operator=operator, month=period.start, provider=provider)
        slices_make(run, start=period.start, end=period.end)
        for who in providers_to_settle(provider):
            params = {
                "run": run.pk,
                "provider": who.pk,
                "month": period.start,
                "start": period.start,
                "end": period.end,
                "start_utc": _utc(period.start) - _ZONE_SLACK,
                "end_utc": _utc(period.end) + _ZONE_SLACK,
                "month_days": period.days,
            }
            services: dict[int, _Service] = {}
            with connection.cursor() as cursor:
                cursor.execute(network_days_sql(d), params)
                for service_id, subscription_id, days in cursor.fetchall():
                    services[service_id] = _Service(subscription_id=subscription_id, network_days=int(days))
                cursor.execute(expected_by_service_sql(d), params)
                for service_id, _subscription_id, _days, cents, covered in cursor.fetchall():
                    item = services[service_id]
                    item.expected, item.covered_days = (Decimal(int(cents)) * CENT), int(covered)
            charged = (
                StatementLine.objects.filter(
                    statement__operator=operator,
                    statement__provider=who,
                    statement__month=period.start,
                    kind__in=DAY_KINDS,
                )
                .values("service_id", "subscription_id")
                .annotate(days=Sum("days"), amount=Sum("amount"))
            )
            for row in charged:
                item = services.setdefault(row["service_id"], _Service(subscription_id=row["subscription_id"]))
                item.statement_days, item.charged = int(row["days"]), money(row["amount"])
            by_subscription = {item.subscription_id: item for item in services.values()}
            retail = retail_days(provider_id=who.pk, start=period.start, end=period.end)
            credits = manual_credits(provider_id=who.pk, start=period.start, end=period.end)
            unknown = (set(retail) | set(credits)) - set(by_subscription)
            if unknown:
                for service_id, subscription_id in ServiceInstance.objects.filter(
                    subscription_id__in=unknown
                ).values_list("pk", "subscription_id"):
                    item = services.setdefault(service_id, _Service(subscription_id=subscription_id))
                    by_subscription[subscription_id] = item
            for subscription_id, days in retail.items():
                if subscription_id in by_subscription:
                    by_subscription[subscription_id].retail_days = days
            for subscription_id, amount in credits.items():
                if subscription_id in by_subscription:
                    by_subscription[subscription_id].credited = amount
            made += _rows_of(who, operator, period, services)
        stale = Variance.objects.filter(operator=operator, month=period.start)
        if provider is not None:
            stale = stale.filter(provider=provider)
        stale.delete()
        Variance.objects.bulk_create(made, batch_size=2000)
        run.delete()
    return made


def settlement_variance(*, provider: Organization, month, operator: Organization | None = None) -> dict:
    """|expected − actual| ÷ expected for the provider's month, from its statement and the last variance check:
    actual is what the statement charges for days; expected adds back the variance of network and rates. None
    where nothing is expected yet something is charged."""
    period = month_of(month)
    operator = operator or network_operator()
    actual = StatementLine.objects.filter(
        statement__operator=operator, statement__provider=provider, statement__month=period.start, kind__in=DAY_KINDS
    ).aggregate(total=Sum("amount"))["total"] or Decimal("0.00")
    network_kinds = (VarianceKind.LIVE_NOT_ON_STATEMENT, VarianceKind.ON_STATEMENT_NOT_LIVE, VarianceKind.RATE_MISMATCH)
    gap = Variance.objects.filter(
        operator=operator, provider=provider, month=period.start, kind__in=network_kinds
    ).aggregate(total=Sum("amount"))["total"] or Decimal("0.00")
    expected = money(actual + gap)
    # Nothing expected: 0 when nothing is charged either, else no ratio (None): a charge the network does not back.
    ratio = abs(expected - actual) / expected if expected else (Decimal("0") if not actual else None)
    return {"expected": expected, "actual": money(actual), "ratio": ratio}
