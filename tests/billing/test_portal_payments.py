"""The subscriber's payment pages: payment methods (list, add, make default, remove), paying an invoice now (and
the confirmation a bank may ask for), the payment history and receipts. Offline gateway unless a test says Stripe."""

import re
from datetime import date
from decimal import Decimal

import pytest
import requests
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from billing.choices import Collection, CreditKind, InvoiceStatus, MethodType, PaymentStatus, RefundStatus
from billing.models import BillingAccount, CreditEntry, Invoice, Payment, PaymentMethod, Refund
from billing.payments import invoice_pay_now, payment_method_add
from tests.billing.factories import (
    ACH_OK,
    DECLINED_CARD,
    SEPA_OK,
    TEST_CARD,
    THREE_D_SECURE_CARD,
    activate,
    subscription,
)
from tests.cos.factories import UserFactory
from tests.marketplace.factories import world

pytestmark = pytest.mark.django_db

ACTIVATED = date(2025, 3, 10)  # the first invoice: 972.70 SEK


def _subscriber(w=None):
    """A world whose customer can log in to the portal."""
    w = w or world()
    w.customer.user = UserFactory()
    w.customer.save(update_fields=["user"])
    return w


def _issued(w, day=ACTIVATED) -> Invoice:
    """The customer's first invoice from the world's provider, issued at the activation on `day`."""
    return activate(subscription(w), day)


def _same_customer(w):
    """Another provider's world where the given world's customer also buys."""
    other = world()
    other.customer = w.customer
    return other


def _logged_in(client, w=None):
    """A subscriber with an open invoice, logged in."""
    w = _subscriber(w)
    invoice = _issued(w)
    client.force_login(w.customer.user)
    return w, invoice


def _saved(account: BillingAccount, details=TEST_CARD, **kwargs) -> PaymentMethod:
    return payment_method_add(account_id=account.pk, details=details, **kwargs)


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _add_url(account: BillingAccount, method_type: str) -> str:
    return f"{reverse('portal-payment-method-add', args=[account.pk])}?type={method_type}"


CARD_FORM = {"number": "4242 4242 4242 4242", "exp_month": "12", "exp_year": "2040", "cvc": "123", "make_default": "on"}
SEPA_FORM = {"account_holder_name": "Eva Berg", "iban": "DE89 3704 0044 0532 0130 00", "mandate_accepted": "on"}
ACH_FORM = {
    "account_holder_name": "Eva Berg",
    "routing_number": "110000000",
    "account_number": "000123456789",
    "authorization_accepted": "on",
}


# --- payment methods -----------------------------------------------------------------------------------------


def test_methods_page_lists_my_methods_with_the_default_mandates_preference_and_credit(client):
    # given: a card (default), a SEPA account, a removed card, and credit from an overpayment
    w, invoice = _logged_in(client)
    account = invoice.account
    card = _saved(account)
    sepa = _saved(account, SEPA_OK, make_default=False)
    gone = _saved(account, {**TEST_CARD, "number": "5555555555554444"}, make_default=False)
    PaymentMethod.objects.filter(pk=gone.pk).update(removed_at=gone.created_at)
    CreditEntry.objects.create(account=account, kind=CreditKind.OVERPAYMENT, amount=Decimal("12.50"), description="x")
    # when
    response = client.get(reverse("portal-payment-methods", args=[account.pk]))
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "Visa •••• 4242, expires 12/2040" in body
    assert "SEPA Direct Debit •••• 3000" in body
    assert sepa.mandate_reference in body
    assert "•••• 4444" not in body
    card_block = body.split(f'id="method-{card.pk}"')[1].split('id="method-')[0]
    assert "Default" in card_block
    assert "Make default" not in card_block
    sepa_block = body.split(f'id="method-{sepa.pk}"')[1]
    assert "Make default" in sepa_block.split("</form>")[0]
    assert reverse("portal-payment-method-remove", args=[account.pk, sepa.pk]) in body
    assert account.get_collection_display() in body
    assert reverse("portal-billing-preferences", args=[account.pk]) in body
    assert "12.50 SEK" in body
    for method_type in ("card", "sepa_debit", "us_bank_account"):
        assert f"?type={method_type}" in body


def test_invoices_page_links_to_the_payment_methods_and_the_history(client):
    w, invoice = _logged_in(client)
    body = client.get(reverse("portal-invoices")).content.decode()
    assert reverse("portal-payment-methods", args=[invoice.account_id]) in body
    assert reverse("portal-payments") in body


