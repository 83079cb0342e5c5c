"""The Stripe path, through the official SDK over HTTP against a Stripe-compatible server on loopback: customers,
payment methods saved with SetupIntents, off-session PaymentIntents with idempotency keys, refunds, and signed
webhooks posted by the server to a live COS."""

import json
import threading
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from billing import payments, refunds
from billing.changes import billing_stop
from billing.choices import (
    Collection,
    InvoiceKind,
    InvoiceStatus,
    PaymentStatus,
    RefundStatus,
)
from billing.gateways import gateway_for
from billing.models import BillingAccount, GatewayEvent, Invoice, Payment, PaymentMethod, Refund
from billing.services import account_for
from cos.errors import Conflict
from cos.models import Message
from tests.billing.factories import activate, at, subscription
from tests.billing.stripe_helpers import signed, stripe_slow

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 10)


def _card(stripe_api, number: str):
    """What Stripe.js does in the browser: the card details go to Stripe, never to COS."""
    return stripe_api.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"}}
    )


def _saved(stripe_api, account: BillingAccount, *, method_type: str = "card", number: str = "4242424242424242"):
    """The subscriber saves a method: COS starts a SetupIntent, the browser confirms it, COS saves the result."""
    start = payments.payment_method_setup_start(account_id=account.pk, method_type=method_type)
    if method_type == "card":
        pm = _card(stripe_api, number)
    else:
        pm = stripe_api.v1.payment_methods.create(params={"type": "sepa_debit", "sepa_debit": {"iban": number}})
    stripe_api.v1.setup_intents.confirm(start.reference, params={"payment_method": pm.id})
    return payments.payment_method_add(account_id=account.pk, setup_reference=start.reference)


def _automatic(sub) -> BillingAccount:
    account = account_for(sub)
    BillingAccount.objects.filter(pk=account.pk).update(collection=Collection.AUTOMATIC)
    account.refresh_from_db()
    return account


def _intents(stripe_api, payment: Payment) -> list:
    """The PaymentIntents at Stripe for this payment (the server lives for the whole session)."""
    customer = BillingAccount.objects.get(pk=payment.account_id).gateway_customer
    return [
        pi
        for pi in stripe_api.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
        if pi.customer == customer and pi.metadata.to_dict().get("cos_payment") == str(payment.pk)
    ]


def test_a_card_saved_with_a_setup_intent_pays_the_first_invoice_off_session(
    stripe_api, django_capture_on_commit_callbacks
):
    # given: a subscriber paying automatically with a card saved through Stripe
    sub = subscription()
    account = _automatic(sub)
    method = _saved(stripe_api, account)
    # when: the service is activated and the first invoice is issued
    with django_capture_on_commit_callbacks(execute=True):
        invoice = activate(sub, DAY)
    # then: the card was charged off session for the invoice's total, once, and the invoice is paid
    invoice.refresh_from_db()
    payment = Payment.objects.get(invoice=invoice)
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, invoice.total)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.idempotency_key.endswith(f"-invoice-{invoice.pk}-attempt-1")
    [intent] = _intents(stripe_api, payment)
    assert intent.id == payment.reference
    assert intent.status == "succeeded"
    assert intent.amount == int(invoice.total * 100)
    assert intent.customer == account.__class__.objects.get(pk=account.pk).gateway_customer
    assert intent.metadata["cos_invoice"] == str(invoice.pk)
    # and the card is on file at Stripe for that customer
    assert (method.type, method.last4, method.is_default) == ("card", "4242", True)
    assert stripe_api.v1.payment_methods.retrieve(method.reference).customer == intent.customer


def test_a_declined_card_fails_the_payment_and_plans_a_retry(stripe_api, django_capture_on_commit_callbacks):
    # given: a card that is saved fine but declined when charged
    sub = subscription()
    account = _automatic(sub)
    _saved(stripe_api, account, number="4000000000000341")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        invoice = activate(sub, DAY)
    # then: nothing paid, the failure is visible and a retry is planned
    invoice.refresh_from_db()
    payment = Payment.objects.get(invoice=invoice)
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.amount_paid == 0
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_code == "card_declined"
    assert payment.next_retry_at is not None


