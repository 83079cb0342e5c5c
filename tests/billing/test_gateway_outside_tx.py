"""The payment gateway is never called while a database transaction is open: a slow or hanging gateway must not
hold row locks. Every gateway method is wrapped in a spy that records whether a transaction was open when it was
called; the tests use real transactions (what commits triggers runs as it would in production)."""

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from billing import overrides, payments, refunds, webhooks
from billing.choices import GatewayEventOutcome, InvoiceStatus, PaymentStatus, RefundStatus
from billing.gateways.offline import OfflineGateway
from billing.gateways.stripe_gateway import StripeGateway
from billing.models import GatewayEvent, Payment, PaymentMethod, Refund
from billing.services import account_for
from tests.billing.factories import DECLINED_CARD, SEPA_OK, TEST_CARD, THREE_D_SECURE_CARD, subscription
from tests.billing.money_helpers import add_method, charged
from tests.billing.stripe_helpers import signed

pytestmark = pytest.mark.django_db(transaction=True)

GATEWAY_METHODS = (
    "customer_ensure",
    "setup_start",
    "setup_complete",
    "method_remove",
    "charge",
    "charge_cancel",
    "charge_status",
    "refund",
    "authenticate",
)


def _spied(name: str, real, calls: list):
    def spy(self, *args, **kwargs):
        calls.append((self.name, name, transaction.get_connection().in_atomic_block))
        return real(self, *args, **kwargs)

    return spy


@pytest.fixture
def gateway_calls(monkeypatch) -> list[tuple[str, str, bool]]:
    """(gateway, method, whether a transaction was open) for every call of either gateway."""
    calls = []
    for gateway in (OfflineGateway, StripeGateway):
        for name in GATEWAY_METHODS:
            if hasattr(gateway, name):
                monkeypatch.setattr(gateway, name, _spied(name, getattr(gateway, name), calls))
    return calls


def _inside(calls) -> list:
    return [call for call in calls if call[2]]


def _methods(calls) -> set[str]:
    return {name for _, name, _ in calls}


# --- the offline gateway, on every path that calls it -------------------------------------------------------


def test_saving_and_removing_a_method_calls_the_gateway_outside_transactions(gateway_calls):
    # given
    account = account_for(subscription())
    # when
    method = add_method(account, TEST_CARD)
    payments.payment_method_remove(method_id=method.pk)
    # then
    assert PaymentMethod.objects.get(pk=method.pk).removed_at is not None
    assert {"customer_ensure", "setup_complete", "method_remove"} <= _methods(gateway_calls)
    assert _inside(gateway_calls) == []


def test_automatic_collection_charges_after_the_invoice_is_committed(gateway_calls):
    # when: the first invoice of an automatic account is issued
    invoice = charged(TEST_CARD)
    # then: charged and paid; the charge went out with no transaction open
    assert invoice.status == InvoiceStatus.PAID
    assert "charge" in _methods(gateway_calls)
    assert _inside(gateway_calls) == []


def test_a_dunning_retry_cancels_and_charges_outside_transactions(gateway_calls):
    # given: a declined first charge, then a good card
    invoice = charged(DECLINED_CARD)
    failed = Payment.objects.get(invoice=invoice)
    add_method(invoice.account, TEST_CARD)
    # when: the sweep makes the retry
    counts = payments.payments_sweep(now=failed.next_retry_at + timedelta(minutes=1))
    # then
    assert counts["retried"] == 1
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert {"charge_cancel", "charge"} <= _methods(gateway_calls)
    assert _inside(gateway_calls) == []


def test_paying_another_way_cancels_the_confirmation_outside_transactions(gateway_calls):
    # given: a charge waiting for 3-D Secure
    invoice = charged(THREE_D_SECURE_CARD)
    card = add_method(invoice.account, TEST_CARD)
    # when: the subscriber pays now with another card
    payment = payments.invoice_pay_now(invoice_id=invoice.pk, method_id=card.pk)
    # then
    assert payment.status == PaymentStatus.SUCCEEDED
    assert Payment.objects.filter(invoice=invoice, status=PaymentStatus.CANCELED).count() == 1
    assert {"charge_cancel", "charge"} <= _methods(gateway_calls)
    assert _inside(gateway_calls) == []


