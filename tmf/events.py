"""TMF event hubs on the providers' webhooks: `POST /hub` on an API registers a listener (a webhook endpoint in TMF's
format), `DELETE /hub/{id}` removes it. Each notification a provider is sent becomes the TMF event of the API the
listener was registered on, with the resource as it is at that moment, signed as every webhook is.

COS's events and the TMF events they become (the table is EVENTS below):
- productOrderingManagement: order.accepted / rejected / cancelled / completed -> ProductOrderStateChangeEvent;
  installation.booked / rescheduled and infrastructure.ready -> ProductOrderAttributeValueChangeEvent;
- serviceInventory: service.activated / suspended / resumed / deactivated -> ServiceStateChangeEvent; service.modified,
  subscription.awaiting_cancellation / cancellation_aborted, switch.completed / aborted ->
  ServiceAttributeValueChangeEvent;
- customerBillManagement: statement.issued -> CustomerBillCreateEvent; statement.settled / dispute_updated ->
  CustomerBillStateChangeEvent.
"""

from datetime import UTC
from urllib.parse import parse_qs

from rest_framework import status
from rest_framework.response import Response

from cos.choices import WebhookEndpointStatus, WebhookFormat
from cos.errors import NotFound
from cos.models import WebhookEndpoint
from cos.webhooks import webhook_endpoint_register, webhook_endpoint_remove
from marketplace.models import Order
from provisioning.models import ServiceInstance
from tmf.common import TmfError, TmfView
from wholesale.models import Statement

EVENTS = {
    "productOrderingManagement": {
        "order.accepted": "ProductOrderStateChangeEvent",
        "order.rejected": "ProductOrderStateChangeEvent",
        "order.cancelled": "ProductOrderStateChangeEvent",
        "order.completed": "ProductOrderStateChangeEvent",
        "installation.booked": "ProductOrderAttributeValueChangeEvent",
        "installation.rescheduled": "ProductOrderAttributeValueChangeEvent",
        "infrastructure.ready": "ProductOrderAttributeValueChangeEvent",
    },
    "serviceInventory": {
        "service.activated": "ServiceStateChangeEvent",
        "service.suspended": "ServiceStateChangeEvent",
        "service.resumed": "ServiceStateChangeEvent",
        "service.deactivated": "ServiceStateChangeEvent",
        "service.modified": "ServiceAttributeValueChangeEvent",
        "subscription.awaiting_cancellation": "ServiceAttributeValueChangeEvent",
        "subscription.cancellation_aborted": "ServiceAttributeValueChangeEvent",
        "switch.completed": "ServiceAttributeValueChangeEvent",
        "switch.aborted": "ServiceAttributeValueChangeEvent",
    },
    "customerBillManagement": {
        "statement.issued": "CustomerBillCreateEvent",
        "statement.settled": "CustomerBillStateChangeEvent",
        "statement.dispute_updated": "CustomerBillStateChangeEvent",
    },
    "productCatalogManagement": {},
    "productOfferingQualification": {},
}


def event_types_of(api: str) -> set[str]:
    return set(EVENTS.get(api, {}).values())


def _services_of(notification) -> list[ServiceInstance]:
    data = notification.payload
    ids = []
    if "service_id" in data:
        ids = [data["service_id"]]
    else:
        subscription_ids = [
            data[key] for key in ("subscription_id", "from_subscription_id", "to_subscription_id") if data.get(key)
        ]
        ids = list(
            ServiceInstance.objects.filter(
                subscription_id__in=subscription_ids, provider=notification.provider
            ).values_list("pk", flat=True)
        )
    return list(
        ServiceInstance.objects.filter(pk__in=ids, provider=notification.provider)
        .select_related("address", "ont", "subscription__product")
        .order_by("pk")
    )


def _orders_of(notification) -> list[Order]:
    data = notification.payload
    ids = data.get("order_ids") or ([data["order_id"]] if data.get("order_id") else [])
    if not ids and data.get("address_id"):
        ids = list(
            Order.objects.filter(address_id=data["address_id"], provider=notification.provider).values_list(
                "pk", flat=True
            )
        )
    return list(Order.objects.filter(pk__in=ids, provider=notification.provider).order_by("pk"))


