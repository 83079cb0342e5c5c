"""Orders, their lines (with snapshots), validation failures, subscriptions and interest registrations."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition

from cos.choices import CustomerType
from cos.models import StatefulModel, TimeStampedModel
from marketplace.choices import (
    CANCELLABLE_ORDER_STATUSES,
    BillingCycle,
    CancellationReason,
    ChangeKind,
    ChangeStatus,
    Channel,
    InstallSlot,
    OrderStatus,
    ProductCategory,
    PromotionKind,
    SubscriptionStatus,
    SwitchStatus,
    ValidationCode,
)
from marketplace.models.catalog import MONEY


class Order(StatefulModel):
    """A customer's order at one address, from one provider, in one marketplace."""

    customer = models.ForeignKey("cos.Customer", on_delete=models.PROTECT, related_name="orders")
    address = models.ForeignKey("cos.AddressObject", on_delete=models.PROTECT, related_name="orders")
    marketplace = models.ForeignKey("marketplace.Marketplace", on_delete=models.PROTECT, related_name="orders")
    provider = models.ForeignKey("cos.Organization", on_delete=models.PROTECT, related_name="orders")
    status = FSMField(default=OrderStatus.DRAFT, choices=OrderStatus.choices, protected=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    idempotency_key = models.CharField(max_length=100, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True, help_text="Hash of the placing request.")
    preferred_install_date = models.DateField(null=True, blank=True)
    preferred_install_slot = models.CharField(max_length=16, choices=InstallSlot.choices, default=InstallSlot.ANY)
    is_preorder = models.BooleanField(default=False)
    terms_accepted_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    cancellation_reason = models.TextField(blank=True)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    replaces = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaced_by",
        help_text="The order whose service this one takes over (a switch from another provider).",
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "idempotency_key"], condition=~Q(idempotency_key=""), name="order_idempotency_key"
            ),
        ]
        indexes = [
            models.Index(fields=["provider", "status", "created_at"], name="order_provider_status"),
            models.Index(fields=["address", "status"], name="order_address_status"),
        ]

    def __str__(self) -> str:
        return f"Order {self.pk} ({self.get_status_display()})"

    @property
    def is_cancellable(self) -> bool:
        return self.status in CANCELLABLE_ORDER_STATUSES

    @transition(field=status, source=OrderStatus.DRAFT, target=OrderStatus.SUBMITTED)
    def submit(self, *, at, by=None, reason: str = "") -> None:
        self.submitted_at = at

    @transition(field=status, source=OrderStatus.SUBMITTED, target=OrderStatus.ACCEPTED)
    def accept(self, *, at, by=None, reason: str = "") -> None:
        self.decided_at = at

    @transition(field=status, source=OrderStatus.SUBMITTED, target=OrderStatus.REJECTED)
    def reject(self, *, at, by=None, reason: str = "") -> None:
        self.decided_at = at
        self.rejection_reason = reason

    @transition(field=status, source=OrderStatus.ACCEPTED, target=OrderStatus.IN_FULFILLMENT)
    def start_fulfillment(self, *, by=None, reason: str = "") -> None:
        """Field work for the order has started."""

    @transition(field=status, source=OrderStatus.IN_FULFILLMENT, target=OrderStatus.COMPLETED)
    def complete(self, *, at, by=None, reason: str = "") -> None:
        """Every line's subscription is live or ended."""
        self.completed_at = at

    @transition(field=status, source=list(CANCELLABLE_ORDER_STATUSES), target=OrderStatus.CANCELLED)
    def cancel(self, *, by=None, reason: str = "") -> None:
        self.cancellation_reason = reason


