"""Gateway webhook events: verified, recorded once per event id (a replay changes nothing), then applied.

Events may come out of order: each moves a payment only forward (billing.payments.payment_result_apply), so a
late `processing` after `succeeded` is ignored. An event for no known payment is acknowledged and recorded as
unmatched; an unknown type is acknowledged and logged.

The gateway is never called while the event's transaction is open: an event whose work needs the gateway (a
setup that saved a payment method: the method is fetched from Stripe) is recorded as deferred and applied by a
task once the event is committed, or by the payments sweep if that task is lost; applying it twice saves one
method. Row locks follow billing.locks (invoice, payment, refund, dispute).
"""

import json
import logging
from datetime import datetime
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing import locks
from billing.choices import (
    CreditKind,
    DisputeStatus,
    GatewayEventOutcome,
    InvoiceStatus,
    PaymentStatus,
    RefundStatus,
)
from billing.gateways import gateway_for
from billing.gateways.base import SUCCEEDED, GatewayEvent, GatewayUnavailable, event_of, minor_units
from billing.gateways.stripe_gateway import amount_of, charge_result
from billing.models import BillingAccount, Dispute, Payment, PaymentMethod, Refund
from billing.models import GatewayEvent as GatewayEventRow
from cos import events
from cos.errors import ApplicationError
from cos.fsm import transition_apply

logger = logging.getLogger(__name__)

PAYMENT_INTENT_EVENTS = {
    "payment_intent.succeeded",
    "payment_intent.processing",
    "payment_intent.payment_failed",
    "payment_intent.requires_action",
    "payment_intent.canceled",
}


def webhook_receive(*, gateway_name: str, payload: bytes, signature: str) -> tuple[str, GatewayEventRow]:
    """Verify and apply one delivery. Returns ("replay" | outcome, the recorded event).

    Two deliveries of the same event at once: the second waits on the first's unique row and, once that
    commits, finds it — it applies nothing.
    """
    gateway = gateway_for(gateway_name)
    event = gateway.event_parse(payload=payload, signature=signature)  # SignatureInvalid: 400, nothing written
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = GatewayEventRow.objects.create(
                    gateway=gateway.name,
                    event_id=event.id,
                    type=event.type,
                    payload=json.loads(payload),
                    outcome=GatewayEventOutcome.IGNORED,
                )
        except IntegrityError:
            GatewayEventRow.objects.filter(gateway=gateway.name, event_id=event.id).update(
                deliveries=F("deliveries") + 1
            )
            return "replay", GatewayEventRow.objects.get(gateway=gateway.name, event_id=event.id)
        outcome, note = _apply(gateway.name, event)
        row.outcome, row.note = outcome, note[:300]
        row.save(update_fields=["outcome", "note"])
        if outcome == GatewayEventOutcome.DEFERRED:
            transaction.on_commit(partial(_deferred_enqueue, row.pk), robust=True)
    if outcome == GatewayEventOutcome.UNHANDLED:
        logger.info("Gateway event %s (%s) acknowledged, not handled", event.id, event.type)
    return outcome, row


def _apply(gateway: str, event: GatewayEvent) -> tuple[str, str]:
    if event.type in PAYMENT_INTENT_EVENTS:
        return _payment_intent(gateway, event)
    handler = {
        "setup_intent.succeeded": _setup_succeeded,
        "setup_intent.setup_failed": _setup_failed,
        "charge.refunded": _charge_refunded,
        "refund.updated": _refund_updated,
        "refund.failed": _refund_updated,
        "charge.refund.updated": _refund_updated,
        "charge.dispute.created": _dispute_created,
        "charge.dispute.closed": _dispute_closed,
        "payment_method.detached": _method_detached,
    }.get(event.type)
    if handler is None:
        return GatewayEventOutcome.UNHANDLED, ""
    return handler(gateway, event)


def _payment_for(gateway: str, obj: dict) -> Payment | None:
    """The payment a PaymentIntent is for: by its id, else by the payment id billing put in its metadata, if
    nothing contradicts it (another charge id, another customer: an installation sharing the Stripe account)."""
    reference = obj.get("id") or ""
    payment = Payment.objects.filter(gateway=gateway, reference=reference).first() if reference else None
    if payment is not None:
        return payment
    payment_id = str((obj.get("metadata") or {}).get("cos_payment") or "")
    if not payment_id.isdigit():
        return None
    payment = Payment.objects.select_related("account").filter(gateway=gateway, pk=int(payment_id)).first()
    if payment is None or (payment.reference and payment.reference != reference):
        return None
    customer = obj.get("customer") or ""
    if customer and payment.account.gateway_customer and customer != payment.account.gateway_customer:
        return None
    invoice = str((obj.get("metadata") or {}).get("cos_invoice") or "")
    if invoice and invoice != str(payment.invoice_id or ""):
        return None
    if obj.get("amount") is not None and obj.get("currency"):
        same_money = obj["currency"].upper() == payment.currency.upper() and int(obj["amount"]) == minor_units(
            payment.amount, payment.currency
        )
        if not same_money:
            return None
    return payment


