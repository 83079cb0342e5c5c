"""The board's revenue-assurance metrics, computed live from the ledger, billing, field and order data.

Each metric reads a scope (the whole network, one marketplace, one provider, or both) as of a moment: the week
ending then (or its own window: 30 days for credit velocity, 90 days for DSO). It gives a Reading (the value, its
numerator and denominator, the colour against the operator's target and alert level) and the rows behind the
number (`rows`), which are exactly the ones counted. One query or a few per reading, whatever the size.
"""

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Exists, F, Max, Min, OuterRef, Q, Sum
from django.urls import reverse

WEEK = timedelta(days=7)
CENT = Decimal("0.01")
GREEN, AMBER, RED, GREY = "green", "amber", "red", "grey"


@dataclass(frozen=True)
class Scope:
    marketplace_id: int | None = None
    provider_id: int | None = None

    @property
    def key(self) -> str:
        """How an alert or a kept reading names the scope: network, marketplace:<id>, provider:<id> or both."""
        parts = [f"marketplace:{self.marketplace_id}"] if self.marketplace_id else []
        parts += [f"provider:{self.provider_id}"] if self.provider_id else []
        return ",".join(parts) or "network"

    def label(self) -> str:
        from cos.models import Organization
        from marketplace.models import Marketplace

        parts = []
        if self.marketplace_id:
            parts.append(str(Marketplace.objects.filter(pk=self.marketplace_id).first() or "?"))
        if self.provider_id:
            parts.append(str(Organization.objects.filter(pk=self.provider_id).first() or "?"))
        return " · ".join(parts) or "Whole network"


@dataclass
class Reading:
    key: str
    name: str
    value: Decimal | None  # a ratio (0.0123 = 1.23 %), days, or a count; None: nothing to measure
    unit: str  # "ratio", "days", "count"
    numerator: Decimal = Decimal("0")
    denominator: Decimal = Decimal("0")
    colour: str = GREY
    target: str = ""
    extra: dict = field(default_factory=dict)
    judged: Decimal | None = None  # what the colour is judged on: the value, or (DSO) its quarter's rise

    @property
    def shown(self) -> str:
        if self.value is None:
            return "–"
        if self.unit == "ratio":
            return f"{(self.value * 100).quantize(Decimal('0.01'), ROUND_HALF_UP)} %"
        if self.unit == "days":
            return f"{self.value.quantize(Decimal('0.01'), ROUND_HALF_UP)} days"
        return f"{int(self.value)}"


@dataclass
class Row:
    label: str
    url: str
    detail: str = ""


def thresholds(key: str) -> dict:
    own = {k: Decimal(str(v)) for k, v in settings.BOARD_THRESHOLDS.get(key, {}).items() if k in ("target", "alert")}
    return {**DEFAULTS[key], **own}


# The seed's targets and alert levels; the operator's settings (BOARD_THRESHOLDS) override any of them.
# A value below `target` is green, at or above `alert` red, between amber (for "rise" metrics: the
# quarter-over-quarter rise).
DEFAULTS = {
    "active_unbilled": {"target": Decimal("0.0025"), "alert": Decimal("0.01")},
    "activation_lag": {"target": Decimal("1"), "alert": Decimal("3"), "inclusive": True},
    "pricing_exceptions": {"target": Decimal("0.01"), "alert": Decimal("0.02")},
    "credit_velocity": {"target": Decimal("0.015"), "alert": Decimal("0.03")},
    "rework": {"target": Decimal("0.05"), "alert": Decimal("0.08")},
    "settlement_variance": {"target": Decimal("0.005"), "alert": Decimal("0.01"), "inclusive": True},
    "dso": {"target": Decimal("0"), "alert": Decimal("0.10"), "inclusive": True},  # on the QoQ rise
    "data_quality": {"target": Decimal("0.01"), "alert": Decimal("0.02")},
    "activations_without_order": {"target": Decimal("1"), "alert": Decimal("1")},
    "faults": {"target": Decimal("1"), "alert": Decimal("10")},  # a count: none green, ten or more red
}


