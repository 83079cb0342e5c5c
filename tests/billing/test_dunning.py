"""Dunning: failed automatic payments are retried on the provider's schedule and the subscriber is told; a service
whose invoice stays unpaid too long is suspended, and restored when it is paid."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from billing import dunning, payments, services
from billing.choices import Collection, InvoiceStatus, MethodType, PaymentChannel, PaymentStatus
from billing.gateways.base import FAILED, ChargeResult
from billing.gateways.offline import OfflineGateway
from billing.models import BillingAccount, DunningSuspension, Invoice, Payment
from billing.runs import billing_chunk
from cos.choices import MessageKind
from cos.models import Event, Message
from marketplace.choices import SubscriptionStatus
from tests.billing.factories import DECLINED_CARD, NSF_CARD, TEST_CARD, activate, rules, subscription

pytestmark = pytest.mark.django_db

ACTIVATED_ON = date(2026, 2, 10)
TOTAL = Decimal("957.19")


def _account(sub, collection=Collection.AUTOMATIC) -> BillingAccount:
    account = services.account_for(sub)
    BillingAccount.objects.filter(pk=account.pk).update(collection=collection)
    account.refresh_from_db()
    return account


def _told(kind, **filters) -> list[Message]:
    return list(Message.objects.filter(kind=kind, **filters).order_by("pk"))


def _issue(sub, capture) -> Invoice:
    """The verified activation: the first invoice is finalized and what `invoice.finalized` triggers has run."""
    with capture(execute=True):
        invoice = activate(sub, ACTIVATED_ON)
    invoice.refresh_from_db()
    return invoice


def _declined(capture, card=DECLINED_CARD, **rule_fields):
    """An automatic account whose card declines; its first invoice's charge has failed."""
    sub = subscription()
    rules(sub.marketplace, **rule_fields)
    account = _account(sub)
    payments.payment_method_add(account_id=account.pk, details=card)
    invoice = _issue(sub, capture)
    return account, invoice, Payment.objects.get(invoice=invoice)


def _retry(capture, now) -> int:
    with capture(execute=True):
        return dunning.dunning_retries_due(now=now)


def _record(invoice, amount=TOTAL) -> Payment:
    return payments.payment_record(
        invoice_id=invoice.pk, amount=amount, method_type=MethodType.BANK_TRANSFER, external_reference="BG ref 1"
    )


# --- failed payments and retries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("card", "code"), [(DECLINED_CARD, "card_declined"), (NSF_CARD, "insufficient_funds")], ids=["declined", "nsf"]
)
def test_a_declined_card_fails_the_payment_keeps_the_invoice_open_and_plans_a_retry(
    card, code, django_capture_on_commit_callbacks
):
    # given: retries 2 and 4 days after a failure
    before = timezone.now()
    # when: the first invoice is charged to a card that declines
    account, invoice, payment = _declined(django_capture_on_commit_callbacks, card, retry_days="2,4")
    # then: failed with the bank's reason; nothing paid; the retry is in two days
    assert (payment.status, payment.failure_code, payment.channel) == (
        PaymentStatus.FAILED,
        code,
        PaymentChannel.AUTOMATIC,
    )
    assert payment.failure_message
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.OPEN, Decimal("0.00"))
    assert before + timedelta(days=2) <= payment.next_retry_at <= timezone.now() + timedelta(days=2)
    # and the subscriber is told once, with the reason and the day of the retry
    (notice,) = _told(MessageKind.PAYMENT_FAILED, customer=account.customer)
    assert (notice.key, notice.to) == (f"failed-{payment.pk}", account.invoice_email)
    assert invoice.number in notice.subject
    assert payment.failure_message in notice.body
    assert f"We will try again on {timezone.localdate(payment.next_retry_at):%-d %B %Y}." in notice.body
    assert Event.objects.filter(name="payment.failed", payload__payment_id=payment.pk).count() == 1


def test_a_failure_reported_twice_tells_the_subscriber_once(django_capture_on_commit_callbacks):
    account, invoice, payment = _declined(django_capture_on_commit_callbacks)
    planned = payment.next_retry_at
    # when: the gateway's answer arrives a second time (a webhook after the charge's own answer)
    payments.payment_result_apply(
        payment_id=payment.pk, result=ChargeResult(payment.reference, FAILED, "card_declined", "declined")
    )
    # then
    payment.refresh_from_db()
    assert payment.next_retry_at == planned
    assert len(_told(MessageKind.PAYMENT_FAILED, customer=account.customer)) == 1
    assert Event.objects.filter(name="payment.failed", payload__payment_id=payment.pk).count() == 1


