"""Rate cards, settlement statements per provider and month computed from the ledger, variance, disputes."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition

from cos.models import StatefulModel, TimeStampedModel
from marketplace.choices import ProductCategory
from marketplace.models.marketplaces import currency_validator
from wholesale.choices import (
    DisputeReason,
    DisputeStatus,
    LineKind,
    StatementStatus,
    VarianceKind,
)

MONEY = {"max_digits": 14, "decimal_places": 2}


class RateCard(TimeStampedModel):
    """One version of what an operator charges a provider (empty: every provider without a card of its own) for
    access, optionally only in one marketplace or one area; valid from a day (inclusive) to a day (exclusive).

    The versions of one scope never overlap: an exclusion constraint on PostgreSQL (migration 0002), the service
    (wholesale.rates.rate_card_create) on every database. A new price is a new version; a version on an issued
    statement is never edited.
    """

    operator = models.ForeignKey(
        "cos.Organization",
        on_delete=models.PROTECT,
        related_name="rate_cards_issued",
        limit_choices_to={"kind": "network_operator"},
    )
    provider = models.ForeignKey(
        "cos.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rate_cards",
        limit_choices_to={"kind": "service_provider"},
        help_text="Empty: the default card, for providers without one of their own.",
    )
    marketplace = models.ForeignKey(
        "marketplace.Marketplace", null=True, blank=True, on_delete=models.PROTECT, related_name="rate_cards"
    )
    area = models.ForeignKey("cos.Area", null=True, blank=True, on_delete=models.PROTECT, related_name="rate_cards")
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True, help_text="Exclusive; empty: until a next version.")
    dispute_window_days = models.PositiveSmallIntegerField(
        default=30, help_text="The provider may dispute a statement's lines for this many days after it is issued."
    )
    payment_days = models.PositiveSmallIntegerField(default=30, help_text="A statement is due this many days after.")
    tax_rate = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.2500"),
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="VAT on the statement (added to its net); none where the provider is abroad (reverse charge).",
    )

    class Meta:
        ordering = ["operator__name", "provider__name", "marketplace__name", "area__name", "-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")), name="rate_card_range"
            ),
            # On PostgreSQL: rate_card_versions_never_overlap (EXCLUDE USING gist), migration 0002.
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} (from {self.valid_from})"

    @property
    def scope(self) -> str:
        parts = [str(self.provider) if self.provider_id else "every provider"]
        if self.marketplace_id:
            parts.append(f"in {self.marketplace}")
        if self.area_id:
            parts.append(f"in area {self.area}")
        return ", ".join(parts)

    def covers(self, day) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


class Rate(models.Model):
    """A card's prices for a product category, for one network profile (empty: every profile of the category)."""

    card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="rates")
    category = models.CharField(max_length=16, choices=ProductCategory.choices)
    profile = models.CharField(max_length=64, blank=True, help_text="e.g. HSI_1000_1000; empty: any profile.")
    monthly_rate = models.DecimalField(**MONEY, validators=[MinValueValidator(0)])
    activation_fee = models.DecimalField(**MONEY, default=Decimal("0.00"), validators=[MinValueValidator(0)])
    suspended_rate = models.DecimalField(
        **MONEY,
        default=Decimal("0.00"),
        validators=[MinValueValidator(0)],
        help_text="A month of a suspended service (0: suspended days cost nothing, and are listed at 0).",
    )

    class Meta:
        ordering = ["card", "category", "profile"]
        constraints = [models.UniqueConstraint(fields=["card", "category", "profile"], name="rate_once_per_card")]

    def __str__(self) -> str:
        return f"{self.get_category_display()} {self.profile or '(any profile)'}: {self.monthly_rate}/month"


class SettlementRun(TimeStampedModel):
    """One run of settlement for an operator and a month: the rates in force each day it found, what it made."""

    operator = models.ForeignKey("cos.Organization", on_delete=models.PROTECT, related_name="+")
    month = models.DateField(help_text="The month's first day.")
    provider = models.ForeignKey(
        "cos.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Empty: all."
    )
    lines_added = models.PositiveIntegerField(default=0)
    statements_touched = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Settlement of {self.month:%Y-%m} ({self.created_at:%Y-%m-%d %H:%M})"


class RateSlice(models.Model):
    """Which card is in force, for a provider in a marketplace (and an area with a card of its own), from a day to
    a day of the run's month: the most specific card valid on each day. Statement lines join these rows."""

    run = models.ForeignKey(SettlementRun, on_delete=models.CASCADE, related_name="slices")
    provider = models.ForeignKey("cos.Organization", on_delete=models.CASCADE, related_name="+")
    marketplace = models.ForeignKey("marketplace.Marketplace", on_delete=models.CASCADE, related_name="+")
    area = models.ForeignKey("cos.Area", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    first_day = models.DateField()
    until = models.DateField(help_text="Exclusive.")
    card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["run", "provider", "marketplace"], name="slice_scope")]

    def __str__(self) -> str:
        return f"{self.card} from {self.first_day} to {self.until}"


