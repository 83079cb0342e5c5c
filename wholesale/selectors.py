"""Queries that read wholesale: the operator's month of settlement (each provider's statements, settlement
variance, variance by kind and open disputes) and the statement totals of the months before it."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Sum

from billing.engine import money
from cos.choices import OrganizationKind
from cos.models import Organization
from cos.periods import add_months
from marketplace.models import Participation
from wholesale.choices import DAY_KINDS, OPEN_DISPUTE_STATUSES, VarianceKind
from wholesale.models import Statement, StatementDispute, StatementLine, Variance
from wholesale.services import escalation_level

# The kinds that compare the network with the statement: what the statement would change by if it followed the
# ledger at the cards. The retail kinds compare the statement with what subscribers were billed, another question.
NETWORK_KINDS = (VarianceKind.LIVE_NOT_ON_STATEMENT, VarianceKind.ON_STATEMENT_NOT_LIVE, VarianceKind.RATE_MISMATCH)

# The board's target and alert for settlement variance.
VARIANCE_TARGET = Decimal("0.005")
VARIANCE_ALERT = Decimal("0.01")


def variance_thresholds() -> tuple[Decimal, Decimal]:
    """The settlement variance's target and alert level: the board's (BOARD_THRESHOLDS) where the operator set
    them."""
    own = settings.BOARD_THRESHOLDS.get("settlement_variance", {})
    return Decimal(str(own.get("target", VARIANCE_TARGET))), Decimal(str(own.get("alert", VARIANCE_ALERT)))


def last_closed_month(today: date) -> date:
    """The first day of the last month that is over."""
    return add_months(today.replace(day=1), -1)


@dataclass(frozen=True)
class SettlementVariance:
    """|expected − actual| ÷ expected: actual is what the month's statements charge for days, expected is that
    plus the network variance rows' amounts (what the statement would change by if it followed the ledger)."""

    expected: Decimal
    actual: Decimal

    @property
    def ratio(self) -> Decimal | None:
        """None where nothing was expected (no ledger days at a card): then any charge is a variance."""
        return abs(self.expected - self.actual) / self.expected if self.expected else None

    @property
    def percent(self) -> Decimal | None:
        ratio = self.ratio
        return None if ratio is None else (ratio * 100).quantize(Decimal("0.01"))

    @property
    def level(self) -> str:
        """ok (within the target), warn (up to the alert), bad (past it), or none (nothing expected, nothing
        charged)."""
        ratio = self.ratio
        if ratio is None:
            return "bad" if self.actual else "none"
        target, alert = variance_thresholds()
        if ratio <= target:
            return "ok"
        return "warn" if ratio <= alert else "bad"


@dataclass(frozen=True)
class VarianceByKind:
    kind: str
    label: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class OpenDispute:
    dispute: StatementDispute
    age_days: int
    escalation: int  # 0 under 30 days, then 1, 2, 3 at 30, 60, 90 days


@dataclass
class ProviderMonth:
    provider: Organization
    statements: list[Statement] = field(default_factory=list)
    variance: SettlementVariance = SettlementVariance(Decimal("0.00"), Decimal("0.00"))
    by_kind: list[VarianceByKind] = field(default_factory=list)
    disputes: list[OpenDispute] = field(default_factory=list)

    @property
    def variance_rows(self) -> int:
        return sum(row.count for row in self.by_kind)


@dataclass
class SettlementMonth:
    month: date
    operator: Organization | None
    providers: list[ProviderMonth]
    months: list[date]  # the chart's months, oldest first, ending with `month`
    # (provider id, currency) -> {month: the statement's total}
    totals: dict[tuple[int, str], dict[date, Decimal]]


def _providers(operator: Organization, start: date, month: date) -> list[Organization]:
    """Service providers on the network (a participation), or with a statement, a variance row or an open dispute
    to show: one query."""
    statements = Statement.objects.filter(
        operator=operator, provider=OuterRef("pk"), month__gte=start, month__lte=month
    )
    variances = Variance.objects.filter(operator=operator, provider=OuterRef("pk"), month=month)
    disputes = StatementDispute.objects.filter(
        statement__operator=operator, statement__provider=OuterRef("pk"), status__in=OPEN_DISPUTE_STATUSES
    )
    return list(
        Organization.objects.filter(kind=OrganizationKind.SERVICE_PROVIDER)
        .filter(
            Exists(Participation.objects.filter(provider=OuterRef("pk")))
            | Exists(statements)
            | Exists(variances)
            | Exists(disputes)
        )
        .order_by("name", "pk")
    )