class TmfFormat:
    """The TMF event a listener gets for a notification, or none when its API has no event for it (or its query
    asked for other event types)."""

    def event_type(self, notification, endpoint):
        event_type = EVENTS.get(endpoint.tmf_api, {}).get(notification.topic)
        if event_type is None or (endpoint.event_types and event_type not in endpoint.event_types):
            return None
        if endpoint.tmf_api == "serviceInventory" and not _services_of(notification):
            return None
        if endpoint.tmf_api == "productOrderingManagement" and not _orders_of(notification):
            return None
        return event_type

    def body(self, notification, endpoint, event_type):
        from tmf.inventory import bill_item, service_item
        from tmf.ordering import product_order

        if endpoint.tmf_api == "productOrderingManagement":
            orders = _orders_of(notification)
            event = {"productOrder": product_order(order=orders[0])}
        elif endpoint.tmf_api == "serviceInventory":
            event = {"service": service_item(_services_of(notification)[0])}
        else:
            statement = Statement.objects.select_related("operator").get(pk=notification.payload["statement_id"])
            event = {"customerBill": bill_item(statement)}
        moment = notification.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return {
            "eventId": notification.webhook_id,
            "eventTime": moment,
            "timeOcurred": moment,
            "eventType": event_type,
            "correlationId": notification.topic,
            "domain": endpoint.tmf_api,
            "title": notification.topic,
            "description": _description(notification),
            "event": event,
        }


def _description(notification) -> str:
    data = notification.payload
    if notification.topic.startswith("installation."):
        return f"installation visit on {data.get('on')} {data.get('window_start') or ''}".strip()
    if notification.topic.startswith("subscription.") and data.get("ends_on"):
        return f"the subscription ends on {data['ends_on']}"
    return notification.topic


# --- the hubs ------------------------------------------------------------------------------------------------------


def _query_types(api: str, query: str) -> list[str]:
    """`eventType=ProductOrderStateChangeEvent,ProductOrderAttributeValueChangeEvent` (or none: every event)."""
    if not query:
        return []
    asked = [t for value in parse_qs(query.lstrip("?")).get("eventType", []) for t in value.split(",") if t]
    unknown = sorted(set(asked) - event_types_of(api))
    if unknown or not asked:
        known = ", ".join(sorted(event_types_of(api))) or "none"
        raise TmfError(f"query gives eventType=<types>; known here: {known}.", code="unknown_event_type")
    return sorted(set(asked))


def subscription_item(endpoint: WebhookEndpoint) -> dict:
    return {"id": str(endpoint.pk), "callback": endpoint.url, "query": endpoint.tmf_query}


class Hub(TmfView):
    def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        callback = body.get("callback")
        if not isinstance(callback, str) or not callback:
            raise TmfError("Give callback: the URL your listener receives events on.", code="callback_required")
        query = body.get("query") if isinstance(body.get("query"), str) else ""
        endpoint, secret = webhook_endpoint_register(
            provider=request.provider,
            url=callback,
            event_types=_query_types(self.api, query),
            description=f"TMF {self.api} listener",
            format=WebhookFormat.TMF,
            tmf_api=self.api,
            tmf_query=query,
            actor=request.user,
        )
        # The listener verifies each event's signature with this secret (shown once), as every webhook of COS.
        return Response({**subscription_item(endpoint), "secret": secret}, status=status.HTTP_201_CREATED)


class HubDetail(TmfView):
    def delete(self, request, pk: str):
        endpoint = (
            WebhookEndpoint.objects.filter(
                pk=int(pk), provider=request.provider, format=WebhookFormat.TMF, tmf_api=self.api
            )
            .exclude(status=WebhookEndpointStatus.REMOVED)
            .first()
            if str(pk).isdigit()
            else None
        )
        if endpoint is None:
            raise NotFound(f"No listener {pk} of yours on this hub.")
        webhook_endpoint_remove(endpoint_id=endpoint.pk, provider=request.provider, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
