"""Payments through the offline gateway: payment methods, automatic collection, 3-D Secure, bank debits, late and
repeated gateway answers, timeouts, manual payments, the credit balance, credit notes and refunds."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from billing import changes, overrides, payments, refunds, services
from billing.choices import (
    Collection,
    InvoiceKind,
    InvoiceReason,
    InvoiceStatus,
    LineKind,
    MethodType,
    OverrideKind,
    PaymentChannel,
    PaymentStatus,
    RefundStatus,
)
from billing.gateways.base import (
    FAILED,
    PROCESSING,
    SUCCEEDED,
    ChargeResult,
    GatewayRefused,
    GatewayUnavailable,
    RefundResult,
)
from billing.gateways.offline import OfflineGateway
from billing.models import (
    BillingAccount,
    CreditEntry,
    Invoice,
    Payment,
    PaymentMethod,
    PricingOverride,
    ReasonCode,
    Refund,
)
from billing.runs import billing_chunk
from cos.choices import MessageKind
from cos.errors import ApplicationError, Conflict
from cos.models import Event, Message
from tests.billing.factories import (
    ACH_FAILS,
    ACH_OK,
    SEPA_FAILS,
    SEPA_OK,
    TEST_CARD,
    THREE_D_SECURE_CARD,
    activate,
    at,
    rules,
    subscription,
)

pytestmark = pytest.mark.django_db

ACTIVATED_ON = date(2026, 2, 10)  # 19 of 28 days: 270.75, start fee 495.00, VAT 191.44
TOTAL = Decimal("957.19")
MARCH_FIRST = date(2026, 3, 1)  # a whole month 399.00 and the start fee 495.00, VAT 223.50
MARCH_TOTAL = Decimal("1117.50")
MARCH_21_CREDIT = Decimal("176.98")  # 21..31 March refunded at termination: 141.58 + 35.40 VAT
MASTERCARD = {**TEST_CARD, "number": "5555555555554444"}


# --- helpers -------------------------------------------------------------------------------------------------


def _account(sub, collection=Collection.AUTOMATIC) -> BillingAccount:
    """The subscriber's billing account, made before the first invoice so its collection applies to it."""
    account = services.account_for(sub)
    BillingAccount.objects.filter(pk=account.pk).update(collection=collection)
    account.refresh_from_db()
    return account


def _add(account, details, **kwargs) -> PaymentMethod:
    return payments.payment_method_add(account_id=account.pk, details=details, **kwargs)


def _issue(sub, capture, day=ACTIVATED_ON) -> Invoice:
    """The verified activation: the first invoice is finalized and what `invoice.finalized` triggers has run."""
    with capture(execute=True):
        invoice = activate(sub, day)
    invoice.refresh_from_db()
    return invoice


def _paid_with(details, capture, day=ACTIVATED_ON) -> Invoice:
    """An automatic account with `details` on file, its first invoice collected."""
    sub = subscription()
    _add(_account(sub), details)
    return _issue(sub, capture, day)


def _open_invoice(capture, day=ACTIVATED_ON) -> Invoice:
    """A manual account's first invoice: open, nothing paid."""
    invoice = _issue(subscription(), capture, day)
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.OPEN, Decimal("0.00"))
    return invoice


def _record(invoice, amount, **kwargs) -> Payment:
    fields = {"method_type": MethodType.BANK_TRANSFER, "external_reference": "BG 5050-1055 ref 1"} | kwargs
    return payments.payment_record(invoice_id=invoice.pk, amount=amount, **fields)


def _fresh(invoice) -> Invoice:
    return Invoice.objects.get(pk=invoice.pk)


def _later(seconds: int) -> datetime:
    """Just past `seconds` from now: when the sweep's delay of that length has run out."""
    return timezone.now() + timedelta(seconds=seconds + 1)


@pytest.fixture
def clerk(django_user_model):
    user = django_user_model.objects.create_user("finance", "finance@example.test", "pw-123456", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="billing", codename="override_pricing"))
    return django_user_model.objects.get(pk=user.pk)  # fresh: no cached permissions


@pytest.fixture
def outsider(django_user_model):
    return django_user_model.objects.create_user("support", "support@example.test", "pw-123456", is_staff=True)


@pytest.fixture
def goodwill():
    return ReasonCode.objects.create(code="goodwill", label="Goodwill")


@pytest.fixture
def flaky_gateway(monkeypatch):
    """The offline gateway times out on the first charge, then answers; the keys it was asked with are kept."""
    keys: list[str] = []
    charge = OfflineGateway.charge

    def timing_out_once(self, **kwargs):
        keys.append(kwargs["key"])
        if len(keys) == 1:
            raise GatewayUnavailable("read timeout")
        return charge(self, **kwargs)

    monkeypatch.setattr(OfflineGateway, "charge", timing_out_once)
    return keys


# --- payment methods -----------------------------------------------------------------------------------------


def test_the_first_method_saved_becomes_the_default():
    # given: an account with nothing on file
    account = _account(subscription())
    # when: a card is saved without asking for it to be the default
    card = _add(account, TEST_CARD, make_default=False)
    # then: it is the default, shown by brand and last four digits only
    assert card.is_default
    assert payments.default_method(account.pk) == card
    assert (card.type, card.brand, card.last4, card.exp_month, card.exp_year) == ("card", "visa", "4242", 12, 2040)
    assert str(card) == "visa •••• 4242 (12/2040)"
    assert Event.objects.filter(name="payment_method.added", payload__method_id=card.pk).exists()


def test_a_second_method_becomes_the_default_only_when_asked():
    # given: a card on file
    account = _account(subscription())
    first = _add(account, TEST_CARD)
    # when: a SEPA mandate is added as a spare, then a second card as the new default
    spare = _add(account, SEPA_OK, make_default=False)
    second = _add(account, MASTERCARD, make_default=True)
    # then: exactly one default, the one asked for
    assert payments.default_method(account.pk) == second
    assert list(PaymentMethod.objects.filter(account=account, is_default=True)) == [second]
    first.refresh_from_db()
    spare.refresh_from_db()
    assert not first.is_default
    assert not spare.is_default
    assert spare.mandate_reference.startswith("OFF-MANDATE-")


