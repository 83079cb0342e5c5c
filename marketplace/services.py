"""Use cases of the marketplace that write: placing, accepting, rejecting and cancelling orders; the catalog."""

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cos import events
from cos.errors import ApplicationError
from cos.fsm import transition_apply, transition_locked
from cos.models import AddressObject
from marketplace.choices import OrderStatus, SubscriptionStatus, ValidationCode
from marketplace.errors import IdempotencyKeyReused, OrderInvalid
from marketplace.models import (
    ContractTerm,
    EligibilityRule,
    Interest,
    Order,
    OrderLine,
    Participation,
    Price,
    Product,
    Promotion,
    Subscription,
    ValidationFailure,
)
from marketplace.validation import OrderRequest, order_request_validate


def _order_locked(order_id: int) -> Order:
    return Order.objects.select_for_update().get(pk=order_id)


def _existing_for_key(request: OrderRequest) -> Order | None:
    if not request.idempotency_key:
        return None
    existing = Order.objects.filter(provider_id=request.provider_id, idempotency_key=request.idempotency_key).first()
    if existing is not None and existing.request_fingerprint != request.fingerprint():
        raise IdempotencyKeyReused(
            f"Idempotency key {request.idempotency_key!r} was already used for another order request "
            f"(order {existing.pk})."
        )
    return existing


def order_place(*, request: OrderRequest) -> tuple[Order, bool]:
    """Validate and submit an order; returns (order, created). Emits order.submitted.

    The same idempotency key with the same request returns the first order, never a second one.
    A refused request leaves no order: each problem is recorded as a ValidationFailure and
    OrderInvalid is raised.
    """
    existing = _existing_for_key(request)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            # The address row lock serializes orders at one address (duplicate checks hold).
            address = AddressObject.objects.select_for_update().filter(pk=request.address_id).first()
            # A request with the same key may have committed while this one waited for the lock.
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


def _order_create(request: OrderRequest, validated) -> Order:
    now = timezone.now()
    if request.customer.pk is None:  # a new customer from the checkout or the provider's API
        login = request.customer.user
        if login is not None and login.pk is None:  # signing up in the checkout: the login is created with the order
            login.save()
        request.customer.full_clean(exclude=["user"])
        request.customer.save()
    order = Order.objects.create(
        customer=request.customer,
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
    )
    OrderLine.objects.bulk_create(
        [
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
            )
            for c in (validated.matched[line.product_id] for line in request.lines)
        ]
    )
    transition_apply(order, "submit", by=request.placed_by, at=now)
    order.save(update_fields=["status", "submitted_at", "updated_at"])
    events.publish("order.submitted", order_id=order.pk, provider_id=order.provider_id)
    return order


def _validation_failures_record(request: OrderRequest, validated) -> None:
    with transaction.atomic():
        ValidationFailure.objects.bulk_create(
            [
                ValidationFailure(
                    code=problem.code,
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
    """Accept a submitted order: one pending subscription per line. Emits order.accepted."""
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
                billing_cycle=participation.billing_cycle,
            )
            for line in order.lines.all()
        ]
    )
    events.publish(
        "order.accepted",
        order_id=order.pk,
        address_id=order.address_id,
        provider_id=order.provider_id,
        subscription_ids=[s.pk for s in subscriptions],
    )
    return order


@transaction.atomic
def order_reject(*, order_id: int, reason: str, actor=None) -> Order:
    """The provider declines a submitted order, with a reason. Emits order.rejected."""
    if not reason.strip():
        raise ApplicationError("A rejection needs a reason.", code="reason_required")
    order = _order_locked(order_id)
    transition_apply(order, "reject", by=actor, reason=reason.strip(), at=timezone.now())
    order.save(update_fields=["status", "decided_at", "rejection_reason", "updated_at"])
    events.publish("order.rejected", order_id=order.pk, provider_id=order.provider_id)
    return order


@transaction.atomic
def order_cancel(*, order_id: int, reason: str = "", actor=None) -> Order:
    """Cancel an order before fulfillment; its pending subscriptions are cancelled too. Emits order.cancelled."""
    order = _order_locked(order_id)
    transition_apply(order, "cancel", by=actor, reason=reason.strip() or "cancelled")
    order.save(update_fields=["status", "cancellation_reason", "updated_at"])
    for subscription in Subscription.objects.select_for_update().filter(
        order_line__order=order, status=SubscriptionStatus.PENDING
    ):
        transition_apply(subscription, "cancel", by=actor, reason="order cancelled")
        subscription.save(update_fields=["status", "updated_at"])
    events.publish("order.cancelled", order_id=order.pk, provider_id=order.provider_id)
    return order


@transaction.atomic
def subscription_terminate(*, subscription_id: int, actor=None, reason: str = "") -> Subscription:
    """End a live subscription; the network then deactivates its service. Emits subscription.terminated."""
    subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
    transition_apply(subscription, "terminate", by=actor, reason=reason.strip() or "terminated", at=timezone.now())
    subscription.save(update_fields=["status", "terminated_at", "updated_at"])
    events.publish(
        "subscription.terminated",
        subscription_id=subscription.pk,
        terminated_at=subscription.terminated_at,
        provider_id=subscription.provider_id,
    )
    return subscription


