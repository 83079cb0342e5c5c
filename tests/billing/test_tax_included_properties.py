"""Prices that include tax add up exactly (hypothesis): every invoice line's net plus its tax is the gross price it
shows, to the cent; an invoice's net plus its tax is its total, the sum of the gross prices shown, for drafts built
from the engine's lines (promotions, start fees, prorated first invoices, credits) and for the cycle run's rows."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import engine
from billing.choices import InvoiceKind, InvoiceReason
from billing.models import BillingSchedule, Invoice, InvoiceLine
from billing.runs import billing_chunk
from billing.selectors import billed_lines, terms_for
from billing.services import draft_amounts
from marketplace.choices import BillingCycle, PromotionKind
from marketplace.models import Marketplace, Price
from marketplace.pricing import tax_included
from tests.billing.factories import activate, subscription
from tests.marketplace.factories import world

ZERO = Decimal("0.00")

cents = st.integers(min_value=-9_999_999, max_value=9_999_999).map(lambda n: Decimal(n) / 100)
prices = st.integers(min_value=1, max_value=999_999).map(lambda n: Decimal(n) / 100)
fees = st.integers(min_value=0, max_value=500_000).map(lambda n: Decimal(n) / 100)
# the Nordic rates, none, and any rate a marketplace may set (0..100 %, four places)
rates = st.one_of(
    st.sampled_from([Decimal("0"), Decimal("0.06"), Decimal("0.12"), Decimal("0.25")]),
    st.integers(min_value=0, max_value=10_000).map(lambda n: Decimal(n) / 10_000),
)
kinds = st.sampled_from(
    [
        engine.RECURRING,
        engine.PRORATED,
        engine.START_FEE,
        engine.PROMOTION,
        engine.CREDIT,
        engine.FEE,
        engine.ADJUSTMENT,
        engine.LATE_FEE,
    ]
)
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))
promotions = st.one_of(
    st.none(),
    st.tuples(st.just(engine.PERCENT_OFF), st.integers(1, 100).map(Decimal), st.integers(1, 12)),
    st.tuples(st.just(engine.AMOUNT_OFF), prices, st.integers(1, 12)),
    st.tuples(st.just(engine.FREE_MONTHS), st.integers(1, 3).map(Decimal), st.integers(1, 3)),
)


def _adds_up(stated: list[engine.Line], rate: Decimal) -> None:
    """The draft of `stated` (gross prices) when prices include tax: each line splits into a net and a tax that add
    back to its gross, untaxed lines carry no tax, and the invoice's figures are the sums of its lines'."""
    amounts = draft_amounts(stated, rate, prices_include_tax=True)
    lines = [line for line in amounts.lines if line.kind != engine.TAX]
    taxes = [line for line in amounts.lines if line.kind == engine.TAX]
    assert len(lines) == len(stated)
    for gross, line in zip(stated, lines, strict=True):
        assert line.amount + line.tax == gross.amount
        assert line.amount == line.amount.quantize(Decimal("0.01"))
        assert line.tax == line.tax.quantize(Decimal("0.01"))
        if gross.kind in engine.UNTAXED or not rate:
            assert line.tax == ZERO
        else:
            assert line.tax == tax_included(gross.amount, rate)
            assert abs(line.tax) <= abs(gross.amount)
    shown = sum((line.amount for line in stated), ZERO)
    assert amounts.subtotal == sum((line.amount for line in lines), ZERO)
    assert amounts.tax == sum((line.tax for line in lines), ZERO) == sum((t.amount for t in taxes), ZERO)
    assert amounts.subtotal + amounts.tax == amounts.total == shown
    assert engine.total(amounts.lines) == amounts.total  # the rows as stored add up to the total too
    assert len(taxes) == (1 if amounts.tax else 0)
    assert (amounts.kind == InvoiceKind.CREDIT_NOTE) == (amounts.total < 0)  # what the customer is to get back


@given(st.lists(st.tuples(kinds, cents), min_size=1, max_size=12), rates)
def test_every_line_splits_into_a_net_and_a_tax_that_add_back_to_its_gross_price(lines, rate):
    _adds_up([engine.Line(kind=kind, amount=amount) for kind, amount in lines], rate)


@given(st.lists(st.tuples(kinds, cents), min_size=1, max_size=12), rates)
def test_prices_without_tax_keep_the_tax_reckoned_once_on_the_net(lines, rate):
    # the business way is today's: net lines without tax of their own, the tax rounded once on their net
    stated = [engine.Line(kind=kind, amount=amount) for kind, amount in lines]
    amounts = draft_amounts(stated, rate)
    net = sum((line.amount for line in stated if line.kind not in engine.UNTAXED), ZERO)
    assert [line for line in amounts.lines if line.kind != engine.TAX] == stated
    assert amounts.tax == engine.money(net * rate)
    assert amounts.total == sum((line.amount for line in stated), ZERO) + amounts.tax


@settings(max_examples=300)
@given(
    activated_on=days,
    rate=prices,
    start_fee=fees,
    promotion=promotions,
    cycle=st.sampled_from([BillingCycle.MONTHLY, BillingCycle.ANNIVERSARY]),
    ended_after=st.one_of(st.none(), st.integers(min_value=0, max_value=40)),
    tax_rate=rates,
)
def test_first_invoices_and_their_credits_add_up_to_the_cent(
    activated_on, rate, start_fee, promotion, cycle, ended_after, tax_rate
):
    # given: a subscription's terms, any price, start fee, promotion and activation day (prorated or whole)
    if promotion is not None:
        kind, value, periods = promotion
        promotion = engine.Promotion(kind, value, engine.add_months(activated_on, periods))
    terms = engine.Terms(
        subscription_id=1,
        cycle=cycle,
        activated_on=activated_on,
        rates=((activated_on, rate),),
        start_fee=start_fee,
        promotion=promotion,
        description="Fiber",
    )
    # when: its first invoice, and the credits of an ending within the period billed
    first = engine.first_invoice_lines(terms)
    # then
    _adds_up(first, tax_rate)
    if ended_after is not None:
        ended = replace(terms, ends_on=activated_on + timedelta(days=ended_after))
        credits = engine.reconcile(ended, first, terms.first_period.end)
        if credits:
            assert all(line.coverage < 0 for line in credits)
            _adds_up(credits, tax_rate)


# --- the cycle run's rows ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_cycle_runs_rows_add_up_to_the_cent():
    """The run writes invoices and lines as rows (COPY on PostgreSQL): on a marketplace whose prices include tax,
    every line row's net plus tax is the gross price the engine priced, and each invoice row's net plus tax is its
    total, the sum of its lines' gross prices."""

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        monthly=prices,
        start_fee=fees,
        promotion=st.one_of(
            st.none(),
            st.tuples(st.just(PromotionKind.PERCENT_OFF), st.integers(1, 100).map(Decimal), st.integers(1, 3)),
            st.tuples(st.just(PromotionKind.AMOUNT_OFF), prices, st.integers(1, 3)),
            st.tuples(st.just(PromotionKind.FREE_MONTHS), st.none(), st.integers(1, 2)),
        ),
        activated_on=st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 2, 28)),
        tax_rate=st.sampled_from([Decimal("0.0600"), Decimal("0.1200"), Decimal("0.2500"), Decimal("0.1975")]),
        cycle=st.sampled_from([BillingCycle.MONTHLY, BillingCycle.ANNIVERSARY]),
    )
    def check(monthly, start_fee, promotion, activated_on, tax_rate, cycle):
        with transaction.atomic():
            # given: internet and TV on a consumer marketplace at these prices, activated in January or February
            w = world()
            Marketplace.objects.filter(pk=w.marketplace.pk).update(prices_include_tax=True, tax_rate=tax_rate)
            Price.objects.filter(pk=w.internet_price.pk).update(monthly_amount=monthly, start_fee=start_fee)
            terms = {"billing_cycle": cycle}
            if promotion is not None:
                kind, value, periods = promotion
                terms |= {"promotion_kind": kind, "promotion_value": value, "promotion_periods": periods}
            internet = subscription(w, **terms)
            first = activate(internet, activated_on)
            schedule = BillingSchedule.objects.get(subscription=internet)
            expected, _ = engine.due_lines(terms_for(schedule), schedule.billed_until, date(2026, 4, 1))
            # when: the run bills what is due up to 1 April
            billing_chunk(run_id=None, account_ids=[schedule.account_id], as_of=date(2026, 4, 1))
            # then: the first invoice and the run's invoice add up, line by line and in total
            cycle_invoice = Invoice.objects.filter(account_id=schedule.account_id, reason=InvoiceReason.CYCLE).first()
            for invoice in filter(None, (first, cycle_invoice)):
                invoice.refresh_from_db()
                lines = list(invoice.lines.all())
                shown = [line for line in lines if line.kind != engine.TAX]
                assert (invoice.prices_include_tax, invoice.tax_rate) == (True, tax_rate)
                for line in shown:  # the gross shown, split by the one rule
                    assert line.tax == tax_included(line.shown_amount, tax_rate)
                assert invoice.subtotal == sum((line.amount for line in shown), ZERO)
                assert invoice.tax == sum((line.tax for line in shown), ZERO)
                assert (
                    invoice.subtotal + invoice.tax == invoice.total == sum((line.shown_amount for line in shown), ZERO)
                )
                assert sum((line.amount for line in lines), ZERO) == invoice.total
            # and the run's rows show exactly the gross prices the engine gave
            if cycle_invoice is not None:
                assert [line.shown_amount for line in cycle_invoice.lines.exclude(kind=engine.TAX).order_by("pk")] == [
                    line.amount for line in expected
                ]
            else:
                assert not expected
            assert billed_lines(internet.pk)  # billed at all
            transaction.set_rollback(True)

    check()


