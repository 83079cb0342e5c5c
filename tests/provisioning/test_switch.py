"""Open access: a subscriber switches provider at the same address. The ONT's service moves from provider A's
profile to provider B's in one verified operation on the hand-over day; A's billing stops and B's starts at that
instant, and the ledger shows the hand-over. Against the element-manager simulator on loopback."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine
from django.utils import timezone

from billing.models import BillingSchedule, InvoiceLine
from cos.errors import ApplicationError
from cos.models import Event, ProviderNotification
from marketplace import services as marketplace_services
from marketplace.choices import OrderStatus, SubscriptionStatus, SwitchStatus
from marketplace.errors import OrderInvalid
from marketplace.models import Subscription, Switch
from marketplace.validation import LineRequest
from provisioning.choices import JobAction, JobStatus, PeriodCause, ServiceStatus
from provisioning.jobs import provisioning_job_retry
from provisioning.models import ProvisioningJob, ServiceInstance, ServicePeriod
from tests.cos.factories import CustomerFactory
from tests.marketplace.factories import ContractTermFactory, ParticipationFactory, PriceFactory, ProductFactory
from tests.provisioning.conftest import fault, request_provisioning
from workorders.models import WorkOrder

pytestmark = pytest.mark.django_db

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _live_at_a(ordered, capture, *, notice_days=0, minimum_months=0, vendor="nokia"):
    """Provider A's internet, live on the ONT (notice and minimum term as given)."""
    w, ont, service = ordered(vendor)
    term = ContractTermFactory(provider=w.provider, minimum_months=minimum_months, notice_days=notice_days)
    Subscription.objects.filter(pk=service.subscription_id).update(
        notice_days=term.notice_days, minimum_months=term.minimum_months
    )
    request_provisioning(w, capture)
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    return w, ont, service


def _provider_b(w):
    participation = ParticipationFactory(marketplace=w.marketplace)
    product = ProductFactory(
        provider=participation.provider, name="B 500", download_mbps=500, upload_mbps=500, service_profile="B_500"
    )
    PriceFactory(product=product, marketplace=w.marketplace, monthly_amount=Decimal("329.00"), start_fee=Decimal("0"))
    return participation.provider, product


def _order_from_b(w, b, product, capture, *, customer=None, install_date=None):
    request = w.request(
        provider_id=b.pk,
        customer=customer or w.customer,
        lines=[LineRequest(product.pk, Decimal("329.00"), "SEK")],
        install_date=install_date,
    )
    with capture(execute=True):
        order, _ = marketplace_services.order_place(request=request)
    order.refresh_from_db()
    return order


def _device(simulator, ont):
    return requests.get(f"{simulator.url}/_sim/state", timeout=5).json()["onts"][ont.serial]["services"]


def _billed_days(subscription_id):
    """Day -> net coverage of the subscription's billed recurring days."""
    days = {}
    for line in InvoiceLine.objects.filter(subscription_id=subscription_id, voided=False, period_start__isnull=False):
        if line.kind not in ("recurring", "prorated", "credit"):
            continue
        day = line.period_start
        while day <= line.period_end:
            days[day] = days.get(day, 0) + line.coverage
            day += timedelta(days=1)
    return {day: count for day, count in days.items() if count}


def test_a_switch_hands_the_ont_over_in_one_verified_operation(ordered, simulator, django_capture_on_commit_callbacks):
    # given: A's internet live on the ONT, no notice; provider B sells in the same marketplace
    w, ont, a_service = _live_at_a(ordered, django_capture_on_commit_callbacks)
    b, b_product = _provider_b(w)
    # when: the same subscriber orders B's internet at the address
    order = _order_from_b(w, b, b_product, django_capture_on_commit_callbacks)
    # then: accepted as a switch, handed over at once (no notice), with no visit
    (switch,) = Switch.objects.filter(order=order)
    assert switch.status == SwitchStatus.COMPLETED
    assert not WorkOrder.objects.filter(orders=order).exists()
    job = ProvisioningJob.objects.get(action=JobAction.SWITCH)
    assert (job.status, job.from_service) == (JobStatus.SUCCEEDED, a_service)
    a_service.refresh_from_db()
    b_service = ServiceInstance.objects.get(subscription__order_line__order=order)
    assert (a_service.status, b_service.status) == (ServiceStatus.INACTIVE, ServiceStatus.ACTIVE)
    # the ONT carries one service, B's, under the same service id
    ((device_id, state),) = _device(simulator, ont).items()
    assert device_id == a_service.device_service_id == b_service.device_service_id
    assert state["profile"] == "B_500"
    # the ledger: A's period ends at the instant B's starts
    a_period = ServicePeriod.objects.get(service=a_service)
    b_period = ServicePeriod.objects.get(service=b_service)
    assert a_period.ended_at == b_period.started_at == switch.completed_at
    assert (a_period.end_cause, b_period.cause) == (PeriodCause.SWITCH, PeriodCause.SWITCH)
    assert (a_period.provider, b_period.provider) == (w.provider, b)
    # the subscriptions and orders
    a_subscription, b_subscription = a_service.subscription, b_service.subscription
    a_subscription.refresh_from_db()
    b_subscription.refresh_from_db()
    assert (a_subscription.status, a_subscription.cancellation_reason) == (
        SubscriptionStatus.TERMINATED,
        "provider_changed",
    )
    assert b_subscription.status == SubscriptionStatus.ACTIVE
    assert a_subscription.terminated_at == b_subscription.activated_at == switch.completed_at
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert order.replaces_id == a_subscription.order_line.order_id
    # billing: A stops and B starts on the same day; no day billed to both, none to neither
    handover_day = switch.completed_at.astimezone(STOCKHOLM).date()
    assert BillingSchedule.objects.get(subscription=a_subscription).ends_on == handover_day
    assert BillingSchedule.objects.get(subscription=b_subscription).activated_on == handover_day
    a_days, b_days = _billed_days(a_subscription.pk), _billed_days(b_subscription.pk)
    assert not set(a_days) & set(b_days)
    assert handover_day in b_days
    assert handover_day not in a_days
    assert set(a_days.values()) <= {1}
    assert set(b_days.values()) <= {1}
    # both providers are told
    topics = set(ProviderNotification.objects.values_list("provider", "topic"))
    assert (w.provider.pk, "subscription.awaiting_cancellation") in topics
    assert {(w.provider.pk, "switch.completed"), (b.pk, "switch.completed")} <= topics


