"""Provider API, orders: placing (idempotent, validated), accepting, rejecting, cancelling and listing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cos.models import Customer
from marketplace import services
from marketplace.models import Order, OrderLine, Subscription, ValidationFailure
from tests.cos.factories import AddressFactory
from tests.marketplace.api.conftest import order_body, provider_client
from tests.marketplace.factories import MarketplaceFactory, ParticipationFactory, world

pytestmark = pytest.mark.django_db


def counts() -> dict:
    return {
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "subscriptions": Subscription.objects.count(),
        "customers": Customer.objects.count(),
    }


# --- placing -----------------------------------------------------------------------------------


def test_placing_an_order_creates_it_and_the_auto_accepting_provider_gets_subscriptions(w, api, place):
    # given
    body = order_body(w, w.internet, w.tv)

    # when
    response = place(api, body, key="order-1")

    # then
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["channel"] == "api"
    assert data["idempotency_key"] == "order-1"
    assert data["customer"]["name"] == "Anna Lind"
    assert [(line["product"], line["monthly_amount"]) for line in data["lines"]] == [
        (w.internet.pk, "399.00"),
        (w.tv.pk, "199.00"),
    ]
    order = Order.objects.get(pk=data["id"])
    assert order.status == "accepted"
    assert order.provider == w.provider
    assert api.get(f"/api/v1/orders/{order.pk}/").json()["status"] == "accepted"
    subscriptions = Subscription.objects.filter(order_line__order=order)
    assert sorted(subscriptions.values_list("product_id", "status")) == sorted(
        [(w.internet.pk, "pending"), (w.tv.pk, "pending")]
    )


def test_the_same_key_and_body_again_returns_the_first_order(w, api, place):
    # given
    body = order_body(w)
    first = place(api, body, key="retry-me")

    # when
    again = place(api, body, key="retry-me")

    # then
    assert first.status_code == 201
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1
    assert Subscription.objects.count() == 1


def test_the_same_key_with_another_body_is_a_conflict(w, api, place):
    # given
    first = place(api, order_body(w), key="once")

    # when
    response = place(api, order_body(w, w.internet, w.tv), key="once")

    # then
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert list(Order.objects.values_list("pk", flat=True)) == [first.json()["id"]]
    assert OrderLine.objects.count() == 1


def test_an_order_without_an_idempotency_key_is_refused(w, api, place):
    # when
    response = place(api, order_body(w), key=None)

    # then
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "Idempotency-Key" in response.json()["errors"]
    assert not Order.objects.exists()


def _stale_price(w):
    body = order_body(w)
    body["lines"][0]["monthly_amount"] = "349.00"
    return body


def _wrong_currency(w):
    body = order_body(w)
    body["lines"][0]["currency"] = "EUR"
    return body


def _unknown_product(w):
    return order_body(w, lines=[{"product": 999_999, "monthly_amount": "399.00", "currency": "SEK"}])


def _other_providers_product(w):
    other = world()
    ParticipationFactory(marketplace=w.marketplace, provider=other.provider)
    line = {"product": other.internet.pk, "monthly_amount": "399.00", "currency": "SEK"}
    return order_body(w, lines=[line])


def _retired_product(w):
    body = order_body(w)
    services.product_retire(product_id=w.internet.pk)
    return body


def _tv_without_internet(w):
    return order_body(w, w.tv)


def _unknown_address(w):
    return order_body(w, address=999_999)


def _terms_not_accepted(w):
    return order_body(w, terms_accepted=False)


def _second_internet_order(w):
    services.order_place(request=w.request(idempotency_key="earlier"))
    return order_body(w)


@pytest.mark.parametrize(
    ("make_body", "code"),
    [
        (_stale_price, "price_stale"),
        (_wrong_currency, "currency_mismatch"),
        (_unknown_product, "product_not_found"),
        (_other_providers_product, "product_of_other_provider"),
        (_retired_product, "product_retired"),
        (_tv_without_internet, "dependency_missing"),
        (_unknown_address, "address_not_found"),
        (_terms_not_accepted, "terms_not_accepted"),
        (_second_internet_order, "duplicate"),
    ],
)
def test_a_refused_order_gives_a_stable_code_writes_nothing_and_is_recorded(w, api, place, make_body, code):
    # given
    body = make_body(w)
    before = counts()

    # when
    response = place(api, body, key="refused")

    # then
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["code"] == code
    assert code in [problem["code"] for problem in data["problems"]]
    assert data["message"]
    assert counts() == before
    failure = ValidationFailure.objects.get(code=code)
    assert (failure.channel, failure.idempotency_key) == ("api", "refused")


def test_a_refused_order_can_be_placed_again_with_the_same_key_once_corrected(w, api, place):
    # given
    body = order_body(w)
    place(api, {**body, "terms_accepted": False}, key="fix-me")

    # when
    response = place(api, body, key="fix-me")

    # then
    assert response.status_code == 201, response.content
    assert Order.objects.count() == 1


@pytest.mark.parametrize("missing", ["customer", "address", "marketplace", "lines", "terms_accepted"])
def test_an_order_missing_a_field_is_refused(w, api, place, missing):
    # given
    body = order_body(w)
    del body[missing]

    # when
    response = place(api, body)

    # then
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert missing in response.json()["errors"]
    assert not Order.objects.exists()


def test_an_order_with_a_malformed_address_id_is_refused(w, api, place):
    # when
    response = place(api, order_body(w, address="abc"))

    # then
    assert response.status_code == 400
    assert "address" in response.json()["errors"]
    assert not Order.objects.exists()


def test_an_order_with_a_customer_without_a_name_is_refused(w, api, place):
    # given
    body = order_body(w)
    body["customer"]["last_name"] = ""

    # when
    response = place(api, body)

    # then
    assert response.status_code == 400
    assert "customer" in response.json()["errors"]
    assert counts()["orders"] == 0


# --- accepting, rejecting, cancelling ----------------------------------------------------------


@pytest.fixture
def manual():
    """A provider that accepts or rejects each order itself."""
    return world(auto_accept=False)


@pytest.fixture
def manual_api(manual):
    return provider_client(manual.provider)


@pytest.fixture
def submitted(manual, manual_api, place):
    response = place(manual_api, order_body(manual, manual.internet, manual.tv))
    assert response.json()["status"] == "submitted"
    return Order.objects.get(pk=response.json()["id"])


def test_a_provider_that_does_not_auto_accept_gets_a_submitted_order_without_subscriptions(submitted):
    # then
    submitted.refresh_from_db()
    assert submitted.status == "submitted"
    assert not Subscription.objects.exists()


def test_accepting_an_order_creates_one_pending_subscription_per_line(manual_api, submitted):
    # when
    response = manual_api.post(f"/api/v1/orders/{submitted.pk}/accept/")

    # then
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    assert response.json()["decided_at"] is not None
    subscriptions = Subscription.objects.filter(order_line__order=submitted)
    assert sorted(subscriptions.values_list("order_line_id", flat=True)) == sorted(
        submitted.lines.values_list("pk", flat=True)
    )
    assert set(subscriptions.values_list("status", flat=True)) == {"pending"}


def test_rejecting_an_order_needs_a_reason(manual_api, submitted):
    # when
    response = manual_api.post(f"/api/v1/orders/{submitted.pk}/reject/", {}, format="json")

    # then
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "reason" in response.json()["errors"]
    submitted.refresh_from_db()
    assert submitted.status == "submitted"


def test_rejecting_an_order_with_only_blanks_as_reason_is_refused(manual_api, submitted):
    # when
    response = manual_api.post(f"/api/v1/orders/{submitted.pk}/reject/", {"reason": "   "}, format="json")

    # then
    assert response.status_code == 400
    submitted.refresh_from_db()
    assert submitted.status == "submitted"


def test_rejecting_an_order_stores_the_reason(manual_api, submitted):
    # when
    response = manual_api.post(
        f"/api/v1/orders/{submitted.pk}/reject/", {"reason": "No capacity in the building"}, format="json"
    )

    # then
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "rejected"
    assert response.json()["rejection_reason"] == "No capacity in the building"
    submitted.refresh_from_db()
    assert (submitted.status, submitted.rejection_reason) == ("rejected", "No capacity in the building")
    assert not Subscription.objects.exists()


def test_accepting_a_rejected_order_is_a_conflict_and_changes_nothing(manual_api, submitted):
    # given
    manual_api.post(f"/api/v1/orders/{submitted.pk}/reject/", {"reason": "No"}, format="json")
    submitted.refresh_from_db()
    decided_at = submitted.decided_at

    # when
    response = manual_api.post(f"/api/v1/orders/{submitted.pk}/accept/")

    # then
    assert response.status_code == 409
    assert response.json()["code"] == "transition_not_allowed"
    submitted.refresh_from_db()
    assert (submitted.status, submitted.decided_at, submitted.rejection_reason) == ("rejected", decided_at, "No")
    assert not Subscription.objects.exists()


def test_cancelling_a_submitted_order(manual_api, submitted):
    # when
    response = manual_api.post(f"/api/v1/orders/{submitted.pk}/cancel/", {"reason": "Customer withdrew"}, format="json")

    # then
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    submitted.refresh_from_db()
    assert (submitted.status, submitted.cancellation_reason) == ("cancelled", "Customer withdrew")


def test_cancelling_an_accepted_order_cancels_its_pending_subscriptions(w, api, place):
    # given: an auto-accepted order with two pending subscriptions
    order_id = place(api, order_body(w, w.internet, w.tv)).json()["id"]
    assert Subscription.objects.filter(status="pending").count() == 2

    # when
    response = api.post(f"/api/v1/orders/{order_id}/cancel/", {}, format="json")

    # then
    assert response.status_code == 200, response.content
    assert Order.objects.get(pk=order_id).status == "cancelled"
    assert set(Subscription.objects.values_list("status", flat=True)) == {"cancelled"}


def test_a_cancelled_order_frees_the_address_for_a_new_order(w, api, place):
    # given
    order_id = place(api, order_body(w), key="first").json()["id"]
    api.post(f"/api/v1/orders/{order_id}/cancel/", {}, format="json")

    # when
    response = place(api, order_body(w), key="second")

    # then
    assert response.status_code == 201, response.content


def test_an_order_with_a_live_service_cannot_be_cancelled(w, api, place):
    # given
    order = Order.objects.get(pk=place(api, order_body(w, w.internet, w.tv)).json()["id"])
    internet = Subscription.objects.get(product=w.internet)
    services.subscription_activate(subscription_id=internet.pk, at=timezone.now())

    # when
    response = api.post(f"/api/v1/orders/{order.pk}/cancel/", {}, format="json")

    # then
    assert response.status_code == 409
    assert response.json()["code"] == "order_partly_live"
    order.refresh_from_db()
    assert order.status == "in_fulfillment"
    assert sorted(Subscription.objects.values_list("status", flat=True)) == ["active", "pending"]


def _order_at_new_address(w, api, place, key: str) -> Order:
    address = AddressFactory(area=w.area, status="connected")
    response = place(api, order_body(w, address=address.pk), key=key)
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["id"])


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_orders_can_be_listed_by_status(w, api, place):
    # given: one accepted and one cancelled order
    accepted = _order_at_new_address(w, api, place, "a")
    cancelled = _order_at_new_address(w, api, place, "b")
    api.post(f"/api/v1/orders/{cancelled.pk}/cancel/", {}, format="json")

    # when / then
    assert ids(api.get("/api/v1/orders/", {"status": "accepted"})) == [accepted.pk]
    assert ids(api.get("/api/v1/orders/", {"status": "cancelled"})) == [cancelled.pk]
    assert ids(api.get("/api/v1/orders/")) == [cancelled.pk, accepted.pk]


def test_orders_can_be_listed_by_marketplace(w, api, place):
    # given: the provider also sells in a second marketplace covering the same area
    second = MarketplaceFactory(areas=[w.area])
    ParticipationFactory(marketplace=second, provider=w.provider)
    w.internet.prices.create(
        marketplace=second, monthly_amount="299.00", currency="SEK", valid_from=w.internet_price.valid_from
    )
    first_order = _order_at_new_address(w, api, place, "first")
    address = AddressFactory(area=w.area, status="connected")
    body = order_body(w, address=address.pk, marketplace=second.pk)
    body["lines"][0]["monthly_amount"] = "299.00"
    second_order = place(api, body, key="second").json()["id"]

    # when / then
    assert ids(api.get("/api/v1/orders/", {"marketplace": second.pk})) == [second_order]
    assert ids(api.get("/api/v1/orders/", {"marketplace": w.marketplace.pk})) == [first_order.pk]


def test_orders_can_be_listed_by_creation_time(w, api, place):
    # given: orders created 10, 5 and 1 days ago
    now = timezone.now()
    old, middle, recent = (_order_at_new_address(w, api, place, key) for key in ("old", "middle", "recent"))
    for order, days in ((old, 10), (middle, 5), (recent, 1)):
        Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(days=days))

    # when
    response = api.get(
        "/api/v1/orders/",
        {
            "created_after": (now - timedelta(days=7)).isoformat(),
            "created_before": (now - timedelta(days=2)).isoformat(),
        },
    )
    after = api.get("/api/v1/orders/", {"created_after": (now - timedelta(days=7)).isoformat()})

    # then
    assert ids(response) == [middle.pk]
    assert sorted(ids(after)) == sorted([middle.pk, recent.pk])


def test_an_unknown_status_filter_is_refused(w, api):
    # when
    response = api.get("/api/v1/orders/", {"status": "lost"})

    # then
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
