"""Reactions of the marketplace to events."""

from cos import events


@events.handler("order.submitted")
def order_auto_accept_on_submit(event) -> None:
    """A provider that accepts automatically gets its valid orders accepted at once."""
    from marketplace.services import order_auto_accept

    order_auto_accept(order_id=event.payload["order_id"])
