"""Use cases of subscriptions (the commercial contract) that write: activation by the network, notice and
termination by the contract terms, suspension and resumption, changes of plan.

Marketplace owns Subscription and SubscriptionChange: provisioning calls `subscription_activate` and
`subscription_change_product` once the network has verified the service; billing suspends and resumes through
`subscription_suspend` / `subscription_resume`. Billing itself follows only the network's verified events.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from cos import events
from cos.errors import ApplicationError, Conflict
from cos.fsm import transition_apply
from cos.services import providers_notify
from marketplace.choices import (
    IN_SERVICE_STATUSES,
    OPEN_SWITCH_STATUSES,
    CancellationReason,
    ChangeKind,
    ChangeStatus,
    LifecycleReason,
    SubscriptionStatus,
)
from marketplace.models import Product, Subscription, SubscriptionChange, Switch
from marketplace.selectors import change_options, marketplace_today, next_period_start, subscription_end_dates
from marketplace.services.orders import order_complete_if_done

MAX_NOTICE_AHEAD_DAYS = 3 * 365  # a notice for a day further ahead is surely a typing mistake


def _subscription_locked(subscription_id: int) -> Subscription:
    return (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("marketplace", "product", "order_line")
        .get(pk=subscription_id)
    )


def reason_text(code: str, note: str, *, choices=LifecycleReason) -> str:
    """'Label: note' for a reason code of `choices`; an unknown code, or 'other' without a note, is refused."""
    note = (note or "").strip()
    if code not in choices.values:
        raise ApplicationError(f"Give a reason, one of: {', '.join(choices.values)}.", code="invalid_reason")
    if code == "other" and not note:
        raise ApplicationError("Say why (the reason is 'other').", code="reason_required")
    label = choices(code).label
    return f"{label}: {note}" if note else label


def _has_open_switch(subscription: Subscription) -> Switch | None:
    return Switch.objects.filter(from_subscription=subscription, status__in=OPEN_SWITCH_STATUSES).first()


def dependents_locked(subscription: Subscription):
    """The same provider's services at the address that need this one (e.g. TV on internet), still running."""
    return (
        Subscription.objects.select_for_update()
        .filter(
            address_id=subscription.address_id,
            customer_id=subscription.customer_id,
            provider_id=subscription.provider_id,
            product__requires_category=subscription.category,
            status__in=IN_SERVICE_STATUSES,
        )
        .exclude(pk=subscription.pk)
    )


# --- activation --------------------------------------------------------------------------------


@transaction.atomic
def subscription_activate(*, subscription_id: int, at, actor=None, reason: str = "") -> Subscription:
    """The network verified the service at `at`: the contract starts. Caller: provisioning. Idempotent.
    Emits subscription.activated; the order completes once all its lines are live or ended."""
    subscription = _subscription_locked(subscription_id)
    if subscription.status != SubscriptionStatus.PENDING:
        return subscription
    transition_apply(subscription, "activate", by=actor, at=at, reason=reason or "service verified on the network")
    subscription.save(update_fields=["status", "activated_at", "updated_at"])
    events.publish(
        "subscription.activated",
        subscription_id=subscription.pk,
        provider_id=subscription.provider_id,
        activated_at=at,
    )
    order_complete_if_done(order_id=subscription.order_line.order_id, started="a service of the order is live")
    return subscription


# --- notice and termination ----------------------------------------------------------------------


def notice_give(subscription, *, ends_on, cause, note, early_fee, actor, ends_with=None, text=""):
    """Put a running subscription under notice until `ends_on` (caller holds the lock); the provider is told."""
    transition_apply(
        subscription,
        "give_notice",
        by=actor,
        at=timezone.now(),
        ends_on=ends_on,
        cause=cause,
        note=note,
        early_fee=early_fee,
        ends_with=ends_with,
        reason=text or f"notice until {ends_on}",
    )
    subscription.save(
        update_fields=[
            "status",
            "notice_given_at",
            "ends_on",
            "cancellation_reason",
            "cancellation_note",
            "early_termination_charged",
            "ends_with",
            "updated_at",
        ]
    )
    SubscriptionChange.objects.filter(
        subscription=subscription, status=ChangeStatus.SCHEDULED, effective_on__gte=ends_on
    ).update(status=ChangeStatus.CANCELLED, updated_at=timezone.now())
    event = events.publish(
        "subscription.notice_given",
        subscription_id=subscription.pk,
        provider_id=subscription.provider_id,
        ends_on=ends_on,
        cause=cause,
    )
    providers_notify(provider_ids=[subscription.provider_id], event=event, topic="subscription.awaiting_cancellation")


