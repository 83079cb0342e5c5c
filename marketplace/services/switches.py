"""Switches between providers (open access): the subscriber moves a service from provider A to provider B at the
same address, with no day billed to both and none to neither.

B's order starts the switch (`order_place`), B's acceptance schedules it: A's subscription awaits cancellation
until the hand-over day and A is told. On the day the network moves the ONT's service from A's profile to B's in
one verified operation (provisioning), which then calls `switch_complete`: A's subscription ends and B's starts
at that one instant. Until the day the subscriber or B may abort: B's order is cancelled and A runs on.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from cos import events
from cos.errors import Conflict
from cos.fsm import transition_apply
from cos.services import providers_notify
from marketplace.choices import CancellationReason, SubscriptionStatus, SwitchStatus
from marketplace.models import Order, Subscription, Switch
from marketplace.selectors import marketplace_today, subscription_end_dates
from marketplace.services.orders import order_cancel, order_start_fulfillment
from marketplace.services.subscriptions import (
    dependents_locked,
    notice_give,
    notice_withdraw,
    subscription_activate,
    terminate_now,
)


def _notify_both(switch: Switch, event, topic: str) -> None:
    providers_notify(
        provider_ids=[switch.from_subscription.provider_id, switch.order.provider_id], event=event, topic=topic
    )


def switch_schedule(*, switch: Switch, to_subscription: Subscription, actor=None) -> Switch:
    """B accepted the order: the switch is scheduled and A's subscription (and what depends on it) awaits
    cancellation until the hand-over day; A is told. Caller: order_accept, holding the switch's lock.
    A subscription that ended meanwhile leaves nothing to take over: the switch is dropped and B's order goes on
    as a new connection."""
    old = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("marketplace", "product")
        .get(pk=switch.from_subscription_id)
    )
    if old.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.AWAITING_CANCELLATION):
        transition_apply(switch, "abort", by=actor, reason=f"the service to take over is {old.status}")
        switch.save(update_fields=["status", "abort_reason", "updated_at"])
        return switch
    gave_notice = old.status == SubscriptionStatus.ACTIVE
    transition_apply(switch, "schedule", by=actor, to_subscription=to_subscription, gave_notice=gave_notice)
    switch.save(update_fields=["status", "to_subscription", "gave_notice", "updated_at"])
    provider_name = switch.order.provider.name
    if gave_notice:
        dates = subscription_end_dates(old, today=marketplace_today(old.marketplace))
        notice_give(
            old,
            ends_on=switch.handover_on,
            cause=CancellationReason.PROVIDER_CHANGED,
            note=f"switch to {provider_name}",
            early_fee=dates.fee_for(switch.handover_on) is not None,
            actor=actor,
        )
        for dependent in dependents_locked(old):
            if dependent.status == SubscriptionStatus.ACTIVE:
                notice_give(
                    dependent,
                    ends_on=switch.handover_on,
                    cause=CancellationReason.PROVIDER_CHANGED,
                    note=f"ends with {old.product.name} (switch to {provider_name})",
                    early_fee=False,
                    actor=actor,
                    ends_with=old,
                )
    return switch


def switch_start_if_due(switch: Switch) -> bool:
    """A scheduled switch whose day has come (e.g. the old provider has no notice) is handed over now (caller holds
    the switch's lock)."""
    if switch.status == SwitchStatus.SCHEDULED and switch.handover_on <= marketplace_today(switch.order.marketplace):
        _handover_start(switch)
        return True
    return False


def _handover_start(switch: Switch) -> None:
    """The hand-over day has come: ask the network to move the service (caller holds the switch's lock).
    Emits switch.handover_requested."""
    transition_apply(switch, "start_handover", at=timezone.now(), reason="hand-over day")
    switch.save(update_fields=["status", "requested_at", "updated_at"])
    order_start_fulfillment(order_id=switch.order_id, reason="hand-over from the previous provider started")
    events.publish(
        "switch.handover_requested",
        switch_id=switch.pk,
        from_subscription_id=switch.from_subscription_id,
        to_subscription_id=switch.to_subscription_id,
        provider_id=switch.order.provider_id,
    )


def switches_due(*, now=None) -> int:
    """Scheduled switches whose hand-over day has come are sent to the network, each in its own transaction."""
    now = now or timezone.now()
    started = 0
    for switch_id in (
        Switch.objects.filter(status=SwitchStatus.SCHEDULED, handover_on__lte=(now + timedelta(days=1)).date())
        .order_by("handover_on", "pk")
        .values_list("pk", flat=True)
    ):
        with transaction.atomic():
            switch = (
                Switch.objects.select_for_update(of=("self",))
                .select_related("order__marketplace", "order__provider")
                .get(pk=switch_id)
            )
            started += switch_start_if_due(switch)
    return started


@transaction.atomic
def switch_complete(*, switch_id: int, at) -> Switch:
    """The network verified the hand-over at `at`: A's subscription ends and B's starts at that same instant.
    Caller: provisioning, in the transaction that records the verified hand-over. Idempotent."""
    order_id = Switch.objects.filter(pk=switch_id).values_list("order_id", flat=True).get()
    Order.objects.select_for_update().filter(pk=order_id).first()  # locks in the order order_cancel takes them
    switch = Switch.objects.select_for_update(of=("self",)).select_related("order__provider").get(pk=switch_id)
    if switch.status == SwitchStatus.COMPLETED:
        return switch
    transition_apply(switch, "complete", at=at, reason="verified on the network")
    switch.save(update_fields=["status", "completed_at", "updated_at"])
    old = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("marketplace", "product")
        .get(pk=switch.from_subscription_id)
    )
    if old.status in (
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.SUSPENDED,
        SubscriptionStatus.AWAITING_CANCELLATION,
    ):
        terminate_now(
            old,
            cause=CancellationReason.PROVIDER_CHANGED,
            note=f"switched to {switch.order.provider.name}",
            early_fee=old.early_termination_charged,
            at=at,
        )
    subscription_activate(
        subscription_id=switch.to_subscription_id, at=at, reason=f"taken over from {old.provider.name}"
    )
    event = events.publish(
        "switch.completed",
        switch_id=switch.pk,
        from_subscription_id=old.pk,
        to_subscription_id=switch.to_subscription_id,
        handed_over_at=at,
    )
    _notify_both(switch, event, "switch.completed")
    return switch


