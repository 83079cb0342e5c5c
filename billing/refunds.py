"""Credit notes settled and money given back: a credit note pays what is still open (on the invoice it corrects,
or the account's oldest), is refunded through the gateway to the payments that paid, and the rest becomes the
customer's credit balance; finance refunds a payment (a credit note plus a refund, audited). A refund the gateway
refuses stays with the customer as credit: money is never lost."""

from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing import engine, locks
from billing.choices import (
    GATEWAY_METHOD_TYPES,
    PAYABLE_STATUSES,
    CreditKind,
    InvoiceKind,
    InvoiceReason,
    InvoiceStatus,
    MethodType,
    OverrideKind,
    PaymentChannel,
    PaymentStatus,
    RefundStatus,
)
from billing.gateways import gateway_for
from billing.gateways.base import FAILED, SUCCEEDED
from billing.models import (
    Invoice,
    Payment,
    Refund,
)
from billing.payments import ZERO, _credit, _payment_received
from cos import events
from cos.errors import ApplicationError, Conflict
from cos.fsm import transition_apply

# --- credit notes and refunds --------------------------------------------------------------------------------


def _refundable_now(payment: Payment) -> Decimal:
    """What can still be refunded on a payment: paid, less the refunds made or on their way."""
    if payment.status != PaymentStatus.SUCCEEDED or not payment.gateway:
        return ZERO
    taken = payment.refunds.exclude(status=RefundStatus.FAILED).aggregate(total=Sum("amount"))["total"] or ZERO
    return payment.amount - taken


def credit_note_collect(*, credit_note_id: int) -> None:
    """`invoice.finalized` of a credit note: it gives its money back (see `_credit_note_settle`). Settled once.

    Locks in the one order (billing.locks): the credit note with the invoices it may pay, ids ascending, then the
    payments it may refund."""
    account_id, corrects_id = Invoice.objects.values_list("account_id", "corrects_id").get(pk=credit_note_id)
    with transaction.atomic():
        if corrects_id is not None:
            owing_ids = [corrects_id]
        else:
            owing_ids = list(
                Invoice.objects.filter(
                    account_id=account_id, kind=InvoiceKind.INVOICE, status__in=PAYABLE_STATUSES
                ).values_list("pk", flat=True)
            )
        held = locks.invoices([credit_note_id, *owing_ids])
        credit_note = held[credit_note_id]
        owing = sorted((held[pk] for pk in owing_ids if pk in held), key=lambda invoice: (invoice.due_on, invoice.pk))
        _credit_note_settle(credit_note, owing, corrects_id=corrects_id)


def _credit_note_settle(credit_note: Invoice, owing: list[Invoice], *, corrects_id: int | None) -> None:
    """A finalized (locked) credit note gives its money back: first against what is still open on the (locked)
    invoices it may pay (the one it corrects or, correcting none, the account's open invoices, oldest first), then
    as refunds on the gateway payments of that invoice (or the account's latest), and the rest as credit balance
    for the next invoice."""
    amount = -credit_note.open_amount
    if credit_note.status not in (InvoiceStatus.OPEN,) or amount <= 0:
        return
    for invoice in owing:
        if amount <= 0 or invoice.kind != InvoiceKind.INVOICE or invoice.status not in PAYABLE_STATUSES:
            continue
        if invoice.open_amount <= 0:
            continue
        use = min(amount, invoice.open_amount)
        note = f"Credit note {credit_note.number}"
        _payment_received(
            invoice, use, method_type=MethodType.CREDIT_NOTE, channel=PaymentChannel.CREDIT, reason=note, note=note
        )
        amount -= use
    if amount > 0:
        candidates = Payment.objects.filter(
            account_id=credit_note.account_id,
            status=PaymentStatus.SUCCEEDED,
            method_type__in=GATEWAY_METHOD_TYPES,
        ).values_list("pk", flat=True)
        # locked before what is left to refund on them is read: a refund made meanwhile cannot be counted twice
        ordered = sorted(locks.payments(candidates).values(), key=lambda p: -p.pk)
        if corrects_id is not None:
            ordered.sort(key=lambda p: p.invoice_id != corrects_id)  # the corrected invoice's payments first
        for payment in ordered:
            if amount <= 0:
                break
            take = min(amount, _refundable_now(payment))
            if take > 0:
                refund = Refund.objects.create(
                    payment=payment,
                    credit_note=credit_note,
                    amount=take,
                    idempotency_key=f"{settings.PAYMENT_KEY_PREFIX}-refund-cn{credit_note.pk}-p{payment.pk}",
                    note=f"Credit note {credit_note.number}",
                )
                _refund_after_commit(refund)
                amount -= take
    if amount > 0:
        _credit(
            credit_note.account_id,
            amount,
            kind=CreditKind.CREDIT_NOTE,
            description=f"Credit note {credit_note.number}",
            invoice=credit_note,
        )
    credit_note.amount_paid = credit_note.total
    transition_apply(credit_note, "mark_paid", at=timezone.now(), reason="settled: credited or refunded")
    credit_note.save(update_fields=["amount_paid", "status", "paid_at", "updated_at"])


