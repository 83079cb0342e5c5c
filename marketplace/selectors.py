"""Queries of the marketplace that read: what can be bought where, and why an order cannot."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

from cos.choices import AddressStatus
from cos.models import AddressObject, Organization
from cos.periods import add_months, period_containing
from cos.selectors import Building
from marketplace.catalog import Rules, market_snapshot
from marketplace.choices import (
    LIVE_SUBSCRIPTION_STATUSES,
    OPEN_ORDER_STATUSES,
    OPEN_SWITCH_STATUSES,
    ChangeStatus,
    ProductCategory,
    SubscriptionStatus,
    ValidationCode,
)
from marketplace.models import (
    Marketplace,
    Order,
    OrderLine,
    Participation,
    Price,
    Product,
    Promotion,
    Subscription,
    SubscriptionChange,
    Switch,
)


@dataclass(frozen=True)
class Problem:
    """One reason an order cannot go ahead."""

    code: str
    message: str
    product_id: int | None = None


def rule_problems(
    rules: Rules, *, customer_type: str, marketplace_id: int, address: AddressObject, already_at_address: int
) -> list[tuple[str, str]]:
    """Why a product's eligibility rule refuses this customer type, marketplace and address (empty: it allows)."""
    return _rule_problems(
        rules, customer_type, marketplace_id, address.area_id, address.building_type, address.status, already_at_address
    )


def _rule_problems(rules, customer_type, marketplace_id, area_id, building_type, status, already) -> list:
    found = []
    if customer_type not in rules.customer_types:
        found.append((ValidationCode.NOT_ELIGIBLE, f"Not sold to {customer_type} customers."))
    if rules.marketplace_ids and marketplace_id not in rules.marketplace_ids:
        found.append((ValidationCode.NOT_ELIGIBLE, "Not sold in this marketplace."))
    if rules.area_ids and area_id not in rules.area_ids:
        found.append((ValidationCode.NOT_ELIGIBLE, "Not sold in this area."))
    if rules.building_types and building_type not in rules.building_types:
        found.append((ValidationCode.NOT_ELIGIBLE, f"Not sold for {building_type.replace('_', '-')} buildings."))
    if status not in rules.address_statuses:
        found.append((ValidationCode.ADDRESS_NOT_SERVICEABLE, f"Cannot be ordered while the address is {status}."))
    if rules.max_per_address is not None and already >= rules.max_per_address:
        found.append((ValidationCode.MAX_PER_ADDRESS, f"At most {rules.max_per_address} per address."))
    return found


@dataclass
class Candidate:
    """A product priced in a marketplace that covers the address, before and after its eligibility checks."""

    marketplace: Marketplace
    participation: Participation
    product: Product
    price: Price
    promotion: Promotion | None
    is_preorder: bool
    problems: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Offer:
    """What a subscriber can order: a provider's product in a marketplace, with today's price, promotion and term."""

    marketplace: Marketplace
    provider: Organization
    product: Product
    price: Price
    promotion: Promotion | None
    is_preorder: bool

    @property
    def term(self):
        return self.product.term

    @property
    def category(self) -> str:
        return self.product.category


def default_today() -> date:
    """Today where marketplaces keep their days by default (each marketplace's own day: marketplace_today)."""
    return local_day(timezone.now(), Marketplace._meta.get_field("time_zone").default)