def test_the_retry_waits_for_its_day(django_capture_on_commit_callbacks):
    _, invoice, payment = _declined(django_capture_on_commit_callbacks)
    # when: the retries run a minute before the planned time
    retried = _retry(django_capture_on_commit_callbacks, payment.next_retry_at - timedelta(minutes=1))
    # then
    assert retried == 0
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_a_due_retry_charges_a_new_attempt_with_a_new_key(django_capture_on_commit_callbacks):
    # given: a declined first attempt, retries 3 and 5 days after a failure
    account, invoice, first = _declined(django_capture_on_commit_callbacks, retry_days="3,5")
    # when: the retry is due
    before = timezone.now()
    assert _retry(django_capture_on_commit_callbacks, first.next_retry_at + timedelta(minutes=1)) == 1
    after = timezone.now()
    # then: a second attempt with its own idempotency key (the gateway must not answer with the first charge)
    second = Payment.objects.filter(invoice=invoice).exclude(pk=first.pk).get()
    assert second.attempt == 2
    assert second.idempotency_key != first.idempotency_key
    assert second.amount == TOTAL
    # the card still declines: the next retry is 5 days later, the subscriber is told again
    assert second.status == PaymentStatus.FAILED
    assert before + timedelta(days=5) <= second.next_retry_at <= after + timedelta(days=5)
    assert len(_told(MessageKind.PAYMENT_FAILED, customer=account.customer)) == 2
    # and the first attempt is not retried again
    first.refresh_from_db()
    assert first.next_retry_at is None
    assert _retry(django_capture_on_commit_callbacks, first.updated_at + timedelta(days=4)) == 0
    assert _fresh_status(invoice) == InvoiceStatus.OPEN


def _fresh_status(invoice) -> str:
    return Invoice.objects.get(pk=invoice.pk).status


def test_after_the_subscriber_switches_to_a_good_card_the_retry_pays_the_invoice(django_capture_on_commit_callbacks):
    # given: a declined charge; the subscriber then adds a working card as the default
    account, invoice, failed = _declined(django_capture_on_commit_callbacks)
    good = payments.payment_method_add(account_id=account.pk, details=TEST_CARD, make_default=True)
    # when: the retry is due
    assert _retry(django_capture_on_commit_callbacks, failed.next_retry_at + timedelta(minutes=1)) == 1
    # then: the new card is charged and the invoice is paid
    retry = Payment.objects.get(invoice=invoice, attempt=2)
    assert (retry.method, retry.status, retry.amount) == (good, PaymentStatus.SUCCEEDED, TOTAL)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, TOTAL)


def test_the_sweep_makes_the_due_retries(django_capture_on_commit_callbacks):
    account, invoice, failed = _declined(django_capture_on_commit_callbacks)
    payments.payment_method_add(account_id=account.pk, details=TEST_CARD)
    with django_capture_on_commit_callbacks(execute=True):
        counts = payments.payments_sweep(now=failed.next_retry_at + timedelta(minutes=1))
    assert counts["retried"] == 1
    assert _fresh_status(invoice) == InvoiceStatus.PAID


def test_after_the_last_retry_of_the_schedule_no_more_are_planned(django_capture_on_commit_callbacks):
    # given: one retry a day after a failure
    account, invoice, first = _declined(django_capture_on_commit_callbacks, retry_days="1")
    # when: it fails too
    _retry(django_capture_on_commit_callbacks, first.next_retry_at + timedelta(minutes=1))
    # then: no further retry; the subscriber is told, without a retry date
    last = Payment.objects.get(invoice=invoice, attempt=2)
    assert (last.status, last.next_retry_at) == (PaymentStatus.FAILED, None)
    (told,) = _told(MessageKind.PAYMENT_FAILED, key=f"failed-{last.pk}")
    assert "try again" not in told.body
    assert "You can pay the invoice or change your payment method in the portal." in told.body
    assert _retry(django_capture_on_commit_callbacks, timezone.now() + timedelta(days=30)) == 0
    assert Payment.objects.filter(invoice=invoice).count() == 2


