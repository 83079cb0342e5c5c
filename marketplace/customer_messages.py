"""What the marketplace tells a customer, through the notification service (cos.notifications): the order
received, accepted or refused, the fibre ready at the address, a service turned on, a termination confirmed with
its end date. Each is sent once per cause (its key); the handlers in marketplace/handlers.py call these after the
cause has committed."""

from datetime import timedelta
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
    notifications.notify(
        customer=order.customer,
        kind=kind,
        key=f"order:{order.pk}",
        context=context,
        time_zone=order.marketplace.time_zone,
    )


def order_received(*, order_id: int) -> None:
    _tell(_order(order_id), MessageKind.ORDER_RECEIVED)


def order_accepted(*, order_id: int) -> None:
    order = _order(order_id)
    _tell(order, MessageKind.ORDER_ACCEPTED, connected=order.address.status == AddressStatus.CONNECTED)


def order_refused(*, order_id: int) -> None:
    order = _order(order_id)
    _tell(order, MessageKind.ORDER_REFUSED, reason=order.rejection_reason)


def fibre_ready(*, order_ids) -> None:
    """The fibre is in and works at the address: each accepted order's customer hears it once (an order the provider
    has not accepted yet is not told its service is being turned on)."""
    open_statuses = (OrderStatus.ACCEPTED, OrderStatus.IN_FULFILLMENT)
    for order_id in Order.objects.filter(pk__in=order_ids, status__in=open_statuses).values_list("pk", flat=True):
        order = _order(order_id)
        notifications.notify(
            customer=order.customer,
            kind=MessageKind.FIBRE_READY,
            key=f"fibre-ready:order:{order.pk}",
            context=_order_context(order),
            time_zone=order.marketplace.time_zone,
        )


def fibre_ready_for_work_order(*, work_order_id: int) -> None:
    fibre_ready(order_ids=Order.objects.filter(work_orders=work_order_id).values_list("pk", flat=True))


def fibre_ready_at_address(*, address_id: int) -> None:
    fibre_ready(order_ids=Order.objects.filter(address_id=address_id).values_list("pk", flat=True))


def _subscription(subscription_id: int) -> Subscription:
    return Subscription.objects.select_related("customer", "address", "product", "provider", "marketplace").get(
        pk=subscription_id
    )


def _tell_about_subscription(subscription: Subscription, kind: str, key: str, **extra) -> None:
    """Tell the subscription's customer, with its product, provider and address, in its marketplace's time zone."""
    context = {
        "customer": subscription.customer,
        "subscription": subscription,
        "product": subscription.product.name,
        "provider": subscription.provider.name,
        "address": subscription.address.label,
        "link": _portal_link(),
        **extra,
    }
    notifications.notify(
        customer=subscription.customer,
        kind=kind,
        key=f"subscription:{subscription.pk}{key}",
        context=context,
        time_zone=subscription.marketplace.time_zone,
    )


def service_active(*, subscription_id: int) -> None:
    subscription = _subscription(subscription_id)
    _tell_about_subscription(subscription, MessageKind.SERVICE_ACTIVE, "", active_since=subscription.activated_at)


def termination_confirmed(*, subscription_id: int, ends_on, cause: str, cause_key: str, ended: bool = False) -> None:
    """The notice is taken: the service ends on `ends_on`; or, `ended`, it ended at once. Once per cause
    (`cause_key`: the event that took the notice or ended it), so a new notice after a withdrawn one is told again,
    even for the same day. A notice the customer can withdraw says so; a switch's hand-over does not."""
    _tell_about_subscription(
        _subscription(subscription_id),
        MessageKind.TERMINATION_CONFIRMED,
        f":{cause_key}",
        ends_on=ends_on,
        last_day=ends_on - timedelta(days=1),
        ended=ended,
        switched=cause == CancellationReason.PROVIDER_CHANGED,
    )


def notice_withdrawn(*, subscription_id: int, cause_key: str) -> None:
    """The notice is withdrawn (or the switch that would have ended it aborted): the service runs on."""
    _tell_about_subscription(_subscription(subscription_id), MessageKind.NOTICE_WITHDRAWN, f":{cause_key}")


def termination_ended_at_once(*, subscription_id: int, terminated_at, cause: str, cause_key: str) -> None:
    """A subscription ended before the end of a notice (or without one): told that it has ended. One that ends
    on the day its notice said was told when the notice was taken."""
    subscription = _subscription(subscription_id)
    ended_on = timezone.localtime(terminated_at, ZoneInfo(subscription.marketplace.time_zone)).date()
    if subscription.notice_given_at is not None and subscription.ends_on == ended_on:
        return
    termination_confirmed(
        subscription_id=subscription_id, ends_on=ended_on, cause=cause, cause_key=cause_key, ended=True
    )
