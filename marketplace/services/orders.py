"""Use cases of orders that write: placing (with switches from another provider), accepting, rejecting,
cancelling, and the order's own progress (fulfillment started, completed once every line is live or ended)."""

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from cos import events
from cos.errors import ApplicationError, Conflict
from cos.fsm import transition_apply
from cos.inserts import Rows, rows_insert
from cos.models import AddressObject
from cos.models.base import PENDING_LOGS, prefetched_set
from marketplace.choices import OrderStatus, SubscriptionStatus, SwitchStatus, ValidationCode
from marketplace.errors import IdempotencyKeyReused, OrderInvalid
from marketplace.models import Order, OrderLine, Participation, Subscription, Switch, ValidationFailure
from marketplace.selectors import subscription_end_dates
from marketplace.validation import OrderRequest, order_request_validate


def _order_locked(order_id: int) -> Order:
    return Order.objects.select_for_update().get(pk=order_id)


def _existing_for_key(request: OrderRequest) -> Order | None:
    if not request.idempotency_key:
        return None
    found = (
        Order.objects.filter(provider_id=request.provider_id, idempotency_key=request.idempotency_key)
        .values_list("pk", "request_fingerprint")
        .first()
    )
    if found is None:
        return None
    if found[1] != request.fingerprint():
        raise IdempotencyKeyReused(
            f"Idempotency key {request.idempotency_key!r} was already used for another order request "
            f"(order {found[0]})."
        )
    return Order.objects.get(pk=found[0])


def order_place(*, request: OrderRequest) -> tuple[Order, bool]:
    """Validate and submit an order; returns (order, created). Emits order.submitted.

    The same idempotency key with the same request returns the first order, never a second one.
    A refused request leaves no order: each problem is recorded as a ValidationFailure and
    OrderInvalid is raised. A category another provider serves this customer in becomes a switch,
    with its hand-over day by that provider's notice rules.
    """
    try:
        with transaction.atomic():
            # The address row lock serializes orders at one address (duplicate checks hold).
            address = (
                AddressObject.objects.select_for_update(of=("self",))
                .select_related("area")
                .filter(pk=request.address_id)
                .first()
            )
            # Looked up under the lock: a request with the same key may have committed while this one waited.
            existing = _existing_for_key(request)
            if existing is not None:
                return existing, False
            validated = order_request_validate(request, address=address)
            if not validated.problems:
                return _order_create(request, validated), True
    except IntegrityError:
        existing = _existing_for_key(request)
        if existing is None:
            raise
        return existing, False
    _validation_failures_record(request, validated)
    raise OrderInvalid(validated.problems)


def handover_day(takeover: Subscription, *, requested):
    """The day a switch away from `takeover` can happen: the day asked for, but not before the current
    provider's notice (and minimum term, unless its early fee buys it out) allows; a notice already running
    keeps its own end day."""
    if takeover.status == SubscriptionStatus.AWAITING_CANCELLATION and takeover.ends_on:
        return takeover.ends_on
    dates = subscription_end_dates(takeover)
    return max(requested or dates.today, dates.earliest)


