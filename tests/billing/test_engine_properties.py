"""Properties of the billing engine over random subscription lives.

A life: random activation day (month ends, leap years, 28-31 day months), either cycle, a random rate, maybe a start
fee and a promotion; then a random sequence of cycle runs, reconciliations for later days, rate changes, pauses,
resumptions and a termination. Every line the engine returns is fed back as billed. After each step, what was
billed is compared with what is due, computed here from the terms day by day, independently of the engine.
"""

import calendar
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.engine import (
    AMOUNT_OFF,
    ANNIVERSARY,
    CREDIT,
    FEE,
    FREE_MONTHS,
    LATE_FEE,
    MONTHLY,
    PERCENT_OFF,
    PROMOTION,
    PRORATED,
    RECURRING,
    START_FEE,
    LateFeeRule,
    Line,
    Promotion,
    Terms,
    add_months,
    first_invoice_lines,
    late_fee,
    part_of,
    period_containing,
    period_lines,
    periods,
    reconcile,
    tax_line,
    total,
)

PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ONE_DAY = timedelta(days=1)
CENT = Decimal("0.01")
RECURRING_KINDS = (RECURRING, PRORATED, CREDIT)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --- strategies --------------------------------------------------------------------------------


@st.composite
def days(draw, years=(2023, 2029)) -> date:
    """Any day, with month ends (28-31) and the 1st drawn often."""
    year = draw(st.integers(*years))
    month = draw(st.integers(1, 12))
    day = draw(st.one_of(st.sampled_from([1, 28, 29, 30, 31]), st.integers(1, 31)))
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


amounts = st.integers(1, 300_000).map(lambda c: Decimal(c).scaleb(-2))  # 0.01 .. 3000.00
cycles = st.sampled_from([MONTHLY, ANNIVERSARY])


@st.composite
def promotions(draw, activated_on: date) -> Promotion | None:
    kind = draw(st.sampled_from([None, PERCENT_OFF, AMOUNT_OFF, FREE_MONTHS]))
    if kind is None:
        return None
    months = draw(st.integers(1, 6))
    if kind == PERCENT_OFF:
        value = Decimal(draw(st.sampled_from([10, 25, 33, 50, 99, 100])))
    elif kind == AMOUNT_OFF:
        value = draw(amounts)
    else:
        value = Decimal(months)
    return Promotion(kind, value, add_months(activated_on, months))


def day_between(data, low: date, high: date) -> date:
    return low + timedelta(days=data.draw(st.integers(0, max((high - low).days, 0))))


# --- what is due, day by day, from the terms ---------------------------------------------------


def rate_on(terms: Terms, day: date) -> Decimal:
    return [rate for effective, rate in terms.rates if effective <= day][-1]


def billable(terms: Terms, day: date) -> bool:
    if day < terms.activated_on or (terms.ends_on is not None and day >= terms.ends_on):
        return False
    return not any(start <= day and (end is None or day < end) for start, end in terms.pauses)


def discount(terms: Terms, day: date) -> tuple[Decimal, Decimal] | None:
    """The monthly discount on a billable day: (as billed, rounded to the cent; exact)."""
    promo = terms.promotion
    if promo is None or day >= promo.until:
        return None
    rate = rate_on(terms, day)
    if promo.kind == PERCENT_OFF:
        exact = min(rate * promo.value / 100, rate)
        billed = min(cents(exact), rate)
    elif promo.kind == AMOUNT_OFF:
        exact = billed = min(promo.value, rate)
    else:
        exact = billed = rate
    return (billed, exact) if billed else None


def due(terms: Terms, stream: str, day: date) -> tuple[Decimal, Decimal] | None:
    """The monthly value due on a day in a stream: (as billed, exact), None when nothing is due."""
    if not billable(terms, day):
        return None
    if stream == RECURRING:
        rate = rate_on(terms, day)
        return rate, rate
    return discount(terms, day)


def stream_of(line: Line) -> str | None:
    if not line.coverage:
        return None
    if line.kind in RECURRING_KINDS:
        return RECURRING
    return PROMOTION if line.kind == PROMOTION else None