class OrderLine(TimeStampedModel):
    """One product of an order with the price, promotion and term as they were at submission."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("marketplace.Product", on_delete=models.PROTECT, related_name="order_lines")
    category = models.CharField(max_length=16, choices=ProductCategory.choices)
    price = models.ForeignKey("marketplace.Price", on_delete=models.PROTECT, related_name="+")
    monthly_amount = models.DecimalField(**MONEY)
    start_fee = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    promotion = models.ForeignKey(
        "marketplace.Promotion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    promotion_kind = models.CharField(max_length=16, choices=PromotionKind.choices, blank=True)
    promotion_value = models.DecimalField(**MONEY, null=True, blank=True)
    promotion_periods = models.PositiveSmallIntegerField(null=True, blank=True)
    minimum_months = models.PositiveSmallIntegerField()
    notice_days = models.PositiveSmallIntegerField()
    early_termination_fee = models.DecimalField(**MONEY, null=True, blank=True)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.product.name} @ {self.monthly_amount} {self.currency}"


class ValidationFailure(models.Model):
    """An order refused at submission, with its reason code (counted by the data-quality metric)."""

    code = models.CharField(max_length=32, choices=ValidationCode.choices, db_index=True)
    # The refused request: its problems share it (the data-quality metric counts requests, not problems).
    refusal = models.UUIDField(default=uuid.uuid4, db_index=True)
    message = models.TextField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    provider = models.ForeignKey("cos.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    marketplace = models.ForeignKey(
        "marketplace.Marketplace", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    address = models.ForeignKey("cos.AddressObject", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    product = models.ForeignKey(
        "marketplace.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customer = models.ForeignKey("cos.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    idempotency_key = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class Subscription(StatefulModel):
    """The commercial contract for one product at one address, created when its order is accepted."""

    customer = models.ForeignKey("cos.Customer", on_delete=models.PROTECT, related_name="subscriptions")
    address = models.ForeignKey("cos.AddressObject", on_delete=models.PROTECT, related_name="subscriptions")
    marketplace = models.ForeignKey("marketplace.Marketplace", on_delete=models.PROTECT, related_name="subscriptions")
    provider = models.ForeignKey("cos.Organization", on_delete=models.PROTECT, related_name="subscriptions")
    order_line = models.OneToOneField(OrderLine, on_delete=models.PROTECT, related_name="subscription")
    product = models.ForeignKey("marketplace.Product", on_delete=models.PROTECT, related_name="subscriptions")
    category = models.CharField(max_length=16, choices=ProductCategory.choices)
    status = FSMField(default=SubscriptionStatus.PENDING, choices=SubscriptionStatus.choices, protected=True)
    monthly_amount = models.DecimalField(**MONEY)
    start_fee = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    promotion_kind = models.CharField(max_length=16, choices=PromotionKind.choices, blank=True)
    promotion_value = models.DecimalField(**MONEY, null=True, blank=True)
    promotion_periods = models.PositiveSmallIntegerField(null=True, blank=True)
    minimum_months = models.PositiveSmallIntegerField()
    notice_days = models.PositiveSmallIntegerField()
    early_termination_fee = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Charged when it ends before the minimum term; empty: no early end."
    )
    billing_cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    activated_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    ends_on = models.DateField(
        null=True, blank=True, help_text="While awaiting cancellation: the day the service ends (not billed)."
    )
    notice_given_at = models.DateTimeField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=32, choices=CancellationReason.choices, blank=True)
    cancellation_note = models.TextField(blank=True)
    early_termination_charged = models.BooleanField(
        default=False, help_text="It ended before its minimum term: the early-termination fee is on the final invoice."
    )
    ends_with = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dependents_ending",
        help_text="The subscription it depends on (e.g. TV on internet) whose end it follows.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["address", "status"], name="subscription_address_status"),
            models.Index(fields=["provider", "status"], name="subscription_provider_status"),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} at {self.address} ({self.get_status_display()})"

    @transition(field=status, source=SubscriptionStatus.PENDING, target=SubscriptionStatus.ACTIVE)
    def activate(self, *, at, by=None, reason: str = "") -> None:
        self.activated_at = at

    @transition(field=status, source=SubscriptionStatus.ACTIVE, target=SubscriptionStatus.SUSPENDED)
    def suspend(self, *, by=None, reason: str = "") -> None:
        """Service paused (e.g. dunning)."""

    @transition(field=status, source=SubscriptionStatus.SUSPENDED, target=SubscriptionStatus.ACTIVE)
    def resume(self, *, by=None, reason: str = "") -> None:
        """Service restored."""

    @transition(field=status, source=SubscriptionStatus.ACTIVE, target=SubscriptionStatus.AWAITING_CANCELLATION)
    def give_notice(
        self, *, at, ends_on, cause: str, note: str = "", early_fee: bool = False, ends_with=None, by=None, reason=""
    ) -> None:
        """A notice (or another provider's switch) runs until `ends_on`."""
        self.notice_given_at, self.ends_on = at, ends_on
        self.cancellation_reason, self.cancellation_note = cause, note
        self.early_termination_charged, self.ends_with = early_fee, ends_with

    @transition(field=status, source=SubscriptionStatus.AWAITING_CANCELLATION, target=SubscriptionStatus.ACTIVE)
    def abort_cancellation(self, *, by=None, reason: str = "") -> None:
        """The notice or the switch was withdrawn before its day: the subscription runs on."""
        self.notice_given_at, self.ends_on = None, None
        self.cancellation_reason, self.cancellation_note = "", ""
        self.early_termination_charged, self.ends_with = False, None

    @transition(
        field=status,
        source=[SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED, SubscriptionStatus.AWAITING_CANCELLATION],
        target=SubscriptionStatus.TERMINATED,
    )
    def terminate(self, *, at, cause: str, note: str = "", early_fee: bool = False, by=None, reason: str = "") -> None:
        self.terminated_at = at
        self.cancellation_reason, self.cancellation_note = cause, note
        self.early_termination_charged = early_fee

    @transition(field=status, source=SubscriptionStatus.PENDING, target=SubscriptionStatus.CANCELLED)
    def cancel(self, *, by=None, reason: str = "") -> None:
        """The order was cancelled before the service went live."""


class SubscriptionChange(StatefulModel):
    """One change of plan of a subscription: what it was, what it becomes, from when (the history of its product).

    An upgrade is sent to the network at once, a downgrade at the start of the next billing period. The product
    and price of the subscription change only when the network has verifiably applied the new profile
    (`subscription_change_apply`), or at once when the service is not live yet.
    """

    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=16, choices=ChangeKind.choices)
    status = FSMField(default=ChangeStatus.SCHEDULED, choices=ChangeStatus.choices, protected=True)
    from_product = models.ForeignKey("marketplace.Product", on_delete=models.PROTECT, related_name="+")
    to_product = models.ForeignKey("marketplace.Product", on_delete=models.PROTECT, related_name="+")
    from_amount = models.DecimalField(**MONEY)
    to_amount = models.DecimalField(**MONEY)
    effective_on = models.DateField(help_text="The day it is due to take effect (the network decides the moment).")
    requested_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True, help_text="When the network verified it.")
    reason_code = models.CharField(max_length=32, blank=True)
    note = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One change at a time: a second one waits until the first is applied or cancelled.
            models.UniqueConstraint(
                fields=["subscription"],
                condition=Q(status__in=[ChangeStatus.SCHEDULED, ChangeStatus.REQUESTED]),
                name="subscription_change_one_open",
            ),
        ]
        indexes = [models.Index(fields=["status", "effective_on"], name="subscription_change_due")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.from_product.name} -> {self.to_product.name}"

    @transition(field=status, source=ChangeStatus.SCHEDULED, target=ChangeStatus.REQUESTED)
    def request(self, *, at, by=None, reason: str = "") -> None:
        self.requested_at = at

    @transition(field=status, source=[ChangeStatus.SCHEDULED, ChangeStatus.REQUESTED], target=ChangeStatus.APPLIED)
    def apply(self, *, at, by=None, reason: str = "") -> None:
        self.applied_at = at

    @transition(field=status, source=ChangeStatus.SCHEDULED, target=ChangeStatus.CANCELLED)
    def cancel(self, *, by=None, reason: str = "") -> None:
        """Withdrawn before it was sent to the network."""


