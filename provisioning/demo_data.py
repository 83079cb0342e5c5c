"""Demo lives after activation, made through the real services against the simulator (make run starts it first):

- Erik Sund had Svea 100 from Svea Connect and switched to Ljusnet 250: one verified hand-over on his ONT, Svea's
  billing stopped and Ljusnet's started at the same instant (Svea's final credit note, Ljusnet's first invoice);
- Maria Berg ended her Svea 100: the service was turned off, and the unused days came back on a credit note;
- Johan Ek has Svea 100, live: the README's walk-through switches and ends it in the portal.

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
        user.set_password(DEMO_PASSWORD)
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
    ]
