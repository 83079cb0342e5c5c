"""Provider API, tenancy: a provider never sees or changes another provider's rows; only providers get in.

The walk over endpoints is built from the router's registry, so a newly registered viewset or action is
covered (or fails here until its provider's rows are named in OWNED).
"""

from decimal import Decimal

import pytest
from django.apps import apps
from django.test import TestCase
from django.urls import reverse
from rest_framework.test import APIClient

from cos.api import urls as api_urls
from cos.models import (
    Customer,
    Event,
    ProviderNotification,
    TransitionLog,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookSecret,
)
from cos.services import api_token_issue, membership_grant
from cos.webhooks import webhook_endpoint_register
from marketplace import services
from marketplace.models import (
    ContractTerm,
    EligibilityRule,
    Order,
    Participation,
    Price,
    Product,
    Promotion,
    Subscription,
)
from provisioning.models import ServiceInstance
from tests.cos.factories import AddressFactory, OrganizationFactory, UserFactory
from tests.marketplace.api.conftest import order_body, provider_client
from tests.marketplace.factories import (
    ParticipationFactory,
    PriceFactory,
    ProductFactory,
    PromotionFactory,
    days_from_today,
    world,
)
from tests.wholesale.factories import dispute_of, draft_statement, issued_statement
from wholesale.choices import StatementStatus
from wholesale.models import RateCard, Statement, StatementDispute

pytestmark = pytest.mark.django_db

# For each registered basename: the rows of a provider behind that endpoint.
OWNED = {
    "term": lambda provider: ContractTerm.objects.filter(provider=provider),
    "product": lambda provider: Product.objects.filter(provider=provider),
    "price": lambda provider: Price.objects.filter(product__provider=provider),
    "promotion": lambda provider: Promotion.objects.filter(product__provider=provider),
    "eligibility": lambda provider: EligibilityRule.objects.filter(product__provider=provider),
    "order": lambda provider: Order.objects.filter(provider=provider),
    "subscription": lambda provider: Subscription.objects.filter(provider=provider),
    "service": lambda provider: ServiceInstance.objects.filter(provider=provider),
    # a draft statement is shown to no provider: the walk's lists prove it (each provider has one)
    "statement": lambda provider: Statement.objects.filter(provider=provider).exclude(status=StatementStatus.DRAFT),
    "dispute": lambda provider: StatementDispute.objects.filter(statement__provider=provider),
    # the default cards (no provider) are every provider's: the walk's providers have only cards of their own
    "rate-card": lambda provider: RateCard.objects.filter(provider=provider),
    "webhook": lambda provider: WebhookEndpoint.objects.filter(provider=provider),
    "webhook-delivery": lambda provider: WebhookDelivery.objects.filter(endpoint__provider=provider),
    "webhook-event": lambda provider: ProviderNotification.objects.filter(provider=provider),
}

# For each basename whose list route takes POST: a body that points at provider A's rows, and the field refused.
CREATE_WITH_OTHERS_ROWS = {
    "term": None,  # a contract term refers to nothing of another provider
    "product": lambda a, b: (
        {"category": "tv", "name": "Borrowed", "service_profile": "IPTV", "term": a.internet.term_id},
        "term",
    ),
    "price": lambda a, b: (
        {
            "product": a.internet.pk,
            "marketplace": b.marketplace.pk,
            "monthly_amount": "1.00",
            "currency": "SEK",
            "valid_from": days_from_today(1).isoformat(),
        },
        "product",
    ),
    "promotion": lambda a, b: (
        {
            "product": a.internet.pk,
            "name": "Borrowed",
            "kind": "free_months",
            "periods": 1,
            "valid_from": days_from_today(0).isoformat(),
        },
        "product",
    ),
    "order": None,  # placing an order with another provider's product: see test_orders (product_of_other_provider)
    "webhook": None,  # an endpoint refers to nothing of another provider
}

# The provider API's one router: every app registers its viewsets into it.
ROUTER = api_urls.router
BASENAMES = [basename for _, _, basename in ROUTER.registry]


def routes_of(basename: str):
    """(route name, detail?, HTTP methods) of every route the router built for the viewset."""
    viewset = next(v for _, v, name in ROUTER.registry if name == basename)
    for route in ROUTER.get_routes(viewset):
        methods = sorted(m for m in ROUTER.get_method_map(viewset, route.mapping) if m in viewset.http_method_names)
        yield route.name.format(basename=basename), route.detail, methods