class Switch(StatefulModel):
    """Open access: the subscriber moves a service from provider A to provider B at the same address.

    B's order starts it; once B accepts, A's subscription awaits cancellation until the hand-over day, when the
    network moves the ONT's service from A's profile to B's in one verified operation: A's billing stops and B's
    starts at that instant. The subscriber or B may abort before the hand-over.
    """

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="switches")
    from_subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="switches_away")
    to_subscription = models.OneToOneField(
        Subscription, null=True, blank=True, on_delete=models.PROTECT, related_name="switch_in"
    )
    category = models.CharField(max_length=16, choices=ProductCategory.choices)
    status = FSMField(default=SwitchStatus.PENDING, choices=SwitchStatus.choices, protected=True)
    handover_on = models.DateField(help_text="The day the service moves to the new provider.")
    requested_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True, help_text="The verified hand-over on the network.")
    abort_reason = models.TextField(blank=True)
    gave_notice = models.BooleanField(
        default=False, help_text="The switch put the old subscription under notice (an abort withdraws it)."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A's subscription is handed over once: a second switch away from it waits until this one ends.
            models.UniqueConstraint(
                fields=["from_subscription"],
                condition=Q(status__in=[SwitchStatus.PENDING, SwitchStatus.SCHEDULED, SwitchStatus.HANDING_OVER]),
                name="switch_one_open_per_subscription",
            ),
        ]
        indexes = [models.Index(fields=["status", "handover_on"], name="switch_due")]
        verbose_name_plural = "switches"

    def __str__(self) -> str:
        return f"Switch of {self.get_category_display()} at order {self.order_id} on {self.handover_on}"

    @transition(field=status, source=SwitchStatus.PENDING, target=SwitchStatus.SCHEDULED)
    def schedule(self, *, to_subscription, gave_notice: bool, by=None, reason: str = "") -> None:
        self.to_subscription, self.gave_notice = to_subscription, gave_notice

    @transition(field=status, source=SwitchStatus.SCHEDULED, target=SwitchStatus.HANDING_OVER)
    def start_handover(self, *, at, by=None, reason: str = "") -> None:
        self.requested_at = at

    @transition(field=status, source=SwitchStatus.HANDING_OVER, target=SwitchStatus.COMPLETED)
    def complete(self, *, at, by=None, reason: str = "") -> None:
        self.completed_at = at

    @transition(field=status, source=[SwitchStatus.PENDING, SwitchStatus.SCHEDULED], target=SwitchStatus.ABORTED)
    def abort(self, *, by=None, reason: str = "") -> None:
        self.abort_reason = reason


class Interest(TimeStampedModel):
    """Someone wants service at an address that nothing can be ordered at yet (demand aggregation)."""

    address = models.ForeignKey("cos.AddressObject", on_delete=models.CASCADE, related_name="interests")
    email = models.EmailField()
    customer_type = models.CharField(max_length=16, choices=CustomerType.choices)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["address", "email"], name="interest_once_per_address")]

    def __str__(self) -> str:
        return f"{self.email} at {self.address}"
