"""Open access on the full stack: PostgreSQL, Redis, a real Celery worker and the element-manager simulator on
loopback. A subscriber of provider A switches to provider B at the same address, once through B's provider API and
once through the portal; afterwards the service is ended and the address ordered again."""

from decimal import Decimal

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from billing.models import BillingSchedule, Invoice
from marketplace import services as marketplace_services
from marketplace.choices import OrderStatus, SubscriptionStatus, SwitchStatus
from marketplace.models import ContractTerm, Subscription, Switch
from provisioning.choices import PeriodCause, ServiceStatus
from provisioning.models import ServiceInstance, ServicePeriod
from tests.cos.factories import OLTFactory, ONTFactory, PonPortFactory, UserFactory
from tests.marketplace.api.conftest import order_body, provider_client
from tests.marketplace.factories import ParticipationFactory, PriceFactory, ProductFactory, world
from tests.provisioning.conftest import running_simulator, simulator  # noqa: F401 - fixtures

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _network(w, simulator, serial):  # noqa: F811
    """The address is connected and its ONT is in place (an earlier installation)."""
    ont = ONTFactory(
        serial=serial,
        vendor="calix",
        pon_port=PonPortFactory(olt=OLTFactory(vendor="calix")),
        address=w.address,
        bound_at=timezone.now(),
    )
    requests.post(f"{simulator.url}/_sim/onts", json={"serial": ont.serial}, timeout=5)
    ContractTerm.objects.filter(provider=w.provider).update(minimum_months=0, notice_days=0)
    return ont


def _provider_b(w):
    provider = ParticipationFactory(marketplace=w.marketplace).provider
    product = ProductFactory(
        provider=provider, name="B 500", download_mbps=500, upload_mbps=500, service_profile="B_500"
    )
    ContractTerm.objects.filter(provider=provider).update(minimum_months=0, notice_days=0)
    PriceFactory(product=product, marketplace=w.marketplace, monthly_amount=Decimal("329.00"), start_fee=0)
    return provider, product


def _device(simulator, ont):  # noqa: F811
    return requests.get(f"{simulator.url}/_sim/state", timeout=5).json()["onts"][ont.serial]["services"]


def test_a_switch_through_the_provider_api_hands_over_on_the_network_and_in_billing(
    simulator,  # noqa: F811
    celery_worker,
    wait_until,
    wait_for_quiet,
):
    # given: A's subscriber is live (activated remotely by the worker: the ONT is in place)
    w = world()
    ont = _network(w, simulator, "CXNK0F5F0001")
    a_api = provider_client(w.provider)
    body = order_body(w)
    assert a_api.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="a-1").status_code == 201
    wait_until(
        lambda: Subscription.objects.filter(provider=w.provider, status=SubscriptionStatus.ACTIVE).exists(),
        timeout=30,
        message="A's service live",
    )
    a_subscription = Subscription.objects.get(provider=w.provider)
    b, b_product = _provider_b(w)
    b_api = provider_client(b)

    # when: B orders for the same person (its own customer record, the same e-mail) at the address
    b_body = order_body(
        w, lines=[{"product": b_product.pk, "monthly_amount": "329.00", "currency": "SEK"}], preferred_install_date=None
    )
    response = b_api.post("/api/v1/orders/", b_body, format="json", HTTP_IDEMPOTENCY_KEY="b-1")
    assert response.status_code == 201, response.content
    order_id = response.json()["id"]
    assert response.json()["switches"][0]["category"] == "internet"
    assert "replaces" not in response.json()  # A's order is not B's to see

    # then: the worker hands the ONT's service over to B, verified
    wait_until(
        lambda: Switch.objects.filter(order_id=order_id, status=SwitchStatus.COMPLETED).exists(),
        timeout=30,
        message="the hand-over",
    )
    switch = Switch.objects.get(order_id=order_id)
    b_subscription = Subscription.objects.get(order_line__order_id=order_id)
    ((device_id, state),) = _device(simulator, ont).items()
    assert state["profile"] == "B_500"
    assert device_id == ServiceInstance.objects.get(subscription=a_subscription).device_service_id
    # B sees its order completed and its ledger period starting with the switch
    assert b_api.get(f"/api/v1/orders/{order_id}/").json()["status"] == OrderStatus.COMPLETED
    b_service = ServiceInstance.objects.get(subscription=b_subscription)
    (period,) = b_api.get(f"/api/v1/services/{b_service.pk}/periods/").json()
    assert (period["cause"], period["ended_at"]) == (PeriodCause.SWITCH, None)
    # A sees its subscription ended because the customer changed provider, its period closed at the same instant
    a_view = a_api.get(f"/api/v1/subscriptions/{a_subscription.pk}/").json()
    assert (a_view["status"], a_view["cancellation_reason"]) == ("terminated", "provider_changed")
    a_service = ServiceInstance.objects.get(subscription=a_subscription)
    (a_period,) = a_api.get(f"/api/v1/services/{a_service.pk}/periods/").json()
    assert a_period["end_cause"] == PeriodCause.SWITCH
    assert ServicePeriod.objects.get(service=a_service).ended_at == switch.completed_at
    # billing: A's stops and B's starts on the hand-over day, B's first invoice is issued
    wait_until(
        lambda: (
            BillingSchedule.objects.filter(subscription=a_subscription, ends_on__isnull=False).exists()
            and Invoice.objects.filter(issuer=b).exists()
        ),
        timeout=30,
        message="billing to follow",
    )
    a_end = BillingSchedule.objects.get(subscription=a_subscription).ends_on
    assert a_end == BillingSchedule.objects.get(subscription=b_subscription).activated_on

    # when: B ends the service (no notice), and later A's offer is ordered again at the address
    assert b_api.post(
        f"/api/v1/subscriptions/{b_subscription.pk}/terminate/", {"reason": "moved"}, format="json"
    ).json()["status"] == ("terminated")
    wait_until(
        lambda: ServiceInstance.objects.get(pk=b_service.pk).status == ServiceStatus.INACTIVE,
        timeout=30,
        message="B's service off",
    )
    again = a_api.post(
        "/api/v1/orders/", {**body, "preferred_install_date": None}, format="json", HTTP_IDEMPOTENCY_KEY="a-2"
    )

    # then: the re-order is accepted and activated remotely on the same ONT
    assert again.status_code == 201, again.content
    wait_until(
        lambda: Subscription.objects.filter(
            order_line__order_id=again.json()["id"], status=SubscriptionStatus.ACTIVE
        ).exists(),
        timeout=30,
        message="the re-order live",
    )
    assert len(_device(simulator, ont)) == 1
    wait_for_quiet()


