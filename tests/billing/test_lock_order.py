"""One lock order on every money path (billing.locks): account, then invoices, then payments, then refunds, then
disputes. Checked on PostgreSQL from the row locks each path really takes (SELECT ... FOR UPDATE), transaction by
transaction, and by racing a gateway's answer, a dunning retry and a refund on one invoice."""

import re
import threading
from contextlib import contextmanager, suppress
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from billing import dunning, locks, overrides, payments, refunds, webhooks
from billing.choices import CreditKind, InvoiceStatus, PaymentStatus, RefundStatus
from billing.models import CreditEntry, Payment, Refund
from tests.billing.factories import DECLINED_CARD, SEPA_OK, TEST_CARD, THREE_D_SECURE_CARD, activate, subscription
from tests.billing.money_helpers import (
    DAY,
    TOTAL,
    add_method,
    automatic_account,
    card_paid_part,
    charged,
    intent_of,
    offline_event,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RANK = {
    "billing_billingaccount": 0,
    "billing_invoice": 1,
    "billing_payment": 2,
    "billing_refund": 3,
    "billing_dispute": 4,
}


class LockLog:
    """The money rows this thread's connection locks, as table names, one list per transaction."""

    def __init__(self):
        self.transactions: list[list[str]] = [[]]

    def __call__(self, execute, sql, params, many, context):
        if " FOR UPDATE" in sql and context["connection"].in_atomic_block:
            table = re.search(r'FROM "(\w+)"', sql).group(1)
            if table in RANK:
                self.transactions[-1].append(table)
        return execute(sql, params, many, context)

    def ended(self) -> None:
        if self.transactions[-1]:
            self.transactions.append([])

    @property
    def taken(self) -> list[list[str]]:
        return [tables for tables in self.transactions if tables]

    def out_of_order(self) -> list[list[str]]:
        """The transactions that locked a kind after a later one (e.g. an invoice after a payment)."""
        return [tables for tables in self.taken if [RANK[t] for t in tables] != sorted(RANK[t] for t in tables)]


@pytest.fixture
def locks_taken(monkeypatch):
    """Record the row locks taken inside the block, split where each transaction ends."""

    @contextmanager
    def record():
        log = LockLog()
        real_commit, real_rollback = connection.commit, connection.rollback

        def commit():
            real_commit()
            log.ended()

        def rollback():
            real_rollback()
            log.ended()

        monkeypatch.setattr(connection, "commit", commit)
        monkeypatch.setattr(connection, "rollback", rollback)
        with connection.execute_wrapper(log):
            yield log

    return record


def _kinds(log: LockLog) -> set[str]:
    return {table for tables in log.taken for table in tables}


# --- each money path, from the locks it takes ---------------------------------------------------------------


def test_a_gateway_answer_locks_the_invoice_before_its_payment(locks_taken):
    # given: a SEPA debit on its way
    invoice = charged(SEPA_OK)
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == PaymentStatus.PROCESSING
    payload, signature = offline_event("payment_intent.succeeded", intent_of(payment, "succeeded"))
    # when: the webhook says it settled
    with locks_taken() as log:
        webhooks.webhook_receive(gateway_name="offline", payload=payload, signature=signature)
    # then: the invoice is paid, and it was locked before its payment
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert ["billing_invoice", "billing_payment"] in log.taken
    assert log.out_of_order() == []


def test_a_dunning_retry_locks_the_invoice_before_the_failed_payment(locks_taken):
    # given: a declined first charge, then a good card
    invoice = charged(DECLINED_CARD)
    failed = Payment.objects.get(invoice=invoice)
    add_method(invoice.account, TEST_CARD)
    # when: the retry is due
    with locks_taken() as log:
        assert dunning.dunning_retries_due(now=failed.next_retry_at + timedelta(minutes=1)) == 1
    # then
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert {"billing_invoice", "billing_payment"} <= _kinds(log)
    assert log.out_of_order() == []


def test_a_refund_locks_invoice_payment_then_refund(locks_taken, clerk, goodwill):
    # given: an invoice paid by card
    payment = Payment.objects.get(invoice=charged(TEST_CARD))
    # when: finance refunds part of it (the refund is sent, and answered, after commit)
    with locks_taken() as log:
        refund = refunds.payment_refund(payment_id=payment.pk, amount="100.00", reason_code=goodwill, actor=clerk)
    # then
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert ["billing_invoice", "billing_payment"] in log.taken
    assert ["billing_payment", "billing_refund"] in log.taken
    assert log.out_of_order() == []


def test_a_credit_note_settled_locks_its_invoices_then_the_payments_it_refunds(locks_taken, clerk, goodwill):
    # given: an invoice paid by card
    invoice = charged(TEST_CARD)
    # when: a credit note is given on it (finalized at once, refunded through the gateway)
    with locks_taken() as log:
        override = overrides.invoice_credit(invoice_id=invoice.pk, amount="80.00", reason_code=goodwill, actor=clerk)
    # then: refunded on the card payment; the credit note and the invoice were locked (in one statement, ids
    # ascending) before it
    refund = Refund.objects.get(credit_note=override.result)
    assert refund.status == RefundStatus.SUCCEEDED
    assert ["billing_invoice", "billing_payment"] in log.taken
    assert log.out_of_order() == []


def test_collection_from_the_credit_balance_locks_the_account_before_the_invoice(locks_taken):
    # given: a customer with 100.00 of credit, paying automatically by card
    sub = subscription()
    account = automatic_account(sub)
    add_method(account, TEST_CARD)
    CreditEntry.objects.create(account=account, kind=CreditKind.OVERPAYMENT, amount=Decimal("100.00"), description="x")
    # when: the first invoice is issued and collected
    with locks_taken() as log:
        invoice = activate(sub, DAY)
    # then: credit first, the card for the rest
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, TOTAL)
    assert ["billing_billingaccount", "billing_invoice"] in log.taken
    assert log.out_of_order() == []


