"""Each /tmf-api/ resource as TM Forum specifies it: every list and every item conforms to its definition; filtering
by attribute, `fields=` selection, `offset`/`limit` with the count headers; errors in TMF's Error shape with
/api/v1/'s codes; modify and delete order items; cancelProductOrder; hubs; and no provider reaches another's."""

from decimal import Decimal

import pytest
from django.test import TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from billing.services import activation_invoice
from cos.models import WebhookEndpoint
from marketplace import services as marketplace_services
from marketplace.models import Subscription
from tests.cos.factories import AddressFactory, CustomerFactory
from tests.marketplace.api.conftest import provider_client
from tests.marketplace.factories import PriceFactory, ProductFactory, world
from tests.tmf.conftest import conforming, tmf_error
from tests.wholesale.factories import issued_statement

pytestmark = pytest.mark.django_db

ORDERING = "/tmf-api/productOrderingManagement/v4"
LISTS = {
    "productOffering": "/tmf-api/productCatalogManagement/v4/productOffering",
    "productSpecification": "/tmf-api/productCatalogManagement/v4/productSpecification",
    "productOfferingPrice": "/tmf-api/productCatalogManagement/v4/productOfferingPrice",
    "productOfferingQualification": "/tmf-api/productOfferingQualification/v4/productOfferingQualification",
    "productOrder": f"{ORDERING}/productOrder",
    "cancelProductOrder": f"{ORDERING}/cancelProductOrder",
    "service": "/tmf-api/serviceInventory/v4/service",
    "customerBill": "/tmf-api/customerBillManagement/v4/customerBill",
}


def _order_body(w, address=None, customer_name="Anna Lind", email="anna@example.test") -> dict:
    return {
        "productOrderItem": [
            {
                "id": "1",
                "action": "add",
                "productOffering": {"id": str(w.internet.pk)},
                "product": {"place": [{"id": str((address or w.address).pk), "role": "installationAddress"}]},
            }
        ],
        "relatedParty": [
            {
                "role": "customer",
                "@referredType": "Individual",
                "name": customer_name,
                "contactMedium": [{"mediumType": "email", "characteristic": {"emailAddress": email}}],
            }
        ],
    }


def _seed(w) -> APIClient:
    """A provider with a row of every resource: a TMF order, a live subscription, a qualification, a cancellation,
    an issued statement."""
    api = provider_client(w.provider)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = api.post(LISTS["productOrder"], _order_body(w), format="json")
    assert response.status_code == 201, response.content
    live = AddressFactory(area=w.area, status=w.address.status)
    with TestCase.captureOnCommitCallbacks(execute=True):
        second = api.post(LISTS["productOrder"], _order_body(w, live, "Bo Ek", "bo@example.test"), format="json")
        assert second.status_code == 201, second.content
    with TestCase.captureOnCommitCallbacks(execute=True):
        subscription = Subscription.objects.get(address=live)
        marketplace_services.subscription_activate(subscription_id=subscription.pk, at=timezone.now())
        activation_invoice(subscription_id=subscription.pk, activated_at=timezone.now())
    api.post(LISTS["productOfferingQualification"], {"place": [{"id": str(w.address.pk), "role": "x"}]}, format="json")
    first = response.json()["id"]
    api.post(
        LISTS["cancelProductOrder"],
        {"productOrder": {"id": first}, "cancellationReason": "changed mind"},
        format="json",
    )
    issued_statement(w)
    return api


@pytest.fixture
def seeded():
    w = world()
    return w, _seed(w)


@pytest.mark.parametrize("resource", sorted(LISTS))
def test_every_list_and_item_conforms_to_its_definition(seeded, resource):
    w, api = seeded
    listed = conforming(api.get(LISTS[resource]), resource, many=True)
    assert listed, f"nothing seeded behind {resource}"
    for item in listed:
        response = api.get(f"{LISTS[resource]}/{item['id']}")
        assert response.status_code == 200, response.content
        assert conforming(response, resource) == item
        assert item["href"].endswith(f"{LISTS[resource]}/{item['id']}")
        assert item["@type"]