def colour_of(key: str, value: Decimal | None) -> str:
    """Green within target, red at the alert level, amber between. `inclusive`: the target itself is green and
    only above the alert is red ("≤ 1 day", "alert > 3 days")."""
    if value is None:
        return GREY
    t = thresholds(key)
    if t.get("inclusive"):
        if value <= t["target"]:
            return GREEN
        return RED if value > t["alert"] else AMBER
    if value < t["target"]:
        return GREEN
    return RED if value >= t["alert"] else AMBER


def target_text(key: str) -> str:
    t = thresholds(key)
    if key == "activation_lag":
        return f"target ≤ {t['target']} day, alert > {t['alert']} days"
    if key == "dso":
        return f"alert on a quarter-over-quarter rise > {t['alert'] * 100:.0f} %"
    if key == "activations_without_order":
        return "target 0"
    if key == "faults":
        return f"target 0, alert ≥ {t['alert']:f}"
    pct = lambda v: f"{(v * 100).normalize():f} %"  # noqa: E731
    if t.get("inclusive"):
        return f"target ≤ {pct(t['target'])}, alert > {pct(t['alert'])}"
    return f"target < {pct(t['target'])}, alert ≥ {pct(t['alert'])}"


def ratio(numerator, denominator) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.000001"), ROUND_HALF_UP)


def _reading(key: str, name: str, value, unit: str, numerator=0, denominator=0, **extra) -> Reading:
    colour_value = extra.pop("colour_value", value)
    return Reading(
        key=key,
        name=name,
        value=value,
        unit=unit,
        numerator=Decimal(numerator),
        denominator=Decimal(denominator),
        colour=colour_of(key, colour_value),
        target=target_text(key),
        extra=extra,
        judged=colour_value,
    )


def _admin(model, pk) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])


# --- 1. active but unbilled --------------------------------------------------------------------------------


def _live_periods(scope: Scope, at: datetime):
    from provisioning.models import ServicePeriod

    live = ServicePeriod.objects.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at), started_at__lte=at)
    if scope.marketplace_id:
        live = live.filter(subscription__marketplace_id=scope.marketplace_id)
    if scope.provider_id:
        live = live.filter(provider_id=scope.provider_id)
    return live


def _covering(at: datetime):
    """The invoice lines that bill (+1) or give back (-1, a credit note) the local day of `at`, on invoices finalized
    by `at`."""
    from billing.choices import InvoiceStatus
    from billing.models import InvoiceLine

    day = at.astimezone(_zone()).date()
    return InvoiceLine.objects.filter(
        subscription_id__isnull=False,
        voided=False,
        period_start__lte=day,
        period_end__gte=day,
        invoice__finalized_at__lte=at,
    ).exclude(invoice__status__in=(InvoiceStatus.DRAFT, InvoiceStatus.VOID))


def _credited_back(at: datetime):
    """The subscriptions whose day was billed and then given back (net coverage of the day not above zero): only
    those with a credit line for the day are added up."""
    covering = _covering(at)
    return (
        covering.filter(subscription_id__in=covering.filter(coverage__lt=0).values("subscription_id"))
        .values("subscription_id")
        .annotate(net=Sum("coverage"))
        .filter(net__lte=0)
        .values("subscription_id")
    )


def _unbilled(scope: Scope, at: datetime) -> tuple:
    """The live periods whose day is billed to no one: those no line bills (one anti-join), and those whose billed
    day a credit note gave back. Two querysets (an OR of the two would lose the anti-join)."""
    billing = _covering(at).filter(subscription_id=OuterRef("subscription_id"), coverage__gt=0)
    live = _live_periods(scope, at)
    return live.filter(~Exists(billing)), live.filter(Exists(billing), subscription_id__in=_credited_back(at))


def _live_off_ledger(scope: Scope, at: datetime):
    """Services the contract sync found live on the network with no live subscription (a deactivation that never
    happened), whose ledger period has ended: live, and billed to no one."""
    from provisioning.choices import ExceptionKind, ExceptionStatus
    from provisioning.models import ContractException

    found = ContractException.objects.filter(
        kind=ExceptionKind.ACTIVE_UNBILLED, service__isnull=False, created_at__lte=at
    ).filter(Q(status=ExceptionStatus.OPEN) | Q(updated_at__gt=at))
    if scope.marketplace_id:
        found = found.filter(service__subscription__marketplace_id=scope.marketplace_id)
    if scope.provider_id:
        found = found.filter(service__provider_id=scope.provider_id)
    return found.exclude(service_id__in=_live_periods(scope, at).values("service_id")).select_related(
        "service__address", "service__subscription__product"
    )