def _payment_intent(gateway: str, event: GatewayEvent) -> tuple[str, str]:
    from billing.payments import payment_result_apply

    obj = event.object
    payment = _payment_for(gateway, obj)
    if payment is None:
        return GatewayEventOutcome.UNMATCHED, f"no payment for {obj.get('id')}"
    currency = (obj.get("currency") or payment.currency).upper()
    result = charge_result(obj, currency)
    if event.type == "payment_intent.canceled":
        return _payment_canceled(payment)
    before = payment.status
    payment = payment_result_apply(payment_id=payment.pk, result=result, source=event.type)
    if payment.status == before:
        return GatewayEventOutcome.IGNORED, f"payment #{payment.pk} is {payment.status} already"
    return GatewayEventOutcome.APPLIED, f"payment #{payment.pk}: {before} -> {payment.status}"


def _payment_canceled(payment: Payment) -> tuple[str, str]:
    """A charge waiting for confirmation was canceled at Stripe (it expired, or was replaced): nothing was taken."""
    with transaction.atomic():
        _, payment = locks.payment_with_invoice(payment.pk)
        if payment.status != PaymentStatus.REQUIRES_ACTION:
            return GatewayEventOutcome.IGNORED, f"payment #{payment.pk} is {payment.status}"
        transition_apply(payment, "cancel", reason="canceled at the gateway")
        payment.save()
    return GatewayEventOutcome.APPLIED, f"payment #{payment.pk} canceled"


def _setup_account(gateway: str, event: GatewayEvent) -> tuple[BillingAccount | None, tuple[str, str] | None]:
    """The account a succeeded setup is for, or the outcome when there is nothing to save."""
    obj = event.object
    account = BillingAccount.objects.filter(gateway_customer=obj.get("customer") or "-").first()
    if account is None:
        return None, (GatewayEventOutcome.UNMATCHED, f"no account for customer {obj.get('customer')}")
    pm = obj.get("payment_method")
    reference = pm.get("id") if isinstance(pm, dict) else pm
    if PaymentMethod.objects.filter(gateway=gateway, reference=reference).exists():
        return None, (GatewayEventOutcome.IGNORED, "saved already")
    return account, None


def _setup_succeeded(gateway: str, event: GatewayEvent) -> tuple[str, str]:
    """Saving the method asks the gateway for it: recorded now, saved after commit (`_setup_save`)."""
    account, done = _setup_account(gateway, event)
    if done is not None:
        return done
    return GatewayEventOutcome.DEFERRED, f"the payment method is saved for account #{account.pk} after commit"


def _setup_save(gateway: str, event: GatewayEvent) -> tuple[str, str]:
    """Outside any transaction: the method of the setup, from the gateway, saved (once: saving again finds it)."""
    from billing.payments import payment_method_add

    account, done = _setup_account(gateway, event)
    if done is not None:
        return done
    method = payment_method_add(account_id=account.pk, setup_reference=event.object["id"], make_default=False)
    return GatewayEventOutcome.APPLIED, f"payment method #{method.pk} saved"


# Work of deferred events, by type: each calls the gateway, so it runs after the event's transaction committed.
_DEFERRED = {"setup_intent.succeeded": _setup_save}


def _deferred_enqueue(row_id: int) -> None:
    from billing.tasks import gateway_event_apply_task

    try:
        gateway_event_apply_task.delay(row_id)
    except Exception:  # noqa: BLE001 - the event stays deferred and the payments sweep applies it
        logger.warning("could not hand gateway event %s to the broker; the payments sweep will apply it", row_id)


def gateway_event_apply(*, event_row_id: int) -> GatewayEventRow:
    """Apply a deferred event's work (outside any transaction: it calls the gateway) and record the outcome.

    Idempotent: an event applied already is left alone, and its work saves nothing twice. Raises
    GatewayUnavailable when the gateway did not answer: the event stays deferred and is applied again later."""
    row = GatewayEventRow.objects.get(pk=event_row_id)
    if row.outcome != GatewayEventOutcome.DEFERRED:
        return row
    work = _DEFERRED.get(row.type)
    if work is None:
        outcome, note = GatewayEventOutcome.UNHANDLED, "no deferred work for this type"
    else:
        try:
            outcome, note = work(row.gateway, event_of(json.dumps(row.payload).encode()))
        except GatewayUnavailable:
            raise
        except ApplicationError as refused:  # the gateway refused (not confirmed, another customer's): nothing saved
            outcome, note = GatewayEventOutcome.IGNORED, f"not applied: {refused.message}"
    GatewayEventRow.objects.filter(pk=row.pk, outcome=GatewayEventOutcome.DEFERRED).update(
        outcome=outcome, note=note[:300]
    )
    row.refresh_from_db()
    return row