def test_an_empty_schedule_never_retries(django_capture_on_commit_callbacks):
    _, invoice, payment = _declined(django_capture_on_commit_callbacks, retry_days="")
    assert payment.next_retry_at is None
    assert _retry(django_capture_on_commit_callbacks, timezone.now() + timedelta(days=30)) == 0
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_an_invoice_paid_before_its_retry_is_not_charged_again(django_capture_on_commit_callbacks):
    # given: a declined charge; the subscriber then pays by bank transfer
    _, invoice, failed = _declined(django_capture_on_commit_callbacks)
    _record(invoice)
    # when
    retried = _retry(django_capture_on_commit_callbacks, failed.next_retry_at + timedelta(minutes=1))
    # then
    assert retried == 0
    assert list(Payment.objects.filter(invoice=invoice, channel=PaymentChannel.AUTOMATIC)) == [failed]
    assert payments.credit_balance(invoice.account_id) == Decimal("0.00")


def test_an_account_switched_to_manual_is_not_retried(django_capture_on_commit_callbacks):
    account, invoice, failed = _declined(django_capture_on_commit_callbacks)
    BillingAccount.objects.filter(pk=account.pk).update(collection=Collection.MANUAL)
    assert _retry(django_capture_on_commit_callbacks, failed.next_retry_at + timedelta(minutes=1)) == 0
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_without_notices_the_subscriber_is_not_emailed_but_the_retry_is_planned(
    django_capture_on_commit_callbacks, mailoutbox
):
    account, _, payment = _declined(django_capture_on_commit_callbacks, notify_subscriber=False)
    assert payment.next_retry_at is not None
    assert _told(MessageKind.PAYMENT_FAILED) == []
    assert [m for m in mailoutbox if "failed" in m.subject] == []


def test_a_failure_notice_is_emailed_to_the_invoice_address(django_capture_on_commit_callbacks, mailoutbox):
    account, invoice, _ = _declined(django_capture_on_commit_callbacks)
    failed = [message for message in mailoutbox if message.subject == f"Payment of invoice {invoice.number} failed"]
    assert [message.to for message in failed] == [[account.invoice_email]]


# --- suspension and restoration ------------------------------------------------------------------------------


def _overdue(capture, **rule_fields):
    """A manual account's first invoice, unpaid; suspension 10 days after the due day unless told otherwise."""
    sub = subscription()
    rules(sub.marketplace, **({"suspend_after_days": 10} | rule_fields))
    invoice = _issue(sub, capture)
    assert invoice.status == InvoiceStatus.OPEN
    return sub, invoice


def _suspend(capture, today) -> int:
    with capture(execute=True):
        return dunning.dunning_suspend_due(today=today)


def test_an_invoice_unpaid_past_the_suspension_days_suspends_its_subscription_once(
    django_capture_on_commit_callbacks,
):
    sub, invoice = _overdue(django_capture_on_commit_callbacks)
    # when: 11 days past due, twice
    first = _suspend(django_capture_on_commit_callbacks, invoice.due_on + timedelta(days=11))
    again = _suspend(django_capture_on_commit_callbacks, invoice.due_on + timedelta(days=12))
    # then: suspended once, for this invoice, and the subscriber is told once
    assert (first, again) == (1, 0)
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.SUSPENDED
    assert Event.objects.filter(name="subscription.suspended", payload__subscription_id=sub.pk).count() == 1
    suspension = DunningSuspension.objects.get()
    assert (suspension.invoice, suspension.subscription, suspension.restored_at) == (invoice, sub, None)
    (notice,) = _told(MessageKind.DUNNING_SUSPENDED)
    assert notice.key == f"suspended-{invoice.pk}-{sub.pk}"
    assert invoice.number in notice.subject


@pytest.mark.parametrize(
    ("rule", "days_past_due"),
    [({}, 9), ({"suspend_after_days": None}, 365)],
    ids=["not-yet", "never-by-rule"],
)
def test_no_suspension_before_the_days_are_over_or_without_the_rule(
    rule, days_past_due, django_capture_on_commit_callbacks
):
    sub, invoice = _overdue(django_capture_on_commit_callbacks, **rule)
    assert _suspend(django_capture_on_commit_callbacks, invoice.due_on + timedelta(days=days_past_due)) == 0
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ACTIVE
    assert not DunningSuspension.objects.exists()


