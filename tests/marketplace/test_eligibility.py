"""Eligibility rules, one by one: each decides alone whether an offer shows at an address."""

import pytest

from cos.choices import AddressStatus, BuildingType
from marketplace.models import EligibilityRule
from marketplace.selectors import offers_for_address
from tests.cos.factories import AddressFactory, AreaFactory
from tests.marketplace.factories import MarketplaceFactory, world

pytestmark = pytest.mark.django_db


def _rule(product, **fields):
    rule = EligibilityRule.objects.get(product=product)
    for name, value in fields.items():
        if name in ("marketplaces", "areas"):
            getattr(rule, name).set(value)
        else:
            setattr(rule, name, value)
    rule.save()
    return rule


def _offered(w, address=None, customer_type="residential"):
    return {o.product.name for o in offers_for_address(address=address or w.address, customer_type=customer_type)}


def test_default_rule_offers_the_product_at_a_connected_address():
    w = world()
    assert _offered(w) == {"Fiber 1000", "TV Bas"}


def test_customer_type_rule():
    # given: internet only for business customers; the marketplace is residential
    w = world()
    _rule(w.internet, customer_types=["business"])
    # then
    assert _offered(w) == {"TV Bas"}


def test_marketplace_rule():
    w = world()
    other = MarketplaceFactory(areas=[w.area])
    _rule(w.internet, marketplaces=[other])
    assert _offered(w) == {"TV Bas"}
    _rule(w.internet, marketplaces=[w.marketplace, other])
    assert _offered(w) == {"Fiber 1000", "TV Bas"}


def test_area_rule():
    w = world()
    _rule(w.internet, areas=[AreaFactory()])
    assert _offered(w) == {"TV Bas"}
    _rule(w.internet, areas=[w.area])
    assert "Fiber 1000" in _offered(w)


def test_address_status_rule_allows_pre_orders_only_where_the_rule_and_the_marketplace_allow():
    # given: an address in deployment in a marketplace that takes pre-orders
    w = world(address_status=AddressStatus.IN_DEPLOYMENT, takes_preorders=True)
    # then: the default rule sells at connected addresses only
    assert _offered(w) == set()
    # when: the internet product may be pre-ordered
    _rule(w.internet, address_statuses=["connected", "in_deployment"])
    # then
    offers = offers_for_address(address=w.address, customer_type="residential")
    assert [(o.product.name, o.is_preorder) for o in offers] == [("Fiber 1000", True)]


def test_pre_orders_need_a_marketplace_that_takes_them():
    w = world(address_status=AddressStatus.IN_DEPLOYMENT, takes_preorders=False)
    _rule(w.internet, address_statuses=["connected", "in_deployment"])
    assert _offered(w) == set()


def test_building_type_rule():
    w = world()
    _rule(w.internet, building_types=[BuildingType.MULTI_DWELLING])
    assert _offered(w) == {"TV Bas"}
    mdu = AddressFactory(area=w.area, status=AddressStatus.CONNECTED, building_type=BuildingType.MULTI_DWELLING)
    assert "Fiber 1000" in _offered(w, address=mdu)


def test_max_per_address_rule_counts_live_subscriptions_and_open_orders(django_capture_on_commit_callbacks):
    from marketplace.services import order_place

    # given
    w = world(auto_accept=False)
    _rule(w.tv, max_per_address=1)
    with django_capture_on_commit_callbacks(execute=True):
        order_place(request=w.request(w.internet, w.tv))
    # then: the TV is at its maximum at this address, the internet product is not limited
    assert "TV Bas" not in _offered(w)
    assert "Fiber 1000" in _offered(w)


@pytest.mark.parametrize(
    ("field", "value"),
    [("customer_types", ["alien"]), ("address_statuses", []), ("building_types", ["castle"]), ("customer_types", "x")],
)
def test_a_bad_rule_is_a_validation_error(field, value):
    from django.core.exceptions import ValidationError

    w = world()
    rule = EligibilityRule.objects.get(product=w.internet)
    setattr(rule, field, value)
    with pytest.raises(ValidationError) as error:
        rule.full_clean()
    assert field in error.value.message_dict
