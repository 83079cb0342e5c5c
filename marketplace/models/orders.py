"""Orders, their lines (with snapshots), validation failures, subscriptions and interest registrations."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition

from cos.choices import CustomerType
from cos.models import StatefulModel, TimeStampedModel
from marketplace.choices import (
    CANCELLABLE_ORDER_STATUSES,
    BillingCycle,
    Channel,
    InstallSlot,
    OrderStatus,
    ProductCategory,
    PromotionKind,
    SubscriptionStatus,
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
    def complete(self, *, by=None, reason: str = "") -> None:
        """Every service of the order is live."""

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

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.product.name} @ {self.monthly_amount} {self.currency}"


class ValidationFailure(models.Model):
    """An order refused at submission, with its reason code (counted by the data-quality metric)."""

    code = models.CharField(max_length=32, choices=ValidationCode.choices, db_index=True)
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
    billing_cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    activated_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)

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

    @transition(
        field=status,
        source=[SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED],
        target=SubscriptionStatus.TERMINATED,
    )
    def terminate(self, *, at, by=None, reason: str = "") -> None:
        self.terminated_at = at

    @transition(field=status, source=SubscriptionStatus.PENDING, target=SubscriptionStatus.CANCELLED)
    def cancel(self, *, by=None, reason: str = "") -> None:
        """The order was cancelled before the service went live."""


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
