"""Who is billed, by whom, on what rules: configuration, billing accounts and each subscription's schedule."""

from decimal import Decimal

from django.core.validators import MinValueValidator, validate_comma_separated_integer_list
from django.db import models

from billing.choices import Collection, Delivery, LateFeeKind
from cos.models import TimeStampedModel
from marketplace.choices import BillingCycle

MONEY = {"max_digits": 12, "decimal_places": 2}


class BillingConfig(TimeStampedModel):
    """Billing rules of a marketplace (provider empty) or of one provider on it (overrides the marketplace's)."""

    marketplace = models.ForeignKey("marketplace.Marketplace", on_delete=models.CASCADE, related_name="billing_configs")
    provider = models.ForeignKey(
        "cos.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="billing_configs"
    )
    billing_cycle = models.CharField(
        max_length=16,
        choices=BillingCycle.choices,
        blank=True,
        help_text="Empty: the cycle the subscription was sold on.",
    )
    due_days = models.PositiveSmallIntegerField(default=14)
    review_minutes = models.PositiveIntegerField(
        default=0, help_text="How long a new draft can be reviewed before it is finalized; 0 finalizes at once."
    )
    late_fee_kind = models.CharField(max_length=16, choices=LateFeeKind.choices, default=LateFeeKind.FIXED)
    late_fee_value = models.DecimalField(**MONEY, default=Decimal("60.00"), validators=[MinValueValidator(0)])
    late_fee_grace_days = models.PositiveSmallIntegerField(default=5)
    late_fee_minimum_balance = models.DecimalField(**MONEY, default=Decimal("0.00"), validators=[MinValueValidator(0)])
    refund_on_termination = models.BooleanField(default=True)
    recovery_fee = models.DecimalField(
        **MONEY,
        default=Decimal("0.00"),
        validators=[MinValueValidator(0)],
        help_text="Charged on the final invoice when the equipment is not returned.",
    )
    retry_days = models.CharField(
        max_length=60,
        default="3,5,7",
        validators=[validate_comma_separated_integer_list],
        help_text="Dunning: days to wait after the 1st, 2nd, ... failed automatic payment before it is tried again, "
        "e.g. 3,5,7 (empty: never).",
    )
    notify_subscriber = models.BooleanField(
        default=True, help_text="Dunning: e-mail the subscriber when a payment fails or needs confirmation."
    )
    suspend_after_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Dunning: suspend the service this many days after the due day while unpaid (empty: never). "
        "It is restored when the invoice is paid.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["marketplace", "provider"], name="billing_config_once"),
            models.UniqueConstraint(
                fields=["marketplace"],
                condition=models.Q(provider__isnull=True),
                name="billing_config_marketplace_once",
            ),
        ]

    def __str__(self) -> str:
        return f"Billing rules of {self.provider or self.marketplace}"

    @property
    def retry_schedule(self) -> list[int]:
        """Days to wait after each failed automatic payment (the 1st, 2nd, ...) before trying again."""
        return [int(day) for day in self.retry_days.split(",") if day.strip()]


class ReasonCode(TimeStampedModel):
    """Why a price was overridden, a credit given or a debt written off: a configurable list."""

    code = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=200)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.label


class BillingAccount(TimeStampedModel):
    """A customer as billed by one issuing provider in one currency."""

    customer = models.ForeignKey("cos.Customer", on_delete=models.PROTECT, related_name="billing_accounts")
    provider = models.ForeignKey("cos.Organization", on_delete=models.PROTECT, related_name="billing_accounts")
    currency = models.CharField(max_length=3)
    billing_cycle = models.CharField(max_length=16, choices=BillingCycle.choices, default=BillingCycle.MONTHLY)
    collection = models.CharField(max_length=16, choices=Collection.choices, default=Collection.MANUAL)
    delivery = models.CharField(max_length=16, choices=Delivery.choices, default=Delivery.EMAIL)
    invoice_email = models.EmailField(blank=True)
    gateway_customer = models.CharField(
        max_length=100, blank=True, help_text="The customer's id at the payment gateway (made on first use)."
    )

    class Meta:
        ordering = ["customer_id", "provider_id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "provider", "currency"], name="billing_account_once"),
        ]

    def __str__(self) -> str:
        return f"{self.customer} at {self.provider} ({self.currency})"


class BillingSchedule(TimeStampedModel):
    """Where billing of one subscription stands: from the verified activation to the verified deactivation.

    `billed_until` is the first day not yet billed (the next period's start); the cycle run bills the schedules
    whose `billed_until` has come. One schedule per subscription: a second `service.activated` finds it.
    """

    subscription = models.OneToOneField(
        "marketplace.Subscription", on_delete=models.PROTECT, related_name="billing_schedule"
    )
    account = models.ForeignKey(BillingAccount, on_delete=models.PROTECT, related_name="schedules")
    cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    activated_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True, help_text="Deactivation day; not billed.")
    billed_until = models.DateField(db_index=True)
    equipment_returned = models.BooleanField(default=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["billed_until"], condition=models.Q(ends_on__isnull=True), name="due_open")]

    def __str__(self) -> str:
        return f"Billing of subscription {self.subscription_id}"


class RateChange(TimeStampedModel):
    """The monthly rate of a subscription from a day on: the first at activation, then plan changes."""

    schedule = models.ForeignKey(BillingSchedule, on_delete=models.CASCADE, related_name="rate_changes")
    effective_on = models.DateField()
    monthly_amount = models.DecimalField(**MONEY)
    product = models.ForeignKey("marketplace.Product", null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        ordering = ["effective_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "effective_on"], name="one_rate_change_a_day"),
        ]


class Pause(TimeStampedModel):
    """Days a subscription is not billed: a suspension (`ends_on` empty while it lasts), or days an operator
    credited (e.g. while its billing was blocked; `note` says why)."""

    schedule = models.ForeignKey(BillingSchedule, on_delete=models.CASCADE, related_name="pauses")
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True, help_text="Why the days are credited (empty: a suspension).")

    class Meta:
        ordering = ["starts_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule"], condition=models.Q(ends_on__isnull=True), name="one_open_pause"
            ),
        ]