def _refund_after_commit(refund: Refund) -> None:
    """Send the refund once the caller's transaction commits; if the broker cannot be reached, the payments sweep
    sends it (it is pending with no reference)."""
    from billing.tasks import refund_submit_task

    transaction.on_commit(partial(refund_submit_task.delay, refund.pk), robust=True)


def _net_for_gross(gross: Decimal, rate: Decimal) -> Decimal:
    """The amount before tax whose tax brings it to `gross`, to the cent (the closest when none is exact)."""
    start = engine.money(gross / (1 + rate))
    candidates = [start + Decimal("0.01") * step for step in (0, -1, 1, -2, 2)]
    return min(candidates, key=lambda net: abs(net + engine.money(net * rate) - gross))


def _credit_note_to_the_cent(credit_note: Invoice, gross: Decimal) -> None:
    """Net prices (tax added): some amounts have no net whose VAT brings them to the cent (at 25 %, 10.02: 8.01
    makes 10.01, 8.02 makes 10.03). The draft's VAT takes up that cent (VAT reckoned from the gross), so the credit
    note is for exactly the amount refunded, never a cent more or less."""
    gap = -gross - credit_note.total
    if not gap:
        return
    tax = credit_note.lines.get(kind=engine.TAX)
    tax.amount += gap
    tax.save(update_fields=["amount"])
    credit_note.tax += gap
    credit_note.total += gap
    credit_note.save(update_fields=["tax", "total", "updated_at"])


def payment_refund(*, payment_id: int, amount, reason_code, actor, note: str = "") -> Refund:
    """Finance gives money back on a gateway payment: a credit note (audited, with its reason code) for the amount,
    refunded through the gateway. Never more than is left to refund on the payment."""
    from billing.overrides import _audit, _correction_kind, override_guard
    from billing.services import invoice_finalize_locked, invoice_persist

    try:
        gross = engine.money(Decimal(str(amount)))
        if gross.is_nan():
            raise ArithmeticError
    except ArithmeticError:
        raise ApplicationError("Enter the amount to refund, e.g. 25.00.", code="invalid_amount") from None
    with transaction.atomic():
        reason = override_guard(actor, reason_code, "refund a payment")
        invoice_id = Payment.objects.values_list("invoice_id", flat=True).get(pk=payment_id)
        held = locks.lock(
            invoice_ids=[invoice_id] if invoice_id else [],
            payment_ids=[payment_id],
            invoice_related=("marketplace", "account"),
        )
        invoice, payment = held.invoices.get(invoice_id), held.payments[payment_id]
        if gross <= 0:
            raise ApplicationError("The refund must be more than zero.", code="invalid_amount")
        if payment.method_type not in GATEWAY_METHOD_TYPES or payment.invoice_id is None:
            raise Conflict("Only a card or bank debit payment can be refunded through the gateway.", code="not_gateway")
        left = _refundable_now(payment)
        if gross > left:
            raise ApplicationError(
                f"{gross} {payment.currency} is more than can be refunded on this payment: {left} {payment.currency} "
                f"(paid {payment.amount}, refunded or being refunded {payment.amount - left}).",
                code="refund_exceeds_payment",
                extra={"refundable": str(left)},
            )
        # The credit note is taxed as the invoice: a gross line whose tax is split off where its prices include tax
        # (exactly the amount by construction), else the net whose tax brings it to the amount.
        # A late fee carries no tax, so its refund does not either: the amount as it is.
        kind = _correction_kind(invoice, engine.CREDIT)
        untaxed = kind in engine.UNTAXED
        stated = gross if invoice.prices_include_tax or untaxed else _net_for_gross(gross, invoice.tax_rate)
        text = f"Refund on invoice {invoice} ({reason.label})"
        line = engine.Line(kind=kind, amount=-stated, description=text)
        credit_note = invoice_persist(
            invoice.account, [line], marketplace=invoice.marketplace, reason=InvoiceReason.MANUAL, corrects=invoice
        )
        if not (invoice.prices_include_tax or untaxed):
            _credit_note_to_the_cent(credit_note, gross)
        # made in this transaction: finalized without a lock of its own (an invoice lock after the payment's)
        credit_note = invoice_finalize_locked(credit_note, actor=actor)
        refunded = min(-credit_note.total, left)
        refund = Refund.objects.create(
            payment=payment,
            credit_note=credit_note,
            amount=refunded,
            idempotency_key=f"{settings.PAYMENT_KEY_PREFIX}-refund-cn{credit_note.pk}-p{payment.pk}",
            reason_code=reason,
            note=note.strip()[:300],
            actor=actor,
        )
        credit_note.amount_paid = credit_note.total
        transition_apply(credit_note, "mark_paid", by=actor, at=timezone.now(), reason="refunded")
        credit_note.save(update_fields=["amount_paid", "status", "paid_at", "updated_at"])
        _audit(
            OverrideKind.REFUND,
            invoice,
            result=credit_note,
            old_value=left,
            new_value=left - refunded,
            reason=reason,
            actor=actor,
            note=note,
        )
        _refund_after_commit(refund)
    return refund