def switches_abort_for_order(*, order: Order, actor=None, reason: str) -> int:
    """B's order was rejected or cancelled: its switches end before the hand-over, A's subscription runs on (its
    notice, where the switch gave it, is withdrawn); both providers are told. Caller holds the order's lock."""
    aborted = 0
    for switch in (
        Switch.objects.select_for_update(of=("self",)).filter(order=order).select_related("order").order_by("pk")
    ):
        if switch.status in (SwitchStatus.ABORTED, SwitchStatus.COMPLETED):
            continue
        if switch.status == SwitchStatus.HANDING_OVER:
            raise Conflict(
                "The service is being handed over on the network right now: it can no longer be aborted.",
                code="switch_in_progress",
            )
        was_scheduled = switch.status == SwitchStatus.SCHEDULED
        transition_apply(switch, "abort", by=actor, reason=reason)
        switch.save(update_fields=["status", "abort_reason", "updated_at"])
        old = Subscription.objects.select_for_update().get(pk=switch.from_subscription_id)
        if was_scheduled and switch.gave_notice and old.status == SubscriptionStatus.AWAITING_CANCELLATION:
            notice_withdraw(old, actor=actor, reason=f"switch aborted: {reason}")
        event = events.publish(
            "switch.aborted", switch_id=switch.pk, from_subscription_id=old.pk, order_id=order.pk, reason=reason
        )
        _notify_both(switch, event, "switch.aborted")
        aborted += 1
    return aborted


@transaction.atomic
def switch_abort(*, switch_id: int, actor=None, reason: str = "") -> Switch:
    """The subscriber (or B) aborts a switch before the hand-over day: B's order is cancelled, A runs on."""
    switch = Switch.objects.get(pk=switch_id)
    if switch.status == SwitchStatus.ABORTED:
        return switch
    order_cancel(order_id=switch.order_id, actor=actor, reason=reason or "switch aborted")
    switch.refresh_from_db()
    return switch