def test_a_confirmation_given_up_locks_the_invoice_before_its_payment(locks_taken):
    # given: a charge waiting for 3-D Secure
    invoice = charged(THREE_D_SECURE_CARD)
    waiting = Payment.objects.get(invoice=invoice)
    assert waiting.status == PaymentStatus.REQUIRES_ACTION
    card = add_method(invoice.account, TEST_CARD)
    # when: the subscriber pays with another card instead
    with locks_taken() as log:
        payments.invoice_pay_now(invoice_id=invoice.pk, method_id=card.pk)
    # then
    waiting.refresh_from_db()
    assert waiting.status == PaymentStatus.CANCELED
    assert ["billing_invoice", "billing_payment"] in log.taken
    assert log.out_of_order() == []


def test_a_lost_dispute_locks_invoice_payment_then_dispute(locks_taken):
    # given: an invoice paid by card, then disputed
    invoice = charged(TEST_CARD)
    payment = Payment.objects.get(invoice=invoice)
    dispute = {"id": "dp_1", "object": "dispute", "payment_intent": payment.reference, "amount": 95719}
    payload, signature = offline_event("charge.dispute.created", {**dispute, "currency": "sek", "status": "open"})
    webhooks.webhook_receive(gateway_name="offline", payload=payload, signature=signature)
    # when: the bank decides for the cardholder
    payload, signature = offline_event("charge.dispute.closed", {**dispute, "currency": "sek", "status": "lost"})
    with locks_taken() as log:
        webhooks.webhook_receive(gateway_name="offline", payload=payload, signature=signature)
    # then: the invoice is open again
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.OPEN, Decimal("0.00"))
    assert ["billing_invoice", "billing_payment", "billing_dispute"] in log.taken
    assert log.out_of_order() == []


