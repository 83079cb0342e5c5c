"""Money in and out: payment methods on file, payments (each one charge at the gateway or one recorded receipt),
refunds, the customer's credit balance, gateway events as received, disputes and dunning suspensions."""

from django.conf import settings
from django.db import models
from django_fsm import FSMField, transition

from billing.choices import (
    IN_FLIGHT_PAYMENT_STATUSES,
    CreditKind,
    DisputeStatus,
    GatewayEventOutcome,
    MethodType,
    PaymentChannel,
    PaymentStatus,
    RefundStatus,
)
from billing.models.accounts import MONEY, BillingAccount, ReasonCode
from billing.models.invoices import Invoice
from cos.models import StatefulModel, TimeStampedModel


class PaymentMethod(TimeStampedModel):
    """A card, SEPA mandate or US bank account saved at the gateway for an account. Removed ones are kept."""

    account = models.ForeignKey(BillingAccount, on_delete=models.PROTECT, related_name="payment_methods")
    gateway = models.CharField(max_length=16)
    reference = models.CharField(max_length=100, help_text="The method's id at the gateway.")
    type = models.CharField(max_length=20, choices=MethodType.choices)
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    mandate_reference = models.CharField(max_length=100, blank=True, help_text="SEPA or ACH debit mandate.")
    is_default = models.BooleanField(default=False)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-is_default", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "reference"], name="payment_method_once"),
            models.UniqueConstraint(
                fields=["account"],
                condition=models.Q(is_default=True, removed_at__isnull=True),
                name="one_default_payment_method",
            ),
        ]

    def __str__(self) -> str:
        if self.type == MethodType.CARD and self.exp_month and self.exp_year:
            return f"{self.brand or 'Card'} •••• {self.last4} ({self.exp_month:02d}/{self.exp_year})"
        return f"{self.get_type_display()} •••• {self.last4}"


class Payment(StatefulModel):
    """One attempt to collect money: a charge at the gateway (its idempotency key makes a retried request charge
    once), a receipt recorded by finance, or credit applied. Succeeded money is applied to the invoice; what is
    more than the invoice's open amount goes to the customer's credit balance."""

    account = models.ForeignKey(BillingAccount, on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    method = models.ForeignKey(PaymentMethod, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    method_type = models.CharField(max_length=20, choices=MethodType.choices)
    channel = models.CharField(max_length=16, choices=PaymentChannel.choices)
    gateway = models.CharField(max_length=16, blank=True)
    status = FSMField(default=PaymentStatus.PENDING, choices=PaymentStatus.choices, protected=True)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    attempt = models.PositiveSmallIntegerField(default=1)
    idempotency_key = models.CharField(max_length=80, null=True, blank=True, unique=True)
    reference = models.CharField(max_length=100, blank=True, help_text="The charge's id at the gateway.")
    charge_reference = models.CharField(max_length=100, blank=True, db_index=True, help_text="Stripe's charge id.")
    client_secret = models.CharField(max_length=200, blank=True, help_text="For the subscriber's confirmation.")
    external_reference = models.CharField(max_length=100, blank=True, help_text="Bank or receipt reference.")
    received_on = models.DateField(null=True, blank=True)
    failure_code = models.CharField(max_length=60, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    submit_errors = models.PositiveSmallIntegerField(default=0, help_text="Gateway timeouts and outages so far.")
    next_retry_at = models.DateTimeField(null=True, blank=True, help_text="Dunning: when a failed charge is retried.")
    amount_refunded = models.DecimalField(**MONEY, default=0)
    settled_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_refunded__gte=0, amount_refunded__lte=models.F("amount")),
                name="payment_refunded_within_amount",
            ),
            models.UniqueConstraint(
                fields=["gateway", "reference"], condition=~models.Q(reference=""), name="payment_reference_once"
            ),
            # Never two charges in flight for the same invoice: a second could charge twice.
            models.UniqueConstraint(
                fields=["invoice"],
                condition=models.Q(status__in=IN_FLIGHT_PAYMENT_STATUSES) & ~models.Q(gateway=""),
                name="one_charge_in_flight",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "updated_at"], name="payment_status_updated"),
            models.Index(fields=["next_retry_at"], condition=models.Q(status="failed"), name="payment_retry_due"),
        ]

    def __str__(self) -> str:
        return f"Payment #{self.pk}: {self.amount} {self.currency} ({self.get_status_display().lower()})"

    @property
    def refundable(self):
        return self.amount - self.amount_refunded if self.status == PaymentStatus.SUCCEEDED else 0

    @transition(
        field=status, source=[PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION], target=PaymentStatus.PROCESSING
    )
    def process(self, *, by=None, reason: str = "") -> None:
        """The gateway took a delayed debit (SEPA, ACH): settled or failed days later."""

    @transition(field=status, source=PaymentStatus.PENDING, target=PaymentStatus.REQUIRES_ACTION)
    def require_action(self, *, by=None, reason: str = "") -> None:
        """The bank asks the subscriber to authenticate (3-D Secure)."""

    @transition(
        field=status, source=[*IN_FLIGHT_PAYMENT_STATUSES, PaymentStatus.FAILED], target=PaymentStatus.SUCCEEDED
    )
    def succeed(self, *, at, by=None, reason: str = "") -> None:
        """From failed too: the subscriber completed a payment the gateway had first refused; the money is in."""
        self.settled_at = at

    @transition(field=status, source=IN_FLIGHT_PAYMENT_STATUSES, target=PaymentStatus.FAILED)
    def fail(self, *, code: str = "", message: str = "", by=None, reason: str = "") -> None:
        self.failure_code, self.failure_message = code[:60], message[:300]

    @transition(
        field=status, source=[PaymentStatus.PENDING, PaymentStatus.REQUIRES_ACTION], target=PaymentStatus.CANCELED
    )
    def cancel(self, *, by=None, reason: str = "") -> None:
        """Nothing was charged and nothing will be (never sent and the invoice paid otherwise, or a confirmation
        given up)."""