def test_a_switch_waits_for_the_old_providers_notice_and_runs_on_the_handover_day(
    ordered, simulator, django_capture_on_commit_callbacks
):
    # given: A's terms have 30 days' notice
    w, ont, a_service = _live_at_a(ordered, django_capture_on_commit_callbacks, notice_days=30)
    b, b_product = _provider_b(w)
    # when
    order = _order_from_b(w, b, b_product, django_capture_on_commit_callbacks)
    # then: scheduled for the end of A's notice; A awaits cancellation and is told
    (switch,) = Switch.objects.filter(order=order)
    today = timezone.now().astimezone(STOCKHOLM).date()
    assert (switch.status, switch.handover_on) == (SwitchStatus.SCHEDULED, today + timedelta(days=30))
    a_subscription = Subscription.objects.get(pk=a_service.subscription_id)
    assert (a_subscription.status, a_subscription.ends_on) == (
        SubscriptionStatus.AWAITING_CANCELLATION,
        switch.handover_on,
    )
    assert not ProvisioningJob.objects.filter(action=JobAction.SWITCH).exists()
    # when: the day before, nothing happens; on the day, the hand-over runs
    day = datetime.combine(switch.handover_on, datetime.min.time(), STOCKHOLM)
    with time_machine.travel(day - timedelta(hours=1), tick=False):
        assert marketplace_services.switches_due() == 0
        assert marketplace_services.subscription_terminations_due() == 0
    with time_machine.travel(day + timedelta(minutes=5)), django_capture_on_commit_callbacks(execute=True):
        assert marketplace_services.switches_due() == 1
    # then
    switch.refresh_from_db()
    a_subscription.refresh_from_db()
    assert switch.status == SwitchStatus.COMPLETED
    assert switch.completed_at.astimezone(STOCKHOLM).date() == switch.handover_on
    assert a_subscription.status == SubscriptionStatus.TERMINATED
    assert next(iter(_device(simulator, ont).values()))["profile"] == "B_500"


def test_the_subscriber_aborts_a_switch_before_the_handover_day(ordered, simulator, django_capture_on_commit_callbacks):
    # given: a switch scheduled 30 days out
    w, ont, a_service = _live_at_a(ordered, django_capture_on_commit_callbacks, notice_days=30)
    b, b_product = _provider_b(w)
    order = _order_from_b(w, b, b_product, django_capture_on_commit_callbacks)
    (switch,) = Switch.objects.filter(order=order)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        marketplace_services.switch_abort(switch_id=switch.pk, reason="stay with A")
    # then: B's order is cancelled, A runs on as before, both are told; the network was never asked
    switch.refresh_from_db()
    order.refresh_from_db()
    a_subscription = Subscription.objects.get(pk=a_service.subscription_id)
    assert switch.status == SwitchStatus.ABORTED
    assert order.status == OrderStatus.CANCELLED
    assert (a_subscription.status, a_subscription.ends_on) == (SubscriptionStatus.ACTIVE, None)
    assert ServiceInstance.objects.get(subscription__order_line__order=order).status == ServiceStatus.CANCELLED
    notified = set(ProviderNotification.objects.filter(topic="switch.aborted").values_list("provider", flat=True))
    assert notified == {w.provider.pk, b.pk}
    assert not ProvisioningJob.objects.filter(action=JobAction.SWITCH).exists()
    # and the switch day passes without a hand-over
    with time_machine.travel(datetime.combine(switch.handover_on, datetime.min.time(), STOCKHOLM) + timedelta(hours=2)):
        assert marketplace_services.switches_due() == 0
        assert marketplace_services.subscription_terminations_due() == 0


