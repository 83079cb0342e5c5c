"""A subscriber finds the address, compares offers, checks out and sees the confirmation — in a real browser."""

import pytest

from marketplace.choices import OrderStatus
from marketplace.models import Order
from tests.e2e.phone import checkout_details, fits_the_screen
from tests.marketplace.factories import ParticipationFactory, PriceFactory, ProductFactory, PromotionFactory, world

pytestmark = pytest.mark.django_db(transaction=True)


def test_search_compare_checkout_and_confirmation_on_a_phone(browser_page):
    # given: an address with offers from two providers
    w = world()
    w.address.street, w.address.house_number = "Storgatan", 12
    w.address.save()
    PromotionFactory(product=w.internet)
    rival = ProductFactory(name="Rival 500", download_mbps=500, upload_mbps=500)
    ParticipationFactory(marketplace=w.marketplace, provider=rival.provider)
    PriceFactory(product=rival, marketplace=w.marketplace)
    page = browser_page

    # when: the subscriber types the address and picks the suggestion
    page.goto(page.base_url + "/")
    page.fill("#q", "Storgatan 12")
    page.click("text=Storgatan 12")
    # then: both providers' offers are compared side by side
    page.wait_for_selector("text=Rival 500")
    assert page.is_visible("text=Fiber 1000")
    assert page.is_visible("text=50 % off for 3 month(s)")
    assert fits_the_screen(page)

    # when: internet + TV of one provider, then details with sign-up
    page.check(f"#offer-{w.marketplace.pk}-{w.internet.pk}")
    page.check(f"#offer-{w.marketplace.pk}-{w.tv.pk}")
    page.click("text=Continue to order")
    checkout_details(page)
    page.fill("#id_password", "a-long-pass-phrase")
    page.click("text=Review the order")

    # then: the review shows the first month: 399 - 199.50 + 199 + 495 start fee = 893.50, +25 % tax = 1116.88
    page.wait_for_selector("#first-month-total")
    assert page.inner_text("#first-month-total") == "1116.88 SEK"
    assert fits_the_screen(page)

    # when: terms accepted, order placed
    page.check("#id_terms_accepted")
    page.click("text=Place order")

    # then: the confirmation with the order number, and the order is accepted
    page.wait_for_selector("#order-number")
    order = Order.objects.get()
    assert page.inner_text("#order-number") == str(order.pk)
    assert order.status == OrderStatus.ACCEPTED
    assert sorted(order.lines.values_list("product__name", flat=True)) == ["Fiber 1000", "TV Bas"]
    page.click("text=My services")
    page.wait_for_selector("text=Order")
    assert page.is_visible(f"text=Order {order.pk}")
