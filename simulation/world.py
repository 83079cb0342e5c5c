"""The simulated network's own ground: an area of its own (Björkhagen), its homes, an OLT with ONTs in stock, and
the people who work it. The demo's other areas are left alone, so a simulation never touches the walk-throughs."""

import math
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from cos import services
from cos.choices import AreaStatus, Vendor
from cos.demo import demo_addresses, ont_serial
from cos.models import OLT, ONT, AddressObject, Area, Organization, PonPort

AREA_CODE, AREA_NAME = "BJK", "Björkhagen"
OLT_NAME = "OLT-BJK-1"
HOMES_PER_OLT = 16 * 128
SERIAL_PREFIX = "ADTN"
SERIAL_OFFSET = 0x10000  # past the demo OLTs' serials of the same vendor prefix
FIRST_PHASE = 0.3  # share of the homes built and connected before the simulation starts


@dataclass
class People:
    operator: Organization
    providers: dict[str, Organization]
    contractor: Organization | None
    ops: object
    finance: object
    tech: object
    contractor_tech: object | None
    provider_users: dict[int, object]


def people() -> People:
    """The demo's organisations and staff logins (`seed_demo` makes them): the simulation acts as them."""
    User = get_user_model()
    users = {u.username: u for u in User.objects.filter(username__in=["ops", "finance", "tech", "contractor-tech"])}
    operator = Organization.objects.filter(slug="fibranat").first()
    if operator is None or not {"ops", "finance", "tech"} <= set(users):
        raise CommandError("The simulation runs on the demo world: run `python manage.py seed_demo` first.")
    providers = {o.slug: o for o in Organization.objects.filter(slug__in=["ljusnet", "fiberly", "sveaconnect"])}
    provider_users = {
        provider.pk: User.objects.filter(username=f"{slug}-api").first() for slug, provider in providers.items()
    }
    return People(
        operator=operator,
        providers=providers,
        contractor=Organization.objects.filter(slug="gravteam").first(),
        ops=users["ops"],
        finance=users["finance"],
        tech=users["tech"],
        contractor_tech=users.get("contractor-tech"),
        provider_users=provider_users,
    )


def area_exists() -> bool:
    return Area.objects.filter(code=AREA_CODE).exists()


def area_build(homes: int) -> Area:
    """The area, surveyed, with `homes` addresses (houses, blocks of flats, a few businesses), each reaching a port of
    the area's OLT, and enough ONTs in stock for every home."""
    area, created = Area.objects.get_or_create(code=AREA_CODE, defaults={"name": AREA_NAME})
    if created:
        services.area_mark_surveyed(area_id=area.pk, reason="simulation: surveyed")
        area.refresh_from_db()
    existing = set(area.addresses.values_list("external_id", flat=True))
    AddressObject.objects.bulk_create(
        [
            AddressObject(area=area, **row)
            for row in demo_addresses(AREA_CODE, homes)
            if row["external_id"] not in existing
        ],
        batch_size=1000,
    )
    services.street_index_refresh()
    # One OLT per HOMES_PER_OLT homes (16 PON ports of 1:128): an OLT has 3,995 C-VLANs for its live services, so a
    # large simulated area needs several, as a real one would.
    olts = []
    for number in range(1, max(1, math.ceil(homes / HOMES_PER_OLT)) + 1):
        olt, _ = OLT.objects.get_or_create(
            name=OLT_NAME if number == 1 else f"OLT-BJK-{number}",
            defaults={
                "vendor": Vendor.ADTRAN,
                "model": "SDX 6320-16",
                "management_host": f"olt-bjk-{number}.mgmt.fibranat.example",
                "area": area,
            },
        )
        olts.append(olt)
    ports = [
        PonPort.objects.get_or_create(olt=olt, shelf=1, slot=s, port=p)[0]
        for olt in olts
        for s in (1, 2)
        for p in range(1, 9)
    ]
    have = ONT.objects.filter(pon_port__olt__in=olts).count()
    ONT.objects.bulk_create(
        [
            ONT(
                serial=ont_serial(SERIAL_PREFIX, SERIAL_OFFSET + index),
                vendor=Vendor.ADTRAN,
                model="Adtran ONT",
                pon_port=ports[index % len(ports)],
            )
            for index in range(have, int(homes * 1.2) + 10)
        ],
        ignore_conflicts=True,
    )
    unserved = list(
        area.addresses.filter(serving_pon_port__isnull=True).order_by("external_id").values_list("pk", flat=True)
    )
    for index, port in enumerate(ports):
        AddressObject.objects.filter(pk__in=unserved[index :: len(ports)]).update(serving_pon_port_id=port.pk)
    return area


def area_open_for_sale(area: Area) -> None:
    """The operator's residential and business marketplaces sell in the area (as the marketplace admin adds it)."""
    from marketplace.models import Marketplace

    for marketplace in Marketplace.objects.filter(slug__in=["hem", "foretag"]):
        marketplace.areas.add(area)


def area_first_phase(area: Area) -> list[int]:
    """The area goes into deployment (its installation work orders are made), and its first phase is already built:
    those homes are connected. Returns the connected homes."""
    if area.status == AreaStatus.SURVEYED:
        services.area_start_deployment(area_id=area.pk, actor=None, reason="simulation: deployment started")
    homes = list(area.addresses.order_by("external_id").values_list("pk", flat=True))
    first = homes[: int(len(homes) * FIRST_PHASE)]
    for address_id in first:
        services.address_mark_connected(address_id=address_id, reason="simulation: first phase built")
    return first
