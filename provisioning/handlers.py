"""Reactions of provisioning to events: what the network is asked to do (provisioning.requests)."""

from cos import events


@events.handler("order.accepted")
def service_instances_for_order(event) -> None:
    """An accepted order's subscriptions each get their network contract, pending until activation; where the ONT
    is in place already the services are activated remotely (no visit)."""
    from provisioning.requests import remote_activation_for_order, service_instances_for_subscriptions

    service_instances_for_subscriptions(subscription_ids=event.payload.get("subscription_ids", []))
    remote_activation_for_order(order_id=event.payload["order_id"], event=event)


@events.handler("order.cancelled")
def services_cancelled_with_order(event) -> None:
    from provisioning.requests import services_cancel

    services_cancel(subscription_ids=event.payload.get("subscription_ids", []))


@events.handler("workorder.provisioning_requested")
def provisioning_jobs_for_address(event) -> None:
    """The technician closed the provisioning trigger: activate every pending service at the address."""
    from provisioning.requests import jobs_for_provisioning_request

    jobs_for_provisioning_request(address_id=event.payload["address_id"], event=event)


@events.handler("subscription.terminated")
def service_off_for_terminated_subscription(event) -> None:
    from provisioning.requests import service_deactivation_request

    service_deactivation_request(subscription_id=event.payload["subscription_id"], event=event)


@events.handler("subscription.change_requested")
def service_follows_plan_change(event) -> None:
    """An upgrade (at once) or a downgrade (at its period) is due: a modify job, whose verified outcome applies
    the new plan to the subscription."""
    from provisioning.requests import service_change_for_plan

    service_change_for_plan(change_id=event.payload["change_id"])


@events.handler("subscription.product_changed")
def pending_service_follows_product(event) -> None:
    """A plan changed before the service went live: it will be activated with the new profile."""
    from provisioning.requests import service_follows_product

    p = event.payload
    service_follows_product(
        subscription_id=p["subscription_id"],
        profile=p["profile"],
        download_mbps=p.get("download_mbps"),
        upload_mbps=p.get("upload_mbps"),
    )


@events.handler("subscription.suspended")
def service_suspended_with_subscription(event) -> None:
    """A suspension (e.g. dunning) reaches the network: the suspended profile, verified."""
    from provisioning.requests import service_suspend_for_subscription

    service_suspend_for_subscription(subscription_id=event.payload["subscription_id"])


@events.handler("subscription.resumed")
def service_restored_with_subscription(event) -> None:
    from provisioning.requests import service_restore_for_subscription

    service_restore_for_subscription(subscription_id=event.payload["subscription_id"])


@events.handler("switch.handover_requested")
def service_switched_on_handover_day(event) -> None:
    from provisioning.requests import service_switch_request

    service_switch_request(switch_id=event.payload["switch_id"], event=event)


@events.handler("switch.completed")
def other_services_after_switch(event) -> None:
    from provisioning.requests import jobs_after_switch

    jobs_after_switch(switch_id=event.payload["switch_id"], event=event)


# --- what the provider is told (cos.services.providers_notify: its webhooks) ----------------------------------


def service_tell_provider(event) -> None:
    from provisioning.provider_notices import service_tell_provider as tell

    tell(event=event)


for _name in ("service.activated", "service.modified", "service.suspended", "service.resumed", "service.deactivated"):
    events.handler(_name)(service_tell_provider)
