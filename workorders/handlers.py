"""Reactions of field work to events of the core and the marketplace."""

from cos import events


@events.handler("area.in_deployment")
def work_orders_for_area(event) -> None:
    """Split the area's work-order creation into chunk events, which workers take in parallel."""
    from workorders.batch import work_orders_plan_area

    work_orders_plan_area(area_id=event.payload["area_id"])


@events.handler("address.in_deployment")
def work_order_for_address(event) -> None:
    from workorders.batch import work_orders_create_chunk

    address_id = event.payload["address_id"]
    work_orders_create_chunk(area_id=None, first_id=address_id, last_id=address_id)


@events.handler("workorders.chunk_requested")
def work_orders_for_chunk(event) -> None:
    from workorders.batch import work_orders_create_chunk

    payload = event.payload
    work_orders_create_chunk(area_id=payload["area_id"], first_id=payload["first_id"], last_id=payload["last_id"])


@events.handler("order.accepted")
def work_order_for_order(event) -> None:
    from workorders.services import work_order_for_accepted_order

    work_order_for_accepted_order(order_id=event.payload["order_id"])


@events.handler("order.cancelled")
def work_order_no_longer_needed(event) -> None:
    from workorders.services import work_orders_cancel_for_order

    work_orders_cancel_for_order(order_id=event.payload["order_id"])


@events.handler("address.connected")
def installation_work_order_no_longer_needed(event) -> None:
    from workorders.services import work_order_cancel_if_connected_elsewhere

    work_order_cancel_if_connected_elsewhere(address_id=event.payload["address_id"])


@events.handler("infrastructure.ready")
def providers_told_infrastructure_ready(event) -> None:
    from workorders.services import infrastructure_ready_notify

    infrastructure_ready_notify(event=event)


@events.handler("workorder.scheduled")
def tell_customers_installation_booked(event) -> None:
    from workorders.customer_messages import installation_booked

    payload = event.payload
    installation_booked(
        work_order_id=payload["work_order_id"],
        on=payload["on"],
        window_start=payload.get("window_start"),
        window_end=payload.get("window_end"),
        rescheduled=payload.get("rescheduled", False),
        cause_key=f"booking:{event.pk}",
    )


@events.handler("workorder.scheduled")
def providers_told_installation_booked(event) -> None:
    from workorders.provider_notices import installation_booked_tell_providers

    installation_booked_tell_providers(event=event)