def each_day(start: date, end: date):
    while start < end:
        yield start
        start += ONE_DAY


def net_coverage(lines: list[Line], stream: str) -> dict[date, dict[Decimal, int]]:
    """Day -> {monthly value: times billed net of credits}, zeros left out."""
    net: dict[date, Counter] = defaultdict(Counter)
    for line in lines:
        if stream_of(line) == stream:
            for day in each_day(line.period_start, line.period_end + ONE_DAY):
                net[day][line.rate] += line.coverage
    cleaned = {day: {rate: n for rate, n in counts.items() if n} for day, counts in net.items()}
    return {day: counts for day, counts in cleaned.items() if counts}


# --- a life ------------------------------------------------------------------------------------


@dataclass
class Life:
    terms: Terms
    through: date  # the first day of the first period not billed yet
    billed: list[Line] = field(default_factory=list)
    invoices: list[list[Line]] = field(default_factory=list)

    def bill(self, lines: list[Line]) -> None:
        if lines:
            self.invoices.append(lines)
            self.billed += lines

    def horizon(self, through: date) -> date:
        """The end of the last period starting before `through`: what a reconcile for `through` bills up to."""
        if through <= self.terms.activated_on:
            return self.through
        return max(self.through, self.terms.period_of(through - ONE_DAY).end)


def step(data, life: Life) -> None:
    t = life.terms
    kind = data.draw(st.sampled_from(["reconcile", "cycle", "rate", "pause", "end"]))
    if kind == "reconcile":
        through = day_between(data, life.through, life.through + timedelta(days=100))
        life.bill(reconcile(t, life.billed, through))
        life.through = life.horizon(through)
        return
    if kind == "cycle":  # the cycle run: fresh periods with period_lines, up to the run's day
        as_of = day_between(data, life.through - timedelta(days=3), life.through + timedelta(days=100))
        lines, until, stop = [], life.through, t.ends_on or date.max
        while until <= as_of and until < stop:
            period = t.period_of(until)
            lines += period_lines(t, period)
            until = period.end
        life.bill(lines)
        life.through = until
        return
    reach = life.through + timedelta(days=60)
    if kind == "rate":
        effective = day_between(data, t.activated_on, reach)
        rates = dict(t.rates)
        rates[effective] = data.draw(amounts)
        life.terms = replace(t, rates=tuple(sorted(rates.items())))
    elif kind == "pause":
        open_pause = next((p for p in t.pauses if p[1] is None), None)
        if open_pause is None:
            pauses = (*t.pauses, (day_between(data, t.activated_on, reach), None))
        else:
            resumed = (open_pause[0], day_between(data, open_pause[0], open_pause[0] + timedelta(days=90)))
            pauses = tuple(resumed if p == open_pause else p for p in t.pauses)
        life.terms = replace(t, pauses=pauses)
    elif t.ends_on is None:
        life.terms = replace(t, ends_on=day_between(data, t.activated_on, reach))
    life.bill(reconcile(life.terms, life.billed, life.through))


@st.composite
def initial_terms(draw) -> Terms:
    activated_on = draw(days())
    return Terms(
        subscription_id=1,
        cycle=draw(cycles),
        activated_on=activated_on,
        rates=((activated_on, draw(amounts)),),
        start_fee=draw(st.sampled_from([Decimal("0.00"), Decimal("500.00"), Decimal("99.95")])),
        promotion=draw(promotions(activated_on)),
        description="Fiber",
    )


def live(data, terms: Terms, checks=()) -> Life:
    life = Life(terms=terms, through=terms.first_period.end)
    life.bill(first_invoice_lines(terms))
    for check in checks:
        check(life)
    for _ in range(data.draw(st.integers(0, 8), label="steps")):
        step(data, life)
        for check in checks:
            check(life)
    return life


# --- checks ------------------------------------------------------------------------------------


def every_billable_day_billed_once(life: Life) -> None:
    t = life.terms
    for stream in (RECURRING, PROMOTION):
        expected = {}
        for day in each_day(t.activated_on, life.through):
            value = due(t, stream, day)
            if value is not None:
                expected[day] = {value[0]: 1}
        actual = net_coverage(life.billed, stream)
        wrong = sorted(day for day in expected.keys() | actual.keys() if expected.get(day) != actual.get(day))
        assert not wrong, (
            f"{stream}: {len(wrong)} days billed wrong, first {wrong[0]}: "
            f"due {expected.get(wrong[0])}, billed {actual.get(wrong[0])}"
        )


