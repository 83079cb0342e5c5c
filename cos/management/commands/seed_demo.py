"""Build (or complete) the demo world. Safe to run any number of times."""

import functools
import importlib
import importlib.util
import logging

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cos import services
from cos.choices import AreaStatus, BuildingType, CustomerType, OrganizationKind, Role, Vendor
from cos.demo import demo_addresses, ont_serial
from cos.models import OLT, ONT, AddressObject, Area, Customer, Organization, PonPort

DEMO_PASSWORD = "demo1234"

# What the invoices say of their issuers (made-up numbers; each bankgiro number has a valid check digit).
INVOICE_DETAILS = {
    slug: {
        "legal_name": legal,
        "street": street,
        "postal_code": postal,
        "city": city,
        "organisation_number": number,
        "vat_number": f"SE{number.replace('-', '')}01",
        "bankgiro": giro,
    }
    for slug, legal, street, postal, city, number, giro in (
        ("ljusnet", "Ljusnet Bredband AB", "Kopparbergsvägen 8", "72213", "Västerås", "556901-2345", "5050-1055"),
        ("fiberly", "Fiberly Sverige AB", "Kungsgatan 44", "11135", "Stockholm", "559012-3456", "5402-9681"),
        ("sveaconnect", "Svea Connect AB", "Dragarbrunnsgatan 36", "75320", "Uppsala", "556123-4567", "5051-6905"),
        ("fibranat", "FibraNät AB", "Stora Torget 1", "72215", "Västerås", "556789-0123", "5050-1030"),
    )
}


def demo_password_hash() -> str:
    """The demo logins' password, hashed once per run: every demo login has the same password, and a password hash
    is slow on purpose (a fifth of a second each, most of what loading the demo took)."""
    return _password_hash(settings.PASSWORD_HASHERS[0])


@functools.cache
def _password_hash(hasher: str) -> str:
    return make_password(DEMO_PASSWORD)


ORGANIZATIONS = [
    ("fibranat", "FibraNät AB", OrganizationKind.NETWORK_OPERATOR),
    ("ljusnet", "Ljusnet Bredband", OrganizationKind.SERVICE_PROVIDER),
    ("fiberly", "Fiberly", OrganizationKind.SERVICE_PROVIDER),
    ("sveaconnect", "Svea Connect", OrganizationKind.SERVICE_PROVIDER),
    ("gravteam", "Grävteam Syd AB", OrganizationKind.CONTRACTOR),
]

# username, organization slug, role, what the login is for
USERS = [
    ("admin", "fibranat", Role.ADMIN, "operator admin (superuser): /admin/"),
    ("ops", "fibranat", Role.OPERATIONS, "operator operations: /admin/"),
    ("finance", "fibranat", Role.FINANCE, "operator finance: /admin/"),
    ("tech", "fibranat", Role.TECHNICIAN, "operator's own technician: /field/"),
    ("fieldmanager", "gravteam", Role.FIELD_MANAGER, "contractor field manager: /field/"),
    ("contractor-tech", "gravteam", Role.TECHNICIAN, "contractor technician: /field/"),
    ("ljusnet-api", "ljusnet", Role.API, "provider API user (token auth): /api/v1/"),
    ("fiberly-api", "fiberly", Role.API, "provider API user (token auth): /api/v1/"),
    ("sveaconnect-api", "sveaconnect", Role.API, "provider API user (token auth): /api/v1/"),
]

AREAS = [("EKB", "Ekbacken"), ("SOL", "Solhöjden")]
OLTS = [
    ("OLT-EKB-1", Vendor.ADTRAN, "SDX 6320-16", "olt-ekb-1.mgmt.fibranat.example", "EKB", "ADTN"),
    ("OLT-SOL-1", Vendor.NOKIA, "Lightspan MF-2", "olt-sol-1.mgmt.fibranat.example", "SOL", "ALCL"),
    ("OLT-SOL-2", Vendor.CALIX, "E7-2", "olt-sol-2.mgmt.fibranat.example", "SOL", "CXNK"),
]
SPARE_ONTS_PER_OLT = 24
CONNECTED_FIRST_PHASE = 24