def test_setting_another_method_as_default_moves_the_default():
    account = _account(subscription())
    card = _add(account, TEST_CARD)
    debit = _add(account, SEPA_OK, make_default=False)
    # when
    payments.payment_method_set_default(method_id=debit.pk)
    # then
    assert payments.default_method(account.pk) == debit
    assert PaymentMethod.objects.filter(account=account, is_default=True).count() == 1
    card.refresh_from_db()
    assert not card.is_default


def test_removing_the_default_promotes_the_most_recent_remaining_method():
    # given: three methods, the first one the default
    account = _account(subscription())
    default = _add(account, TEST_CARD)
    older = _add(account, MASTERCARD, make_default=False)
    newest = _add(account, ACH_OK, make_default=False)
    # when
    payments.payment_method_remove(method_id=default.pk)
    # then: the removed card is kept but never charged again; the newest remaining method is the default
    default.refresh_from_db()
    assert default.removed_at is not None
    assert not default.is_default
    assert payments.default_method(account.pk) == newest
    older.refresh_from_db()
    assert not older.is_default
    account.refresh_from_db()
    assert account.collection == Collection.AUTOMATIC


def test_removing_the_last_method_of_an_automatic_account_switches_it_to_manual(django_capture_on_commit_callbacks):
    # given: an automatic account with one card
    sub = subscription()
    account = _account(sub)
    card = _add(account, TEST_CARD)
    # when
    payments.payment_method_remove(method_id=card.pk)
    # then: the account pays manually now, and its next invoice is not charged but waits for the subscriber
    account.refresh_from_db()
    assert account.collection == Collection.MANUAL
    assert payments.default_method(account.pk) is None
    invoice = _issue(sub, django_capture_on_commit_callbacks)
    assert invoice.status == InvoiceStatus.OPEN
    assert not Payment.objects.filter(invoice=invoice).exists()
    assert not Message.objects.filter(kind=MessageKind.PAYMENT_METHOD_MISSING).exists()


def test_a_removed_method_cannot_become_the_default():
    account = _account(subscription())
    card = _add(account, TEST_CARD)
    spare = _add(account, MASTERCARD, make_default=False)
    payments.payment_method_remove(method_id=spare.pk)
    with pytest.raises(Conflict) as refused:
        payments.payment_method_set_default(method_id=spare.pk)
    assert refused.value.code == "method_removed"
    assert payments.default_method(account.pk) == card


@pytest.mark.parametrize(
    ("details", "message"),
    [
        ({**TEST_CARD, "number": "4000000000000002"}, "Your card was declined."),
        ({**TEST_CARD, "number": "4242424242424241"}, "That card number is not valid."),
        ({**TEST_CARD, "exp_year": 2020}, "The card has expired"),
        ({**TEST_CARD, "cvc": ""}, "security code"),
        ({"type": "sepa_debit", "iban": "DE89370400440532013001"}, "That IBAN is not valid"),
        ({"type": "sepa_debit", "iban": "not an iban"}, "That IBAN is not valid"),
        ({**ACH_OK, "account_number": "12"}, "The account number has 4 to 17 digits."),
    ],
    ids=["declined-card", "bad-luhn", "expired", "no-cvc", "bad-iban-checksum", "garbage-iban", "short-ach"],
)
def test_details_the_gateway_refuses_give_a_clear_error_and_save_nothing(details, message):
    # given: an automatic account with nothing on file
    account = _account(subscription())
    # when
    with pytest.raises(GatewayRefused) as refused:
        _add(account, details)
    # then: the subscriber reads why (the API answers 402), and nothing is saved
    assert message in refused.value.message
    assert refused.value.http_status == 402
    assert not PaymentMethod.objects.exists()
    assert not Event.objects.filter(name="payment_method.added").exists()


def test_a_card_declined_when_saved_carries_the_declined_code():
    account = _account(subscription())
    with pytest.raises(GatewayRefused) as refused:
        _add(account, {**TEST_CARD, "number": "4000 0000 0000 0002"})
    assert refused.value.code == "card_declined"
    assert not PaymentMethod.objects.filter(account=account).exists()


# --- automatic collection ------------------------------------------------------------------------------------


def test_an_automatic_account_with_a_card_is_charged_when_its_invoice_is_finalized(
    django_capture_on_commit_callbacks,
):
    # when: the first invoice of an automatic account with a card on file is finalized
    invoice = _paid_with(TEST_CARD, django_capture_on_commit_callbacks)
    # then: one succeeded charge of the whole invoice, which is paid
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.status, payment.amount, payment.channel) == (
        PaymentStatus.SUCCEEDED,
        TOTAL,
        PaymentChannel.AUTOMATIC,
    )
    assert payment.reference.startswith("off_pi_card_ok_")
    assert payment.idempotency_key == f"{django_settings.PAYMENT_KEY_PREFIX}-invoice-{invoice.pk}-attempt-1"
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.amount_paid == invoice.total == TOTAL
    assert invoice.paid_at is not None
    assert payments.credit_balance(invoice.account_id) == Decimal("0.00")
    assert Event.objects.filter(name="invoice.paid", payload__invoice_id=invoice.pk).count() == 1


