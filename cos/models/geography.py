"""Areas and address objects (the physical layer, owned by the network operator)."""

import unicodedata

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django_fsm import FSMField, transition

from cos.choices import AddressStatus, AreaStatus, BuildingType
from cos.models.base import StatefulModel, TimeStampedModel


class Area(StatefulModel):
    """A deployment area (a fiber project): planned -> surveyed -> in_deployment -> built."""

    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=32, unique=True)
    status = FSMField(default=AreaStatus.PLANNED, choices=AreaStatus.choices, protected=True, db_index=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @transition(field=status, source=AreaStatus.PLANNED, target=AreaStatus.SURVEYED)
    def mark_surveyed(self, *, by=None, reason: str = "") -> None:
        """The area has been surveyed."""

    @transition(field=status, source=AreaStatus.SURVEYED, target=AreaStatus.IN_DEPLOYMENT)
    def start_deployment(self, *, by=None, reason: str = "") -> None:
        """Construction starts; the area's addresses follow in one batch (see area_start_deployment)."""

    @transition(field=status, source=AreaStatus.IN_DEPLOYMENT, target=AreaStatus.BUILT)
    def mark_built(self, *, by=None, reason: str = "") -> None:
        """Construction in the area is finished."""


class AddressObject(StatefulModel):
    """A serviceable address from the GIS: planned -> surveyed -> in_deployment -> connected.

    An address may go straight from planned to in_deployment when its area's deployment starts:
    the area survey covers it.
    """

    external_id = models.CharField(max_length=64, help_text="The GIS feature id (unique).")
    street = models.CharField(max_length=200)
    house_number = models.PositiveIntegerField()
    suffix = models.CharField(max_length=8, blank=True, help_text="House number letter, e.g. the B in 12B.")
    unit = models.CharField(max_length=16, blank=True, help_text="Apartment or unit, e.g. 1101.")
    postal_code = models.CharField(max_length=16)
    city = models.CharField(max_length=100)
    country = models.CharField(max_length=2, default="SE")
    latitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    building_type = models.CharField(max_length=16, choices=BuildingType.choices)
    units = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    # Indexed by (area, status) below; a second index on area alone would only slow bulk status changes.
    area = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="addresses", db_index=False)
    status = FSMField(default=AddressStatus.PLANNED, choices=AddressStatus.choices, protected=True)
    serving_pon_port = models.ForeignKey(
        "cos.PonPort",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="served_addresses",
        help_text="The PON port whose fiber reaches this address; its services are provisioned there.",
    )
    circuit_id = models.CharField(max_length=64, blank=True)
    circuit_name = models.CharField(max_length=200, blank=True)
    extra = models.JSONField(default=dict, blank=True, help_text="Free attributes from the GIS.")

    class Meta:
        verbose_name = "address"
        verbose_name_plural = "addresses"
        ordering = ["street", "house_number", "suffix", "unit"]
        # Few indexes on purpose: a deployment changes the status of 100,000 rows at once.
        constraints = [models.UniqueConstraint(fields=["external_id"], name="address_external_id_unique")]
        indexes = [
            models.Index(fields=["area", "status"], name="address_area_status"),
            models.Index(fields=["city", "street", "house_number"], name="address_street_number"),
            models.Index(fields=["postal_code"], name="address_postal_code"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        line = f"{self.street} {self.house_number}{self.suffix}"
        if self.unit:
            line += f", {self.unit}"
        return f"{line}, {self.postal_code} {self.city}"

    @transition(field=status, source=AddressStatus.PLANNED, target=AddressStatus.SURVEYED)
    def mark_surveyed(self, *, by=None, reason: str = "") -> None:
        """The address has been surveyed."""

    @transition(
        field=status, source=[AddressStatus.PLANNED, AddressStatus.SURVEYED], target=AddressStatus.IN_DEPLOYMENT
    )
    def start_deployment(self, *, by=None, reason: str = "") -> None:
        """Construction at this address starts."""

    @transition(field=status, source=AddressStatus.IN_DEPLOYMENT, target=AddressStatus.CONNECTED)
    def mark_connected(self, *, by=None, reason: str = "") -> None:
        """Drop and ONT installed: the infrastructure is ready."""


class AddressStreet(TimeStampedModel):
    """Search index of distinct (street, city) pairs, derived from the address objects.

    Free-text address search matches the words of a query against this small table first
    (pg_trgm on PostgreSQL) and only then fetches the addresses on the best streets, so a
    common fragment such as "gatan 1" stays fast over a million addresses.
    """

    street = models.CharField(max_length=200)
    city = models.CharField(max_length=100)
    search_text = models.CharField(
        max_length=320, help_text="'street city' folded: lower case, without accents (solhöjdsvägen: solhojdsvagen)."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["street", "city"], name="addressstreet_unique")]

    def __str__(self) -> str:
        return f"{self.street}, {self.city}"

    @staticmethod
    def fold(text: str) -> str:
        """Text as it is searched: case and accents folded, so "Solhojd", "SOLHÖJD" and "solhöjd" are the same
        on every database (SQLite's LIKE folds neither Ö nor ö)."""
        return search_fold(text)


def search_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char)).replace("ø", "o").replace("æ", "ae")
