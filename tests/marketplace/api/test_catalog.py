"""Provider API, catalog: a provider keeps its own products, prices, promotions, eligibility and contract terms."""

from decimal import Decimal

import pytest

from marketplace.models import ContractTerm, EligibilityRule, Price, Product, Promotion
from tests.marketplace.api.conftest import provider_client
from tests.marketplace.factories import (
    ContractTermFactory,
    MarketplaceFactory,
    PriceFactory,
    PromotionFactory,
    days_from_today,
    world,
)

pytestmark = pytest.mark.django_db


def product_body(w, **overrides) -> dict:
    body = {
        "category": "internet",
        "name": "Fiber 250",
        "description": "250/250 Mbit/s",
        "download_mbps": 250,
        "upload_mbps": 250,
        "service_profile": "HSI_250_250",
        "term": w.internet.term_id,
    }
    body.update(overrides)
    return body


def errors_of(response) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    return body["errors"]


# --- products ----------------------------------------------------------------------------------


def test_products_list_shows_the_providers_products_with_their_terms(w, api):
    # given: provider A's world has an internet and a TV product

    # when
    response = api.get("/api/v1/products/")

    # then
    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()["results"]}
    assert set(rows) == {"Fiber 1000", "TV Bas"}
    assert rows["Fiber 1000"]["term"] == w.internet.term_id
    assert rows["Fiber 1000"]["download_mbps"] == 1000
    assert rows["TV Bas"]["requires_category"] == "internet"
    assert rows["TV Bas"]["is_active"] is True


def test_creating_a_product_makes_it_the_providers_with_a_default_eligibility_rule(w, api):
    # given
    body = product_body(w)

    # when
    response = api.post("/api/v1/products/", body, format="json")

    # then
    assert response.status_code == 201, response.content
    product = Product.objects.get(pk=response.json()["id"])
    assert product.provider == w.provider
    assert (product.name, product.download_mbps, product.term_id) == ("Fiber 250", 250, w.internet.term_id)
    rule = EligibilityRule.objects.get(product=product)
    assert rule.address_statuses == ["connected"]


def test_updating_a_product_changes_only_the_given_fields(w, api):
    # given
    url = f"/api/v1/products/{w.internet.pk}/"

    # when
    response = api.patch(url, {"name": "Fiber 1000 Plus", "description": "Now with a router"}, format="json")

    # then
    assert response.status_code == 200, response.content
    w.internet.refresh_from_db()
    assert (w.internet.name, w.internet.description) == ("Fiber 1000 Plus", "Now with a router")
    assert (w.internet.download_mbps, w.internet.provider_id) == (1000, w.provider.pk)


def test_retiring_a_product_stops_it_being_active_but_keeps_it(w, api):
    # when
    response = api.post(f"/api/v1/products/{w.internet.pk}/retire/")

    # then
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert response.json()["retired_at"] is not None
    w.internet.refresh_from_db()
    assert w.internet.retired_at is not None
    active = api.get("/api/v1/products/", {"active": "true"}).json()["results"]
    assert [row["id"] for row in active] == [w.tv.pk]


def test_retiring_a_retired_product_again_keeps_the_first_retirement_time(w, api):
    # given
    first = api.post(f"/api/v1/products/{w.internet.pk}/retire/").json()["retired_at"]

    # when
    response = api.post(f"/api/v1/products/{w.internet.pk}/retire/")

    # then
    assert response.status_code == 200
    assert response.json()["retired_at"] == first


def test_an_internet_product_without_speeds_is_refused(w, api):
    # given
    body = product_body(w, download_mbps=None, upload_mbps=None)

    # when
    response = api.post("/api/v1/products/", body, format="json")

    # then
    assert "download_mbps" in errors_of(response)
    assert not Product.objects.filter(name="Fiber 250").exists()


def test_a_product_with_another_providers_contract_term_is_refused(w, api):
    # given
    other_term = ContractTermFactory()

    # when
    response = api.post("/api/v1/products/", product_body(w, term=other_term.pk), format="json")

    # then
    assert "term" in errors_of(response)
    assert not Product.objects.filter(name="Fiber 250").exists()


def test_moving_a_product_to_another_providers_contract_term_is_refused(w, api):
    # given
    other_term = ContractTermFactory()

    # when
    response = api.patch(f"/api/v1/products/{w.internet.pk}/", {"term": other_term.pk}, format="json")

    # then
    assert "term" in errors_of(response)
    w.internet.refresh_from_db()
    assert w.internet.term.provider_id == w.provider.pk


