"""Use cases of payments: saving payment methods, collecting invoices, recording what the gateway says, manual
payments and the credit balance (credit notes and refunds: billing.refunds).

Money rules:
- A charge is asked for with an idempotency key derived from the invoice and the attempt, and never two at once
  for an invoice (a database constraint): a retry after a timeout cannot charge twice.
- Only a succeeded payment counts as paid. A SEPA or ACH debit makes its invoice `processing` until it settles;
  if it fails the invoice is open again.
- Money that arrives is never lost: what is more than the invoice's open amount (or arrives for an invoice that
  was paid meanwhile) goes to the customer's credit balance, which pays the next invoice.
- The gateway is called outside database transactions; what it answers is applied under row locks taken in the
  one order of billing.locks (account, invoice, payment, refund), and only forward (a late or repeated answer
  changes nothing).
"""

import logging
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q, Sum
from django.utils import timezone

from billing import engine, locks
from billing.choices import (
    GATEWAY_METHOD_TYPES,
    IN_FLIGHT_PAYMENT_STATUSES,
    MANUAL_METHOD_TYPES,
    PAYABLE_STATUSES,
    UNPAID_STATUSES,
    Collection,
    CreditKind,
    InvoiceKind,
    InvoiceStatus,
    MethodType,
    PaymentChannel,
    PaymentStatus,
    RefundStatus,
)
from billing.gateways import gateway_for
from billing.gateways.base import FAILED, PROCESSING, REQUIRES_ACTION, SUCCEEDED, ChargeResult, GatewayUnavailable
from billing.models import (
    BillingAccount,
    CreditEntry,
    Invoice,
    Payment,
    PaymentMethod,
    Refund,
)
from billing.notices import notice_send
from billing.selectors import config_for
from cos import events
from cos.choices import MessageKind
from cos.errors import ApplicationError, Conflict, NotFound
from cos.fsm import transition_apply

logger = logging.getLogger(__name__)
ZERO = Decimal("0.00")


# --- the credit balance --------------------------------------------------------------------------------------


def credit_balance(account_id: int) -> Decimal:
    """Money the customer has with the provider, not yet used (overpayments, credit notes not paid out)."""
    total = CreditEntry.objects.filter(account_id=account_id).aggregate(total=Sum("amount"))["total"]
    return engine.money(total or 0)


def _credit(account_id: int, amount: Decimal, *, kind: str, description: str, payment=None, invoice=None) -> None:
    if amount:
        CreditEntry.objects.create(
            account_id=account_id, kind=kind, amount=amount, description=description, payment=payment, invoice=invoice
        )


# --- payment methods -----------------------------------------------------------------------------------------


def _gateway_customer(account: BillingAccount, gateway) -> str:
    customer = gateway.customer_ensure(account=account)
    if account.gateway_customer != customer:
        BillingAccount.objects.filter(pk=account.pk).update(gateway_customer=customer)
        account.gateway_customer = customer
    return customer


def payment_method_setup_start(*, account_id: int, method_type: str):
    """Begin saving a method at the configured gateway: the browser confirms it (Stripe Elements)."""
    if method_type not in GATEWAY_METHOD_TYPES:
        raise ApplicationError("Choose a card, a SEPA account or a US bank account.", code="method_type")
    account = BillingAccount.objects.select_related("customer").get(pk=account_id)
    gateway = gateway_for()
    return gateway.setup_start(customer=_gateway_customer(account, gateway), method_type=method_type)