def active_unbilled(scope: Scope, at: datetime) -> Reading:
    """Live services (the ledger keeps one live period per service at any moment, so periods are counted) and those
    of them unbilled today, with the services live on the network after their subscription ended."""
    off_ledger = _live_off_ledger(scope, at).values("service_id").distinct().count()
    never, given_back = _unbilled(scope, at)
    live = _live_periods(scope, at).count() + off_ledger
    unbilled = never.count() + given_back.count() + off_ledger
    return _reading(
        "active_unbilled",
        "Active-but-unbilled rate",
        ratio(unbilled, live),
        "ratio",
        unbilled,
        live,
    )


def active_unbilled_rows(scope: Scope, at: datetime) -> list[Row]:
    from provisioning.choices import ExceptionStatus
    from provisioning.models import ContractException, ServiceInstance

    rows = []
    related = ("service", "subscription__product", "address")
    periods = sorted(
        (p for periods in _unbilled(scope, at) for p in periods.select_related(*related)),
        key=lambda p: (p.started_at, p.pk),
    )
    explained = set(
        ContractException.objects.filter(
            service_id__in=[p.service_id for p in periods], status=ExceptionStatus.OPEN
        ).values_list("service_id", flat=True)
    )
    seen = set()
    for period in periods:
        if period.service_id in seen:
            continue
        seen.add(period.service_id)
        why = "open contract exception" if period.service_id in explained else "no open exception explains it"
        rows.append(
            Row(
                f"Service {period.service_id}: {period.subscription.product.name} at {period.address.label}",
                _admin(ServiceInstance, period.service_id),
                f"live since {period.started_at:%Y-%m-%d %H:%M}; {why}",
            )
        )
    for found in _live_off_ledger(scope, at).order_by("pk"):
        if found.service_id in seen:
            continue
        seen.add(found.service_id)
        service = found.service
        rows.append(
            Row(
                f"Service {service.pk}: {service.subscription.product.name} at {service.address.label}",
                _admin(ServiceInstance, service.pk),
                f"live on the network, its subscription ended; open contract exception: {found.detail}",
            )
        )
    return rows


# --- 2. activation to invoice -------------------------------------------------------------------------------


def _activations(scope: Scope, at: datetime):
    """The week's verified activations: the first period of each subscription begun in the week."""
    from provisioning.choices import PeriodCause
    from provisioning.models import ServicePeriod

    earlier = ServicePeriod.objects.filter(
        subscription_id=OuterRef("subscription_id"), started_at__lt=OuterRef("started_at")
    )
    periods = ServicePeriod.objects.filter(
        cause__in=(PeriodCause.ACTIVATE, PeriodCause.SWITCH), started_at__gt=at - WEEK, started_at__lte=at
    )
    if scope.marketplace_id:
        periods = periods.filter(subscription__marketplace_id=scope.marketplace_id)
    if scope.provider_id:
        periods = periods.filter(provider_id=scope.provider_id)
    return periods.filter(~Exists(earlier)).order_by("started_at", "pk")


def _first_invoices(activations) -> dict[int, datetime]:
    """Each activated subscription's first invoice's finalization (one grouped query)."""
    from billing.choices import InvoiceKind, InvoiceStatus
    from billing.models import InvoiceLine

    return dict(
        InvoiceLine.objects.filter(
            subscription_id__in=activations.values("subscription_id"),
            invoice__kind=InvoiceKind.INVOICE,
            invoice__finalized_at__isnull=False,
        )
        .exclude(invoice__status=InvoiceStatus.VOID)
        .values("subscription_id")
        .annotate(first=Min("invoice__finalized_at"))
        .values_list("subscription_id", "first")
    )