def candidates_at_address(
    *,
    address: AddressObject,
    customer_type: str,
    on: date | None = None,
    marketplace_ids: set[int] | None = None,
    provider_ids: set[int] | None = None,
    snapshot=None,
    holdings: "AddressHoldings | None" = None,
) -> list[Candidate]:
    """Every product priced today in a marketplace covering the address for this segment, with its problems.

    One query (the market version; two when a product limits how many an address may have), plus
    eight when the market changed since the last call, whatever the number of marketplaces,
    providers or products.
    """
    snapshot = snapshot or market_snapshot(on or default_today())
    status, area_id, building_type = address.status, address.area_id, address.building_type
    is_preorder = status != AddressStatus.CONNECTED
    marketplaces = [
        m
        for m in snapshot.marketplaces_by_area.get((area_id, customer_type), ())
        if (not is_preorder or m.takes_preorders) and (marketplace_ids is None or m.pk in marketplace_ids)
    ]
    participations = {
        (m.pk, participation.provider_id): participation
        for m in marketplaces
        for participation, barred in snapshot.participations.get(m.pk, ())
        if area_id not in barred and (provider_ids is None or participation.provider_id in provider_ids)
    }
    if not participations:
        return []
    entries = [
        (marketplace, participations[(marketplace.pk, entry.provider_id)], entry)
        for marketplace in marketplaces
        for entry in _priced(marketplace, on, snapshot)
        if (marketplace.pk, entry.provider_id) in participations
    ]
    limited = any(entry.rules.max_per_address is not None for _, _, entry in entries)
    if holdings is None and limited:
        holdings = held_at_address(address_id=address.pk)
    counts = holdings.product_counts if holdings is not None else {}
    candidates = []
    for marketplace, participation, entry in entries:
        problems = _rule_problems(
            entry.rules, customer_type, marketplace.pk, area_id, building_type, status, counts.get(entry.product_id, 0)
        )
        candidates.append(
            Candidate(
                marketplace=marketplace,
                participation=participation,
                product=entry.product,
                price=entry.price,
                promotion=entry.promotion,
                is_preorder=is_preorder,
                problems=problems,
            )
        )
    return candidates


def _priced(marketplace: Marketplace, on: date | None, snapshot):
    """The marketplace's entries priced on its own today (or on the day asked for)."""
    day = on or marketplace_today(marketplace)
    if day != (on or default_today()):
        snapshot = market_snapshot(day)
    return snapshot.entries.get(marketplace.pk, ())


def offers_for_address(
    *, address: AddressObject, customer_type: str, on: date | None = None, provider_ids: set[int] | None = None
) -> list[Offer]:
    """What the customer type can order at the address today, across marketplaces and providers."""
    return [
        Offer(
            marketplace=c.marketplace,
            provider=c.product.provider,
            product=c.product,
            price=c.price,
            promotion=c.promotion,
            is_preorder=c.is_preorder,
        )
        for c in candidates_at_address(address=address, customer_type=customer_type, on=on, provider_ids=provider_ids)
        if not c.problems
    ]


def local_day(moment: datetime, time_zone: str) -> date:
    """The calendar day of a moment in the marketplace's time zone (billing and contract days are local)."""
    return moment.astimezone(ZoneInfo(time_zone)).date()


def marketplace_today(marketplace: Marketplace) -> date:
    """Today in the marketplace's time zone: the one definition of "today" for its prices, orders, contracts and
    invoices."""
    return local_day(timezone.now(), marketplace.time_zone)


@dataclass(frozen=True)
class EndDates:
    """When a live subscription can end, by its contract terms, if notice is given today.

    Days are service days: the end day is the first day without service (not billed).
    """

    today: date
    notice_end: date  # today + the notice days
    minimum_end: date | None  # the first day after the minimum term (None: no minimum term)
    fee: Decimal | None  # the early-termination fee; None: the minimum term must be served

    @property
    def earliest(self) -> date:
        """The earliest end day: after the notice, and after the minimum term unless an early fee buys it out."""
        if self.minimum_end and self.fee is None:
            return max(self.notice_end, self.minimum_end)
        return self.notice_end

    @property
    def earliest_without_fee(self) -> date:
        return max(self.notice_end, self.minimum_end or self.notice_end)

    def fee_for(self, ends_on: date) -> Decimal | None:
        """The fee charged for ending on `ends_on` (None when none is due)."""
        if self.minimum_end and ends_on < self.minimum_end and self.fee is not None:
            return self.fee
        return None


def subscription_end_dates(subscription: Subscription, *, today: date | None = None) -> EndDates:
    """The subscription's end dates by its notice days, minimum months and early-termination fee."""
    time_zone = subscription.marketplace.time_zone
    today = today or local_day(timezone.now(), time_zone)
    minimum_end = None
    if subscription.minimum_months and subscription.activated_at:
        minimum_end = add_months(local_day(subscription.activated_at, time_zone), subscription.minimum_months)
    return EndDates(
        today=today,
        notice_end=today + timedelta(days=subscription.notice_days),
        minimum_end=minimum_end if minimum_end and minimum_end > today else None,
        fee=subscription.early_termination_fee,
    )


def next_period_start(subscription: Subscription, *, today: date) -> date:
    """The first day of the subscription's next billing period (where a downgrade takes effect)."""
    activated = subscription.activated_at
    anchor = local_day(activated, subscription.marketplace.time_zone) if activated else today
    return period_containing(subscription.billing_cycle, anchor, today).end