def test_lists_filter_by_attribute_select_fields_and_page(seeded):
    w, api = seeded
    everything = conforming(api.get(LISTS["productOrder"]), "productOrder", many=True)
    states = {o["state"] for o in everything}
    assert {"cancelled", "inProgress"} <= states
    # by attribute, and by one inside the items
    cancelled = conforming(api.get(LISTS["productOrder"], {"state": "cancelled"}), "productOrder", many=True)
    assert [o["state"] for o in cancelled] == ["cancelled"]
    live = api.get(LISTS["productOrder"], {"productOrderItem.product.status": "active"}).json()
    assert len(live) == 1
    assert live[0]["productOrderItem"][0]["product"]["status"] == "active"
    # fields: those asked for, with id, href, @type and what TM Forum requires of a product order (its items)
    (slim, *_) = conforming(api.get(LISTS["productOrder"], {"fields": "state"}), "productOrder", many=True)
    assert set(slim) == {"id", "href", "@type", "state", "productOrderItem"}
    bills = api.get(LISTS["customerBill"], {"fields": "billNo,amountDue"}).json()
    assert [set(bill) for bill in bills] == [{"id", "href", "@type", "billNo", "amountDue"}] * len(bills)
    # offset and limit, with the counts
    page = api.get(LISTS["productOrder"], {"offset": 1, "limit": 1})
    assert page["X-Total-Count"] == str(len(everything))
    assert page["X-Result-Count"] == "1"
    assert page.json()[0]["id"] == everything[1]["id"]
    tmf_error(api.get(LISTS["productOrder"], {"limit": "many"}), 400, "invalid")


def test_bills_are_the_statements_then_the_subscriber_invoices_of_your_accounts(seeded):
    w, api = seeded
    bills = conforming(api.get(LISTS["customerBill"]), "customerBill", many=True)
    assert [b["category"] for b in bills] == ["wholesale statement", "subscriber invoice"]
    invoice = bills[1]
    assert invoice["id"].startswith("invoice-")
    assert invoice["relatedParty"][0]["role"] == "customer"
    # paged without building the whole list: the second page holds the invoice alone
    page = api.get(LISTS["customerBill"], {"offset": 1, "limit": 5})
    assert (page["X-Total-Count"], page["X-Result-Count"]) == ("2", "1")
    assert page.json()[0]["id"] == invoice["id"]
    # filtered by attribute
    assert [b["id"] for b in api.get(LISTS["customerBill"], {"category": "subscriber invoice"}).json()] == [
        invoice["id"]
    ]


def test_errors_are_tmf_errors_with_the_codes_of_the_provider_api(seeded):
    w, api = seeded
    tmf_error(api.get(f"{LISTS['productOrder']}/999999"), 404, "not_found")
    tmf_error(api.get("/tmf-api/productOrderingManagement/v4/nothingHere"), 404, "not_found")
    tmf_error(api.post(LISTS["productOrder"], {"productOrderItem": []}, format="json"), 400, "invalid")
    tmf_error(
        api.post(LISTS["productOrder"], {"productOrderItem": [{"id": "1", "action": "move"}]}, format="json"),
        400,
        "invalid_action",
    )
    body = _order_body(w)
    body["relatedParty"] = []
    tmf_error(api.post(LISTS["productOrder"], body, format="json"), 400, "customer_required")
    # an order the marketplace refuses: the same codes and problems as /api/v1/ gives
    (live,) = Subscription.objects.filter(provider=w.provider, status="active")
    again = _order_body(w, live.address, "Bo Ek", "bo@example.test")
    refused = api.post(LISTS["productOrder"], again, format="json").json()
    assert refused["status"] == "400"
    assert refused["problems"]
    assert refused["code"] == refused["problems"][0]["code"]
    tmf_error(api.post(LISTS["productOfferingQualification"], {}, format="json"), 400, "place_required")
    tmf_error(APIClient().get(LISTS["productOrder"]), 401, "not_authenticated")


def test_modify_and_delete_items_change_and_end_a_live_subscription(seeded):
    w, api = seeded
    (subscription,) = Subscription.objects.filter(provider=w.provider, status="active")
    faster = ProductFactory(
        provider=w.provider, name="Fiber 2000", category="internet", download_mbps=2000, upload_mbps=2000
    )
    PriceFactory(product=faster, marketplace=w.marketplace, monthly_amount=Decimal("599.00"))
    # when: a plan change
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = api.post(
            LISTS["productOrder"],
            {
                "productOrderItem": [
                    {
                        "id": "a",
                        "action": "modify",
                        "product": {"id": str(subscription.pk)},
                        "productOffering": {"id": str(faster.pk)},
                    }
                ]
            },
            format="json",
        )
    modify = conforming(response, "productOrder")
    (item,) = modify["productOrderItem"]
    assert (item["action"], item["productOffering"]["id"], item["state"]) == ("modify", str(faster.pk), "inProgress")
    # when: a termination
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = api.post(
            LISTS["productOrder"],
            {"productOrderItem": [{"id": "b", "action": "delete", "product": {"id": str(subscription.pk)}}]},
            format="json",
        )
    delete = conforming(response, "productOrder")
    subscription.refresh_from_db()
    assert subscription.status in ("awaiting_cancellation", "terminated")
    assert delete["productOrderItem"][0]["state"] in ("inProgress", "completed")
    # another provider's subscription is no item of yours
    other = world()
    other_api = provider_client(other.provider)
    response = other_api.post(
        LISTS["productOrder"],
        {"productOrderItem": [{"id": "c", "action": "delete", "product": {"id": str(subscription.pk)}}]},
        format="json",
    )
    tmf_error(response, 400, "subscription_not_found")