def gateway_events_deferred_due(*, before: datetime, limit: int = 500) -> int:
    """The payments sweep: deferred events received before `before` and not applied (their task was lost, or the
    gateway did not answer) are applied now. Returns how many were applied."""
    due = GatewayEventRow.objects.filter(outcome=GatewayEventOutcome.DEFERRED, received_at__lte=before)
    applied = 0
    for row_id in due.order_by("pk").values_list("pk", flat=True)[:limit]:
        try:
            gateway_event_apply(event_row_id=row_id)
            applied += 1
        except GatewayUnavailable:
            continue
        except Exception:  # one event's problem never stops the sweep; it is logged for operations
            logger.exception("Gateway event %s could not be applied", row_id)
    return applied


def _setup_failed(gateway: str, event: GatewayEvent) -> tuple[str, str]:
    error = event.object.get("last_setup_error") or {}
    return GatewayEventOutcome.IGNORED, f"setup failed: {error.get('message') or error.get('code') or 'unknown'}"


def _charge_payment(gateway: str, charge: dict) -> Payment | None:
    payment = None
    if charge.get("payment_intent"):
        payment = Payment.objects.filter(gateway=gateway, reference=charge["payment_intent"]).first()
    if payment is None and charge.get("id"):
        payment = Payment.objects.filter(gateway=gateway, charge_reference=charge["id"]).first()
    return payment


def _charge_refunded(gateway: str, event: GatewayEvent) -> tuple[str, str]:
    """Refunds the gateway confirms: ours are marked succeeded; one made at the gateway directly is recorded."""
    from billing.refunds import refund_outcome_apply

    charge = event.object
    payment = _charge_payment(gateway, charge)
    if payment is None:
        return GatewayEventOutcome.UNMATCHED, f"no payment for charge {charge.get('id')}"
    # the payment, then its refunds: what is refunded on it is read and written under its lock
    payment = locks.payments([payment.pk])[payment.pk]
    found = []
    for item in (charge.get("refunds") or {}).get("data", []):
        if item.get("status") not in (None, "succeeded"):
            continue
        refund = Refund.objects.filter(payment=payment, reference=item["id"]).first()
        if refund is None:
            refund_id = str((item.get("metadata") or {}).get("cos_refund") or "")
            refund = Refund.objects.filter(payment=payment, pk=int(refund_id)).first() if refund_id.isdigit() else None
        if refund is None:
            refund = Refund.objects.create(
                payment=payment,
                amount=amount_of(item, payment.currency),
                reference=item["id"],
                idempotency_key=f"gateway-{item['id']}",
                note="Refunded at the gateway directly",
            )
        found.append((item["id"], refund.pk))
    held = locks.refunds(pk for _, pk in found)
    applied = [
        reference
        for reference, pk in found
        if refund_outcome_apply(held[pk], payment, status=SUCCEEDED, reference=reference)
    ]
    if not applied:
        return GatewayEventOutcome.IGNORED, "refunds known already"
    return GatewayEventOutcome.APPLIED, f"refunds {', '.join(applied)}"


def _refund_updated(gateway: str, event: GatewayEvent) -> tuple[str, str]:
    """A refund Stripe first answered as pending (bank debits) succeeded or failed later; a failed one stays with
    the customer as credit."""
    from billing.refunds import refund_result_apply

    obj = event.object
    refund = Refund.objects.filter(reference=obj.get("id") or "-", payment__gateway=gateway).first()
    if refund is None:
        refund_id = str((obj.get("metadata") or {}).get("cos_refund") or "")
        refund = (
            Refund.objects.filter(pk=int(refund_id), payment__gateway=gateway).first() if refund_id.isdigit() else None
        )
    if refund is None:
        return GatewayEventOutcome.UNMATCHED, f"no refund {obj.get('id')}"
    status = {"succeeded": "succeeded", "failed": "failed", "canceled": "failed"}.get(obj.get("status"))
    if status is None or refund.status != RefundStatus.PENDING:
        return GatewayEventOutcome.IGNORED, f"refund #{refund.pk} is {refund.status}; Stripe says {obj.get('status')}"
    refund = refund_result_apply(
        refund_id=refund.pk, status=status, reference=obj.get("id") or "", message=obj.get("failure_reason") or ""
    )
    if refund.status != status:
        return GatewayEventOutcome.IGNORED, f"refund #{refund.pk} is {refund.status}; Stripe says {obj.get('status')}"
    return GatewayEventOutcome.APPLIED, f"refund #{refund.pk} {status}"


