"""Wholesale test data: ledger periods of a provider's services, and rate cards."""

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from cos.choices import OrganizationKind
from cos.periods import add_months
from provisioning.choices import PeriodCause
from provisioning.models import ServiceInstance, ServicePeriod
from tests.billing.factories import subscription
from tests.cos.factories import AddressFactory, ONTFactory, OrganizationFactory
from wholesale.choices import StatementStatus
from wholesale.models import RateCard, Statement, StatementDispute
from wholesale.rates import RateInput, rate_card_create
from wholesale.services import dispute_open, statement_issue
from wholesale.settlement import settlement_run

ZONE = ZoneInfo("Europe/Stockholm")


def local(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZONE)


def operator():
    from cos.models import Organization

    found = Organization.objects.filter(kind=OrganizationKind.NETWORK_OPERATOR).order_by("pk").first()
    return found or OrganizationFactory(kind=OrganizationKind.NETWORK_OPERATOR, name="Stadsnät AB", country="SE")


def card(provider=None, *, monthly="100.00", fee="0.00", suspended="0.00", valid_from=date(2020, 1, 1), **fields):
    """A card for internet at `monthly` (any profile), for the provider (None: the default card)."""
    rates = fields.pop("rates", None) or [
        RateInput("internet", Decimal(monthly), activation_fee=Decimal(fee), suspended_rate=Decimal(suspended))
    ]
    return rate_card_create(
        operator=fields.pop("operator", None) or operator(),
        provider=provider,
        name=fields.pop("name", "Access"),
        currency=fields.pop("currency", "SEK"),
        valid_from=valid_from,
        rates=rates,
        **fields,
    )


def service_with_periods(w, spans, *, address=None):
    """A subscription of `w`'s internet product at a new address of its area, whose service was live over
    `spans`: (start moment, end moment or None, cause, profile) each."""
    address = address or AddressFactory(area=w.area, status=w.address.status)
    w.address = address
    sub = subscription(w)
    service = ServiceInstance.objects.get(subscription=sub)
    ont = ONTFactory(address=address, bound_at=timezone.now())
    for start, end, cause, profile in spans:
        ServicePeriod.objects.create(
            service=service,
            subscription=sub,
            provider=sub.provider,
            address=address,
            ont=ont,
            network_service_id=f"cos-{service.pk}",
            profile=profile or "HSI_1000_1000",
            started_at=start,
            ended_at=end,
            cause=cause or PeriodCause.ACTIVATE,
        )
    return service


def this_month():
    return timezone.localdate().replace(day=1)


def issued_statement(w, *, month=None, services=1, issued_on=None, **card_fields) -> Statement:
    """Provider `w`'s statement of a closed month (default: last month), issued (default: today): `services`
    services live from the month's first day, each an access line and an activation fee (100.00 a month and
    50.00 at the provider's card, made on the first call)."""
    month = month or add_months(this_month(), -1)
    if not RateCard.objects.filter(provider=w.provider).exists():
        card(w.provider, monthly="100.00", fee="50.00", **card_fields)
    address = w.address
    for _ in range(services):
        service_with_periods(w, [(local(month), None, None, None)])
    w.address = address
    settlement_run(month=month, provider=w.provider)
    statement = Statement.objects.get(provider=w.provider, month=month)
    return statement_issue(statement_id=statement.pk, today=issued_on or timezone.localdate())


def draft_statement(w) -> Statement:
    """This month's statement of `w`, still a draft (the month is not over)."""
    settlement_run(month=this_month(), provider=w.provider)
    return Statement.objects.get(provider=w.provider, month=this_month(), status=StatementStatus.DRAFT)


def dispute_of(statement, amount="10.00", **fields) -> StatementDispute:
    line = statement.lines.order_by("pk").first()
    return dispute_open(
        statement_id=statement.pk,
        provider=statement.provider,
        lines=[{"line": line.pk, "amount": amount}],
        reason_code=fields.pop("reason_code", "not_live"),
        **fields,
    )
