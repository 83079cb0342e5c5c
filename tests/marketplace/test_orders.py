"""Placing orders: validation with reason codes, snapshots, acceptance into subscriptions, cancel and reject."""

from dataclasses import replace
from decimal import Decimal

import pytest
from django.utils import timezone

from cos.choices import AddressStatus
from cos.errors import ApplicationError, TransitionRefused
from cos.models import Event
from marketplace import services
from marketplace.choices import OrderStatus, SubscriptionStatus, ValidationCode
from marketplace.errors import IdempotencyKeyReused, OrderInvalid
from marketplace.models import Order, OrderLine, Subscription, ValidationFailure
from marketplace.validation import LineRequest
from tests.cos.factories import AddressFactory, CustomerFactory
from tests.marketplace.factories import (
    MarketplaceFactory,
    PriceFactory,
    ProductFactory,
    PromotionFactory,
    days_from_today,
    world,
)

pytestmark = pytest.mark.django_db


def _place(request, capture):
    with capture(execute=True):
        return services.order_place(request=request)


def test_a_valid_order_is_submitted_with_snapshots_and_auto_accepted(django_capture_on_commit_callbacks):
    # given
    w = world()
    promotion = PromotionFactory(product=w.internet)
    # when
    order, created = _place(w.request(w.internet, w.tv), django_capture_on_commit_callbacks)
    # then
    order.refresh_from_db()
    assert created
    assert order.status == OrderStatus.ACCEPTED
    lines = {line.product: line for line in order.lines.all()}
    internet = lines[w.internet]
    assert (internet.monthly_amount, internet.start_fee, internet.currency) == (
        Decimal("399.00"),
        Decimal("495.00"),
        "SEK",
    )
    assert (internet.promotion, internet.promotion_kind, internet.promotion_value, internet.promotion_periods) == (
        promotion,
        "percent_off",
        Decimal("50.00"),
        3,
    )
    assert (internet.minimum_months, internet.notice_days) == (12, 30)
    subscriptions = Subscription.objects.filter(order_line__order=order)
    assert {(s.product, s.status, s.monthly_amount) for s in subscriptions} == {
        (w.internet, SubscriptionStatus.PENDING, Decimal("399.00")),
        (w.tv, SubscriptionStatus.PENDING, Decimal("199.00")),
    }
    assert set(Event.objects.exclude(name="message.queued").values_list("name", flat=True)) == {
        "order.submitted",
        "order.accepted",
    }


def test_snapshots_do_not_follow_later_catalog_changes(django_capture_on_commit_callbacks):
    w = world()
    order, _ = _place(w.request(), django_capture_on_commit_callbacks)
    w.internet_price.valid_to = timezone.localdate() + timezone.timedelta(days=1)
    w.internet_price.save()
    PriceFactory(
        product=w.internet,
        marketplace=w.marketplace,
        monthly_amount=Decimal("999.00"),
        valid_from=timezone.localdate() + timezone.timedelta(days=1),
    )
    assert order.lines.get().monthly_amount == Decimal("399.00")
    assert Subscription.objects.get(order_line__order=order).monthly_amount == Decimal("399.00")