def payment_method_add(
    *, account_id: int, setup_reference: str = "", details: dict | None = None, make_default: bool = True, actor=None
) -> PaymentMethod:
    """Save the method once the gateway confirmed it (a SetupIntent, or offline the details typed in).

    The first method of an account becomes its default. Saving the same gateway method twice (the browser's
    return and the setup_intent.succeeded webhook) keeps one row.
    """
    account = BillingAccount.objects.select_related("customer").get(pk=account_id)
    gateway = gateway_for()
    saved = gateway.setup_complete(
        customer=_gateway_customer(account, gateway), setup_reference=setup_reference, details=details
    )
    if saved.type not in GATEWAY_METHOD_TYPES:
        raise ApplicationError(f"Payment methods of type {saved.type} are not accepted.", code="method_type")
    with transaction.atomic():
        locks.account(account.pk)
        method, created = PaymentMethod.objects.get_or_create(
            gateway=gateway.name,
            reference=saved.reference,
            defaults={
                "account": account,
                "type": saved.type,
                "brand": saved.brand,
                "last4": saved.last4,
                "exp_month": saved.exp_month,
                "exp_year": saved.exp_year,
                "mandate_reference": saved.mandate_reference,
            },
        )
        if method.account_id != account.pk:
            raise Conflict("This payment method belongs to another account.", code="method_mismatch")
        has_default = PaymentMethod.objects.filter(account=account, is_default=True, removed_at=None).exists()
        if created and (make_default or not has_default):
            _make_default(method)
        if created:
            events.publish(
                "payment_method.added", account_id=account.pk, method_id=method.pk, actor_id=getattr(actor, "pk", None)
            )
    return method


def _make_default(method: PaymentMethod) -> None:
    PaymentMethod.objects.filter(account_id=method.account_id, is_default=True).exclude(pk=method.pk).update(
        is_default=False
    )
    method.is_default = True
    method.save(update_fields=["is_default", "updated_at"])


@transaction.atomic
def payment_method_set_default(*, method_id: int, actor=None) -> PaymentMethod:
    # the account first, then its method: the order payment_method_remove locks in
    locks.account(PaymentMethod.objects.values_list("account_id", flat=True).get(pk=method_id))
    method = PaymentMethod.objects.select_for_update().get(pk=method_id)
    if method.removed_at:
        raise Conflict("This payment method was removed.", code="method_removed")
    _make_default(method)
    return method


def payment_method_remove(*, method_id: int, actor=None, detached_at_gateway: bool = False) -> PaymentMethod:
    """Detach the method; the next one becomes the default. With none left, automatic collection stops (manual)."""
    method = PaymentMethod.objects.get(pk=method_id)
    if method.removed_at:
        return method
    if not detached_at_gateway:
        gateway_for(method.gateway).method_remove(reference=method.reference)
    with transaction.atomic():
        account = locks.account(method.account_id)
        method = PaymentMethod.objects.select_for_update().get(pk=method_id)
        if method.removed_at:
            return method
        was_default = method.is_default
        method.removed_at, method.is_default = timezone.now(), False
        method.save(update_fields=["removed_at", "is_default", "updated_at"])
        rest = PaymentMethod.objects.filter(account=account, removed_at=None).order_by("-id")
        if was_default and rest.exists():
            _make_default(rest.first())
        if not rest.exists() and account.collection == Collection.AUTOMATIC:
            account.collection = Collection.MANUAL
            account.save(update_fields=["collection", "updated_at"])
        events.publish(
            "payment_method.removed", account_id=account.pk, method_id=method.pk, actor_id=getattr(actor, "pk", None)
        )
    return method


def default_method(account_id: int) -> PaymentMethod | None:
    return PaymentMethod.objects.filter(account_id=account_id, is_default=True, removed_at=None).first()


# --- applying money to invoices ------------------------------------------------------------------------------


def _settle(invoice: Invoice, amount: Decimal, *, payment: Payment | None, by=None) -> Decimal:
    """Apply `amount` to the (locked) invoice; it is paid once nothing is open. Returns what went to credit."""
    applied = ZERO
    if invoice.status in UNPAID_STATUSES and invoice.kind == InvoiceKind.INVOICE:
        applied = min(amount, max(invoice.open_amount, ZERO))
    if applied:
        invoice.amount_paid += applied
        invoice.save(update_fields=["amount_paid", "updated_at"])
    if invoice.status in UNPAID_STATUSES and invoice.kind == InvoiceKind.INVOICE and invoice.open_amount <= 0:
        transition_apply(invoice, "mark_paid", by=by, at=timezone.now(), reason="paid in full")
        invoice.save(update_fields=["status", "paid_at", "updated_at"])
        events.publish("invoice.paid", invoice_id=invoice.pk, account_id=invoice.account_id)
    excess = amount - applied
    if excess > 0:
        _credit(
            invoice.account_id,
            excess,
            kind=CreditKind.OVERPAYMENT,
            description=f"Paid more than was open on {invoice}",
            payment=payment,
            invoice=invoice,
        )
    return excess