def terminate_now(subscription: Subscription, *, cause: str, note: str = "", early_fee: bool, actor=None, at=None):
    """End the subscription now (caller holds the lock), and the services that need it (e.g. its TV), whatever
    their own notice. Emits subscription.terminated for each: the network turns the service off (verified), and
    billing stops at the verified deactivation."""
    at = at or timezone.now()
    for dependent in dependents_locked(subscription):
        terminate_now(
            dependent, cause=cause, note=f"ended with {subscription.product.name}", early_fee=False, actor=actor, at=at
        )
    text = CancellationReason(cause).label + (f": {note}" if note else "")
    transition_apply(
        subscription, "terminate", by=actor, at=at, cause=cause, note=note, early_fee=early_fee, reason=text
    )
    subscription.save(
        update_fields=[
            "status",
            "terminated_at",
            "cancellation_reason",
            "cancellation_note",
            "early_termination_charged",
            "updated_at",
        ]
    )
    SubscriptionChange.objects.filter(subscription=subscription, status=ChangeStatus.SCHEDULED).update(
        status=ChangeStatus.CANCELLED, updated_at=timezone.now()
    )
    events.publish(
        "subscription.terminated",
        subscription_id=subscription.pk,
        terminated_at=at,
        provider_id=subscription.provider_id,
        cause=cause,
        early_termination_fee=str(subscription.early_termination_fee) if early_fee else None,
    )
    order_complete_if_done(order_id=subscription.order_line.order_id)
    return subscription


@transaction.atomic
def subscription_terminate(
    *,
    subscription_id: int,
    reason: str,
    note: str = "",
    ends_on=None,
    waive_notice: bool = False,
    actor=None,
) -> Subscription:
    """End a live subscription on `ends_on` (default: the earliest day its terms allow) for a reason of the fixed
    list. Before the minimum term it ends only where the provider set an early-termination fee, which goes on the
    final invoice. Ending today terminates at once; a later day puts it under notice (awaiting cancellation) until
    the day comes. Operator staff may waive the notice and minimum term (ends today, no fee).

    The services that depend on it (TV on internet, from the same provider) end with it. Repeating the same
    request changes nothing.
    """
    reason_text(reason, note, choices=CancellationReason)
    subscription = _subscription_locked(subscription_id)
    if subscription.status == SubscriptionStatus.TERMINATED:
        return subscription
    if subscription.status in (SubscriptionStatus.PENDING, SubscriptionStatus.CANCELLED):
        raise Conflict("This subscription is not live yet: cancel its order instead.", code="subscription_not_live")
    if subscription.status == SubscriptionStatus.AWAITING_CANCELLATION:
        switch = _has_open_switch(subscription)
        if switch is not None:
            raise Conflict(
                f"It moves to another provider on {switch.handover_on}: only the subscriber or the new provider can "
                "abort the switch before then.",
                code="switch_pending",
            )
        if (ends_on is None and not waive_notice) or ends_on == subscription.ends_on:
            return subscription
        if not waive_notice:
            raise Conflict(
                f"Notice is given already: it ends on {subscription.ends_on}. Withdraw the notice first.",
                code="notice_running",
            )
    dates = subscription_end_dates(subscription, today=marketplace_today(subscription.marketplace))
    target = dates.today if waive_notice else (ends_on or dates.earliest)
    if target < dates.today:
        raise ApplicationError(f"The end day {target} is in the past.", code="end_date_past")
    if target > dates.today + timedelta(days=MAX_NOTICE_AHEAD_DAYS):
        raise ApplicationError(
            f"The end day can be at most {MAX_NOTICE_AHEAD_DAYS // 365} years ahead.", code="end_date_too_far"
        )
    if not waive_notice:
        if target < dates.notice_end:
            raise ApplicationError(
                f"The notice is {subscription.notice_days} days: the earliest end day is {dates.notice_end}.",
                code="notice_period",
                extra={"earliest_end": dates.earliest.isoformat()},
            )
        if dates.minimum_end and target < dates.minimum_end and dates.fee is None:
            raise ApplicationError(
                f"The minimum term runs until {dates.minimum_end}: it cannot end earlier.",
                code="minimum_term",
                extra={"earliest_end": dates.earliest.isoformat()},
            )
    early_fee = not waive_notice and dates.fee_for(target) is not None
    if subscription.status == SubscriptionStatus.SUSPENDED and target > dates.today:
        raise Conflict(
            "A suspended subscription cannot run a notice: resume it first, or end it today.",
            code="subscription_suspended",
        )
    if target <= dates.today:
        return terminate_now(subscription, cause=reason, note=note.strip(), early_fee=early_fee, actor=actor)
    dependents = list(dependents_locked(subscription))
    notice_give(subscription, ends_on=target, cause=reason, note=note.strip(), early_fee=early_fee, actor=actor)
    for dependent in dependents:
        if dependent.status == SubscriptionStatus.ACTIVE:
            notice_give(
                dependent,
                ends_on=target,
                cause=reason,
                note=f"ends with {subscription.product.name}",
                early_fee=False,
                actor=actor,
                ends_with=subscription,
            )
    return subscription


