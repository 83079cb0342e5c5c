"""A provider integrates with only the TM Forum APIs and their event hubs, over HTTP against a live server, its
listener on loopback verifying every signature: it qualifies an address, orders, follows the installation visit,
sees its service go live, is told of a switch away, and reads its statement. Every response and every event
conforms to TM Forum's own definitions (tmf/specs/)."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from cos import services as cos_services
from cos.choices import AddressStatus, AreaStatus, OrganizationKind
from cos.models import AddressObject, Area
from cos.services import api_token_issue, membership_grant
from marketplace import services as marketplace_services
from marketplace.validation import LineRequest
from tests.cos.factories import OLTFactory, ONTFactory, OrganizationFactory, PonPortFactory, UserFactory
from tests.marketplace.factories import world
from tests.provisioning.conftest import running_simulator, simulator  # noqa: F401 - fixtures
from tests.provisioning.test_switch import _provider_b
from tests.webhook_receiver import Receiver
from tests.wholesale.factories import dispute_of, issued_statement
from tests.workorders.factories import work_through
from tmf.conformance import problems
from workorders import demo_data as workorder_templates
from workorders import services as field_services
from workorders.models import WorkOrder

pytestmark = pytest.mark.django_db(transaction=True)

ORDERING = "/tmf-api/productOrderingManagement/v4"
POQ = "/tmf-api/productOfferingQualification/v4"
SERVICES = "/tmf-api/serviceInventory/v4"
BILLS = "/tmf-api/customerBillManagement/v4"
CATALOG = "/tmf-api/productCatalogManagement/v4"


class Provider:
    """The provider's side: an HTTP client with its token, checking every answer against the specification."""

    def __init__(self, base: str, provider) -> None:
        user = UserFactory()
        membership_grant(user=user, organization=provider, role="api")
        self.http = requests.Session()
        self.http.headers["Authorization"] = "Token " + api_token_issue(user=user, name="tmf")[1]
        self.base = base

    def call(self, method: str, path: str, api: str, definition: str | None, *, many=False, status=200, **kwargs):
        response = self.http.request(method, self.base + path, timeout=30, **kwargs)
        assert response.status_code == status, response.text
        body = response.json() if response.content else None
        if definition:
            for item in body if many else [body]:
                assert not problems(api, definition, item), (path, problems(api, definition, item))
        if many:
            assert response.headers["X-Result-Count"] == str(len(body))
        return body


def _events(receiver, event_type: str) -> list[dict]:
    return [r.json for r in receiver.received if r.json.get("eventType") == event_type]


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


