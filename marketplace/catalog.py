"""The market as an in-process snapshot, rebuilt only when it changes.

Availability is asked far more often than marketplaces and catalogs change. A snapshot holds, for
one day, the marketplaces with their areas, the active participations with their barred areas, and
every current price with its product, term, promotion and eligibility rule. It is keyed by the
CatalogVersion token, which every such write replaces in its own transaction (signals.py), so each
process sees a change as soon as it commits.
"""

import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from datetime import date
from uuid import uuid4

from django.db.models import Q

from marketplace.choices import ParticipationStatus
from marketplace.models import CatalogVersion, EligibilityRule, Marketplace, Participation, Price, Promotion

SNAPSHOTS_KEPT = 8


@dataclass(frozen=True)
class Rules:
    """A product's eligibility rule, loaded (with its marketplace and area ids). Empty sets mean no limit."""

    customer_types: frozenset
    address_statuses: frozenset
    building_types: frozenset
    marketplace_ids: frozenset
    area_ids: frozenset
    max_per_address: int | None


DEFAULT_RULES = Rules(
    customer_types=frozenset(["residential", "business", "municipal"]),
    address_statuses=frozenset(["connected"]),
    building_types=frozenset(),
    marketplace_ids=frozenset(),
    area_ids=frozenset(),
    max_per_address=None,
)


@dataclass(frozen=True)
class Entry:
    """A product priced in a marketplace on the snapshot's day (ids kept flat: this is read on every lookup)."""

    price: Price
    product: object
    product_id: int
    provider_id: int
    promotion: Promotion | None
    rules: Rules


@dataclass(frozen=True)
class Snapshot:
    """Everything availability needs that is not about one address."""

    marketplaces_by_area: dict  # (area_id, segment) -> [Marketplace]
    participations: dict  # marketplace_id -> [(Participation, frozenset of barred area ids)]
    entries: dict  # marketplace_id -> [Entry]
    areas_by_marketplace: dict  # marketplace_id -> (Marketplace, frozenset of area ids)

    def marketplace_at(self, marketplace_id: int, area_id: int):
        """The marketplace if it sells in the area, else None."""
        marketplace, area_ids = self.areas_by_marketplace.get(marketplace_id, (None, ()))
        return marketplace if area_id in area_ids else None


_snapshots: OrderedDict = OrderedDict()
_lock = threading.Lock()


def catalog_version() -> str:
    return CatalogVersion.objects.filter(pk=1).values_list("token", flat=True).first() or ""


def catalog_changed() -> None:
    """Give the catalog a new version token (in the caller's transaction)."""
    CatalogVersion.objects.update_or_create(pk=1, defaults={"token": uuid4().hex})


def market_snapshot(on: date) -> Snapshot:
    """The snapshot of the current version for the day (one query when it is cached)."""
    key = (catalog_version(), on)
    with _lock:
        snapshot = _snapshots.get(key)
        if snapshot is not None:
            _snapshots.move_to_end(key)
            return snapshot
    snapshot = _snapshot_build(on)
    with _lock:
        _snapshots[key] = snapshot
        while len(_snapshots) > SNAPSHOTS_KEPT:
            _snapshots.popitem(last=False)
    return snapshot


def _snapshot_build(on: date) -> Snapshot:
    marketplaces = {m.pk: m for m in Marketplace.objects.all()}
    by_area, areas = defaultdict(list), defaultdict(set)
    for marketplace_id, area_id in Marketplace.areas.through.objects.values_list("marketplace_id", "area_id"):
        by_area[(area_id, marketplaces[marketplace_id].segment)].append(marketplaces[marketplace_id])
        areas[marketplace_id].add(area_id)
    barred = defaultdict(set)
    for participation_id, area_id in Participation.barred_areas.through.objects.values_list(
        "participation_id", "area_id"
    ):
        barred[participation_id].add(area_id)
    participations = defaultdict(list)
    for participation in Participation.objects.filter(status=ParticipationStatus.ACTIVE).order_by("pk"):
        participation.marketplace = marketplaces[participation.marketplace_id]
        participations[participation.marketplace_id].append((participation, frozenset(barred[participation.pk])))
    return Snapshot(
        dict(by_area),
        dict(participations),
        _entries_build(on),
        {pk: (marketplace, frozenset(areas[pk])) for pk, marketplace in marketplaces.items()},
    )


def _entries_build(on: date) -> dict[int, list[Entry]]:
    prices = list(
        Price.objects.filter(
            Q(valid_to__isnull=True) | Q(valid_to__gt=on), product__retired_at__isnull=True, valid_from__lte=on
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
    entries: dict[int, list[Entry]] = defaultdict(list)
    seen = set()
    for price in prices:
        key = (price.marketplace_id, price.product_id)
        if key in seen:
            continue
        seen.add(key)
        promotion = promotions.get((price.product_id, price.marketplace_id)) or promotions.get((price.product_id, None))
        entries[price.marketplace_id].append(
            Entry(
                price=price,
                product=price.product,
                product_id=price.product_id,
                provider_id=price.product.provider_id,
                promotion=promotion,
                rules=rules.get(price.product_id, DEFAULT_RULES),
            )
        )
    return dict(entries)


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