def notice_withdraw(subscription: Subscription, *, actor=None, reason: str) -> Subscription:
    """Withdraw a running notice (caller holds the lock): the subscription runs on, and so do the services that
    were to end with it. Emits subscription.cancellation_aborted; the provider is told."""
    for dependent in Subscription.objects.select_for_update().filter(
        ends_with=subscription, status=SubscriptionStatus.AWAITING_CANCELLATION
    ):
        notice_withdraw(dependent, actor=actor, reason=reason)
    transition_apply(subscription, "abort_cancellation", by=actor, reason=reason)
    subscription.save(
        update_fields=[
            "status",
            "notice_given_at",
            "ends_on",
            "cancellation_reason",
            "cancellation_note",
            "early_termination_charged",
            "ends_with",
            "updated_at",
        ]
    )
    event = events.publish(
        "subscription.cancellation_aborted", subscription_id=subscription.pk, provider_id=subscription.provider_id
    )
    providers_notify(provider_ids=[subscription.provider_id], event=event, topic="subscription.cancellation_aborted")
    return subscription


@transaction.atomic
def subscription_notice_withdraw(*, subscription_id: int, actor=None) -> Subscription:
    """The subscriber (or the provider) withdraws a notice before its day. A switch is aborted instead."""
    subscription = _subscription_locked(subscription_id)
    if subscription.status == SubscriptionStatus.ACTIVE:
        return subscription
    if subscription.status != SubscriptionStatus.AWAITING_CANCELLATION:
        raise Conflict(f"No notice runs: the subscription is {subscription.status}.", code="no_notice")
    if subscription.ends_with_id:
        raise Conflict("It ends with the service it depends on: withdraw that notice.", code="ends_with_other")
    if _has_open_switch(subscription):
        raise Conflict(
            "It moves to another provider: only the subscriber or the new provider can abort the switch.",
            code="switch_pending",
        )
    if subscription.ends_on <= marketplace_today(subscription.marketplace):
        raise Conflict(
            f"The notice ended on {subscription.ends_on}: it can no longer be withdrawn.", code="notice_ended"
        )
    return notice_withdraw(subscription, actor=actor, reason="notice withdrawn")


def subscription_terminations_due(*, now=None) -> int:
    """Notices whose end day has come: the subscriptions end (each in its own transaction). A subscription
    handed over to another provider ends with the verified hand-over instead."""
    now = now or timezone.now()
    horizon = (now + timedelta(days=1)).date()  # every time zone's today is at most tomorrow in UTC
    ended = 0
    candidates = (
        Subscription.objects.filter(status=SubscriptionStatus.AWAITING_CANCELLATION, ends_on__lte=horizon)
        .exclude(pk__in=Switch.objects.filter(status__in=OPEN_SWITCH_STATUSES).values("from_subscription_id"))
        .order_by("ends_on", "pk")
        .values_list("pk", flat=True)
    )
    for subscription_id in candidates:
        with transaction.atomic():
            subscription = _subscription_locked(subscription_id)
            if subscription.status != SubscriptionStatus.AWAITING_CANCELLATION:
                continue
            if subscription.ends_on > marketplace_today(subscription.marketplace) or _has_open_switch(subscription):
                continue
            terminate_now(
                subscription,
                cause=subscription.cancellation_reason or CancellationReason.OTHER,
                note=subscription.cancellation_note,
                early_fee=subscription.early_termination_charged,
            )
            ended += 1
    return ended


# --- suspension ---------------------------------------------------------------------------------