def test_a_paid_invoice_suspends_nothing(django_capture_on_commit_callbacks):
    sub, invoice = _overdue(django_capture_on_commit_callbacks)
    _record(invoice)
    assert _suspend(django_capture_on_commit_callbacks, invoice.due_on + timedelta(days=30)) == 0
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ACTIVE


def test_paying_the_invoice_restores_the_subscription(django_capture_on_commit_callbacks):
    # given: a subscription suspended for an unpaid invoice
    sub, invoice = _overdue(django_capture_on_commit_callbacks)
    _suspend(django_capture_on_commit_callbacks, invoice.due_on + timedelta(days=11))
    # when: finance records the payment
    with django_capture_on_commit_callbacks(execute=True):
        _record(invoice)
    # then: the service is back, and the subscriber is told
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ACTIVE
    assert Event.objects.filter(name="subscription.resumed", payload__subscription_id=sub.pk).count() == 1
    assert DunningSuspension.objects.get().restored_at is not None
    assert len(_told(MessageKind.DUNNING_RESTORED, body__contains=invoice.number)) == 1
    # and a later run does not suspend it again
    assert _suspend(django_capture_on_commit_callbacks, invoice.due_on + timedelta(days=30)) == 0


def test_a_subscription_held_by_two_unpaid_invoices_is_restored_when_both_are_paid(
    django_capture_on_commit_callbacks,
):
    # given: the activation invoice and March's, both unpaid long past due
    sub, february = _overdue(django_capture_on_commit_callbacks)
    billing_chunk(run_id=None, account_ids=[february.account_id], as_of=date(2026, 3, 1))
    with django_capture_on_commit_callbacks(execute=True):
        services.invoices_finalize_due()
    march = Invoice.objects.exclude(pk=february.pk).get(account_id=february.account_id)
    assert _suspend(django_capture_on_commit_callbacks, march.due_on + timedelta(days=11)) == 1
    assert DunningSuspension.objects.filter(subscription=sub).count() == 2
    assert len(_told(MessageKind.DUNNING_SUSPENDED)) == 1
    # when: the invoice the service was suspended for is paid
    suspended_for = DunningSuspension.objects.order_by("pk").first().invoice
    other = february if suspended_for == march else march
    with django_capture_on_commit_callbacks(execute=True):
        _record(suspended_for, suspended_for.total)
    # then: the other still holds the service
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.SUSPENDED
    # when: the other is paid too
    with django_capture_on_commit_callbacks(execute=True):
        _record(other, other.total)
    # then
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ACTIVE
    assert _suspend(django_capture_on_commit_callbacks, march.due_on + timedelta(days=30)) == 0


def test_the_failed_charge_is_canceled_at_the_gateway_before_the_retry(django_capture_on_commit_callbacks, monkeypatch):
    # given: a declined first attempt (an old 3-D Secure dialog could still complete it)
    account, invoice, first = _declined(django_capture_on_commit_callbacks)
    canceled = []
    monkeypatch.setattr(OfflineGateway, "charge_cancel", lambda self, *, reference: canceled.append(reference))
    # when: the retry is due
    _retry(django_capture_on_commit_callbacks, first.next_retry_at + timedelta(minutes=1))
    # then: the first charge can no longer be paid: the invoice cannot be paid twice
    assert canceled == [first.reference]


def test_a_charge_not_yet_sent_for_an_invoice_paid_meanwhile_is_canceled_not_sent(django_capture_on_commit_callbacks):
    # given: an automatic charge waiting to be sent (its task not run yet)
    sub = subscription()
    account = _account(sub)
    payments.payment_method_add(account_id=account.pk, details=TEST_CARD)
    BillingAccount.objects.filter(pk=account.pk).update(collection=Collection.MANUAL)
    invoice = _issue(sub, django_capture_on_commit_callbacks)
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        pending = payments._payment_start(locked, account.payment_methods.get(), channel=PaymentChannel.AUTOMATIC)
    # and the subscriber pays by bank transfer first
    _record(invoice)
    # when: the charge's task runs
    payment = payments.payment_submit(payment_id=pending.pk)
    # then: nothing is charged; no money is made up
    assert payment.status == PaymentStatus.CANCELED
    assert payments.credit_balance(account.pk) == 0
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == TOTAL