def test_a_switch_through_the_portal(simulator, celery_worker, wait_until, wait_for_quiet, client):  # noqa: F811
    # given: the subscriber has a login and A's internet, live
    w = world()
    ont = _network(w, simulator, "CXNK0F5F0002")
    w.customer.user = UserFactory(username="sara", email=w.customer.email)
    w.customer.save(update_fields=["user"])
    marketplace_services.order_place(request=w.request(install_date=None))
    wait_until(
        lambda: Subscription.objects.filter(provider=w.provider, status=SubscriptionStatus.ACTIVE).exists(),
        timeout=30,
        message="A's service live",
    )
    b, b_product = _provider_b(w)
    client.force_login(w.customer.user)

    # when: the offers page says B's offer is a switch, and the subscriber orders it
    offers = client.get(reverse("address-offers", args=[w.address.pk])).content.decode()
    assert f"Switch from {w.provider.name}" in offers
    client.post(
        reverse("checkout-start"),
        {"address": w.address.pk, "customer_type": "residential", "offer": [f"{w.marketplace.pk}:{b_product.pk}"]},
    )
    details = {
        field: getattr(w.customer, field)
        for field in (
            "first_name",
            "last_name",
            "email",
            "phone",
            "billing_street",
            "billing_postal_code",
            "billing_city",
        )
    }
    client.post(reverse("checkout-details"), {**details, "phone": "+46 70 111 22 33", "install_slot": "any"})
    review = client.get(reverse("checkout-review")).content.decode()
    assert "no visit and no gap in service" in review
    done = client.post(reverse("checkout-review"), {"terms_accepted": "on"}, follow=True)
    assert done.status_code == 200

    # then: the worker hands over; My services shows B's service live and A's ended
    wait_until(
        lambda: Subscription.objects.filter(provider=b, status=SubscriptionStatus.ACTIVE).exists(),
        timeout=30,
        message="B's service live",
    )
    portal = client.get(reverse("portal")).content.decode()
    assert "B 500" in portal
    a_subscription = Subscription.objects.get(provider=w.provider)
    assert a_subscription.status == SubscriptionStatus.TERMINATED
    assert next(iter(_device(simulator, ont).values()))["profile"] == "B_500"
    assert Switch.objects.get().status == SwitchStatus.COMPLETED
    wait_for_quiet()