def _order_create(request: OrderRequest, validated) -> Order:
    """Write the order submitted, with its lines, switches, transition log and (new) customer: one statement on
    PostgreSQL (cos.inserts), then its event."""
    now = timezone.now()
    customer = request.customer
    new_customer = customer.pk is None  # a new customer from the checkout or the provider's API
    if new_customer:
        login = customer.user
        if login is not None and login.pk is None:  # signing up in the checkout: the login is created with the order
            login.save()
        customer.full_clean(exclude=["user"])
    replaced = next(iter(validated.switches.values()), None)
    order = Order(
        customer=customer,
        address=validated.address,
        marketplace=validated.marketplace,
        provider_id=request.provider_id,
        channel=request.channel,
        idempotency_key=request.idempotency_key,
        request_fingerprint=request.fingerprint() if request.idempotency_key else "",
        preferred_install_date=request.install_date,
        preferred_install_slot=request.install_slot,
        is_preorder=validated.is_preorder,
        terms_accepted_at=now,
        placed_by=request.placed_by,
        replaces=replaced.order_line.order if replaced else None,
    )
    transition_apply(order, "submit", by=request.placed_by, at=now)  # inserted submitted
    lines = [
        OrderLine(
            order=order,
            product=c.product,
            category=c.product.category,
            price=c.price,
            monthly_amount=c.price.monthly_amount,
            start_fee=c.price.start_fee,
            currency=c.price.currency,
            promotion=c.promotion,
            promotion_kind=c.promotion.kind if c.promotion else "",
            promotion_value=c.promotion.value if c.promotion else None,
            promotion_periods=c.promotion.periods if c.promotion else None,
            minimum_months=c.product.term.minimum_months,
            notice_days=c.product.term.notice_days,
            early_termination_fee=c.product.term.early_termination_fee,
        )
        for c in (validated.matched[line.product_id] for line in request.lines)
    ]
    switches = [
        Switch(
            order=order,
            from_subscription=takeover,
            category=category,
            handover_on=handover_day(takeover, requested=request.install_date),
        )
        for category, takeover in sorted(validated.switches.items())
    ]
    chain = [Rows([customer] if new_customer else []), Rows([order], {"customer_id": 0} if new_customer else {})]
    chain += [
        Rows(order.__dict__.pop(PENDING_LOGS), {"object_id": 1}),
        Rows(lines, {"order_id": 1}),
        Rows(switches, {"order_id": 1}),
    ]
    rows_insert(chain)
    events.publish("order.submitted", order_id=order.pk, provider_id=order.provider_id)
    # The order as its caller shows it, from the rows in hand: no second read of what was just written.
    prefetched_set(order, "lines", lines)
    prefetched_set(order, "switches", switches)
    return order


def _validation_failures_record(request: OrderRequest, validated) -> None:
    refusal = uuid.uuid4()  # one refused request, however many problems
    with transaction.atomic():
        ValidationFailure.objects.bulk_create(
            [
                ValidationFailure(
                    code=problem.code,
                    refusal=refusal,
                    message=problem.message,
                    channel=request.channel,
                    provider_id=request.provider_id if validated.marketplace else None,
                    marketplace=validated.marketplace,
                    address=validated.address,
                    product_id=None if problem.code == ValidationCode.PRODUCT_NOT_FOUND else problem.product_id,
                    customer=request.customer if request.customer.pk else None,
                    idempotency_key=request.idempotency_key,
                )
                for problem in validated.problems
            ]
        )


@transaction.atomic
def order_accept(*, order_id: int, actor=None) -> Order:
    """Accept a submitted order: one pending subscription per line; a switch is scheduled and the other provider's
    subscription awaits cancellation until the hand-over day. Emits order.accepted."""
    from marketplace.services.switches import switch_schedule, switch_start_if_due

    order = _order_locked(order_id)
    transition_apply(order, "accept", by=actor, at=timezone.now())
    order.save(update_fields=["status", "decided_at", "updated_at"])
    participation = Participation.objects.get(marketplace_id=order.marketplace_id, provider_id=order.provider_id)
    subscriptions = Subscription.objects.bulk_create(
        [
            Subscription(
                customer_id=order.customer_id,
                address_id=order.address_id,
                marketplace_id=order.marketplace_id,
                provider_id=order.provider_id,
                order_line=line,
                product_id=line.product_id,
                category=line.category,
                monthly_amount=line.monthly_amount,
                start_fee=line.start_fee,
                currency=line.currency,
                promotion_kind=line.promotion_kind,
                promotion_value=line.promotion_value,
                promotion_periods=line.promotion_periods,
                minimum_months=line.minimum_months,
                notice_days=line.notice_days,
                early_termination_fee=line.early_termination_fee,
                billing_cycle=participation.billing_cycle,
            )
            for line in order.lines.all()
        ]
    )
    by_category = {s.category: s for s in subscriptions}
    switch_ids = []
    for switch in Switch.objects.select_for_update().filter(order=order, status=SwitchStatus.PENDING).order_by("pk"):
        switch_schedule(switch=switch, to_subscription=by_category[switch.category], actor=actor)
        switch_ids.append(switch.pk)
    events.publish(
        "order.accepted",
        order_id=order.pk,
        address_id=order.address_id,
        provider_id=order.provider_id,
        subscription_ids=[s.pk for s in subscriptions],
        switch_ids=switch_ids,
    )
    for switch in Switch.objects.select_for_update().filter(pk__in=switch_ids).select_related("order__marketplace"):
        switch_start_if_due(switch)  # after order.accepted: the new services exist when the hand-over runs
    return order