def _dispute_created(gateway: str, event: GatewayEvent) -> tuple[str, str]:
    obj = event.object
    payment = _charge_payment(gateway, {"payment_intent": obj.get("payment_intent"), "id": obj.get("charge")})
    if payment is None:
        return GatewayEventOutcome.UNMATCHED, f"no payment for disputed charge {obj.get('charge')}"
    dispute, created = Dispute.objects.get_or_create(
        reference=obj["id"],
        defaults={
            "payment": payment,
            "amount": amount_of(obj, payment.currency),
            "reason": obj.get("reason") or "",
        },
    )
    if not created:
        return GatewayEventOutcome.IGNORED, "dispute known already"
    events.publish("payment.disputed", payment_id=payment.pk, dispute_id=dispute.pk, amount=str(dispute.amount))
    return GatewayEventOutcome.APPLIED, f"dispute on payment #{payment.pk}"


def _dispute_closed(gateway: str, event: GatewayEvent) -> tuple[str, str]:
    """Won: nothing changes. Lost: the money is gone, so the invoice is open again for what the dispute took."""
    obj = event.object
    dispute = Dispute.objects.filter(reference=obj["id"]).first()
    if dispute is None:
        created = _dispute_created(gateway, event)
        if created[0] != GatewayEventOutcome.APPLIED:
            return created
        dispute = Dispute.objects.get(reference=obj["id"])
    account_id, invoice_id = Payment.objects.values_list("account_id", "invoice_id").get(pk=dispute.payment_id)
    held = locks.lock(
        account_id=account_id if invoice_id is None else None,  # lost without an invoice: the credit balance pays
        invoice_ids=[invoice_id] if invoice_id else [],
        payment_ids=[dispute.payment_id],
        dispute_ids=[dispute.pk],
    )
    dispute = held.disputes[dispute.pk]
    if dispute.status != DisputeStatus.OPEN:
        return GatewayEventOutcome.IGNORED, f"dispute closed already ({dispute.status})"
    lost = obj.get("status") == "lost"
    transition_apply(
        dispute, "lose" if lost else "win", at=timezone.now(), reason=f"the bank decided: {obj.get('status')}"
    )
    dispute.save()
    if lost:
        _dispute_lost(dispute, held.payments[dispute.payment_id], held.invoices.get(invoice_id))
    return GatewayEventOutcome.APPLIED, f"dispute {dispute.status}"


def _dispute_lost(dispute: Dispute, payment: Payment, invoice) -> None:
    """The disputed money is gone (the caller holds the locks): the payment counts it as refunded, and the invoice
    is open again for it (or, with no invoice, the credit balance gives it back)."""
    from billing.payments import _credit

    # A payment partly refunded already: the bank takes back at most what was left of it; what it takes beyond
    # that the subscriber had twice (refund and chargeback), and is owed on the account.
    taken_back = min(dispute.amount, payment.amount - payment.amount_refunded)
    payment.amount_refunded += taken_back
    payment.save(update_fields=["amount_refunded", "updated_at"])
    if dispute.amount > taken_back:
        _credit(
            payment.account_id,
            taken_back - dispute.amount,
            kind=CreditKind.APPLIED,
            description=f"{dispute} lost on a payment refunded already",
        )
    if invoice is None:
        _credit(payment.account_id, -taken_back, kind=CreditKind.APPLIED, description=f"{dispute} lost")
        return
    taken = min(taken_back, invoice.amount_paid)
    invoice.amount_paid -= taken
    invoice.save(update_fields=["amount_paid", "updated_at"])
    if invoice.status == InvoiceStatus.PAID and invoice.open_amount > 0:
        transition_apply(invoice, "reopen", reason=f"{dispute} lost: {dispute.amount} taken back")
        invoice.save(update_fields=["status", "paid_at", "updated_at"])
    events.publish("invoice.reopened", invoice_id=invoice.pk, account_id=invoice.account_id, reason="dispute_lost")


def _method_detached(gateway: str, event: GatewayEvent) -> tuple[str, str]:
    from billing.payments import payment_method_remove

    method = PaymentMethod.objects.filter(gateway=gateway, reference=event.object.get("id") or "-").first()
    if method is None:
        return GatewayEventOutcome.UNMATCHED, "unknown payment method"
    if method.removed_at:
        return GatewayEventOutcome.IGNORED, "removed already"
    payment_method_remove(method_id=method.pk, detached_at_gateway=True)
    return GatewayEventOutcome.APPLIED, f"payment method #{method.pk} removed"