def database_snapshot() -> dict:
    """Every row of the marketplace and of wholesale, plus customers, transitions and events."""
    models = [
        *apps.get_app_config("marketplace").get_models(include_auto_created=True),
        *apps.get_app_config("wholesale").get_models(include_auto_created=True),
        Customer,
        TransitionLog,
        Event,
        ProviderNotification,
        WebhookEndpoint,
        WebhookSecret,
        WebhookDelivery,
    ]
    return {model._meta.label: list(model.objects.order_by("pk").values()) for model in models}


def settle_last_month(w) -> None:
    """The provider's last month on an issued statement with a line disputed, this month's draft, and its card.
    The ledger's subscription is accepted at once, also where the provider accepts its orders by hand."""
    participation = Participation.objects.filter(pk=w.participation.pk)
    participation.update(auto_accept_orders=True)
    dispute_of(issued_statement(w))
    draft_statement(w)
    participation.update(auto_accept_orders=w.participation.auto_accept_orders)


def seed_webhook_endpoint(w) -> None:
    """An endpoint of the provider's, so what it is told gets deliveries (to a closed port: they fail, and wait)."""
    webhook_endpoint_register(provider=w.provider, url="http://127.0.0.1:9/hook")


@pytest.fixture
def tenants():
    """Providers A (accepts orders by hand: its order stays submitted) and B, each with rows of every kind."""
    a, b = world(auto_accept=False), world()
    for w in (a, b):
        seed_webhook_endpoint(w)
        PromotionFactory(product=w.internet, marketplace=w.marketplace)
        client = provider_client(w.provider)
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = client.post("/api/v1/orders/", order_body(w), format="json", HTTP_IDEMPOTENCY_KEY="k")
        assert response.status_code == 201, response.content
    # A's second order, accepted by hand: A has subscriptions and services too
    body = order_body(a, address=AddressFactory(area=a.area, status="connected").pk)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = provider_client(a.provider).post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k2")
        services.order_accept(order_id=response.json()["id"])
    for w in (a, b):
        settle_last_month(w)
    return a, b


def test_every_registered_endpoint_is_known_to_the_tenancy_walk():
    # then: a new viewset must name its provider's rows, and a new create must say what it may refer to
    unknown = set(BASENAMES) - set(OWNED)
    assert not unknown, f"name the provider's rows of {unknown} in OWNED"
    creatable = {name for name in BASENAMES for _, detail, verbs in routes_of(name) if not detail and "post" in verbs}
    assert creatable == set(CREATE_WITH_OTHERS_ROWS)


@pytest.mark.parametrize("basename", BASENAMES)
def test_provider_b_cannot_read_or_change_provider_a_rows(tenants, basename):
    # given
    a, b = tenants
    a_client, b_client = provider_client(a.provider), provider_client(b.provider)
    a_row = OWNED[basename](a.provider).order_by("pk").first()
    assert a_row is not None, f"provider A has no {basename} to test with"
    a_ids = set(OWNED[basename](a.provider).values_list("pk", flat=True))
    b_ids = set(OWNED[basename](b.provider).values_list("pk", flat=True))
    assert b_ids, f"provider B has no {basename} of its own"
    checked = []

    for name, detail, methods in routes_of(basename):
        if not detail and name != f"{basename}-list":
            # a list of no rows (the event types a webhook can want): the same for every provider
            assert methods == ["get"]
            assert b_client.get(reverse(name)).json() == a_client.get(reverse(name)).json()
            checked.append(("get", name))
            continue
        if not detail:
            assert all(method in ("get", "post") for method in methods), f"{name}: extend the walk for {methods}"
            if "get" in methods:
                # when: B lists
                response = b_client.get(reverse(name))

                # then: B sees its own rows and none of A's
                assert response.status_code == 200, response.content
                listed = {row["id"] for row in response.json()["results"]}
                assert listed == b_ids
                assert not listed & a_ids
                checked.append(("get", name))
            continue
        url = reverse(name, kwargs={"pk": a_row.pk})
        own = a_client.get(reverse(f"{basename}-detail", kwargs={"pk": a_row.pk}))
        assert own.status_code == 200, "provider A must reach its own row, or the 404s below prove nothing"
        body = {**own.json(), "reason": "tenancy test"}
        for method in methods:
            before = database_snapshot()

            # when: B reads, updates or acts on A's row
            response = b_client.get(url) if method == "get" else getattr(b_client, method)(url, body, format="json")

            # then
            assert response.status_code in (403, 404), f"{method.upper()} {url}: {response.status_code}"
            assert database_snapshot() == before, f"{method.upper()} {url} changed the database"
            checked.append((method, name))

    assert ("get", f"{basename}-detail") in checked