def activation_lag(scope: Scope, at: datetime) -> Reading:
    activations = _activations(scope, at)
    first = _first_invoices(activations)
    rows = [
        (started, first.get(subscription))
        for subscription, started in activations.values_list("subscription_id", "started_at")
    ]
    lags = [max((invoiced - started).total_seconds(), 0.0) for started, invoiced in rows if invoiced and invoiced <= at]
    waiting = len(rows) - len(lags)
    if not lags:
        return _reading("activation_lag", "Activation-to-invoice lag", None, "days", 0, len(rows), waiting=waiting)
    median = statistics.median(lags)
    p99 = sorted(lags)[min(len(lags) - 1, int(len(lags) * 0.99))]
    return _reading(
        "activation_lag",
        "Activation-to-invoice lag",
        Decimal(median / 86400).quantize(Decimal("0.0001")),
        "days",
        len(lags),
        len(rows),
        median_seconds=round(median, 1),
        p99_seconds=round(p99, 1),
        waiting=waiting,
    )


def activation_lag_rows(scope: Scope, at: datetime) -> list[Row]:
    from marketplace.models import Subscription

    rows = []
    activations = _activations(scope, at)
    first = _first_invoices(activations)
    for period in activations.select_related("subscription__product", "address"):
        lag, invoiced_at = "not invoiced yet", first.get(period.subscription_id)
        if invoiced_at and invoiced_at <= at:
            lag = f"invoiced after {max((invoiced_at - period.started_at).total_seconds(), 0):.0f} s"
        rows.append(
            Row(
                f"{period.subscription.product.name} at {period.address.label}",
                _admin(Subscription, period.subscription_id),
                f"activated {period.started_at:%Y-%m-%d %H:%M}; {lag}",
            )
        )
    return rows


# --- 3. pricing-policy exceptions ---------------------------------------------------------------------------


def _invoices(scope: Scope, start: datetime, end: datetime, *, kind="invoice"):
    from billing.choices import InvoiceStatus
    from billing.models import Invoice

    kinds = (kind,) if isinstance(kind, str) else kind
    invoices = Invoice.objects.filter(kind__in=kinds, finalized_at__gt=start, finalized_at__lte=end).exclude(
        status=InvoiceStatus.VOID
    )
    if scope.marketplace_id:
        invoices = invoices.filter(marketplace_id=scope.marketplace_id)
    if scope.provider_id:
        invoices = invoices.filter(account__provider_id=scope.provider_id)
    return invoices


def _exception_invoices(scope: Scope, at: datetime):
    from billing.choices import OverrideKind
    from billing.models import PricingOverride

    overridden = PricingOverride.objects.filter(
        invoice_id=OuterRef("pk"), kind__in=(OverrideKind.MANUAL_PRICE, OverrideKind.DISCOUNT)
    )
    return _invoices(scope, at - WEEK, at).filter(Exists(overridden))


def pricing_exceptions(scope: Scope, at: datetime) -> Reading:
    total = _invoices(scope, at - WEEK, at).count()
    exceptions = _exception_invoices(scope, at).count()
    return _reading(
        "pricing_exceptions", "Pricing-policy exception rate", ratio(exceptions, total), "ratio", exceptions, total
    )


def pricing_exceptions_rows(scope: Scope, at: datetime) -> list[Row]:
    from billing.models import Invoice

    return [
        Row(f"{invoice.number}", _admin(Invoice, invoice.pk), f"total {invoice.total} {invoice.currency}")
        for invoice in _exception_invoices(scope, at).order_by("finalized_at", "pk")
    ]


# --- 4. credit and refund velocity -------------------------------------------------------------------------


def credit_velocity(scope: Scope, at: datetime) -> Reading:
    """Credits given (every credit note: a refund is paid out of one) over billed revenue, rolling 30 days."""
    start = at - timedelta(days=30)
    sums = _invoices(scope, start, at, kind=("invoice", "credit_note")).aggregate(
        billed=Sum("total", filter=Q(kind="invoice")), credited=Sum("total", filter=Q(kind="credit_note"))
    )
    billed, credited = sums["billed"] or Decimal("0"), sums["credited"] or Decimal("0")
    billed, credited = billed.quantize(CENT), abs(credited).quantize(CENT)
    return _reading("credit_velocity", "Credit and refund velocity", ratio(credited, billed), "ratio", credited, billed)


def credit_velocity_rows(scope: Scope, at: datetime) -> list[Row]:
    from billing.models import Invoice

    notes = _invoices(scope, at - timedelta(days=30), at, kind="credit_note").order_by("finalized_at", "pk")
    return [Row(n.number, _admin(Invoice, n.pk), f"{abs(n.total)} {n.currency}") for n in notes]


