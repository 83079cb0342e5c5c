"""Dunning, per provider (BillingConfig): failed automatic payments are tried again on a schedule, the subscriber
is told, and after N days past due the service is suspended (marketplace.subscription_suspend, whose event
pauses billing) and restored when the invoice is paid."""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from billing import locks
from billing.choices import PAYABLE_STATUSES, Collection, InvoiceKind, PaymentChannel, PaymentStatus
from billing.models import DunningSuspension, Invoice, InvoiceLine, Payment
from billing.notices import notice_send
from billing.selectors import config_for
from cos.choices import MessageKind
from cos.errors import ApplicationError

logger = logging.getLogger(__name__)


def dunning_after_failure(payment: Payment, invoice: Invoice | None) -> None:
    """A payment failed (in the caller's transaction): plan its retry and tell the subscriber."""
    if invoice is None:
        return
    config = config_for(invoice.marketplace_id, invoice.issuer_id)
    if payment.channel == PaymentChannel.AUTOMATIC:
        schedule = config.retry_schedule
        failures = Payment.objects.filter(
            invoice=invoice, channel=PaymentChannel.AUTOMATIC, status=PaymentStatus.FAILED
        ).count()
        if failures <= len(schedule):
            payment.next_retry_at = timezone.now() + timedelta(days=schedule[failures - 1])
            payment.save(update_fields=["next_retry_at", "updated_at"])
    if config.notify_subscriber:
        notice_send(
            payment.account,
            kind=MessageKind.PAYMENT_FAILED,
            key=f"failed-{payment.pk}",
            context={
                "payment": payment,
                "invoice": invoice,
                "failure": payment.failure_message or payment.failure_code,
                "retry_on": timezone.localdate(payment.next_retry_at) if payment.next_retry_at else None,
            },
        )


def dunning_retries_due(*, now=None) -> int:
    """Failed automatic payments whose retry is due are charged again, with the account's current default."""
    from billing.payments import _payment_start, _submit_after_commit, default_method, failed_charges_cancel

    now = now or timezone.now()
    due = Payment.objects.filter(
        status=PaymentStatus.FAILED, channel=PaymentChannel.AUTOMATIC, next_retry_at__lte=now
    ).order_by("next_retry_at")
    retried = 0
    for payment_id, invoice_id in list(due.values_list("pk", "invoice_id")[:500]):
        failed_charges_cancel(invoice_id=invoice_id)  # at the gateway, outside the transaction
        with transaction.atomic():
            held = locks.lock(invoice_ids=[invoice_id], payment_ids=[payment_id], invoice_related=("account",))
            invoice, failed = held.invoices[invoice_id], held.payments[payment_id]
            if failed.next_retry_at is None or failed.next_retry_at > now:
                continue
            failed.next_retry_at = None
            failed.save(update_fields=["next_retry_at", "updated_at"])
            if invoice.status not in PAYABLE_STATUSES or invoice.open_amount <= 0:
                continue
            if invoice.account.collection != Collection.AUTOMATIC:
                continue
            method = default_method(invoice.account_id)
            if method is None:
                continue
            try:
                payment = _payment_start(invoice, method, channel=PaymentChannel.AUTOMATIC)
            except ApplicationError:
                continue  # a payment is under way already
            _submit_after_commit(payment)
            retried += 1
    return retried


def dunning_suspend_due(*, today=None) -> int:
    """Invoices still unpaid `suspend_after_days` after their due day: their subscriptions are suspended."""
    from marketplace.choices import SubscriptionStatus
    from marketplace.services import subscription_suspend

    today = today or timezone.localdate()
    suspended = 0
    configs = {}
    candidates = Invoice.objects.filter(
        status__in=PAYABLE_STATUSES, kind=InvoiceKind.INVOICE, due_on__lt=today
    ).select_related("account__customer")
    for invoice in candidates.iterator():
        key = (invoice.marketplace_id, invoice.issuer_id)
        if key not in configs:
            configs[key] = config_for(*key)
        days = configs[key].suspend_after_days
        if days is None or invoice.due_on + timedelta(days=days) > today:
            continue
        subscription_ids = set(
            InvoiceLine.objects.filter(invoice=invoice, subscription__isnull=False, voided=False).values_list(
                "subscription_id", flat=True
            )
        )
        for subscription_id in sorted(subscription_ids):
            with transaction.atomic():
                from marketplace.models import Subscription

                subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
                if DunningSuspension.objects.filter(invoice=invoice, subscription=subscription).exists():
                    continue
                if subscription.status != SubscriptionStatus.ACTIVE:
                    # Suspended already for another unpaid invoice: this one holds the service too, so paying
                    # only the other does not restore it (dunning_restore checks what still holds it).
                    if DunningSuspension.objects.filter(subscription=subscription, restored_at=None).exists():
                        DunningSuspension.objects.create(invoice=invoice, subscription=subscription)
                    continue
                subscription_suspend(
                    subscription_id=subscription.pk, reason=f"unpaid invoice {invoice.number}", actor=None
                )
                DunningSuspension.objects.create(invoice=invoice, subscription=subscription)
                notice_send(
                    invoice.account,
                    kind=MessageKind.DUNNING_SUSPENDED,
                    key=f"suspended-{invoice.pk}-{subscription.pk}",
                    context={"invoice": invoice, "subscription": subscription},
                )
                suspended += 1
    return suspended


def dunning_restore(*, invoice_id: int) -> int:
    """`invoice.paid`: subscriptions suspended for it are restored, unless another unpaid invoice holds them."""
    from marketplace.choices import SubscriptionStatus
    from marketplace.services import subscription_resume

    restored = 0
    for suspension in DunningSuspension.objects.filter(invoice_id=invoice_id, restored_at=None).select_related(
        "invoice__account__customer", "subscription"
    ):
        with transaction.atomic():
            row = DunningSuspension.objects.select_for_update().get(pk=suspension.pk)
            if row.restored_at:
                continue
            row.restored_at = timezone.now()
            row.save(update_fields=["restored_at"])
            still_held = (
                DunningSuspension.objects.filter(subscription_id=row.subscription_id, restored_at=None)
                .exclude(pk=row.pk)
                .exists()
            )
            if still_held or suspension.subscription.status != SubscriptionStatus.SUSPENDED:
                continue
            subscription_resume(subscription_id=row.subscription_id, reason=f"invoice {suspension.invoice} paid")
            notice_send(
                suspension.invoice.account,
                kind=MessageKind.DUNNING_RESTORED,
                key=f"restored-{row.pk}",
                context={"invoice": suspension.invoice, "subscription": suspension.subscription},
            )
            restored += 1
    return restored