def _lifecycle_reason(reason: str, reason_code: str) -> str:
    if reason_code:
        return reason_text(reason_code, reason)
    return reason.strip()


@transaction.atomic
def subscription_suspend(*, subscription_id: int, actor=None, reason: str = "", reason_code: str = "") -> Subscription:
    """Pause a live subscription (e.g. for non-payment). Emits subscription.suspended: the network moves the
    service to the suspended profile, and billing pauses at that verified moment. Repeating it changes nothing."""
    text = _lifecycle_reason(reason, reason_code) or "suspended"
    subscription = _subscription_locked(subscription_id)
    if subscription.status == SubscriptionStatus.SUSPENDED:
        return subscription
    transition_apply(subscription, "suspend", by=actor, reason=text)
    subscription.save(update_fields=["status", "updated_at"])
    events.publish(
        "subscription.suspended",
        subscription_id=subscription.pk,
        suspended_at=timezone.now(),
        provider_id=subscription.provider_id,
        reason=text,
    )
    return subscription


@transaction.atomic
def subscription_resume(*, subscription_id: int, actor=None, reason: str = "", reason_code: str = "") -> Subscription:
    """Restore a paused subscription. Emits subscription.resumed: the network restores the plan's profile, and
    billing resumes at that verified moment. Repeating it changes nothing."""
    text = _lifecycle_reason(reason, reason_code) or "resumed"
    subscription = _subscription_locked(subscription_id)
    if subscription.status == SubscriptionStatus.ACTIVE:
        return subscription
    transition_apply(subscription, "resume", by=actor, reason=text)
    subscription.save(update_fields=["status", "updated_at"])
    events.publish(
        "subscription.resumed",
        subscription_id=subscription.pk,
        resumed_at=timezone.now(),
        provider_id=subscription.provider_id,
    )
    return subscription


# --- changes of plan ----------------------------------------------------------------------------


@transaction.atomic
def subscription_change_request(
    *, subscription_id: int, product_id: int, actor=None, reason_code: str = "customer_request", note: str = ""
):
    """Ask for another plan of the same provider and category at today's price. An upgrade (a higher price) is
    sent to the network at once; a downgrade at the start of the next billing period. The subscription takes the
    new product and price when the network has verified it (`subscription_change_product`); one not live yet
    takes it at once. Asking again for the same product returns the change already asked for."""
    text = reason_text(reason_code, note)
    subscription = _subscription_locked(subscription_id)
    if subscription.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING):
        raise Conflict(
            f"Only an active subscription changes plan; this one is {subscription.get_status_display().lower()}.",
            code="subscription_not_active",
        )
    open_change = SubscriptionChange.objects.filter(
        subscription=subscription, status__in=[ChangeStatus.SCHEDULED, ChangeStatus.REQUESTED]
    ).first()
    if open_change is not None:
        if open_change.to_product_id == product_id:
            return open_change
        raise Conflict(
            f"A change to {open_change.to_product.name} is under way (from {open_change.effective_on}).",
            code="change_pending",
        )
    if product_id == subscription.product_id:
        done = subscription.changes.filter(status=ChangeStatus.APPLIED, to_product_id=product_id).first()
        if done is not None:
            return done  # asked again after it was applied: the same answer
        raise ApplicationError("The subscription is on this plan already.", code="same_plan")
    product = Product.objects.filter(pk=product_id, provider_id=subscription.provider_id).first()
    if product is None:
        raise ApplicationError("No such product of this provider.", code="product_not_found")
    if product.category != subscription.category:
        raise ApplicationError(
            f"{product.name} is {product.get_category_display()}, not {subscription.get_category_display()}: "
            "order it, or terminate this one.",
            code="category_mismatch",
        )
    candidate = next((c for c in change_options(subscription) if c.product.pk == product.pk), None)
    if candidate is None:
        raise ApplicationError(
            f"{product.name} cannot be had at this address in {subscription.marketplace.name} now.",
            code="product_not_available",
        )
    if candidate.price.currency != subscription.currency:
        raise ApplicationError(f"{product.name} is priced in {candidate.price.currency}.", code="currency_mismatch")
    today = marketplace_today(subscription.marketplace)
    upgrade = candidate.price.monthly_amount >= subscription.monthly_amount
    live = subscription.status == SubscriptionStatus.ACTIVE
    change = SubscriptionChange.objects.create(
        subscription=subscription,
        kind=ChangeKind.UPGRADE if upgrade else ChangeKind.DOWNGRADE,
        from_product_id=subscription.product_id,
        to_product=product,
        from_amount=subscription.monthly_amount,
        to_amount=candidate.price.monthly_amount,
        effective_on=today if upgrade or not live else next_period_start(subscription, today=today),
        reason_code=reason_code,
        note=note.strip(),
        requested_by=actor,
    )
    events.publish(
        "subscription.change_scheduled",
        subscription_id=subscription.pk,
        change_id=change.pk,
        provider_id=subscription.provider_id,
        effective_on=change.effective_on,
        reason=text,
    )
    if not live:
        subscription_change_product(change_id=change.pk, at=timezone.now())
        change.refresh_from_db()
    elif change.effective_on <= today:
        change_send(change)
    return change