# --- 5. no-charge rework -----------------------------------------------------------------------------------


def _completed_jobs(scope: Scope, at: datetime):
    from workorders.models import WorkOrder

    jobs = WorkOrder.objects.filter(completed_at__gt=at - WEEK, completed_at__lte=at, reworks__isnull=True)
    if scope.marketplace_id:
        jobs = jobs.filter(orders__marketplace_id=scope.marketplace_id)
    if scope.provider_id:
        jobs = jobs.filter(orders__provider_id=scope.provider_id)
    return jobs.distinct()


def _reworked(scope: Scope, at: datetime):
    from workorders.models import WorkOrder

    revisit = WorkOrder.objects.filter(
        reworks_id=OuterRef("pk"), charged=False, created_at__lte=F("reworks__completed_at") + timedelta(days=14)
    ).exclude(status="cancelled")
    return _completed_jobs(scope, at).filter(Exists(revisit))


def rework(scope: Scope, at: datetime) -> Reading:
    completed = _completed_jobs(scope, at).count()
    reworked = _reworked(scope, at).count()
    return _reading("rework", "No-charge rework rate", ratio(reworked, completed), "ratio", reworked, completed)


def rework_rows(scope: Scope, at: datetime) -> list[Row]:
    from workorders.models import WorkOrder

    return [
        Row(str(job), _admin(WorkOrder, job.pk), f"completed {job.completed_at:%Y-%m-%d}; revisited without charge")
        for job in _reworked(scope, at).order_by("completed_at", "pk")
    ]


# --- 6. settlement variance ---------------------------------------------------------------------------------


def _settled_month(at: datetime):
    from cos.periods import add_months

    day = at.astimezone(_zone()).date()
    return add_months(day.replace(day=1), -1)


def settlement_variance(scope: Scope, at: datetime) -> Reading:
    """|expected − charged| ÷ expected of the last closed month, from its variance check (wholesale)."""
    from wholesale.selectors import month_variance

    expected, charged = month_variance(month=_settled_month(at), provider_id=scope.provider_id)
    gap = abs(expected - charged)
    value = ratio(gap, expected) if expected else (None if not charged else Decimal("1"))
    return _reading(
        "settlement_variance",
        "Wholesale settlement variance",
        value,
        "ratio",
        gap,
        expected,
        month=f"{_settled_month(at):%Y-%m}",
    )


def settlement_variance_rows(scope: Scope, at: datetime) -> list[Row]:
    from wholesale.models import Variance
    from wholesale.selectors import NETWORK_KINDS

    rows = (
        Variance.objects.filter(month=_settled_month(at), kind__in=NETWORK_KINDS)  # what the number counts
        .select_related("provider")
        .order_by("provider_id", "pk")
    )
    if scope.provider_id:
        rows = rows.filter(provider_id=scope.provider_id)
    return [
        Row(f"{v.get_kind_display()}: {v.provider}", _admin(Variance, v.pk), f"{v.amount} {v.service_id or ''}")
        for v in rows
    ]


# --- 7. DSO, standard and excluding disputed balances -------------------------------------------------------


def _receivables(scope: Scope, at: datetime) -> tuple[Decimal, Decimal, Decimal]:
    """The last 90 days' billing; what finalized invoices still ask at `at` (their total less what was paid by
    then); and of it what card disputes (chargebacks) open at `at` hold."""
    from billing.choices import InvoiceStatus, PaymentStatus
    from billing.models import Dispute, Invoice, Payment

    invoices = Invoice.objects.filter(kind="invoice", finalized_at__lte=at).exclude(status=InvoiceStatus.VOID)
    if scope.marketplace_id:
        invoices = invoices.filter(marketplace_id=scope.marketplace_id)
    if scope.provider_id:
        invoices = invoices.filter(account__provider_id=scope.provider_id)
    # An invoice paid in full by `at` owes nothing; any other owes its total less what was paid on it by then
    # (never less than nothing): the totals summed, less each part-paid invoice's payments up to its total.
    unpaid_q = ~Q(status=InvoiceStatus.PAID, paid_at__lte=at)
    sums = invoices.aggregate(
        billed=Sum("total", filter=Q(finalized_at__gt=at - timedelta(days=90))), asked=Sum("total", filter=unpaid_q)
    )
    billed, asked = sums["billed"] or Decimal("0"), sums["asked"] or Decimal("0")
    unpaid = invoices.filter(unpaid_q)
    part_paid = (
        Payment.objects.filter(invoice__in=unpaid, status=PaymentStatus.SUCCEEDED, updated_at__lte=at)
        .values("invoice_id")
        .annotate(paid=Sum("amount"), total=Max("invoice__total"))
        .values_list("paid", "total")
    )
    open_total = asked - sum((min(paid, total) for paid, total in part_paid), Decimal("0"))
    disputed = Dispute.objects.filter(created_at__lte=at).filter(Q(closed_at__isnull=True) | Q(closed_at__gt=at))
    if scope.marketplace_id:
        disputed = disputed.filter(payment__invoice__marketplace_id=scope.marketplace_id)
    if scope.provider_id:
        disputed = disputed.filter(payment__account__provider_id=scope.provider_id)
    return billed, open_total, disputed.aggregate(s=Sum("amount"))["s"] or Decimal("0")


