"""The lifecycle in the admin, as operations and finance do it: subscription actions with a reason code, the
network contract read-only, the ledger and the contract exceptions visible to finance, billing holds released."""

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from billing.models import BillingSchedule, ReasonCode
from cos.services import membership_grant
from marketplace import services
from marketplace.choices import SubscriptionStatus
from marketplace.models import Subscription
from provisioning.models import ServiceInstance
from provisioning.requests import service_billing_block
from tests.billing.factories import activate, at, subscription
from tests.cos.factories import OrganizationFactory, UserFactory
from tests.marketplace.factories import ContractTermFactory, PriceFactory, ProductFactory, world

pytestmark = pytest.mark.django_db


def _staff(client, role):
    user = UserFactory(username=role)
    membership_grant(user=user, organization=OrganizationFactory(kind="network_operator"), role=role)
    client.force_login(user)
    return user


def _live(w, capture):
    with capture(execute=True):
        services.order_place(request=w.request())
    sub = Subscription.objects.get()
    services.subscription_activate(subscription_id=sub.pk, at=timezone.now())
    return sub


def _action(client, url, action, ids, **data):
    return client.post(url, {"action": action, "_selected_action": ids, "apply": "1", **data}, follow=True)


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def test_operations_terminate_a_subscription_with_a_reason_and_see_its_end_day(
    client, django_capture_on_commit_callbacks
):
    # given: a live subscription with 30 days' notice
    w = world()
    term = ContractTermFactory(provider=w.provider, minimum_months=0, notice_days=30)
    w.internet.term = term
    w.internet.save(update_fields=["term"])
    sub = _live(w, django_capture_on_commit_callbacks)
    _staff(client, "operations")
    url = "/admin/marketplace/subscription/"
    action = "action_terminate__reason__notice_and_minimum_term"
    # when: the form is asked for, then applied without a reason, then with one
    form = client.post(url, {"action": action, "_selected_action": [sub.pk]})
    assert 'name="reason"' in form.content.decode()
    assert _action(client, url, action, [sub.pk]).status_code == 200
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ACTIVE
    response = _action(client, url, action, [sub.pk], reason="moved", note="to Malmö")
    # then
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.AWAITING_CANCELLATION
    assert f"{sub}: under notice, ends on {sub.ends_on:%Y-%m-%d}." in _messages(response)
    assert "(Awaiting cancellation)" in str(sub)


def test_operations_change_a_plan_and_refusals_say_why(client, django_capture_on_commit_callbacks):
    w = world()
    sub = _live(w, django_capture_on_commit_callbacks)
    faster = ProductFactory(provider=w.provider, name="Fiber 2000", download_mbps=2000, upload_mbps=2000)
    PriceFactory(product=faster, marketplace=w.marketplace, monthly_amount=Decimal("599.00"))
    other = ProductFactory(name="Someone else's")
    _staff(client, "operations")
    url = "/admin/marketplace/subscription/"
    action = "action_change_plan__reason_code"
    refused = _action(client, url, action, [sub.pk], product=other.pk, reason="customer_request")
    assert any("No such product of this provider" in m for m in _messages(refused))
    with django_capture_on_commit_callbacks(execute=True):
        _action(client, url, action, [sub.pk], product=faster.pk, reason="customer_request")
    assert sub.changes.get().to_product == faster


def test_the_network_contract_is_read_only_in_the_admin(client, django_capture_on_commit_callbacks):
    w = world()
    sub = _live(w, django_capture_on_commit_callbacks)
    service = ServiceInstance.objects.get(subscription=sub)
    _staff(client, "operations")
    url = f"/admin/provisioning/serviceinstance/{service.pk}/change/"
    client.post(url, {"download_mbps": "50", "service_profile": "X"})
    service.refresh_from_db()
    assert (service.download_mbps, service.service_profile) == (1000, w.internet.service_profile)
    assert client.get("/admin/provisioning/serviceinstance/add/").status_code == 403


@pytest.mark.parametrize("page", ["serviceperiod", "contractexception", "serviceinstance"])
def test_finance_reads_the_ledger_and_the_contract_exceptions(client, page):
    _staff(client, "finance")
    assert client.get(f"/admin/provisioning/{page}/").status_code == 200


def test_finance_releases_a_billing_hold_crediting_the_held_days(client, django_capture_on_commit_callbacks):
    # given: a billed subscription whose billing is blocked
    sub = subscription()
    activate(sub, date(2026, 3, 1))
    service = ServiceInstance.objects.get(subscription=sub)
    with time_machine.travel(at(date(2026, 3, 10)), tick=False):
        service_billing_block(service_id=service.pk, reason="ONT unbound")
    code = ReasonCode.objects.create(code="outage", label="Service outage")
    _staff(client, "finance")
    schedule = BillingSchedule.objects.get(subscription=sub)
    url = "/admin/billing/billingschedule/"
    assert str(sub.pk) in client.get(url, {"held": "yes"}).content.decode()
    # when
    with time_machine.travel(at(date(2026, 3, 20)), tick=False), django_capture_on_commit_callbacks(execute=True):
        _action(
            client,
            url,
            "action_release_the_hold__credit_the_held_days__reason_code",
            [schedule.pk],
            reason_code=code.pk,
            note="ONT swapped",
        )
    # then: the block is lifted and the held days are credited (a pause with the reason)
    service.refresh_from_db()
    assert service.billing_blocked is False
    pause = schedule.pauses.get()
    assert (pause.starts_on, pause.ends_on, pause.note) == (
        date(2026, 3, 10),
        date(2026, 3, 20),
        "Service outage: ONT swapped",
    )