def test_a_product_of_an_unknown_category_is_refused(w, api):
    # when
    response = api.post("/api/v1/products/", product_body(w, category="radio"), format="json")

    # then
    assert "category" in errors_of(response)
    assert not Product.objects.filter(name="Fiber 250").exists()


# --- prices ------------------------------------------------------------------------------------


def test_a_new_price_version_closes_the_open_ended_previous_one(w, api):
    # given: the internet price is open-ended
    starts = days_from_today(10)
    body = {
        "product": w.internet.pk,
        "marketplace": w.marketplace.pk,
        "monthly_amount": "449.00",
        "start_fee": "0.00",
        "currency": "SEK",
        "valid_from": starts.isoformat(),
    }

    # when
    response = api.post("/api/v1/prices/", body, format="json")

    # then
    assert response.status_code == 201, response.content
    new = Price.objects.get(pk=response.json()["id"])
    assert (new.monthly_amount, new.valid_from, new.valid_to) == (Decimal("449.00"), starts, None)
    w.internet_price.refresh_from_db()
    assert w.internet_price.valid_to == starts


def test_prices_list_can_be_filtered_by_product(w, api):
    # when
    response = api.get("/api/v1/prices/", {"product": w.tv.pk})

    # then
    assert response.status_code == 200
    assert [(row["id"], row["monthly_amount"]) for row in response.json()["results"]] == [(w.tv_price.pk, "199.00")]


def test_a_price_version_overlapping_a_closed_one_is_refused(w, api):
    # given: the current version runs from 30 days ago and a later one closed it in 10 days
    PriceFactory(product=w.internet, marketplace=w.marketplace, valid_from=days_from_today(10))
    w.internet_price.refresh_from_db()
    body = {
        "product": w.internet.pk,
        "marketplace": w.marketplace.pk,
        "monthly_amount": "1.00",
        "currency": "SEK",
        "valid_from": days_from_today(-60).isoformat(),
        "valid_to": days_from_today(-20).isoformat(),
    }

    # when
    response = api.post("/api/v1/prices/", body, format="json")

    # then
    assert "valid_from" in errors_of(response)
    assert Price.objects.filter(product=w.internet).count() == 2


def test_a_price_in_another_currency_than_the_marketplaces_is_refused(w, api):
    # given
    body = {
        "product": w.internet.pk,
        "marketplace": w.marketplace.pk,
        "monthly_amount": "39.00",
        "currency": "EUR",
        "valid_from": days_from_today(10).isoformat(),
    }

    # when
    response = api.post("/api/v1/prices/", body, format="json")

    # then
    assert "currency" in errors_of(response)
    assert not Price.objects.filter(currency="EUR").exists()
    w.internet_price.refresh_from_db()
    assert w.internet_price.valid_to is None


def test_a_price_in_a_marketplace_the_provider_does_not_take_part_in_is_refused(w, api):
    # given
    elsewhere = MarketplaceFactory()
    body = {
        "product": w.internet.pk,
        "marketplace": elsewhere.pk,
        "monthly_amount": "399.00",
        "currency": "SEK",
        "valid_from": days_from_today(1).isoformat(),
    }

    # when
    response = api.post("/api/v1/prices/", body, format="json")

    # then
    assert "marketplace" in errors_of(response)
    assert not Price.objects.filter(marketplace=elsewhere).exists()


def test_retiring_a_price_stops_selling_at_it_today(w, api):
    # when
    response = api.post(f"/api/v1/prices/{w.internet_price.pk}/retire/")

    # then: the version ends today (exclusive) and stays in history
    assert response.status_code == 200
    assert response.json()["valid_to"] == days_from_today(0).isoformat()
    w.internet_price.refresh_from_db()
    assert w.internet_price.valid_to == days_from_today(0)
    offers = api.get("/api/v1/availability/", {"address": w.address.pk}).json()
    assert w.internet.pk not in [offer["product"] for offer in offers]


def test_retiring_a_price_version_not_yet_started_removes_it(w, api):
    # given
    future = PriceFactory(
        product=w.internet,
        marketplace=w.marketplace,
        monthly_amount="449.00",
        currency="SEK",
        valid_from=days_from_today(10),
    )

    # when
    response = api.post(f"/api/v1/prices/{future.pk}/retire/")

    # then
    assert response.status_code == 204
    assert not Price.objects.filter(pk=future.pk).exists()