def _dso(scope: Scope, at: datetime) -> tuple[Decimal | None, Decimal | None]:
    billed, receivable, disputed = _receivables(scope, at)
    if not billed:
        return None, None
    per_day = billed / 90
    return (receivable / per_day).quantize(Decimal("0.01")), (max(receivable - disputed, 0) / per_day).quantize(
        Decimal("0.01")
    )


def _dso_quarter_ago(scope: Scope, at: datetime) -> Decimal | None:
    """The standard DSO a quarter before `at`: at the end of the local Sunday on or before 91 days earlier (a closed
    week's end, so the figure is computed once and kept)."""
    from datetime import time

    from django.utils import timezone

    from assurance.models import WeekReading

    day = (at - timedelta(days=91)).astimezone(_zone()).date()
    end = datetime.combine(day - timedelta(days=(day.weekday() + 1) % 7), time.max, tzinfo=_zone())
    kept = WeekReading.objects.filter(metric="dso_standard", scope=scope.key, week_end=end).first()
    if kept is not None:
        return kept.value
    value, _ = _dso(scope, end)
    WeekReading.objects.bulk_create(
        [
            WeekReading(
                metric="dso_standard",
                scope=scope.key,
                week_end=end,
                name="DSO (standard), a quarter before",
                unit="days",
                value=value,
                judged=value,
                numerator=value or 0,
                denominator=90,
                computed_at=timezone.now(),
            )
        ],
        ignore_conflicts=True,
    )
    return value


def dso(scope: Scope, at: datetime) -> Reading:
    standard, undisputed = _dso(scope, at)
    before = _dso_quarter_ago(scope, at)
    rise = ratio(standard - before, before) if standard is not None and before else None
    return _reading(
        "dso",
        "Dispute-adjusted DSO",
        standard,
        "days",
        standard or 0,
        90,
        colour_value=rise,
        excluding_disputed=str(undisputed) if undisputed is not None else "–",
        quarter_rise=f"{rise * 100:.1f} %" if rise is not None else "–",
    )


def dso_rows(scope: Scope, at: datetime) -> list[Row]:
    from billing.choices import InvoiceStatus
    from billing.models import Invoice

    invoices = Invoice.objects.filter(
        kind="invoice", finalized_at__lte=at, status__in=(InvoiceStatus.OPEN, InvoiceStatus.LATE)
    )
    if scope.marketplace_id:
        invoices = invoices.filter(marketplace_id=scope.marketplace_id)
    if scope.provider_id:
        invoices = invoices.filter(account__provider_id=scope.provider_id)
    return [
        Row(i.number, _admin(Invoice, i.pk), f"{i.open_amount} {i.currency} open, due {i.due_on}")
        for i in invoices.order_by("due_on", "pk")
    ]


# --- 8. data quality ----------------------------------------------------------------------------------------


def _refusals(scope: Scope, at: datetime):
    from marketplace.models import ValidationFailure

    failures = ValidationFailure.objects.filter(created_at__gt=at - WEEK, created_at__lte=at)
    if scope.marketplace_id:
        failures = failures.filter(marketplace_id=scope.marketplace_id)
    if scope.provider_id:
        failures = failures.filter(provider_id=scope.provider_id)
    return failures


