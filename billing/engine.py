"""The billing engine: pure and deterministic. Given a subscription's terms and what has been billed, it returns
invoice lines. No database, no clock: the services around it load the terms and persist the lines.

Day conventions: a subscription is billable from its activation day (inclusive) to its deactivation day
(exclusive), at the monthly rate in force on each day, except paused days. Billing is in advance, one period at
a time: a calendar month on the monthly cycle, activation day-of-month to the next on the anniversary cycle.

A part of a period costs rate x days / days_in_that_period, rounded half up to the cent, per line; a whole period
costs exactly the rate. When the terms change after a period was billed (termination, pause, plan change), the
difference between what was billed and what is due is returned as credit and charge lines, day by day, so every
billable day is billed exactly once, net of credits.

Amounts are prices as the marketplace states them: net, with tax added once on the lines' net (`tax_line`), or,
where prices include tax, gross, each taxable line split into its net and the tax it includes (`tax_split`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from cos.periods import ANNIVERSARY, MONTHLY, Period, add_months, period_containing, periods  # noqa: F401
from marketplace.pricing import tax_included, tax_included_statement

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Line kinds
RECURRING = "recurring"
PRORATED = "prorated"
START_FEE = "start_fee"
PROMOTION = "promotion"
CREDIT = "credit"
LATE_FEE = "late_fee"
TAX = "tax"
FEE = "fee"
ADJUSTMENT = "adjustment"

UNTAXED = (TAX, LATE_FEE)  # a late fee is compensation, not a supply: no VAT

PERCENT_OFF = "percent_off"
AMOUNT_OFF = "amount_off"
FREE_MONTHS = "free_months"


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


# The calendar (add_months, Period, period_containing, periods) is shared: cos.periods.


# --- terms -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Promotion:
    kind: str  # percent_off | amount_off | free_months
    value: Decimal  # percent (e.g. 50), an amount per month, or the number of free months
    until: date  # exclusive: the activation date plus the promotion's periods

    def monthly_discount(self, rate: Decimal) -> Decimal:
        """The discount for one whole period at this rate, never more than the rate."""
        if self.kind == PERCENT_OFF:
            return min(money(rate * self.value / 100), rate)
        if self.kind == AMOUNT_OFF:
            return min(self.value, rate)
        return rate


@dataclass(frozen=True)
class Terms:
    """What the engine needs to know about one subscription."""

    subscription_id: int
    cycle: str
    activated_on: date
    rates: tuple[tuple[date, Decimal], ...]  # (effective from, monthly rate), sorted; the first from activation
    ends_on: date | None = None  # deactivation day (exclusive)
    pauses: tuple[tuple[date, date | None], ...] = ()  # [start, end) with end None while paused
    start_fee: Decimal = ZERO
    promotion: Promotion | None = None
    description: str = ""
    names: tuple[tuple[date, str], ...] = ()  # (effective from, product name) when the plan changed over time

    def __post_init__(self):
        if self.ends_on is not None and self.ends_on < self.activated_on:
            raise ValueError("A service cannot end before it was activated.")
        if not self.rates or self.rates[0][0] > self.activated_on:
            raise ValueError("The first rate must be in force from the activation day.")

    def rate_on(self, day: date) -> Decimal:
        rate = self.rates[0][1]
        for effective, value in self.rates:
            if effective <= day:
                rate = value
        return rate

    def name_on(self, day: date, rate: Decimal | None = None) -> str:
        """The product of `day` for the lines' text: the plan in force then, or, for days billed earlier at `rate`
        (a credit), the plan that was billed at that rate."""
        named = dict(self.names)
        if rate is not None:
            earlier = [effective for effective, value in self.rates if value == rate and effective <= day]
            if earlier and named.get(max(earlier)):
                return named[max(earlier)]
        name = self.description
        for effective, value in sorted(self.names):
            if effective <= day and value:
                name = value
        return name

    def paused_on(self, day: date) -> bool:
        return any(start <= day and (end is None or day < end) for start, end in self.pauses)

    def billable_on(self, day: date) -> bool:
        return self.activated_on <= day and (self.ends_on is None or day < self.ends_on) and not self.paused_on(day)

    def period_of(self, day: date) -> Period:
        return period_containing(self.cycle, self.activated_on, day)

    @property
    def first_period(self) -> Period:
        return self.period_of(self.activated_on)


@dataclass(frozen=True)
class Line:
    kind: str
    amount: Decimal
    description: str = ""
    subscription_id: int | None = None
    period_start: date | None = None  # the days the line covers, inclusive
    period_end: date | None = None
    rate: Decimal | None = None  # the monthly rate the days are valued at
    days: int = 0
    period_days: int = 0
    coverage: int = 0  # +1: these days are billed; -1: these days are credited; 0: no days (fees, tax)
    refers_to: int | None = None  # e.g. the invoice a late fee is for
    tax: Decimal = ZERO  # the tax its gross price includes (prices including tax); `amount` is then the net


# --- runs of days ------------------------------------------------------------------------------


@dataclass
class _Run:
    start: date
    end: date  # exclusive
    rate: Decimal


def _runs(days: list[tuple[date, Decimal]]) -> list[_Run]:
    """Consecutive days at the same rate, merged."""
    runs: list[_Run] = []
    for day, rate in days:
        if runs and runs[-1].end == day and runs[-1].rate == rate:
            runs[-1].end = day + timedelta(days=1)
        else:
            runs.append(_Run(day, day + timedelta(days=1), rate))
    return runs


def part_of(rate: Decimal, days: int, period_days: int) -> Decimal:
    """The price of `days` of a period of `period_days` at a monthly `rate`; a whole period is the rate."""
    if days == period_days:
        return money(rate)
    return money(rate * days / period_days)


def part_of_cents_sql(rate: str, days: str, period_days: str) -> str:
    """part_of as a SQL expression, in whole cents, for set-based pricing (wholesale settlement): exactly the
    same figure on every database, as it reckons in integers (no float, no numeric scale). A whole period is the
    rate; a part is rate x days / period_days rounded half up to the cent. For rates of 0 or more."""
    cents = f"CAST(ROUND(({rate}) * 100) AS BIGINT)"
    return (
        f"(CASE WHEN ({days}) = ({period_days}) THEN {cents} "
        f"ELSE ({cents} * ({days}) * 2 + ({period_days})) / (2 * ({period_days})) END)"
    )


def _days(start: date, end: date):
    for offset in range((end - start).days):
        yield start + timedelta(days=offset)


def _desired(terms: Terms, period: Period, stream: str) -> dict[date, Decimal]:
    """Day -> monthly value due in this period, for the recurring or the promotion stream."""
    due = {}
    for day in _days(period.start, period.end):
        if not terms.billable_on(day):
            continue
        rate = terms.rate_on(day)
        if stream == RECURRING:
            due[day] = rate
        elif terms.promotion and day < terms.promotion.until:
            discount = terms.promotion.monthly_discount(rate)
            if discount:
                due[day] = discount
    return due


def _lines_for(terms: Terms, period: Period, stream: str, runs: list[_Run], sign: int) -> list[Line]:
    lines = []
    for run in runs:
        days = (run.end - run.start).days
        value = part_of(run.rate, days, period.days)
        first, last = run.start, run.end - timedelta(days=1)
        span = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
        name = terms.name_on(run.start, run.rate if sign < 0 else None)
        if stream == RECURRING and sign > 0:
            kind = RECURRING if days == period.days else PRORATED
            amount, text = value, f"{name} {span}".strip()
            if kind == PRORATED:
                text += f" ({days}/{period.days} days)"
        elif stream == RECURRING:
            kind, amount, text = CREDIT, -value, f"Credit: {name} {span}, not used".replace("  ", " ")
        elif sign > 0:
            kind, amount, text = PROMOTION, -value, f"Promotion {span}"
        else:
            kind, amount, text = PROMOTION, value, f"Promotion reversed {span}"
        lines.append(
            Line(
                kind=kind,
                amount=amount,
                description=text,
                subscription_id=terms.subscription_id,
                period_start=first,
                period_end=last,
                rate=run.rate,
                days=days,
                period_days=period.days,
                coverage=sign,
            )
        )
    return lines


def _stream_of(line: Line) -> str | None:
    if line.kind in (RECURRING, PRORATED, CREDIT) and line.coverage:
        return RECURRING
    if line.kind == PROMOTION and line.coverage:
        return PROMOTION
    return None


def reconcile(terms: Terms, billed: list[Line], through: date) -> list[Line]:
    """The lines that bring billing of every period starting before `through` to what the terms say is due.

    `billed` are the subscription's lines already on (non-void) invoices. A fresh period gets its charge and
    promotion lines; a period billed before a termination, pause or plan change gets credits for the days no
    longer due and charges for the days newly due. Running it again returns nothing: the result is idempotent.
    """
    have: dict[str, dict[date, Counter]] = {RECURRING: defaultdict(Counter), PROMOTION: defaultdict(Counter)}
    for line in billed:
        stream = _stream_of(line)
        if stream is None or line.subscription_id != terms.subscription_id:
            continue
        for day in _days(line.period_start, line.period_end + timedelta(days=1)):
            have[stream][day][line.rate] += line.coverage
    lines: list[Line] = []
    end = max(through, _last_billed(billed, terms))
    for period in periods(terms.cycle, terms.activated_on, terms.activated_on, end):
        for stream in (RECURRING, PROMOTION):
            # a period not yet reached is only ever credited (what was billed ahead and is no longer due)
            due = _desired(terms, period, stream) if period.start < through else {}
            charge, credit = [], []
            for day in _days(period.start, period.end):
                billed_rates = have[stream].get(day, Counter())
                wanted = due.get(day)
                for rate, count in sorted(billed_rates.items()):
                    excess = count - (1 if rate == wanted else 0)
                    credit.extend([(day, rate)] * max(excess, 0))
                if wanted is not None and billed_rates.get(wanted, 0) < 1:
                    charge.append((day, wanted))
            lines += _lines_for(terms, period, stream, _runs(sorted(credit)), -1)
            lines += _lines_for(terms, period, stream, _runs(charge), +1)
    return lines


def _last_billed(billed: list[Line], terms: Terms) -> date:
    days = [line.period_end + timedelta(days=1) for line in billed if _stream_of(line) and line.coverage > 0]
    return max(days, default=terms.activated_on)


def period_lines(terms: Terms, period: Period) -> list[Line]:
    """Charge and promotion lines for one period never billed before (the fast path of the cycle run)."""
    lines = []
    for stream in (RECURRING, PROMOTION):
        if stream == PROMOTION and (terms.promotion is None or terms.promotion.until <= period.start):
            continue  # no promotion day in this period
        due = _desired(terms, period, stream)
        lines += _lines_for(terms, period, stream, _runs(sorted(due.items())), +1)
    return lines


def _desired_runs(terms: Terms, period: Period, stream: str) -> list[_Run]:
    """`_runs(sorted(_desired(...).items()))` computed by interval: between two days on which something in the terms
    changes (activation, deactivation, a rate, a pause's start or end, the promotion's end), every day is billable
    or not and has the same value alike, so each such interval is valued once instead of each of its days."""
    promotion = terms.promotion
    cuts = {period.start, period.end, terms.activated_on}
    cuts.update(effective for effective, _ in terms.rates)
    for start, end in terms.pauses:
        cuts.add(start)
        cuts.add(end or period.end)
    if terms.ends_on is not None:
        cuts.add(terms.ends_on)
    if promotion is not None:
        cuts.add(promotion.until)
    bounds = sorted(day for day in cuts if period.start <= day <= period.end)
    runs: list[_Run] = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        if not terms.billable_on(start):
            continue
        value = terms.rate_on(start)
        if stream != RECURRING:
            if promotion is None or start >= promotion.until:
                continue
            value = promotion.monthly_discount(value)
            if not value:
                continue
        if runs and runs[-1].end == start and runs[-1].rate == value:
            runs[-1].end = end
        else:
            runs.append(_Run(start, end, value))
    return runs


def period_lines_by_interval(terms: Terms, period: Period) -> list[Line]:
    """`period_lines`, the same lines, computed per interval of unchanged terms rather than per day."""
    lines = []
    for stream in (RECURRING, PROMOTION):
        if stream == PROMOTION and (terms.promotion is None or terms.promotion.until <= period.start):
            continue  # no promotion day in this period
        lines += _lines_for(terms, period, stream, _desired_runs(terms, period, stream), +1)
    return lines


def due_lines(terms: Terms, billed_until: date, as_of: date) -> tuple[list[Line], date]:
    """The periods begun by `as_of` and not billed yet (from `billed_until`, up to the deactivation), and the first
    day left unbilled after them."""
    lines, until = [], billed_until
    stop = terms.ends_on or date.max
    while until <= as_of and until < stop:
        period = terms.period_of(until)
        lines += period_lines_by_interval(terms, period)
        until = period.end
    return lines, until


def first_invoice_lines(terms: Terms) -> list[Line]:
    """At activation: the start fee and the first period (prorated on the monthly cycle unless on the 1st)."""
    lines = []
    if terms.start_fee:
        lines.append(
            Line(
                kind=START_FEE,
                amount=money(terms.start_fee),
                description=f"Start fee: {terms.description}".strip(),
                subscription_id=terms.subscription_id,
            )
        )
    return lines + period_lines(terms, terms.first_period)


def tax_line(lines: list[Line], rate: Decimal, *, label: str = "VAT") -> Line | None:
    """Exclusive tax on the net of the taxable lines, rounded once."""
    net = sum((line.amount for line in lines if line.kind not in UNTAXED), ZERO)
    if not rate or not net:
        return None
    percent = (rate * 100).normalize()
    return Line(kind=TAX, amount=money(net * rate), description=f"{label} {percent:f}% of {net}")


def tax_split(lines: list[Line], rate: Decimal, *, label: str = "VAT") -> tuple[list[Line], Line | None]:
    """Prices including tax: each taxable line's gross amount split into its net (`amount`) and the tax it includes
    (`tax`, by `marketplace.pricing.tax_included`), so net plus tax is the gross to the cent, line by line; untaxed
    lines keep their amount. The tax line states the sum of the lines' tax ("of which VAT 25 %: 69.80"): the nets
    and it add up to the gross total."""
    split = []
    for line in lines:
        tax = tax_included(line.amount, rate) if rate and line.kind not in UNTAXED else ZERO
        split.append(_with_tax(line, tax) if tax else line)
    tax = sum((line.tax for line in split), ZERO)
    if not tax:
        return split, None
    return split, Line(kind=TAX, amount=tax, description=tax_included_statement(rate, tax, label=label))


def _with_tax(line: Line, tax: Decimal) -> Line:
    """`replace(line, amount=line.amount - tax, tax=tax)` at a sixth of its cost (the cycle run splits every line of
    a consumer's invoice): the frozen line's fields copied, two of them changed (Line has no `__post_init__`)."""
    split = object.__new__(Line)
    split.__dict__.update(line.__dict__, amount=line.amount - tax, tax=tax)
    return split


def total(lines: list[Line]) -> Decimal:
    return sum((line.amount for line in lines), ZERO)


@dataclass(frozen=True)
class LateFeeRule:
    kind: str  # none | fixed | percent
    value: Decimal = ZERO
    grace_days: int = 0
    minimum_balance: Decimal = ZERO


def late_fee(open_amount: Decimal, rule: LateFeeRule) -> Decimal:
    """The fee for an invoice overdue past its grace days: a fixed amount or a percent of the open amount."""
    if rule.kind == "none" or open_amount <= 0 or open_amount < rule.minimum_balance:
        return ZERO
    if rule.kind == "fixed":
        return money(rule.value)
    return money(open_amount * rule.value / 100)
