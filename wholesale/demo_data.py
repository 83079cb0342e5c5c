"""Demo data of wholesale: the operator's rate cards (a default card, and Ljusnet's own), and
the current month's draft statements from the demo's ledger once its lives are on the network."""

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from cos.choices import OrganizationKind
from cos.models import Organization
from marketplace.selectors import local_day
from wholesale.models import RateCard
from wholesale.rates import RateInput, rate_card_create


def _rates(internet: str, fee: str) -> list[RateInput]:
    return [
        RateInput("internet", Decimal(internet), activation_fee=Decimal(fee), suspended_rate=Decimal("25.00")),
        RateInput("tv", Decimal("39.00")),
        RateInput("telephony", Decimal("9.00")),
        RateInput("value_added", Decimal("0.00")),
    ]


def seed() -> list[str]:
    operator = Organization.objects.filter(kind=OrganizationKind.NETWORK_OPERATOR).order_by("pk").first()
    if operator is None or RateCard.objects.filter(operator=operator).exists():
        return []
    start = date(local_day(timezone.now(), settings.SITE_TIME_ZONE).year - 1, 1, 1)
    rate_card_create(
        operator=operator, name="Access (default)", currency="SEK", valid_from=start, rates=_rates("179.00", "1500.00")
    )
    ljusnet = Organization.objects.filter(slug="ljusnet").first()
    if ljusnet is not None:
        rate_card_create(
            operator=operator,
            provider=ljusnet,
            name="Ljusnet access",
            currency="SEK",
            valid_from=start,
            rates=[
                *_rates("169.00", "1200.00"),
                RateInput(
                    "internet",
                    Decimal("199.00"),
                    profile="HSI_1000_1000",
                    activation_fee=Decimal("1200.00"),
                    suspended_rate=Decimal("25.00"),
                ),
            ],
        )
    return []


def finish() -> list[str]:
    from wholesale.settlement import settlement_run

    today = local_day(timezone.now(), settings.SITE_TIME_ZONE)
    result = settlement_run(month=today.replace(day=1))
    return [
        f"Wholesale demo: rate cards at /admin/wholesale/ratecard/; this month's draft statements "
        f"({len(result.statements)}) at /admin/wholesale/statement/ ('finance'). "
        f"`python manage.py run_settlement --period {today:%Y-%m} --dry-run` shows them."
    ]
