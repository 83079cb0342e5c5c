"""A subscriber ends a subscription (seeing the earliest end day first) and withdraws the notice, and switches
provider and aborts the switch — on a 390x844 phone, in a real browser. Screenshots of each step go to
$COS_SHOTS_DIR (tests/e2e/phone.py) for a person to look at."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketplace import services
from marketplace.choices import OrderStatus, SubscriptionStatus, SwitchStatus
from marketplace.models import Order, Subscription, Switch
from marketplace.selectors import marketplace_today
from tests.cos.factories import UserFactory
from tests.e2e.phone import fits_the_screen, shot
from tests.marketplace.factories import ContractTermFactory, ParticipationFactory, PriceFactory, ProductFactory, world

pytestmark = pytest.mark.django_db(transaction=True)


def _shown(day) -> str:
    return f"{day.day} {day:%B %Y}"


def _subscriber_with_live_internet_and_tv():
    """Internet (no minimum term, 30 days' notice) and TV, live, for a customer who can log in as eva."""
    w = world()
    w.internet.term = ContractTermFactory(provider=w.provider, minimum_months=0, notice_days=30)
    w.internet.save(update_fields=["term"])
    w.customer.user = UserFactory(username="eva")
    w.customer.save(update_fields=["user"])
    order, _ = services.order_place(request=w.request(w.internet, w.tv))
    internet, tv = Subscription.objects.filter(order_line__order=order).order_by("pk")
    for subscription in (internet, tv):
        services.subscription_activate(subscription_id=subscription.pk, at=timezone.now())
    return w, internet, tv


def _log_in(page) -> None:
    page.goto(page.base_url + "/portal/")
    page.fill("#id_username", "eva")
    page.fill("#id_password", "pw-123456")
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('My services')")


def test_subscriber_ends_internet_on_the_earliest_day_and_withdraws_the_notice_on_a_phone(phone):
    # given
    w, internet, tv = _subscriber_with_live_internet_and_tv()
    ends_on = marketplace_today(w.marketplace) + timedelta(days=30)
    page = phone

    # when: the subscriber logs in and opens My services
    _log_in(page)
    shot(page, "end-1-my-services")
    assert fits_the_screen(page)

    # and taps End subscription on the internet
    page.click(f"#subscription-{internet.pk} >> text=End subscription")
    page.wait_for_selector("#earliest-end")
    shot(page, "end-2-end-page")

    # then: before confirming, the earliest end day and the TV that ends with it
    assert page.inner_text("#earliest-end") == _shown(ends_on)
    assert page.is_visible("text=These services need it and end on the same day")
    assert fits_the_screen(page)

    # when: a reason and confirm
    page.select_option("#id_reason", "moved")
    page.click("text=Confirm: end Fiber 1000")

    # then: My services says when it ends, for both
    page.wait_for_selector(f"text=Notice received: Fiber 1000 ends on {ends_on.day} {ends_on:%B %Y}.")
    shot(page, "end-3-notice-received")
    assert page.inner_text(f"#subscription-{internet.pk} p strong") == _shown(ends_on)
    assert page.is_visible(f"#subscription-{internet.pk} >> text=Ends on")
    assert page.is_visible(f"#subscription-{tv.pk} >> text=Ends on")
    assert fits_the_screen(page)
    internet.refresh_from_db()
    assert (internet.status, internet.ends_on) == (SubscriptionStatus.AWAITING_CANCELLATION, ends_on)

    # when: they change their mind
    page.click(f"#subscription-{internet.pk} >> text=Withdraw the notice and keep it")

    # then: both run on, and can be ended again
    page.wait_for_selector("text=Your notice is withdrawn: Fiber 1000 runs on.")
    shot(page, "end-4-notice-withdrawn")
    assert page.is_visible(f"#subscription-{internet.pk} >> text=End subscription")
    assert not page.is_visible("text=Ends on")
    internet.refresh_from_db()
    tv.refresh_from_db()
    assert (internet.status, tv.status) == (SubscriptionStatus.ACTIVE, SubscriptionStatus.ACTIVE)


def test_subscriber_orders_a_switch_to_another_provider_and_aborts_it_on_a_phone(phone):
    # given: provider A's internet live; provider B sells internet at the address too
    w, internet, _ = _subscriber_with_live_internet_and_tv()
    b = ParticipationFactory(marketplace=w.marketplace).provider
    b_internet = ProductFactory(provider=b, name="B 500", download_mbps=500, upload_mbps=500)
    PriceFactory(product=b_internet, marketplace=w.marketplace, monthly_amount=Decimal("329.00"), start_fee=0)
    handover = marketplace_today(w.marketplace) + timedelta(days=30)
    page = phone
    _log_in(page)

    # when: the subscriber looks at the offers for the address
    page.click(f"#subscription-{internet.pk} >> text=Add a service")
    page.wait_for_selector("text=B 500")
    shot(page, "switch-1-offers")

    # then: B's offer says it is a switch, and when it takes over at the earliest
    assert page.is_visible(
        f"text=Switch from {w.provider.name}: it takes over on {handover.day} {handover:%B %Y} at the earliest"
    )
    assert fits_the_screen(page)

    # when: B's internet is ordered
    page.check(f"#offer-{w.marketplace.pk}-{b_internet.pk}")
    page.click("text=Continue to order")
    page.fill("#id_phone", "+46 70 000 00 00")
    # a switch has no visit: the day asked for is the hand-over day, and there is no time of day to choose
    assert page.is_visible("text=Preferred switch day")
    assert not page.is_visible("#id_install_slot")
    page.click("text=Review the order")
    page.wait_for_selector("#id_terms_accepted")
    shot(page, "switch-2-review")
    page.check("#id_terms_accepted")
    page.click("text=Place order")
    page.wait_for_selector("#order-number")
    shot(page, "switch-3-done")
    order = Order.objects.get(provider=b)
    switch = Switch.objects.get(order=order)
    assert (switch.status, switch.handover_on) == (SwitchStatus.SCHEDULED, handover)

    # then: My services shows A's service moving and B's order taking over, each with a way back
    page.click("text=My services")
    page.wait_for_selector(f"#subscription-{internet.pk} >> text=Moves to another provider on")
    shot(page, "switch-4-my-services")
    assert page.is_visible(f"text=Takes over your internet from {w.provider.name}")
    assert page.locator("a:has-text('Abort the switch')").count() == 2
    assert fits_the_screen(page)

    # when: they tap Abort the switch: a confirmation first
    page.click(f"#subscription-{internet.pk} >> text=Abort the switch")
    page.wait_for_selector(f"h1:has-text('Stay with {w.provider.name}?')")
    shot(page, "switch-5-abort-confirm")
    assert fits_the_screen(page)
    switch.refresh_from_db()
    assert switch.status == SwitchStatus.SCHEDULED
    page.click("button:has-text('Abort the switch')")

    # then: B's order is cancelled, A's internet runs on
    page.wait_for_selector(f"text=The switch is aborted: Fiber 1000 from {w.provider.name} runs on.")
    shot(page, "switch-6-aborted")
    assert not page.is_visible("text=Moves to another provider")
    assert page.is_visible(f"#subscription-{internet.pk} >> text=End subscription")
    order.refresh_from_db()
    internet.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert internet.status == SubscriptionStatus.ACTIVE