def data_quality(scope: Scope, at: datetime) -> Reading:
    """Refused order requests (each counted once, whatever its number of problems) over all order requests."""
    from marketplace.models import Order

    refused = _refusals(scope, at).values("refusal").distinct().count()
    placed = Order.objects.filter(submitted_at__gt=at - WEEK, submitted_at__lte=at)
    if scope.marketplace_id:
        placed = placed.filter(marketplace_id=scope.marketplace_id)
    if scope.provider_id:
        placed = placed.filter(provider_id=scope.provider_id)
    total = refused + placed.count()
    return _reading("data_quality", "Data-quality failure rate", ratio(refused, total), "ratio", refused, total)


def data_quality_rows(scope: Scope, at: datetime) -> list[Row]:
    from marketplace.models import ValidationFailure

    rows, seen = [], {}
    for failure in _refusals(scope, at).order_by("created_at", "pk"):
        if failure.refusal in seen:
            seen[failure.refusal].detail += f"; {failure.get_code_display()}"
            continue
        row = Row(
            f"Refused {failure.get_channel_display().lower()} order, {failure.created_at:%Y-%m-%d %H:%M}",
            _admin(ValidationFailure, failure.pk),
            failure.get_code_display(),
        )
        seen[failure.refusal] = row
        rows.append(row)
    return rows


# --- the control: activations without an order -------------------------------------------------------------


def _without_order(scope: Scope, at: datetime):
    """Contract exceptions of a service no order asked for, open at `at`."""
    from provisioning.choices import ExceptionKind, ExceptionStatus
    from provisioning.models import ContractException

    found = ContractException.objects.filter(kind=ExceptionKind.ACTIVATION_WITHOUT_ORDER, created_at__lte=at).filter(
        Q(status=ExceptionStatus.OPEN) | Q(updated_at__gt=at)
    )
    if scope.marketplace_id or scope.provider_id:
        return found.none()  # a service without an order belongs to no marketplace or provider
    return found


def activations_without_order(scope: Scope, at: datetime) -> Reading:
    count = _without_order(scope, at).count()
    return _reading(
        "activations_without_order", "Activations without an order", Decimal(count), "count", count, count or 1
    )


def activations_without_order_rows(scope: Scope, at: datetime) -> list[Row]:
    from provisioning.models import ContractException

    return [
        Row(f"{e.ont_serial} {e.device_service_id}", _admin(ContractException, e.pk), e.detail)
        for e in _without_order(scope, at).order_by("pk")
    ]


# --- the control: faults caught this week ------------------------------------------------------------------


def _week_logs(model, at: datetime):
    from django.contrib.contenttypes.models import ContentType

    from cos.models import TransitionLog

    return TransitionLog.objects.filter(
        content_type=ContentType.objects.get_for_model(model), created_at__gt=at - WEEK, created_at__lte=at
    )


def _faults(scope: Scope, at: datetime) -> dict:
    """What went wrong in the week and what the controls caught: provisioning jobs that died, jobs taken over after
    their worker was lost, bank debits whose webhook never came (their outcome found by looking it up), the
    contract sync's exceptions, and the providers' statement disputes. Each a queryset of the rows behind it."""
    from billing.choices import DELAYED_METHOD_TYPES
    from billing.models import Payment
    from provisioning.jobs import LOST_WORKER
    from provisioning.models import ContractException, ProvisioningJob
    from wholesale.models import StatementDispute

    jobs, payments = ProvisioningJob.objects.all(), Payment.objects.filter(method_type__in=DELAYED_METHOD_TYPES)
    exceptions = ContractException.objects.filter(created_at__gt=at - WEEK, created_at__lte=at)
    disputes = StatementDispute.objects.filter(created_at__gt=at - WEEK, created_at__lte=at)
    if scope.marketplace_id:
        jobs = jobs.filter(service__subscription__marketplace_id=scope.marketplace_id)
        payments = payments.filter(invoice__marketplace_id=scope.marketplace_id)
        exceptions = exceptions.filter(service__subscription__marketplace_id=scope.marketplace_id)
        disputes = disputes.none()  # a statement is the provider's, across marketplaces
    if scope.provider_id:
        jobs = jobs.filter(service__provider_id=scope.provider_id)
        payments = payments.filter(account__provider_id=scope.provider_id)
        exceptions = exceptions.filter(service__provider_id=scope.provider_id)
        disputes = disputes.filter(statement__provider_id=scope.provider_id)
    job_logs = _week_logs(ProvisioningJob, at)
    if scope.marketplace_id or scope.provider_id:
        job_logs = job_logs.filter(object_id__in=jobs.values("pk"))
    payment_logs = _week_logs(Payment, at).filter(object_id__in=payments.values("pk"))
    return {
        "died": job_logs.filter(target="dead"),
        "worker_lost": job_logs.filter(reason=LOST_WORKER),
        "webhook_lost": payment_logs.filter(source="processing", reason__startswith="gateway:").filter(
            reason__endswith="(status)"
        ),
        "exceptions": exceptions,
        "disputes": disputes,
    }


