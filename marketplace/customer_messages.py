"""What the marketplace tells a customer, through the notification service (cos.notifications): the order
received, accepted or refused, the fibre ready at the address, a service turned on, a termination confirmed with
its end date. Each is sent once per cause (its key); the handlers in marketplace/handlers.py call these after the
cause has committed."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from cos import notifications
from cos.choices import AddressStatus, MessageKind
from marketplace.choices import CancellationReason, InstallSlot, OrderStatus
from marketplace.models import Order, Subscription


def _portal_link() -> str:
    return settings.SITE_URL.rstrip("/") + reverse("portal")


def _order(order_id: int) -> Order:
    return (
        Order.objects.select_related("customer", "address", "marketplace", "provider")
        .prefetch_related("lines__product")
        .get(pk=order_id)
    )


def _order_context(order: Order) -> dict:
    return {
        "customer": order.customer,
        "order": order,
        "address": order.address.label,
        "provider": order.provider.name,
        "products": [line.product.name for line in order.lines.all()],
        "preferred_date": order.preferred_install_date,
        "preferred_slot": "" if order.preferred_install_slot == InstallSlot.ANY else order.preferred_install_slot,
        "link": _portal_link(),
    }


def _tell(order: Order, kind: str, **extra) -> None:
    context = _order_context(order) | extra
    notifications.notify(customer=order.customer, kind=kind, key=f"order:{order.pk}", context=context)


def order_received(*, order_id: int) -> None:
    _tell(_order(order_id), MessageKind.ORDER_RECEIVED)


def order_accepted(*, order_id: int) -> None:
    order = _order(order_id)
    _tell(order, MessageKind.ORDER_ACCEPTED, connected=order.address.status == AddressStatus.CONNECTED)


def order_refused(*, order_id: int) -> None:
    order = _order(order_id)
    _tell(order, MessageKind.ORDER_REFUSED, reason=order.rejection_reason)


def fibre_ready(*, order_ids) -> None:
    """The fibre is in and works at the address: each open order's customer hears it once."""
    open_statuses = (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.IN_FULFILLMENT)
    for order_id in Order.objects.filter(pk__in=order_ids, status__in=open_statuses).values_list("pk", flat=True):
        order = _order(order_id)
        notifications.notify(
            customer=order.customer,
            kind=MessageKind.FIBRE_READY,
            key=f"fibre-ready:order:{order.pk}",
            context=_order_context(order),
        )


def fibre_ready_for_work_order(*, work_order_id: int) -> None:
    fibre_ready(order_ids=Order.objects.filter(work_orders=work_order_id).values_list("pk", flat=True))


def fibre_ready_at_address(*, address_id: int) -> None:
    fibre_ready(order_ids=Order.objects.filter(address_id=address_id).values_list("pk", flat=True))


def _subscription(subscription_id: int) -> Subscription:
    return Subscription.objects.select_related("customer", "address", "product", "provider", "marketplace").get(
        pk=subscription_id
    )


def _subscription_context(subscription: Subscription) -> dict:
    return {
        "customer": subscription.customer,
        "subscription": subscription,
        "product": subscription.product.name,
        "provider": subscription.provider.name,
        "address": subscription.address.label,
        "link": _portal_link(),
    }


def service_active(*, subscription_id: int) -> None:
    subscription = _subscription(subscription_id)
    context = _subscription_context(subscription) | {
        "active_since": timezone.localtime(subscription.activated_at, ZoneInfo(subscription.marketplace.time_zone)),
    }
    notifications.notify(
        customer=subscription.customer,
        kind=MessageKind.SERVICE_ACTIVE,
        key=f"subscription:{subscription.pk}",
        context=context,
    )


def termination_confirmed(*, subscription_id: int, ends_on, cause: str, ended: bool = False) -> None:
    """The notice is taken: the service ends on `ends_on` (a new notice after a withdrawn one is told again); or,
    `ended`, it ended at once. A notice the customer can withdraw says so; a switch's hand-over does not."""
    subscription = _subscription(subscription_id)
    context = _subscription_context(subscription) | {
        "ends_on": ends_on,
        "ended": ended,
        "switched": cause == CancellationReason.PROVIDER_CHANGED,
    }
    notifications.notify(
        customer=subscription.customer,
        kind=MessageKind.TERMINATION_CONFIRMED,
        key=f"subscription:{subscription.pk}:ends:{ends_on}",
        context=context,
    )


def termination_ended_at_once(*, subscription_id: int, terminated_at, cause: str) -> None:
    """A subscription ended without a notice (ended today): told with its end day. One that ends at the end of a
    notice was told when the notice was taken."""
    subscription = _subscription(subscription_id)
    if subscription.notice_given_at is not None:
        return
    ends_on = timezone.localtime(terminated_at, ZoneInfo(subscription.marketplace.time_zone)).date()
    termination_confirmed(subscription_id=subscription_id, ends_on=ends_on, cause=cause, ended=True)
