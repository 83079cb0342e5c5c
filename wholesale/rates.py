"""Rate cards: making a version (never overlapping another of its scope), and which card is in force each day."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q

from cos.choices import OrganizationKind
from cos.errors import ApplicationError, Conflict
from cos.models import Organization
from marketplace.models import Marketplace, Participation
from wholesale.models import Rate, RateCard, RateSlice, SettlementRun


@dataclass(frozen=True)
class RateInput:
    category: str
    monthly_rate: Decimal
    profile: str = ""
    activation_fee: Decimal = Decimal("0.00")
    suspended_rate: Decimal = Decimal("0.00")


def _scope(queryset, *, operator_id, provider_id, marketplace_id, area_id):
    return queryset.filter(
        operator_id=operator_id, provider_id=provider_id, marketplace_id=marketplace_id, area_id=area_id
    )


def _overlapping(queryset, valid_from: date, valid_to: date | None):
    overlap = Q(valid_to__isnull=True) | Q(valid_to__gt=valid_from)
    if valid_to is not None:
        overlap &= Q(valid_from__lt=valid_to)
    return queryset.filter(overlap)


@transaction.atomic
def rate_card_create(
    *,
    operator: Organization,
    name: str,
    currency: str,
    valid_from: date,
    rates: list[RateInput],
    provider: Organization | None = None,
    marketplace: Marketplace | None = None,
    area=None,
    valid_to: date | None = None,
    dispute_window_days: int = 30,
    payment_days: int = 30,
    tax_rate: Decimal = Decimal("0.2500"),
    supersede: bool = True,
) -> RateCard:
    """A new version of the card of a scope. With `supersede`, the version in force at `valid_from` (open-ended)
    ends that day; any other overlap is refused, as is ending a version on days an issued statement charged."""
    if operator.kind != OrganizationKind.NETWORK_OPERATOR:
        raise ApplicationError(f"{operator} is not a network operator.", code="not_an_operator")
    if provider is not None and provider.kind != OrganizationKind.SERVICE_PROVIDER:
        raise ApplicationError(f"{provider} is not a service provider.", code="not_a_provider")
    if valid_to is not None and valid_to <= valid_from:
        raise ApplicationError("A card ends after it starts.", code="invalid_validity")
    if marketplace is not None and marketplace.currency != currency:
        raise ApplicationError(f"{marketplace} sells in {marketplace.currency}.", code="currency_mismatch")
    if not rates:
        raise ApplicationError("A card has at least one rate.", code="no_rates")
    keys = [(r.category, r.profile) for r in rates]
    if len(set(keys)) != len(keys):
        raise ApplicationError("A card has one rate per category and profile.", code="duplicate_rate")
    ids = {
        "operator_id": operator.pk,
        "provider_id": getattr(provider, "pk", None),
        "marketplace_id": getattr(marketplace, "pk", None),
        "area_id": getattr(area, "pk", None),
    }
    # The scope's versions, locked: two writers of one scope take turns (the database constraint backs this).
    versions = list(_scope(RateCard.objects.select_for_update(), **ids).order_by("valid_from"))
    overlapping = [
        card
        for card in versions
        if (card.valid_to is None or card.valid_to > valid_from) and (valid_to is None or card.valid_from < valid_to)
    ]
    for card in overlapping:
        if supersede and card.valid_to is None and card.valid_from < valid_from:
            rate_card_end(card, on=valid_from)
        else:
            raise Conflict(
                f"{card} is in force on some of these days: a version of a scope never overlaps another.",
                code="rate_card_overlap",
            )
    card = RateCard(
        **ids,
        name=name,
        version=max((v.version for v in versions), default=0) + 1,
        currency=currency,
        valid_from=valid_from,
        valid_to=valid_to,
        dispute_window_days=dispute_window_days,
        payment_days=payment_days,
        tax_rate=tax_rate,
    )
    try:
        with transaction.atomic():
            card.save()
    except IntegrityError as error:
        raise Conflict("Another version of this card overlaps these days.", code="rate_card_overlap") from error
    Rate.objects.bulk_create(
        Rate(
            card=card,
            category=r.category,
            profile=r.profile,
            monthly_rate=r.monthly_rate,
            activation_fee=r.activation_fee,
            suspended_rate=r.suspended_rate,
        )
        for r in rates
    )
    return card


def rate_card_end(card: RateCard, *, on: date) -> RateCard:
    """The version is in force until `on` (exclusive). An issued statement that charged it later stays as it is:
    the variance check shows the difference (a rate mismatch), credited or charged on a later statement."""
    if on <= card.valid_from:
        raise ApplicationError("A card ends after it starts.", code="invalid_validity")
    scope = _scope(
        RateCard.objects.exclude(pk=card.pk),
        operator_id=card.operator_id,
        provider_id=card.provider_id,
        marketplace_id=card.marketplace_id,
        area_id=card.area_id,
    )
    later = _overlapping(scope, card.valid_from, on).order_by("valid_from").first()
    if later is not None:
        raise Conflict(f"{later} starts before {on}: versions of a scope never overlap.", code="rate_card_overlap")
    RateCard.objects.filter(pk=card.pk).update(valid_to=on)
    card.valid_to = on
    return card


def _rank(card: RateCard, provider_id: int, marketplace_id: int, area_id: int | None) -> int | None:
    """How well a card fits a scope (higher: more specific), or None where it does not apply."""
    if card.provider_id not in (None, provider_id) or card.marketplace_id not in (None, marketplace_id):
        return None
    if card.area_id not in (None, area_id):
        return None
    return (card.provider_id is not None) * 4 + (card.marketplace_id is not None) * 2 + (card.area_id is not None)


def slices_make(run: SettlementRun, *, start: date, end: date) -> int:
    """The run's rate slices: for each provider in each marketplace (and each area with a card of its own), the
    most specific card in force on each day of [start, end), in runs of days. Returns how many were made."""
    cards = list(
        RateCard.objects.filter(operator=run.operator, valid_from__lt=end)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=start))
        .order_by("pk")
    )
    scopes = set(Participation.objects.values_list("provider_id", "marketplace_id"))
    if run.provider_id:
        scopes = {scope for scope in scopes if scope[0] == run.provider_id}
    area_cards = {card.area_id for card in cards if card.area_id is not None}
    keys = [(p, m, None) for p, m in scopes] + [(p, m, a) for p, m in scopes for a in area_cards]
    slices = []
    for provider_id, marketplace_id, area_id in sorted(keys, key=str):
        fitting = [
            (rank, card) for card in cards if (rank := _rank(card, provider_id, marketplace_id, area_id)) is not None
        ]
        if area_id is not None and not any(card.area_id == area_id for _, card in fitting):
            continue
        day, current, since = start, None, start
        while day <= end:
            best = None
            if day < end:
                candidates = [(rank, card.pk, card) for rank, card in fitting if card.covers(day)]
                best = max(candidates, key=lambda c: (c[0], c[1]))[2] if candidates else None
            if day == end or best != current:
                if current is not None:
                    slices.append(
                        RateSlice(
                            run=run,
                            provider_id=provider_id,
                            marketplace_id=marketplace_id,
                            area_id=area_id,
                            first_day=since,
                            until=day,
                            card=current,
                        )
                    )
                current, since = best, day
            day += timedelta(days=1)
    RateSlice.objects.bulk_create(slices, batch_size=2000)
    return len(slices)