def test_a_refund_confirmed_by_webhook_locks_the_payment_before_its_refunds(locks_taken):
    # given: an invoice paid by card; a refund made at the gateway directly
    payment = Payment.objects.get(invoice=charged(TEST_CARD))
    charge = {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": payment.reference,
        "refunds": {"data": [{"id": "re_1", "amount": 1000, "status": "succeeded"}]},
    }
    payload, signature = offline_event("charge.refunded", charge)
    # when
    with locks_taken() as log:
        webhooks.webhook_receive(gateway_name="offline", payload=payload, signature=signature)
    # then
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("10.00")
    assert ["billing_payment", "billing_refund"] in log.taken
    assert log.out_of_order() == []


def test_locks_are_taken_inside_a_transaction_only():
    # given: an invoice
    invoice = activate(subscription(), DAY)
    # when / then: a lock outside a transaction (it would end with its statement) is a programming error
    with pytest.raises(RuntimeError):
        locks.invoice(invoice.pk)


# --- racing on one invoice ----------------------------------------------------------------------------------


def _race(*actions) -> list:
    """Run the actions in threads released together; what each raised (nothing, when all went well).

    Each thread, once it holds its first money row lock, waits for the others to hold theirs (or for a second to
    pass: with one lock order they queue on the same first row, so the barrier cannot fill). Paths whose orders
    cross are so held in the middle of their crossing, where a deadlock happens."""
    start, holding = threading.Barrier(len(actions)), threading.Barrier(len(actions))

    def hold_after_first_lock(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        table = re.search(r'FROM "(\w+)"', sql)
        if " FOR UPDATE" in sql and table and table.group(1) in RANK and not getattr(local, "held", False):
            local.held = True
            with suppress(threading.BrokenBarrierError):
                holding.wait(timeout=1.0)
        return result

    local = threading.local()
    errors = []

    def run(action):
        try:
            with connection.execute_wrapper(hold_after_first_lock):
                start.wait()
                action()
        except Exception as exc:  # noqa: BLE001 - a deadlock or any other error is what the test looks for
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.parametrize("round_", range(3))
def test_a_webhook_a_dunning_retry_and_a_refund_at_once_on_one_invoice_neither_deadlock_nor_lose_money(
    round_, clerk, goodwill
):
    # given: an invoice of 957.19 with 300.00 paid by card, and an automatic charge that was declined, due for its
    # retry with a good card now on file
    invoice = charged(DECLINED_CARD)
    failed = Payment.objects.get(invoice=invoice)
    add_method(invoice.account, TEST_CARD)
    paid = card_paid_part(invoice, Decimal("300.00"))
    payload, signature = offline_event("payment_intent.succeeded", intent_of(failed, "succeeded"))
    due = failed.next_retry_at + timedelta(minutes=1)

    # when: at the same moment the subscriber completes the declined charge after all (the gateway's webhook),
    # dunning retries it, and finance refunds 100.00 of the card payment
    errors = _race(
        lambda: webhooks.webhook_receive(gateway_name="offline", payload=payload, signature=signature),
        lambda: dunning.dunning_retries_due(now=due),
        lambda: refunds.payment_refund(payment_id=paid.pk, amount="100.00", reason_code=goodwill, actor=clerk),
    )

    # then: nothing failed (no deadlock), and the money adds up
    assert errors == []
    invoice.refresh_from_db()
    assert Decimal("0.00") <= invoice.amount_paid <= invoice.total
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, TOTAL)
    for payment in Payment.objects.all():
        assert Decimal("0.00") <= payment.amount_refunded <= payment.amount
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("100.00")
    received = sum(
        p.amount for p in Payment.objects.filter(invoice=invoice, status=PaymentStatus.SUCCEEDED, gateway="offline")
    )
    assert received == invoice.amount_paid + payments.credit_balance(invoice.account_id)
    assert Refund.objects.get(payment=paid).status == RefundStatus.SUCCEEDED
