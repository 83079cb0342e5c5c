"""A subscriber saves a card and pays their open invoice from the portal — in a real browser, with the offline
gateway and with Stripe Elements."""

from datetime import date

import pytest

from billing.choices import InvoiceStatus
from billing.models import PaymentMethod
from tests.billing import conftest as billing_fixtures
from tests.billing.factories import activate, subscription
from tests.cos.factories import UserFactory
from tests.e2e.phone import fits_the_screen
from tests.marketplace.factories import world

pytestmark = pytest.mark.django_db(transaction=True)

# The Stripe-compatible server on loopback and the settings pointing at it, as the billing tests use them.
stripe_server = billing_fixtures.stripe_server
stripe_settings = billing_fixtures.stripe_settings


def test_subscriber_adds_a_card_and_pays_the_open_invoice_on_a_phone(browser_page, settings):
    # given: a subscriber with a login and an open invoice of 972.70 SEK
    settings.PAYMENT_GATEWAY = "offline"
    w = world()
    w.customer.user = UserFactory(username="eva")
    w.customer.save(update_fields=["user"])
    invoice = activate(subscription(w), date(2025, 3, 10))
    assert invoice.status == InvoiceStatus.OPEN
    page = browser_page

    # when: the subscriber logs in and opens the invoices
    page.goto(page.base_url + "/portal/invoices/")
    page.fill("#id_username", "eva")
    page.fill("#id_password", "pw-123456")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your invoices")

    # and adds the test card on the add page
    page.click("text=Payment methods")
    page.wait_for_selector("h1:has-text('Payment methods')")
    page.click("a.button:has-text('Card')")
    page.wait_for_selector("#id_number")
    assert page.is_visible("#test-numbers")
    page.fill("#id_number", "4242 4242 4242 4242")
    page.fill("#id_exp_month", "12")
    page.fill("#id_exp_year", "2040")
    page.fill("#id_cvc", "123")
    page.click("#method-form button[type=submit]")

    # then: the card is listed as the default
    page.wait_for_selector("text=Visa •••• 4242, expires 12/2040 is saved.")
    method = PaymentMethod.objects.get(account=invoice.account)
    assert page.is_visible(f"#method-{method.pk} >> text=Default")
    assert fits_the_screen(page)

    # when: they open the invoice and pay it now with the card
    page.click("text=Invoices")
    page.click(f"text={invoice.number}")
    page.wait_for_selector("#pay-now")
    assert page.is_checked(f"input[name=method][value='{method.pk}']")
    assert fits_the_screen(page)
    page.click("#pay-now")

    # then: paid
    page.wait_for_selector("text=Thank you: 972.70 SEK is paid.")
    assert page.inner_text("h1 .badge") == "Paid"
    assert not page.is_visible("#pay-now")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_with_stripe_elements_a_card_asking_for_3d_secure_is_saved_and_pays(browser_page, stripe_settings):
    """The portal's Stripe.js code against the Stripe-compatible server's own Stripe.js (its Elements are plain
    inputs and its 3-D Secure challenge a dialog): the SetupIntent and the payment are confirmed in the browser."""
    # given
    stripe_settings.STRIPE_JS_URL = f"{stripe_settings.STRIPE_API_BASE}/js.stripe.com/v3/"
    w = world()
    w.customer.user = UserFactory(username="eva")
    w.customer.save(update_fields=["user"])
    invoice = activate(subscription(w), date(2025, 3, 10))
    page = browser_page

    # when: the card goes into the card element and the bank's challenge is passed
    page.goto(page.base_url + f"/portal/billing-accounts/{invoice.account_id}/payment-methods/add/?type=card")
    page.fill("#id_username", "eva")
    page.fill("#id_password", "pw-123456")
    page.click("button[type=submit]")
    for field, value in (("number", "4000002500003155"), ("exp_month", "12"), ("exp_year", "40"), ("cvc", "123")):
        page.fill(f"#element input[placeholder={field}]", value)
    page.fill("#element input[placeholder=postal_code]", "72110")
    page.click("#setup-submit")
    page.click("text=Complete authentication")

    # then: saved from the confirmed SetupIntent
    page.wait_for_selector("text=is saved.")
    method = PaymentMethod.objects.get(account=invoice.account)
    assert (method.gateway, method.last4) == ("stripe", "3155")

    # when: paid now, the bank asks again and Stripe.js confirms
    page.goto(page.base_url + f"/portal/invoices/{invoice.pk}/")
    page.click("#pay-now")
    page.click("#confirm-button")
    page.click("text=Complete authentication")

    # then
    page.wait_for_selector("text=Thank you: 972.70 SEK is paid.")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