def test_a_second_delivery_of_invoice_finalized_charges_once(django_capture_on_commit_callbacks, monkeypatch):
    # given: an open invoice; the account then pays automatically with a card
    invoice = _open_invoice(django_capture_on_commit_callbacks)
    account = BillingAccount.objects.get(pk=invoice.account_id)
    BillingAccount.objects.filter(pk=account.pk).update(collection=Collection.AUTOMATIC)
    _add(account, TEST_CARD)
    charges = []
    charge = OfflineGateway.charge
    monkeypatch.setattr(OfflineGateway, "charge", lambda self, **kw: charges.append(kw) or charge(self, **kw))
    # when: invoice.finalized is handled twice before the charge is sent, then once more after it is paid
    with django_capture_on_commit_callbacks(execute=True):
        first = payments.invoice_collect(invoice_id=invoice.pk)
        second = payments.invoice_collect(invoice_id=invoice.pk)
    third = payments.invoice_collect(invoice_id=invoice.pk)
    # then: one charge at the gateway, one payment, the invoice paid once
    assert first is not None
    assert (second, third) == (None, None)
    assert len(charges) == 1
    assert Payment.objects.filter(invoice=invoice).count() == 1
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, TOTAL)
    assert payments.credit_balance(account.pk) == Decimal("0.00")


def test_an_automatic_account_without_a_method_is_told_and_its_invoice_stays_open(django_capture_on_commit_callbacks):
    # given: automatic collection, nothing on file
    sub = subscription()
    account = _account(sub)
    # when
    invoice = _issue(sub, django_capture_on_commit_callbacks)
    payments.invoice_collect(invoice_id=invoice.pk)  # a second delivery of the event tells nothing more
    # then
    assert invoice.status == InvoiceStatus.OPEN
    assert not Payment.objects.filter(invoice=invoice).exists()
    (notice,) = Message.objects.filter(customer=account.customer, kind=MessageKind.PAYMENT_METHOD_MISSING)
    assert (notice.key, notice.to) == (f"no-method-{invoice.pk}", sub.customer.email)
    assert invoice.number in notice.subject


def test_a_manual_account_is_never_charged_even_with_a_card_on_file(django_capture_on_commit_callbacks):
    sub = subscription()
    _add(_account(sub, Collection.MANUAL), TEST_CARD)
    invoice = _issue(sub, django_capture_on_commit_callbacks)
    assert invoice.status == InvoiceStatus.OPEN
    assert not Payment.objects.filter(invoice=invoice).exists()


# --- 3-D Secure ----------------------------------------------------------------------------------------------


def test_a_card_that_needs_authentication_waits_for_the_subscriber(django_capture_on_commit_callbacks):
    # when
    invoice = _paid_with(THREE_D_SECURE_CARD, django_capture_on_commit_callbacks)
    # then: the payment waits for the subscriber, who is told; nothing is paid yet
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert payment.client_secret
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.OPEN, Decimal("0.00"))
    notice = Message.objects.get(key=f"action-{payment.pk}")
    assert notice.kind == MessageKind.PAYMENT_ACTION_REQUIRED
    assert "Confirm payment" in notice.body


def test_a_confirmed_authentication_pays_the_invoice(django_capture_on_commit_callbacks):
    invoice = _paid_with(THREE_D_SECURE_CARD, django_capture_on_commit_callbacks)
    payment = Payment.objects.get(invoice=invoice)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        payments.payment_authenticate(payment_id=payment.pk, success=True)
    # then
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, TOTAL)
    # and a second answer is refused: the payment no longer waits
    with pytest.raises(Conflict) as refused:
        payments.payment_authenticate(payment_id=payment.pk, success=True)
    assert refused.value.code == "no_action"
    assert _fresh(invoice).amount_paid == TOTAL


def test_a_refused_authentication_fails_the_payment_and_leaves_the_invoice_open(django_capture_on_commit_callbacks):
    invoice = _paid_with(THREE_D_SECURE_CARD, django_capture_on_commit_callbacks)
    payment = Payment.objects.get(invoice=invoice)
    # when
    payments.payment_authenticate(payment_id=payment.pk, success=False)
    # then: failed with the bank's reason; the subscriber is told
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "authentication_failed")
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.OPEN, Decimal("0.00"))
    assert Message.objects.filter(key=f"failed-{payment.pk}", kind=MessageKind.PAYMENT_FAILED).count() == 1


# --- SEPA and ACH debits -------------------------------------------------------------------------------------

DEBITS = pytest.mark.parametrize("debit", [SEPA_OK, ACH_OK], ids=["sepa", "ach"])
FAILING_DEBITS = pytest.mark.parametrize("debit", [SEPA_FAILS, ACH_FAILS], ids=["sepa", "ach"])


@DEBITS
def test_a_bank_debit_makes_the_invoice_processing_until_it_settles(debit, django_capture_on_commit_callbacks):
    # when: the invoice is collected by debit
    invoice = _paid_with(debit, django_capture_on_commit_callbacks)
    # then: taken, not yet paid
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.status, payment.method_type) == (PaymentStatus.PROCESSING, debit["type"])
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PROCESSING, Decimal("0.00"))
    # when: the sweep looks before the sync delay, then after it (the gateway says it settled)
    assert payments.payments_sweep(now=_later(60))["synced"] == 0
    assert _fresh(invoice).status == InvoiceStatus.PROCESSING
    with django_capture_on_commit_callbacks(execute=True):
        counts = payments.payments_sweep(now=_later(django_settings.PAYMENTS_SYNC_AFTER_SECONDS))
    # then
    assert counts["synced"] == 1
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.settled_at is not None
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, TOTAL)


@FAILING_DEBITS
def test_a_bank_debit_that_fails_later_reopens_the_invoice(debit, django_capture_on_commit_callbacks):
    invoice = _paid_with(debit, django_capture_on_commit_callbacks)
    assert invoice.status == InvoiceStatus.PROCESSING
    # when: the bank returns the debit
    with django_capture_on_commit_callbacks(execute=True):
        payments.payments_sweep(now=_later(django_settings.PAYMENTS_SYNC_AFTER_SECONDS))
    # then: the payment failed, the invoice is open again and the subscriber is told
    payment = Payment.objects.get(invoice=invoice)
    invoice.refresh_from_db()
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "debit_failed")
    assert (invoice.status, invoice.amount_paid, invoice.paid_at) == (InvoiceStatus.OPEN, Decimal("0.00"), None)
    assert Message.objects.filter(key=f"failed-{payment.pk}", kind=MessageKind.PAYMENT_FAILED).count() == 1
    assert payment.next_retry_at is not None