def test_add_a_card_with_the_offline_form(client):
    # given
    w, invoice = _logged_in(client)
    account = invoice.account
    page = client.get(_add_url(account, "card")).content.decode()
    assert "4242 4242 4242 4242" in page  # the offline test numbers are listed
    assert 'name="number"' in page
    assert 'name="cvc"' in page
    # when
    response = client.post(_add_url(account, "card"), CARD_FORM, follow=True)
    # then
    method = PaymentMethod.objects.get(account=account)
    assert (method.type, method.brand, method.last4, method.exp_month, method.exp_year) == (
        MethodType.CARD,
        "visa",
        "4242",
        12,
        2040,
    )
    assert method.is_default
    assert response.redirect_chain[-1][0] == reverse("portal-payment-methods", args=[account.pk])
    assert "Visa •••• 4242, expires 12/2040 is saved." in _messages(response)


def test_add_a_sepa_account_with_its_mandate(client):
    # given
    w, invoice = _logged_in(client)
    account = invoice.account
    page = client.get(_add_url(account, "sepa_debit")).content.decode()
    assert "DE89 3704 0044 0532 0130 00" in page
    assert "you authorise (A)" in page
    assert w.provider.name in page
    # when
    response = client.post(_add_url(account, "sepa_debit"), SEPA_FORM)
    # then
    assert response.status_code == 302
    method = PaymentMethod.objects.get(account=account)
    assert (method.type, method.last4) == (MethodType.SEPA_DEBIT, "3000")
    assert method.mandate_reference.startswith("OFF-MANDATE-")


def test_add_a_us_bank_account_with_its_authorization(client):
    # given
    w, invoice = _logged_in(client)
    account = invoice.account
    assert "000123456789" in client.get(_add_url(account, "us_bank_account")).content.decode()
    # when
    response = client.post(_add_url(account, "us_bank_account"), ACH_FORM)
    # then
    assert response.status_code == 302
    method = PaymentMethod.objects.get(account=account)
    assert (method.type, method.last4) == (MethodType.US_BANK_ACCOUNT, "6789")
    assert method.mandate_reference


@pytest.mark.parametrize(
    ("method_type", "data", "error"),
    [
        ("card", {**CARD_FORM, "number": "4000 0000 0000 0002"}, "Your card was declined."),
        ("card", {**CARD_FORM, "number": "4242 4242 4242 4241"}, "That card number is not valid."),
        ("card", {**CARD_FORM, "exp_month": "13"}, "less than or equal to 12"),
        ("sepa_debit", {**SEPA_FORM, "iban": "DE89 3704 0044 0532 0130 01"}, "That IBAN is not valid"),
        ("sepa_debit", {**SEPA_FORM, "mandate_accepted": ""}, "Accept the mandate"),
        ("us_bank_account", {**ACH_FORM, "routing_number": "12345"}, "The routing number has nine digits."),
        ("us_bank_account", {**ACH_FORM, "authorization_accepted": ""}, "Authorize the debits"),
    ],
)
def test_refused_details_show_a_form_error_and_save_nothing(client, method_type, data, error):
    # given
    w, invoice = _logged_in(client)
    # when
    response = client.post(_add_url(invoice.account, method_type), data)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert error in body
    assert 'class="errorlist' in body
    assert not PaymentMethod.objects.exists()
    assert BillingAccount.objects.get(pk=invoice.account_id).collection == Collection.MANUAL


def test_an_unknown_method_type_is_not_found(client):
    w, invoice = _logged_in(client)
    assert client.get(_add_url(invoice.account, "cash")).status_code == 404


def test_changes_need_the_csrf_token(client):
    # given
    w, invoice = _logged_in(client)
    card = _saved(invoice.account)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(w.customer.user)
    # when / then
    for url, data in (
        (reverse("portal-payment-method-remove", args=[invoice.account_id, card.pk]), {}),
        (reverse("portal-invoice-pay", args=[invoice.pk]), {"method": card.pk}),
        (_add_url(invoice.account, "card"), CARD_FORM),
    ):
        assert strict.post(url, data).status_code == 403, url
    card.refresh_from_db()
    assert card.removed_at is None
    assert PaymentMethod.objects.count() == 1
    assert not Payment.objects.exists()


