"""What a provider is told of the field work for its orders (cos.services.providers_notify: recorded, and sent to its
webhook endpoints): the installation visit booked, or moved."""

from cos.services import providers_notify
from marketplace.choices import OrderStatus
from workorders.models import WorkOrder


def installation_booked_tell_providers(*, event) -> int:
    """`workorder.scheduled`: each provider with a live order on the work order hears the day and window, with its
    own orders."""
    payload = event.payload
    work_order = WorkOrder.objects.select_related("address").filter(pk=payload["work_order_id"]).first()
    if work_order is None:
        return 0
    by_provider: dict[int, list[int]] = {}
    for order_id, provider_id in (
        work_order.orders.exclude(status__in=[OrderStatus.CANCELLED, OrderStatus.REJECTED])
        .order_by("pk")
        .values_list("pk", "provider_id")
    ):
        by_provider.setdefault(provider_id, []).append(order_id)
    topic = "installation.rescheduled" if payload.get("rescheduled") else "installation.booked"
    told = 0
    for provider_id, order_ids in by_provider.items():
        told += providers_notify(
            provider_ids=[provider_id],
            event=event,
            topic=topic,
            payload={
                "work_order_id": work_order.pk,
                "work_order": f"WO-{work_order.pk}",
                "order_ids": order_ids,
                "address_id": work_order.address_id,
                "address": work_order.address.label,
                "on": payload.get("on"),
                "window_start": payload.get("window_start"),
                "window_end": payload.get("window_end"),
            },
        )
    return told