def test_a_late_invoice_whose_debit_fails_is_late_again(django_capture_on_commit_callbacks):
    # given: a late invoice the subscriber then pays by SEPA from the portal
    invoice = _open_invoice(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.invoices_mark_late(today=invoice.due_on + timedelta(days=30))
    method = _add(BillingAccount.objects.get(pk=invoice.account_id), SEPA_FAILS)
    payment = payments.invoice_pay_now(invoice_id=invoice.pk, method_id=method.pk)
    assert _fresh(invoice).status == InvoiceStatus.PROCESSING
    # when: the bank returns the debit
    with django_capture_on_commit_callbacks(execute=True):
        payments.payments_sweep(now=_later(django_settings.PAYMENTS_SYNC_AFTER_SECONDS))
    # then: unpaid and late again (no second late fee)
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.FAILED
    assert _fresh(invoice).status == InvoiceStatus.LATE
    assert Invoice.objects.filter(corrects=invoice, reason="late_fee").count() == 1


def test_a_bank_debit_on_its_way_and_a_bank_transfer_both_arriving_lose_no_money(django_capture_on_commit_callbacks):
    # given: a debit on its way; the subscriber also pays by bank transfer
    invoice = _paid_with(SEPA_OK, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        _record(invoice, TOTAL)
    assert _fresh(invoice).status == InvoiceStatus.PAID
    # when: the debit settles too
    with django_capture_on_commit_callbacks(execute=True):
        payments.payments_sweep(now=_later(django_settings.PAYMENTS_SYNC_AFTER_SECONDS))
    # then: the invoice was paid once; the second payment is the customer's credit
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, TOTAL)
    assert payments.credit_balance(invoice.account_id) == TOTAL


# --- late and repeated gateway answers -----------------------------------------------------------------------


def test_a_processing_answer_after_succeeded_changes_nothing(django_capture_on_commit_callbacks):
    # given: a debit the gateway reported as settled
    invoice = _paid_with(SEPA_OK, django_capture_on_commit_callbacks)
    payment = Payment.objects.get(invoice=invoice)
    with django_capture_on_commit_callbacks(execute=True):
        payments.payment_result_apply(payment_id=payment.pk, result=ChargeResult(payment.reference, SUCCEEDED))
    # when: the earlier "processing" answer arrives late, then a "failed" one
    payments.payment_result_apply(payment_id=payment.pk, result=ChargeResult(payment.reference, PROCESSING))
    payments.payment_result_apply(
        payment_id=payment.pk, result=ChargeResult(payment.reference, FAILED, "debit_failed", "returned")
    )
    # then: still succeeded and paid
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.status, payment.failure_code) == (PaymentStatus.SUCCEEDED, "")
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, TOTAL)
    assert not Message.objects.filter(kind=MessageKind.PAYMENT_FAILED).exists()


def test_succeeded_delivered_twice_applies_the_money_once(django_capture_on_commit_callbacks):
    invoice = _paid_with(ACH_OK, django_capture_on_commit_callbacks)
    payment = Payment.objects.get(invoice=invoice)
    # when
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            payments.payment_result_apply(payment_id=payment.pk, result=ChargeResult(payment.reference, SUCCEEDED))
    # then: paid once, no credit made up, one payment.succeeded
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, TOTAL)
    assert payments.credit_balance(invoice.account_id) == Decimal("0.00")
    assert Event.objects.filter(name="payment.succeeded", payload__payment_id=payment.pk).count() == 1
    assert Event.objects.filter(name="invoice.paid", payload__invoice_id=invoice.pk).count() == 1


# --- gateway timeouts ----------------------------------------------------------------------------------------


def test_a_charge_whose_gateway_timed_out_is_sent_again_with_the_same_key_and_pays_once(
    django_capture_on_commit_callbacks, flaky_gateway
):
    # when: an automatic account's invoice is collected and the gateway does not answer the charge
    invoice = _paid_with(TEST_CARD, django_capture_on_commit_callbacks)
    # then: the outcome is unknown, so the payment stays pending and the invoice open
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.status, payment.submit_errors) == (PaymentStatus.PENDING, 1)
    assert "did not answer" in payment.failure_message
    assert _fresh(invoice).status == InvoiceStatus.OPEN
    # when: the sweep runs, first too early, then after the resubmit delay
    assert payments.payments_sweep(now=timezone.now())["resubmitted"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        counts = payments.payments_sweep(now=_later(django_settings.PAYMENTS_RESUBMIT_AFTER_SECONDS))
    # then: asked again with the same key; one payment, the invoice paid once
    assert counts["resubmitted"] == 1
    assert flaky_gateway == [payment.idempotency_key, payment.idempotency_key]
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, TOTAL)


def test_a_portal_payment_whose_gateway_timed_out_blocks_a_second_charge_until_it_is_answered(
    django_capture_on_commit_callbacks, flaky_gateway
):
    # given: an open invoice and a saved card
    invoice = _open_invoice(django_capture_on_commit_callbacks)
    card = _add(BillingAccount.objects.get(pk=invoice.account_id), TEST_CARD)
    # when: the subscriber pays now, and the gateway times out
    payment = payments.invoice_pay_now(invoice_id=invoice.pk, method_id=card.pk)
    # then: pending; paying again is refused while the first charge may still go through
    assert (payment.status, payment.submit_errors, payment.channel) == (PaymentStatus.PENDING, 1, PaymentChannel.PORTAL)
    with pytest.raises(Conflict) as refused:
        payments.invoice_pay_now(invoice_id=invoice.pk, method_id=card.pk)
    assert refused.value.code == "payment_in_flight"
    assert Payment.objects.filter(invoice=invoice).count() == 1
    # when: the sweep sends it again
    with django_capture_on_commit_callbacks(execute=True):
        payments.payments_sweep(now=_later(django_settings.PAYMENTS_RESUBMIT_AFTER_SECONDS))
    # then
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, TOTAL)
    assert len(set(flaky_gateway)) == 1