def _payment_received(
    invoice: Invoice, amount: Decimal, *, method_type: str, channel: str, reason: str, by=None, **fields
) -> Payment:
    """Money received without a gateway (credit applied, a transfer recorded): a succeeded payment on the (locked)
    invoice, applied to it."""
    payment = Payment.objects.create(
        account_id=invoice.account_id,
        invoice=invoice,
        method_type=method_type,
        channel=channel,
        amount=amount,
        currency=invoice.currency,
        **fields,
    )
    transition_apply(payment, "succeed", by=by, at=timezone.now(), reason=reason)
    payment.save()
    _settle(invoice, amount, payment=payment, by=by)
    return payment


def credit_balance_apply(invoice: Invoice) -> Decimal:
    """Pay the invoice from the customer's credit balance, as far as it goes. The caller holds the locks of the
    account, then the invoice (billing.locks)."""
    available = credit_balance(invoice.account_id)
    use = min(available, max(invoice.open_amount, ZERO)) if invoice.status in PAYABLE_STATUSES else ZERO
    if use <= 0:
        return ZERO
    _credit(invoice.account_id, -use, kind=CreditKind.APPLIED, description=f"Applied to {invoice}", invoice=invoice)
    note = "Credit balance applied"
    _payment_received(
        invoice, use, method_type=MethodType.CREDIT_BALANCE, channel=PaymentChannel.CREDIT, reason=note, note=note
    )
    return use


# --- collection ----------------------------------------------------------------------------------------------


def invoice_collect(*, invoice_id: int) -> Payment | None:
    """`invoice.finalized`: a credit note is settled; an invoice is paid from credit first, then, where the
    account pays automatically, charged to its default method (the charge is sent after commit)."""
    account_id, kind = Invoice.objects.values_list("account_id", "kind").get(pk=invoice_id)
    if kind == InvoiceKind.CREDIT_NOTE:
        from billing.refunds import credit_note_collect

        credit_note_collect(credit_note_id=invoice_id)
        return None
    with transaction.atomic():
        # the account (its credit balance) first, then the invoice
        held = locks.lock(account_id=account_id, invoice_ids=[invoice_id], invoice_related=("account__customer",))
        invoice = held.invoices[invoice_id]
        credit_balance_apply(invoice)
        if invoice.status not in PAYABLE_STATUSES or invoice.open_amount <= 0:
            return None
        account = invoice.account
        if account.collection != Collection.AUTOMATIC:
            return None
        if Payment.objects.filter(invoice=invoice, channel=PaymentChannel.AUTOMATIC).exists():
            return None  # collected already (a second delivery of the event)
        method = default_method(account.pk)
        if method is None:
            notice_send(
                account,
                kind=MessageKind.PAYMENT_METHOD_MISSING,
                key=f"no-method-{invoice.pk}",
                context={"invoice": invoice},
            )
            return None
        payment = _payment_start(invoice, method, channel=PaymentChannel.AUTOMATIC)
    _submit_after_commit(payment)
    return payment


def _payment_start(invoice: Invoice, method: PaymentMethod, *, channel: str, by=None) -> Payment:
    """A pending charge of the invoice's open amount (the invoice is locked by the caller)."""
    if Payment.objects.filter(invoice=invoice, status__in=IN_FLIGHT_PAYMENT_STATUSES).exclude(gateway="").exists():
        raise Conflict(f"A payment of invoice {invoice} is already under way.", code="payment_in_flight")
    attempt = (Payment.objects.filter(invoice=invoice).aggregate(n=Max("attempt"))["n"] or 0) + 1
    return Payment.objects.create(
        account_id=invoice.account_id,
        invoice=invoice,
        method=method,
        method_type=method.type,
        channel=channel,
        gateway=method.gateway,
        amount=invoice.open_amount,
        currency=invoice.currency,
        attempt=attempt,
        idempotency_key=f"{settings.PAYMENT_KEY_PREFIX}-invoice-{invoice.pk}-attempt-{attempt}",
        recorded_by=by if getattr(by, "pk", None) else None,
    )


