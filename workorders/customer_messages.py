"""What field work tells a customer, through the notification service: the installation visit booked, or moved.
Once per visit (its day and window); the handler in workorders/handlers.py calls it after the booking commits."""

from datetime import date, time

from django.conf import settings
from django.urls import reverse

from cos import notifications
from cos.choices import MessageKind
from workorders.models import WorkOrder


def _clock(value) -> time | None:
    return time.fromisoformat(value) if isinstance(value, str) else value


def installation_booked(
    *, work_order_id: int, on, window_start=None, window_end=None, rescheduled: bool, cause_key: str, customer_ids=None
) -> None:
    """Each customer with an order on the job (or those of `customer_ids`: an order that joined a job already
    booked) hears the day (and the window) of the visit, once per cause (`cause_key`: the booking's event, or the
    order that joined): a visit moved away and back is told each time."""
    work_order = WorkOrder.objects.select_related("address").get(pk=work_order_id)
    on = date.fromisoformat(on) if isinstance(on, str) else on
    window_start, window_end = _clock(window_start), _clock(window_end)
    kind = MessageKind.INSTALLATION_CHANGED if rescheduled else MessageKind.INSTALLATION_BOOKED
    orders = work_order.orders.select_related("customer")
    if customer_ids is not None:
        orders = orders.filter(customer_id__in=customer_ids)
    customers = {order.customer_id: order.customer for order in orders}
    for customer in customers.values():
        notifications.notify(
            customer=customer,
            kind=kind,
            key=f"workorder:{work_order.pk}:{cause_key}",
            context={
                "customer": customer,
                "address": work_order.address.label,
                "on": on,
                "window_start": window_start,
                "window_end": window_end,
                "link": settings.SITE_URL.rstrip("/") + reverse("portal"),
            },
        )