# --- manual payments and the credit balance ------------------------------------------------------------------


def test_a_part_payment_leaves_the_rest_open_and_the_rest_pays_it(django_capture_on_commit_callbacks):
    invoice = _open_invoice(django_capture_on_commit_callbacks)
    # when: 500.00 arrives by bank transfer
    first = _record(invoice, "500.00", received_on=date(2026, 2, 20))
    # then
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.open_amount) == (
        InvoiceStatus.OPEN,
        Decimal("500.00"),
        Decimal("457.19"),
    )
    assert (first.status, first.channel, first.received_on) == (
        PaymentStatus.SUCCEEDED,
        PaymentChannel.STAFF,
        date(2026, 2, 20),
    )
    # when: the rest arrives in cash
    _record(invoice, Decimal("457.19"), method_type=MethodType.CASH, external_reference="receipt 77")
    # then
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.open_amount) == (
        InvoiceStatus.PAID,
        TOTAL,
        Decimal("0.00"),
    )
    assert payments.credit_balance(invoice.account_id) == Decimal("0.00")


def test_an_overpayment_becomes_credit_that_pays_the_next_invoice_first(django_capture_on_commit_callbacks):
    # given: the first invoice paid with 1000.00 by bank transfer
    invoice = _open_invoice(django_capture_on_commit_callbacks)
    _record(invoice, "1000.00")
    account = BillingAccount.objects.get(pk=invoice.account_id)
    assert _fresh(invoice).status == InvoiceStatus.PAID
    assert payments.credit_balance(account.pk) == Decimal("42.81")
    # and the account pays automatically from now on
    BillingAccount.objects.filter(pk=account.pk).update(collection=Collection.AUTOMATIC)
    card = _add(account, TEST_CARD)
    # when: March is billed (399.00 + 25 % VAT = 498.75)
    billing_chunk(run_id=None, account_ids=[account.pk], as_of=date(2026, 3, 1))
    with django_capture_on_commit_callbacks(execute=True):
        services.invoices_finalize_due()
    # then: the credit pays first, the card only the rest
    march = Invoice.objects.exclude(pk=invoice.pk).get(account=account)
    assert march.total == Decimal("498.75")
    assert (march.status, march.amount_paid) == (InvoiceStatus.PAID, Decimal("498.75"))
    from_credit = Payment.objects.get(invoice=march, method_type=MethodType.CREDIT_BALANCE)
    assert (from_credit.amount, from_credit.status) == (Decimal("42.81"), PaymentStatus.SUCCEEDED)
    charged = Payment.objects.get(invoice=march, method=card)
    assert charged.amount == Decimal("455.94")
    assert payments.credit_balance(account.pk) == Decimal("0.00")


def test_credit_smaller_than_the_next_invoice_leaves_the_rest_open(django_capture_on_commit_callbacks):
    invoice = _open_invoice(django_capture_on_commit_callbacks)
    _record(invoice, "1000.00")
    billing_chunk(run_id=None, account_ids=[invoice.account_id], as_of=date(2026, 3, 1))
    with django_capture_on_commit_callbacks(execute=True):
        services.invoices_finalize_due()
    march = Invoice.objects.exclude(pk=invoice.pk).get(account_id=invoice.account_id)
    assert (march.status, march.amount_paid, march.open_amount) == (
        InvoiceStatus.OPEN,
        Decimal("42.81"),
        Decimal("455.94"),
    )
    assert payments.credit_balance(invoice.account_id) == Decimal("0.00")


def test_credit_larger_than_the_next_invoice_pays_it_without_charging_the_card(django_capture_on_commit_callbacks):
    # given: 2000.00 received on 957.19; the account then pays automatically with a card
    invoice = _open_invoice(django_capture_on_commit_callbacks)
    _record(invoice, "2000.00")
    account = BillingAccount.objects.get(pk=invoice.account_id)
    BillingAccount.objects.filter(pk=account.pk).update(collection=Collection.AUTOMATIC)
    card = _add(account, TEST_CARD)
    # when: March (498.75) is billed
    billing_chunk(run_id=None, account_ids=[account.pk], as_of=date(2026, 3, 1))
    with django_capture_on_commit_callbacks(execute=True):
        services.invoices_finalize_due()
    # then: paid from credit alone; the rest of the credit stays
    march = Invoice.objects.exclude(pk=invoice.pk).get(account=account)
    assert (march.status, march.amount_paid) == (InvoiceStatus.PAID, Decimal("498.75"))
    assert not Payment.objects.filter(method=card).exists()
    assert payments.credit_balance(account.pk) == Decimal("2000.00") - TOTAL - Decimal("498.75")


BAD_RECORDS = [
    ({"amount": "0"}, "invalid_amount", "more than zero"),
    ({"amount": "-10.00"}, "invalid_amount", "more than zero"),
    ({"amount": "abc"}, "invalid_amount", "Enter the amount"),
    ({"amount": ""}, "invalid_amount", "Enter the amount"),
    ({"amount": "NaN"}, "invalid_amount", "Enter the amount"),
    ({"amount": "Infinity"}, "invalid_amount", "Enter the amount"),
    ({"amount": "4000000000000002"}, "invalid_amount", "amount"),
    ({"external_reference": ""}, "reference_required", "reference"),
    ({"external_reference": "   "}, "reference_required", "reference"),
    ({"method_type": MethodType.CARD}, "method_type", "bank transfer, cash or cheque"),
    ({"method_type": MethodType.CREDIT_BALANCE}, "method_type", "bank transfer, cash or cheque"),
]