def test_a_provider_that_does_not_auto_accept_gets_a_submitted_order(django_capture_on_commit_callbacks):
    w = world(auto_accept=False)
    order, _ = _place(w.request(), django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == OrderStatus.SUBMITTED
    assert not Subscription.objects.exists()


def _expect_refusal(w, request, code, capture):
    counts = (Order.objects.count(), OrderLine.objects.count(), Subscription.objects.count())
    with pytest.raises(OrderInvalid) as refused:
        _place(request, capture)
    assert code in {p.code for p in refused.value.problems}
    assert (Order.objects.count(), OrderLine.objects.count(), Subscription.objects.count()) == counts
    assert ValidationFailure.objects.filter(code=code).exists()
    return refused.value


def test_stale_price_is_refused_and_recorded(django_capture_on_commit_callbacks):
    w = world()
    request = w.request(lines=[LineRequest(w.internet.pk, Decimal("349.00"), "SEK")])
    refused = _expect_refusal(w, request, ValidationCode.PRICE_STALE, django_capture_on_commit_callbacks)
    assert "399.00" in refused.message
    failure = ValidationFailure.objects.get()
    assert (failure.provider, failure.marketplace, failure.address, failure.product) == (
        w.provider,
        w.marketplace,
        w.address,
        w.internet,
    )


REFUSALS = [
    (
        "currency",
        lambda w: w.request(lines=[LineRequest(w.internet.pk, Decimal("399.00"), "EUR")]),
        ValidationCode.CURRENCY_MISMATCH,
    ),
    (
        "unknown product",
        lambda w: w.request(lines=[LineRequest(999999, Decimal("1"), "SEK")]),
        ValidationCode.PRODUCT_NOT_FOUND,
    ),
    (
        "other provider's product",
        lambda w: w.request(lines=[LineRequest(ProductFactory().pk, Decimal("399.00"), "SEK")]),
        ValidationCode.PRODUCT_OF_OTHER_PROVIDER,
    ),
    (
        "no price",
        lambda w: w.request(lines=[LineRequest(ProductFactory(provider=w.provider).pk, Decimal("1"), "SEK")]),
        ValidationCode.PRICE_MISSING,
    ),
    ("dependency", lambda w: w.request(w.tv), ValidationCode.DEPENDENCY_MISSING),
    ("no lines", lambda w: w.request(lines=[]), ValidationCode.NO_LINES),
    ("terms", lambda w: w.request(terms_accepted=False), ValidationCode.TERMS_NOT_ACCEPTED),
    ("unknown address", lambda w: w.request(address_id=999999), ValidationCode.ADDRESS_NOT_FOUND),
    (
        "marketplace elsewhere",
        lambda w: w.request(marketplace_id=MarketplaceFactory().pk),
        ValidationCode.MARKETPLACE_NOT_AVAILABLE,
    ),
    (
        "customer type",
        lambda w: w.request(customer=CustomerFactory(customer_type="business", company_name="AB")),
        ValidationCode.CUSTOMER_TYPE,
    ),
    ("past install date", lambda w: w.request(install_date=days_from_today(-1)), ValidationCode.INSTALLATION_WINDOW),
    ("unknown slot", lambda w: w.request(install_slot="midnight"), ValidationCode.INSTALLATION_WINDOW),
    (
        "address not connected",
        lambda w: w.request(address_id=AddressFactory(area=w.area, status=AddressStatus.PLANNED).pk),
        ValidationCode.ADDRESS_NOT_SERVICEABLE,
    ),
]


@pytest.mark.parametrize(("case", "make_request", "code"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_every_validation_failure_is_refused_and_recorded(case, make_request, code, django_capture_on_commit_callbacks):
    w = world()
    _expect_refusal(w, make_request(w), code, django_capture_on_commit_callbacks)


def test_retired_product_is_refused(django_capture_on_commit_callbacks):
    w = world()
    request = w.request()
    services.product_retire(product_id=w.internet.pk)
    _expect_refusal(w, request, ValidationCode.PRODUCT_RETIRED, django_capture_on_commit_callbacks)


def test_installation_window_is_required_where_the_marketplace_says_so(django_capture_on_commit_callbacks):
    w = world()
    w.marketplace.requires_installation_window = True
    w.marketplace.save()
    _expect_refusal(
        w, w.request(install_date=None), ValidationCode.INSTALLATION_WINDOW, django_capture_on_commit_callbacks
    )


def test_suspended_provider_is_refused(django_capture_on_commit_callbacks):
    w = world()
    services.participation_suspend(participation_id=w.participation.pk)
    _expect_refusal(w, w.request(), ValidationCode.PROVIDER_NOT_AVAILABLE, django_capture_on_commit_callbacks)


def test_barred_provider_is_refused(django_capture_on_commit_callbacks):
    w = world()
    w.participation.barred_areas.add(w.area)
    _expect_refusal(w, w.request(), ValidationCode.PROVIDER_NOT_AVAILABLE, django_capture_on_commit_callbacks)


def test_ineligible_customer_type_is_refused(django_capture_on_commit_callbacks):
    w = world()
    rule = w.internet.eligibility
    rule.customer_types = ["business"]
    rule.save()
    _expect_refusal(w, w.request(), ValidationCode.NOT_ELIGIBLE, django_capture_on_commit_callbacks)


def test_duplicate_category_at_the_address_is_refused_also_from_another_customer(django_capture_on_commit_callbacks):
    w = world()
    _place(w.request(), django_capture_on_commit_callbacks)
    _expect_refusal(
        w, w.request(customer=CustomerFactory()), ValidationCode.DUPLICATE, django_capture_on_commit_callbacks
    )


def test_tv_with_internet_in_an_earlier_order_of_the_same_provider_is_accepted(django_capture_on_commit_callbacks):
    w = world()
    _place(w.request(w.internet), django_capture_on_commit_callbacks)
    order, _ = _place(w.request(w.tv), django_capture_on_commit_callbacks)
    assert order.lines.get().product == w.tv


def test_a_new_customer_is_saved_only_with_a_valid_order(django_capture_on_commit_callbacks):
    from cos.models import Customer

    w = world()
    new = CustomerFactory.build(email="new@example.test")
    with pytest.raises(OrderInvalid):
        _place(w.request(customer=new, terms_accepted=False), django_capture_on_commit_callbacks)
    assert not Customer.objects.filter(email="new@example.test").exists()
    order, _ = _place(w.request(customer=new), django_capture_on_commit_callbacks)
    assert order.customer.email == "new@example.test"


def test_same_idempotency_key_returns_the_same_order(django_capture_on_commit_callbacks):
    w = world()
    request = w.request(idempotency_key="abc-1")
    first, created = _place(request, django_capture_on_commit_callbacks)
    second, created_again = _place(replace(request), django_capture_on_commit_callbacks)
    assert (created, created_again) == (True, False)
    assert first.pk == second.pk
    assert Order.objects.count() == 1


def test_reusing_an_idempotency_key_for_another_request_is_refused(django_capture_on_commit_callbacks):
    w = world()
    _place(w.request(idempotency_key="abc-1"), django_capture_on_commit_callbacks)
    with pytest.raises(IdempotencyKeyReused):
        _place(w.request(w.tv, idempotency_key="abc-1"), django_capture_on_commit_callbacks)
    assert Order.objects.count() == 1


def test_accept_reject_and_cancel(django_capture_on_commit_callbacks):
    w = world(auto_accept=False)
    first, _ = _place(w.request(), django_capture_on_commit_callbacks)
    with pytest.raises(ApplicationError):
        services.order_reject(order_id=first.pk, reason="  ")
    services.order_reject(order_id=first.pk, reason="Address not in our rollout yet")
    first.refresh_from_db()
    assert (first.status, first.rejection_reason) == (OrderStatus.REJECTED, "Address not in our rollout yet")
    with pytest.raises(TransitionRefused):
        services.order_accept(order_id=first.pk)
    assert not Subscription.objects.exists()

    second, _ = _place(w.request(), django_capture_on_commit_callbacks)
    services.order_accept(order_id=second.pk)
    assert Subscription.objects.filter(status=SubscriptionStatus.PENDING).count() == 1
    services.order_cancel(order_id=second.pk, reason="moved abroad")
    second.refresh_from_db()
    assert second.status == OrderStatus.CANCELLED
    assert Subscription.objects.get().status == SubscriptionStatus.CANCELLED


def test_an_order_in_fulfillment_is_cancelled_while_nothing_of_it_is_live(django_capture_on_commit_callbacks):
    # given: field work has started, no service is live yet
    w = world()
    order, _ = _place(w.request(w.internet, w.tv), django_capture_on_commit_callbacks)
    services.order_start_fulfillment(order_id=order.pk)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.order_cancel(order_id=order.pk, reason="changed my mind")
    # then
    order.refresh_from_db()
    assert (order.status, order.cancellation_reason) == (OrderStatus.CANCELLED, "changed my mind")
    assert set(Subscription.objects.values_list("status", flat=True)) == {SubscriptionStatus.CANCELLED}


def test_an_order_with_a_live_service_is_not_cancelled(django_capture_on_commit_callbacks):
    # given: one line of the order is live
    w = world()
    order, _ = _place(w.request(w.internet, w.tv), django_capture_on_commit_callbacks)
    internet = Subscription.objects.get(product=w.internet)
    services.subscription_activate(subscription_id=internet.pk, at=timezone.now())
    # when
    with pytest.raises(ApplicationError) as refused:
        services.order_cancel(order_id=order.pk)
    # then
    assert refused.value.code == "order_partly_live"
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_FULFILLMENT
    assert Subscription.objects.get(product=w.tv).status == SubscriptionStatus.PENDING


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_orders_at_one_address_give_one_order():
    import threading

    from django.db import connection

    w = world()
    barrier, outcomes = threading.Barrier(2), []

    def place(customer):
        try:
            barrier.wait()
            services.order_place(request=w.request(customer=customer))
            outcomes.append("placed")
        except OrderInvalid as refused:
            outcomes.append(refused.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=place, args=(CustomerFactory(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["duplicate", "placed"]
    assert Order.objects.count() == 1
