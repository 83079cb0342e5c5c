"""Reactions of the marketplace to events."""

from datetime import date

from django.utils.dateparse import parse_datetime

from cos import events


@events.handler("order.submitted")
def tell_customer_order_received(event) -> None:
    """Before the provider's automatic acceptance below: the customer hears "received" first."""
    from marketplace import customer_messages

    customer_messages.order_received(order_id=event.payload["order_id"])


@events.handler("order.submitted")
def order_auto_accept_on_submit(event) -> None:
    """A provider that accepts automatically gets its valid orders accepted at once."""
    from marketplace.services import order_auto_accept

    order_auto_accept(order_id=event.payload["order_id"])


# --- what the customer is told (cos.notifications) ------------------------------------------------------------


@events.handler("order.accepted")
def tell_customer_order_accepted(event) -> None:
    from marketplace import customer_messages

    customer_messages.order_accepted(order_id=event.payload["order_id"])


@events.handler("order.rejected")
def tell_customer_order_refused(event) -> None:
    from marketplace import customer_messages

    customer_messages.order_refused(order_id=event.payload["order_id"])


@events.handler("infrastructure.ready")
def tell_customers_fibre_ready(event) -> None:
    """The installation at the address is accepted: the orders it was for can be turned on."""
    from marketplace import customer_messages

    customer_messages.fibre_ready(order_ids=event.payload.get("order_ids") or [])


@events.handler("workorder.provisioning_requested")
def tell_customers_fibre_ready_on_site(event) -> None:
    """The technician's fibre works (the light level passed) and the service is being turned on."""
    from marketplace import customer_messages

    customer_messages.fibre_ready_for_work_order(work_order_id=event.payload["work_order_id"])


@events.handler("address.connected")
def tell_customers_fibre_ready_at_address(event) -> None:
    """An address marked connected (the same message as above, once per order, whichever comes first)."""
    from marketplace import customer_messages

    customer_messages.fibre_ready_at_address(address_id=event.payload["address_id"])


@events.handler("subscription.activated")
def tell_customer_service_active(event) -> None:
    from marketplace import customer_messages

    customer_messages.service_active(subscription_id=event.payload["subscription_id"])


@events.handler("subscription.notice_given")
def tell_customer_termination_confirmed(event) -> None:
    from marketplace import customer_messages

    payload = event.payload
    ends_on = date.fromisoformat(str(payload["ends_on"]))
    customer_messages.termination_confirmed(
        subscription_id=payload["subscription_id"],
        ends_on=ends_on,
        cause=payload.get("cause", ""),
        cause_key=f"notice:{event.pk}",
    )


@events.handler("subscription.cancellation_aborted")
def tell_customer_notice_withdrawn(event) -> None:
    from marketplace import customer_messages

    customer_messages.notice_withdrawn(subscription_id=event.payload["subscription_id"], cause_key=f"kept:{event.pk}")


@events.handler("subscription.terminated")
def tell_customer_terminated_at_once(event) -> None:
    from marketplace import customer_messages

    payload = event.payload
    customer_messages.termination_ended_at_once(
        subscription_id=payload["subscription_id"],
        terminated_at=parse_datetime(str(payload["terminated_at"])),
        cause=payload.get("cause", ""),
        cause_key="ended",
    )


# --- what the provider is told (cos.services.providers_notify: its webhooks) ----------------------------------


def order_tell_provider(event) -> None:
    from marketplace.provider_notices import order_tell_provider as tell

    tell(event=event)


for _name in ("order.accepted", "order.rejected", "order.cancelled", "order.completed"):
    events.handler(_name)(order_tell_provider)