@pytest.mark.parametrize("basename", sorted(key for key, value in CREATE_WITH_OTHERS_ROWS.items() if value))
def test_provider_b_cannot_create_rows_that_point_at_provider_a_rows(tenants, basename):
    # given
    a, b = tenants
    body, field = CREATE_WITH_OTHERS_ROWS[basename](a, b)
    before = database_snapshot()

    # when
    response = provider_client(b.provider).post(reverse(f"{basename}-list"), body, format="json")

    # then
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert database_snapshot() == before


def test_provider_b_cannot_order_in_a_marketplace_it_does_not_take_part_in(tenants):
    # given: B orders its own product in A's marketplace at A's address
    a, b = tenants
    body = order_body(a, lines=[{"product": b.internet.pk, "monthly_amount": "399.00", "currency": "SEK"}])
    orders_before = Order.objects.count()

    # when
    response = provider_client(b.provider).post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="x")

    # then
    assert response.status_code == 400
    assert response.json()["code"] == "provider_not_available"
    assert Order.objects.count() == orders_before


def test_two_providers_may_use_the_same_idempotency_key():
    # given: A and B both sell internet in the same marketplace
    a = world()
    b_provider = ParticipationFactory(marketplace=a.marketplace).provider
    b_product = ProductFactory(provider=b_provider)
    PriceFactory(product=b_product, marketplace=a.marketplace, monthly_amount=Decimal("299.00"))
    a_body = order_body(a)
    a_order = provider_client(a.provider).post("/api/v1/orders/", a_body, format="json", HTTP_IDEMPOTENCY_KEY="1")
    b_line = {"product": b_product.pk, "monthly_amount": "299.00", "currency": "SEK"}
    b_body = order_body(a, address=AddressFactory(area=a.area, status="connected").pk, lines=[b_line])

    # when
    b_order = provider_client(b_provider).post("/api/v1/orders/", b_body, format="json", HTTP_IDEMPOTENCY_KEY="1")

    # then
    assert (a_order.status_code, b_order.status_code) == (201, 201), b_order.content
    assert a_order.json()["id"] != b_order.json()["id"]
    assert Order.objects.get(pk=b_order.json()["id"]).provider == b_provider


def test_an_order_for_a_known_email_does_not_reveal_what_another_provider_stored(tenants):
    # given: only A has a customer with this email (Karin Ek, with a phone number)
    a, b = tenants
    a_body = order_body(a)
    a_body["customer"].update({"first_name": "Karin", "last_name": "Ek", "email": "karin@example.test"})
    a_body["address"] = AddressFactory(area=a.area, status="connected").pk
    response = provider_client(a.provider).post("/api/v1/orders/", a_body, format="json", HTTP_IDEMPOTENCY_KEY="a-2")
    assert response.status_code == 201, response.content
    # when: B orders for the same email under another name and without a phone
    body = order_body(b)
    body["customer"].update({"first_name": "Someone", "last_name": "Else", "phone": "", "email": "karin@example.test"})
    body["address"] = AddressFactory(area=b.area, status="connected").pk
    response = provider_client(b.provider).post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="b-2")

    # then: B sees the customer it named, not A's customer's details
    assert response.status_code == 201, response.content
    customer = response.json()["customer"]
    assert customer["name"] == "Someone Else"
    assert customer["phone"] == ""


# --- who gets in -------------------------------------------------------------------------------

# Every list route of the router and every other named view of the provider API.
ENTRY_URLS = [reverse(f"{basename}-list") for basename in BASENAMES] + [
    reverse(pattern.name) for pattern in api_urls.extra_patterns if getattr(pattern, "name", None)
]


@pytest.mark.parametrize("url", ENTRY_URLS)
def test_a_user_of_no_service_provider_is_refused(url):
    # given: a user with a token but no membership
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + api_token_issue(user=UserFactory(), name="test")[1])

    # when
    response = client.get(url)

    # then
    assert response.status_code == 403
    assert response.json()["code"] == "not_a_provider"


def test_a_member_of_the_network_operator_is_not_a_provider(w):
    # given
    user = UserFactory()
    membership_grant(user=user, organization=OrganizationFactory(kind="network_operator"), role="api")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + api_token_issue(user=user, name="test")[1])

    # when
    response = client.post("/api/v1/orders/", order_body(w), format="json", HTTP_IDEMPOTENCY_KEY="op")

    # then
    assert response.status_code == 403
    assert response.json()["code"] == "not_a_provider"
    assert not Order.objects.exists()


@pytest.mark.parametrize("url", ENTRY_URLS)
def test_no_token_is_unauthenticated(url):
    # when
    response = APIClient().get(url)

    # then
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_wrong_token_is_unauthenticated(w):
    # given
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    # when
    response = client.post(f"/api/v1/products/{w.internet.pk}/retire/")

    # then
    assert response.status_code == 401
    w.internet.refresh_from_db()
    assert w.internet.retired_at is None