def switchable_subscriptions(
    *, address_id: int, customer, categories, other_than_provider_id: int
) -> dict[str, Subscription]:
    """Another provider's live subscriptions of this customer at the address that an order in these categories can
    take over (a switch), by category: in service (active, or under a notice of its own) and not switching already.

    The customer is the same person when the e-mail and the customer type agree (each provider keeps its own
    customer records).
    """
    if not customer.email:
        return {}
    found = (
        Subscription.objects.filter(
            address_id=address_id,
            category__in=list(categories),
            status__in=[SubscriptionStatus.ACTIVE, SubscriptionStatus.AWAITING_CANCELLATION],
            customer__email__iexact=customer.email,
            customer__customer_type=customer.customer_type,
        )
        .exclude(provider_id=other_than_provider_id)
        .exclude(pk__in=Switch.objects.filter(status__in=OPEN_SWITCH_STATUSES).values("from_subscription_id"))
        .select_related("provider", "marketplace", "order_line__order")
    )
    return {s.category: s for s in found}


@dataclass(frozen=True)
class AddressHoldings:
    """What an address has, read once: for duplicate checks and for products limited per address."""

    categories: list[tuple[str, int]]  # (category, provider id): live subscriptions and lines of open orders
    product_counts: dict[int, int]  # product id -> live subscriptions plus open orders' lines not yet subscribed


def held_at_address(*, address_id: int) -> AddressHoldings:
    """The live subscriptions and open orders' lines at the address, in one query (placing an order reads this
    under the address lock)."""
    subscription, line, order = (model._meta.db_table for model in (Subscription, OrderLine, Order))
    live, open_ = list(LIVE_SUBSCRIPTION_STATUSES), list(OPEN_ORDER_STATUSES)
    sql = (
        f"SELECT s.category, s.provider_id, s.product_id, 1 FROM {subscription} s "
        f"WHERE s.address_id = %s AND s.status IN ({', '.join(['%s'] * len(live))}) "
        "UNION ALL "
        f"SELECT l.category, o.provider_id, l.product_id, "
        f"CASE WHEN EXISTS (SELECT 1 FROM {subscription} x WHERE x.order_line_id = l.id) THEN 0 ELSE 1 END "
        f"FROM {line} l JOIN {order} o ON o.id = l.order_id "
        f"WHERE o.address_id = %s AND o.status IN ({', '.join(['%s'] * len(open_))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [address_id, *live, address_id, *open_])
        rows = cursor.fetchall()
    counts: dict[int, int] = defaultdict(int)
    for _, _, product_id, counted in rows:
        counts[product_id] += counted
    return AddressHoldings(categories=sorted({(row[0], row[1]) for row in rows}), product_counts=dict(counts))


@dataclass(frozen=True)
class Holding:
    """What an address already has in one category, as a subscriber choosing an offer sees it."""

    category: str
    provider_id: int
    provider_name: str
    product_name: str
    mine: bool  # the viewing customer's own subscription
    switchable: bool  # another provider's service of this customer that an order can take over
    earliest_handover: date | None = None
    early_fee: Decimal | None = None  # what the current provider charges for ending it on that day
    minimum_end: date | None = None
    currency: str = ""


def address_holdings(*, address_id: int, customer=None) -> dict[str, Holding]:
    """Per category, the live subscription (or open order) at the address and whether `customer` could switch it
    (two queries)."""
    found: dict[str, Holding] = {}
    live = list(
        Subscription.objects.filter(address_id=address_id, status__in=LIVE_SUBSCRIPTION_STATUSES)
        .select_related("provider", "product", "customer", "marketplace")
        .order_by("pk")
    )
    open_switches = (
        set(
            Switch.objects.filter(from_subscription__in=live, status__in=OPEN_SWITCH_STATUSES).values_list(
                "from_subscription_id", flat=True
            )
        )
        if live
        else set()
    )
    for subscription in live:
        same = customer is not None and (
            subscription.customer_id == customer.pk
            or (
                bool(customer.email)
                and subscription.customer.email.lower() == customer.email.lower()
                and subscription.customer.customer_type == customer.customer_type
            )
        )
        switchable = (
            same
            and subscription.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.AWAITING_CANCELLATION)
            and subscription.pk not in open_switches
        )
        earliest = fee = minimum_end = None
        if switchable:
            if subscription.status == SubscriptionStatus.AWAITING_CANCELLATION and subscription.ends_on:
                earliest = subscription.ends_on
                fee = subscription.early_termination_fee if subscription.early_termination_charged else None
            else:
                dates = subscription_end_dates(subscription)
                earliest, fee, minimum_end = dates.earliest, dates.fee_for(dates.earliest), dates.minimum_end
        found[subscription.category] = Holding(
            category=subscription.category,
            provider_id=subscription.provider_id,
            provider_name=subscription.provider.name,
            product_name=subscription.product.name,
            mine=same,
            switchable=switchable,
            earliest_handover=earliest,
            early_fee=fee,
            minimum_end=minimum_end,
            currency=subscription.currency,
        )
    return found


