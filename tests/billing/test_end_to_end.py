"""From deployment to the credit note, on PostgreSQL, Redis and a real Celery worker, with the simulator on loopback:
area in deployment -> work order -> technician's tasks -> provisioning -> service.activated -> first invoice
(prorated, start fee) -> termination -> deactivation -> credit note for the unused days."""

import calendar
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
import requests
from django.utils import timezone

from billing.choices import InvoiceKind, InvoiceStatus, LineKind
from billing.models import Invoice
from cos import services as cos_services
from cos.choices import AddressStatus, AreaStatus, OrganizationKind
from cos.models import AddressObject, Area
from cos.services import membership_grant
from marketplace import services as marketplace_services
from marketplace.models import Subscription
from provisioning.choices import ServiceStatus
from provisioning.models import ServiceInstance
from tests.cos.factories import OLTFactory, ONTFactory, OrganizationFactory, PonPortFactory, UserFactory
from tests.marketplace.factories import world
from tests.provisioning.conftest import running_simulator, simulator  # noqa: F401 - fixtures
from tests.workorders.factories import work_through
from workorders import demo_data as workorder_templates
from workorders.models import WorkOrder

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CENT = Decimal("0.01")


def test_a_connection_is_billed_from_its_verified_activation_and_refunded_at_termination(
    simulator,  # noqa: F811
    celery_worker,
    wait_until,
):
    # given: a surveyed area on a marketplace that takes pre-orders, an ONT in stock, a staff technician
    workorder_templates.seed()
    w = world(takes_preorders=True)
    Area.objects.filter(pk=w.area.pk).update(status=AreaStatus.SURVEYED)
    AddressObject.objects.filter(pk=w.address.pk).update(status=AddressStatus.SURVEYED)
    w.internet.eligibility.address_statuses = [AddressStatus.IN_DEPLOYMENT, AddressStatus.CONNECTED]
    w.internet.eligibility.save(update_fields=["address_statuses"])
    ont = ONTFactory(serial="ADTN0E2E0001", vendor="adtran", pon_port=PonPortFactory(olt=OLTFactory(vendor="adtran")))
    requests.post(f"{simulator.url}/_sim/onts", json={"serial": ont.serial}, timeout=5)
    tech = UserFactory(username="tina-tech")
    membership_grant(
        user=tech,
        organization=OrganizationFactory(name="Stadsnät", kind=OrganizationKind.NETWORK_OPERATOR),
        role="technician",
    )

    # when: the operator starts deployment; the worker creates the work order
    cos_services.area_start_deployment(area_id=w.area.pk, reason="build season")
    wait_until(lambda: WorkOrder.objects.filter(address=w.address).exists(), message="the work order")
    # the subscriber orders; the order is accepted and joins the work order
    marketplace_services.order_place(request=w.request())
    wait_until(lambda: ServiceInstance.objects.filter(address=w.address).exists(), message="the service instance")
    # the technician works through every task, scanning the ONT; closing the trigger provisions the service
    work_order = WorkOrder.objects.get(address=w.address)
    work_order.tasks.update(assigned_user=tech)
    work_through(work_order, tech, ont_serial=ont.serial)

    # then: the service is verified active, and the first invoice is issued from the device's activation time
    wait_until(
        lambda: Invoice.objects.filter(account__customer=w.customer, status=InvoiceStatus.OPEN).exists(),
        timeout=30,
        message="the first invoice",
    )
    service = ServiceInstance.objects.get(address=w.address)
    assert service.status == ServiceStatus.ACTIVE
    subscription = Subscription.objects.get(pk=service.subscription_id)
    day = subscription.activated_at.astimezone(ZoneInfo(w.marketplace.time_zone)).date()
    month_days = calendar.monthrange(day.year, day.month)[1]
    used = month_days - day.day + 1
    expected = (w.internet_price.monthly_amount * used / month_days).quantize(CENT, ROUND_HALF_UP)
    invoice = Invoice.objects.get(account__customer=w.customer)
    lines = {line.kind: line.amount for line in invoice.lines.all()}
    assert lines[LineKind.START_FEE] == w.internet_price.start_fee
    assert lines.get(LineKind.PRORATED, lines.get(LineKind.RECURRING)) == expected
    assert invoice.total == sum(lines.values())
    assert invoice.number.startswith(f"INV-{timezone.localdate().year}-")

    # when: the subscriber terminates; the worker turns the service off and billing stops
    marketplace_services.subscription_terminate(subscription_id=subscription.pk, reason="moved", waive_notice=True)
    wait_until(
        lambda: Invoice.objects.filter(account__customer=w.customer, kind=InvoiceKind.CREDIT_NOTE).exists(),
        timeout=30,
        message="the credit note",
    )
    # then: the service is inactive and the unused days (from the deactivation day) are refunded
    service.refresh_from_db()
    assert service.status == ServiceStatus.INACTIVE
    off = service.deactivated_at.astimezone(ZoneInfo(w.marketplace.time_zone)).date()
    credit = Invoice.objects.get(account__customer=w.customer, kind=InvoiceKind.CREDIT_NOTE)
    refunded = -sum(line.amount for line in credit.lines.filter(kind=LineKind.CREDIT))
    if off.month == day.month:
        unused = month_days - off.day + 1
        assert refunded == (w.internet_price.monthly_amount * unused / month_days).quantize(CENT, ROUND_HALF_UP)
    assert credit.number.startswith("CN-")
    # and, the first invoice being unpaid, the credit note settles against it: the subscriber owes the rest
    wait_until(lambda: Invoice.objects.get(pk=credit.pk).status == InvoiceStatus.PAID, message="the settlement")
    invoice.refresh_from_db()
    assert invoice.amount_paid == -credit.total
    assert invoice.open_amount == invoice.total + credit.total
