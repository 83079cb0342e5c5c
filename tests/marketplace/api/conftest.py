"""Helpers for the provider API tests: a token client per provider and the JSON body of an order."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from cos.services import api_token_issue, membership_grant
from tests.cos.factories import UserFactory
from tests.marketplace.factories import World, days_from_today, world


def provider_client(provider) -> APIClient:
    """An API client authenticated with the token of a new user of `provider` (role "api")."""
    user = UserFactory()
    membership_grant(user=user, organization=provider, role="api")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + api_token_issue(user=user, name="test")[1])
    return client


def order_body(w: World, *products, **overrides) -> dict:
    """The JSON body of POST /api/v1/orders/ for `products` (default: the internet product) at today's prices."""
    products = products or (w.internet,)
    lines = []
    for product in products:
        price = product.prices.filter(marketplace=w.marketplace).order_by("-valid_from").first()
        lines.append({"product": product.pk, "monthly_amount": str(price.monthly_amount), "currency": price.currency})
    body = {
        "customer": {
            "customer_type": "residential",
            "first_name": "Anna",
            "last_name": "Lind",
            "email": "anna.lind@example.test",
            "phone": "+46701234567",
            "billing_street": "Storgatan 1",
            "billing_postal_code": "72110",
            "billing_city": "Västerås",
        },
        "address": w.address.pk,
        "marketplace": w.marketplace.pk,
        "lines": lines,
        "preferred_install_date": days_from_today(7).isoformat(),
        "terms_accepted": True,
    }
    body.update(overrides)
    return body


@pytest.fixture
def w() -> World:
    """Provider A's world: an address, a marketplace, an internet product and a TV product (auto-accept)."""
    return world()


@pytest.fixture
def api(w) -> APIClient:
    """A client of provider A."""
    return provider_client(w.provider)


@pytest.fixture
def place(django_capture_on_commit_callbacks) -> Callable:
    """POST an order and run what happens after commit (auto-accept), as a real request would."""

    def post(client: APIClient, body: dict, *, key: str | None = "key-1"):
        headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/api/v1/orders/", body, format="json", **headers)

    return post
