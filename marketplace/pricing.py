"""Money arithmetic of offers: promotions on a monthly price, tax, the first-month estimate. Pure, Decimal only."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from marketplace.choices import PromotionKind

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal) -> Decimal:
    """Round to cents, half up (the rule for every line)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def promotion_discount(*, monthly_amount: Decimal, kind: str, value: Decimal | None) -> Decimal:
    """The discount one promoted period gets, never more than the monthly amount."""
    if not kind:
        return ZERO
    if kind == PromotionKind.PERCENT_OFF:
        discount = money(monthly_amount * Decimal(value) / 100)
    elif kind == PromotionKind.AMOUNT_OFF:
        discount = money(Decimal(value))
    elif kind == PromotionKind.FREE_MONTHS:
        discount = money(monthly_amount)
    else:
        raise ValueError(f"unknown promotion kind {kind!r}")
    return min(discount, money(monthly_amount))


@dataclass(frozen=True)
class CostLine:
    label: str
    amount: Decimal


@dataclass(frozen=True)
class FirstMonthEstimate:
    """What the first full month costs: recurring charges less promotions, plus start fees, plus tax."""

    lines: list[CostLine]
    net: Decimal
    tax: Decimal
    total: Decimal
    currency: str


def first_month_estimate(*, items: list[dict], tax_rate: Decimal, currency: str) -> FirstMonthEstimate:
    """items: dicts with name, monthly_amount, start_fee, promotion_kind, promotion_value.

    The first invoice is prorated from the activation day; this shows a whole first month.
    """
    lines: list[CostLine] = []
    for item in items:
        lines.append(CostLine(f"{item['name']}, monthly", money(item["monthly_amount"])))
        discount = promotion_discount(
            monthly_amount=item["monthly_amount"],
            kind=item.get("promotion_kind") or "",
            value=item.get("promotion_value"),
        )
        if discount:
            lines.append(CostLine(f"{item['name']}, promotion", -discount))
        if item["start_fee"]:
            lines.append(CostLine(f"{item['name']}, start fee", money(item["start_fee"])))
    net = sum((line.amount for line in lines), ZERO)
    tax = money(net * tax_rate)
    return FirstMonthEstimate(lines=lines, net=net, tax=tax, total=net + tax, currency=currency)
