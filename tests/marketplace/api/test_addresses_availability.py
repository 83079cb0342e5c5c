"""Provider API: finding addresses, and the provider's own offers at an address."""

from decimal import Decimal

import pytest

from tests.cos.factories import AddressFactory
from tests.marketplace.factories import ParticipationFactory, PriceFactory, ProductFactory, PromotionFactory

pytestmark = pytest.mark.django_db


# --- addresses ---------------------------------------------------------------------------------


def test_address_search_ranks_the_street_before_streets_that_only_contain_the_words(w, api):
    # given
    lill = AddressFactory(street="Lillstorgatan", house_number=12, area=w.area)
    twelve = AddressFactory(street="Storgatan", house_number=12, area=w.area, external_id="GIS-STOR-12")
    AddressFactory(street="Hagagatan", house_number=12, area=w.area)

    # when
    response = api.get("/api/v1/addresses/", {"search": "Storgatan 12"})

    # then
    assert response.status_code == 200
    rows = response.json()
    assert rows[0]["id"] == twelve.pk
    assert rows[0]["external_id"] == "GIS-STOR-12"
    assert rows[0]["area"] == w.area.code
    streets = [row["street"] for row in rows]
    assert "Hagagatan" not in streets
    assert streets.index("Lillstorgatan") > streets.index("Storgatan")
    assert lill.pk in [row["id"] for row in rows]


def test_address_search_by_street_finds_every_number_on_it(w, api):
    # given: the world's address is on Storgatan, plus two more
    others = [AddressFactory(street="Storgatan", area=w.area) for _ in range(2)]

    # when
    response = api.get("/api/v1/addresses/", {"search": "Storgatan"})

    # then
    assert response.status_code == 200
    assert {row["id"] for row in response.json()} == {w.address.pk, *(a.pk for a in others)}
    assert {row["status"] for row in response.json()} >= {"connected"}


@pytest.mark.parametrize("search", [None, "", "   "])
def test_address_search_without_search_text_is_refused(w, api, search):
    # when
    response = api.get("/api/v1/addresses/", {} if search is None else {"search": search})

    # then
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "search" in response.json()["errors"]


# --- availability ------------------------------------------------------------------------------


@pytest.fixture
def competitor(w):
    """Provider B also sells internet in A's marketplace, at A's address."""
    participation = ParticipationFactory(marketplace=w.marketplace)
    product = ProductFactory(provider=participation.provider, name="B Fiber")
    PriceFactory(product=product, marketplace=w.marketplace, monthly_amount=Decimal("299.00"))
    return product


def test_availability_shows_only_the_providers_own_offers_with_price_promotion_and_term(w, api, competitor):
    # given: a promotion in every marketplace the internet product is sold in
    PromotionFactory(product=w.internet, kind="percent_off", value=Decimal("50"), periods=3)

    # when
    response = api.get("/api/v1/availability/", {"address": w.address.pk, "customer_type": "residential"})

    # then
    assert response.status_code == 200
    offers = {offer["product"]: offer for offer in response.json()}
    assert set(offers) == {w.internet.pk, w.tv.pk}
    internet = offers[w.internet.pk]
    assert internet["marketplace"] == w.marketplace.pk
    assert (internet["monthly_amount"], internet["start_fee"], internet["currency"]) == ("399.00", "495.00", "SEK")
    assert internet["promotion"] == "50 % off for 3 month(s)"
    assert (internet["minimum_months"], internet["notice_days"]) == (12, 30)
    assert (internet["download_mbps"], internet["upload_mbps"]) == (1000, 1000)
    assert internet["is_preorder"] is False
    assert (internet["prices_include_tax"], internet["tax_rate"]) == (False, "0.2500")  # net, VAT added
    assert offers[w.tv.pk]["promotion"] is None
    assert offers[w.tv.pk]["monthly_amount"] == "199.00"


def test_a_promotion_for_one_marketplace_shows_in_that_marketplaces_offer(w, api):
    # given: a product whose id differs from the marketplace's, with a promotion in that marketplace only
    product = next(p for p in (w.internet, w.tv) if p.pk != w.marketplace.pk)
    PromotionFactory(product=product, marketplace=w.marketplace, kind="free_months", value=Decimal("0"), periods=2)

    # when
    response = api.get("/api/v1/availability/", {"address": w.address.pk})

    # then
    assert {offer["product"]: offer["promotion"] for offer in response.json()}[product.pk] == "2 month(s) free"


def test_availability_defaults_to_residential_customers(w, api):
    # when
    response = api.get("/api/v1/availability/", {"address": w.address.pk})

    # then
    assert response.status_code == 200
    assert {offer["product"] for offer in response.json()} == {w.internet.pk, w.tv.pk}


def test_availability_for_a_segment_no_marketplace_serves_is_empty(w, api):
    # when: the world's marketplace sells to residential customers only
    response = api.get("/api/v1/availability/", {"address": w.address.pk, "customer_type": "business"})

    # then
    assert response.status_code == 200
    assert response.json() == []


def test_availability_leaves_out_a_retired_product(w, api):
    # given
    api.post(f"/api/v1/products/{w.tv.pk}/retire/")

    # when
    response = api.get("/api/v1/availability/", {"address": w.address.pk})

    # then
    assert [offer["product"] for offer in response.json()] == [w.internet.pk]


@pytest.mark.parametrize("address", ["abc", "", "-1", "1.5"])
def test_availability_with_a_malformed_address_id_is_refused(w, api, address):
    # when
    response = api.get("/api/v1/availability/", {"address": address})

    # then
    assert response.status_code == 400
    assert "address" in response.json()["errors"]


def test_availability_at_an_unknown_address_is_not_found(w, api):
    # when
    response = api.get("/api/v1/availability/", {"address": 999_999})

    # then
    assert response.status_code == 404
    assert response.json()["message"]


@pytest.mark.parametrize("url", ["/api/v1/availability/?address=999999", "/api/v1/orders/999999/"])
def test_a_404_carries_the_not_found_code(w, api, url):
    # when
    response = api.get(url)

    # then
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_availability_for_an_unknown_customer_type_is_refused(w, api):
    # when
    response = api.get("/api/v1/availability/", {"address": w.address.pk, "customer_type": "alien"})

    # then
    assert response.status_code == 400
    assert "customer_type" in response.json()["errors"]