def _submit_after_commit(payment: Payment) -> None:
    """Send the charge once the caller's transaction commits. A broker that cannot be reached loses nothing: the
    payment stays pending and the payments sweep sends it."""
    from billing.tasks import payment_submit_task

    transaction.on_commit(partial(payment_submit_task.delay, payment.pk), robust=True)


def payment_submit(*, payment_id: int) -> Payment:
    """Send a pending charge to its gateway (outside any transaction) and apply the answer.

    Raises GatewayUnavailable when the outcome is unknown: the payment stays pending and is sent again, with the
    same idempotency key, by the caller's retry or the sweep; the gateway answers with the same charge.
    """
    payment = Payment.objects.select_related("method", "account__customer", "invoice").get(pk=payment_id)
    if payment.status != PaymentStatus.PENDING:
        return payment
    invoice = payment.invoice
    if payment.submit_errors == 0 and invoice is not None and invoice.status not in PAYABLE_STATUSES:
        # never sent, and the invoice was paid (or voided) meanwhile: nothing to charge
        with transaction.atomic():
            _, payment = locks.payment_with_invoice(payment.pk)
            if payment.status == PaymentStatus.PENDING:
                transition_apply(payment, "cancel", reason=f"invoice {invoice} is {invoice.status}: not sent")
                payment.save()
        return payment
    gateway = gateway_for(payment.gateway)
    try:
        result = gateway.charge(
            customer=_gateway_customer(payment.account, gateway),
            method=payment.method.reference,
            method_type=payment.method_type,
            amount=payment.amount,
            currency=payment.currency,
            key=payment.idempotency_key,
            metadata={"cos_payment": payment.pk, "cos_invoice": payment.invoice_id, "cos_account": payment.account_id},
            off_session=payment.channel == PaymentChannel.AUTOMATIC,
        )
    except GatewayUnavailable as exc:
        Payment.objects.filter(pk=payment.pk).update(
            submit_errors=F("submit_errors") + 1,
            failure_message=f"Gateway did not answer: {exc}"[:300],
            updated_at=timezone.now(),
        )
        raise
    return payment_result_apply(payment_id=payment.pk, result=result)


def payment_result_apply(*, payment_id: int, result: ChargeResult, source: str = "charge") -> Payment:
    """Move the payment forward to what the gateway says, and the invoice with it. A stale or repeated answer
    (an event out of order, a second delivery) moves nothing."""
    with transaction.atomic():
        invoice, payment = locks.payment_with_invoice(payment_id, payment_related=("account__customer",))
        changed = []
        for field, value in (
            ("reference", result.reference),
            ("client_secret", result.client_secret),
            ("charge_reference", result.charge),
        ):
            if value and not getattr(payment, field):
                setattr(payment, field, value)
                changed.append(field)
        if changed:
            payment.save(update_fields=[*changed, "updated_at"])
        if result.status == SUCCEEDED:
            _payment_succeeded(payment, invoice, source)
        elif result.status == PROCESSING:
            _payment_processing(payment, invoice, source)
        elif result.status == REQUIRES_ACTION:
            _payment_requires_action(payment, invoice, source)
        elif result.status == FAILED:
            _payment_failed(payment, invoice, result.failure_code, result.failure_message, source)
    return payment


# The outcomes below run with the invoice, then the payment, locked by payment_result_apply.