def refund_submit(*, refund_id: int) -> Refund:
    """Send a pending refund to the gateway and record the answer. A refund the gateway refuses leaves the money
    with the customer as credit (never lost). Raises GatewayUnavailable when the outcome is unknown."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != RefundStatus.PENDING or refund.reference:
        return refund
    payment = refund.payment
    result = gateway_for(payment.gateway).refund(
        charge=payment.reference,
        amount=refund.amount,
        currency=payment.currency,
        key=refund.idempotency_key,
        metadata={"cos_refund": refund.pk, "cos_payment": payment.pk, "cos_credit_note": refund.credit_note_id or ""},
    )
    return refund_result_apply(
        refund_id=refund.pk, status=result.status, reference=result.reference, message=result.failure_message
    )


def refund_result_apply(*, refund_id: int, status: str, reference: str = "", message: str = "") -> Refund:
    """Record the gateway's answer to a refund (locks its payment, then it)."""
    with transaction.atomic():
        payment, refund = locks.refund_with_payment(refund_id)
        refund_outcome_apply(refund, payment, status=status, reference=reference, message=message)
    return refund


def refund_outcome_apply(
    refund: Refund, payment: Payment, *, status: str, reference: str = "", message: str = ""
) -> bool:
    """Move a pending refund to the gateway's answer; the caller holds the locks of the payment, then the refund.
    Succeeded: the payment counts it as refunded. Failed: the money stays with the customer as credit. A late or
    repeated answer moves nothing. Returns whether the refund moved."""
    moved = False
    if reference and not refund.reference:
        refund.reference = reference
    if refund.status == RefundStatus.PENDING and status == SUCCEEDED:
        transition_apply(refund, "succeed", reason="paid out by the gateway")
        payment.amount_refunded += refund.amount
        payment.save(update_fields=["amount_refunded", "updated_at"])
        events.publish("refund.succeeded", refund_id=refund.pk, payment_id=payment.pk, amount=str(refund.amount))
        moved = True
    elif refund.status == RefundStatus.PENDING and status == FAILED:
        failure = (message or "The gateway refused the refund.")[:300]
        transition_apply(refund, "fail", message=failure, reason=f"refused by the gateway: {failure}")
        _credit(
            payment.account_id,
            refund.amount,
            kind=CreditKind.REFUND_FAILED,
            description=f"Refund #{refund.pk} could not be paid out: kept as credit",
            payment=payment,
            invoice=refund.credit_note,
        )
        moved = True
    refund.save()
    return moved
