"""What a provider is told of its services and orders (the notifications its webhooks carry): each verified change
on the network with the device's time and the ledger period it opened or closed; an order accepted, refused or
cancelled with why. Against the element-manager simulator on loopback."""

import pytest
from django.utils.dateparse import parse_datetime

from cos.models import ProviderNotification
from marketplace import services as marketplace_services
from provisioning.choices import PeriodCause
from provisioning.models import ServicePeriod
from tests.cos.factories import AddressFactory, CustomerFactory
from tests.marketplace.factories import world
from tests.provisioning.test_switch import _live_at_a, _order_from_b, _provider_b

pytestmark = pytest.mark.django_db


def _told(provider, topic):
    return list(ProviderNotification.objects.filter(provider=provider, topic=topic).order_by("pk"))


def test_a_provider_hears_its_service_live_with_the_devices_time_and_its_ledger_period(
    ordered, django_capture_on_commit_callbacks
):
    # when: the service goes live on the network (verified by read-back)
    w, ont, service = _live_at_a(ordered, django_capture_on_commit_callbacks)
    # then
    (accepted,) = _told(w.provider, "order.accepted")
    assert accepted.payload["status"] == "accepted"
    assert accepted.payload["subscription_ids"] == [service.subscription_id]
    (live,) = _told(w.provider, "service.activated")
    period = ServicePeriod.objects.get(service=service)
    data = live.payload
    assert (data["service_id"], data["subscription_id"], data["status"]) == (
        service.pk,
        service.subscription_id,
        "active",
    )
    assert parse_datetime(data["device_time"]) == period.started_at == service.activated_at
    assert data["period"]["id"] == period.pk
    assert data["period"]["ended_at"] is None
    assert data["ont_serial"] == ont.serial
    assert data["profile"] == service.service_profile


def test_a_switch_away_tells_the_old_provider_its_service_ended_and_the_new_one_its_service_live(
    ordered, django_capture_on_commit_callbacks
):
    # given
    w, ont, a_service = _live_at_a(ordered, django_capture_on_commit_callbacks)
    b, b_product = _provider_b(w)
    # when: the subscriber switches to B
    _order_from_b(w, b, b_product, django_capture_on_commit_callbacks)
    # then: A hears the coming end, then its service off the network, its period closed at the hand-over
    assert _told(w.provider, "subscription.awaiting_cancellation")
    (off,) = _told(w.provider, "service.deactivated")
    a_period = ServicePeriod.objects.get(service=a_service)
    assert off.payload["cause"] == PeriodCause.SWITCH
    assert off.payload["period"]["id"] == a_period.pk
    assert parse_datetime(off.payload["period"]["ended_at"]) == a_period.ended_at
    assert parse_datetime(off.payload["device_time"]) == a_period.ended_at
    # B hears its order accepted and its service live from that same instant
    (on,) = _told(b, "service.activated")
    assert parse_datetime(on.payload["device_time"]) == a_period.ended_at
    assert _told(b, "order.accepted")
    assert _told(b, "switch.completed")
    assert not _told(b, "service.deactivated")


def test_a_refused_and_a_cancelled_order_tell_the_provider_why(django_capture_on_commit_callbacks):
    w = world(auto_accept=False)
    elsewhere = AddressFactory(area=w.area, status=w.address.status)
    with django_capture_on_commit_callbacks(execute=True):
        refused, _ = marketplace_services.order_place(request=w.request())
        marketplace_services.order_reject(order_id=refused.pk, reason="no capacity in the building")
        kept, _ = marketplace_services.order_place(
            request=w.request(customer=CustomerFactory(), address_id=elsewhere.pk)
        )
        marketplace_services.order_accept(order_id=kept.pk)
        marketplace_services.order_cancel(order_id=kept.pk, reason="customer_request")
    (rejected,) = _told(w.provider, "order.rejected")
    assert (rejected.payload["order_id"], rejected.payload["status"]) == (refused.pk, "rejected")
    assert rejected.payload["reason"] == "no capacity in the building"
    (cancelled,) = _told(w.provider, "order.cancelled")
    assert (cancelled.payload["order_id"], cancelled.payload["status"]) == (kept.pk, "cancelled")