def test_a_refund_and_a_credit_note_pay_out_after_commit(gateway_calls, clerk, goodwill):
    # given: an invoice paid by card
    invoice = charged(TEST_CARD)
    payment = Payment.objects.get(invoice=invoice)
    # when: finance refunds 100.00, then gives a credit note of 80.00 (+ VAT) on the invoice
    refund = refunds.payment_refund(payment_id=payment.pk, amount="100.00", reason_code=goodwill, actor=clerk)
    credit = overrides.invoice_credit(invoice_id=invoice.pk, amount="80.00", reason_code=goodwill, actor=clerk)
    # then: both paid out through the gateway, with no transaction open
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert Refund.objects.get(credit_note=credit.result).status == RefundStatus.SUCCEEDED
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("200.00")
    assert [name for _, name, _ in gateway_calls].count("refund") == 2
    assert _inside(gateway_calls) == []


def test_the_sweep_looks_up_debits_outside_transactions(gateway_calls):
    # given: a SEPA debit processing for longer than the look-up wait
    invoice = charged(SEPA_OK)
    later = timezone.now() + timedelta(seconds=django_settings.PAYMENTS_SYNC_AFTER_SECONDS + 60)
    # when
    counts = payments.payments_sweep(now=later)
    # then: it settled
    assert counts["synced"] == 1
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert "charge_status" in _methods(gateway_calls)
    assert _inside(gateway_calls) == []


# --- Stripe: a setup_intent.succeeded webhook (the loopback Stripe server) ----------------------------------


def _setup_confirmed(stripe_api, account):
    """The subscriber confirmed a card in the browser (Stripe.js), and never came back to the portal."""
    start = payments.payment_method_setup_start(account_id=account.pk, method_type="card")
    card = stripe_api.v1.payment_methods.create(
        params={"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}}
    )
    intent = stripe_api.v1.setup_intents.confirm(start.reference, params={"payment_method": card.id})
    return intent, card


def _setup_event(intent) -> bytes:
    return json.dumps(
        {
            "id": f"evt_{intent.id}",
            "object": "event",
            "type": "setup_intent.succeeded",
            "created": int(time.time()),
            "data": {"object": intent.to_dict()},
        }
    ).encode()


def test_a_setup_webhook_records_the_event_then_saves_the_method_outside_its_transaction(
    stripe_api, gateway_calls, client
):
    # given
    account = account_for(subscription())
    intent, card = _setup_confirmed(stripe_api, account)
    gateway_calls.clear()
    payload = _setup_event(intent)
    # when: Stripe's event arrives
    response = client.post(
        "/billing/stripe/webhook/", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signed(payload)
    )
    # then: acknowledged as recorded; once committed, the method is fetched from Stripe and saved
    assert (response.status_code, response.json()["outcome"]) == (200, GatewayEventOutcome.DEFERRED)
    event = GatewayEvent.objects.get(event_id=f"evt_{intent.id}")
    assert event.outcome == GatewayEventOutcome.APPLIED
    method = PaymentMethod.objects.get(account=account)
    assert (method.gateway, method.reference, method.last4) == ("stripe", card.id, "4242")
    assert ("stripe", "setup_complete", False) in gateway_calls
    assert _inside(gateway_calls) == []


def test_a_setup_webhook_whose_task_is_lost_is_saved_by_the_sweep_once(stripe_api, gateway_calls, monkeypatch):
    # given: the broker is down when the event is committed
    from billing import tasks

    account = account_for(subscription())
    intent, card = _setup_confirmed(stripe_api, account)
    payload = _setup_event(intent)

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis: Connection refused.")

    with monkeypatch.context() as broker:
        broker.setattr(tasks.gateway_event_apply_task, "delay", broker_down)
        outcome, row = webhooks.webhook_receive(gateway_name="stripe", payload=payload, signature=signed(payload))
    assert outcome == GatewayEventOutcome.DEFERRED
    assert not PaymentMethod.objects.exists()
    # when: the payments sweep runs, and the lost task is delivered after all
    later = timezone.now() + timedelta(seconds=django_settings.PAYMENTS_RESUBMIT_AFTER_SECONDS + 1)
    counts = payments.payments_sweep(now=later)
    webhooks.gateway_event_apply(event_row_id=row.pk)
    # then: the method is saved once
    assert counts["events"] == 1
    assert PaymentMethod.objects.filter(account=account, reference=card.id).count() == 1
    assert GatewayEvent.objects.get(pk=row.pk).outcome == GatewayEventOutcome.APPLIED
    assert "setup_complete" in _methods(gateway_calls)
    assert _inside(gateway_calls) == []