class Command(BaseCommand):
    help = "Create the demo world (operator, providers, contractor, users, areas, addresses, OLTs, ONTs); idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--addresses", type=int, default=400, help="Addresses in all (split over two areas).")

    def handle(self, *args, addresses: int, **options):
        if addresses < 2:
            raise CommandError("--addresses must be at least 2")
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)  # not a line per task run in this process
        with transaction.atomic():
            orgs = self._organizations()
            logins = self._users(orgs)
            areas = self._areas()
            created = self._addresses(areas, addresses)
            self._network(areas)
        demo_modules = list(self._app_demo_modules())
        lines: list[str] = []
        for module in demo_modules:
            with transaction.atomic():
                lines += module.seed() or []
        # What happened before today (an app's `history()`): each of its steps commits on its own.
        for module in demo_modules:
            if hasattr(module, "history"):
                lines += module.history() or []
        # Deployment publishes events whose handlers run after commit: each step in its own transaction.
        if areas["SOL"].status == AreaStatus.SURVEYED:
            services.area_start_deployment(area_id=areas["SOL"].pk, actor=None, reason="demo data")
            self._connect_first_phase(areas["SOL"])
        # finish() steps commit one by one (each service call in its own transaction), so what each step publishes
        # (an activation, a hand-over) has happened before the next step looks.
        for module in demo_modules:
            if hasattr(module, "finish"):
                lines += module.finish() or []
        self._report(logins, created)
        for line in lines:
            self.stdout.write(line)

    def _app_demo_modules(self):
        """Apps above the core add their demo data in `<app>.demo_data`: `seed()` before the demo area goes into
        deployment, `history()` (months of the past) next, `finish()` after; all return lines to print. The core
        imports none of them."""
        for app_config in apps.get_app_configs():
            if app_config.name == "cos" or importlib.util.find_spec(f"{app_config.name}.demo_data") is None:
                continue
            yield importlib.import_module(f"{app_config.name}.demo_data")

    def _connect_first_phase(self, area) -> None:
        """The first addresses of the deploying area are already built and connected (a finished first phase)."""
        first = area.addresses.order_by("external_id").values_list("pk", flat=True)[:CONNECTED_FIRST_PHASE]
        for address_id in first:
            services.address_mark_connected(address_id=address_id, reason="demo data: first phase built")

    def _organizations(self) -> dict[str, Organization]:
        orgs = {}
        for slug, name, kind in ORGANIZATIONS:
            details = INVOICE_DETAILS.get(slug, {})
            orgs[slug], _ = Organization.objects.get_or_create(
                slug=slug, defaults={"name": name, "kind": kind, **details}
            )
        return orgs

    def _users(self, orgs) -> list[tuple[str, str]]:
        User = get_user_model()
        logins = []
        for username, org_slug, role, purpose in USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@demo.example"}
            )
            if created:
                user.password = demo_password_hash()
                user.is_superuser = username == "admin"
                user.is_staff = username == "admin"
                user.save()
            services.membership_grant(user=user, organization=orgs[org_slug], role=role)
            logins.append((username, purpose))
        subscriber, created = User.objects.get_or_create(username="anna", defaults={"email": "anna@demo.example"})
        if created:
            subscriber.password = demo_password_hash()
            subscriber.save()
        Customer.objects.get_or_create(
            user=subscriber,
            defaults={
                "customer_type": CustomerType.RESIDENTIAL,
                "first_name": "Anna",
                "last_name": "Lindqvist",
                "email": "anna@demo.example",
                "phone": "+46701234567",
                "language": "sv",
                "notify_by_sms": True,  # the demo prints her SMS too (SMS_URL=console://)
                "billing_street": "Storgatan 4",
                "billing_postal_code": "72110",
                "billing_city": "Västerås",
            },
        )
        logins.append(("anna", "subscriber: /portal/"))
        return logins

    def _areas(self) -> dict[str, Area]:
        areas = {}
        for code, name in AREAS:
            area, created = Area.objects.get_or_create(code=code, defaults={"name": name})
            if created:
                services.area_mark_surveyed(area_id=area.pk, reason="demo data")
                area.refresh_from_db()
            areas[code] = area
        return areas

    def _addresses(self, areas, total: int) -> int:
        per_area = {"EKB": total - total // 2, "SOL": total // 2}
        existing = set(AddressObject.objects.values_list("external_id", flat=True))
        new = [
            AddressObject(area=areas[code], **row)
            for code, count in per_area.items()
            for row in demo_addresses(code, count)
            if row["external_id"] not in existing
        ]
        AddressObject.objects.bulk_create(new, batch_size=1000)
        services.street_index_refresh()
        return len(new)

    def _network(self, areas) -> None:
        ports_by_area: dict[str, list[list[PonPort]]] = {}
        for name, vendor, model, host, area_code, serial_prefix in OLTS:
            olt, _ = OLT.objects.get_or_create(
                name=name,
                defaults={"vendor": vendor, "model": model, "management_host": host, "area": areas[area_code]},
            )
            ports = []
            for slot in (1, 2):
                for port in range(1, 9):
                    pon, _ = PonPort.objects.get_or_create(olt=olt, shelf=1, slot=slot, port=port)
                    ports.append(pon)
            ports_by_area.setdefault(area_code, []).append(ports)
            for index in range(SPARE_ONTS_PER_OLT):
                ONT.objects.get_or_create(
                    serial=ont_serial(serial_prefix, index),
                    defaults={
                        "vendor": vendor,
                        "model": f"{olt.get_vendor_display()} ONT",
                        "pon_port": ports[index % len(ports)],
                    },
                )

        self._serving_ports(areas, ports_by_area)

    def _serving_ports(self, areas, ports_by_area) -> None:
        """Each address's fiber reaches one PON port: houses on the area's first OLT, apartment buildings and
        businesses on its second where it has one, spread over the ports."""
        for code, olts in ports_by_area.items():
            unserved = areas[code].addresses.filter(serving_pon_port__isnull=True).order_by("external_id")
            by_port: dict[int, list[int]] = {}
            # Rows, not model instances: an address object's FSM state costs a query per instance loaded partly.
            for index, (address_id, building_type) in enumerate(unserved.values_list("pk", "building_type")):
                ports = olts[0] if building_type == BuildingType.SINGLE_FAMILY or len(olts) == 1 else olts[1]
                by_port.setdefault(ports[index % len(ports)].pk, []).append(address_id)
            for port_id, address_ids in by_port.items():  # one UPDATE per port
                AddressObject.objects.filter(pk__in=address_ids).update(serving_pon_port_id=port_id)

    def _report(self, logins, created: int) -> None:
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({created} new addresses)."))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, purpose in logins:
            self.stdout.write(f"  {username:<18} {purpose}")
