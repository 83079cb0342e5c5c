"""What a provider is told of its orders (cos.services.providers_notify: recorded, and sent to its webhook endpoints):
accepted, refused, cancelled, completed, each with the order as the provider API shows its state."""

from cos.services import providers_notify
from marketplace.models import Order

ORDER_TOPICS = ("order.accepted", "order.rejected", "order.cancelled", "order.completed")


def order_tell_provider(*, event) -> int:
    """`event` is one of ORDER_TOPICS; its notification carries the order's state and, where there is one, why."""
    order = (
        Order.objects.select_related("address")
        .prefetch_related("lines__subscription")
        .filter(pk=event.payload["order_id"])
        .first()
    )
    if order is None:
        return 0
    payload = {
        "order_id": order.pk,
        "status": order.status,
        "address_id": order.address_id,
        "address": order.address.label,
        "external_id": order.address.external_id,
        "subscription_ids": sorted(line.subscription.pk for line in order.lines.all() if hasattr(line, "subscription")),
        "is_preorder": order.is_preorder,
        "decided_at": order.decided_at,
        "completed_at": order.completed_at,
    }
    if event.name == "order.rejected":
        payload["reason"] = order.rejection_reason
    if event.name == "order.cancelled":
        payload["reason"] = order.cancellation_reason
    if event.name == "order.accepted":
        payload["switch_ids"] = event.payload.get("switch_ids", [])
    return providers_notify(provider_ids=[order.provider_id], event=event, topic=event.name, payload=payload)
