"""Provider API: list endpoints cost a fixed number of queries, whatever the number of rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace import services
from tests.cos.factories import AddressFactory, CustomerFactory
from tests.marketplace.factories import ProductFactory

pytestmark = pytest.mark.django_db


def place_orders(w, n: int) -> None:
    """n orders of internet and TV (two lines each), each at its own address and for its own customer."""
    for _ in range(n):
        address = AddressFactory(area=w.area, status="connected")
        services.order_place(request=w.request(w.internet, w.tv, address_id=address.pk, customer=CustomerFactory()))


def queries_of(api, url: str) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200
    return len(captured), response.json()


def test_listing_15_orders_costs_no_more_queries_than_listing_3(w, api, django_assert_max_num_queries):
    # given
    place_orders(w, 3)
    small, listed = queries_of(api, "/api/v1/orders/")
    assert listed["count"] == 3
    place_orders(w, 12)

    # when
    with django_assert_max_num_queries(small):
        response = api.get("/api/v1/orders/")

    # then
    assert response.json()["count"] == 15
    assert all(len(order["lines"]) == 2 for order in response.json()["results"])
    assert len({order["customer"]["id"] for order in response.json()["results"]}) == 15


def test_listing_15_products_costs_no_more_queries_than_listing_3(w, api, django_assert_max_num_queries):
    # given: the world's internet and TV products plus one more
    ProductFactory(provider=w.provider)
    small, listed = queries_of(api, "/api/v1/products/")
    assert listed["count"] == 3
    ProductFactory.create_batch(12, provider=w.provider)

    # when
    with django_assert_max_num_queries(small):
        response = api.get("/api/v1/products/")

    # then
    assert response.json()["count"] == 15
    assert all(row["term"] for row in response.json()["results"])


def test_listing_eligibility_rules_costs_a_fixed_number_of_queries(w, api, django_assert_max_num_queries):
    # given: each rule limited to a marketplace and an area
    for rule in (w.internet.eligibility, w.tv.eligibility):
        rule.marketplaces.set([w.marketplace])
        rule.areas.set([w.area])
    small, _ = queries_of(api, "/api/v1/eligibility/")
    for product in ProductFactory.create_batch(10, provider=w.provider):
        product.eligibility.marketplaces.set([w.marketplace])
        product.eligibility.areas.set([w.area])

    # when
    with django_assert_max_num_queries(small):
        response = api.get("/api/v1/eligibility/")

    # then
    assert response.json()["count"] == 12
    assert all(row["marketplaces"] == [w.marketplace.pk] for row in response.json()["results"])