def lines_are_well_formed(life: Life) -> None:
    t = life.terms
    for line in life.billed:
        assert line.amount.as_tuple().exponent == -2, line
        stream = stream_of(line)
        if stream is None:
            assert line.kind == START_FEE, line
            continue
        period = period_containing(t.cycle, t.activated_on, line.period_start)
        assert line.period_start <= line.period_end < period.end, f"a line spans two periods: {line}"
        assert line.days == (line.period_end - line.period_start).days + 1, line
        assert line.period_days == period.days, line
        sign = line.coverage if stream == RECURRING else -line.coverage
        if line.days == line.period_days:  # a whole period in one line: exactly the rate
            assert line.amount == sign * line.rate, line
        else:  # a part: rate x days / period_days, rounded half up, per line
            assert line.amount == sign * cents(line.rate * line.days / line.period_days), line
        if stream == RECURRING:
            kind = CREDIT if line.coverage < 0 else RECURRING if line.days == line.period_days else PRORATED
            assert line.kind == kind, line


def each_period_within_a_cent_per_line(life: Life) -> None:
    t = life.terms
    last = max([line.period_end + ONE_DAY for line in life.billed if line.coverage] + [life.through])
    for period in periods(t.cycle, t.activated_on, t.activated_on, last):
        for stream in (RECURRING, PROMOTION):
            lines = [
                line
                for line in life.billed
                if stream_of(line) == stream and period.start <= line.period_start < period.end
            ]
            exact = Decimal(0)
            if period.start < life.through:
                for day in each_day(period.start, period.end):
                    value = due(t, stream, day)
                    if value is not None:
                        exact += value[1] / period.days
            if stream == PROMOTION:
                exact = -exact
            billed = total(lines)
            assert abs(billed - exact) <= CENT * len(lines), (
                f"{stream} {period}: billed {billed}, exact {exact:.4f}, {len(lines)} lines"
            )


def invoices_add_up(life: Life) -> None:
    for lines in life.invoices:
        tax = tax_line(lines, Decimal("0.25"))
        taxable = sum((line.amount for line in lines if line.kind != LATE_FEE), Decimal(0))
        with_tax = [*lines, tax] if tax else lines
        assert total(with_tax) == sum((line.amount for line in with_tax), Decimal(0))
        if tax:
            assert tax.amount == cents(taxable * Decimal("0.25"))
            assert tax.amount.as_tuple().exponent == -2


# --- properties --------------------------------------------------------------------------------


@PROPERTIES
@given(terms=initial_terms(), data=st.data())
def test_every_billable_day_is_billed_exactly_once_net_of_credits(terms, data):
    """After every step of a life, each day from activation to the billed horizon is billed once (at the rate in
    force that day, and its promotion once at that day's discount) if it is billable, and not at all otherwise;
    no day past the horizon or before activation is billed."""
    live(data, terms, checks=[every_billable_day_billed_once])


@PROPERTIES
@given(terms=initial_terms(), data=st.data())
def test_money_per_period_lines_and_invoices(terms, data):
    """At the end of a life: each line values its days at rate x days / period_days (a whole period at exactly the
    rate); each period's net is within a cent per line of the exact, unrounded value of its billable days; each
    invoice with its tax adds up; and reconciling once more returns nothing."""
    life = live(data, terms)
    lines_are_well_formed(life)
    each_period_within_a_cent_per_line(life)
    invoices_add_up(life)
    assert reconcile(life.terms, life.billed, life.through) == []