class Refund(StatefulModel):
    """Money given back on a payment through its gateway, for a credit note. Audited: who, why."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    credit_note = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(**MONEY)
    status = FSMField(max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING, protected=True)
    idempotency_key = models.CharField(max_length=80, unique=True)
    reference = models.CharField(max_length=100, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    reason_code = models.ForeignKey(ReasonCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Refund #{self.pk}: {self.amount} ({self.get_status_display().lower()})"

    @transition(field=status, source=RefundStatus.PENDING, target=RefundStatus.SUCCEEDED)
    def succeed(self, *, by=None, reason: str = "") -> None:
        """The gateway paid the money out."""

    @transition(field=status, source=RefundStatus.PENDING, target=RefundStatus.FAILED)
    def fail(self, *, message: str, by=None, reason: str = "") -> None:
        """The gateway refused it: the money stays with the customer as credit."""
        self.failure_message = message[:300]


class CreditEntry(models.Model):
    """The customer's credit balance as a ledger: money they have with the provider (overpayments, credit notes
    not paid out) is positive; credit applied to an invoice is negative. The balance is the sum."""

    account = models.ForeignKey(BillingAccount, on_delete=models.PROTECT, related_name="credit_entries")
    kind = models.CharField(max_length=16, choices=CreditKind.choices)
    amount = models.DecimalField(**MONEY)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    description = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "credit entries"

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"


class GatewayEvent(models.Model):
    """A webhook event as received, once per id: a replay finds it and changes nothing."""

    gateway = models.CharField(max_length=16)
    event_id = models.CharField(max_length=100)
    type = models.CharField(max_length=80, db_index=True)
    payload = models.JSONField()
    outcome = models.CharField(max_length=16, choices=GatewayEventOutcome.choices)
    note = models.CharField(max_length=300, blank=True)
    deliveries = models.PositiveIntegerField(default=1)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["gateway", "event_id"], name="gateway_event_once")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class Dispute(StatefulModel):
    """A chargeback on a payment: while open the money is held; lost, the invoice is open again."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="disputes")
    reference = models.CharField(max_length=100, unique=True)
    amount = models.DecimalField(**MONEY)
    reason = models.CharField(max_length=60, blank=True)
    status = FSMField(max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN, protected=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Dispute {self.reference} ({self.get_status_display().lower()})"

    @transition(field=status, source=DisputeStatus.OPEN, target=DisputeStatus.WON)
    def win(self, *, at, by=None, reason: str = "") -> None:
        """The bank decided for the provider: the money stays."""
        self.closed_at = at

    @transition(field=status, source=DisputeStatus.OPEN, target=DisputeStatus.LOST)
    def lose(self, *, at, by=None, reason: str = "") -> None:
        """The bank gave the money back to the cardholder."""
        self.closed_at = at


class DunningSuspension(models.Model):
    """A subscription suspended because an invoice stayed unpaid; restored when it is paid."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="suspensions")
    subscription = models.ForeignKey("marketplace.Subscription", on_delete=models.PROTECT, related_name="+")
    suspended_at = models.DateTimeField(auto_now_add=True)
    restored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["invoice", "subscription"], name="suspended_once_per_invoice"),
        ]

    def __str__(self) -> str:
        return f"Subscription {self.subscription_id} suspended for {self.invoice}"