@pytest.mark.django_db
def test_a_run_line_row_keeps_its_tax_column():
    # given: a consumer's subscription activated mid-February at 349.00 incl. 25 % VAT
    w = world()
    Marketplace.objects.filter(pk=w.marketplace.pk).update(prices_include_tax=True)
    Price.objects.filter(pk=w.internet_price.pk).update(monthly_amount=Decimal("349.00"), start_fee=ZERO)
    sub = subscription(w)
    activate(sub, date(2026, 2, 10))
    account_id = BillingSchedule.objects.get(subscription=sub).account_id
    # when: March is billed by the run
    billing_chunk(run_id=None, account_ids=[account_id], as_of=date(2026, 3, 1))
    # then: the March line's row shows 349.00, of which 69.80 VAT, and so does the invoice
    invoice = Invoice.objects.get(reason=InvoiceReason.CYCLE)
    line = InvoiceLine.objects.get(invoice=invoice, kind=engine.RECURRING)
    assert (line.amount, line.tax, line.shown_amount) == (Decimal("279.20"), Decimal("69.80"), Decimal("349.00"))
    assert (invoice.subtotal, invoice.tax, invoice.total) == (Decimal("279.20"), Decimal("69.80"), Decimal("349.00"))
    assert invoice.lines.get(kind=engine.TAX).description == "of which VAT 25 %: 69.80"