@PROPERTIES
@given(cycle=cycles, anchor=days(), day=days(), rate=amounts, data=st.data())
def test_prorated_pieces_of_a_period_add_up_to_the_rate(cycle, anchor, day, rate, data):
    """Any period cut into pieces: the pieces, each rounded, add up to the rate within a cent per piece; whole, it is
    exactly the rate."""
    period = period_containing(cycle, anchor, day)
    assert part_of(rate, period.days, period.days) == rate
    cuts = sorted(set(data.draw(st.lists(st.integers(1, period.days - 1), max_size=5))))
    bounds = [0, *cuts, period.days]
    pieces = [part_of(rate, b - a, period.days) for a, b in zip(bounds, bounds[1:], strict=False)]
    assert abs(sum(pieces) - rate) <= CENT * len(pieces)


@PROPERTIES
@given(cycle=cycles, day=days(), rate=amounts, data=st.data())
def test_a_period_cut_by_a_pause_adds_up_to_the_rate(cycle, day, rate, data):
    """One whole period billed to one subscription paused inside it, and the paused days alone billed to another
    (paused before them, ended after them): the pieces add up to the rate within a cent per piece."""
    start = day.replace(day=1) if cycle == MONTHLY else day
    whole = Terms(1, cycle, start, ((start, rate),))
    period = whole.first_period
    pause_start = day_between(data, start, period.last_day)
    pause_end = day_between(data, pause_start, period.end)
    around = period_lines(replace(whole, pauses=((pause_start, pause_end),)), period)
    inside = period_lines(replace(whole, pauses=((start, pause_start),), ends_on=pause_end), period)
    pieces = around + inside
    assert sorted(day for line in pieces for day in each_day(line.period_start, line.period_end + ONE_DAY)) == list(
        each_day(period.start, period.end)
    )
    assert abs(total(pieces) - rate) <= CENT * len(pieces)


@PROPERTIES
@given(cycle=cycles, anchor=days(), day=days())
def test_periods_tile_the_calendar(cycle, anchor, day):
    """The period holding a day: 28 to 31 days, starting on the 1st (monthly) or on the anchor's day-of-month
    clamped to the month's end (anniversary), and the next period starts where it ends."""
    period = period_containing(cycle, anchor, day)
    assert period.start <= day < period.end
    assert 28 <= period.days <= 31
    following = period_containing(cycle, anchor, period.end)
    assert following.start == period.end
    for start in (period.start, following.start):
        if cycle == MONTHLY:
            assert start.day == 1
        else:
            assert start.day == min(anchor.day, calendar.monthrange(start.year, start.month)[1])


lines_strategy = st.lists(
    st.builds(
        Line,
        kind=st.sampled_from([RECURRING, PRORATED, CREDIT, PROMOTION, START_FEE, FEE, LATE_FEE]),
        amount=st.integers(-300_000, 300_000).map(lambda c: Decimal(c).scaleb(-2)),
    ),
    max_size=12,
)


@PROPERTIES
@given(lines=lines_strategy, rate=st.sampled_from(["0", "0.06", "0.12", "0.175", "0.2", "0.25", "0.255"]))
def test_tax_is_once_on_the_taxable_net_and_the_total_adds_up(lines, rate):
    tax = tax_line(lines, Decimal(rate))
    taxable = sum((line.amount for line in lines if line.kind != LATE_FEE), Decimal(0))
    if not taxable or rate == "0":
        assert tax is None
        return
    assert tax.amount == cents(taxable * Decimal(rate))
    assert tax.amount.as_tuple().exponent == -2
    assert total([*lines, tax]) == sum((line.amount for line in lines), Decimal(0)) + tax.amount


@PROPERTIES
@given(
    open_amount=st.integers(-10_000, 500_000).map(lambda c: Decimal(c).scaleb(-2)),
    kind=st.sampled_from(["none", "fixed", "percent"]),
    value=st.integers(0, 5_000).map(lambda c: Decimal(c).scaleb(-2)),
    minimum=st.integers(0, 50_000).map(lambda c: Decimal(c).scaleb(-2)),
)
def test_late_fee(open_amount, kind, value, minimum):
    fee = late_fee(open_amount, LateFeeRule(kind, value, minimum_balance=minimum))
    assert fee.as_tuple().exponent == -2
    if kind == "none" or open_amount <= 0 or open_amount < minimum:
        assert fee == 0
    elif kind == "fixed":
        assert fee == value
    else:
        assert fee == cents(open_amount * value / 100)
