"""Refunds, disputes and billing runs change status only through their state machines: each change a logged
transition (who, when, from, to), a direct assignment refused, a late or repeated answer moving nothing."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from billing import refunds, webhooks
from billing.choices import (
    CreditKind,
    DisputeStatus,
    InvoiceStatus,
    RefundStatus,
    RunStatus,
)
from billing.gateways.base import FAILED, SUCCEEDED
from billing.models import BillingRun, CreditEntry, Dispute, Payment, Refund
from billing.runs import billing_chunk, billing_run
from cos.models import TransitionLog
from tests.billing.factories import TEST_CARD, activate, subscription
from tests.billing.money_helpers import DAY, add_method, automatic_account, offline_event

pytestmark = pytest.mark.django_db


def _log(obj) -> list[tuple[str, str, str]]:
    rows = TransitionLog.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk)
    return [(row.transition, row.source, row.target) for row in rows.order_by("created_at", "id")]


def _card_payment(capture) -> Payment:
    sub = subscription()
    add_method(automatic_account(sub), TEST_CARD)
    with capture(execute=True):
        invoice = activate(sub, DAY)
    return Payment.objects.get(invoice=invoice)


def _pending_refund(payment, clerk, goodwill) -> Refund:
    """A refund asked for and not yet answered by the gateway (its after-commit submit not run)."""
    return refunds.payment_refund(payment_id=payment.pk, amount="100.00", reason_code=goodwill, actor=clerk)


# --- refunds -------------------------------------------------------------------------------------------------


def test_a_refund_paid_out_is_a_logged_transition_and_a_late_refusal_moves_nothing(
    django_capture_on_commit_callbacks, clerk, goodwill
):
    # given: a pending refund of 100.00
    payment = _card_payment(django_capture_on_commit_callbacks)
    refund = _pending_refund(payment, clerk, goodwill)
    # when: the gateway pays it out, then (late, out of order) says it failed
    refunds.refund_result_apply(refund_id=refund.pk, status=SUCCEEDED, reference="re_1")
    refunds.refund_result_apply(refund_id=refund.pk, status=FAILED, message="too late")
    # then: succeeded once, logged; no credit for the late refusal
    refund.refresh_from_db()
    assert (refund.status, refund.reference, refund.failure_message) == (RefundStatus.SUCCEEDED, "re_1", "")
    assert _log(refund) == [("succeed", RefundStatus.PENDING, RefundStatus.SUCCEEDED)]
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("100.00")
    assert not CreditEntry.objects.filter(kind=CreditKind.REFUND_FAILED).exists()


def test_a_refused_refund_is_a_logged_transition_and_the_money_stays_as_credit(
    django_capture_on_commit_callbacks, clerk, goodwill
):
    # given
    payment = _card_payment(django_capture_on_commit_callbacks)
    refund = _pending_refund(payment, clerk, goodwill)
    # when
    refunds.refund_result_apply(refund_id=refund.pk, status=FAILED, message="The card was closed.")
    # then
    refund.refresh_from_db()
    assert (refund.status, refund.failure_message) == (RefundStatus.FAILED, "The card was closed.")
    assert _log(refund) == [("fail", RefundStatus.PENDING, RefundStatus.FAILED)]
    credit = CreditEntry.objects.get(kind=CreditKind.REFUND_FAILED)
    assert credit.amount == refund.amount
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("0.00")


def test_a_status_is_never_assigned_directly(django_capture_on_commit_callbacks, clerk, goodwill):
    # given: a refund, a dispute and a billing run, as loaded from the database
    payment = _card_payment(django_capture_on_commit_callbacks)
    refund = Refund.objects.get(pk=_pending_refund(payment, clerk, goodwill).pk)
    dispute = Dispute.objects.create(payment=payment, reference="dp_1", amount=payment.amount)
    dispute = Dispute.objects.get(pk=dispute.pk)
    run = BillingRun.objects.get(pk=billing_run(as_of=date(2026, 3, 1), dispatch=lambda *args: None).pk)
    # when / then: assigning a status is refused; nothing changed
    for obj, status in ((refund, RefundStatus.SUCCEEDED), (dispute, DisputeStatus.WON), (run, RunStatus.DONE)):
        with pytest.raises(AttributeError):
            obj.status = status
        obj.refresh_from_db()
        assert obj.status != status


# --- disputes ------------------------------------------------------------------------------------------------


def _dispute_event(payment, kind: str, status: str, dispute_id: str = "dp_1"):
    obj = {
        "id": dispute_id,
        "object": "dispute",
        "payment_intent": payment.reference,
        "amount": int(payment.amount * 100),
        "currency": payment.currency.lower(),
        "status": status,
        "reason": "fraudulent",
    }
    payload, signature = offline_event(kind, obj, event_id=f"evt_{kind}_{dispute_id}_{status}")
    return webhooks.webhook_receive(gateway_name="offline", payload=payload, signature=signature)[0]


def test_a_lost_dispute_is_a_logged_transition_and_a_second_close_moves_nothing(django_capture_on_commit_callbacks):
    # given: a paid invoice whose payment is disputed
    payment = _card_payment(django_capture_on_commit_callbacks)
    _dispute_event(payment, "charge.dispute.created", "needs_response")
    dispute = Dispute.objects.get()
    assert dispute.status == DisputeStatus.OPEN
    # when: the bank decides for the cardholder; then a (contradicting) second close arrives
    first = _dispute_event(payment, "charge.dispute.closed", "lost")
    second = _dispute_event(payment, "charge.dispute.closed", "won")
    # then: lost once, logged; the invoice is open again for the money taken back
    dispute.refresh_from_db()
    assert (first, second) == ("applied", "ignored")
    assert dispute.status == DisputeStatus.LOST
    assert dispute.closed_at is not None
    assert _log(dispute) == [("lose", DisputeStatus.OPEN, DisputeStatus.LOST)]
    payment.refresh_from_db()
    assert payment.amount_refunded == payment.amount
    assert payment.invoice.status == InvoiceStatus.OPEN


def test_a_won_dispute_is_a_logged_transition_and_the_money_stays(django_capture_on_commit_callbacks):
    # given
    payment = _card_payment(django_capture_on_commit_callbacks)
    _dispute_event(payment, "charge.dispute.created", "needs_response")
    # when
    _dispute_event(payment, "charge.dispute.closed", "won")
    # then
    dispute = Dispute.objects.get()
    assert dispute.status == DisputeStatus.WON
    assert _log(dispute) == [("win", DisputeStatus.OPEN, DisputeStatus.WON)]
    payment.refresh_from_db()
    assert (payment.amount_refunded, payment.invoice.status) == (Decimal("0.00"), InvoiceStatus.PAID)


# --- billing runs --------------------------------------------------------------------------------------------


def test_a_run_is_finished_by_its_last_chunk_as_a_logged_transition():
    # given: two subscribers due for April
    for sub in (subscription(), subscription()):
        activate(sub, date(2026, 3, 15))
    # when: the run bills them in two chunks, here in this process
    run = billing_run(
        as_of=date(2026, 4, 1),
        chunk_size=1,
        dispatch=lambda run_id, ids, as_of: billing_chunk(run_id=run_id, account_ids=ids, as_of=as_of),
    )
    # then: done once both chunks are; logged once
    assert (run.status, run.chunks, run.chunks_done, run.invoices) == (RunStatus.DONE, 2, 2, 2)
    assert run.finished_at is not None
    assert _log(run) == [("finish", RunStatus.RUNNING, RunStatus.DONE)]


def test_a_run_with_nothing_due_is_done_at_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = billing_run(as_of=date(2026, 4, 1))
    assert (run.status, run.chunks) == (RunStatus.DONE, 0)
    assert _log(run) == [("finish", RunStatus.RUNNING, RunStatus.DONE)]


# --- the admin's lists and filters ---------------------------------------------------------------------------


@pytest.fixture
def root(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.test", "pw-123456")
    client.force_login(user)
    return client


def _shown(client, changelist: str, **params) -> set[int]:
    response = client.get(reverse(f"admin:{changelist}_changelist"), params)
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def test_the_admin_lists_filter_by_the_state_machines_statuses(
    root, django_capture_on_commit_callbacks, clerk, goodwill
):
    # given: a refund paid out and one pending, a lost dispute, a finished run
    payment = _card_payment(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        paid_out = _pending_refund(payment, clerk, goodwill)
    pending = refunds.payment_refund(payment_id=payment.pk, amount="5.00", reason_code=goodwill, actor=clerk)
    disputed = _card_payment(django_capture_on_commit_callbacks)
    _dispute_event(disputed, "charge.dispute.created", "needs_response")
    _dispute_event(disputed, "charge.dispute.closed", "lost")
    with django_capture_on_commit_callbacks(execute=True):
        run = billing_run(as_of=date(2026, 4, 1))
    # when / then
    assert _shown(root, "billing_refund", status=RefundStatus.SUCCEEDED) == {paid_out.pk}
    assert _shown(root, "billing_refund", status=RefundStatus.PENDING) == {pending.pk}
    assert _shown(root, "billing_dispute", status=DisputeStatus.LOST) == {Dispute.objects.get().pk}
    assert _shown(root, "billing_dispute", status=DisputeStatus.OPEN) == set()
    assert _shown(root, "billing_billingrun", status=RunStatus.DONE) == {run.pk}
    # and each record's page shows its transition history
    page = root.get(reverse("admin:billing_refund_change", args=[paid_out.pk])).content.decode()
    assert "transition history" in page.lower()
    assert "succeed" in page