def test_cancelling_an_order_that_is_live_ends_with_an_error_and_changes_nothing(seeded):
    w, api = seeded
    live = next(
        o
        for o in api.get(LISTS["productOrder"]).json()
        if o["productOrderItem"][0]["product"].get("status") == "active"
    )
    response = api.post(LISTS["cancelProductOrder"], {"productOrder": {"id": live["id"]}}, format="json")
    assert response.status_code == 201
    refused = conforming(response, "cancelProductOrder")
    assert refused["state"] == "terminatedWithError"
    assert refused["note"][0]["text"].startswith("transition_not_allowed: ")  # a completed order
    assert api.get(f"{LISTS['productOrder']}/{live['id']}").json()["state"] == live["state"]
    done = [c for c in api.get(LISTS["cancelProductOrder"]).json() if c["state"] == "done"]
    assert len(done) == 1


def test_a_hub_registers_and_removes_a_listener(seeded):
    w, api = seeded
    tmf_error(
        api.post(f"{ORDERING}/hub", {"callback": "http://127.0.0.1:9/x", "query": "eventType=Nope"}, format="json"),
        400,
        "unknown_event_type",
    )
    tmf_error(api.post(f"{ORDERING}/hub", {"query": ""}, format="json"), 400, "callback_required")
    hub = api.post(f"{ORDERING}/hub", {"callback": "http://127.0.0.1:9/x"}, format="json").json()
    endpoint = WebhookEndpoint.objects.get(pk=int(hub["id"]))
    assert (endpoint.format, endpoint.tmf_api) == ("tmf", "productOrderingManagement")
    # another provider cannot remove it; its provider can, once
    tmf_error(provider_client(world().provider).delete(f"{ORDERING}/hub/{hub['id']}"), 404, "not_found")
    assert api.delete(f"{ORDERING}/hub/{hub['id']}").status_code == 204
    tmf_error(api.delete(f"{ORDERING}/hub/{hub['id']}"), 404, "not_found")


@pytest.mark.parametrize("resource", sorted(LISTS))
def test_another_provider_reaches_none_of_it(seeded, resource):
    w, api = seeded
    b = world()
    b_api = _seed(b)
    mine = {item["id"] for item in api.get(LISTS[resource]).json()}
    theirs = {item["id"] for item in b_api.get(LISTS[resource]).json()}
    assert mine
    assert theirs
    assert not mine & theirs
    for pk in mine:
        tmf_error(b_api.get(f"{LISTS[resource]}/{pk}"), 404, "not_found")


def test_a_customer_of_another_provider_is_not_reused_by_id(seeded):
    w, api = seeded
    stranger = CustomerFactory()
    body = _order_body(w, AddressFactory(area=w.area, status=w.address.status))
    body["relatedParty"] = [{"role": "customer", "@referredType": "Individual", "id": str(stranger.pk)}]
    tmf_error(api.post(LISTS["productOrder"], body, format="json"), 400, "customer_not_found")


def test_the_docs_show_each_tm_forum_specification_offline(client):
    import codecs

    from tmf.conformance import FILES

    description = client.get("/api/schema/?format=json").json()["info"]["description"]
    for number, file in {name.split("-")[0]: name for name in FILES.values()}.items():
        assert f"/tmf-api/docs/{number}/" in description
        page = client.get(f"/tmf-api/docs/{number}/")
        assert page.status_code == 200
        html = codecs.decode(page.content.decode(), "unicode_escape")  # the page's script escapes its URL
        assert f"/tmf-api/specs/{file}" in html
        assert "cdn" not in html.lower()
        document = client.get(f"/tmf-api/specs/{file}").json()
        assert document["basePath"].startswith("/tmf-api/")
        assert document["paths"]
