"""The engine's interval computation of a period's lines equals its day-by-day one, on any terms: rates changing
inside a period, pauses (open, resumed, overlapping, empty), a deactivation, promotions of every kind."""

import calendar
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.engine import (
    AMOUNT_OFF,
    ANNIVERSARY,
    FREE_MONTHS,
    MONTHLY,
    PERCENT_OFF,
    Promotion,
    Terms,
    add_months,
    due_lines,
    period_lines,
    period_lines_by_interval,
)

PROPERTIES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def days(draw) -> date:
    """Any day of 2023..2029, month ends and the 1st drawn often."""
    year, month = draw(st.integers(2023, 2029)), draw(st.integers(1, 12))
    day = draw(st.one_of(st.sampled_from([1, 28, 29, 30, 31]), st.integers(1, 31)))
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


# a few values, so that neighbouring rates (and their discounts) are often equal and their runs merge
amounts = st.one_of(
    st.sampled_from([Decimal("0.01"), Decimal("0.02"), Decimal("100"), Decimal("199.00"), Decimal("399.00")]),
    st.integers(1, 300_000).map(lambda c: Decimal(c).scaleb(-2)),
)


def near(draw, anchor: date, low: int, high: int) -> date:
    return anchor + timedelta(days=draw(st.integers(low, high)))


@st.composite
def terms(draw) -> Terms:
    activated_on = draw(days())
    rates = {activated_on: draw(amounts)}
    for _ in range(draw(st.integers(0, 4))):
        rates[near(draw, activated_on, 0, 120)] = draw(amounts)
    pauses = []
    for _ in range(draw(st.integers(0, 3))):
        start = near(draw, activated_on, -10, 120)
        length = draw(st.one_of(st.none(), st.integers(0, 60)))  # None: still paused
        pauses.append((start, None if length is None else start + timedelta(days=length)))
    lived = draw(st.one_of(st.none(), st.integers(0, 150)))
    ends_on = None if lived is None else activated_on + timedelta(days=lived)
    promotion = None
    kind = draw(st.sampled_from([None, PERCENT_OFF, AMOUNT_OFF, FREE_MONTHS]))
    if kind is not None:
        months = draw(st.integers(1, 6))
        value = {
            PERCENT_OFF: Decimal(draw(st.sampled_from([10, 25, 33, 50, 99, 100]))),
            AMOUNT_OFF: draw(amounts),
            FREE_MONTHS: Decimal(months),
        }[kind]
        promotion = Promotion(kind, value, add_months(activated_on, months))
    return Terms(
        subscription_id=7,
        cycle=draw(st.sampled_from([MONTHLY, ANNIVERSARY])),
        activated_on=activated_on,
        rates=tuple(sorted(rates.items())),
        ends_on=ends_on,
        pauses=tuple(pauses),
        promotion=promotion,
        description="Fiber 250",
        names=((activated_on, "Fiber 250"), (max(rates), "Fiber 500")),
    )


@PROPERTIES
@given(t=terms(), offset=st.integers(-40, 200))
def test_a_period_by_interval_is_the_period_day_by_day(t, offset):
    """For any period around the terms' changes: the same lines, in the same order, with the same amounts, days,
    rates and descriptions."""
    period = t.period_of(t.activated_on + timedelta(days=offset))
    assert period_lines_by_interval(t, period) == period_lines(t, period)


@PROPERTIES
@given(t=terms(), since=st.integers(0, 120), span=st.integers(-3, 200))
def test_the_due_lines_of_a_run_are_those_of_the_periods_day_by_day(t, since, span):
    """What a cycle run bills from any `billed_until` up to any day: each period begun, priced day by day, and the
    first day left unbilled after them."""
    billed_until = t.period_of(t.activated_on + timedelta(days=since)).start
    as_of = billed_until + timedelta(days=span)
    expected, until, stop = [], billed_until, t.ends_on or date.max
    while until <= as_of and until < stop:
        period = t.period_of(until)
        expected += period_lines(t, period)
        until = period.end
    assert due_lines(t, billed_until, as_of) == (expected, until)