@transaction.atomic
def order_reject(*, order_id: int, reason: str, actor=None) -> Order:
    """The provider declines a submitted order, with a reason; a switch it asked for is dropped. Emits
    order.rejected."""
    from marketplace.services.switches import switches_abort_for_order

    if not reason.strip():
        raise ApplicationError("A rejection needs a reason.", code="reason_required")
    order = _order_locked(order_id)
    transition_apply(order, "reject", by=actor, reason=reason.strip(), at=timezone.now())
    order.save(update_fields=["status", "decided_at", "rejection_reason", "updated_at"])
    switches_abort_for_order(order=order, actor=actor, reason=f"order {order.pk} rejected: {reason.strip()}")
    events.publish("order.rejected", order_id=order.pk, provider_id=order.provider_id)
    return order


@transaction.atomic
def order_cancel(*, order_id: int, reason: str = "", actor=None) -> Order:
    """Cancel an open order while nothing of it is live: its pending subscriptions are cancelled, a switch it
    started is aborted (the other provider's subscription runs on). Emits order.cancelled; field work and
    pending services are cancelled by their owners."""
    from marketplace.services.switches import switches_abort_for_order

    order = _order_locked(order_id)
    if order.status == OrderStatus.CANCELLED:
        return order  # a second click, or a retry of the provider's call
    text = reason.strip() or "cancelled"
    transition_apply(order, "cancel", by=actor, reason=text)
    order.save(update_fields=["status", "cancellation_reason", "updated_at"])
    # Locks in the order every switch path takes: order, switch, the old subscription, the new ones.
    switches_abort_for_order(order=order, actor=actor, reason=f"order {order.pk} cancelled: {text}")
    subscriptions = list(Subscription.objects.select_for_update().filter(order_line__order=order).order_by("pk"))
    live = [s for s in subscriptions if s.status != SubscriptionStatus.PENDING]
    if live:
        raise Conflict(
            f"{live[0].product.name} of this order is live already: terminate the subscription instead.",
            code="order_partly_live",
        )
    for subscription in subscriptions:
        transition_apply(subscription, "cancel", by=actor, reason="order cancelled")
        subscription.save(update_fields=["status", "updated_at"])
    events.publish(
        "order.cancelled",
        order_id=order.pk,
        provider_id=order.provider_id,
        address_id=order.address_id,
        subscription_ids=[s.pk for s in subscriptions],
    )
    return order


def order_auto_accept(*, order_id: int) -> Order | None:
    """Accept a submitted order when the provider's participation accepts automatically; otherwise leave it."""
    order = Order.objects.select_related("marketplace").get(pk=order_id)
    if order.status != OrderStatus.SUBMITTED:
        return None
    participation = Participation.objects.filter(
        marketplace_id=order.marketplace_id, provider_id=order.provider_id
    ).first()
    if participation is None or not participation.auto_accept_orders:
        return None
    return order_accept(order_id=order.pk, actor=None)


@transaction.atomic
def order_start_fulfillment(*, order_id: int, actor=None, reason: str = "") -> Order:
    """Work on an accepted order has started (field work, a remote activation, a hand-over). Idempotent."""
    order = _order_locked(order_id)
    if order.status == OrderStatus.ACCEPTED:
        transition_apply(order, "start_fulfillment", by=actor, reason=reason or "fulfillment started")
        order.save(update_fields=["status", "updated_at"])
    return order


@transaction.atomic
def order_complete_if_done(*, order_id: int, started: str = "") -> Order:
    """An order completes by itself once every line's subscription is live or ended. Emits order.completed.
    `started`: a service of the order went live, so an accepted order is in fulfilment even while other lines are
    still pending (one lock and one write for both steps)."""
    order = _order_locked(order_id)
    if order.status not in (OrderStatus.ACCEPTED, OrderStatus.IN_FULFILLMENT):
        return order
    statuses = list(Subscription.objects.filter(order_line__order=order).values_list("status", flat=True))
    done = bool(statuses) and SubscriptionStatus.PENDING not in statuses
    if order.status == OrderStatus.ACCEPTED and (started or done):
        transition_apply(order, "start_fulfillment", reason=started or "its services are live")
    if not done:
        if started:
            order.save(update_fields=["status", "updated_at"])
        return order
    transition_apply(order, "complete", at=timezone.now(), reason="every service of the order is live or ended")
    order.save(update_fields=["status", "completed_at", "updated_at"])
    events.publish("order.completed", order_id=order.pk, provider_id=order.provider_id)
    return order
