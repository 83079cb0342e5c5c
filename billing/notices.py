"""Billing's messages to subscribers, sent through the core's notification service (cos.notifications): each is a
cos.Message, once per cause, in the customer's language, on the channels the customer wants, with its delivery
state in the admin (Messages) and in the portal.

- Dunning steps and payment problems are told in the transaction that records them (billing.dunning,
  billing.payments): a payment failed (with the next try's date), a payment needs confirmation, no payment method
  on file, the service suspended for an unpaid invoice, restored once it is paid.
- `invoice_issued_tell` (on `invoice.finalized`): the invoice, its PDF attached when the account's delivery is
  e-mail (then it is e-mailed even to a customer who turned e-mail messages off, to the invoice address).
- `payment_received_tell` (on `payment.succeeded`): money received for an invoice (not credit moved around).
- `dunning_reminder_tell` (on `invoice.late`): the invoice is past due, with the day the service is suspended
  when the provider's dunning suspends.

Every message of an account goes to its invoice e-mail address when it has one, else the customer's.
"""

from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone

from billing.choices import Collection, Delivery, InvoiceKind, MethodType
from billing.models import BillingAccount, Invoice, Payment
from billing.pdf import render_invoice_pdf
from billing.selectors import config_for
from cos import notifications
from cos.choices import MessageKind
from cos.models import Message

INVOICE_PDF = "invoice_pdf"


def notice_send(
    account: BillingAccount,
    *,
    kind: str,
    key: str,
    context: dict,
    mandatory: bool = False,
    attachments: Iterable[dict] = (),
) -> list[Message]:
    """Tell the account's customer about `kind` once per `key`, in the caller's transaction (sent after commit);
    times in the time zone of the invoice's marketplace where the message is about an invoice."""
    invoice = context.get("invoice")
    marketplace = getattr(invoice, "marketplace", None)
    return notifications.notify(
        time_zone=getattr(marketplace, "time_zone", None),
        customer=account.customer,
        kind=kind,
        key=key,
        context={"account": account, **context},
        mandatory=mandatory,
        email=account.invoice_email or None,
        attachments=attachments,
    )


@notifications.attachment(INVOICE_PDF)
def invoice_pdf(ref) -> tuple[str, bytes, str]:
    """The invoice's PDF, made when the e-mail is sent."""
    invoice = Invoice.objects.select_related("issuer", "account__customer").get(pk=ref)
    return f"{invoice.number}.pdf", render_invoice_pdf(invoice), "application/pdf"


def invoice_issued_tell(*, invoice_id: int) -> list[Message]:
    """`invoice.finalized`: tell the subscriber the invoice (or the credit note) is issued; e-mailed with its PDF
    when the account's delivery is e-mail."""
    invoice = Invoice.objects.select_related("account__customer", "issuer", "corrects").get(pk=invoice_id)
    account = invoice.account
    by_email = account.delivery == Delivery.EMAIL
    charged = (
        account.collection == Collection.AUTOMATIC
        and account.payment_methods.filter(is_default=True, removed_at__isnull=True).exists()
    )
    credit = invoice.kind == InvoiceKind.CREDIT_NOTE
    return notice_send(
        account,
        kind=MessageKind.CREDIT_NOTE_ISSUED if credit else MessageKind.INVOICE_ISSUED,
        key=f"invoice-{invoice.pk}",
        context={
            "invoice": invoice,
            "amount": -invoice.total if credit else invoice.total,
            "pdf_attached": by_email,
            "automatic": charged,  # charged to a method on file: nothing to do (without one, that is told apart)
        },
        mandatory=by_email,
        attachments=[{"kind": INVOICE_PDF, "ref": invoice.pk}] if by_email else (),
    )


# Money moved from what the subscriber has with us already, not received from them.
_NOT_RECEIVED = (MethodType.CREDIT_BALANCE, MethodType.CREDIT_NOTE)


def payment_received_tell(*, payment_id: int) -> list[Message]:
    """`payment.succeeded`: thank the subscriber for money received."""
    payment = Payment.objects.select_related("account__customer", "invoice").get(pk=payment_id)
    if payment.method_type in _NOT_RECEIVED:
        return []
    return notice_send(
        payment.account,
        kind=MessageKind.PAYMENT_RECEIVED,
        key=f"received-{payment.pk}",
        context={"payment": payment, "invoice": payment.invoice, "paid_on": payment.received_on or payment.settled_at},
    )


def dunning_reminder_tell(*, invoice_id: int) -> list[Message]:
    """`invoice.late`: remind the subscriber of an invoice past due (unless the provider's dunning tells nothing)."""
    invoice = Invoice.objects.select_related("account__customer", "issuer").get(pk=invoice_id)
    config = config_for(invoice.marketplace_id, invoice.issuer_id)
    if not config.notify_subscriber or invoice.kind != InvoiceKind.INVOICE:
        return []
    days = config.suspend_after_days
    suspend_on = invoice.due_on + timedelta(days=days) if days is not None and invoice.due_on else None
    if suspend_on is not None and suspend_on <= timezone.localdate():
        suspend_on = None  # a day already come is not a warning (the suspension's own message says it)
    return notice_send(
        invoice.account,
        kind=MessageKind.DUNNING_REMINDER,
        key=f"reminder-{invoice.pk}",
        context={"invoice": invoice, "suspend_on": suspend_on},
    )