def settlement_month(
    *, month: date, today: date, operator: Organization | None = None, history: int = 12
) -> SettlementMonth:
    """The operator's month of settlement, per provider, and the statement totals of the `history` months that
    end with it. A fixed number of queries, whatever the number of providers, statements, lines or months."""
    month = month.replace(day=1)
    start = add_months(month, 1 - history)
    months = [add_months(start, n) for n in range(history)]
    if operator is None:
        operator = Organization.objects.filter(kind=OrganizationKind.NETWORK_OPERATOR).order_by("pk").first()
    if operator is None:
        return SettlementMonth(month, None, [], months, {})
    rows = {provider.pk: ProviderMonth(provider) for provider in _providers(operator, start, month)}

    for statement in Statement.objects.filter(operator=operator, month=month, provider_id__in=list(rows)).order_by(
        "currency", "pk"
    ):
        rows[statement.provider_id].statements.append(statement)

    actual = dict(
        StatementLine.objects.filter(statement__operator=operator, statement__month=month, kind__in=DAY_KINDS)
        .values("statement__provider_id")
        .annotate(total=Sum("amount"))
        .values_list("statement__provider_id", "total")
    )
    gaps: dict[int, Decimal] = defaultdict(Decimal)
    labels = dict(VarianceKind.choices)
    for provider_id, kind, count, amount in (
        Variance.objects.filter(operator=operator, month=month)
        .values("provider_id", "kind")
        .annotate(count=Count("pk"), amount=Sum("amount"))
        .order_by("provider_id", "kind")
        .values_list("provider_id", "kind", "count", "amount")
    ):
        if provider_id not in rows:
            continue
        rows[provider_id].by_kind.append(VarianceByKind(kind, labels.get(kind, kind), count, money(amount)))
        if kind in NETWORK_KINDS:
            gaps[provider_id] += amount
    for provider_id, row in rows.items():
        charged = money(actual.get(provider_id) or Decimal("0"))
        row.variance = SettlementVariance(expected=money(charged + gaps[provider_id]), actual=charged)
        row.by_kind.sort(key=lambda item: list(VarianceKind.values).index(item.kind))

    for dispute in (
        StatementDispute.objects.filter(statement__operator=operator, status__in=OPEN_DISPUTE_STATUSES)
        .filter(statement__provider_id__in=list(rows))
        .select_related("statement")
        .order_by("created_at", "pk")
    ):
        age = (today - dispute.created_at.date()).days
        rows[dispute.statement.provider_id].disputes.append(
            OpenDispute(dispute, age_days=age, escalation=escalation_level(dispute, today=today))
        )

    totals: dict[tuple[int, str], dict[date, Decimal]] = defaultdict(dict)
    for provider_id, currency, statement_month, total in Statement.objects.filter(
        operator=operator, month__gte=start, month__lte=month, provider_id__in=list(rows)
    ).values_list("provider_id", "currency", "month", "total"):
        totals[(provider_id, currency)][statement_month] = total
    return SettlementMonth(month, operator, list(rows.values()), months, dict(totals))


def month_variance(*, month: date, provider_id: int | None = None) -> tuple[Decimal, Decimal]:
    """The month's expected and charged day amounts (every provider's, or one's), as the settlement page reckons
    them: charged is what the statements' day lines charge; expected adds the network-side variance rows."""
    lines = StatementLine.objects.filter(statement__month=month, kind__in=DAY_KINDS)
    gaps = Variance.objects.filter(month=month, kind__in=NETWORK_KINDS)
    if provider_id:
        lines, gaps = lines.filter(statement__provider_id=provider_id), gaps.filter(provider_id=provider_id)
    charged = money(lines.aggregate(s=Sum("amount"))["s"] or Decimal("0"))
    return money(charged + (gaps.aggregate(s=Sum("amount"))["s"] or Decimal("0"))), charged