def test_a_provider_qualifies_orders_follows_and_is_billed_through_tmf_alone(
    live_server,
    simulator,  # noqa: F811
    receiver,
):
    # given: a surveyed area on a marketplace that takes pre-orders, an ONT in stock, the operator's technician
    workorder_templates.seed()
    w = world(takes_preorders=True)
    Area.objects.filter(pk=w.area.pk).update(status=AreaStatus.SURVEYED)
    AddressObject.objects.filter(pk=w.address.pk).update(status=AddressStatus.SURVEYED)
    w.internet.eligibility.address_statuses = [AddressStatus.IN_DEPLOYMENT, AddressStatus.CONNECTED]
    w.internet.eligibility.save(update_fields=["address_statuses"])
    w.internet.term.__class__.objects.filter(pk=w.internet.term_id).update(notice_days=0, minimum_months=0)
    ont = ONTFactory(serial="ADTN0E2E0002", vendor="adtran", pon_port=PonPortFactory(olt=OLTFactory(vendor="adtran")))
    requests.post(f"{simulator.url}/_sim/onts", json={"serial": ont.serial}, timeout=5)
    tech = UserFactory(username="tina-tech")
    operator = OrganizationFactory(name="Stadsnät", kind=OrganizationKind.NETWORK_OPERATOR)
    membership_grant(user=tech, organization=operator, role="technician")
    cos_services.area_start_deployment(area_id=w.area.pk, reason="build season")
    (work_order,) = WorkOrder.objects.filter(address=w.address)
    a = Provider(live_server.url, w.provider)

    # the provider registers its listeners on three hubs; each answers with the secret its listener verifies with
    hubs = [
        (ORDERING, "eventType=ProductOrderStateChangeEvent,ProductOrderAttributeValueChangeEvent"),
        (SERVICES, ""),
        (BILLS, "eventType=CustomerBillCreateEvent,CustomerBillStateChangeEvent"),
    ]
    for base, query in hubs:
        hub = a.call("post", f"{base}/hub", "", None, status=201, json={"callback": receiver.url, "query": query})
        assert hub["callback"] == receiver.url
        assert not problems("productOrderingManagement", "EventSubscription", hub)
        receiver.secrets.append(hub["secret"])

    # when: it reads its catalog and qualifies the address (a pre-order: the fibre is being built)
    (offering,) = [
        o
        for o in a.call("get", f"{CATALOG}/productOffering", "productCatalogManagement", "ProductOffering", many=True)
        if o["name"] == w.internet.name
    ]
    qualification = a.call(
        "post",
        f"{POQ}/productOfferingQualification",
        "productOfferingQualification",
        "ProductOfferingQualification",
        status=201,
        json={"place": [{"id": str(w.address.pk), "role": "installationAddress"}]},
    )
    items = {i["productOffering"]["id"]: i for i in qualification["productOfferingQualificationItem"]}
    assert items[offering["id"]]["qualificationItemResult"] == "qualified"
    assert items[str(w.tv.pk)]["qualificationItemResult"] == "unqualified"  # TV needs internet first
    assert items[str(w.tv.pk)]["eligibilityUnavailabilityReason"]

    # it orders the offering for a new customer
    order = a.call(
        "post",
        f"{ORDERING}/productOrder",
        "productOrderingManagement",
        "ProductOrder",
        status=201,
        json={
            "externalId": "ISP-4711",
            "requestedStartDate": (timezone.localdate() + timedelta(days=10)).isoformat() + "T00:00:00Z",
            "productOrderItem": [
                {
                    "id": "1",
                    "action": "add",
                    "productOffering": {"id": offering["id"]},
                    "product": {"place": [{"id": str(w.address.pk), "role": "installationAddress"}]},
                }
            ],
            "relatedParty": [
                {
                    "role": "customer",
                    "@referredType": "Individual",
                    "name": "Anna Lind",
                    "contactMedium": [{"mediumType": "email", "characteristic": {"emailAddress": "anna@example.test"}}],
                }
            ],
        },
    )
    # then: accepted at once (the provider accepts automatically); its listener is told so
    assert order["state"] == "inProgress"
    assert order["externalId"] == "ISP-4711"
    (accepted,) = _events(receiver, "ProductOrderStateChangeEvent")
    assert accepted["event"]["productOrder"]["id"] == order["id"]
    assert accepted["event"]["productOrder"]["state"] == "inProgress"

    # when: the operator books the installation visit
    visit_day = timezone.localdate() + timedelta(days=3)
    field_services.work_order_schedule(work_order_id=work_order.pk, on=visit_day)
    # then: the listener hears of it, and the order shows the appointment
    (booked,) = _events(receiver, "ProductOrderAttributeValueChangeEvent")
    assert booked["title"] == "installation.booked"
    followed = a.call("get", f"{ORDERING}/productOrder/{order['id']}", "productOrderingManagement", "ProductOrder")
    assert str(visit_day) in followed["productOrderItem"][0]["appointment"]["description"]

    # when: the technician does the job; closing the trigger activates the service, verified by read-back
    work_order.tasks.update(assigned_user=tech)
    work_through(work_order, tech, ont_serial=ont.serial)
    # then: the service is live in the inventory, the order completed, and the listener told of both
    (service,) = a.call("get", f"{SERVICES}/service", "serviceInventory", "Service", many=True)
    assert service["state"] == "active"
    assert {"name": "ontSerial", "valueType": "string", "value": ont.serial} in service["serviceCharacteristic"]
    live = [e for e in _events(receiver, "ServiceStateChangeEvent") if e["title"] == "service.activated"]
    assert [e["event"]["service"]["state"] for e in live] == ["active"]
    done = a.call("get", f"{ORDERING}/productOrder/{order['id']}", "productOrderingManagement", "ProductOrder")
    assert done["state"] == "completed"
    assert done["productOrderItem"][0]["product"]["status"] == "active"

    # when: the customer switches to another provider at the same address
    b, b_product = _provider_b(w)
    customer = w.customer.__class__.objects.get(email="anna@example.test")
    marketplace_services.order_place(
        request=w.request(
            provider_id=b.pk,
            customer=customer,
            lines=[LineRequest(b_product.pk, b_product.prices.get().monthly_amount, "SEK")],
            install_date=None,
        )
    )
    # then: the provider is told its service is handed over (no notice in its terms: at once) and ends, and the
    # inventory says terminated
    told = [e["title"] for e in (r.json for r in receiver.received) if e.get("domain") == "serviceInventory"]
    assert "subscription.awaiting_cancellation" in told
    assert "service.deactivated" in told
    ended = a.call("get", f"{SERVICES}/service/{service['id']}", "serviceInventory", "Service")
    assert ended["state"] == "terminated"

    # when: last month's statement is issued and the provider disputes a line of it
    statement = issued_statement(w)
    dispute_of(statement)
    # then: it reads the bill, and its listener got the bill's creation and its change of state
    bills = a.call("get", f"{BILLS}/customerBill", "customerBillManagement", "CustomerBill", many=True)
    (bill,) = [b for b in bills if b["category"] == "wholesale statement"]
    # and the subscriber's invoices billed on its account (the first one, from the verified activation)
    assert [b["relatedParty"][0]["name"] for b in bills if b["category"] == "subscriber invoice"] == ["Anna Lind"]
    assert (bill["billNo"], bill["amountDue"]["value"]) == (statement.number, float(statement.total))
    (created,) = _events(receiver, "CustomerBillCreateEvent")
    assert created["event"]["customerBill"]["billNo"] == statement.number
    assert _events(receiver, "CustomerBillStateChangeEvent")[-1]["event"]["customerBill"]["state"] == "onHold"

    # and: every event was signed (verified by the listener), each id once, each resource as the spec defines it
    assert receiver.received
    assert all(r.verified for r in receiver.received)
    assert len({r.webhook_id for r in receiver.received}) == len(receiver.received)
    definitions = {
        "productOrder": ("productOrderingManagement", "ProductOrder"),
        "service": ("serviceInventory", "Service"),
        "customerBill": ("customerBillManagement", "CustomerBill"),
    }
    for got in receiver.received:
        ((name, resource),) = got.json["event"].items()
        assert not problems(*definitions[name], resource), (
            got.json["eventType"],
            problems(*definitions[name], resource),
        )
        if got.json["eventType"] in ("ProductOrderStateChangeEvent", "ServiceStateChangeEvent"):
            api = definitions[name][0]
            assert not problems(api, got.json["eventType"], got.json)
