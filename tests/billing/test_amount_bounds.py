"""The database itself keeps what is paid within an invoice's total and what is refunded within a payment."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from billing.models import Invoice, Payment
from tests.billing.factories import activate, subscription

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 10)


@pytest.fixture
def invoice():
    return activate(subscription(), DAY)


@pytest.mark.parametrize("paid", [lambda total: total + Decimal("0.01"), lambda total: Decimal("-0.01")])
def test_an_invoice_paid_beyond_its_total_or_below_nothing_is_refused(invoice, paid):
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(amount_paid=paid(invoice.total))
    invoice.refresh_from_db()
    assert invoice.amount_paid == 0


def test_an_invoice_paid_in_full_is_within_bounds(invoice):
    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=F("total"))
    invoice.refresh_from_db()
    assert invoice.amount_paid == invoice.total > 0


def test_a_payment_refunded_beyond_its_amount_is_refused(invoice):
    # given
    payment = Payment.objects.create(
        account_id=invoice.account_id,
        invoice=invoice,
        amount=invoice.total,
        currency=invoice.currency,
        method_type="card",
        channel="automatic",
    )
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(amount_refunded=F("amount") + Decimal("0.01"))
    Payment.objects.filter(pk=payment.pk).update(amount_refunded=F("amount"))
    payment.refresh_from_db()
    assert payment.amount_refunded == payment.amount