def test_make_another_method_the_default(client):
    # given
    w, invoice = _logged_in(client)
    account = invoice.account
    card = _saved(account)
    sepa = _saved(account, SEPA_OK, make_default=False)
    url = reverse("portal-payment-method-default", args=[account.pk, sepa.pk])
    assert client.get(url).status_code == 405  # a change is a POST
    # when
    response = client.post(url, follow=True)
    # then
    card.refresh_from_db()
    sepa.refresh_from_db()
    assert (sepa.is_default, card.is_default) == (True, False)
    assert "SEPA Direct Debit •••• 3000 is now your default payment method." in _messages(response)


def test_remove_a_method_and_the_next_becomes_the_default(client):
    # given
    w, invoice = _logged_in(client)
    account = invoice.account
    card = _saved(account)
    sepa = _saved(account, SEPA_OK, make_default=False)
    url = reverse("portal-payment-method-remove", args=[account.pk, card.pk])
    assert client.get(url).status_code == 405
    # when
    response = client.post(url, follow=True)
    # then
    card.refresh_from_db()
    sepa.refresh_from_db()
    assert card.removed_at is not None
    assert sepa.is_default
    assert "Visa •••• 4242, expires 12/2040 is removed." in _messages(response)
    assert f'id="method-{card.pk}"' not in response.content.decode()


def test_removing_the_last_method_stops_automatic_payment(client):
    # given: automatic collection with one card
    w, invoice = _logged_in(client)
    account = invoice.account
    card = _saved(account)
    BillingAccount.objects.filter(pk=account.pk).update(collection=Collection.AUTOMATIC)
    # when
    response = client.post(reverse("portal-payment-method-remove", args=[account.pk, card.pk]), follow=True)
    # then
    account.refresh_from_db()
    assert account.collection == Collection.MANUAL
    assert "With no payment method left, you now pay each invoice yourself." in _messages(response)


# --- another customer's things -------------------------------------------------------------------------------


def test_another_customers_account_methods_invoice_and_payments_are_not_found(client):
    # given: their account with a card and a paid invoice, and an open invoice on another account of theirs
    w, my_invoice = _logged_in(client)
    other = _subscriber()
    paid_invoice = _issued(other)
    account = paid_invoice.account
    their_card = _saved(account)
    paid = invoice_pay_now(invoice_id=paid_invoice.pk, method_id=their_card.pk)
    assert paid.status == PaymentStatus.SUCCEEDED
    theirs = _issued(_same_customer(other))
    # when / then: every page and action on their things is a 404
    for url in (
        reverse("portal-payment-methods", args=[account.pk]),
        _add_url(account, "card"),
        reverse("portal-payment-method-return", args=[account.pk]) + "?setup_intent=seti_x",
        reverse("portal-payment-receipt", args=[paid.pk]),
        reverse("portal-payment-return", args=[paid.pk]),
    ):
        assert client.get(url).status_code == 404, url
    for url, data in (
        (_add_url(account, "card"), CARD_FORM),
        (reverse("portal-payment-method-default", args=[account.pk, their_card.pk]), {}),
        (reverse("portal-payment-method-remove", args=[account.pk, their_card.pk]), {}),
        # their method through my account
        (reverse("portal-payment-method-remove", args=[my_invoice.account_id, their_card.pk]), {}),
        (reverse("portal-invoice-pay", args=[theirs.pk]), {"method": their_card.pk}),
        (reverse("portal-payment-confirm", args=[paid.pk]), {}),
    ):
        assert client.post(url, data).status_code == 404, url
    # and nothing changed
    their_card.refresh_from_db()
    assert their_card.removed_at is None
    assert their_card.is_default
    assert PaymentMethod.objects.filter(account=account).count() == 1
    theirs.refresh_from_db()
    assert theirs.status == InvoiceStatus.OPEN
    assert not Payment.objects.filter(invoice=theirs).exists()
    # my own invoice cannot be paid with their card
    response = client.post(reverse("portal-invoice-pay", args=[my_invoice.pk]), {"method": their_card.pk}, follow=True)
    assert "Choose one of your saved payment methods." in _messages(response)
    assert not Payment.objects.filter(invoice=my_invoice).exists()


