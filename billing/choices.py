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
    VOID = "void", "Void"
    UNCOLLECTIBLE = "uncollectible", "Uncollectible"


UNPAID_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.LATE)


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


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
