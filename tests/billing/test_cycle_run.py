"""The billing cycle: due periods billed once, one invoice per account, chunks, reruns and interruptions."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from billing.choices import InvoiceReason, InvoiceStatus, LineKind, RunStatus
from billing.models import BillingRun, BillingSchedule, Invoice, InvoiceLine
from billing.runs import billing_chunk, billing_run, due_account_ids
from marketplace.choices import BillingCycle
from tests.billing.factories import activate, subscription, subscriptions
from tests.marketplace.factories import world

pytestmark = pytest.mark.django_db


def _cycle_invoices():
    return Invoice.objects.filter(reason=InvoiceReason.CYCLE)


def _in_process(calls):
    def dispatch(run_id, account_ids, as_of):
        calls.append(account_ids)
        billing_chunk(run_id=run_id, account_ids=account_ids, as_of=as_of)

    return dispatch


def test_the_run_on_the_first_bills_every_live_subscription_for_the_month_once(django_capture_on_commit_callbacks):
    # given: three subscribers activated in March, one of them with two subscriptions on one account
    w = world()
    first, second = subscriptions(w, w.internet, w.tv)  # same customer, same provider: one account
    subs = [subscription(), subscription(), first]
    for sub in [*subs, second]:
        activate(sub, date(2026, 3, 15))
    # when
    with django_capture_on_commit_callbacks(execute=True):
        run = billing_run(as_of=date(2026, 4, 1), chunk_size=2)
    # then: April at the full rate for each, one invoice per account, the run is done
    run.refresh_from_db()
    assert (run.status, run.chunks, run.chunks_done, run.invoices, run.lines) == (RunStatus.DONE, 2, 2, 3, 7)
    april = InvoiceLine.objects.filter(period_start=date(2026, 4, 1), kind=LineKind.RECURRING)
    assert sorted(line.subscription_id for line in april) == sorted(s.pk for s in [*subs, second])
    assert sorted(line.amount for line in april) == [Decimal("199.00")] + [Decimal("399.00")] * 3
    assert _cycle_invoices().filter(status=InvoiceStatus.OPEN).count() == 3
    assert all(i.total == sum(line.amount for line in i.lines.all()) for i in _cycle_invoices())


def test_a_rerun_bills_nothing_twice():
    sub = subscription()
    activate(sub, date(2026, 3, 15))
    billing_run(as_of=date(2026, 4, 1), dispatch=_in_process([]))
    billing_run(as_of=date(2026, 4, 1), dispatch=_in_process([]))
    assert _cycle_invoices().count() == 1
    assert BillingRun.objects.count() == 2


def test_an_interrupted_run_restarted_bills_the_rest_exactly_once():
    # given: four accounts; the run died after its first chunk
    subs = [subscription() for _ in range(4)]
    for sub in subs:
        activate(sub, date(2026, 3, 15))
    accounts = due_account_ids(date(2026, 4, 1))
    billing_chunk(run_id=None, account_ids=accounts[:2], as_of=date(2026, 4, 1))
    # when: the run is started again
    calls = []
    billing_run(as_of=date(2026, 4, 1), dispatch=_in_process(calls))
    # then: only the two accounts left are billed, and every subscription has April once
    assert calls == [accounts[2:]]
    for sub in subs:
        assert InvoiceLine.objects.filter(subscription=sub, period_start=date(2026, 4, 1)).count() == 1


def test_a_run_that_was_not_run_for_months_bills_each_missed_month():
    sub = subscription()
    activate(sub, date(2026, 3, 15))
    billing_run(as_of=date(2026, 6, 1), dispatch=_in_process([]))
    months = InvoiceLine.objects.filter(subscription=sub, kind=LineKind.RECURRING).values_list(
        "period_start", flat=True
    )
    assert sorted(months) == [date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)]


def test_anniversary_subscriptions_are_billed_on_their_day_clamped_to_the_month_end():
    sub = subscription(billing_cycle=BillingCycle.ANNIVERSARY)
    activate(sub, date(2026, 1, 31))
    assert due_account_ids(date(2026, 2, 27)) == []
    billing_run(as_of=date(2026, 2, 28), dispatch=_in_process([]))
    line = InvoiceLine.objects.get(subscription=sub, kind=LineKind.RECURRING, period_start=date(2026, 2, 28))
    assert (line.period_end, line.amount) == (date(2026, 3, 30), Decimal("399.00"))
    assert BillingSchedule.objects.get(subscription=sub).billed_until == date(2026, 3, 31)


def test_paused_days_in_a_new_period_are_not_billed():
    from billing import changes

    sub = subscription()
    activate(sub, date(2026, 3, 1))
    changes.pause_start(subscription_id=sub.pk, at=date(2026, 3, 20))
    billing_run(as_of=date(2026, 4, 1), dispatch=_in_process([]))
    assert not InvoiceLine.objects.filter(subscription=sub, period_start__gte=date(2026, 4, 1)).exists()
    # resuming on 10 April bills 10..30 April
    changes.pause_end(subscription_id=sub.pk, at=date(2026, 4, 10))
    line = InvoiceLine.objects.get(subscription=sub, period_start=date(2026, 4, 10))
    assert (line.period_end, line.amount) == (date(2026, 4, 30), Decimal("279.30"))  # 399 x 21 / 30


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_the_same_chunk_bill_it_once():
    # given: the same chunk delivered to two workers at once
    subs = [subscription() for _ in range(6)]
    for sub in subs:
        activate(sub, date(2026, 3, 15))
    accounts = due_account_ids(date(2026, 4, 1))
    barrier = threading.Barrier(2)
    results = []

    def work():
        try:
            barrier.wait()
            results.append(billing_chunk(run_id=None, account_ids=accounts, as_of=date(2026, 4, 1)))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then: each subscription's April is billed once, whichever worker took which
    assert sum(invoices for invoices, _ in results) == 6
    for sub in subs:
        assert InvoiceLine.objects.filter(subscription=sub, period_start=date(2026, 4, 1)).count() == 1