def test_retiring_a_price_that_already_ended_does_not_bring_it_back(w, api):
    # given: the version ended ten days ago
    Price.objects.filter(pk=w.internet_price.pk).update(valid_to=days_from_today(-10))

    # when
    response = api.post(f"/api/v1/prices/{w.internet_price.pk}/retire/")

    # then: it still ended ten days ago, and the product cannot be ordered
    assert response.status_code == 200
    w.internet_price.refresh_from_db()
    assert w.internet_price.valid_to == days_from_today(-10)
    offers = api.get("/api/v1/availability/", {"address": w.address.pk}).json()
    assert w.internet.pk not in [offer["product"] for offer in offers]


# --- promotions --------------------------------------------------------------------------------


def test_creating_a_promotion_shows_in_the_offer(w, api):
    # given: a promotion in every marketplace the product is sold in
    body = {
        "product": w.internet.pk,
        "name": "Summer",
        "kind": "percent_off",
        "value": "20",
        "periods": 6,
        "valid_from": days_from_today(0).isoformat(),
    }

    # when
    response = api.post("/api/v1/promotions/", body, format="json")

    # then
    assert response.status_code == 201, response.content
    promotion = Promotion.objects.get(pk=response.json()["id"])
    assert (promotion.product, promotion.kind, promotion.value, promotion.periods) == (
        w.internet,
        "percent_off",
        Decimal("20"),
        6,
    )
    offers = api.get("/api/v1/availability/", {"address": w.address.pk}).json()
    assert {o["product"]: o["promotion"] for o in offers}[w.internet.pk] == "20 % off for 6 month(s)"


def test_updating_a_promotion_changes_its_value(w, api):
    # given
    promotion = PromotionFactory(product=w.internet)

    # when
    response = api.patch(f"/api/v1/promotions/{promotion.pk}/", {"value": "25", "periods": 2}, format="json")

    # then
    assert response.status_code == 200, response.content
    promotion.refresh_from_db()
    assert (promotion.value, promotion.periods) == (Decimal("25"), 2)


def test_promotions_list_shows_the_providers_promotions(w, api):
    # given
    promotion = PromotionFactory(product=w.internet, kind="free_months", value=Decimal("0"), periods=2)

    # when
    response = api.get("/api/v1/promotions/")

    # then
    assert response.status_code == 200
    assert [(row["id"], row["kind"], row["periods"]) for row in response.json()["results"]] == [
        (promotion.pk, "free_months", 2)
    ]


def test_retiring_a_running_promotion_stops_it_today(w, api):
    # given
    promotion = PromotionFactory(product=w.internet)

    # when
    response = api.post(f"/api/v1/promotions/{promotion.pk}/retire/")

    # then
    assert response.status_code == 200
    promotion.refresh_from_db()
    assert promotion.valid_to == days_from_today(0)
    assert response.json()["valid_to"] == days_from_today(0).isoformat()
    offers = api.get("/api/v1/availability/", {"address": w.address.pk}).json()
    assert {o["product"]: o["promotion"] for o in offers}[w.internet.pk] is None


def test_retiring_a_promotion_that_already_ended_does_not_bring_it_back(w, api):
    # given: the promotion ended yesterday
    promotion = PromotionFactory(
        product=w.internet, valid_from=days_from_today(-20), valid_to=days_from_today(-1), marketplace=w.marketplace
    )

    # when
    response = api.post(f"/api/v1/promotions/{promotion.pk}/retire/")

    # then: it still ended yesterday and is not offered
    assert response.status_code == 200
    promotion.refresh_from_db()
    assert promotion.valid_to == days_from_today(-1)
    offers = api.get("/api/v1/availability/", {"address": w.address.pk}).json()
    assert {o["product"]: o["promotion"] for o in offers}[w.internet.pk] is None


def test_a_percent_off_promotion_above_100_is_refused(w, api):
    # given
    body = {
        "product": w.internet.pk,
        "name": "Too good",
        "kind": "percent_off",
        "value": "150",
        "periods": 3,
        "valid_from": days_from_today(0).isoformat(),
    }

    # when
    response = api.post("/api/v1/promotions/", body, format="json")

    # then
    assert "value" in errors_of(response)
    assert not Promotion.objects.exists()


