"""Choices of billing: cycles, collection, invoice states and kinds, line kinds, override kinds."""

from django.db import models

from billing import engine


class Collection(models.TextChoices):
    AUTOMATIC = "automatic", "Automatic (charge the payment method on file)"
    MANUAL = "manual", "Manual (the subscriber pays each invoice)"


class Delivery(models.TextChoices):
    EMAIL = "email", "E-mail"
    PORTAL = "portal", "Portal only"
    POST = "post", "Post"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    LATE = "late", "Late"
    PROCESSING = "processing", "Payment processing"
    VOID = "void", "Void"
    UNCOLLECTIBLE = "uncollectible", "Uncollectible"


UNPAID_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.LATE, InvoiceStatus.PROCESSING)
# An automatic charge or a payment from the portal can be asked for only while nothing is already in flight.
PAYABLE_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.LATE)


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"


class InvoiceReason(models.TextChoices):
    ACTIVATION = "activation", "First invoice at activation"
    CYCLE = "cycle", "Billing cycle"
    ADJUSTMENT = "adjustment", "Change of service (plan, pause, termination)"
    FINAL = "final", "Final invoice"
    LATE_FEE = "late_fee", "Late fee"
    MANUAL = "manual", "Manual"


class LineKind(models.TextChoices):
    RECURRING = engine.RECURRING, "Recurring"
    PRORATED = engine.PRORATED, "Prorated recurring"
    START_FEE = engine.START_FEE, "Start fee"
    PROMOTION = engine.PROMOTION, "Promotion"
    CREDIT = engine.CREDIT, "Credit / refund"
    LATE_FEE = engine.LATE_FEE, "Late fee"
    TAX = engine.TAX, "Tax"
    FEE = engine.FEE, "Fee"
    ADJUSTMENT = engine.ADJUSTMENT, "Manual adjustment"


class LateFeeKind(models.TextChoices):
    NONE = "none", "No late fee"
    FIXED = "fixed", "Fixed amount"
    PERCENT = "percent", "Percent of the open amount"


class OverrideKind(models.TextChoices):
    MANUAL_PRICE = "manual_price", "Manual price"
    DISCOUNT = "discount", "Discount"
    CREDIT = "credit", "Credit"
    WRITE_OFF = "write_off", "Write-off"
    REFUND = "refund", "Refund"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class MethodType(models.TextChoices):
    CARD = "card", "Card"
    SEPA_DEBIT = "sepa_debit", "SEPA Direct Debit"
    US_BANK_ACCOUNT = "us_bank_account", "ACH Direct Debit"
    BANK_TRANSFER = "bank_transfer", "Bank transfer"
    CASH = "cash", "Cash"
    CHEQUE = "cheque", "Cheque"
    CREDIT_BALANCE = "credit_balance", "Credit balance"
    CREDIT_NOTE = "credit_note", "Credit note"


GATEWAY_METHOD_TYPES = (MethodType.CARD, MethodType.SEPA_DEBIT, MethodType.US_BANK_ACCOUNT)
# Debits settle days later: the payment is processing (the invoice not yet paid) until the gateway says so.
DELAYED_METHOD_TYPES = (MethodType.SEPA_DEBIT, MethodType.US_BANK_ACCOUNT)
MANUAL_METHOD_TYPES = (MethodType.BANK_TRANSFER, MethodType.CASH, MethodType.CHEQUE)


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending (sent to the gateway)"
    PROCESSING = "processing", "Processing"
    REQUIRES_ACTION = "requires_action", "Needs the subscriber (authentication)"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


IN_FLIGHT_PAYMENT_STATUSES = (PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_ACTION)


class PaymentChannel(models.TextChoices):
    AUTOMATIC = "automatic", "Automatic collection"
    PORTAL = "portal", "Paid in the portal"
    STAFF = "staff", "Recorded by staff"
    CREDIT = "credit", "Credit applied"


class RefundStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class CreditKind(models.TextChoices):
    OVERPAYMENT = "overpayment", "Overpayment"
    CREDIT_NOTE = "credit_note", "Credit note"
    REFUND_FAILED = "refund_failed", "Refund that could not be paid out"
    APPLIED = "applied", "Applied to an invoice"


class GatewayEventOutcome(models.TextChoices):
    APPLIED = "applied", "Applied"
    IGNORED = "ignored", "Ignored (nothing to change)"
    UNMATCHED = "unmatched", "No matching payment"
    UNHANDLED = "unhandled", "Event type not handled"
    DEFERRED = "deferred", "Recorded; applied after commit (calls the gateway)"


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"
