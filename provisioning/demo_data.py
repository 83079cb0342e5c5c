"""Demo lives after activation, made through the real services against the simulator (make run starts it first):

- Erik Sund had Svea 100 from Svea Connect and switched to Ljusnet 250: one verified hand-over on his ONT, Svea's
  billing stopped and Ljusnet's started at the same instant (Svea's final credit note, Ljusnet's first invoice);
- Maria Berg ended her Svea 100: the service was turned off, and the unused days came back on a credit note;
- Johan Ek has Svea 100, live: the README's walk-through switches and ends it in the portal;

and what the operator's console shows of the network:

- Lena Holm's activation was refused by the element manager (a fault injected at the simulator, once, for her
  ONT): the job is dead and her service failed. Retrying the job turns her service on;
- a test service left on Maria's former ONT by a field engineer: the contract sync found it (an open contract
  exception, "Service on the network without an order").

Idempotent: a subscriber who has orders already is left as is.
"""

from datetime import timedelta

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from cos import inventory
from cos.choices import AddressStatus, CustomerType
from cos.models import ONT, AddressObject, Customer

DEMO_PASSWORD = "demo1234"
SUBSCRIBERS = [
    # username, first name, last name, what happens
    ("erik", "Erik", "Sund", "switch"),
    ("maria", "Maria", "Berg", "end"),
    ("johan", "Johan", "Ek", "live"),
]
DEAD_ACTIVATION = ("lena", "Lena", "Holm")
LEFT_BEHIND = "fieldtest-1"  # the device service id of the test service left on an ONT


def _simulator_up() -> bool:
    try:
        requests.get(settings.PROVISIONING_NOKIA_URL.rsplit("/", 1)[0] + "/_sim/state", timeout=2).raise_for_status()
    except requests.RequestException:
        return False
    return True


def _subscriber(username, first, last, address) -> Customer:
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@demo.example"}
    )
    if created:
        from cos.management.commands.seed_demo import demo_password_hash

        user.password = demo_password_hash()
        user.save()
    customer, _ = Customer.objects.get_or_create(
        user=user,
        defaults={
            "customer_type": CustomerType.RESIDENTIAL,
            "first_name": first,
            "last_name": last,
            "email": user.email,
            "phone": "+46 70 555 01 0" + str(len(username)),
            "billing_street": f"{address.street} {address.house_number}{address.suffix}",
            "billing_postal_code": address.postal_code,
            "billing_city": address.city,
            "language": "en" if username == "erik" else "sv",  # Erik reads his messages in English
        },
    )
    return customer


def _ont_in_place(address) -> ONT:
    """An ONT of the OLT that serves the address, bound there (installed when the first phase was built)."""
    bound = ONT.objects.filter(address=address).first()
    if bound:
        return bound
    olt = inventory.serving_port(address).olt
    ont = ONT.objects.filter(address__isnull=True, pon_port__olt=olt).order_by("-serial").first()
    return inventory.ont_bind(serial=ont.serial, address=address)


def _order(customer, address, product_name, *, on=None):
    from marketplace.models import Marketplace, Price, Product
    from marketplace.services import order_place
    from marketplace.validation import LineRequest, OrderRequest

    product = Product.objects.get(name=product_name)
    marketplace = Marketplace.objects.get(slug="hem")
    price = Price.objects.filter(product=product, marketplace=marketplace).order_by("-valid_from").first()
    order, _ = order_place(
        request=OrderRequest(
            customer=customer,
            address_id=address.pk,
            marketplace_id=marketplace.pk,
            provider_id=product.provider_id,
            lines=[LineRequest(product.pk, price.monthly_amount, price.currency)],
            terms_accepted=True,
            install_date=on,
        )
    )
    return order


def seed() -> list[str]:
    return []  # nothing before the demo area goes into deployment


