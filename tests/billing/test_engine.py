"""The billing engine, rule by rule: proration, cycles, promotions, credits on change, tax and late fees.

Pure functions: no database. Expected amounts are worked out by hand next to each assertion, at a monthly rate of
399.00 unless told otherwise.
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from billing import engine
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
    TAX,
    LateFeeRule,
    Line,
    Period,
    Promotion,
    Terms,
    add_months,
    first_invoice_lines,
    late_fee,
    part_of,
    period_containing,
    periods,
    reconcile,
    tax_line,
    total,
)

RATE = Decimal("399.00")


def terms(activated_on: date, cycle: str = MONTHLY, rate: Decimal = RATE, **fields) -> Terms:
    return Terms(
        subscription_id=7,
        cycle=cycle,
        activated_on=activated_on,
        rates=((activated_on, rate),),
        description="Fiber 500",
        **fields,
    )


def promotion(kind: str, value: str, activated_on: date, months: int) -> Promotion:
    return Promotion(kind, Decimal(value), add_months(activated_on, months))


def summary(lines: list[Line]) -> list[tuple]:
    """What matters about each line: kind, amount, the days it covers and the rate it values them at."""
    return [(line.kind, line.amount, line.period_start, line.period_end, line.rate, line.coverage) for line in lines]


def amounts(lines: list[Line]) -> list[tuple[str, Decimal]]:
    return [(line.kind, line.amount) for line in lines]


def bill_until(t: Terms, through: date) -> list[Line]:
    """The first invoice and then every period starting before `through`, as the services would bill them."""
    lines = first_invoice_lines(t)
    return lines + reconcile(t, lines, through)


# --- calendar ----------------------------------------------------------------------------------


class TestCalendar:
    def test_a_monthly_period_is_the_calendar_month(self):
        assert period_containing(MONTHLY, date(2026, 1, 20), date(2026, 2, 14)) == Period(
            date(2026, 2, 1), date(2026, 3, 1)
        )

    @pytest.mark.parametrize(
        ("month", "days"),
        [(date(2026, 2, 1), 28), (date(2028, 2, 1), 29), (date(2026, 4, 1), 30), (date(2026, 5, 1), 31)],
    )
    def test_a_monthly_period_has_the_days_of_its_month(self, month, days):
        assert period_containing(MONTHLY, month, month).days == days

    def test_anniversary_periods_keep_the_activation_day_clamped_to_month_end(self):
        # Jan 31 -> Feb 28 (no Feb 31 in 2026) -> Mar 31 (back on the anchor) -> Apr 30 -> May 31
        found = periods(ANNIVERSARY, date(2026, 1, 31), date(2026, 1, 31), date(2026, 5, 31))
        assert [(p.start, p.end) for p in found] == [
            (date(2026, 1, 31), date(2026, 2, 28)),
            (date(2026, 2, 28), date(2026, 3, 31)),
            (date(2026, 3, 31), date(2026, 4, 30)),
            (date(2026, 4, 30), date(2026, 5, 31)),
        ]
        assert [p.days for p in found] == [28, 31, 30, 31]

    def test_anniversary_in_a_leap_year_clamps_to_february_29(self):
        found = periods(ANNIVERSARY, date(2028, 1, 31), date(2028, 1, 31), date(2028, 3, 31))
        assert [(p.start, p.end) for p in found] == [
            (date(2028, 1, 31), date(2028, 2, 29)),
            (date(2028, 2, 29), date(2028, 3, 31)),
        ]

    def test_the_day_before_a_clamped_anniversary_belongs_to_the_period_before(self):
        # anchored on the 30th: Feb 27 is still in Jan 30..Feb 27, Feb 28 starts the next period (to Mar 30)
        anchor = date(2026, 1, 30)
        assert period_containing(ANNIVERSARY, anchor, date(2026, 2, 27)) == Period(date(2026, 1, 30), date(2026, 2, 28))
        assert period_containing(ANNIVERSARY, anchor, date(2026, 3, 1)) == Period(date(2026, 2, 28), date(2026, 3, 30))

    def test_add_months_clamps_and_keeps_the_anchor(self):
        assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
        assert add_months(date(2026, 2, 28), 1, anchor=31) == date(2026, 3, 31)
        assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)


# --- the first invoice -------------------------------------------------------------------------


class TestMonthlyFirstInvoice:
    def test_start_fee_and_the_rest_of_the_month_prorated_by_days(self):
        lines = first_invoice_lines(terms(date(2026, 2, 10), start_fee=Decimal("500")))
        # February 2026 has 28 days; Feb 10..28 is 19 of them: 399.00 x 19/28 = 270.75
        assert summary(lines) == [
            (START_FEE, Decimal("500.00"), None, None, None, 0),
            (PRORATED, Decimal("270.75"), date(2026, 2, 10), date(2026, 2, 28), RATE, 1),
        ]
        assert (lines[1].days, lines[1].period_days) == (19, 28)
        assert "(19/28 days)" in lines[1].description

    def test_activated_on_the_first_bills_a_whole_month_at_exactly_the_rate(self):
        (line,) = first_invoice_lines(terms(date(2026, 3, 1)))
        assert summary([line]) == [(RECURRING, RATE, date(2026, 3, 1), date(2026, 3, 31), RATE, 1)]
        assert (line.days, line.period_days) == (31, 31)

    def test_february_in_a_leap_year_has_29_days(self):
        (leap,) = first_invoice_lines(terms(date(2028, 2, 15)))
        (common,) = first_invoice_lines(terms(date(2026, 2, 15)))
        # 2028: Feb 15..29 = 15 days of 29: 399.00 x 15/29 = 206.379.. -> 206.38
        assert (leap.amount, leap.days, leap.period_days) == (Decimal("206.38"), 15, 29)
        # 2026: Feb 15..28 = 14 days of 28: 399.00 x 14/28 = 199.50
        assert (common.amount, common.days, common.period_days) == (Decimal("199.50"), 14, 28)

    def test_activated_on_the_last_day_bills_one_day(self):
        (line,) = first_invoice_lines(terms(date(2026, 1, 31)))
        # 399.00 x 1/31 = 12.870.. -> 12.87
        assert (line.kind, line.amount, line.days, line.period_days) == (PRORATED, Decimal("12.87"), 1, 31)

    def test_no_start_fee_no_start_fee_line(self):
        assert [line.kind for line in first_invoice_lines(terms(date(2026, 2, 10)))] == [PRORATED]


class TestAnniversaryFirstInvoice:
    def test_one_whole_period_from_the_activation_day_without_proration(self):
        (line,) = first_invoice_lines(terms(date(2026, 1, 31), ANNIVERSARY))
        # Jan 31 .. Feb 27 (the next period starts Feb 28, the anchor clamped): a whole period, the rate
        assert summary([line]) == [(RECURRING, RATE, date(2026, 1, 31), date(2026, 2, 27), RATE, 1)]
        assert (line.days, line.period_days) == (28, 28)

    def test_the_next_periods_are_whole_and_follow_the_anchor(self):
        t = terms(date(2026, 1, 31), ANNIVERSARY)
        lines = bill_until(t, date(2026, 4, 1))
        assert summary(lines) == [
            (RECURRING, RATE, date(2026, 1, 31), date(2026, 2, 27), RATE, 1),
            (RECURRING, RATE, date(2026, 2, 28), date(2026, 3, 30), RATE, 1),
            (RECURRING, RATE, date(2026, 3, 31), date(2026, 4, 29), RATE, 1),
        ]


class TestMonthlyCycle:
    def test_each_following_month_is_billed_whole_on_the_first(self):
        t = terms(date(2026, 1, 20))
        lines = bill_until(t, date(2026, 3, 1))
        # Jan 20..31 = 12/31: 399.00 x 12/31 = 154.451.. -> 154.45; then February whole
        assert summary(lines) == [
            (PRORATED, Decimal("154.45"), date(2026, 1, 20), date(2026, 1, 31), RATE, 1),
            (RECURRING, RATE, date(2026, 2, 1), date(2026, 2, 28), RATE, 1),
        ]

    def test_period_lines_bill_one_fresh_period(self):
        t = terms(date(2026, 1, 20))
        assert summary(engine.period_lines(t, t.period_of(date(2026, 2, 1)))) == [
            (RECURRING, RATE, date(2026, 2, 1), date(2026, 2, 28), RATE, 1)
        ]


# --- promotions --------------------------------------------------------------------------------


class TestPromotions:
    def test_percent_off_is_its_own_line_prorated_like_the_charge(self):
        on = date(2026, 2, 10)
        lines = first_invoice_lines(terms(on, promotion=promotion(PERCENT_OFF, "50", on, 3)))
        # 50% of 399.00 = 199.50 a month; 19/28 of it = 135.375 -> 135.38 (half up)
        assert summary(lines) == [
            (PRORATED, Decimal("270.75"), on, date(2026, 2, 28), RATE, 1),
            (PROMOTION, Decimal("-135.38"), on, date(2026, 2, 28), Decimal("199.50"), 1),
        ]

    def test_amount_off_for_a_whole_month(self):
        on = date(2026, 3, 1)
        lines = first_invoice_lines(terms(on, promotion=promotion(AMOUNT_OFF, "100", on, 1)))
        assert amounts(lines) == [(RECURRING, RATE), (PROMOTION, Decimal("-100.00"))]

    def test_an_amount_off_larger_than_the_rate_gives_the_service_away_but_no_more(self):
        on = date(2026, 3, 1)
        lines = first_invoice_lines(terms(on, promotion=promotion(AMOUNT_OFF, "1000", on, 1)))
        assert amounts(lines) == [(RECURRING, RATE), (PROMOTION, -RATE)]

    def test_a_promotion_runs_n_months_from_activation_day_then_stops(self):
        on = date(2026, 1, 20)
        t = terms(on, promotion=promotion(AMOUNT_OFF, "100", on, 1))  # until Feb 20
        lines = bill_until(t, date(2026, 4, 1))
        assert summary(lines) == [
            # Jan 20..31: 399.00 x 12/31 = 154.45 and 100.00 x 12/31 = 38.709.. -> 38.71
            (PRORATED, Decimal("154.45"), on, date(2026, 1, 31), RATE, 1),
            (PROMOTION, Decimal("-38.71"), on, date(2026, 1, 31), Decimal("100"), 1),
            # February whole; the promotion Feb 1..19: 100.00 x 19/28 = 67.857.. -> 67.86
            (RECURRING, RATE, date(2026, 2, 1), date(2026, 2, 28), RATE, 1),
            (PROMOTION, Decimal("-67.86"), date(2026, 2, 1), date(2026, 2, 19), Decimal("100"), 1),
            # March: no promotion any more
            (RECURRING, RATE, date(2026, 3, 1), date(2026, 3, 31), RATE, 1),
        ]

    def test_free_months_on_the_anniversary_cycle(self):
        on = date(2026, 1, 31)
        t = terms(on, ANNIVERSARY, promotion=promotion(FREE_MONTHS, "2", on, 2))  # until Mar 31
        lines = bill_until(t, date(2026, 4, 1))
        assert amounts(lines) == [
            (RECURRING, RATE),
            (PROMOTION, -RATE),
            (RECURRING, RATE),
            (PROMOTION, -RATE),
            (RECURRING, RATE),
        ]
        assert total(lines) == RATE


# --- termination -------------------------------------------------------------------------------


class TestTermination:
    def test_mid_period_after_billing_credits_the_unused_days(self):
        t = terms(date(2026, 3, 1))
        billed = first_invoice_lines(t)
        lines = reconcile(replace(t, ends_on=date(2026, 3, 21)), billed, date(2026, 4, 1))
        # Mar 21..31 not used: 11 days of 31: 399.00 x 11/31 = 141.580.. -> 141.58
        assert summary(lines) == [(CREDIT, Decimal("-141.58"), date(2026, 3, 21), date(2026, 3, 31), RATE, -1)]
        assert (lines[0].days, lines[0].period_days) == (11, 31)
        # what stays billed is the 20 days used: 399.00 x 20/31 = 257.419.. -> 257.42
        assert total(billed + lines) == Decimal("257.42")

    def test_the_promotion_is_reversed_for_the_credited_days(self):
        on = date(2026, 3, 1)
        t = terms(on, promotion=promotion(PERCENT_OFF, "50", on, 3))
        billed = first_invoice_lines(t)
        lines = reconcile(replace(t, ends_on=date(2026, 3, 21)), billed, date(2026, 4, 1))
        # the credit 141.58 as above; the promotion on those days back: 199.50 x 11/31 = 70.790.. -> 70.79
        assert summary(lines) == [
            (CREDIT, Decimal("-141.58"), date(2026, 3, 21), date(2026, 3, 31), RATE, -1),
            (PROMOTION, Decimal("70.79"), date(2026, 3, 21), date(2026, 3, 31), Decimal("199.50"), -1),
        ]

    def test_on_the_activation_day_the_whole_first_charge_is_credited(self):
        on = date(2026, 2, 10)
        t = terms(on, start_fee=Decimal("500"))
        billed = first_invoice_lines(t)
        lines = reconcile(replace(t, ends_on=on), billed, t.first_period.end)
        assert summary(lines) == [(CREDIT, Decimal("-270.75"), on, date(2026, 2, 28), RATE, -1)]
        # the start fee is not a charge for days: it stays
        assert total(billed + lines) == Decimal("500.00")

    def test_on_the_activation_day_of_an_anniversary_subscription(self):
        on = date(2026, 1, 31)
        t = terms(on, ANNIVERSARY)
        billed = first_invoice_lines(t)
        lines = reconcile(replace(t, ends_on=on), billed, t.first_period.end)
        assert summary(lines) == [(CREDIT, -RATE, on, date(2026, 2, 27), RATE, -1)]

    def test_a_period_billed_ahead_and_no_longer_due_is_credited_whole(self):
        t = terms(date(2026, 3, 1))
        billed = bill_until(t, date(2026, 5, 1))  # March and April
        lines = reconcile(replace(t, ends_on=date(2026, 3, 21)), billed, date(2026, 4, 1))
        assert summary(lines) == [
            (CREDIT, Decimal("-141.58"), date(2026, 3, 21), date(2026, 3, 31), RATE, -1),
            (CREDIT, -RATE, date(2026, 4, 1), date(2026, 4, 30), RATE, -1),
        ]

    def test_at_the_end_of_a_billed_period_nothing_is_credited(self):
        t = terms(date(2026, 3, 1))
        billed = first_invoice_lines(t)
        assert reconcile(replace(t, ends_on=date(2026, 4, 1)), billed, date(2026, 4, 1)) == []

    def test_nothing_is_billed_after_the_deactivation_day(self):
        t = terms(date(2026, 3, 1), ends_on=date(2026, 4, 11))
        lines = bill_until(t, date(2026, 7, 1))
        # April 1..10: 399.00 x 10/30 = 133.00, then nothing
        assert amounts(lines) == [(RECURRING, RATE), (PRORATED, Decimal("133.00"))]

    def test_the_deactivation_day_cannot_precede_activation(self):
        with pytest.raises(ValueError, match="cannot end before"):
            terms(date(2026, 3, 1), ends_on=date(2026, 2, 28))


# --- pause -------------------------------------------------------------------------------------


class TestPause:
    def test_paused_days_are_credited(self):
        t = terms(date(2026, 3, 1))
        billed = first_invoice_lines(t)
        lines = reconcile(replace(t, pauses=((date(2026, 3, 11), None),)), billed, date(2026, 4, 1))
        # Mar 11..31: 21 days of 31: 399.00 x 21/31 = 270.290.. -> 270.29
        assert summary(lines) == [(CREDIT, Decimal("-270.29"), date(2026, 3, 11), date(2026, 3, 31), RATE, -1)]

    def test_resumed_mid_period_the_remaining_days_are_charged_again(self):
        t = terms(date(2026, 3, 1))
        billed = first_invoice_lines(t)
        billed += reconcile(replace(t, pauses=((date(2026, 3, 11), None),)), billed, date(2026, 4, 1))
        lines = reconcile(replace(t, pauses=((date(2026, 3, 11), date(2026, 3, 25)),)), billed, date(2026, 4, 1))
        # Mar 25..31: 7 days of 31: 399.00 x 7/31 = 90.096.. -> 90.10
        assert summary(lines) == [(PRORATED, Decimal("90.10"), date(2026, 3, 25), date(2026, 3, 31), RATE, 1)]

    def test_a_month_entirely_paused_is_not_billed_and_the_resumption_is_prorated(self):
        t = terms(date(2026, 3, 1))
        billed = first_invoice_lines(t)
        paused = replace(t, pauses=((date(2026, 3, 11), None),))
        billed += reconcile(paused, billed, date(2026, 4, 1))
        assert reconcile(paused, billed, date(2026, 5, 1)) == []  # April: nothing due
        resumed = replace(t, pauses=((date(2026, 3, 11), date(2026, 4, 15)),))
        lines = reconcile(resumed, billed, date(2026, 5, 1))
        # April 15..30: 16 days of 30: 399.00 x 16/30 = 212.80
        assert summary(lines) == [(PRORATED, Decimal("212.80"), date(2026, 4, 15), date(2026, 4, 30), RATE, 1)]


# --- plan change -------------------------------------------------------------------------------


class TestUpgrade:
    def test_mid_period_credits_the_old_rate_and_charges_the_new(self):
        t = terms(date(2026, 3, 1))
        billed = first_invoice_lines(t)
        upgraded = replace(t, rates=((date(2026, 3, 1), RATE), (date(2026, 3, 16), Decimal("499.00"))))
        lines = reconcile(upgraded, billed, date(2026, 4, 1))
        # Mar 16..31, 16 days of 31: 399.00 x 16/31 = 205.935.. -> 205.94 back, 499.00 x 16/31 = 257.548.. -> 257.55
        assert summary(lines) == [
            (CREDIT, Decimal("-205.94"), date(2026, 3, 16), date(2026, 3, 31), RATE, -1),
            (PRORATED, Decimal("257.55"), date(2026, 3, 16), date(2026, 3, 31), Decimal("499.00"), 1),
        ]

    def test_the_next_period_is_billed_whole_at_the_new_rate(self):
        t = terms(date(2026, 3, 1))
        upgraded = replace(t, rates=((date(2026, 3, 1), RATE), (date(2026, 3, 16), Decimal("499.00"))))
        billed = first_invoice_lines(t)
        billed += reconcile(upgraded, billed, date(2026, 4, 1))
        assert amounts(reconcile(upgraded, billed, date(2026, 5, 1))) == [(RECURRING, Decimal("499.00"))]

    def test_a_percent_promotion_follows_the_new_rate(self):
        on = date(2026, 3, 1)
        t = terms(on, promotion=promotion(PERCENT_OFF, "50", on, 3))
        billed = first_invoice_lines(t)
        upgraded = replace(t, rates=((on, RATE), (date(2026, 3, 16), Decimal("499.00"))))
        lines = reconcile(upgraded, billed, date(2026, 4, 1))
        # promotion 199.50 -> 249.50 a month on 16/31: 102.967.. -> 102.97 reversed, 128.774.. -> 128.77 granted
        assert amounts(lines) == [
            (CREDIT, Decimal("-205.94")),
            (PRORATED, Decimal("257.55")),
            (PROMOTION, Decimal("102.97")),
            (PROMOTION, Decimal("-128.77")),
        ]


# --- idempotency -------------------------------------------------------------------------------


class TestIdempotency:
    @pytest.mark.parametrize(
        "change",
        [
            {"ends_on": date(2026, 3, 21)},
            {"pauses": ((date(2026, 3, 11), date(2026, 3, 25)),)},
            {"rates": ((date(2026, 3, 1), RATE), (date(2026, 3, 16), Decimal("499.00")))},
            {},
        ],
        ids=["termination", "pause", "upgrade", "nothing"],
    )
    def test_reconcile_run_twice_returns_nothing_the_second_time(self, change):
        on = date(2026, 3, 1)
        t = terms(on, promotion=promotion(PERCENT_OFF, "25", on, 2))
        billed = bill_until(t, date(2026, 5, 1))
        changed = replace(t, **change)
        billed += reconcile(changed, billed, date(2026, 5, 1))
        assert reconcile(changed, billed, date(2026, 5, 1)) == []

    def test_lines_of_other_subscriptions_are_ignored(self):
        t = terms(date(2026, 3, 1))
        other = [replace(line, subscription_id=8) for line in first_invoice_lines(t)]
        assert amounts(reconcile(t, other, date(2026, 4, 1))) == [(RECURRING, RATE)]


# --- money -------------------------------------------------------------------------------------


class TestMoney:
    def test_a_part_is_rounded_half_up_per_line(self):
        # 0.05 x 1/2 = 0.025 -> 0.03 (half up, not half even)
        assert part_of(Decimal("0.05"), 1, 2) == Decimal("0.03")

    def test_a_whole_period_is_exactly_the_rate(self):
        assert part_of(Decimal("100.00"), 31, 31) == Decimal("100.00")


class TestTax:
    def test_exclusive_and_rounded_once_on_the_net(self):
        lines = [Line(kind=FEE, amount=Decimal("10.02")) for _ in range(3)]
        tax = tax_line(lines, Decimal("0.25"))
        # 30.06 x 25% = 7.515 -> 7.52 (per line it would be 3 x 2.51 = 7.53)
        assert (tax.kind, tax.amount) == (TAX, Decimal("7.52"))
        assert tax.description == "VAT 25% of 30.06"
        assert total([*lines, tax]) == Decimal("37.58")

    def test_a_late_fee_is_not_taxed(self):
        lines = [Line(kind=FEE, amount=Decimal("100.00")), Line(kind=LATE_FEE, amount=Decimal("60.00"))]
        assert tax_line(lines, Decimal("0.25")).amount == Decimal("25.00")

    def test_a_credit_note_carries_negative_tax(self):
        lines = [Line(kind=CREDIT, amount=Decimal("-141.58"))]
        # -141.58 x 25% = -35.395 -> -35.40 (half away from zero)
        assert tax_line(lines, Decimal("0.25")).amount == Decimal("-35.40")

    def test_no_tax_line_without_a_rate_or_a_net(self):
        assert tax_line([Line(kind=FEE, amount=Decimal("100.00"))], Decimal("0")) is None
        assert tax_line([Line(kind=LATE_FEE, amount=Decimal("60.00"))], Decimal("0.25")) is None
        assert tax_line([], Decimal("0.25")) is None


class TestLateFee:
    def test_fixed(self):
        assert late_fee(Decimal("399.00"), LateFeeRule("fixed", Decimal("60"))) == Decimal("60.00")

    def test_percent_of_the_open_amount_rounded_half_up(self):
        # 2% of 1234.56 = 24.6912 -> 24.69; 2% of 100.25 = 2.005 -> 2.01
        assert late_fee(Decimal("1234.56"), LateFeeRule("percent", Decimal("2"))) == Decimal("24.69")
        assert late_fee(Decimal("100.25"), LateFeeRule("percent", Decimal("2"))) == Decimal("2.01")

    def test_below_the_minimum_balance_no_fee(self):
        rule = LateFeeRule("fixed", Decimal("60"), minimum_balance=Decimal("100.00"))
        assert late_fee(Decimal("99.99"), rule) == Decimal("0.00")
        assert late_fee(Decimal("100.00"), rule) == Decimal("60.00")

    @pytest.mark.parametrize("open_amount", [Decimal("0.00"), Decimal("-10.00")])
    def test_nothing_open_no_fee(self, open_amount):
        assert late_fee(open_amount, LateFeeRule("fixed", Decimal("60"))) == Decimal("0.00")

    def test_no_rule_no_fee(self):
        assert late_fee(Decimal("399.00"), LateFeeRule("none", Decimal("60"))) == Decimal("0.00")
