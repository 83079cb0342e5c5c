"""Use cases of the catalog that write: products, price versions, promotions, terms, eligibility, participations,
interest registrations."""

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cos.fsm import transition_locked
from marketplace.models import (
    ContractTerm,
    EligibilityRule,
    Interest,
    Marketplace,
    Participation,
    Price,
    Product,
    Promotion,
)
from marketplace.selectors import default_today, marketplace_today


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
    """Add or change a price version. A new version starting after an open-ended one closes it; overlaps are refused.
    The earlier version is closed before the new one is written (the database refuses overlapping versions)."""
    price.full_clean()
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
    price.save()
    return price


def _overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return (a_to is None or b_from < a_to) and (b_to is None or a_from < b_to)


def _today_of(marketplace: Marketplace | None) -> date:
    return marketplace_today(marketplace) if marketplace is not None else default_today()


def _sale_end(valid_from: date, valid_to: date | None, today: date) -> date | None:
    """The (exclusive) end of a retired price or promotion: today, or tomorrow for one that started today.

    None when it already ends by then: retiring never brings an ended version back.
    """
    end = max(today, valid_from + timedelta(days=1))
    if valid_to is not None and valid_to <= end:
        return None
    return end


@transaction.atomic
def price_retire(*, price_id: int) -> Price | None:
    """Stop selling at this price version: one not yet started is removed, a running one stops today."""
    price = Price.objects.select_for_update(of=("self",)).select_related("marketplace").get(pk=price_id)
    today = _today_of(price.marketplace)
    if price.valid_from > today:
        price.delete()
        return None
    end = _sale_end(price.valid_from, price.valid_to, today)
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
    promotion = Promotion.objects.select_for_update(of=("self",)).select_related("marketplace").get(pk=promotion_id)
    today = _today_of(promotion.marketplace)
    if promotion.valid_from > today:
        promotion.delete()
        return None
    end = _sale_end(promotion.valid_from, promotion.valid_to, today)
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