def test_a_card_asking_for_3d_secure_waits_for_the_subscriber(stripe_api, django_capture_on_commit_callbacks):
    # given: a card whose bank asks for authentication on every charge. It was saved through a SetupIntent whose
    # challenge the subscriber passed in the browser; the loopback server cannot play that challenge, so the
    # saved card is recorded here as COS records it.
    sub = subscription()
    account = _automatic(sub)
    customer = payments._gateway_customer(account, gateway_for())
    pm = _card(stripe_api, "4000002760003184")
    stripe_api.v1.payment_methods.attach(pm.id, params={"customer": customer})
    PaymentMethod.objects.create(
        account=account, gateway="stripe", reference=pm.id, type="card", last4="3184", is_default=True
    )
    # when
    with django_capture_on_commit_callbacks(execute=True):
        invoice = activate(sub, DAY)
    # then: the payment waits for the subscriber, with what Stripe.js needs to confirm it in the portal
    invoice.refresh_from_db()
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert payment.client_secret.startswith(payment.reference)
    assert invoice.status == InvoiceStatus.OPEN
    assert Message.objects.filter(key=f"action-{payment.pk}", kind="payment_action_required").exists()
    # when: instead of confirming, the subscriber pays with another card in the portal
    other = _saved(stripe_api, account)
    paid = payments.invoice_pay_now(invoice_id=invoice.pk, method_id=other.pk)
    # then: the waiting charge is canceled at Stripe (it can no longer be confirmed) and the new one paid
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED
    assert stripe_api.v1.payment_intents.retrieve(payment.reference).status == "canceled"
    assert paid.status == PaymentStatus.SUCCEEDED
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, invoice.total)


def test_a_gateway_timeout_mid_charge_then_a_retry_charges_once(
    stripe_api, stripe_settings, django_capture_on_commit_callbacks
):
    # given: a subscriber paying by hand; Stripe takes the charge but answers later than COS waits
    sub = subscription()
    account = account_for(sub)
    method = _saved(stripe_api, account)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = activate(sub, DAY)
    stripe_slow(stripe_settings, requests_=1, seconds=3, path="/v1/payment_intents")
    # when: the subscriber pays now
    payment = payments.invoice_pay_now(invoice_id=invoice.pk, method_id=method.pk)
    # then: the outcome is unknown: not failed, not paid, and no second charge can start
    invoice.refresh_from_db()
    assert (payment.status, payment.submit_errors) == (PaymentStatus.PENDING, 1)
    assert invoice.status == InvoiceStatus.OPEN
    with pytest.raises(Conflict):
        payments.invoice_pay_now(invoice_id=invoice.pk, method_id=method.pk)
    # when: the charge is sent again (the sweep), with the same idempotency key
    payments.payment_submit(payment_id=payment.pk)
    # then: the same PaymentIntent answered; the customer was charged once
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert len(_intents(stripe_api, payment)) == 1
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, invoice.total)


def test_an_automatic_charge_that_timed_out_is_sent_again_by_the_sweep_and_charged_once(
    stripe_api, stripe_settings, django_capture_on_commit_callbacks
):
    # given: the automatic charge of the first invoice timed out
    sub = subscription()
    account = _automatic(sub)
    _saved(stripe_api, account)
    stripe_slow(stripe_settings, requests_=1, seconds=3, path="/v1/payment_intents")
    with django_capture_on_commit_callbacks(execute=True):
        invoice = activate(sub, DAY)
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.status, payment.submit_errors) == (PaymentStatus.PENDING, 1)
    # when: the sweep comes by
    with django_capture_on_commit_callbacks(execute=True):
        counts = payments.payments_sweep(now=timezone.now() + timedelta(minutes=5))
    # then: sent again with the same key: one PaymentIntent, the invoice paid once
    assert counts["resubmitted"] == 1
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert len(_intents(stripe_api, payment)) == 1
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, invoice.total)


def test_a_termination_refund_goes_back_to_the_card_through_stripe(stripe_api, django_capture_on_commit_callbacks):
    # given: a first invoice paid by card
    sub = subscription()
    account = _automatic(sub)
    _saved(stripe_api, account)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = activate(sub, DAY)
    payment = Payment.objects.get(invoice=invoice, status=PaymentStatus.SUCCEEDED)
    # when: the service is turned off ten days later; the unused days are credited
    with django_capture_on_commit_callbacks(execute=True):
        credit_note = billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 20)))
    # then: the credit note's money went back to the card at Stripe
    credit_note.refresh_from_db()
    refund = Refund.objects.get(credit_note=credit_note)
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.amount == -credit_note.total
    assert credit_note.status == InvoiceStatus.PAID  # settled
    at_stripe = stripe_api.v1.refunds.retrieve(refund.reference)
    assert at_stripe.amount == int(refund.amount * 100)
    payment.refresh_from_db()
    assert payment.amount_refunded == refund.amount


