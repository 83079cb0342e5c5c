"""The network inventory decides where an address is served: which OLT and PON port its fiber reaches, and so which
ONTs can be installed there. Work orders bind ONTs through here; provisioning asks here where to provision."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cos.models import ONT, AddressObject, PonPort


def serving_port(address: AddressObject) -> PonPort | None:
    """The PON port whose fiber reaches the address, as the inventory records it (None where it does not say)."""
    if address.serving_pon_port_id is None:
        return None
    return PonPort.objects.select_related("olt").get(pk=address.serving_pon_port_id)


def ont_misfit(ont: ONT, address: AddressObject) -> str | None:
    """Why this ONT cannot be installed at the address, in words a technician acts on; None when it can.

    Where the inventory names the address's serving port, the ONT must be of that OLT's vendor and not registered
    on another OLT. Where it does not, an ONT registered on an OLT of another area cannot be there either.
    """
    port = serving_port(address)
    registered = ont.pon_port.olt if ont.pon_port_id else None
    if port is not None:
        olt = port.olt
        if registered is not None and registered.pk != olt.pk:
            return (
                f"ONT {ont.serial} belongs to {registered.name}, but this address is served by {olt.name} "
                f"(port {port.shelf}/{port.slot}/{port.port}): use an ONT of {olt.name}."
            )
        if ont.vendor != olt.vendor:
            return (
                f"ONT {ont.serial} is made by {ont.get_vendor_display()}, but this address is served by {olt.name}, "
                f"which takes {olt.get_vendor_display()} ONTs only: use an ONT from {olt.get_vendor_display()}."
            )
        return None
    if registered is not None and registered.area_id is not None and registered.area_id != address.area_id:
        return (
            f"ONT {ont.serial} belongs to {registered.name} in another area, and cannot reach this address: "
            "use an ONT of this area."
        )
    return None


@transaction.atomic
def ont_bind(*, serial: str, address: AddressObject) -> ONT:
    """Bind a scanned ONT to the address it is installed at, on the address's serving port.

    Refused (ValidationError with the reason) when the ONT is unknown, installed elsewhere, or cannot be at this
    address. Scanning the same ONT again at the same address changes nothing.
    """
    ont = ONT.objects.select_for_update(of=("self",)).select_related("pon_port__olt").filter(serial=serial).first()
    if ont is None:
        raise ValidationError(f"ONT {serial} is not in the inventory: scan the label again or use another ONT.")
    if ont.address_id is not None and ont.address_id != address.pk:
        raise ValidationError(f"ONT {serial} is already installed at {ont.address}: use another ONT.")
    if ont.address_id == address.pk:
        return ont
    reason = ont_misfit(ont, address)
    if reason:
        raise ValidationError(reason)
    ont.address = address
    ont.bound_at = timezone.now()
    fields = ["address", "bound_at", "updated_at"]
    if address.serving_pon_port_id is not None and ont.pon_port_id != address.serving_pon_port_id:
        ont.pon_port_id = address.serving_pon_port_id  # it is discovered where its fiber is
        fields.append("pon_port")
    ont.save(update_fields=fields)
    return ont


@transaction.atomic
def ont_unbind(*, serial: str, reason: str) -> ONT:
    """Take an ONT off its address (returned to the depot, say after a swap): it stays on its PON port, in stock.

    What still runs on it is the contract sync's to find (a device no longer bound to its service's address
    blocks that service's billing). Refused (ValidationError) for an unknown ONT or without a reason; an ONT bound
    nowhere is left as it is."""
    if not reason.strip():
        raise ValidationError("Say why the ONT is taken off its address.")
    ont = ONT.objects.select_for_update(of=("self",)).filter(serial=serial).first()
    if ont is None:
        raise ValidationError(f"ONT {serial} is not in the inventory.")
    if ont.address_id is None:
        return ont
    ont.address = None
    ont.bound_at = None
    ont.save(update_fields=["address", "bound_at", "updated_at"])
    return ont
