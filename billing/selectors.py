"""Queries of billing that read: the rules in force, a subscription's terms for the engine, balances."""

from decimal import Decimal

from django.db import connection
from django.db.models import DecimalField, F, Lookup, Q, Sum

from billing import engine
from billing.choices import UNPAID_STATUSES, InvoiceStatus
from billing.models import BillingConfig, BillingSchedule, Invoice, InvoiceLine
from marketplace.choices import PromotionKind
from marketplace.selectors import local_day


def config_for(marketplace_id: int, provider_id: int | None) -> BillingConfig:
    """The provider's rules on the marketplace, else the marketplace's, else the defaults."""
    configs = {
        c.provider_id: c
        for c in BillingConfig.objects.filter(marketplace_id=marketplace_id).filter(
            Q(provider_id=provider_id) | Q(provider__isnull=True)
        )
    }
    return configs.get(provider_id) or configs.get(None) or BillingConfig(marketplace_id=marketplace_id)


local_date = local_day  # the marketplace's calendar day of a moment: one definition, in marketplace.selectors


class _AnyOf(Lookup):
    """`field = ANY(%s)`: the keys as one array parameter."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*params, list(self.rhs)]


def among(field: str, ids):
    """A filter on `field` being one of many keys (a chunk's hundreds): on PostgreSQL `= ANY(array)`, one parameter
    where Django would prepare each value of an IN list (milliseconds a query), and still a condition the field's
    index serves; an IN list elsewhere."""
    ids = list(ids)
    if connection.vendor == "postgresql":
        return _AnyOf(F(field), ids)
    return Q(**{f"{field}__in": ids})


def review_minutes_for(keys) -> dict[tuple[int, int | None], int]:
    """`config_for(marketplace_id, provider_id).review_minutes` for each (marketplace_id, provider_id) key, in one
    query."""
    keys = set(keys)
    found = {
        (marketplace_id, provider_id): minutes
        for marketplace_id, provider_id, minutes in BillingConfig.objects.filter(
            marketplace_id__in={marketplace_id for marketplace_id, _ in keys}
        ).values_list("marketplace_id", "provider_id", "review_minutes")
    }
    default = BillingConfig._meta.get_field("review_minutes").get_default()
    return {
        (marketplace_id, provider_id): found.get(
            (marketplace_id, provider_id), found.get((marketplace_id, None), default)
        )
        for marketplace_id, provider_id in keys
    }


def terms_for(schedule: BillingSchedule, *, rates=None, pauses=None, names=None) -> engine.Terms:
    """The engine's view of one subscription (rates, pauses and plan names may be given when loaded in bulk)."""
    subscription = schedule.subscription
    if rates is None:
        changes = list(schedule.rate_changes.all())  # the cycle preview prefetches them with their products
        rates = [(r.effective_on, r.monthly_amount) for r in changes]
        names = [(r.effective_on, r.product.name) for r in changes if r.product_id]
    if pauses is None:
        pauses = [(p.starts_on, p.ends_on) for p in schedule.pauses.all()]
    return terms_of(
        subscription_id=subscription.pk,
        cycle=schedule.cycle,
        activated_on=schedule.activated_on,
        ends_on=schedule.ends_on,
        rates=rates,
        pauses=pauses,
        names=names,
        start_fee=subscription.start_fee,
        promotion_kind=subscription.promotion_kind,
        promotion_value=subscription.promotion_value,
        promotion_periods=subscription.promotion_periods,
        description=subscription.product.name,
    )


def terms_of(
    *,
    subscription_id: int,
    cycle: str,
    activated_on,
    ends_on,
    rates,
    pauses,
    names,
    start_fee: Decimal,
    promotion_kind: str,
    promotion_value: Decimal | None,
    promotion_periods: int | None,
    description: str,
) -> engine.Terms:
    """The engine's view of one subscription from its schedule's and subscription's values (read as rows in bulk)."""
    promotion = None
    if promotion_kind and promotion_periods:
        until = engine.add_months(activated_on, promotion_periods)
        value = promotion_value or Decimal("0")
        if promotion_kind == PromotionKind.FREE_MONTHS:
            value = Decimal(promotion_periods)
        promotion = engine.Promotion(promotion_kind, value, until)
    return engine.Terms(
        subscription_id=subscription_id,
        cycle=cycle,
        activated_on=activated_on,
        rates=tuple(sorted(rates)),
        ends_on=ends_on,
        pauses=tuple(pauses),
        start_fee=start_fee,
        promotion=promotion,
        description=description,
        names=tuple(names or ()),
    )


def billed_lines(subscription_id: int) -> list[engine.Line]:
    """The subscription's days-bearing lines on invoices that count (not void)."""
    return [
        engine.Line(
            kind=line.kind,
            amount=line.amount,
            subscription_id=line.subscription_id,
            period_start=line.period_start,
            period_end=line.period_end,
            rate=line.rate,
            days=line.days,
            period_days=line.period_days,
            coverage=line.coverage,
        )
        for line in InvoiceLine.objects.filter(
            subscription_id=subscription_id, voided=False, period_start__isnull=False
        ).exclude(invoice__status=InvoiceStatus.VOID)
    ]


def account_balance(account_ids) -> Decimal:
    """What the customer owes on finalized, unpaid documents (credit notes count against it)."""
    result = Invoice.objects.filter(account_id__in=account_ids, status__in=UNPAID_STATUSES).aggregate(
        owed=Sum(F("total") - F("amount_paid"), output_field=DecimalField(max_digits=14, decimal_places=2))
    )
    return engine.money(result["owed"] or 0)


def _month_bounds(start, end):
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from django.conf import settings

    zone = ZoneInfo(settings.SITE_TIME_ZONE)
    return datetime.combine(start, time.min, tzinfo=zone), datetime.combine(end, time.min, tzinfo=zone)


def collected_for_provider(*, provider_id: int, marketplace_ids, start, end) -> Decimal:
    """What subscribers paid a provider on its invoices of these marketplaces from `start` to `end` (days, the
    end not included), less what was refunded to them in that time (wholesale's revenue share)."""
    from billing.choices import PaymentStatus, RefundStatus
    from billing.models import Payment, Refund

    since, until = _month_bounds(start, end)
    paid = Payment.objects.filter(
        account__provider_id=provider_id,
        invoice__marketplace_id__in=list(marketplace_ids),
        status=PaymentStatus.SUCCEEDED,
        settled_at__gte=since,
        settled_at__lt=until,
    ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    refunded = Refund.objects.filter(
        payment__account__provider_id=provider_id,
        payment__invoice__marketplace_id__in=list(marketplace_ids),
        status=RefundStatus.SUCCEEDED,
        updated_at__gte=since,
        updated_at__lt=until,
    ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    return engine.money(paid - refunded)


def retail_days(*, provider_id: int, start, end) -> dict[int, int]:
    """Days of [start, end) billed to subscribers per subscription of the provider, on issued invoices and
    credit notes: charged days less credited ones (wholesale's variance compares them with the ledger)."""
    from datetime import timedelta

    lines = (
        InvoiceLine.objects.filter(
            subscription__provider_id=provider_id,
            kind__in=(engine.RECURRING, engine.PRORATED, engine.CREDIT),
            voided=False,
            period_start__lt=end,
            period_end__gte=start,
        )
        .exclude(coverage=0)
        .exclude(invoice__status__in=(InvoiceStatus.DRAFT, InvoiceStatus.VOID))
        .values_list("subscription_id", "period_start", "period_end", "coverage")
    )
    days: dict[int, int] = {}
    for subscription_id, first, last, coverage in lines:
        overlap = (min(last + timedelta(days=1), end) - max(first, start)).days
        if overlap > 0:
            days[subscription_id] = days.get(subscription_id, 0) + coverage * overlap
    return days


def manual_credits(*, provider_id: int, start, end) -> dict[int, Decimal]:
    """Credit notes without days issued from `start` to `end` on the provider's invoices, per subscription of the
    invoice they correct (net amounts, positive): money given back to subscribers for days still billed."""
    from billing.choices import InvoiceKind

    since, until = _month_bounds(start, end)
    notes = (
        InvoiceLine.objects.filter(
            invoice__kind=InvoiceKind.CREDIT_NOTE,
            invoice__issuer_id=provider_id,
            invoice__finalized_at__gte=since,
            invoice__finalized_at__lt=until,
            invoice__corrects__isnull=False,
            coverage=0,
            voided=False,
            amount__lt=0,
        )
        .exclude(kind=engine.TAX)
        .values_list("invoice__corrects_id", "amount")
    )
    by_invoice: dict[int, Decimal] = {}
    for invoice_id, amount in notes:
        by_invoice[invoice_id] = by_invoice.get(invoice_id, Decimal("0")) - amount
    if not by_invoice:
        return {}
    owners = dict(
        InvoiceLine.objects.filter(invoice_id__in=list(by_invoice), subscription__isnull=False)
        .order_by("invoice_id", "amount")  # the last, the largest line's subscription, is the owner
        .values_list("invoice_id", "subscription_id")
    )
    credits: dict[int, Decimal] = {}
    for invoice_id, amount in by_invoice.items():
        if invoice_id in owners:
            credits[owners[invoice_id]] = credits.get(owners[invoice_id], Decimal("0")) + amount
    return credits
