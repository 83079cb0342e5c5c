"""`manage.py run_billing`: a dry run that only shows, a real run that bills each due period once, clear errors."""

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, execute_from_command_line

from billing.choices import InvoiceReason, InvoiceStatus, LineKind, RunStatus
from billing.models import BillingRun, BillingSchedule, Invoice, InvoiceLine
from tests.billing.factories import activate, rules, subscription

ACTIVATED_ON = date(2026, 2, 10)
BILLING_DAY = "2026-03-01"


def _run(*args) -> str:
    out = StringIO()
    call_command("run_billing", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _written() -> tuple[int, int, int, list]:
    return (
        Invoice.objects.count(),
        InvoiceLine.objects.count(),
        BillingRun.objects.count(),
        list(BillingSchedule.objects.order_by("pk").values_list("billed_until", flat=True)),
    )


@pytest.mark.django_db
def test_dry_run_prints_what_would_be_billed_and_writes_nothing():
    # given: a subscription billed through February
    sub = subscription()
    activate(sub, ACTIVATED_ON)
    before = _written()
    # when
    output = _run("--date", BILLING_DAY, "--dry-run")
    # then: March at 399.00, VAT 99.75, 498.75 in all, shown per customer
    assert _written() == before
    assert str(sub.customer) in output
    assert "Fiber 1000 2026-03-01 to 2026-03-31" in output
    assert "399.00" in output
    assert "99.75" in output
    assert "Would bill 1 invoice(s) with 2 line(s) for 2026-03-01: 498.75 SEK." in output


@pytest.mark.django_db
def test_dry_run_with_nothing_due():
    activate(subscription(), ACTIVATED_ON)
    output = _run("--date", "2026-02-20", "--dry-run")
    assert "Would bill 0 invoice(s) with 0 line(s) for 2026-02-20: nothing." in output


@pytest.mark.django_db
def test_a_run_bills_the_due_period_once_and_a_second_run_bills_nothing(django_capture_on_commit_callbacks):
    # given
    first = activate(subscription(), ACTIVATED_ON)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        output = _run("--date", BILLING_DAY)
    # then: one cycle invoice for March, finalized and numbered
    cycle = Invoice.objects.get(reason=InvoiceReason.CYCLE)
    assert cycle.account == first.account
    assert cycle.status == InvoiceStatus.OPEN
    assert cycle.number.startswith("INV-")
    assert cycle.total == Decimal("498.75")
    line = cycle.lines.get(kind=LineKind.RECURRING)
    assert (line.period_start, line.period_end, line.amount) == (date(2026, 3, 1), date(2026, 3, 31), Decimal("399.00"))
    assert "1 invoice(s) with 2 line(s)" in output
    assert "1 issued, 0 in review" in output
    run = BillingRun.objects.get()
    assert (run.status, run.invoices, run.lines) == (RunStatus.DONE, 1, 2)
    # when: the same day again
    with django_capture_on_commit_callbacks(execute=True):
        again = _run("--date", BILLING_DAY)
    # then: nothing more
    assert Invoice.objects.filter(reason=InvoiceReason.CYCLE).count() == 1
    assert "0 invoice(s) with 0 line(s)" in again


@pytest.mark.django_db
def test_invoices_of_a_run_stay_drafts_while_the_rules_ask_for_a_review():
    sub = subscription()
    activate(sub, ACTIVATED_ON)
    rules(sub.marketplace, review_minutes=60)
    output = _run("--date", BILLING_DAY)
    cycle = Invoice.objects.get(reason=InvoiceReason.CYCLE)
    assert (cycle.status, cycle.number) == (InvoiceStatus.DRAFT, "")
    assert "0 issued, 1 in review" in output


@pytest.mark.django_db
def test_a_run_in_small_chunks_bills_every_account():
    # given: three customers
    for _ in range(3):
        activate(subscription(), ACTIVATED_ON)
    # when: one account per chunk
    output = _run("--date", BILLING_DAY, "--chunk-size", "1")
    # then
    assert Invoice.objects.filter(reason=InvoiceReason.CYCLE).count() == 3
    assert BillingRun.objects.get().chunks == 3
    assert "3 invoice(s) with 6 line(s) in 3 chunk(s)" in output


@pytest.mark.django_db
def test_a_run_catches_up_every_month_not_yet_billed():
    activate(subscription(), ACTIVATED_ON)
    _run("--date", "2026-05-15")
    cycle = Invoice.objects.get(reason=InvoiceReason.CYCLE)
    months = sorted(cycle.lines.filter(kind=LineKind.RECURRING).values_list("period_start", flat=True))
    assert months == [date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)]


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "01/03/2026"])
def test_a_bad_date_is_a_clear_error(bad):
    with pytest.raises(CommandError) as refused:
        call_command("run_billing", "--date", bad, "--dry-run")
    assert "--date must be a day written YYYY-MM-DD" in str(refused.value)
    assert bad in str(refused.value)


def test_a_bad_date_exits_with_a_non_zero_code(capsys):
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "run_billing", "--date", "2026-02-30"])
    assert exited.value.code != 0
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_a_chunk_size_below_one_is_refused():
    with pytest.raises(CommandError, match="--chunk-size must be at least 1"):
        call_command("run_billing", "--date", BILLING_DAY, "--chunk-size", "0")
