"""Availability: marketplaces covering the address and segment -> active, unbarred providers -> priced products."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketplace import services
from marketplace.selectors import offers_for_address
from tests.marketplace.factories import (
    MarketplaceFactory,
    ParticipationFactory,
    PriceFactory,
    ProductFactory,
    PromotionFactory,
    ProviderFactory,
    world,
)

pytestmark = pytest.mark.django_db


def _offers(w, customer_type="residential"):
    return offers_for_address(address=w.address, customer_type=customer_type)


def _add_provider(w, marketplace=None, name="Other", monthly="299.00"):
    provider = ProviderFactory(name=name)
    participation = ParticipationFactory(marketplace=marketplace or w.marketplace, provider=provider)
    product = ProductFactory(provider=provider, name=f"{name} fiber")
    PriceFactory(product=product, marketplace=marketplace or w.marketplace, monthly_amount=Decimal(monthly))
    return provider, participation, product


def test_offers_of_several_providers_in_several_marketplaces():
    # given: a second provider in the same marketplace, and a business marketplace on the same area
    w = world()
    other, _, _ = _add_provider(w)
    business = MarketplaceFactory(areas=[w.area], segment="business")
    _, _, business_product = _add_provider(w, marketplace=business, name="Biz")
    # when
    residential = _offers(w)
    business_offers = _offers(w, customer_type="business")
    # then
    assert {(o.provider.name, o.product.name) for o in residential} == {
        (w.provider.name, "Fiber 1000"),
        (w.provider.name, "TV Bas"),
        ("Other", "Other fiber"),
    }
    assert [o.product for o in business_offers] == [business_product]


def test_offer_carries_price_promotion_and_term():
    w = world()
    promotion = PromotionFactory(product=w.internet)
    offer = next(o for o in _offers(w) if o.product == w.internet)
    assert offer.price == w.internet_price
    assert offer.promotion == promotion
    assert offer.term.minimum_months == 12
    assert offer.marketplace == w.marketplace
    assert offer.is_preorder is False


def test_a_provider_barred_from_the_area_offers_nothing_there():
    w = world()
    other, participation, _ = _add_provider(w)
    participation.barred_areas.add(w.area)
    assert {o.provider for o in _offers(w)} == {w.provider}


def test_a_suspended_participation_hides_its_offers():
    w = world()
    services.participation_suspend(participation_id=w.participation.pk, reason="unpaid wholesale invoices")
    assert _offers(w) == []
    services.participation_resume(participation_id=w.participation.pk)
    assert len(_offers(w)) == 2


def test_a_marketplace_not_covering_the_area_shows_nothing():
    w = world()
    w.marketplace.areas.clear()
    assert _offers(w) == []


def test_retired_products_and_prices_out_of_date_are_not_offered():
    w = world()
    services.product_retire(product_id=w.tv.pk)
    w.internet_price.valid_to = timezone.localdate()
    w.internet_price.save()
    assert _offers(w) == []


def test_the_current_price_version_is_offered():
    # given: a new version from today closes the old one
    w = world()
    new = services.price_save(
        price=PriceFactory.build(
            product=w.internet,
            marketplace=w.marketplace,
            monthly_amount=Decimal("449.00"),
            valid_from=timezone.localdate(),
        )
    )
    w.internet_price.refresh_from_db()
    assert w.internet_price.valid_to == timezone.localdate()
    # then
    offer = next(o for o in _offers(w) if o.product == w.internet)
    assert offer.price == new
    # and yesterday the old one held
    yesterday = offers_for_address(
        address=w.address, customer_type="residential", on=timezone.localdate() - timedelta(days=1)
    )
    assert next(o for o in yesterday if o.product == w.internet).price == w.internet_price


def test_promotion_outside_its_window_is_not_attached():
    w = world()
    PromotionFactory(product=w.internet, valid_from=timezone.localdate() + timedelta(days=3))
    offer = next(o for o in _offers(w) if o.product == w.internet)
    assert offer.promotion is None


def test_query_count_does_not_grow_with_providers_or_products(django_assert_num_queries):
    # given: a small world, measured
    w = world()
    with django_assert_num_queries(10):
        assert len(_offers(w)) == 2
    # when: ten more providers with five products each, in two marketplaces
    second = MarketplaceFactory(areas=[w.area])
    for i in range(10):
        provider, _, _ = _add_provider(w, name=f"P{i}")
        ParticipationFactory(marketplace=second, provider=provider)
        for j in range(5):
            product = ProductFactory(provider=provider, name=f"P{i} product {j}")
            PriceFactory(product=product, marketplace=w.marketplace)
            PriceFactory(product=product, marketplace=second)
            PromotionFactory(product=product)
    # then: the same ten queries (the market changed, so its snapshot is rebuilt)
    with django_assert_num_queries(10):
        assert len(_offers(w)) == 2 + 10 * (1 + 5) + 10 * 5


def test_an_unchanged_catalog_is_served_from_its_snapshot_and_a_change_is_seen_at_once(django_assert_num_queries):
    # given: the snapshot of this catalog is built
    w = world()
    _offers(w)
    # then: the next lookups need no catalog queries
    with django_assert_num_queries(1):
        assert len(_offers(w)) == 2
    # when: the provider changes its catalog
    services.product_retire(product_id=w.tv.pk)
    new_price = w.internet_price
    new_price.monthly_amount = Decimal("379.00")
    new_price.save()
    # then: the very next lookup sees it
    offers = _offers(w)
    assert [(o.product, o.price.monthly_amount) for o in offers] == [(w.internet, Decimal("379.00"))]
