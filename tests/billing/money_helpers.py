"""Helpers of the tests of the money paths' plumbing (lock order, gateway calls, state machines, notices, runs)."""

import json
import time
from datetime import date
from decimal import Decimal

from django.conf import settings

from billing import payments, services
from billing.choices import Collection, MethodType, PaymentChannel, PaymentStatus
from billing.models import BillingAccount, Invoice, Payment
from tests.billing.stripe_helpers import signed

DAY = date(2026, 2, 10)  # 19 of 28 days: 270.75, start fee 495.00, VAT 191.44
TOTAL = Decimal("957.19")


def automatic_account(sub) -> BillingAccount:
    """The subscriber's billing account, charged automatically (made before the first invoice)."""
    account = services.account_for(sub)
    BillingAccount.objects.filter(pk=account.pk).update(collection=Collection.AUTOMATIC)
    account.refresh_from_db()
    return account


def charged(details: dict) -> Invoice:
    """An automatic account with `details` on file; its first invoice issued and charged (after commit)."""
    from tests.billing.factories import activate, subscription

    sub = subscription()
    add_method(automatic_account(sub), details)
    invoice = activate(sub, DAY)
    invoice.refresh_from_db()
    return invoice


def add_method(account: BillingAccount, details: dict, **kwargs):
    return payments.payment_method_add(account_id=account.pk, details=details, **kwargs)


def card_paid_part(invoice: Invoice, amount: Decimal) -> Payment:
    """Set up: `amount` of the invoice was paid by card through the offline gateway (refundable)."""
    method = invoice.account.payment_methods.filter(type=MethodType.CARD, removed_at=None).first()
    payment = Payment.objects.create(
        account_id=invoice.account_id,
        invoice=invoice,
        method=method,
        method_type=MethodType.CARD,
        channel=PaymentChannel.PORTAL,
        gateway="offline",
        status=PaymentStatus.SUCCEEDED,
        amount=amount,
        currency=invoice.currency,
        reference=f"off_pi_card_ok_part{invoice.pk}",
        idempotency_key=f"test-part-{invoice.pk}",
    )
    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=amount)
    return payment


def offline_event(kind: str, obj: dict, *, event_id: str | None = None) -> tuple[bytes, str]:
    """A webhook event of the offline gateway, and its signature."""
    payload = json.dumps(
        {
            "id": event_id or f"evt_{kind.replace('.', '_')}_{obj.get('id')}",
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "data": {"object": obj},
        }
    ).encode()
    return payload, signed(payload, secret=settings.OFFLINE_WEBHOOK_SECRET)


def intent_of(payment: Payment, status: str) -> dict:
    """The PaymentIntent of a payment as a webhook carries it."""
    return {
        "id": payment.reference,
        "object": "payment_intent",
        "amount": int(payment.amount * 100),
        "currency": payment.currency.lower(),
        "status": status,
        "metadata": {"cos_payment": str(payment.pk)},
    }