@pytest.mark.parametrize(("change", "code", "message"), BAD_RECORDS, ids=[str(c) for c, _, _ in BAD_RECORDS])
def test_a_manual_payment_with_bad_input_is_refused_and_writes_nothing(
    change, code, message, django_capture_on_commit_callbacks
):
    invoice = _open_invoice(django_capture_on_commit_callbacks)
    fields = {
        "amount": "100.00",
        "method_type": MethodType.BANK_TRANSFER,
        "external_reference": "BG 5050-1055 ref 1",
    } | change
    # when
    with pytest.raises(ApplicationError) as refused:
        payments.payment_record(invoice_id=invoice.pk, **fields)
    # then
    assert refused.value.code == code
    assert message in refused.value.message
    assert not Payment.objects.exists()
    assert not CreditEntry.objects.exists()
    assert _fresh(invoice).amount_paid == Decimal("0.00")


@pytest.mark.parametrize("state", ["draft", "void", "credit note"])
def test_a_manual_payment_on_a_document_that_cannot_take_one_is_refused(state, django_capture_on_commit_callbacks):
    # given: a draft (in review), a voided invoice, or a credit note
    sub = subscription()
    if state == "draft":
        rules(sub.marketplace, review_minutes=60)
    document = _issue(sub, django_capture_on_commit_callbacks, MARCH_FIRST)
    if state == "void":
        document = services.invoice_void(invoice_id=document.pk, reason="issued by mistake")
    if state == "credit note":
        document = changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 21)))
    # when
    with pytest.raises(ApplicationError) as refused:
        _record(document, "100.00")
    # then
    assert refused.value.code == "not_payable"
    assert "cannot take a payment" in refused.value.message
    assert not Payment.objects.exists()
    assert not CreditEntry.objects.exists()


# --- credit notes --------------------------------------------------------------------------------------------


def test_a_termination_credit_note_on_a_card_paid_invoice_is_refunded_to_the_card(django_capture_on_commit_callbacks):
    # given: March paid by card
    invoice = _paid_with(TEST_CARD, django_capture_on_commit_callbacks, MARCH_FIRST)
    payment = Payment.objects.get(invoice=invoice)
    assert payment.amount == MARCH_TOTAL
    sub = invoice.lines.exclude(subscription=None).first().subscription
    # when: the service is verified off on 21 March
    with django_capture_on_commit_callbacks(execute=True):
        credit_note = changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 21)))
    # then: the unused days go back to the card
    refund = Refund.objects.get()
    assert (refund.payment, refund.credit_note, refund.amount, refund.status) == (
        payment,
        credit_note,
        MARCH_21_CREDIT,
        RefundStatus.SUCCEEDED,
    )
    assert refund.reference.startswith("off_re_")
    payment.refresh_from_db()
    assert payment.amount_refunded == MARCH_21_CREDIT
    credit_note.refresh_from_db()
    assert (credit_note.kind, credit_note.status, credit_note.total) == (
        InvoiceKind.CREDIT_NOTE,
        InvoiceStatus.PAID,
        -MARCH_21_CREDIT,
    )
    assert payments.credit_balance(invoice.account_id) == Decimal("0.00")


def test_a_termination_credit_note_on_an_invoice_paid_by_bank_transfer_becomes_credit(
    django_capture_on_commit_callbacks,
):
    # given: March paid by bank transfer
    invoice = _open_invoice(django_capture_on_commit_callbacks, MARCH_FIRST)
    _record(invoice, MARCH_TOTAL)
    sub = invoice.lines.exclude(subscription=None).first().subscription
    # when
    with django_capture_on_commit_callbacks(execute=True):
        credit_note = changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 21)))
    # then: nothing to refund through a gateway; the money is the customer's credit
    assert not Refund.objects.exists()
    assert payments.credit_balance(invoice.account_id) == MARCH_21_CREDIT
    assert _fresh(credit_note).status == InvoiceStatus.PAID


def test_a_termination_credit_note_on_an_unpaid_invoice_reduces_what_is_owed(django_capture_on_commit_callbacks):
    # given: March issued and not paid
    invoice = _open_invoice(django_capture_on_commit_callbacks, MARCH_FIRST)
    sub = invoice.lines.exclude(subscription=None).first().subscription
    # when: the service is turned off on the 21st
    with django_capture_on_commit_callbacks(execute=True):
        credit_note = changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 21)))
    # then: the unused days are taken off the open invoice; no refund, no credit left over
    invoice.refresh_from_db()
    assert invoice.open_amount == MARCH_TOTAL - MARCH_21_CREDIT
    assert _fresh(credit_note).status == InvoiceStatus.PAID
    assert not Refund.objects.exists()
    assert payments.credit_balance(invoice.account_id) == Decimal("0.00")


def test_a_refund_the_gateway_refuses_is_kept_as_credit(django_capture_on_commit_callbacks, monkeypatch):
    # given: March paid by card; the gateway will refuse refunds (the card was closed)
    invoice = _paid_with(TEST_CARD, django_capture_on_commit_callbacks, MARCH_FIRST)
    payment = Payment.objects.get(invoice=invoice)
    monkeypatch.setattr(
        OfflineGateway, "refund", lambda self, **kw: RefundResult("off_re_refused", FAILED, "The card was closed.")
    )
    sub = invoice.lines.exclude(subscription=None).first().subscription
    # when: the termination credit note is settled
    with django_capture_on_commit_callbacks(execute=True):
        changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 21)))
    # then: the refund failed with the gateway's reason, and the money is the customer's credit
    refund = Refund.objects.get()
    assert (refund.status, refund.failure_message) == (RefundStatus.FAILED, "The card was closed.")
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("0.00")
    assert payments.credit_balance(invoice.account_id) == MARCH_21_CREDIT