def test_anonymous_visitor_is_sent_to_log_in(client):
    invoice = _issued(_subscriber())
    for url in (
        reverse("portal-payments"),
        reverse("portal-payment-methods", args=[invoice.account_id]),
        _add_url(invoice.account, "card"),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


# --- paying an invoice now -----------------------------------------------------------------------------------


def _pay(client, invoice: Invoice, method: PaymentMethod):
    return client.post(reverse("portal-invoice-pay", args=[invoice.pk]), {"method": method.pk}, follow=True)


def test_an_open_invoice_without_a_method_offers_to_add_one(client):
    w, invoice = _logged_in(client)
    body = client.get(reverse("portal-invoice", args=[invoice.pk])).content.decode()
    assert "Add a payment method" in body
    assert reverse("portal-payment-method-add", args=[invoice.account_id]) in body
    assert "Pay now" not in body


def test_pay_now_with_a_card_pays_the_invoice(client):
    # given
    w, invoice = _logged_in(client)
    card = _saved(invoice.account)
    _saved(invoice.account, SEPA_OK, make_default=False)
    page = client.get(reverse("portal-invoice", args=[invoice.pk])).content.decode()
    assert "Pay 972.70 SEK now" in page
    assert "Visa •••• 4242, expires 12/2040 (default)" in page
    assert "SEPA Direct Debit •••• 3000" in page
    # when
    response = _pay(client, invoice, card)
    # then
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.amount_paid == Decimal("972.70")
    assert "Thank you: 972.70 SEK is paid." in _messages(response)
    assert response.redirect_chain[-1][0] == reverse("portal-invoice", args=[invoice.pk])
    assert "Pay now" not in response.content.decode()


def test_pay_now_with_sepa_is_processing_until_the_debit_clears(client):
    # given
    w, invoice = _logged_in(client)
    sepa = _saved(invoice.account, SEPA_OK)
    # when
    response = _pay(client, invoice, sepa)
    # then: the invoice is processing, and its page says so instead of offering to pay again
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PROCESSING
    assert "Your bank debit is on its way; the invoice will show as paid once it clears." in _messages(response)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="payment-status"' in body
    assert "Pay now" not in body
    assert Payment.objects.get(invoice=invoice).status == PaymentStatus.PROCESSING


def test_pay_now_with_3d_secure_asks_to_confirm_then_pays(client):
    # given
    w, invoice = _logged_in(client)
    card = _saved(invoice.account, THREE_D_SECURE_CARD)
    # when
    response = _pay(client, invoice, card)
    # then: a confirmation step
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    body = response.content.decode()
    assert reverse("portal-payment-confirm", args=[payment.pk]) in body
    assert "Confirm payment" in body
    assert "Or pay another way" in body
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    # when: the subscriber confirms
    assert client.get(reverse("portal-payment-confirm", args=[payment.pk])).status_code == 405
    response = client.post(reverse("portal-payment-confirm", args=[payment.pk]), follow=True)
    # then
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert "Thank you: 972.70 SEK is paid." in _messages(response)


def test_a_payment_waiting_for_confirmation_can_be_given_up_for_another_method(client):
    # given: a 3-D Secure payment waiting, and a second card
    w, invoice = _logged_in(client)
    _pay(client, invoice, _saved(invoice.account, THREE_D_SECURE_CARD))
    waiting = Payment.objects.get(invoice=invoice)
    card = _saved(invoice.account, make_default=False)
    # when
    response = _pay(client, invoice, card)
    # then
    waiting.refresh_from_db()
    invoice.refresh_from_db()
    assert waiting.status == PaymentStatus.CANCELED
    assert invoice.status == InvoiceStatus.PAID
    assert "Thank you: 972.70 SEK is paid." in _messages(response)


def test_a_declined_payment_shows_why_and_the_invoice_stays_open(client):
    # given
    w, invoice = _logged_in(client)
    card = _saved(invoice.account, DECLINED_CARD)
    # when
    response = _pay(client, invoice, card)
    # then
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert "The payment failed: Your card was declined." in _messages(response)
    body = response.content.decode()
    assert "Your last payment failed: Your card was declined." in body
    assert "Pay now" in body  # another try, or another method


def test_paying_an_invoice_with_nothing_open_is_refused(client):
    # given: paid already
    w, invoice = _logged_in(client)
    card = _saved(invoice.account)
    _pay(client, invoice, card)
    # when
    response = _pay(client, invoice, card)
    # then
    assert any("has nothing to pay now" in message for message in _messages(response))
    assert Payment.objects.filter(invoice=invoice).count() == 1


# --- history and receipts ------------------------------------------------------------------------------------


def test_payment_history_lists_my_payments_and_refunds_with_a_flat_query_count(client, django_assert_max_num_queries):
    # given: one payment
    w, invoice = _logged_in(client)
    card = _saved(invoice.account)
    first = invoice_pay_now(invoice_id=invoice.pk, method_id=card.pk)
    # session, user, customer, count, the page of payments, their refunds
    with django_assert_max_num_queries(6):
        assert client.get(reverse("portal-payments")).status_code == 200
    # when: more payments on more accounts, a failed one and a refund
    payments = [first]
    for details in (TEST_CARD, SEPA_OK, DECLINED_CARD, ACH_OK):
        other = _issued(_same_customer(w))
        payments.append(invoice_pay_now(invoice_id=other.pk, method_id=_saved(other.account, details).pk))
    Refund.objects.create(
        payment=first, amount=Decimal("100.00"), status=RefundStatus.SUCCEEDED, idempotency_key="test-refund"
    )
    theirs = _issued(_subscriber())
    their_payment = invoice_pay_now(invoice_id=theirs.pk, method_id=_saved(theirs.account).pk)
    # then
    with django_assert_max_num_queries(6):
        response = client.get(reverse("portal-payments"))
    body = response.content.decode()
    for payment in payments:
        assert f'id="payment-{payment.pk}"' in body
    assert f'id="payment-{their_payment.pk}"' not in body
    assert body.index(f'id="payment-{payments[-1].pk}"') < body.index(f'id="payment-{first.pk}"')  # newest first
    assert invoice.number in body
    assert reverse("portal-invoice", args=[invoice.pk]) in body
    assert "Visa •••• 4242, expires 12/2040" in body
    assert "972.70 SEK" in body
    for status in (">Succeeded<", ">Processing<", ">Failed<"):
        assert status in body
    assert "Your card was declined." in body
    assert "Refund 100.00 SEK · Succeeded" in body
    assert reverse("portal-payment-receipt", args=[first.pk]) in body
    assert reverse("portal-payment-receipt", args=[payments[2].pk]) not in body  # processing: no receipt yet


def test_payment_history_is_paginated(client):
    # given: 26 payments (25 per page)
    w, invoice = _logged_in(client)
    card = _saved(invoice.account)
    payment = invoice_pay_now(invoice_id=invoice.pk, method_id=card.pk)
    rows = [
        Payment(
            account=payment.account,
            invoice=invoice,
            method=card,
            method_type=MethodType.CARD,
            channel=payment.channel,
            amount=Decimal("1.00"),
            currency="SEK",
        )
        for _ in range(25)
    ]
    Payment.objects.bulk_create(rows)
    # when
    first_page = client.get(reverse("portal-payments")).content.decode()
    second_page = client.get(reverse("portal-payments") + "?page=2").content.decode()
    # then
    assert first_page.count('id="payment-') == 25
    assert "Page 1 of 2" in first_page
    assert f'id="payment-{payment.pk}"' in second_page


def test_receipt_of_a_paid_invoice(client):
    # given
    w, invoice = _logged_in(client)
    payment = invoice_pay_now(invoice_id=invoice.pk, method_id=_saved(invoice.account).pk)
    # when
    response = client.get(reverse("portal-payment-receipt", args=[payment.pk]))
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert invoice.issuer.name in body
    assert w.customer.display_name in body
    assert 'id="receipt-amount">972.70 SEK' in body
    assert invoice.number in body
    assert "Visa •••• 4242, expires 12/2040" in body
    assert payment.settled_at.date().isoformat() in body
    assert payment.reference in body


def test_no_receipt_for_money_not_received(client):
    # given: a failed and a processing payment
    w, invoice = _logged_in(client)
    failed = invoice_pay_now(invoice_id=invoice.pk, method_id=_saved(invoice.account, DECLINED_CARD).pk)
    processing = invoice_pay_now(invoice_id=invoice.pk, method_id=_saved(invoice.account, SEPA_OK).pk)
    # when / then
    for payment in (failed, processing):
        assert client.get(reverse("portal-payment-receipt", args=[payment.pk])).status_code == 404


# --- with Stripe (a Stripe-compatible server on loopback plays Stripe; the tests play Stripe.js) -------------


def _data(body: str, name: str) -> str:
    return re.search(rf'data-{name}="([^"]*)"', body).group(1)


def test_stripe_add_page_confirms_a_setup_intent_in_the_browser_then_saves_the_method(
    client, stripe_settings, stripe_api
):
    # given
    stripe_settings.STRIPE_JS_URL = f"{stripe_settings.STRIPE_API_BASE}/js.stripe.com/v3/"
    w, invoice = _logged_in(client)
    account = invoice.account
    # when: the add page
    body = client.get(_add_url(account, "card")).content.decode()
    # then: Stripe.js with the publishable key and the SetupIntent's client secret; no card fields of ours
    assert f'<script src="{stripe_settings.STRIPE_JS_URL}"></script>' in body
    assert _data(body, "key") == "pk_test_cos"
    secret = _data(body, "secret")
    assert secret.startswith("seti_")
    assert "confirmCardSetup" in body
    assert 'name="number"' not in body
    assert _data(body, "return-url") == reverse("portal-payment-method-return", args=[account.pk])
    # when: Stripe.js confirms the SetupIntent and the browser comes back
    setup_intent = secret.split("_secret_")[0]
    card = stripe_api.v1.payment_methods.create(
        params={"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}}
    )
    stripe_api.v1.setup_intents.confirm(setup_intent, params={"payment_method": card.id})
    response = client.get(
        reverse("portal-payment-method-return", args=[account.pk]) + f"?setup_intent={setup_intent}&default=1",
        follow=True,
    )
    # then
    method = PaymentMethod.objects.get(account=account)
    assert (method.gateway, method.reference, method.last4, method.is_default) == ("stripe", card.id, "4242", True)
    assert any(message.endswith("is saved.") for message in _messages(response))


def test_stripe_sepa_page_shows_the_mandate_and_an_iban_element(client, stripe_settings):
    w, invoice = _logged_in(client)
    body = client.get(_add_url(invoice.account, "sepa_debit")).content.decode()
    assert 'create("iban"' in body
    assert "confirmSepaDebitSetup" in body
    assert "you authorise (A)" in body
    assert 'id="mandate"' in body


def test_stripe_return_without_a_confirmed_setup_saves_nothing(client, stripe_settings):
    # given: a SetupIntent the browser never confirmed
    w, invoice = _logged_in(client)
    account = invoice.account
    secret = _data(client.get(_add_url(account, "card")).content.decode(), "secret")
    # when
    response = client.get(
        reverse("portal-payment-method-return", args=[account.pk]) + f"?setup_intent={secret.split('_secret_')[0]}",
        follow=True,
    )
    # then
    assert not PaymentMethod.objects.exists()
    assert any(message.startswith("The payment method was not saved") for message in _messages(response))


def test_stripe_3d_secure_is_confirmed_by_stripe_js_then_the_return_records_the_payment(
    client, stripe_settings, stripe_api
):
    # given: a card that asks for 3-D Secure, saved at Stripe
    w, invoice = _logged_in(client)
    account = invoice.account
    secret = _data(client.get(_add_url(account, "card")).content.decode(), "secret")
    setup_intent = secret.split("_secret_")[0]
    card = stripe_api.v1.payment_methods.create(
        params={"type": "card", "card": {"number": "4000002500003155", "exp_month": 12, "exp_year": 2040, "cvc": "123"}}
    )
    confirmed = stripe_api.v1.setup_intents.confirm(setup_intent, params={"payment_method": card.id})
    assert confirmed.status == "requires_action"  # saving it asks for authentication too
    stripe_api.v1.setup_intents.confirm(setup_intent)
    method = payment_method_add(account_id=account.pk, setup_reference=setup_intent)
    # when: Pay now
    response = _pay(client, invoice, method)
    # then: the confirmation step runs Stripe.js with the PaymentIntent's client secret
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    body = response.content.decode()
    assert "confirmCardPayment" in body
    assert _data(body, "secret") == payment.client_secret
    assert _data(body, "return-url") == reverse("portal-payment-return", args=[payment.pk])
    # when: Stripe.js authenticates and the browser comes back
    requests.post(
        f"{stripe_settings.STRIPE_API_BASE}/v1/payment_intents/{payment.reference}/_authenticate?success=true",
        json={"key": "pk_test_cos", "client_secret": payment.client_secret},
        timeout=5,
    ).raise_for_status()
    response = client.get(reverse("portal-payment-return", args=[payment.pk]), follow=True)
    # then
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert "Thank you: 972.70 SEK is paid." in _messages(response)
