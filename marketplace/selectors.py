"""Queries of the marketplace that read: what can be bought where, and why an order cannot."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Q
from django.utils import timezone

from cos.choices import AddressStatus
from cos.models import AddressObject, Organization
from marketplace.choices import (
    LIVE_SUBSCRIPTION_STATUSES,
    OPEN_ORDER_STATUSES,
    ParticipationStatus,
    ValidationCode,
)
from marketplace.models import (
    EligibilityRule,
    Marketplace,
    OrderLine,
    Participation,
    Price,
    Product,
    Promotion,
    Subscription,
)


@dataclass(frozen=True)
class Problem:
    """One reason an order cannot go ahead."""

    code: str
    message: str
    product_id: int | None = None


@dataclass(frozen=True)
class Rules:
    """A product's eligibility rule, loaded (with its marketplace and area ids)."""

    customer_types: frozenset
    address_statuses: frozenset
    building_types: frozenset
    marketplace_ids: frozenset
    area_ids: frozenset
    max_per_address: int | None

    DEFAULT = None  # set below

    def problems(
        self, *, customer_type: str, marketplace_id: int, address: AddressObject, already_at_address: int
    ) -> list[tuple[str, str]]:
        found = []
        if customer_type not in self.customer_types:
            found.append((ValidationCode.NOT_ELIGIBLE, f"Not sold to {customer_type} customers."))
        if self.marketplace_ids and marketplace_id not in self.marketplace_ids:
            found.append((ValidationCode.NOT_ELIGIBLE, "Not sold in this marketplace."))
        if self.area_ids and address.area_id not in self.area_ids:
            found.append((ValidationCode.NOT_ELIGIBLE, "Not sold in this area."))
        if self.building_types and address.building_type not in self.building_types:
            found.append(
                (ValidationCode.NOT_ELIGIBLE, f"Not sold for {address.get_building_type_display()} buildings.")
            )
        if address.status not in self.address_statuses:
            found.append(
                (ValidationCode.ADDRESS_NOT_SERVICEABLE, f"Cannot be ordered while the address is {address.status}.")
            )
        if self.max_per_address is not None and already_at_address >= self.max_per_address:
            found.append((ValidationCode.MAX_PER_ADDRESS, f"At most {self.max_per_address} per address."))
        return found


Rules.DEFAULT = Rules(
    customer_types=frozenset(["residential", "business", "municipal"]),
    address_statuses=frozenset([AddressStatus.CONNECTED]),
    building_types=frozenset(),
    marketplace_ids=frozenset(),
    area_ids=frozenset(),
    max_per_address=None,
)


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


def _today() -> date:
    return timezone.localdate()


def _rules_for(product_ids: set[int]) -> dict[int, Rules]:
    rules = list(EligibilityRule.objects.filter(product_id__in=product_ids))
    rule_ids = [rule.pk for rule in rules]
    marketplaces, areas = defaultdict(set), defaultdict(set)
    for rule_id, marketplace_id in EligibilityRule.marketplaces.through.objects.filter(
        eligibilityrule_id__in=rule_ids
    ).values_list("eligibilityrule_id", "marketplace_id"):
        marketplaces[rule_id].add(marketplace_id)
    for rule_id, area_id in EligibilityRule.areas.through.objects.filter(eligibilityrule_id__in=rule_ids).values_list(
        "eligibilityrule_id", "area_id"
    ):
        areas[rule_id].add(area_id)
    return {
        rule.product_id: Rules(
            customer_types=frozenset(rule.customer_types),
            address_statuses=frozenset(rule.address_statuses),
            building_types=frozenset(rule.building_types),
            marketplace_ids=frozenset(marketplaces[rule.pk]),
            area_ids=frozenset(areas[rule.pk]),
            max_per_address=rule.max_per_address,
        )
        for rule in rules
    }


