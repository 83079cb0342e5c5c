"""Money arithmetic of offers: promotions on a monthly price, tax, the first-month estimate. Pure, Decimal only.

A marketplace's prices are net with VAT added on top (business), or gross with the VAT they include stated
(`Marketplace.prices_include_tax`: consumers). A gross amount is split by `tax_included` alone, here and on every
invoice line, so net plus tax is the gross amount to the cent.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from marketplace.choices import PromotionKind

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal) -> Decimal:
    """Round to cents, half up (the rule for every line)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def tax_included(gross: Decimal, rate: Decimal) -> Decimal:
    """The VAT a gross amount includes at `rate` (a fraction), to the cent; its net is `gross` less it, so the two
    add back to `gross` exactly. A negative amount (a credit) includes the same VAT with the opposite sign."""
    rate = Decimal(rate)
    return money(Decimal(gross) * rate / (1 + rate))


def tax_percent(rate: Decimal) -> str:
    """A tax rate as its percent for people: 0.2500 -> "25", 0.1250 -> "12.5"."""
    return f"{(Decimal(rate) * 100).normalize():f}"


def tax_included_statement(rate: Decimal, tax: Decimal, *, label: str = "VAT") -> str:
    """What a gross total says of the VAT in it: "of which VAT 25 %: 69.80"."""
    return f"of which {label} {tax_percent(rate)} %: {money(tax)}"


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
    """What the first full month costs: recurring charges less promotions, plus start fees, and the tax: added to
    the lines' net amounts, or (`prices_include_tax`) included in their gross amounts, line by line as the invoice
    splits them."""

    lines: list[CostLine]
    net: Decimal
    tax: Decimal
    total: Decimal
    currency: str
    tax_rate: Decimal = ZERO
    prices_include_tax: bool = False

    @property
    def tax_label(self) -> str:
        """ "VAT 25 %" added, or "of which VAT 25 %" included."""
        label = f"VAT {tax_percent(self.tax_rate)} %"
        return f"of which {label}" if self.prices_include_tax else label


def first_month_estimate(
    *, items: list[dict], tax_rate: Decimal, currency: str, prices_include_tax: bool = False
) -> FirstMonthEstimate:
    """items: dicts with name, monthly_amount, start_fee, promotion_kind, promotion_value (amounts as the
    marketplace states its prices: gross when they include tax).

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
    stated = sum((line.amount for line in lines), ZERO)
    if prices_include_tax:
        tax = sum((tax_included(line.amount, tax_rate) for line in lines), ZERO)
        net, total = stated - tax, stated
    else:
        net, tax = stated, money(stated * tax_rate)
        total = net + tax
    return FirstMonthEstimate(
        lines=lines,
        net=net,
        tax=tax,
        total=total,
        currency=currency,
        tax_rate=Decimal(tax_rate),
        prices_include_tax=prices_include_tax,
    )
