"""Passive and active network inventory: OLTs, PON ports and ONTs."""

from django.core.validators import RegexValidator
from django.db import models

from cos.choices import Vendor
from cos.models.base import TimeStampedModel
from cos.models.geography import AddressObject

ont_serial_validator = RegexValidator(
    r"^[A-Z]{4}[0-9A-F]{8}$",
    "An ONT serial is four letters (the vendor id) and eight hexadecimal digits, e.g. ADTN1A2B3C4D.",
)


class OLT(TimeStampedModel):
    """An optical line terminal, managed through its vendor's element manager."""

    name = models.CharField(max_length=100, unique=True)
    vendor = models.CharField(max_length=16, choices=Vendor.choices)
    management_host = models.CharField(max_length=255, help_text="Host name or address of the management API.")
    model = models.CharField(max_length=100)
    area = models.ForeignKey("cos.Area", null=True, blank=True, on_delete=models.SET_NULL, related_name="olts")

    class Meta:
        verbose_name = "OLT"
        verbose_name_plural = "OLTs"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_vendor_display()})"


class PonPort(TimeStampedModel):
    """A PON port on an OLT (shelf/slot/port)."""

    olt = models.ForeignKey(OLT, on_delete=models.CASCADE, related_name="pon_ports")
    shelf = models.PositiveSmallIntegerField(default=1)
    slot = models.PositiveSmallIntegerField()
    port = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name = "PON port"
        ordering = ["olt__name", "shelf", "slot", "port"]
        constraints = [models.UniqueConstraint(fields=["olt", "shelf", "slot", "port"], name="ponport_unique")]

    def __str__(self) -> str:
        return f"{self.olt.name} {self.shelf}/{self.slot}/{self.port}"


class ONT(TimeStampedModel):
    """An optical network terminal; bound to an address when a technician installs it."""

    serial = models.CharField(max_length=12, unique=True, validators=[ont_serial_validator])
    vendor = models.CharField(max_length=16, choices=Vendor.choices)
    model = models.CharField(max_length=100)
    pon_port = models.ForeignKey(PonPort, null=True, blank=True, on_delete=models.SET_NULL, related_name="onts")
    address = models.ForeignKey(
        AddressObject,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="onts",
        help_text="The address this ONT is bound to; empty until a technician binds it.",
    )
    bound_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "ONT"
        verbose_name_plural = "ONTs"
        ordering = ["serial"]

    def __str__(self) -> str:
        return self.serial