def product_counts_at_address(address_id: int) -> dict[int, int]:
    """How many of each product the address has: live subscriptions plus lines of open orders not yet accepted."""
    counts: dict[int, int] = defaultdict(int)
    for product_id, n in (
        Subscription.objects.filter(address_id=address_id, status__in=LIVE_SUBSCRIPTION_STATUSES)
        .values_list("product_id")
        .annotate(n=Count("id"))
    ):
        counts[product_id] += n
    for product_id, n in (
        OrderLine.objects.filter(
            order__address_id=address_id, order__status__in=OPEN_ORDER_STATUSES, subscription__isnull=True
        )
        .values_list("product_id")
        .annotate(n=Count("id"))
    ):
        counts[product_id] += n
    return counts


def candidates_at_address(
    *,
    address: AddressObject,
    customer_type: str,
    on: date | None = None,
    marketplace_ids: set[int] | None = None,
    provider_ids: set[int] | None = None,
) -> list[Candidate]:
    """Every product priced today in a marketplace covering the address for this segment, with its problems.

    A fixed number of queries (nine), whatever the number of marketplaces, providers or products.
    """
    on = on or _today()
    marketplaces_qs = Marketplace.objects.filter(areas=address.area_id, segment=customer_type)
    if marketplace_ids is not None:
        marketplaces_qs = marketplaces_qs.filter(pk__in=marketplace_ids)
    marketplaces = {m.pk: m for m in marketplaces_qs}
    if address.status != AddressStatus.CONNECTED:
        marketplaces = {pk: m for pk, m in marketplaces.items() if m.takes_preorders}
    if not marketplaces:
        return []
    participations_qs = (
        Participation.objects.filter(marketplace_id__in=marketplaces, status=ParticipationStatus.ACTIVE)
        .exclude(barred_areas=address.area_id)
        .select_related("provider")
    )
    if provider_ids is not None:
        participations_qs = participations_qs.filter(provider_id__in=provider_ids)
    participations = {(p.marketplace_id, p.provider_id): p for p in participations_qs}
    if not participations:
        return []
    prices = list(
        Price.objects.filter(
            Q(valid_to__isnull=True) | Q(valid_to__gt=on),
            marketplace_id__in=marketplaces,
            product__provider_id__in={provider for _, provider in participations},
            product__retired_at__isnull=True,
            valid_from__lte=on,
        )
        .select_related("product__term", "product__provider")
        .order_by("product__provider__name", "product__category", "product__name", "product_id", "-valid_from")
    )
    product_ids = {price.product_id for price in prices}
    promotions: dict[tuple[int, int | None], Promotion] = {}
    for promotion in Promotion.objects.filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=on), product_id__in=product_ids, valid_from__lte=on
    ).order_by("-valid_from", "pk"):
        promotions.setdefault((promotion.product_id, promotion.marketplace_id), promotion)
    rules = _rules_for(product_ids)
    counts = product_counts_at_address(address.pk)

    candidates, seen = [], set()
    for price in prices:
        key = (price.marketplace_id, price.product_id)
        participation = participations.get((price.marketplace_id, price.product.provider_id))
        if key in seen or participation is None:
            continue
        seen.add(key)
        promotion = promotions.get((price.product_id, price.marketplace_id)) or promotions.get((price.product_id, None))
        candidate = Candidate(
            marketplace=marketplaces[price.marketplace_id],
            participation=participation,
            product=price.product,
            price=price,
            promotion=promotion,
            is_preorder=address.status != AddressStatus.CONNECTED,
        )
        candidate.problems = rules.get(price.product_id, Rules.DEFAULT).problems(
            customer_type=customer_type,
            marketplace_id=price.marketplace_id,
            address=address,
            already_at_address=counts.get(price.product_id, 0),
        )
        candidates.append(candidate)
    return candidates


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


def categories_at_address(*, address_id: int, provider_id: int | None = None) -> set[str]:
    """Categories the address already has: live subscriptions and open orders (optionally of one provider)."""
    subscriptions = Subscription.objects.filter(address_id=address_id, status__in=LIVE_SUBSCRIPTION_STATUSES)
    lines = OrderLine.objects.filter(order__address_id=address_id, order__status__in=OPEN_ORDER_STATUSES)
    if provider_id is not None:
        subscriptions = subscriptions.filter(provider_id=provider_id)
        lines = lines.filter(order__provider_id=provider_id)
    return set(subscriptions.values_list("category", flat=True)) | set(lines.values_list("category", flat=True))