def test_a_refund_whose_gateway_timed_out_is_sent_again_by_the_sweep(django_capture_on_commit_callbacks, monkeypatch):
    # given: March paid by card; the gateway times out on the first refund
    invoice = _paid_with(TEST_CARD, django_capture_on_commit_callbacks, MARCH_FIRST)
    payment = Payment.objects.get(invoice=invoice)
    keys = []
    refund = OfflineGateway.refund

    def timing_out_once(self, **kwargs):
        keys.append(kwargs["key"])
        if len(keys) == 1:
            raise GatewayUnavailable("read timeout")
        return refund(self, **kwargs)

    monkeypatch.setattr(OfflineGateway, "refund", timing_out_once)
    sub = invoice.lines.exclude(subscription=None).first().subscription
    with django_capture_on_commit_callbacks(execute=True):
        changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 21)))
    assert Refund.objects.get().status == RefundStatus.PENDING
    # when
    with django_capture_on_commit_callbacks(execute=True):
        counts = payments.payments_sweep(now=_later(django_settings.PAYMENTS_RESUBMIT_AFTER_SECONDS))
    # then: asked again with the same key, refunded once
    assert counts["refunds"] == 1
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert Refund.objects.get().status == RefundStatus.SUCCEEDED
    payment.refresh_from_db()
    assert payment.amount_refunded == MARCH_21_CREDIT


def test_a_credit_note_against_an_open_invoice_reduces_what_is_open(
    django_capture_on_commit_callbacks, clerk, goodwill
):
    # given: an open invoice
    invoice = _open_invoice(django_capture_on_commit_callbacks)
    # when: a credit of 100.00 net (125.00 with VAT) is given against it
    with django_capture_on_commit_callbacks(execute=True):
        overrides.invoice_credit(invoice_id=invoice.pk, amount="100.00", reason_code=goodwill, actor=clerk)
    # then: 125.00 less is open; no refund and no credit balance
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid, invoice.open_amount) == (
        InvoiceStatus.OPEN,
        Decimal("125.00"),
        TOTAL - Decimal("125.00"),
    )
    assert Payment.objects.get(invoice=invoice).method_type == MethodType.CREDIT_NOTE
    assert not Refund.objects.exists()
    assert payments.credit_balance(invoice.account_id) == Decimal("0.00")
    # and the rest pays the invoice
    _record(invoice, TOTAL - Decimal("125.00"))
    assert _fresh(invoice).status == InvoiceStatus.PAID


# --- refunds by finance --------------------------------------------------------------------------------------


def _card_payment(capture) -> Payment:
    invoice = _paid_with(TEST_CARD, capture)
    return Payment.objects.get(invoice=invoice)


def _refund_rows() -> tuple[int, int, int]:
    return (
        Refund.objects.count(),
        Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).count(),
        PricingOverride.objects.count(),
    )


def test_a_refund_makes_a_credit_note_an_audit_row_and_a_refund_at_the_gateway(
    django_capture_on_commit_callbacks, clerk, goodwill
):
    # given: an invoice of 957.19 paid by card
    payment = _card_payment(django_capture_on_commit_callbacks)
    # when: finance refunds 100.00
    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.payment_refund(
            payment_id=payment.pk, amount="100.00", reason_code="goodwill", actor=clerk, note="outage in March"
        )
    # then: a finalized credit note of exactly 100.00 correcting the invoice, settled by the refund
    refund.refresh_from_db()
    assert (refund.amount, refund.status, refund.reason_code, refund.actor) == (
        Decimal("100.00"),
        RefundStatus.SUCCEEDED,
        goodwill,
        clerk,
    )
    credit_note = refund.credit_note
    assert (credit_note.kind, credit_note.status, credit_note.corrects_id) == (
        InvoiceKind.CREDIT_NOTE,
        InvoiceStatus.PAID,
        payment.invoice_id,
    )
    assert credit_note.number.startswith("CN-")
    assert credit_note.total == -refund.amount
    override = PricingOverride.objects.get()
    assert (override.kind, override.result, override.actor, override.reason_code) == (
        OverrideKind.REFUND,
        credit_note,
        clerk,
        goodwill,
    )
    assert (override.old_value, override.new_value) == (TOTAL, TOTAL - Decimal("100.00"))
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("100.00")
    # and the credit note is not settled a second time (no extra refund, no credit)
    assert Refund.objects.count() == 1
    assert payments.credit_balance(payment.account_id) == Decimal("0.00")


def test_a_refund_of_a_late_fee_carries_no_vat_as_the_fee_did_not(django_capture_on_commit_callbacks, clerk, goodwill):
    # given: a late invoice's 60.00 fee (not taxed), paid by card
    invoice = _open_invoice(django_capture_on_commit_callbacks)
    services.invoices_mark_late(today=invoice.due_on + timedelta(days=30))
    fee = Invoice.objects.get(reason=InvoiceReason.LATE_FEE, corrects=invoice)
    assert fee.status == InvoiceStatus.OPEN
    card = payments.payment_method_add(account_id=fee.account_id, details=TEST_CARD)
    with django_capture_on_commit_callbacks(execute=True):
        payment = payments.invoice_pay_now(invoice_id=fee.pk, method_id=card.pk)
    # when: finance gives the fee back
    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.payment_refund(payment_id=payment.pk, amount="60.00", reason_code=goodwill, actor=clerk)
    # then: a credit note of 60.00 with no VAT in it
    credit_note = refund.credit_note
    assert (credit_note.total, credit_note.tax) == (Decimal("-60.00"), Decimal("0.00"))
    assert not credit_note.lines.filter(kind=LineKind.TAX).exists()


@pytest.mark.parametrize("amount", ["10.02", "0.07", "33.33", "957.19"])
def test_a_refund_and_its_credit_note_are_for_the_same_amount(
    amount, django_capture_on_commit_callbacks, clerk, goodwill
):
    # given: amounts whose net at 25 % VAT does not come out to the cent, and the whole payment
    payment = _card_payment(django_capture_on_commit_callbacks)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        refund = refunds.payment_refund(payment_id=payment.pk, amount=amount, reason_code=goodwill, actor=clerk)
    # then: what the customer gets back is what was asked, and what the credit note says
    refund.refresh_from_db()
    assert refund.amount == Decimal(amount)
    assert refund.credit_note.total == -Decimal(amount)
    assert sum(refund.credit_note.lines.values_list("amount", flat=True)) == -Decimal(amount)
    assert refund.credit_note.subtotal + refund.credit_note.tax == refund.credit_note.total
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal(amount)


