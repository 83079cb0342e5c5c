"""Reactions of provisioning to events."""

from cos import events


@events.handler("order.accepted")
def service_instances_for_order(event) -> None:
    """An accepted order's subscriptions each get their network contract, pending until activation."""
    from provisioning.services import service_instances_for_subscriptions

    service_instances_for_subscriptions(subscription_ids=event.payload.get("subscription_ids", []))
