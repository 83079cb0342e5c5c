"""Reactions of provisioning to events."""

from cos import events


@events.handler("order.accepted")
def service_instances_for_order(event) -> None:
    """An accepted order's subscriptions each get their network contract, pending until activation."""
    from provisioning.services import service_instances_for_subscriptions

    service_instances_for_subscriptions(subscription_ids=event.payload.get("subscription_ids", []))


@events.handler("workorder.provisioning_requested")
def provisioning_jobs_for_address(event) -> None:
    """The technician closed the provisioning trigger: activate every pending service at the address."""
    from provisioning.jobs import jobs_for_provisioning_request

    jobs_for_provisioning_request(address_id=event.payload["address_id"], event=event)


@events.handler("subscription.terminated")
def service_off_for_terminated_subscription(event) -> None:
    from provisioning.jobs import service_deactivation_request

    service_deactivation_request(subscription_id=event.payload["subscription_id"], event=event)


@events.handler("subscription.plan_changed")
def service_follows_plan_change(event) -> None:
    """An upgrade (at once) or a downgrade (at its period) changes the live service's profile: a modify job."""
    from provisioning.jobs import service_modify_for_plan

    p = event.payload
    service_modify_for_plan(
        subscription_id=p["subscription_id"],
        profile=p["profile"],
        download_mbps=p.get("download_mbps"),
        upload_mbps=p.get("upload_mbps"),
    )


@events.handler("subscription.suspended")
def service_suspended_with_subscription(event) -> None:
    """A suspension (e.g. dunning) reaches the network: the suspended profile, verified."""
    from provisioning.jobs import service_suspend_for_subscription

    service_suspend_for_subscription(subscription_id=event.payload["subscription_id"])


@events.handler("subscription.resumed")
def service_restored_with_subscription(event) -> None:
    from provisioning.jobs import service_restore_for_subscription

    service_restore_for_subscription(subscription_id=event.payload["subscription_id"])