def change_send(change: SubscriptionChange) -> None:
    """The change is due: ask the network for the new profile (caller holds the locks). Emits
    subscription.change_requested."""
    transition_apply(change, "request", at=timezone.now(), reason="due")
    change.save(update_fields=["status", "requested_at", "updated_at"])
    product = change.to_product
    events.publish(
        "subscription.change_requested",
        subscription_id=change.subscription_id,
        change_id=change.pk,
        profile=product.service_profile,
        download_mbps=product.download_mbps,
        upload_mbps=product.upload_mbps,
    )


@transaction.atomic
def subscription_change_product(*, change_id: int, at) -> Subscription:
    """The change is in force from `at` (verified by the network, or at once before the service is live): the
    subscription takes the new product and price, and the change is recorded as applied. Caller: provisioning.
    Idempotent. Emits subscription.product_changed."""
    change = SubscriptionChange.objects.select_for_update(of=("self",)).select_related("to_product").get(pk=change_id)
    subscription = _subscription_locked(change.subscription_id)
    if change.status == ChangeStatus.APPLIED:
        return subscription
    transition_apply(change, "apply", at=at, reason="in force")
    change.save(update_fields=["status", "applied_at", "updated_at"])
    subscription.product, subscription.monthly_amount = change.to_product, change.to_amount
    subscription.save(update_fields=["product", "monthly_amount", "updated_at"])
    product = change.to_product
    events.publish(
        "subscription.product_changed",
        subscription_id=subscription.pk,
        change_id=change.pk,
        old_product_id=change.from_product_id,
        product_id=product.pk,
        monthly_amount=str(change.to_amount),
        profile=product.service_profile,
        download_mbps=product.download_mbps,
        upload_mbps=product.upload_mbps,
        provider_id=subscription.provider_id,
        at=at,
    )
    return subscription


@transaction.atomic
def subscription_change_cancel(*, change_id: int, actor=None) -> SubscriptionChange:
    """Withdraw a change that has not been sent to the network yet (e.g. a downgrade waiting for its period)."""
    change = SubscriptionChange.objects.select_for_update().get(pk=change_id)
    if change.status == ChangeStatus.CANCELLED:
        return change
    if change.status != ChangeStatus.SCHEDULED:
        raise Conflict("The change was sent to the network already.", code="change_in_progress")
    transition_apply(change, "cancel", by=actor, reason="withdrawn")
    change.save(update_fields=["status", "updated_at"])
    return change


def subscription_changes_due(*, now=None) -> int:
    """Scheduled changes (downgrades) whose day has come are sent to the network, each in its own transaction.
    A change of a subscription that is suspended waits; one of a subscription that ended is cancelled."""
    now = now or timezone.now()
    horizon = (now + timedelta(days=1)).date()
    sent = 0
    due = (
        SubscriptionChange.objects.filter(status=ChangeStatus.SCHEDULED, effective_on__lte=horizon)
        .order_by("effective_on", "pk")
        .values_list("pk", flat=True)
    )
    for change_id in due:
        with transaction.atomic():
            change = (
                SubscriptionChange.objects.select_for_update(of=("self",))
                .select_related("to_product")
                .get(pk=change_id)
            )
            subscription = _subscription_locked(change.subscription_id)
            if change.status != ChangeStatus.SCHEDULED:
                continue
            if subscription.status not in IN_SERVICE_STATUSES:
                transition_apply(change, "cancel", reason=f"the subscription is {subscription.status}")
                change.save(update_fields=["status", "updated_at"])
                continue
            if subscription.status == SubscriptionStatus.SUSPENDED:
                continue  # waits for the resumption
            if change.effective_on > marketplace_today(subscription.marketplace):
                continue
            change_send(change)
            sent += 1
    return sent