def _payment_succeeded(payment: Payment, invoice: Invoice | None, source: str) -> None:
    if payment.status == PaymentStatus.SUCCEEDED:
        return
    transition_apply(payment, "succeed", at=timezone.now(), reason=f"gateway: succeeded ({source})")
    payment.next_retry_at = None
    payment.save()
    if invoice is not None:
        _settle(invoice, payment.amount, payment=payment)
    else:
        _credit(payment.account_id, payment.amount, kind=CreditKind.OVERPAYMENT, description=str(payment))
    events.publish(
        "payment.succeeded",
        payment_id=payment.pk,
        invoice_id=payment.invoice_id,
        account_id=payment.account_id,
        amount=str(payment.amount),
    )


def _payment_processing(payment: Payment, invoice: Invoice | None, source: str) -> None:
    if payment.status not in (PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION):
        return
    transition_apply(payment, "process", reason=f"gateway: processing ({source})")
    payment.save()
    if invoice is not None and invoice.status in PAYABLE_STATUSES and payment.amount >= invoice.open_amount:
        transition_apply(invoice, "start_processing", reason=f"{payment.get_method_type_display()} on its way")
        invoice.save(update_fields=["status", "updated_at"])


def _payment_requires_action(payment: Payment, invoice: Invoice | None, source: str) -> None:
    if payment.status != PaymentStatus.PENDING:
        return
    transition_apply(payment, "require_action", reason=f"gateway: authentication required ({source})")
    payment.save()
    config = config_for(invoice.marketplace_id, invoice.issuer_id) if invoice else None
    if config is None or config.notify_subscriber:
        notice_send(
            payment.account,
            kind=MessageKind.PAYMENT_ACTION_REQUIRED,
            key=f"action-{payment.pk}",
            context={"payment": payment, "invoice": invoice},
        )


def _payment_failed(payment: Payment, invoice: Invoice | None, code: str, message: str, source: str) -> None:
    if payment.status not in IN_FLIGHT_PAYMENT_STATUSES:
        return
    transition_apply(payment, "fail", code=code, message=message, reason=f"gateway: failed ({source}): {code}".strip())
    payment.save()
    if invoice is not None and invoice.status == InvoiceStatus.PROCESSING:
        transition_apply(invoice, "reopen", reason=f"the debit failed: {message or code}")
        invoice.save(update_fields=["status", "paid_at", "updated_at"])
    from billing.dunning import dunning_after_failure

    dunning_after_failure(payment, invoice)
    events.publish(
        "payment.failed", payment_id=payment.pk, invoice_id=payment.invoice_id, account_id=payment.account_id, code=code
    )


# --- paying from the portal ----------------------------------------------------------------------------------


