"""Invoices and credit notes, their lines, gapless numbering, billing runs and audited pricing overrides."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django_fsm import RETURN_VALUE, FSMField, transition

from billing.choices import (
    InvoiceKind,
    InvoiceReason,
    InvoiceStatus,
    LineKind,
    OverrideKind,
    RunStatus,
)
from billing.models.accounts import MONEY, BillingAccount, ReasonCode
from cos.models import StatefulModel
from marketplace.pricing import tax_percent


class Invoice(StatefulModel):
    """An invoice (or a credit note: negative total). Drafts can be reviewed; finalizing numbers and freezes it."""

    account = models.ForeignKey(BillingAccount, on_delete=models.PROTECT, related_name="invoices")
    issuer = models.ForeignKey("cos.Organization", on_delete=models.PROTECT, related_name="+")
    marketplace = models.ForeignKey("marketplace.Marketplace", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=InvoiceKind.choices, default=InvoiceKind.INVOICE)
    reason = models.CharField(max_length=16, choices=InvoiceReason.choices)
    status = FSMField(default=InvoiceStatus.DRAFT, choices=InvoiceStatus.choices, protected=True)
    number = models.CharField(max_length=40, blank=True)
    payment_reference = models.CharField(
        max_length=25, blank=True, help_text="OCR reference with a check digit, given with the number."
    )
    currency = models.CharField(max_length=3)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal("0"))
    prices_include_tax = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Its lines' prices include the tax (gross, the tax stated), as its marketplace priced them when "
        "it was drafted; otherwise net with tax added.",
    )
    subtotal = models.DecimalField(**MONEY, default=Decimal("0.00"))
    tax = models.DecimalField(**MONEY, default=Decimal("0.00"))
    total = models.DecimalField(**MONEY, default=Decimal("0.00"))
    amount_paid = models.DecimalField(**MONEY, default=Decimal("0.00"))
    finalize_after = models.DateTimeField(null=True, blank=True, db_index=True)
    issued_on = models.DateField(null=True, blank=True)
    due_on = models.DateField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    late_at = models.DateTimeField(null=True, blank=True)
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections")
    run = models.ForeignKey("billing.BillingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "number"], condition=~models.Q(number=""), name="invoice_number_once"
            ),
            models.UniqueConstraint(
                fields=["issuer", "payment_reference"],
                condition=~models.Q(payment_reference=""),
                name="invoice_payment_reference_once",
            ),
            # What is paid lies between nothing and the total (a credit note's total and settlement are negative).
            models.CheckConstraint(
                condition=(
                    models.Q(total__gte=0, amount_paid__gte=0, amount_paid__lte=models.F("total"))
                    | models.Q(total__lt=0, amount_paid__lte=0, amount_paid__gte=models.F("total"))
                ),
                name="invoice_paid_within_total",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_on"], name="invoice_status_due"),
            models.Index(fields=["account", "status"], name="invoice_account_status"),
        ]
        permissions = [
            ("override_pricing", "Can override prices, give discounts and credits, write off debts"),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft {self.get_kind_display().lower()} #{self.pk}"

    @property
    def open_amount(self) -> Decimal:
        return self.total - self.amount_paid

    @property
    def is_credit_note(self) -> bool:
        return self.kind == InvoiceKind.CREDIT_NOTE

    @property
    def tax_label(self) -> str:
        """The tax as its totals state it: "of which VAT 25 %" in a gross total, else "VAT 25 %" added."""
        label = f"VAT {tax_percent(self.tax_rate)} %"
        return f"of which {label}" if self.prices_include_tax else label

    @transition(field=status, source=InvoiceStatus.DRAFT, target=InvoiceStatus.OPEN)
    def finalize(
        self, *, number: str, at, issued_on, due_on, payment_reference: str = "", by=None, reason: str = ""
    ) -> None:
        self.number, self.finalized_at, self.issued_on, self.due_on = number, at, issued_on, due_on
        self.payment_reference = payment_reference

    @transition(
        field=status,
        source=[InvoiceStatus.OPEN, InvoiceStatus.LATE, InvoiceStatus.PROCESSING],
        target=InvoiceStatus.PAID,
    )
    def mark_paid(self, *, at, by=None, reason: str = "") -> None:
        self.paid_at = at

    @transition(field=status, source=[InvoiceStatus.OPEN, InvoiceStatus.LATE], target=InvoiceStatus.PROCESSING)
    def start_processing(self, *, by=None, reason: str = "") -> None:
        """A bank debit covering the open amount is on its way: not paid until the gateway says it settled."""

    @transition(
        field=status,
        source=[InvoiceStatus.PROCESSING, InvoiceStatus.PAID],
        target=RETURN_VALUE(InvoiceStatus.OPEN, InvoiceStatus.LATE),
    )
    def reopen(self, *, by=None, reason: str = "") -> str:
        """The money did not arrive (a debit failed days later) or was taken back (a lost dispute): unpaid again,
        late if it had been late before."""
        self.paid_at = None
        return InvoiceStatus.LATE if self.late_at else InvoiceStatus.OPEN

    @transition(field=status, source=InvoiceStatus.OPEN, target=InvoiceStatus.LATE)
    def mark_late(self, *, at, by=None, reason: str = "") -> None:
        self.late_at = at

    @transition(
        field=status, source=[InvoiceStatus.DRAFT, InvoiceStatus.OPEN, InvoiceStatus.LATE], target=InvoiceStatus.VOID
    )
    def void(self, *, at, by=None, reason: str = "") -> None:
        self.voided_at = at

    @transition(field=status, source=InvoiceStatus.LATE, target=InvoiceStatus.UNCOLLECTIBLE)
    def write_off(self, *, by=None, reason: str = "") -> None:
        """The debt is given up (audited with a reason code)."""


class InvoiceLine(models.Model):
    """One line. Days-bearing lines record the days they bill (coverage +1) or credit (coverage -1)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    subscription = models.ForeignKey(
        "marketplace.Subscription", null=True, blank=True, on_delete=models.PROTECT, related_name="invoice_lines"
    )
    kind = models.CharField(max_length=16, choices=LineKind.choices)
    description = models.CharField(max_length=300)
    amount = models.DecimalField(**MONEY, help_text="Net of tax (the tax line: the tax).")
    tax = models.DecimalField(
        **MONEY,
        default=Decimal("0.00"),
        db_default=Decimal("0.00"),
        help_text="The tax its gross price includes, when the invoice's prices include tax (otherwise 0: the tax "
        "is reckoned once on the net of the lines).",
    )
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    rate = models.DecimalField(**MONEY, null=True, blank=True)
    days = models.PositiveSmallIntegerField(default=0)
    period_days = models.PositiveSmallIntegerField(default=0)
    coverage = models.SmallIntegerField(default=0)
    repeat = models.PositiveSmallIntegerField(
        default=0,
        help_text="How many lines for the same days, rate and sign came before (days credited, then charged again).",
    )
    refers_to = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    voided = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            # The same days of a subscription are never billed (or credited) twice at the same rate: a rerun of
            # a cycle or a second delivery of an event cannot double-bill. Days credited and charged again (a
            # suspension lifted the same day) are a new repeat of the line, counted from what is on the books.
            models.UniqueConstraint(
                fields=["subscription", "kind", "period_start", "period_end", "rate", "coverage", "repeat"],
                condition=models.Q(voided=False, subscription__isnull=False, period_start__isnull=False),
                name="days_billed_once",
            ),
            models.UniqueConstraint(
                fields=["subscription"],
                condition=models.Q(voided=False, kind="start_fee"),
                name="start_fee_once",
            ),
            models.UniqueConstraint(
                fields=["refers_to"], condition=models.Q(voided=False, kind="late_fee"), name="late_fee_once"
            ),
        ]
        indexes = [models.Index(fields=["subscription", "period_start"], name="line_subscription_period")]

    def __str__(self) -> str:
        return f"{self.description}: {self.shown_amount}"

    @property
    def shown_amount(self) -> Decimal:
        """What the line says it costs: its gross price on an invoice whose prices include tax, else its net."""
        return self.amount + self.tax