def faults(scope: Scope, at: datetime) -> Reading:
    found = {kind: rows.count() for kind, rows in _faults(scope, at).items()}
    count = sum(found.values())
    return _reading("faults", "Faults caught this week", Decimal(count), "count", count, count or 1, **found)


def faults_rows(scope: Scope, at: datetime) -> list[Row]:
    from billing.models import Payment
    from provisioning.models import ContractException, ProvisioningJob
    from wholesale.models import StatementDispute

    found = _faults(scope, at)
    rows = []
    jobs = ProvisioningJob.objects.in_bulk([log.object_id for kind in ("died", "worker_lost") for log in found[kind]])

    def now_(job_id) -> str:
        job = jobs.get(job_id)
        return f"{job.get_action_display().lower()}, now {job.get_status_display().lower()}" if job else "gone"

    for log in found["died"].order_by("created_at", "pk"):
        rows.append(
            Row(
                f"Provisioning job {log.object_id} died",
                _admin(ProvisioningJob, log.object_id),
                f"{log.created_at:%Y-%m-%d %H:%M}: {log.reason} ({now_(log.object_id)})",
            )
        )
    for log in found["worker_lost"].order_by("created_at", "pk"):
        rows.append(
            Row(
                f"Provisioning job {log.object_id} taken over: its worker was lost mid-job",
                _admin(ProvisioningJob, log.object_id),
                f"{log.created_at:%Y-%m-%d %H:%M} ({now_(log.object_id)})",
            )
        )
    for log in found["webhook_lost"].order_by("created_at", "pk"):
        rows.append(
            Row(
                f"Payment {log.object_id}: the bank's webhook never came",
                _admin(Payment, log.object_id),
                f"{log.created_at:%Y-%m-%d %H:%M}: {log.target}, found by looking the debit up",
            )
        )
    for exception in found["exceptions"].order_by("created_at", "pk"):
        rows.append(
            Row(
                f"Contract exception: {exception.get_kind_display()}",
                _admin(ContractException, exception.pk),
                f"{exception.created_at:%Y-%m-%d %H:%M} ({exception.get_status_display().lower()}): {exception.detail}",
            )
        )
    for dispute in found["disputes"].select_related("statement__provider").order_by("created_at", "pk"):
        rows.append(
            Row(
                f"{dispute.statement.provider} disputed {dispute.amount} on {dispute.statement.number}",
                _admin(StatementDispute, dispute.pk),
                f"{dispute.created_at:%Y-%m-%d %H:%M}: {dispute.get_reason_code_display()} "
                f"({dispute.get_status_display().lower()})",
            )
        )
    return rows


METRICS = {
    "active_unbilled": (active_unbilled, active_unbilled_rows),
    "activation_lag": (activation_lag, activation_lag_rows),
    "pricing_exceptions": (pricing_exceptions, pricing_exceptions_rows),
    "credit_velocity": (credit_velocity, credit_velocity_rows),
    "rework": (rework, rework_rows),
    "settlement_variance": (settlement_variance, settlement_variance_rows),
    "dso": (dso, dso_rows),
    "data_quality": (data_quality, data_quality_rows),
    "activations_without_order": (activations_without_order, activations_without_order_rows),
    "faults": (faults, faults_rows),
}


def board(scope: Scope, at: datetime) -> list[Reading]:
    return [compute(scope, at) for compute, _ in METRICS.values()]


def _zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo(settings.SITE_TIME_ZONE)
