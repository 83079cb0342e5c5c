"""Payments through the whole stack: PostgreSQL, Redis, a real Celery worker, Stripe's SDK against the loopback
Stripe-compatible server, and its signed webhooks posted to a live COS. Provisioned = paid: the verified
activation issues the first invoice and the worker charges the card on file; the termination's credit note goes
back to the card."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import payments
from billing.choices import Collection, InvoiceKind, InvoiceStatus, PaymentStatus, RefundStatus
from billing.models import BillingAccount, Invoice, Payment, Refund
from billing.services import account_for
from cos import events
from marketplace import services as marketplace_services
from marketplace.models import Subscription
from tests.marketplace.factories import world

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_activation_is_charged_to_the_card_on_file_and_termination_refunded_to_it(
    stripe_api, stripe_webhooks, celery_worker, wait_until
):
    # given: a subscriber (the order is accepted by the worker) paying automatically with a card saved through a
    # SetupIntent
    w = world()
    marketplace_services.order_place(request=w.request())
    wait_until(lambda: Subscription.objects.filter(customer=w.customer).exists(), message="the subscription")
    sub = Subscription.objects.get(customer=w.customer)
    account = account_for(sub)
    start = payments.payment_method_setup_start(account_id=account.pk, method_type="card")
    card = stripe_api.v1.payment_methods.create(
        params={"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}}
    )
    stripe_api.v1.setup_intents.confirm(start.reference, params={"payment_method": card.id})
    payments.payment_method_add(account_id=account.pk, setup_reference=start.reference)
    BillingAccount.objects.filter(pk=account.pk).update(collection=Collection.AUTOMATIC)
    activated_at = timezone.now() - timedelta(minutes=5)
    Subscription.objects.filter(pk=sub.pk).update(status="active", activated_at=activated_at)
    # when: the network verifies the activation (the event goes to the worker)
    events.publish("service.activated", subscription_id=sub.pk, activated_at=activated_at, service_id=0, provider_id=0)
    # then: the first invoice is issued and paid by the worker's charge at Stripe
    wait_until(
        lambda: Invoice.objects.filter(account=account, kind=InvoiceKind.INVOICE, status=InvoiceStatus.PAID).exists(),
        timeout=30,
        message="the first invoice paid",
    )
    invoice = Invoice.objects.get(account=account, kind=InvoiceKind.INVOICE)
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert invoice.amount_paid == invoice.total
    assert stripe_api.v1.payment_intents.retrieve(payment.reference).amount == int(invoice.total * 100)
    # when: the service is turned off the same day (its days are unused: refunded, the start fee kept)
    events.publish(
        "service.deactivated", subscription_id=sub.pk, deactivated_at=timezone.now(), service_id=0, provider_id=0
    )
    # then: the unused days go back to the card, through the worker
    wait_until(
        lambda: Refund.objects.filter(payment=payment, status=RefundStatus.SUCCEEDED).exists(),
        timeout=30,
        message="the refund",
    )
    credit_note = Invoice.objects.get(account=account, kind=InvoiceKind.CREDIT_NOTE)
    refund = Refund.objects.get(payment=payment)
    assert refund.amount == -credit_note.total
    assert stripe_api.v1.refunds.retrieve(refund.reference).amount == int(refund.amount * 100)
    payment.refresh_from_db()
    assert payment.amount_refunded == refund.amount
