"""Each provider's catalog: products, versioned prices, promotions, contract terms and eligibility."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from cos.choices import AddressStatus, BuildingType, CustomerType
from cos.models import TimeStampedModel
from marketplace.choices import ProductCategory, PromotionKind
from marketplace.models.marketplaces import currency_validator

MONEY = {"max_digits": 12, "decimal_places": 2}


class ContractTerm(TimeStampedModel):
    """A provider's contract terms: minimum months and notice days."""

    provider = models.ForeignKey("cos.Organization", on_delete=models.CASCADE, related_name="contract_terms")
    name = models.CharField(max_length=100)
    minimum_months = models.PositiveSmallIntegerField(default=0)
    notice_days = models.PositiveSmallIntegerField(default=30)
    early_termination_fee = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Charged on the final invoice when a subscription ends before its minimum term. "
        "Empty: the minimum term must be served.",
    )

    class Meta:
        ordering = ["provider__name", "minimum_months"]
        constraints = [models.UniqueConstraint(fields=["provider", "name"], name="contractterm_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.minimum_months} months, {self.notice_days} days notice)"

    def clean(self) -> None:
        same_name = ContractTerm.objects.filter(provider_id=self.provider_id, name=self.name).exclude(pk=self.pk)
        if self.provider_id and same_name.exists():
            raise ValidationError({"name": f"You already have a contract term named {self.name!r}."})


class ProductQuerySet(models.QuerySet):
    def active(self):
        return self.filter(retired_at__isnull=True)


class Product(TimeStampedModel):
    """Something a provider sells: internet, TV, telephony or a value-added service."""

    provider = models.ForeignKey("cos.Organization", on_delete=models.CASCADE, related_name="products")
    category = models.CharField(max_length=16, choices=ProductCategory.choices)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    download_mbps = models.PositiveIntegerField(null=True, blank=True)
    upload_mbps = models.PositiveIntegerField(null=True, blank=True)
    service_profile = models.CharField(
        max_length=64, help_text="The network service profile provisioning applies (e.g. HSI_1000_1000)."
    )
    requires_category = models.CharField(
        max_length=16,
        choices=ProductCategory.choices,
        blank=True,
        help_text="Needs a product of this category from the same provider at the address (e.g. TV needs internet).",
    )
    term = models.ForeignKey(ContractTerm, on_delete=models.PROTECT, related_name="products")
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["provider__name", "category", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider})"

    @property
    def is_active(self) -> bool:
        return self.retired_at is None

    def clean(self) -> None:
        if self.category == ProductCategory.INTERNET and not (self.download_mbps and self.upload_mbps):
            raise ValidationError({"download_mbps": "An internet product needs download and upload speeds."})
        if self.requires_category and self.requires_category == self.category:
            raise ValidationError({"requires_category": "A product cannot depend on its own category."})
        if self.term_id and self.provider_id and self.term.provider_id != self.provider_id:
            raise ValidationError({"term": "The contract term belongs to another provider."})


class Price(TimeStampedModel):
    """A price version of a product in one marketplace, valid from a date (inclusive) to a date (exclusive)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="prices")
    marketplace = models.ForeignKey("marketplace.Marketplace", on_delete=models.CASCADE, related_name="prices")
    monthly_amount = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0"))])
    start_fee = models.DecimalField(**MONEY, default=Decimal("0.00"), validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3, validators=[currency_validator])
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["product", "marketplace", "-valid_from"]
        indexes = [models.Index(fields=["marketplace", "product", "valid_from"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")), name="price_valid_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.name}: {self.monthly_amount} {self.currency}/month from {self.valid_from}"

    def clean(self) -> None:
        if self.marketplace_id and self.currency and self.currency != self.marketplace.currency:
            raise ValidationError({"currency": f"The marketplace sells in {self.marketplace.currency}."})


class Promotion(TimeStampedModel):
    """A discount for the first N billing periods: percent off, amount off or free months."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="promotions")
    marketplace = models.ForeignKey(
        "marketplace.Marketplace",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="promotions",
        help_text="Empty: in every marketplace the product is sold in.",
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=PromotionKind.choices)
    value = models.DecimalField(
        **MONEY,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Percent (0-100) for percent off, an amount for amount off; unused for free months.",
    )
    periods = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)], help_text="Billing periods it runs.")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True, help_text="Last day it can be ordered with (exclusive).")

    class Meta:
        ordering = ["product", "-valid_from"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == PromotionKind.PERCENT_OFF and not (0 < self.value <= 100):
            raise ValidationError({"value": "Percent off is between 0 and 100."})
        if self.kind == PromotionKind.AMOUNT_OFF and self.value <= 0:
            raise ValidationError({"value": "Amount off must be positive."})
        if self.valid_to and self.valid_to <= self.valid_from:
            raise ValidationError({"valid_to": "The end must be after the start."})

    @property
    def summary(self) -> str:
        if self.kind == PromotionKind.PERCENT_OFF:
            return f"{self.value.normalize():f} % off for {self.periods} month(s)"
        if self.kind == PromotionKind.AMOUNT_OFF:
            return f"{self.value} off per month for {self.periods} month(s)"
        return f"{self.periods} month(s) free"


def _all_customer_types() -> list[str]:
    return list(CustomerType.values)


def _connected_only() -> list[str]:
    return [AddressStatus.CONNECTED.value]


class EligibilityRule(TimeStampedModel):
    """Who may buy a product where. An empty list of marketplaces, areas or building types means no limit."""

    product = models.OneToOneField(Product, on_delete=models.CASCADE, related_name="eligibility")
    customer_types = models.JSONField(default=_all_customer_types)
    address_statuses = models.JSONField(
        default=_connected_only,
        help_text="Address states it can be ordered at: connected only, or also in_deployment/planned (pre-orders).",
    )
    building_types = models.JSONField(default=list, blank=True)
    marketplaces = models.ManyToManyField("marketplace.Marketplace", blank=True, related_name="+")
    areas = models.ManyToManyField("cos.Area", blank=True, related_name="+")
    max_per_address = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )

    def __str__(self) -> str:
        return f"eligibility of {self.product}"

    def clean(self) -> None:
        errors = {}
        for field, allowed in (
            ("customer_types", CustomerType.values),
            ("address_statuses", AddressStatus.values),
            ("building_types", BuildingType.values),
        ):
            values = getattr(self, field)
            if not isinstance(values, list) or any(v not in allowed for v in values):
                errors[field] = f"A list of: {', '.join(allowed)}."
        if not self.customer_types:
            errors.setdefault("customer_types", "At least one customer type.")
        if not self.address_statuses:
            errors.setdefault("address_statuses", "At least one address status.")
        if errors:
            raise ValidationError(errors)


class CatalogVersion(models.Model):
    """One row whose token changes with every catalog write: cached catalog snapshots are keyed by it.

    A random token rather than a counter, so a rolled-back write can never make a stale snapshot valid again.
    """

    token = models.CharField(max_length=32)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.token