def test_a_vendor_fault_on_the_handover_keeps_the_old_provider_live_and_billed(
    ordered, simulator, settings, django_capture_on_commit_callbacks
):
    # given: the element manager rejects the hand-over
    w, ont, a_service = _live_at_a(ordered, django_capture_on_commit_callbacks)
    b, b_product = _provider_b(w)
    fault(simulator, kind="reject", serial=ont.serial, times=1)
    # when
    order = _order_from_b(w, b, b_product, django_capture_on_commit_callbacks)
    # then: the job is dead, A is still live and billed, B waits; the ledger has no hand-over
    job = ProvisioningJob.objects.get(action=JobAction.SWITCH)
    assert job.status == JobStatus.DEAD
    a_service.refresh_from_db()
    assert a_service.status == ServiceStatus.ACTIVE
    assert BillingSchedule.objects.get(subscription_id=a_service.subscription_id).ends_on is None
    b_subscription = Subscription.objects.get(order_line__order=order)
    assert b_subscription.status == SubscriptionStatus.PENDING
    assert ServicePeriod.objects.filter(service=a_service, ended_at__isnull=True).exists()
    # when: operations retry it once the cause is fixed
    with django_capture_on_commit_callbacks(execute=True):
        provisioning_job_retry(job_id=job.pk)
    # then: handed over
    b_subscription.refresh_from_db()
    assert b_subscription.status == SubscriptionStatus.ACTIVE
    assert Switch.objects.get(order=order).status == SwitchStatus.COMPLETED


def test_another_customers_service_at_the_address_is_a_duplicate_not_a_switch(
    ordered, simulator, django_capture_on_commit_callbacks
):
    w, ont, a_service = _live_at_a(ordered, django_capture_on_commit_callbacks)
    b, b_product = _provider_b(w)
    with pytest.raises(OrderInvalid) as refused:
        _order_from_b(w, b, b_product, django_capture_on_commit_callbacks, customer=CustomerFactory())
    assert refused.value.code == "duplicate"
    assert not Switch.objects.exists()


def test_the_same_person_at_another_provider_is_recognised_by_email(
    ordered, simulator, django_capture_on_commit_callbacks
):
    # given: B has its own customer record for the subscriber (the API never shares A's)
    w, ont, a_service = _live_at_a(ordered, django_capture_on_commit_callbacks, notice_days=30)
    b, b_product = _provider_b(w)
    own_record = CustomerFactory(email=w.customer.email.upper(), customer_type=w.customer.customer_type)
    # when
    order = _order_from_b(w, b, b_product, django_capture_on_commit_callbacks, customer=own_record)
    # then
    assert Switch.objects.get(order=order).status == SwitchStatus.SCHEDULED


def test_a_service_not_live_yet_cannot_be_switched_away(ordered, simulator, django_capture_on_commit_callbacks):
    w, ont, a_service = ordered()
    b, b_product = _provider_b(w)
    with pytest.raises(OrderInvalid) as refused:
        _order_from_b(w, b, b_product, django_capture_on_commit_callbacks)
    assert refused.value.code == "duplicate"


def test_a_notice_running_under_a_switch_cannot_be_changed_or_withdrawn(
    ordered, simulator, django_capture_on_commit_callbacks
):
    w, ont, a_service = _live_at_a(ordered, django_capture_on_commit_callbacks, notice_days=30)
    b, b_product = _provider_b(w)
    _order_from_b(w, b, b_product, django_capture_on_commit_callbacks)
    for call in (
        lambda: marketplace_services.subscription_notice_withdraw(subscription_id=a_service.subscription_id),
        lambda: marketplace_services.subscription_terminate(subscription_id=a_service.subscription_id, reason="moved"),
    ):
        with pytest.raises(ApplicationError) as refused:
            call()
        assert refused.value.code == "switch_pending"


def test_a_switch_ordered_after_a_notice_of_its_own_takes_over_on_that_day(
    ordered, simulator, django_capture_on_commit_callbacks
):
    # given: the subscriber gave A notice first (ends in 30 days), then orders B
    w, ont, a_service = _live_at_a(ordered, django_capture_on_commit_callbacks, notice_days=30)
    marketplace_services.subscription_terminate(subscription_id=a_service.subscription_id, reason="provider_changed")
    a_subscription = Subscription.objects.get(pk=a_service.subscription_id)
    b, b_product = _provider_b(w)
    # when
    order = _order_from_b(w, b, b_product, django_capture_on_commit_callbacks)
    # then: the switch takes over on the notice's end day; the notice's own end does not turn the service off
    switch = Switch.objects.get(order=order)
    assert (switch.handover_on, switch.gave_notice) == (a_subscription.ends_on, False)
    day = datetime.combine(switch.handover_on, datetime.min.time(), STOCKHOLM) + timedelta(minutes=10)
    with time_machine.travel(day), django_capture_on_commit_callbacks(execute=True):
        assert marketplace_services.subscription_terminations_due() == 0
        marketplace_services.switches_due()
    assert not ProvisioningJob.objects.filter(action=JobAction.DEACTIVATE).exists()
    assert Switch.objects.get(order=order).status == SwitchStatus.COMPLETED
    assert Event.objects.filter(name="service.activated", payload__cause="switch").count() == 1