def test_finance_cannot_refund_more_than_was_paid(stripe_api, django_capture_on_commit_callbacks, django_user_model):
    from django.contrib.auth.models import Permission

    from billing.models import ReasonCode
    from cos.errors import ApplicationError

    finance = django_user_model.objects.create_user("fin", "fin@example.test", "pw-123456", is_staff=True)
    finance.user_permissions.add(Permission.objects.get(codename="override_pricing"))
    finance = django_user_model.objects.get(pk=finance.pk)
    goodwill = ReasonCode.objects.create(code="goodwill", label="Goodwill")
    sub = subscription()
    account = _automatic(sub)
    _saved(stripe_api, account)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = activate(sub, DAY)
    payment = Payment.objects.get(invoice=invoice)
    with pytest.raises(ApplicationError) as refused:
        refunds.payment_refund(
            payment_id=payment.pk, amount=payment.amount + Decimal("0.01"), reason_code=goodwill, actor=finance
        )
    assert refused.value.code == "refund_exceeds_payment"
    assert not Refund.objects.exists()
    assert Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).count() == 0


@pytest.mark.postgres  # the live server takes webhooks on its own connection while the test reads
@pytest.mark.django_db(transaction=True)
def test_a_sepa_debit_is_processing_until_the_webhook_says_it_failed_and_the_invoice_reopens(
    stripe_api, stripe_webhooks, wait_until
):
    # given: a SEPA mandate on an account that the bank will refuse
    sub = subscription()
    account = _automatic(sub)
    method = _saved(stripe_api, account, method_type="sepa_debit", number="DE62370400440532013001")
    assert method.mandate_reference  # the SEPA mandate collected with the SetupIntent
    # when: the first invoice is charged
    invoice = activate(sub, DAY)
    invoice.refresh_from_db()
    payment = Payment.objects.get(invoice=invoice)
    # then: not paid yet, processing
    assert payment.status == PaymentStatus.PROCESSING
    assert invoice.status == InvoiceStatus.PROCESSING
    assert invoice.amount_paid == 0
    # and when the debit fails days later, Stripe's signed webhook reopens the invoice
    wait_until(lambda: Payment.objects.get(pk=payment.pk).status == PaymentStatus.FAILED, message="the failure webhook")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.amount_paid == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_retries_at_once_after_a_timeout_charge_once(stripe_api, stripe_settings):
    # given: a charge whose first request timed out
    sub = subscription()
    account = account_for(sub)
    method = _saved(stripe_api, account)
    invoice = activate(sub, DAY)
    stripe_slow(stripe_settings, requests_=1, seconds=3, path="/v1/payment_intents")
    payment = payments.invoice_pay_now(invoice_id=invoice.pk, method_id=method.pk)
    assert payment.submit_errors == 1
    errors = []

    def submit():
        try:
            payments.payment_submit(payment_id=payment.pk)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    # when: the task's retry and the sweep send it at the same moment
    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then: one PaymentIntent, the money applied once
    assert errors == []
    payment.refresh_from_db()
    invoice = payment.invoice
    invoice.refresh_from_db()
    assert len(_intents(stripe_api, payment)) == 1
    assert payment.status == PaymentStatus.SUCCEEDED
    assert invoice.amount_paid == invoice.total
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert PaymentMethod.objects.filter(account=account).count() == 1


def test_a_setup_confirmed_in_the_browser_is_saved_by_its_webhook_once(
    stripe_api, client, django_capture_on_commit_callbacks
):
    # given: the subscriber confirmed a SEPA mandate in the browser but never came back to the portal
    sub = subscription()
    account = account_for(sub)
    start = payments.payment_method_setup_start(account_id=account.pk, method_type="sepa_debit")
    pm = stripe_api.v1.payment_methods.create(
        params={"type": "sepa_debit", "sepa_debit": {"iban": "DE89370400440532013000"}}
    )
    intent = stripe_api.v1.setup_intents.confirm(start.reference, params={"payment_method": pm.id})
    payload = json.dumps(
        {
            "id": f"evt_{intent.id}",
            "object": "event",
            "type": "setup_intent.succeeded",
            "created": int(time.time()),
            "data": {"object": intent.to_dict()},
        }
    ).encode()
    # when: Stripe's event arrives (recorded, then applied once committed: saving asks Stripe for the method), and
    # then the subscriber's return page too
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/billing/stripe/webhook/",
            data=payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signed(payload),
        )
    again = payments.payment_method_add(account_id=account.pk, setup_reference=start.reference)
    # then: one SEPA method on file, with its mandate, the account's default
    assert response.json()["outcome"] == "deferred"
    assert GatewayEvent.objects.get(event_id=f"evt_{intent.id}").outcome == "applied"
    method = PaymentMethod.objects.get(account=account)
    assert again.pk == method.pk
    assert (method.type, method.last4, method.is_default) == ("sepa_debit", "3000", True)
    assert method.mandate_reference