def payment_cancel(*, payment_id: int, actor=None, reason: str = "") -> Payment:
    """Give up a payment that waits for the subscriber's confirmation: canceled at the gateway, then here."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != PaymentStatus.REQUIRES_ACTION:
        return payment
    if payment.reference:
        gateway_for(payment.gateway).charge_cancel(reference=payment.reference)
    with transaction.atomic():
        _, payment = locks.payment_with_invoice(payment_id)
        if payment.status == PaymentStatus.REQUIRES_ACTION:
            transition_apply(payment, "cancel", by=actor, reason=reason or "replaced by another payment")
            payment.save()
    return payment


def failed_charges_cancel(*, invoice_id: int) -> None:
    """Before a new attempt: the invoice's failed charges are canceled at the gateway, so that a subscriber who
    completes an old one (a 3-D Secure dialog left open) cannot pay the invoice twice."""
    failed = Payment.objects.filter(invoice_id=invoice_id, status=PaymentStatus.FAILED).exclude(reference="")
    for payment in failed.exclude(note="canceled at the gateway"):
        try:
            gateway_for(payment.gateway).charge_cancel(reference=payment.reference)
        except (GatewayUnavailable, ApplicationError) as exc:
            logger.warning("Could not cancel failed charge %s: %s", payment.reference, exc)
            continue
        Payment.objects.filter(pk=payment.pk).update(note="canceled at the gateway")


def invoice_pay_now(*, invoice_id: int, method_id: int, actor=None) -> Payment:
    """The subscriber pays an open invoice now with one of their saved methods (on session). A payment still
    waiting for a confirmation is canceled first (the subscriber chose to pay another way)."""
    invoice = Invoice.objects.get(pk=invoice_id)
    if not PaymentMethod.objects.filter(pk=method_id, account_id=invoice.account_id, removed_at=None).exists():
        raise NotFound("Choose one of your saved payment methods.", code="method_not_found")
    if invoice.kind == InvoiceKind.INVOICE and invoice.status in PAYABLE_STATUSES and invoice.open_amount > 0:
        for waiting in Payment.objects.filter(invoice_id=invoice_id, status=PaymentStatus.REQUIRES_ACTION):
            payment_cancel(payment_id=waiting.pk, actor=actor)
        failed_charges_cancel(invoice_id=invoice_id)
    with transaction.atomic():
        invoice = locks.invoice(invoice_id)
        if invoice.kind != InvoiceKind.INVOICE or invoice.status not in PAYABLE_STATUSES or invoice.open_amount <= 0:
            raise Conflict(f"Invoice {invoice} has nothing to pay now.", code="nothing_to_pay")
        method = PaymentMethod.objects.filter(pk=method_id, account_id=invoice.account_id, removed_at=None).first()
        if method is None:
            raise NotFound("Choose one of your saved payment methods.", code="method_not_found")
        # A failed automatic payment waiting for its retry is superseded by this one.
        Payment.objects.filter(invoice=invoice, status=PaymentStatus.FAILED).update(next_retry_at=None)
        payment = _payment_start(invoice, method, channel=PaymentChannel.PORTAL, by=actor)
    try:
        return payment_submit(payment_id=payment.pk)
    except GatewayUnavailable:
        return Payment.objects.get(pk=payment.pk)  # still pending: the sweep sends it again with the same key


def payment_authenticate(*, payment_id: int, success: bool = True) -> Payment:
    """Offline gateway: the subscriber's answer to the bank's challenge (Stripe.js does this with Stripe)."""
    payment = Payment.objects.get(pk=payment_id)
    gateway = gateway_for(payment.gateway)
    if payment.status != PaymentStatus.REQUIRES_ACTION or not hasattr(gateway, "authenticate"):
        raise Conflict("This payment is not waiting for a confirmation.", code="no_action")
    return payment_result_apply(
        payment_id=payment.pk, result=gateway.authenticate(reference=payment.reference, success=success)
    )


def payment_refresh(*, payment_id: int) -> Payment:
    """Ask the gateway where a charge in flight stands (a webhook that never came, a browser's return)."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status not in IN_FLIGHT_PAYMENT_STATUSES or not payment.reference:
        return payment
    result = gateway_for(payment.gateway).charge_status(reference=payment.reference, currency=payment.currency)
    return payment_result_apply(payment_id=payment.pk, result=result, source="status")


# --- manual payments -----------------------------------------------------------------------------------------


def payment_record(
    *,
    invoice_id: int,
    amount,
    method_type: str,
    external_reference: str,
    received_on=None,
    actor=None,
    note: str = "",
) -> Payment:
    """Finance records money received outside the gateway (bank transfer, cash, cheque) against an invoice.

    A part payment leaves the rest open; more than is open goes to the customer's credit balance.
    """
    try:
        amount = engine.money(Decimal(str(amount)))
        if amount.is_nan():  # "NaN" parses and rounds quietly, then fails every comparison
            raise ArithmeticError
    except ArithmeticError:
        raise ApplicationError("Enter the amount received, e.g. 125.00.", code="invalid_amount") from None
    if amount <= 0:
        raise ApplicationError("The amount received must be more than zero.", code="invalid_amount")
    if amount >= Decimal("10000000000"):  # amounts are stored with 12 digits, 2 of them cents
        raise ApplicationError(f"{amount} is too large for a payment: check the amount.", code="invalid_amount")
    if method_type not in MANUAL_METHOD_TYPES:
        raise ApplicationError("Choose bank transfer, cash or cheque.", code="method_type")
    if not (external_reference or "").strip():
        raise ApplicationError("Enter the bank or receipt reference of the payment.", code="reference_required")
    with transaction.atomic():
        invoice = locks.invoice(invoice_id)
        if invoice.kind != InvoiceKind.INVOICE or invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
            raise Conflict(f"{invoice} cannot take a payment: it is not an issued invoice.", code="not_payable")
        payment = _payment_received(
            invoice,
            amount,
            method_type=method_type,
            channel=PaymentChannel.STAFF,
            reason=f"recorded: {external_reference}",
            by=actor,
            external_reference=external_reference.strip(),
            received_on=received_on or timezone.localdate(),
            recorded_by=actor if getattr(actor, "pk", None) else None,
            note=note.strip()[:300],
        )
        events.publish(
            "payment.succeeded",
            payment_id=payment.pk,
            invoice_id=invoice.pk,
            account_id=invoice.account_id,
            amount=str(amount),
        )
    return payment


# --- the sweep -----------------------------------------------------------------------------------------------


def payments_sweep(*, now=None) -> dict[str, int]:
    """Frequent (Celery beat): nothing in flight is forgotten.

    - charges whose outcome is unknown (timeout, worker lost) are sent again with the same idempotency key;
    - debits and confirmations still open after PAYMENTS_SYNC_AFTER_SECONDS are looked up (a lost webhook);
    - refunds not yet answered are sent again;
    - failed automatic payments due for their dunning retry are charged again;
    - gateway events recorded to be applied after commit (a saved payment method) and not applied yet are applied.

    Messages to subscribers that failed are sent again by the core's messages-retry job (cos.notifications).
    """
    from billing.dunning import dunning_retries_due
    from billing.refunds import refund_submit
    from billing.webhooks import gateway_events_deferred_due

    now = now or timezone.now()
    counts = {"resubmitted": 0, "synced": 0, "refunds": 0, "retried": 0, "events": 0}
    resubmit_before = now - timedelta(seconds=settings.PAYMENTS_RESUBMIT_AFTER_SECONDS)
    pending = Payment.objects.filter(
        status=PaymentStatus.PENDING,
        updated_at__lte=resubmit_before,
        submit_errors__lt=settings.PAYMENTS_MAX_SUBMIT_ERRORS,
    ).exclude(gateway="")
    for payment_id in pending.values_list("pk", flat=True)[:500]:
        try:
            payment_submit(payment_id=payment_id)
            counts["resubmitted"] += 1
        except GatewayUnavailable:
            continue
        except Exception:  # one payment's problem never stops the sweep; it is logged for operations
            logger.exception("Payment %s could not be sent again", payment_id)
            Payment.objects.filter(pk=payment_id).update(
                submit_errors=F("submit_errors") + 1, updated_at=timezone.now()
            )
    sync_before = now - timedelta(seconds=settings.PAYMENTS_SYNC_AFTER_SECONDS)
    open_ = Payment.objects.filter(
        Q(status=PaymentStatus.PROCESSING) | Q(status=PaymentStatus.REQUIRES_ACTION),
        updated_at__lte=sync_before,
    ).exclude(reference="")
    for payment_id in open_.values_list("pk", flat=True)[:500]:
        try:
            before = Payment.objects.get(pk=payment_id).status
            if payment_refresh(payment_id=payment_id).status != before:
                counts["synced"] += 1
            else:
                Payment.objects.filter(pk=payment_id).update(updated_at=now)
        except GatewayUnavailable:
            continue
        except Exception:
            logger.exception("Payment %s could not be looked up", payment_id)
            continue
    refunds = Refund.objects.filter(status=RefundStatus.PENDING, reference="", updated_at__lte=resubmit_before)
    for refund_id in refunds.values_list("pk", flat=True)[:500]:
        try:
            refund_submit(refund_id=refund_id)
            counts["refunds"] += 1
        except GatewayUnavailable:
            continue
        except Exception:
            logger.exception("Refund %s could not be sent again", refund_id)
            continue
    counts["retried"] = dunning_retries_due(now=now)
    counts["events"] = gateway_events_deferred_due(before=resubmit_before)
    return counts
