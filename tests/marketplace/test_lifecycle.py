"""The life of a subscription after its order: activation by the network, notice and termination by the contract
terms, dependents ending with their base, orders completing by themselves, re-orders after termination, plan
changes scheduled by kind, and the one-owner rule for transitions."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import TestCase
from django.utils import timezone

from cos.errors import ApplicationError
from cos.fsm import ForeignTransition
from cos.models import Event, ProviderNotification
from marketplace import services
from marketplace.choices import (
    CancellationReason,
    ChangeKind,
    ChangeStatus,
    OrderStatus,
    SubscriptionStatus,
)
from marketplace.models import Order, Subscription, SubscriptionChange
from tests.marketplace.factories import ContractTermFactory, PriceFactory, ProductFactory, world

pytestmark = pytest.mark.django_db

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _live(w, capture, *products, at=None):
    """An accepted order of the products, every subscription verified live at `at` (default now)."""
    with capture(execute=True):
        order, _ = services.order_place(request=w.request(*(products or (w.internet,))))
    subscriptions = list(Subscription.objects.filter(order_line__order=order).order_by("pk"))
    for subscription in subscriptions:
        with capture(execute=True):
            services.subscription_activate(subscription_id=subscription.pk, at=at or timezone.now())
    for subscription in subscriptions:
        subscription.refresh_from_db()
    return order, subscriptions


def _terms(product, **fields):
    term = ContractTermFactory(provider=product.provider, **fields)
    product.term = term
    product.save(update_fields=["term"])
    return term


def _local_today():
    return timezone.now().astimezone(STOCKHOLM).date()


# --- activation and the order's own progress ---------------------------------------------------------------


def test_an_order_completes_by_itself_once_every_line_is_live(django_capture_on_commit_callbacks):
    # given: internet and TV ordered
    w = world()
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = services.order_place(request=w.request(w.internet, w.tv))
    internet, tv = Subscription.objects.filter(order_line__order=order).order_by("pk")
    # when: the network verifies internet only
    services.subscription_activate(subscription_id=internet.pk, at=timezone.now())
    # then: the order is being fulfilled, not done
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_FULFILLMENT
    # when: TV too
    services.subscription_activate(subscription_id=tv.pk, at=timezone.now())
    # then
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert order.completed_at is not None
    assert Event.objects.filter(name="order.completed", payload__order_id=order.pk).count() == 1


def test_activation_delivered_twice_activates_once(django_capture_on_commit_callbacks):
    w = world()
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    first = subscription.activated_at
    services.subscription_activate(subscription_id=subscription.pk, at=first + timedelta(hours=1))
    subscription.refresh_from_db()
    assert subscription.activated_at == first
    assert Event.objects.filter(name="subscription.activated").count() == 1


def test_a_transition_asked_for_by_another_apps_code_is_refused(django_capture_on_commit_callbacks):
    # given: a live subscription, and code of another app that transitions it inline
    w = world()
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    code = "from cos.fsm import transition_apply\ntransition_apply(subscription, 'suspend')\n"
    # when / then: from billing's code it is refused; marketplace's own services may
    with pytest.raises(ForeignTransition, match="billing.inline"):
        exec(code, {"__name__": "billing.inline", "subscription": subscription})  # noqa: S102
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE
    exec(code, {"__name__": "marketplace.inline", "subscription": subscription})  # noqa: S102
    assert subscription.status == SubscriptionStatus.SUSPENDED


# --- notice and termination ---------------------------------------------------------------------------------


def test_notice_ends_the_subscription_on_the_earliest_day_and_the_provider_is_told(django_capture_on_commit_callbacks):
    # given: no minimum term, 30 days' notice
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.subscription_terminate(subscription_id=subscription.pk, reason=CancellationReason.MOVED)
    # then: it runs until the notice ends; the provider has a notification
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.AWAITING_CANCELLATION
    assert subscription.ends_on == _local_today() + timedelta(days=30)
    assert subscription.cancellation_reason == CancellationReason.MOVED
    (note,) = ProviderNotification.objects.filter(topic="subscription.awaiting_cancellation")
    assert note.provider == w.provider
    assert not Event.objects.filter(name="subscription.terminated").exists()
    # when: the day comes
    day = datetime.combine(subscription.ends_on, datetime.min.time(), STOCKHOLM) + timedelta(hours=1)
    with time_machine.travel(day, tick=False), django_capture_on_commit_callbacks(execute=True):
        ended = services.subscription_terminations_due()
    # then
    subscription.refresh_from_db()
    assert ended == 1
    assert subscription.status == SubscriptionStatus.TERMINATED
    assert Event.objects.filter(name="subscription.terminated", payload__subscription_id=subscription.pk).count() == 1


def test_a_notice_is_not_ended_before_its_day(django_capture_on_commit_callbacks):
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    services.subscription_terminate(subscription_id=subscription.pk, reason=CancellationReason.MOVED)
    subscription.refresh_from_db()
    day_before = datetime.combine(subscription.ends_on - timedelta(days=1), datetime.min.time(), STOCKHOLM)
    with time_machine.travel(day_before + timedelta(hours=23), tick=False):
        assert services.subscription_terminations_due() == 0
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.AWAITING_CANCELLATION


def test_without_notice_days_it_ends_today(django_capture_on_commit_callbacks):
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=0)
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    services.subscription_terminate(subscription_id=subscription.pk, reason=CancellationReason.SERVICE_CANCELLED)
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.TERMINATED
    assert subscription.terminated_at is not None


def test_an_end_day_before_the_notice_ends_is_refused_and_changes_nothing(django_capture_on_commit_callbacks):
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    events_before = Event.objects.count()
    with pytest.raises(ApplicationError) as refused:
        services.subscription_terminate(
            subscription_id=subscription.pk, reason="moved", ends_on=_local_today() + timedelta(days=10)
        )
    assert refused.value.code == "notice_period"
    assert refused.value.extra["earliest_end"] == (_local_today() + timedelta(days=30)).isoformat()
    subscription.refresh_from_db()
    assert (subscription.status, subscription.ends_on) == (SubscriptionStatus.ACTIVE, None)
    assert Event.objects.count() == events_before


def test_the_minimum_term_must_be_served_where_no_early_fee_is_set(django_capture_on_commit_callbacks):
    # given: 12 months minimum, activated today, no early-termination fee
    w = world()
    _terms(w.internet, minimum_months=12, notice_days=30)
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    # when: asked to end after the notice but inside the minimum term
    with pytest.raises(ApplicationError) as refused:
        services.subscription_terminate(
            subscription_id=subscription.pk, reason="moved", ends_on=_local_today() + timedelta(days=40)
        )
    # then
    assert refused.value.code == "minimum_term"
    # when: the default (earliest) day is asked for: the end of the minimum term
    services.subscription_terminate(subscription_id=subscription.pk, reason="moved")
    subscription.refresh_from_db()
    activated_on = subscription.activated_at.astimezone(STOCKHOLM).date()
    assert subscription.ends_on == activated_on.replace(year=activated_on.year + 1)
    assert subscription.early_termination_charged is False


def test_an_early_termination_fee_buys_out_the_minimum_term(django_capture_on_commit_callbacks):
    w = world()
    _terms(w.internet, minimum_months=12, notice_days=30, early_termination_fee=Decimal("995.00"))
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    assert subscription.early_termination_fee == Decimal("995.00")  # snapshot of the term at order
    services.subscription_terminate(subscription_id=subscription.pk, reason="moved")
    subscription.refresh_from_db()
    assert subscription.ends_on == _local_today() + timedelta(days=30)
    assert subscription.early_termination_charged is True


def test_operator_staff_may_waive_the_notice_and_minimum_term(django_capture_on_commit_callbacks):
    w = world()
    _terms(w.internet, minimum_months=12, notice_days=60, early_termination_fee=Decimal("995.00"))
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    services.subscription_terminate(subscription_id=subscription.pk, reason="other", note="deceased", waive_notice=True)
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.TERMINATED
    assert subscription.early_termination_charged is False
    assert subscription.cancellation_note == "deceased"


@pytest.mark.parametrize(
    ("reason", "note", "code"), [("bored", "", "invalid_reason"), ("other", " ", "reason_required")]
)
def test_a_termination_needs_a_reason_of_the_list(reason, note, code, django_capture_on_commit_callbacks):
    w = world()
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    with pytest.raises(ApplicationError) as refused:
        services.subscription_terminate(subscription_id=subscription.pk, reason=reason, note=note)
    assert refused.value.code == code
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE


def test_repeating_a_termination_changes_nothing(django_capture_on_commit_callbacks):
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    services.subscription_terminate(subscription_id=subscription.pk, reason="moved")
    events = Event.objects.count()
    services.subscription_terminate(subscription_id=subscription.pk, reason="moved")
    assert Event.objects.count() == events
    with pytest.raises(ApplicationError) as refused:
        services.subscription_terminate(
            subscription_id=subscription.pk, reason="moved", ends_on=_local_today() + timedelta(days=90)
        )
    assert refused.value.code == "notice_running"


def test_a_pending_subscription_is_not_terminated_but_its_order_cancelled(django_capture_on_commit_callbacks):
    w = world()
    with django_capture_on_commit_callbacks(execute=True):
        services.order_place(request=w.request())
    subscription = Subscription.objects.get()
    with pytest.raises(ApplicationError) as refused:
        services.subscription_terminate(subscription_id=subscription.pk, reason="moved")
    assert refused.value.code == "subscription_not_live"


def test_tv_ends_with_the_internet_it_needs_and_runs_on_when_the_notice_is_withdrawn(
    django_capture_on_commit_callbacks,
):
    # given: internet and TV from one provider, internet with 30 days' notice
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    _, (internet, tv) = _live(w, django_capture_on_commit_callbacks, w.internet, w.tv)
    # when: internet is ended
    services.subscription_terminate(subscription_id=internet.pk, reason="moved")
    # then: TV ends on the same day
    tv.refresh_from_db()
    internet.refresh_from_db()
    assert (tv.status, tv.ends_on, tv.ends_with_id) == (
        SubscriptionStatus.AWAITING_CANCELLATION,
        internet.ends_on,
        internet.pk,
    )
    # when: the notice is withdrawn
    services.subscription_notice_withdraw(subscription_id=internet.pk)
    # then: both run on
    for subscription in (internet, tv):
        subscription.refresh_from_db()
        assert (subscription.status, subscription.ends_on) == (SubscriptionStatus.ACTIVE, None)
    assert ProviderNotification.objects.filter(topic="subscription.cancellation_aborted").count() == 2


def test_the_address_can_be_ordered_again_after_a_termination(django_capture_on_commit_callbacks):
    # given: internet at the address, ended
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=0)
    first, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    services.subscription_terminate(subscription_id=subscription.pk, reason="moved")
    first.refresh_from_db()
    assert first.status == OrderStatus.COMPLETED
    # when: someone orders internet there again
    with django_capture_on_commit_callbacks(execute=True):
        again, created = services.order_place(request=w.request())
    # then: accepted, not a duplicate
    again.refresh_from_db()
    assert created
    assert again.status == OrderStatus.ACCEPTED
    assert Order.objects.count() == 2


# --- changes of plan ----------------------------------------------------------------------------------------


def _plan(w, name, amount, *, category="internet", provider=None, currency=None):
    product = ProductFactory(
        provider=provider or w.provider,
        name=name,
        category=category,
        download_mbps=2000 if category == "internet" else None,
        upload_mbps=2000 if category == "internet" else None,
        service_profile=f"P_{name}",
    )
    PriceFactory(
        product=product,
        marketplace=w.marketplace,
        monthly_amount=Decimal(amount),
        currency=currency or w.marketplace.currency,
        start_fee=Decimal("0"),
    )
    return product


def test_an_upgrade_is_sent_to_the_network_at_once_and_applies_only_when_verified(
    django_capture_on_commit_callbacks,
):
    w = world()
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    faster = _plan(w, "Fiber 2000", "599.00")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        change = services.subscription_change_request(subscription_id=subscription.pk, product_id=faster.pk)
    # then: asked of the network; the subscription keeps its plan until the network verifies
    assert (change.kind, change.status, change.effective_on) == (
        ChangeKind.UPGRADE,
        ChangeStatus.REQUESTED,
        _local_today(),
    )
    (event,) = Event.objects.filter(name="subscription.change_requested")
    assert event.payload["profile"] == "P_Fiber 2000"
    subscription.refresh_from_db()
    assert subscription.product == w.internet
    # when: the network verified it (provisioning calls the owner's command)
    services.subscription_change_product(change_id=change.pk, at=timezone.now())
    # then
    subscription.refresh_from_db()
    change.refresh_from_db()
    assert (subscription.product, subscription.monthly_amount) == (faster, Decimal("599.00"))
    assert change.status == ChangeStatus.APPLIED


def test_a_downgrade_waits_for_the_next_billing_period(django_capture_on_commit_callbacks):
    w = world()
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    cheaper = _plan(w, "Fiber 100", "199.00")
    change = services.subscription_change_request(subscription_id=subscription.pk, product_id=cheaper.pk)
    first_of_next = (_local_today().replace(day=1) + timedelta(days=32)).replace(day=1)
    assert (change.kind, change.status, change.effective_on) == (
        ChangeKind.DOWNGRADE,
        ChangeStatus.SCHEDULED,
        first_of_next,
    )
    assert not Event.objects.filter(name="subscription.change_requested").exists()
    # when: the day comes
    with time_machine.travel(datetime.combine(first_of_next, datetime.min.time(), STOCKHOLM) + timedelta(hours=1)):
        assert services.subscription_changes_due() == 1
    change.refresh_from_db()
    assert change.status == ChangeStatus.REQUESTED
    assert Event.objects.filter(name="subscription.change_requested", payload__change_id=change.pk).exists()


def test_a_plan_change_before_the_service_is_live_applies_at_once(django_capture_on_commit_callbacks):
    w = world()
    with django_capture_on_commit_callbacks(execute=True):
        services.order_place(request=w.request())
    subscription = Subscription.objects.get()
    faster = _plan(w, "Fiber 2000", "599.00")
    change = services.subscription_change_request(subscription_id=subscription.pk, product_id=faster.pk)
    subscription.refresh_from_db()
    assert change.status == ChangeStatus.APPLIED
    assert (subscription.product, subscription.status) == (faster, SubscriptionStatus.PENDING)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda w: w.internet, "same_plan"),
        (lambda w: _plan(w, "Other's", "599.00", provider=ProductFactory().provider), "product_not_found"),
        (lambda w: _plan(w, "TV Plus", "99.00", category="tv"), "category_mismatch"),
        (lambda w: ProductFactory(provider=w.provider, name="Unpriced"), "product_not_available"),
    ],
)
def test_a_plan_change_that_cannot_be_made_is_refused_and_writes_nothing(
    make, code, django_capture_on_commit_callbacks
):
    w = world()
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    product = make(w)
    with pytest.raises(ApplicationError) as refused:
        services.subscription_change_request(subscription_id=subscription.pk, product_id=product.pk)
    assert refused.value.code == code
    assert not SubscriptionChange.objects.exists()


def test_one_change_at_a_time(django_capture_on_commit_callbacks):
    w = world()
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    cheaper, cheapest = _plan(w, "Fiber 100", "199.00"), _plan(w, "Fiber 50", "99.00")
    first = services.subscription_change_request(subscription_id=subscription.pk, product_id=cheaper.pk)
    assert services.subscription_change_request(subscription_id=subscription.pk, product_id=cheaper.pk) == first
    with pytest.raises(ApplicationError) as refused:
        services.subscription_change_request(subscription_id=subscription.pk, product_id=cheapest.pk)
    assert refused.value.code == "change_pending"
    # when the scheduled one is withdrawn, another may be asked for
    services.subscription_change_cancel(change_id=first.pk)
    second = services.subscription_change_request(subscription_id=subscription.pk, product_id=cheapest.pk)
    assert second.to_product == cheapest


def test_a_scheduled_downgrade_is_dropped_when_the_subscription_ends_first(django_capture_on_commit_callbacks):
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=0)
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    change = services.subscription_change_request(
        subscription_id=subscription.pk, product_id=_plan(w, "Fiber 100", "199.00").pk
    )
    services.subscription_terminate(subscription_id=subscription.pk, reason="moved")
    change.refresh_from_db()
    assert change.status == ChangeStatus.CANCELLED


def test_suspension_and_resumption_carry_a_reason_code_and_repeat_safely(django_capture_on_commit_callbacks):
    from cos.models import TransitionLog

    w = world()
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    services.subscription_suspend(subscription_id=subscription.pk, reason_code="fraud_or_abuse", reason="spam")
    services.subscription_suspend(subscription_id=subscription.pk, reason_code="fraud_or_abuse", reason="spam")
    assert Event.objects.filter(name="subscription.suspended").count() == 1
    log = TransitionLog.objects.filter(object_id=subscription.pk, target=SubscriptionStatus.SUSPENDED).get()
    assert log.reason == "Fraud or abuse: spam"
    with pytest.raises(ApplicationError) as refused:
        services.subscription_resume(subscription_id=subscription.pk, reason_code="nonsense")
    assert refused.value.code == "invalid_reason"
    services.subscription_resume(subscription_id=subscription.pk, reason_code="correction")
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.ACTIVE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_providers_switching_the_same_service_at_once_give_one_switch():
    import threading

    from django.db import connection

    from marketplace.errors import OrderInvalid
    from marketplace.models import Switch
    from marketplace.validation import LineRequest
    from tests.marketplace.factories import ParticipationFactory

    # given: A's internet live (30 days' notice), and providers B and C in the same marketplace
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    with TestCase.captureOnCommitCallbacks(execute=True):
        order, _ = services.order_place(request=w.request())
    services.subscription_activate(subscription_id=Subscription.objects.get().pk, at=timezone.now())
    others = []
    for name in ("B", "C"):
        provider = ParticipationFactory(marketplace=w.marketplace).provider
        others.append((provider, _plan(w, f"{name} 500", "329.00", provider=provider)))
    barrier, outcomes = threading.Barrier(2), []

    def switch(provider, product):
        try:
            barrier.wait()
            request = w.request(
                provider_id=provider.pk, lines=[LineRequest(product.pk, Decimal("329.00"), "SEK")], install_date=None
            )
            services.order_place(request=request)
            outcomes.append("placed")
        except OrderInvalid as refused:
            outcomes.append(refused.code)
        finally:
            connection.close()

    # when: both order at the same moment
    threads = [threading.Thread(target=switch, args=pair) for pair in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then: one switch, the other order refused as a duplicate
    assert sorted(outcomes) == ["duplicate", "placed"]
    assert Switch.objects.count() == 1


def test_a_switch_before_the_old_minimum_term_shows_the_old_providers_fee(django_capture_on_commit_callbacks):
    from marketplace.selectors import switch_previews
    from tests.marketplace.factories import ParticipationFactory

    # given: A's internet live, 12 months' minimum bought out by a 995 SEK fee, 30 days' notice; B sells there
    w = world()
    _terms(w.internet, minimum_months=12, notice_days=30, early_termination_fee=Decimal("995.00"))
    _, (subscription,) = _live(w, django_capture_on_commit_callbacks)
    ParticipationFactory(marketplace=w.marketplace)
    minimum_end = subscription.activated_at.astimezone(STOCKHOLM).date()
    minimum_end = minimum_end.replace(year=minimum_end.year + 1)
    # when: the subscriber looks at a switch at the earliest day, and at one after the minimum term
    (early,) = switch_previews(address_id=w.address.pk, customer=w.customer, categories=["internet"], requested=None)
    (late,) = switch_previews(
        address_id=w.address.pk, customer=w.customer, categories=["internet"], requested=minimum_end
    )
    # then: the early one says what A charges, the late one charges nothing
    assert (early.handover_on, early.early_fee, early.minimum_end) == (
        _local_today() + timedelta(days=30),
        Decimal("995.00"),
        minimum_end,
    )
    assert (late.handover_on, late.early_fee) == (minimum_end, None)
