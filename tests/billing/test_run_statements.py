"""What keeps the billing run fast: a chunk runs a fixed number of SQL statements whatever its size (rows are read
and written set-wise, never one statement per account, schedule or line), and the run walks the due accounts a
chunk at a time."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import changes
from billing.choices import RunStatus
from billing.models import BillingRun, Invoice, InvoiceLine
from billing.runs import billing_chunk, billing_run, due_account_chunks, due_account_ids
from marketplace.choices import BillingCycle, PromotionKind
from tests.billing.factories import activate, at, subscription, subscriptions
from tests.marketplace.factories import world

pytestmark = pytest.mark.django_db

APRIL = date(2026, 4, 1)
TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT")


def _accounts(count: int) -> list[int]:
    """`count` due accounts of every kind: one in three with internet and TV, promotions, the anniversary cycle, a
    plan change and a pause inside April."""
    before = set(due_account_ids(APRIL))
    for n in range(count):
        if n % 3 == 0:
            w = world()
            for sub in subscriptions(w, w.internet, w.tv):
                activate(sub, date(2026, 3, 10))
            continue
        fields = {}
        if n % 3 == 1:
            fields = {
                "promotion_kind": PromotionKind.PERCENT_OFF,
                "promotion_value": Decimal("50"),
                "promotion_periods": 2,
            }
        if n % 5 == 0:
            fields["billing_cycle"] = BillingCycle.ANNIVERSARY
        sub = subscription(**fields)
        activate(sub, date(2026, 2 if n % 5 == 0 else 3, 1 + n % 28))  # anniversaries come due in March
        if n % 7 == 2:
            changes.rate_change_apply(
                subscription_id=sub.pk, at=at(date(2026, 4, 12)), monthly_amount="499.00", product_id=sub.product_id
            )
        if n % 7 == 4:
            changes.pause_start(subscription_id=sub.pk, at=at(date(2026, 4, 20)))
    return sorted(set(due_account_ids(APRIL)) - before)


def _statements_of_a_chunk(accounts: list[int], run: BillingRun) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        invoices, lines = billing_chunk(run_id=run.pk, account_ids=accounts, as_of=APRIL)
    assert invoices == len(accounts)
    assert lines > 2 * invoices  # a tax line on each, promotions, TV beside internet
    return [query["sql"] for query in captured.captured_queries if not query["sql"].startswith(TRANSACTION_CONTROL)]


def test_a_chunk_runs_the_same_statements_for_10_accounts_as_for_50():
    # given: 10 due accounts, then 50 more of the same kinds
    small, large = _accounts(10), _accounts(50)
    run = BillingRun.objects.create(as_of=APRIL, chunks=3)  # neither chunk is the last: none finishes the run
    # when
    for_small = _statements_of_a_chunk(small, run)
    for_large = _statements_of_a_chunk(large, run)
    # then: as many statements for 5 times the accounts, and few of them
    assert len(for_small) == len(for_large), "\n".join(for_large)
    assert len(for_large) <= 15, "\n".join(for_large)
    assert Invoice.objects.filter(run=run).count() == 60
    assert InvoiceLine.objects.filter(invoice__run=run, kind="tax").count() == 60
    run.refresh_from_db()
    assert (run.chunks_done, run.invoices) == (2, 60)


def test_the_due_accounts_are_walked_a_chunk_at_a_time(django_capture_on_commit_callbacks):
    # given: seven due accounts
    accounts = _accounts(7)
    # when: walked in chunks of three
    with CaptureQueriesContext(connection) as captured:
        chunks = list(due_account_chunks(APRIL, 3))
    # then: one query per chunk, each after the last account of the one before; together, every due account once
    assert chunks == [accounts[:3], accounts[3:6], accounts[6:]]
    assert len(captured) == 3
    # and a run over them bills each once, chunk by chunk
    with django_capture_on_commit_callbacks(execute=True):
        run = billing_run(as_of=APRIL, chunk_size=3)
    run.refresh_from_db()
    assert (run.status, run.chunks, run.chunks_done, run.invoices) == (RunStatus.DONE, 3, 3, 7)
    assert due_account_ids(APRIL) == []


def test_a_dispatched_chunk_is_read_again_from_its_key_range():
    # given: six due accounts in chunks of four; one of the second chunk is billed while the first is (another run
    # got there first)
    accounts = _accounts(6)
    calls = []

    def dispatch(run_id, account_ids, as_of):
        if not calls:
            billing_chunk(run_id=None, account_ids=[accounts[4]], as_of=as_of)
        calls.append(account_ids)
        billing_chunk(run_id=run_id, account_ids=account_ids, as_of=as_of)

    # when
    run = billing_run(as_of=APRIL, chunk_size=4, dispatch=dispatch)
    # then: each chunk is what is still due in its range; the run completes, every account billed once
    assert calls == [accounts[:4], accounts[5:]]
    assert (run.status, run.chunks, run.chunks_done, run.invoices) == (RunStatus.DONE, 2, 2, 5)
    assert Invoice.objects.filter(account_id__in=accounts, reason="cycle").count() == 6
    assert due_account_ids(APRIL) == []