def change_options(subscription: Subscription) -> list:
    """The provider's other products of the same category that can be had at the address now (candidates)."""
    return [
        candidate
        for candidate in candidates_at_address(
            address=subscription.address,
            customer_type=subscription.marketplace.segment,
            on=marketplace_today(subscription.marketplace),
            marketplace_ids={subscription.marketplace_id},
            provider_ids={subscription.provider_id},
        )
        if candidate.product.category == subscription.category
        and candidate.product.pk != subscription.product_id
        and not [code for code, _ in candidate.problems if code != ValidationCode.MAX_PER_ADDRESS]
    ]


def open_changes_of(subscription_ids) -> dict[int, SubscriptionChange]:
    """The change under way per subscription (one query)."""
    return {
        change.subscription_id: change
        for change in SubscriptionChange.objects.filter(
            subscription_id__in=list(subscription_ids),
            status__in=[ChangeStatus.SCHEDULED, ChangeStatus.REQUESTED],
        ).select_related("to_product")
    }


@dataclass(frozen=True)
class SwitchPreview:
    """What a switch the subscriber is about to order means: from whom, from when, and what ends with it."""

    category_label: str
    from_provider: str
    handover_on: date
    ending: tuple[str, ...]
    early_fee: Decimal | None = None  # the current provider's fee for ending before its minimum term
    minimum_end: date | None = None
    currency: str = ""


def switch_previews(*, address_id: int, customer, categories, requested: date | None) -> list[SwitchPreview]:
    """For each category of an order that takes over another provider's service of this customer: the hand-over
    day and the services of that provider that end with it (e.g. its TV)."""
    previews = []
    holdings = address_holdings(address_id=address_id, customer=customer)
    for category in categories:
        holding = holdings.get(category)
        if holding is None or not holding.switchable:
            continue
        ending = Subscription.objects.filter(
            address_id=address_id,
            provider_id=holding.provider_id,
            product__requires_category=category,
            status__in=[SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED],
        ).values_list("product__name", flat=True)
        handover_on = max(requested or holding.earliest_handover, holding.earliest_handover)
        fee = holding.early_fee
        if holding.minimum_end and handover_on >= holding.minimum_end:
            fee = None  # the minimum term is served by the day asked for
        previews.append(
            SwitchPreview(
                category_label=ProductCategory(category).label,
                from_provider=holding.provider_name,
                handover_on=handover_on,
                ending=tuple(ending),
                early_fee=fee,
                minimum_end=holding.minimum_end,
                currency=holding.currency,
            )
        )
    return previews


CAN_ORDER, CAN_PREORDER, CAN_REGISTER = "Can order", "Pre-order", "Register interest"


def addresses_what_can_be_done(results: list[Building]) -> list[tuple[Building, str]]:
    """Each result with what a customer can do there: order (connected, and a marketplace sells in its area),
    pre-order (being built, and a marketplace of the area takes pre-orders), or register interest (1 query)."""
    area_ids = {result.first.area_id for result in results}
    sold = defaultdict(set)
    for area_id, preorders in Marketplace.areas.through.objects.filter(area_id__in=area_ids).values_list(
        "area_id", "marketplace__takes_preorders"
    ):
        sold[area_id].add(preorders)
    rows = []
    for result in results:
        markets = sold.get(result.first.area_id, set())
        if result.status == AddressStatus.CONNECTED and markets:
            rows.append((result, CAN_ORDER))
        elif result.status == AddressStatus.IN_DEPLOYMENT and True in markets:
            rows.append((result, CAN_PREORDER))
        else:
            rows.append((result, CAN_REGISTER))
    return rows
