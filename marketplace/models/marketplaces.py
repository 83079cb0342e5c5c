"""Marketplaces and the providers that take part in them."""

from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django_fsm import FSMField, transition

from cos.models import StatefulModel, TimeStampedModel
from marketplace.choices import BillingCycle, ParticipationStatus, Segment, SettlementModel

currency_validator = RegexValidator(r"^[A-Z]{3}$", "A currency is a three-letter ISO 4217 code, e.g. SEK.")


def validate_time_zone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/Stockholm).")


class Marketplace(TimeStampedModel):
    """One logically separate storefront on the network: a segment, a currency, the areas it covers."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    segment = models.CharField(max_length=16, choices=Segment.choices)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    tax_rate = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="VAT as a fraction, e.g. 0.2500 for 25 %: added to the prices, or included in them (below).",
    )
    prices_include_tax = models.BooleanField(
        default=False,
        help_text="Prices, offers and invoices state gross amounts with the VAT they include (consumers: "
        "residential and municipal marketplaces). Off: net prices with VAT added (business). Issued invoices "
        "keep the way they were priced.",
    )
    time_zone = models.CharField(max_length=64, default="Europe/Stockholm", validators=[validate_time_zone])
    areas = models.ManyToManyField("cos.Area", related_name="marketplaces", blank=True)
    takes_preorders = models.BooleanField(
        default=False, help_text="Take orders at addresses not yet connected (demand aggregation)."
    )
    requires_installation_window = models.BooleanField(default=True)
    terms_text = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def price_basis(self) -> str:
        """How its prices are to be read, said next to each one."""
        return "incl. VAT" if self.prices_include_tax else "excl. VAT"


class Participation(StatefulModel):
    """A provider's place in a marketplace: active or suspended, its own order flow, barred areas."""

    marketplace = models.ForeignKey(Marketplace, on_delete=models.CASCADE, related_name="participations")
    provider = models.ForeignKey(
        "cos.Organization",
        on_delete=models.CASCADE,
        related_name="participations",
        limit_choices_to={"kind": "service_provider"},
    )
    status = FSMField(default=ParticipationStatus.ACTIVE, choices=ParticipationStatus.choices, protected=True)
    auto_accept_orders = models.BooleanField(
        default=True, help_text="Accept valid orders at once; otherwise the provider accepts or rejects each."
    )
    billing_cycle = models.CharField(max_length=16, choices=BillingCycle.choices, default=BillingCycle.MONTHLY)
    activates_services_itself = models.BooleanField(
        default=False,
        help_text="The provider turns its services on through the API once the infrastructure is ready; "
        "otherwise they are activated when the technician closes the provisioning task.",
    )
    settlement_model = models.CharField(
        max_length=16,
        choices=SettlementModel.choices,
        default=SettlementModel.WHOLESALE,
        help_text="How the operator settles this provider's services each month: a statement of access, "
        "activation fees and suspended days (wholesale); of the days of access only; or a revenue share that pays "
        "out what subscribers paid less those charges.",
    )
    barred_areas = models.ManyToManyField(
        "cos.Area",
        blank=True,
        related_name="barred_participations",
        help_text="Areas where the operator does not let this provider sell.",
    )

    class Meta:
        ordering = ["marketplace__name", "provider__name"]
        constraints = [models.UniqueConstraint(fields=["marketplace", "provider"], name="participation_unique")]

    def __str__(self) -> str:
        return f"{self.provider} in {self.marketplace}"

    @transition(field=status, source=ParticipationStatus.ACTIVE, target=ParticipationStatus.SUSPENDED)
    def suspend(self, *, by=None, reason: str = "") -> None:
        """The provider's offers disappear from the marketplace."""

    @transition(field=status, source=ParticipationStatus.SUSPENDED, target=ParticipationStatus.ACTIVE)
    def resume(self, *, by=None, reason: str = "") -> None:
        """The provider sells again."""