def test_a_refund_larger_than_what_is_left_is_refused_and_writes_nothing(
    django_capture_on_commit_callbacks, clerk, goodwill
):
    # given: 900.00 of 957.19 refunded already
    payment = _card_payment(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        refunds.payment_refund(payment_id=payment.pk, amount="900.00", reason_code=goodwill, actor=clerk)
    before = _refund_rows()
    # when: 57.20 more is asked for
    with pytest.raises(ApplicationError) as refused:
        refunds.payment_refund(payment_id=payment.pk, amount="57.20", reason_code=goodwill, actor=clerk)
    # then
    assert refused.value.code == "refund_exceeds_payment"
    assert "57.19" in refused.value.message
    assert refused.value.extra == {"refundable": "57.19"}
    assert _refund_rows() == before
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("900.00")
    # and exactly what is left can still be refunded
    with django_capture_on_commit_callbacks(execute=True):
        refunds.payment_refund(payment_id=payment.pk, amount="57.19", reason_code=goodwill, actor=clerk)
    payment.refresh_from_db()
    assert payment.amount_refunded == TOTAL


@pytest.mark.parametrize("amount", ["0", "-5.00", "abc", "NaN"])
def test_a_refund_of_no_money_is_refused_and_writes_nothing(
    amount, django_capture_on_commit_callbacks, clerk, goodwill
):
    payment = _card_payment(django_capture_on_commit_callbacks)
    with pytest.raises(ApplicationError) as refused:
        refunds.payment_refund(payment_id=payment.pk, amount=amount, reason_code=goodwill, actor=clerk)
    assert refused.value.code == "invalid_amount"
    assert _refund_rows() == (0, 0, 0)


def test_a_refund_without_the_permission_is_refused_and_writes_nothing(
    django_capture_on_commit_callbacks, outsider, goodwill
):
    payment = _card_payment(django_capture_on_commit_callbacks)
    # when
    with pytest.raises(ApplicationError) as refused:
        refunds.payment_refund(payment_id=payment.pk, amount="10.00", reason_code=goodwill, actor=outsider)
    # then
    assert (refused.value.code, refused.value.http_status) == ("permission_denied", 403)
    assert "permission" in refused.value.message
    assert _refund_rows() == (0, 0, 0)
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("0.00")


def test_a_bank_transfer_cannot_be_refunded_through_the_gateway(django_capture_on_commit_callbacks, clerk, goodwill):
    invoice = _open_invoice(django_capture_on_commit_callbacks)
    payment = _record(invoice, TOTAL)
    with pytest.raises(Conflict) as refused:
        refunds.payment_refund(payment_id=payment.pk, amount="10.00", reason_code=goodwill, actor=clerk)
    assert refused.value.code == "not_gateway"
    assert _refund_rows() == (0, 0, 0)


# --- money properties ----------------------------------------------------------------------------------------


def test_manual_payments_never_lose_or_make_up_money(django_capture_on_commit_callbacks):
    # given: one open invoice of 957.19; each example pays it in its own savepoint, rolled back afterwards
    invoice = _open_invoice(django_capture_on_commit_callbacks)
    total_cents = int(TOTAL * 100)

    @hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.integers(min_value=1, max_value=total_cents), min_size=1, max_size=5))
    def check(amounts_in_cents):
        with transaction.atomic():
            received = Decimal("0.00")
            for cents in amounts_in_cents:
                # when: a payment arrives
                amount = Decimal(cents) / 100
                _record(invoice, amount)
                received += amount
                # then: the invoice never takes more than its total; the rest is credit; paid once fully paid
                current = _fresh(invoice)
                assert current.amount_paid <= current.total
                assert current.amount_paid + payments.credit_balance(invoice.account_id) == received
                assert (current.status == InvoiceStatus.PAID) == (received >= current.total)
            transaction.set_rollback(True)

    check()


# --- at the same moment (PostgreSQL row locks) ---------------------------------------------------------------


def _at_once(count: int, action) -> list:
    """Run `action()` in `count` threads released together; each one's result or error code."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(count)
    outcomes = []

    def run():
        try:
            barrier.wait()
            outcomes.append(action())
        except ApplicationError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_pay_now_clicks_at_the_same_moment_charge_once():
    # given: an open invoice and a saved card
    invoice = activate(subscription(), ACTIVATED_ON)
    card = _add(BillingAccount.objects.get(pk=invoice.account_id), TEST_CARD)
    # when: the subscriber clicks Pay now twice at once
    outcomes = _at_once(2, lambda: payments.invoice_pay_now(invoice_id=invoice.pk, method_id=card.pk).status)
    # then: one charge; the other click is refused
    assert PaymentStatus.SUCCEEDED in outcomes
    assert len(outcomes) == 2
    assert set(outcomes) - {PaymentStatus.SUCCEEDED} <= {"payment_in_flight", "nothing_to_pay"}
    assert Payment.objects.filter(invoice=invoice).count() == 1
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, TOTAL)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_payments_recorded_at_the_same_moment_are_all_counted():
    # given: an open invoice of 957.19
    invoice = activate(subscription(), ACTIVATED_ON)
    # when: four clerks record 300.00 each at once
    outcomes = _at_once(4, lambda: _record(invoice, "300.00").status)
    # then: every payment counts: the invoice is paid and the 242.81 more is credit
    assert outcomes == [PaymentStatus.SUCCEEDED] * 4
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, TOTAL)
    assert payments.credit_balance(invoice.account_id) == Decimal("1200.00") - TOTAL