class InvoiceSequence(models.Model):
    """The last number given per issuer, year and series; locked while a number is taken, so numbers are gapless."""

    issuer = models.ForeignKey("cos.Organization", on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    series = models.CharField(max_length=8)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "year", "series"], name="sequence_once")]

    def __str__(self) -> str:
        return f"{self.series}-{self.year}: {self.last_number}"


class BillingRun(StatefulModel):
    """One run of the cycle for a day: how far it got. Repeating it bills nothing twice."""

    as_of = models.DateField(db_index=True)
    status = FSMField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING, protected=True)
    chunks = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    invoices = models.PositiveIntegerField(default=0)
    lines = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Billing run {self.as_of}"

    @transition(field=status, source=RunStatus.RUNNING, target=RunStatus.DONE)
    def finish(self, *, at, by=None, reason: str = "") -> None:
        """Every chunk is billed."""
        self.finished_at = at


class PricingOverride(models.Model):
    """An audited manual price, discount, credit or write-off: who, when, old, new, why. A pricing exception."""

    kind = models.CharField(max_length=16, choices=OverrideKind.choices)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="overrides")
    line = models.ForeignKey(InvoiceLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    result = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    old_value = models.DecimalField(**MONEY, null=True, blank=True)
    new_value = models.DecimalField(**MONEY, null=True, blank=True)
    reason_code = models.ForeignKey(ReasonCode, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.invoice}"
