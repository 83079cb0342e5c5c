"""Where money is decided, a phone shows every amount: the checkout review, the invoice, the receipt and the
payment history at 390x844, with no sideways scrolling (of the page or of a table inside it), the total on screen
and the largest figure. Screenshots go to $COS_SHOTS_DIR (tests/e2e/phone.py)."""

from datetime import date

import pytest
from django.urls import reverse

from billing.payments import invoice_pay_now, payment_method_add
from marketplace.models import Marketplace
from tests.billing.factories import TEST_CARD, activate, subscription
from tests.cos.factories import UserFactory
from tests.e2e.phone import checkout_details, shot
from tests.marketplace.factories import world

pytestmark = pytest.mark.django_db(transaction=True)

WIDTH = 390


def _shown_whole(page, selector: str) -> dict:
    """Where the element is, and whether anything on the page scrolls sideways (the page, or a box inside it)."""
    return page.evaluate(
        """(selector) => {
            const box = document.querySelector(selector).getBoundingClientRect();
            const sideways = [...document.querySelectorAll('body *')].filter(
                e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible');
            return {left: box.left, right: box.right,
                    page: document.documentElement.scrollWidth, inner: window.innerWidth,
                    boxes: sideways.map(e => e.tagName + '.' + e.className)};
        }""",
        selector,
    )


def _font_px(page, selector: str) -> float:
    return page.evaluate("(s) => parseFloat(getComputedStyle(document.querySelector(s)).fontSize)", selector)


def _fits(page, selector: str, name: str) -> None:
    shot(page, name)
    where = _shown_whole(page, selector)
    assert where["page"] <= where["inner"], where
    assert where["boxes"] == [], where
    assert where["left"] >= 0, where
    assert where["right"] <= WIDTH, where


def test_review_invoice_receipt_and_history_show_every_amount_on_a_phone(phone):
    # given: a subscriber with a first invoice, paid by card
    w = world()
    w.customer.user = UserFactory(username="eva")
    w.customer.save(update_fields=["user"])
    invoice = activate(subscription(w), date(2025, 3, 10))
    card = payment_method_add(account_id=invoice.account_id, details=TEST_CARD)
    payment = invoice_pay_now(invoice_id=invoice.pk, method_id=card.pk)
    phone.goto(phone.base_url + "/accounts/login/")
    phone.fill("#id_username", "eva")
    phone.fill("#id_password", "pw-123456")
    phone.click("button[type=submit]")
    phone.wait_for_selector("h1:has-text('My services')")

    # then: the invoice, its total the largest figure
    phone.goto(phone.base_url + reverse("portal-invoice", args=[invoice.pk]))
    _fits(phone, "#total", "1-invoice")
    _fits(phone, "#open", "1-invoice")
    line_amount = "#invoice-lines tbody td.amount"
    assert _font_px(phone, "#total") > _font_px(phone, line_amount)
    # the receipt, and the history
    phone.goto(phone.base_url + reverse("portal-payment-receipt", args=[payment.pk]))
    _fits(phone, "#receipt-amount", "2-receipt")
    phone.goto(phone.base_url + reverse("portal-payments"))
    _fits(phone, f"#payment-{payment.pk}", "3-payments")

    # when: the same subscriber reviews a new order
    other = world()
    phone.goto(phone.base_url + reverse("address-offers", args=[other.address.pk]))
    phone.check(f"#offer-{other.marketplace.pk}-{other.internet.pk}")
    phone.check(f"#offer-{other.marketplace.pk}-{other.tv.pk}")
    phone.click("text=Continue to order")
    checkout_details(phone)
    phone.click("text=Review the order")
    # then
    phone.wait_for_selector("#first-month-total")
    _fits(phone, "#first-month-total", "4-review")
    assert _font_px(phone, "#first-month-total") > _font_px(phone, "table.money tbody td.amount")


def test_a_consumers_invoice_and_review_with_the_vat_they_include_fit_a_phone(phone):
    # given: a consumer marketplace (prices include VAT) and a subscriber with its first invoice
    w = world()
    Marketplace.objects.filter(pk=w.marketplace.pk).update(prices_include_tax=True)
    w.customer.user = UserFactory(username="eva")
    w.customer.save(update_fields=["user"])
    invoice = activate(subscription(w), date(2025, 3, 10))
    phone.goto(phone.base_url + "/accounts/login/")
    phone.fill("#id_username", "eva")
    phone.fill("#id_password", "pw-123456")
    phone.click("button[type=submit]")
    phone.wait_for_selector("h1:has-text('My services')")
    # when: the invoice, with a VAT column and the VAT its total includes
    phone.goto(phone.base_url + reverse("portal-invoice", args=[invoice.pk]))
    # then: every amount on screen, the total the largest figure
    for selector in ("#total", "#tax", "#open", "#invoice-lines tbody tr:first-child td.line-tax"):
        _fits(phone, selector, "5-invoice-incl-vat")
    assert _font_px(phone, "#total") > _font_px(phone, "#invoice-lines tbody td.amount")
    # when: the offers of the same marketplace, then the review of an order
    other = world()
    Marketplace.objects.filter(pk=other.marketplace.pk).update(prices_include_tax=True)
    phone.goto(phone.base_url + reverse("address-offers", args=[other.address.pk]))
    _fits(phone, ".tax-basis", "6-offers-incl-vat")
    phone.check(f"#offer-{other.marketplace.pk}-{other.internet.pk}")
    phone.click("text=Continue to order")
    phone.fill("#id_first_name", "Eva")
    phone.fill("#id_last_name", "Berg")
    phone.fill("#id_email", "eva@example.test")
    phone.fill("#id_phone", "+46 70 000 00 00")
    phone.fill("#id_billing_street", "Storgatan 12")
    phone.fill("#id_billing_postal_code", "72110")
    phone.fill("#id_billing_city", "Västerås")
    if phone.is_visible("#id_install_slot"):
        phone.select_option("#id_install_slot", "morning")
    phone.click("text=Review the order")
    # then: the total including VAT and the VAT it includes, on screen
    phone.wait_for_selector("#first-month-total")
    _fits(phone, "#first-month-total", "7-review-incl-vat")
    _fits(phone, "#first-month-tax", "7-review-incl-vat")
    assert phone.inner_text("#first-month-total") == "894.00 SEK"  # 399.00 + 495.00, VAT included
    assert phone.inner_text("#first-month-tax") == "of which VAT 25 %\t178.80 SEK"