def finish() -> list[str]:
    from marketplace.models import Subscription
    from marketplace.services import subscription_terminate

    if not _simulator_up():
        return ["Lifecycle demo skipped: the element-manager simulator is not running (make run starts it)."]
    connected = list(
        AddressObject.objects.filter(
            area__code="SOL", status=AddressStatus.CONNECTED, building_type="single_family"
        ).order_by("external_id")[3 : 3 + len(SUBSCRIBERS)]
    )
    if len(connected) < len(SUBSCRIBERS):
        return []
    lines = []
    for (username, first, last, life), address in zip(SUBSCRIBERS, connected, strict=True):
        customer = _subscriber(username, first, last, address)
        if customer.orders.exists():
            continue
        _ont_in_place(address)
        _order(customer, address, "Svea 100", on=timezone.localdate() + timedelta(days=1))  # activated remotely
        if not Subscription.objects.filter(customer=customer, status="active").exists():
            return [f"Lifecycle demo stopped: {username}'s service did not go live (see Provisioning jobs)."]
        if life == "switch":
            _order(customer, address, "Ljusnet 250")  # Svea has no notice: handed over at once
        elif life == "end":
            subscription = Subscription.objects.get(customer=customer, status="active")
            subscription_terminate(subscription_id=subscription.pk, reason="moved", note="moved to Stockholm")
    for username, *_ in SUBSCRIBERS:
        customer = Customer.objects.get(user__username=username)
        statuses = ", ".join(
            f"{s.product.name} {s.get_status_display().lower()}"
            for s in Subscription.objects.filter(customer=customer).select_related("product").order_by("pk")
        )
        lines.append(
            f"  {username:<8} {customer.display_name} at {customer.subscriptions.first().address.label}: {statuses}"
        )
    return [
        "Lifecycle demo (portal logins, password demo1234): erik switched from Svea Connect to Ljusnet, maria ended "
        "her service (credit note), johan's Svea 100 is live for the walk-through:",
        *lines,
        *_dead_activation(),
        *_service_left_on_the_network(),
    ]


def _fault(**fault) -> None:
    """Inject a fault at the simulator (its control API, as the tests do)."""
    base = settings.PROVISIONING_NOKIA_URL.rsplit("/", 1)[0]
    requests.post(f"{base}/_sim/faults", json=fault, timeout=5).raise_for_status()


def _dead_activation() -> list[str]:
    """Lena Holm ordered Ljusnet 250 at a connected house whose ONT is in place; the element manager refused the
    activation ("invalid profile": a rejection, which no retry fixes), so the job went dead and the service failed."""
    from provisioning.models import ProvisioningJob

    address = (
        AddressObject.objects.filter(area__code="SOL", status=AddressStatus.CONNECTED, building_type="single_family")
        .order_by("external_id")[3 + len(SUBSCRIBERS) : 4 + len(SUBSCRIBERS)]
        .first()
    )
    if address is None:
        return []
    customer = _subscriber(*DEAD_ACTIVATION, address)
    if not customer.orders.exists():
        ont = _ont_in_place(address)
        _fault(kind="reject", serial=ont.serial, times=1)
        _order(customer, address, "Ljusnet 250", on=timezone.localdate() + timedelta(days=1))  # activated remotely
    job = ProvisioningJob.objects.filter(service__subscription__customer=customer).order_by("pk").last()
    if job is None:
        return []
    return [
        f"  lena     {customer.display_name} at {address.label}: the element manager refused her activation (job "
        f"{job.pk}, {job.get_status_display().lower()}): retry it from /ops/ or Provisioning jobs."
    ]


def _service_left_on_the_network() -> list[str]:
    """A field engineer's test service left enabled on Maria's ONT after her service ended; the contract sync finds
    it. Made once: after the operator resolves the exception, loading the demo again leaves it resolved."""
    from provisioning.adapters import ServiceSpec, adapter_for
    from provisioning.models import ContractException
    from provisioning.sync import contract_sync

    ont = (
        ONT.objects.filter(services__subscription__customer__user__username="maria")
        .select_related("pon_port__olt")
        .first()
    )
    if ont is None or ont.pon_port is None:
        return []
    if not ContractException.objects.filter(ont_serial=ont.serial, device_service_id=LEFT_BEHIND).exists():
        spec = ServiceSpec(LEFT_BEHIND, ont.serial, "HSI_1000_1000", 1000, 1000, c_vlan=3999)
        adapter_for(ont.pon_port.olt.vendor).activate(spec)
        contract_sync()
    return [
        f"  Contract exceptions: a test service ({LEFT_BEHIND}) is still on {ont.serial} at Maria's former address: "
        "see /ops/ (resolve it with a reason code once the service is removed)."
    ]