class StatementSequence(models.Model):
    """The last statement number given per issuer and year; locked while a number is taken (gapless)."""

    issuer = models.ForeignKey("cos.Organization", on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "year"], name="statement_sequence_once")]

    def __str__(self) -> str:
        return f"WS-{self.year}: {self.last_number}"


class Statement(StatefulModel):
    """What an operator charges one provider for one month, from the ledger at the rate cards in force each day.

    A draft grows as the month's run finds periods; once issued it never changes (the lines are frozen, and a
    correction is an adjustment line on a later statement).
    """

    operator = models.ForeignKey("cos.Organization", on_delete=models.PROTECT, related_name="statements_issued")
    provider = models.ForeignKey("cos.Organization", on_delete=models.PROTECT, related_name="statements")
    currency = models.CharField(max_length=3)
    month = models.DateField(help_text="The month's first day.")
    status = FSMField(default=StatementStatus.DRAFT, choices=StatementStatus.choices, protected=True)
    number = models.CharField(max_length=40, blank=True)
    subtotal = models.DecimalField(**MONEY, default=Decimal("0.00"))
    tax_rate = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal("0"))
    tax = models.DecimalField(**MONEY, default=Decimal("0.00"))
    total = models.DecimalField(**MONEY, default=Decimal("0.00"))
    retail_collected = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Revenue share: what subscribers paid in the month (net of refunds)."
    )
    payout = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Revenue share: retail collected less this statement's total."
    )
    issued_on = models.DateField(null=True, blank=True)
    due_on = models.DateField(null=True, blank=True)
    disputable_until = models.DateField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-month", "provider__name"]
        constraints = [
            models.UniqueConstraint(fields=["operator", "provider", "currency", "month"], name="statement_once"),
            models.UniqueConstraint(
                fields=["operator", "number"], condition=~Q(number=""), name="statement_number_once"
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"Draft statement {self.month:%Y-%m} for {self.provider}"

    @property
    def is_frozen(self) -> bool:
        return self.status != StatementStatus.DRAFT

    @transition(field=status, source=StatementStatus.DRAFT, target=StatementStatus.ISSUED)
    def issue(self, *, number: str, issued_on, due_on, disputable_until, by=None, reason: str = "") -> None:
        """Numbered and frozen; the provider is told."""
        self.number, self.issued_on, self.due_on, self.disputable_until = number, issued_on, due_on, disputable_until

    @transition(field=status, source=StatementStatus.ISSUED, target=StatementStatus.DISPUTED)
    def dispute(self, *, by=None, reason: str = "") -> None:
        """A dispute of some of its lines is open; the rest stays due."""

    @transition(field=status, source=StatementStatus.DISPUTED, target=StatementStatus.ISSUED)
    def disputes_closed(self, *, by=None, reason: str = "") -> None:
        """Every dispute of it is decided or withdrawn."""

    @transition(field=status, source=StatementStatus.ISSUED, target=StatementStatus.SETTLED)
    def settle(self, *, at, by=None, reason: str = "") -> None:
        """Paid (or paid out): closed."""
        self.settled_at = at


COPIED = {"db_index": False, "db_constraint": False}


class StatementLine(models.Model):
    """One line: a ledger period's days in the month at one card's rate (access or suspended), a one-off
    activation fee, or an adjustment (an upheld dispute credited, a correction of an earlier statement)."""

    # Indexed by statement_line_kind (statement first) and period_days_once (period first). The ledger's periods
    # are never deleted (their queryset refuses to): a database constraint to them would only lock each of a
    # month's million periods while its lines are written.
    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="lines", db_index=False)
    kind = models.CharField(max_length=16, choices=LineKind.choices)
    period = models.ForeignKey(
        "provisioning.ServicePeriod", **COPIED, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # What a line copies from its period, as it stood: read with its statement, never looked up by. No index and
    # no database constraint (a month's run writes a million of them); the period's constraint holds the line.
    service = models.ForeignKey(
        "provisioning.ServiceInstance", **COPIED, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subscription = models.ForeignKey(
        "marketplace.Subscription", **COPIED, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    address = models.ForeignKey(
        "cos.AddressObject", **COPIED, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    marketplace = models.ForeignKey(
        "marketplace.Marketplace", **COPIED, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    category = models.CharField(max_length=16, choices=ProductCategory.choices, blank=True)
    profile = models.CharField(max_length=64, blank=True)
    card = models.ForeignKey(RateCard, **COPIED, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rate = models.ForeignKey(Rate, **COPIED, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    first_day = models.DateField(null=True, blank=True)
    until = models.DateField(null=True, blank=True, help_text="Exclusive.")
    days = models.PositiveSmallIntegerField(default=0)
    month_days = models.PositiveSmallIntegerField(default=0)
    unit_rate = models.DecimalField(**MONEY, default=Decimal("0.00"), help_text="Monthly rate, or the fee.")
    amount = models.DecimalField(**MONEY)
    description = models.CharField(max_length=300, blank=True)
    dispute = models.ForeignKey(
        "wholesale.StatementDispute",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="adjustments",
        db_index=False,  # statement_line_dispute: only the few lines that have one
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            # A period's days from a day go on one line, once: a rerun of the month adds nothing.
            models.UniqueConstraint(
                fields=["period", "kind", "first_day"], condition=Q(period__isnull=False), name="period_days_once"
            ),
            models.UniqueConstraint(
                fields=["dispute"], condition=Q(kind=LineKind.ADJUSTMENT, dispute__isnull=False), name="upheld_once"
            ),
        ]
        indexes = [
            models.Index(fields=["statement", "kind"], name="statement_line_kind"),
            models.Index(fields=["dispute"], condition=Q(dispute__isnull=False), name="statement_line_dispute"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.amount}"


class StatementDispute(StatefulModel):
    """A provider's dispute of some lines of an issued statement: open -> under review -> upheld | rejected, or
    withdrawn. An upheld dispute is credited as an adjustment line on the provider's next statement."""

    statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="disputes")
    status = FSMField(default=DisputeStatus.OPEN, choices=DisputeStatus.choices, protected=True)
    reason_code = models.CharField(max_length=16, choices=DisputeReason.choices)
    text = models.TextField(blank=True)
    amount = models.DecimalField(**MONEY, help_text="The amount in question (the sum of its lines' amounts).")
    upheld_amount = models.DecimalField(**MONEY, null=True, blank=True)
    decision = models.TextField(blank=True)
    opened_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Dispute {self.pk} of {self.statement} ({self.get_status_display().lower()})"

    @transition(field=status, source=DisputeStatus.OPEN, target=DisputeStatus.UNDER_REVIEW)
    def review(self, *, by=None, reason: str = "") -> None:
        """The operator is looking into it."""

    @transition(field=status, source=[DisputeStatus.OPEN, DisputeStatus.UNDER_REVIEW], target=DisputeStatus.UPHELD)
    def uphold(self, *, amount: Decimal, at, by=None, reason: str = "") -> None:
        """The provider is right (for `amount`): credited on the next statement."""
        self.upheld_amount, self.decision, self.decided_at = amount, reason, at

    @transition(field=status, source=[DisputeStatus.OPEN, DisputeStatus.UNDER_REVIEW], target=DisputeStatus.REJECTED)
    def reject(self, *, at, by=None, reason: str = "") -> None:
        """The charge stands."""
        self.decision, self.decided_at = reason, at

    @transition(field=status, source=[DisputeStatus.OPEN, DisputeStatus.UNDER_REVIEW], target=DisputeStatus.WITHDRAWN)
    def withdraw(self, *, at, by=None, reason: str = "") -> None:
        """The provider takes it back."""
        self.decision, self.decided_at = reason, at


class DisputedLine(models.Model):
    """A line of a dispute: which statement line, and how much of it is in question."""

    dispute = models.ForeignKey(StatementDispute, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(StatementLine, on_delete=models.PROTECT, related_name="disputed")
    amount = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0.01"))])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dispute", "line"], name="disputed_line_once")]

    def __str__(self) -> str:
        return f"{self.amount} of line {self.line_id}"

    def clean(self) -> None:
        if self.line_id and self.amount is not None and self.amount > abs(self.line.amount):
            raise ValidationError({"amount": "More than the line's amount is in question."})


class Variance(models.Model):
    """A difference between what the network delivered (ledger days), what subscribers were billed (retail days)
    and what the provider's statement charges, for one service in one month. Recomputed by each variance check;
    `amount` is what the statement would change by if it followed the network."""

    operator = models.ForeignKey("cos.Organization", on_delete=models.CASCADE, related_name="+")
    provider = models.ForeignKey("cos.Organization", on_delete=models.CASCADE, related_name="variances")
    month = models.DateField()
    kind = models.CharField(max_length=32, choices=VarianceKind.choices)
    service = models.ForeignKey("provisioning.ServiceInstance", null=True, on_delete=models.CASCADE, related_name="+")
    subscription = models.ForeignKey("marketplace.Subscription", null=True, on_delete=models.CASCADE, related_name="+")
    network_days = models.IntegerField(default=0)
    retail_days = models.IntegerField(default=0)
    statement_days = models.IntegerField(default=0)
    expected = models.DecimalField(**MONEY, default=Decimal("0.00"), help_text="At the card's rates, per the ledger.")
    charged = models.DecimalField(**MONEY, default=Decimal("0.00"), help_text="On the statement.")
    amount = models.DecimalField(**MONEY, help_text="expected − charged")
    detail = models.CharField(max_length=300, blank=True)
    found_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["month", "provider", "kind", "service"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "month", "kind", "service"], name="variance_once"),
        ]
        indexes = [models.Index(fields=["operator", "month"], name="variance_month")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.amount}"


__all__ = [
    "DisputedLine",
    "Rate",
    "RateCard",
    "RateSlice",
    "SettlementRun",
    "Statement",
    "StatementDispute",
    "StatementLine",
    "StatementSequence",
    "Variance",
]
