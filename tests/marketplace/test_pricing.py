"""Money math of offers (hypothesis): discounts stay within the price, totals are the sum of their lines."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from marketplace.pricing import first_month_estimate, money, promotion_discount

amounts = st.decimals(min_value=Decimal("0"), max_value=Decimal("99999.99"), places=2)
percents = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100"), places=2)
rates = st.decimals(min_value=Decimal("0"), max_value=Decimal("0.3"), places=4)
kinds = st.sampled_from(["", "percent_off", "amount_off", "free_months"])


@given(monthly=amounts, percent=percents)
def test_percent_off_is_the_rounded_share_and_never_more_than_the_price(monthly, percent):
    discount = promotion_discount(monthly_amount=monthly, kind="percent_off", value=percent)
    assert discount == min(money(monthly * percent / 100), monthly)
    assert Decimal("0") <= discount <= monthly


@given(monthly=amounts, off=amounts)
def test_amount_off_is_capped_at_the_price(monthly, off):
    assert promotion_discount(monthly_amount=monthly, kind="amount_off", value=off) == min(off, monthly)


@given(monthly=amounts)
def test_a_free_month_costs_nothing(monthly):
    assert monthly - promotion_discount(monthly_amount=monthly, kind="free_months", value=None) == 0


@given(
    items=st.lists(
        st.fixed_dictionaries(
            {
                "name": st.text(min_size=1, max_size=10),
                "monthly_amount": amounts,
                "start_fee": amounts,
                "promotion_kind": kinds,
                "promotion_value": percents,
            }
        ),
        min_size=1,
        max_size=5,
    ),
    tax_rate=rates,
)
def test_first_month_total_is_the_sum_of_its_lines_plus_tax(items, tax_rate):
    estimate = first_month_estimate(items=items, tax_rate=tax_rate, currency="SEK")
    assert estimate.net == sum(line.amount for line in estimate.lines)
    assert estimate.tax == money(estimate.net * tax_rate)
    assert estimate.total == estimate.net + estimate.tax
    assert all(line.amount == money(line.amount) for line in estimate.lines)
    assert estimate.net >= sum(money(i["start_fee"]) for i in items)