@transaction.atomic
def subscription_suspend(*, subscription_id: int, actor=None, reason: str = "") -> Subscription:
    """Pause a live subscription (e.g. for non-payment): its days are not billed. Emits subscription.suspended."""
    subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
    transition_apply(subscription, "suspend", by=actor, reason=reason.strip() or "suspended")
    subscription.save(update_fields=["status", "updated_at"])
    events.publish(
        "subscription.suspended",
        subscription_id=subscription.pk,
        suspended_at=timezone.now(),
        provider_id=subscription.provider_id,
        reason=reason,
    )
    return subscription


@transaction.atomic
def subscription_resume(*, subscription_id: int, actor=None, reason: str = "") -> Subscription:
    """Restore a paused subscription; billing resumes. Emits subscription.resumed."""
    subscription = Subscription.objects.select_for_update().get(pk=subscription_id)
    transition_apply(subscription, "resume", by=actor, reason=reason.strip() or "resumed")
    subscription.save(update_fields=["status", "updated_at"])
    events.publish(
        "subscription.resumed",
        subscription_id=subscription.pk,
        resumed_at=timezone.now(),
        provider_id=subscription.provider_id,
    )
    return subscription


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


# --- catalog ---------------------------------------------------------------------------------


def _save_validated(obj, **kwargs):
    obj.full_clean(**kwargs)
    obj.save()
    return obj


@transaction.atomic
def product_save(*, product: Product) -> Product:
    """Create or update a product (validated); a new product gets the default eligibility rule."""
    created = product.pk is None
    _save_validated(product)
    if created:
        EligibilityRule.objects.get_or_create(product=product)
    return product


@transaction.atomic
def product_retire(*, product_id: int) -> Product:
    """Stop selling a product; existing subscriptions are not touched."""
    product = Product.objects.select_for_update().get(pk=product_id)
    if product.retired_at is None:
        product.retired_at = timezone.now()
        product.save(update_fields=["retired_at", "updated_at"])
    return product


@transaction.atomic
def price_save(*, price: Price) -> Price:
    """Add or change a price version. A new version starting after an open-ended one closes it; overlaps are refused."""
    _save_validated(price)
    others = (
        Price.objects.select_for_update()
        .filter(product=price.product, marketplace=price.marketplace)
        .exclude(pk=price.pk)
    )
    for other in others:
        if other.valid_to is None and other.valid_from < price.valid_from:
            other.valid_to = price.valid_from
            other.save(update_fields=["valid_to", "updated_at"])
        elif _overlaps(other.valid_from, other.valid_to, price.valid_from, price.valid_to):
            raise ValidationError(
                {"valid_from": f"Overlaps the price valid from {other.valid_from} to {other.valid_to or 'open end'}."}
            )
    return price


def _overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return (a_to is None or b_from < a_to) and (b_to is None or a_from < b_to)


def _sale_end(valid_from: date, valid_to: date | None) -> date | None:
    """The (exclusive) end of a retired price or promotion: today, or tomorrow for one that started today.

    None when it already ends by then: retiring never brings an ended version back.
    """
    today = timezone.localdate()
    end = max(today, valid_from + timedelta(days=1))
    if valid_to is not None and valid_to <= end:
        return None
    return end


@transaction.atomic
def price_retire(*, price_id: int) -> Price | None:
    """Stop selling at this price version: one not yet started is removed, a running one stops today."""
    price = Price.objects.select_for_update().get(pk=price_id)
    if price.valid_from > timezone.localdate():
        price.delete()
        return None
    end = _sale_end(price.valid_from, price.valid_to)
    if end is not None:
        price.valid_to = end
        price.save(update_fields=["valid_to", "updated_at"])
    return price


@transaction.atomic
def promotion_save(*, promotion: Promotion) -> Promotion:
    return _save_validated(promotion)


@transaction.atomic
def promotion_retire(*, promotion_id: int) -> Promotion | None:
    """Stop offering a promotion: one not yet started is removed, a running one stops today."""
    promotion = Promotion.objects.select_for_update().get(pk=promotion_id)
    if promotion.valid_from > timezone.localdate():
        promotion.delete()
        return None
    end = _sale_end(promotion.valid_from, promotion.valid_to)
    if end is not None:
        promotion.valid_to = end
        promotion.save(update_fields=["valid_to", "updated_at"])
    return promotion


@transaction.atomic
def contract_term_save(*, term: ContractTerm) -> ContractTerm:
    """Create or update a contract term; a second term of the same name is a validation error."""
    return _save_validated(term)


@transaction.atomic
def eligibility_save(*, rule: EligibilityRule, marketplaces=None, areas=None) -> EligibilityRule:
    _save_validated(rule)
    if marketplaces is not None:
        rule.marketplaces.set(marketplaces)
    if areas is not None:
        rule.areas.set(areas)
    return rule


@transaction.atomic
def participation_suspend(*, participation_id: int, actor=None, reason: str = "") -> Participation:
    """The provider's offers leave the marketplace (its orders stay)."""
    return transition_locked(Participation, participation_id, "suspend", by=actor, reason=reason)


@transaction.atomic
def participation_resume(*, participation_id: int, actor=None, reason: str = "") -> Participation:
    """The provider sells in the marketplace again."""
    return transition_locked(Participation, participation_id, "resume", by=actor, reason=reason)


def interest_register(*, address_id: int, email: str, customer_type: str) -> Interest:
    """Record that someone wants service at an address (once per address and email)."""
    interest = Interest(address_id=address_id, email=email.strip().lower(), customer_type=customer_type)
    interest.full_clean(validate_unique=False, validate_constraints=False)
    interest, _ = Interest.objects.get_or_create(
        address_id=address_id, email=interest.email, defaults={"customer_type": customer_type}
    )
    return interest