def test_a_promotion_on_another_providers_product_is_refused(w, api):
    # given
    other = world()
    body = {
        "product": other.internet.pk,
        "name": "Steal",
        "kind": "amount_off",
        "value": "10",
        "periods": 3,
        "valid_from": days_from_today(0).isoformat(),
    }

    # when
    response = api.post("/api/v1/promotions/", body, format="json")

    # then
    assert "product" in errors_of(response)
    assert not Promotion.objects.exists()


# --- eligibility -------------------------------------------------------------------------------


def test_patching_eligibility_limits_who_can_buy_the_product(w, api):
    # given
    rule = w.internet.eligibility

    # when
    response = api.patch(
        f"/api/v1/eligibility/{rule.pk}/",
        {"customer_types": ["business"], "marketplaces": [w.marketplace.pk], "max_per_address": 1},
        format="json",
    )

    # then
    assert response.status_code == 200, response.content
    rule.refresh_from_db()
    assert rule.customer_types == ["business"]
    assert rule.max_per_address == 1
    assert list(rule.marketplaces.values_list("pk", flat=True)) == [w.marketplace.pk]
    offers = api.get("/api/v1/availability/", {"address": w.address.pk, "customer_type": "residential"}).json()
    assert w.internet.pk not in [offer["product"] for offer in offers]


def test_eligibility_without_customer_types_is_refused(w, api):
    # given
    rule = w.internet.eligibility

    # when
    response = api.patch(f"/api/v1/eligibility/{rule.pk}/", {"customer_types": []}, format="json")

    # then
    assert "customer_types" in errors_of(response)
    rule.refresh_from_db()
    assert rule.customer_types == ["residential", "business", "municipal"]


def test_eligibility_with_an_unknown_address_status_is_refused(w, api):
    # given
    rule = w.internet.eligibility

    # when
    response = api.patch(f"/api/v1/eligibility/{rule.pk}/", {"address_statuses": ["demolished"]}, format="json")

    # then
    assert "address_statuses" in errors_of(response)
    rule.refresh_from_db()
    assert rule.address_statuses == ["connected"]


def test_eligibility_list_has_one_rule_per_product(w, api):
    # when
    response = api.get("/api/v1/eligibility/")

    # then
    assert response.status_code == 200
    assert sorted(row["product"] for row in response.json()["results"]) == sorted([w.internet.pk, w.tv.pk])


# --- contract terms ----------------------------------------------------------------------------


def test_creating_a_contract_term_makes_it_the_providers(w, api):
    # when
    response = api.post("/api/v1/terms/", {"name": "No binding", "minimum_months": 0, "notice_days": 30}, format="json")

    # then
    assert response.status_code == 201, response.content
    term = ContractTerm.objects.get(pk=response.json()["id"])
    assert (term.provider, term.minimum_months, term.notice_days) == (w.provider, 0, 30)
    created = api.post("/api/v1/products/", product_body(w, term=term.pk), format="json")
    assert created.status_code == 201


def test_updating_a_contract_term_changes_its_notice(w, api):
    # given
    term = w.internet.term

    # when
    response = api.patch(f"/api/v1/terms/{term.pk}/", {"notice_days": 90}, format="json")

    # then
    assert response.status_code == 200, response.content
    term.refresh_from_db()
    assert term.notice_days == 90
    offers = api.get("/api/v1/availability/", {"address": w.address.pk}).json()
    assert {o["product"]: o["notice_days"] for o in offers}[w.internet.pk] == 90


def test_contract_terms_list_shows_the_providers_terms(w, api):
    # when
    response = api.get("/api/v1/terms/")

    # then
    assert response.status_code == 200
    assert sorted(row["id"] for row in response.json()["results"]) == sorted([w.internet.term_id, w.tv.term_id])


def test_a_contract_term_with_a_negative_minimum_is_refused(w, api):
    # when
    response = api.post("/api/v1/terms/", {"name": "Odd", "minimum_months": -1}, format="json")

    # then
    assert "minimum_months" in errors_of(response)
    assert not ContractTerm.objects.filter(name="Odd").exists()


def test_a_second_contract_term_with_the_same_name_is_refused(w):
    # given
    client = provider_client(w.provider)
    assert client.post("/api/v1/terms/", {"name": "Flex"}, format="json").status_code == 201

    # when
    response = client.post("/api/v1/terms/", {"name": "Flex"}, format="json")

    # then
    assert "name" in errors_of(response)
    assert ContractTerm.objects.filter(provider=w.provider, name="Flex").count() == 1
