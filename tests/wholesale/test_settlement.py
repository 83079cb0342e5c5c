"""Settlement statements from the ledger: days at the card in force each day, fees, suspended days, the three
billing models, re-runs, and the month-end entry points."""

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from billing.engine import part_of
from billing.payments import payment_record
from cos.models import ProviderNotification
from marketplace.choices import SettlementModel
from marketplace.models import Participation
from provisioning.choices import PeriodCause
from tests.billing.factories import activate, at
from tests.cos.factories import AreaFactory, OrganizationFactory
from tests.marketplace.factories import world
from tests.wholesale.factories import card, local, operator, service_with_periods
from wholesale.choices import LineKind, StatementStatus
from wholesale.models import RateCard, Statement, StatementLine
from wholesale.rates import RateInput
from wholesale.services import statement_issue
from wholesale.settlement import settlement_run
from wholesale.tasks import settlement_month_end_task

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)


def _lines(statement, kind=LineKind.ACCESS):
    return list(statement.lines.filter(kind=kind).order_by("first_day", "pk"))


def test_a_service_live_part_of_the_month_is_charged_its_days_as_the_retail_engine_prorates():
    # given: a default card at 300 a month; a service live from 20 October to 16 November
    w = world()
    card(monthly="300.00")
    service_with_periods(w, [(local(date(2026, 10, 20)), local(date(2026, 11, 16)), None, None)])
    # when
    (october,) = settlement_run(month="2026-10").statements
    (november,) = settlement_run(month="2026-11").statements
    # then: 12 days of October (the 20th included), 15 of November (the 16th, the day it ended, not)
    (oct_line,) = _lines(october)
    (nov_line,) = _lines(november)
    assert (oct_line.first_day, oct_line.until, oct_line.days, oct_line.month_days) == (
        date(2026, 10, 20),
        date(2026, 11, 1),
        12,
        31,
    )
    assert oct_line.amount == part_of(Decimal("300.00"), 12, 31) == Decimal("116.13")
    assert (nov_line.days, nov_line.amount) == (15, Decimal("150.00"))
    assert october.subtotal == Decimal("116.13")
    assert november.subtotal == Decimal("150.00")


def test_a_whole_month_costs_the_monthly_rate_and_vat_is_added_on_the_net():
    w = world()
    card(monthly="249.99")
    service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    (statement,) = settlement_run(month="2026-11").statements
    assert (statement.subtotal, statement.tax_rate, statement.tax, statement.total) == (
        Decimal("249.99"),
        Decimal("0.2500"),
        Decimal("62.50"),
        Decimal("312.49"),
    )


def test_a_provider_abroad_pays_no_vat_on_the_statement():
    w = world()
    w.provider.country = "NO"
    w.provider.save(update_fields=["country"])
    card(monthly="100.00")
    service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    (statement,) = settlement_run(month="2026-11").statements
    assert (statement.tax, statement.total) == (Decimal("0.00"), Decimal("100.00"))


def test_a_rate_change_mid_month_splits_the_days_between_the_two_versions():
    # given: 300 a month, 450 from 11 November (a new version of the default card)
    w = world()
    card(monthly="300.00")
    card(monthly="450.00", valid_from=date(2026, 11, 11))
    service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    # when
    (statement,) = settlement_run(month="2026-11").statements
    # then: 10 days at 300 and 20 at 450, each prorated like retail
    first, second = _lines(statement)
    assert [(x.first_day, x.until, x.days, x.unit_rate) for x in (first, second)] == [
        (date(2026, 11, 1), date(2026, 11, 11), 10, Decimal("300.00")),
        (date(2026, 11, 11), date(2026, 12, 1), 20, Decimal("450.00")),
    ]
    assert statement.subtotal == Decimal("100.00") + Decimal("300.00")
    assert RateCard.objects.order_by("version").values_list("version", "valid_to").first() == (1, date(2026, 11, 11))


def test_the_most_specific_card_applies_the_providers_own_over_the_default_and_an_areas_over_both():
    # given: a default card, the provider's own, and the provider's for one area
    w = world()
    other_area = AreaFactory()
    w.marketplace.areas.add(other_area)
    card(monthly="100.00")
    card(w.provider, monthly="200.00")
    card(w.provider, monthly="50.00", area=other_area)
    here = service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    from tests.cos.factories import AddressFactory

    there = service_with_periods(
        w,
        [(local(date(2026, 10, 1)), None, None, None)],
        address=AddressFactory(area=other_area, status=w.address.status),
    )
    # when
    (statement,) = settlement_run(month="2026-11").statements
    # then
    rates = {line.service_id: line.unit_rate for line in _lines(statement)}
    assert rates == {here.pk: Decimal("200.00"), there.pk: Decimal("50.00")}


def test_a_profile_rate_beats_the_categorys_any_profile_rate():
    w = world()
    card(
        rates=[
            RateInput("internet", Decimal("100.00")),
            RateInput("internet", Decimal("180.00"), profile="HSI_1000_1000"),
        ]
    )
    gigabit = service_with_periods(w, [(local(date(2026, 10, 1)), None, None, "HSI_1000_1000")])
    slower = service_with_periods(w, [(local(date(2026, 10, 1)), None, None, "HSI_250_250")])
    (statement,) = settlement_run(month="2026-11").statements
    assert {x.service_id: x.unit_rate for x in _lines(statement)} == {
        gigabit.pk: Decimal("180.00"),
        slower.pk: Decimal("100.00"),
    }


def test_suspended_days_are_charged_at_the_suspended_rate_and_an_activation_once():
    # given: activated on 5 November (fee 500), suspended from the 20th
    w = world()
    card(monthly="300.00", fee="500.00", suspended="30.00")
    service_with_periods(
        w,
        [
            (local(date(2026, 11, 5)), local(date(2026, 11, 20)), PeriodCause.ACTIVATE, None),
            (local(date(2026, 11, 20)), None, PeriodCause.SUSPEND, None),
        ],
    )
    # when: November, then December
    (november,) = settlement_run(month="2026-11").statements
    (december,) = settlement_run(month="2026-12").statements
    # then: 15 days live, 11 suspended, the fee in November only
    (live,) = _lines(november)
    (suspended,) = _lines(november, LineKind.SUSPENDED)
    (fee,) = _lines(november, LineKind.ACTIVATION)
    assert (live.days, live.amount) == (15, Decimal("150.00"))
    assert (suspended.days, suspended.amount) == (11, Decimal("11.00"))
    assert (fee.first_day, fee.amount) == (date(2026, 11, 5), Decimal("500.00"))
    assert not _lines(december, LineKind.ACTIVATION)
    assert [(x.days, x.amount) for x in _lines(december, LineKind.SUSPENDED)] == [(31, Decimal("30.00"))]


def test_network_access_only_charges_the_days_of_access_and_no_fee():
    w = world()
    Participation.objects.filter(pk=w.participation.pk).update(settlement_model=SettlementModel.ACCESS_ONLY)
    card(monthly="300.00", fee="500.00", suspended="30.00")
    service_with_periods(
        w,
        [
            (local(date(2026, 11, 5)), local(date(2026, 11, 20)), PeriodCause.ACTIVATE, None),
            (local(date(2026, 11, 20)), None, PeriodCause.SUSPEND, None),
        ],
    )
    (statement,) = settlement_run(month="2026-11").statements
    assert not _lines(statement, LineKind.ACTIVATION)
    assert [x.amount for x in _lines(statement, LineKind.SUSPENDED)] == [Decimal("0.00")]
    assert statement.subtotal == Decimal("150.00")
    assert statement.payout is None


def test_a_revenue_share_pays_out_what_subscribers_paid_less_the_wholesale_charges():
    # given: the provider's subscriber pays its first invoice in November; the operator collects for it
    w = world()
    Participation.objects.filter(pk=w.participation.pk).update(settlement_model=SettlementModel.REVENUE_SHARE)
    card(monthly="200.00")
    service = service_with_periods(w, [(local(date(2026, 11, 1)), None, None, None)])
    with time_machine.travel(at(date(2026, 11, 1)), tick=False):
        invoice = activate(service.subscription, date(2026, 11, 1))
    with time_machine.travel(at(date(2026, 11, 3)), tick=False):
        payment_record(
            invoice_id=invoice.pk, amount=invoice.total, method_type="bank_transfer", external_reference="B1"
        )
    # when
    (statement,) = settlement_run(month="2026-11").statements
    # then: retail collected − (200 + 25 % VAT) = the payout
    assert statement.retail_collected == invoice.total
    assert statement.total == Decimal("250.00")
    assert statement.payout == invoice.total - Decimal("250.00")


def test_a_rerun_of_a_draft_month_gives_the_same_lines_and_of_an_issued_month_adds_nothing():
    w = world()
    card(monthly="300.00", fee="100.00")
    service_with_periods(w, [(local(date(2026, 11, 3)), None, None, None)])
    (first,) = settlement_run(month="2026-11").statements
    before = list(first.lines.values_list("kind", "period_id", "first_day", "days", "amount"))
    (again,) = settlement_run(month="2026-11").statements
    assert again.pk == first.pk
    assert list(again.lines.values_list("kind", "period_id", "first_day", "days", "amount")) == before
    # when: issued, then a period the ledger learns late and a rerun
    with time_machine.travel(at(date(2026, 12, 2)), tick=False):
        statement_issue(statement_id=first.pk)
    service_with_periods(w, [(local(date(2026, 11, 10)), None, None, None)])
    count = StatementLine.objects.count()
    result = settlement_run(month="2026-11")
    # then: the issued statement is as it was
    assert result.statements == []
    assert StatementLine.objects.count() == count
    first.refresh_from_db()
    assert (first.status, first.subtotal) == (StatementStatus.ISSUED, again.subtotal)


def test_the_same_days_never_go_on_two_lines():
    w = world()
    card(monthly="300.00")
    service_with_periods(w, [(local(date(2026, 11, 3)), None, None, None)])
    (statement,) = settlement_run(month="2026-11").statements
    line = statement.lines.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        StatementLine.objects.create(
            statement=statement, kind=line.kind, period_id=line.period_id, first_day=line.first_day, amount=1
        )


def test_issuing_numbers_statements_gaplessly_and_tells_the_provider():
    # given: two providers' drafts for November
    w, v = world(), world()
    card(monthly="100.00")
    service_with_periods(w, [(local(date(2026, 11, 1)), None, None, None)])
    service_with_periods(v, [(local(date(2026, 11, 1)), None, None, None)])
    drafts = settlement_run(month="2026-11").statements
    # when: the month is over and both are issued
    with time_machine.travel(at(date(2026, 12, 1)), tick=False):
        issued = [statement_issue(statement_id=s.pk) for s in drafts]
    # then
    assert sorted(s.number for s in issued) == ["WS-2026-000001", "WS-2026-000002"]
    assert all(s.due_on == date(2026, 12, 31) and s.disputable_until == date(2026, 12, 31) for s in issued)
    assert set(ProviderNotification.objects.filter(topic="statement.issued").values_list("provider", flat=True)) == {
        w.provider.pk,
        v.provider.pk,
    }


def test_a_statement_is_not_issued_before_its_month_is_over():
    from cos.errors import Conflict

    w = world()
    card(monthly="100.00")
    service_with_periods(w, [(local(date(2026, 11, 1)), None, None, None)])
    (draft,) = settlement_run(month="2026-11").statements
    with time_machine.travel(at(date(2026, 11, 30)), tick=False), pytest.raises(Conflict) as refused:
        statement_issue(statement_id=draft.pk)
    assert refused.value.code == "month_open"


def test_card_versions_of_one_scope_never_overlap():
    from cos.errors import Conflict

    card(monthly="100.00", valid_from=date(2026, 1, 1), valid_to=date(2026, 7, 1), supersede=False)
    with pytest.raises(Conflict) as refused:
        card(monthly="120.00", valid_from=date(2026, 6, 1), supersede=False)
    assert refused.value.code == "rate_card_overlap"
    # another scope may: a provider's own card over the same days
    card(OrganizationFactory(kind="service_provider"), monthly="90.00", valid_from=date(2026, 6, 1))


@pytest.mark.postgres
def test_the_database_refuses_overlapping_versions_whoever_writes_them():
    first = card(monthly="100.00", valid_from=date(2026, 1, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        RateCard.objects.create(
            operator=first.operator, name="Sneaky", currency="SEK", valid_from=date(2026, 3, 1), version=2
        )
    assert connection.vendor == "postgresql"


def test_run_settlement_dry_run_writes_nothing_and_a_bad_month_exits_non_zero():
    w = world()
    card(monthly="300.00")
    service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    out = StringIO()
    call_command("run_settlement", "--period", "2026-11", "--dry-run", stdout=out, verbosity=0)
    assert "Dry run" in out.getvalue()
    assert "300.00" in out.getvalue()
    assert not Statement.objects.exists()
    call_command("run_settlement", "--period", "2026-11", "--provider", w.provider.slug, stdout=out, verbosity=0)
    assert Statement.objects.get().subtotal == Decimal("300.00")
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("run_settlement", "--period", "November", stdout=out)
    with pytest.raises(CommandError, match="no service provider"):
        call_command("run_settlement", "--period", "2026-11", "--provider", "nobody", stdout=out)


def test_the_month_end_task_settles_last_month_and_issues_where_the_operator_says(settings):
    w = world()
    card(monthly="300.00")
    service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    settings.WHOLESALE_ISSUE_AT_MONTH_END = True
    with time_machine.travel(at(date(2026, 12, 1), hour=3), tick=False):
        settlement_month_end_task()
        settlement_month_end_task()  # beat may run it twice: nothing changes
    (statement,) = Statement.objects.all()
    assert (statement.month, statement.status, statement.number) == (NOV, StatementStatus.ISSUED, "WS-2026-000001")


def test_no_operator_no_card_nothing_to_settle():
    assert settlement_month_end_task() == "no network operator: nothing to settle"
    operator()
    w = world()
    service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    assert settlement_run(month="2026-11").statements == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_of_a_month_at_once_and_an_issue_meanwhile_leave_one_statement_charged_once():
    import threading

    # given: November's draft, and two runs of November plus its issue starting at the same moment
    w = world()
    card(monthly="300.00")
    service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    (draft,) = settlement_run(month="2026-11").statements
    barrier, errors = threading.Barrier(3), []

    def work(job):
        try:
            barrier.wait()
            job()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    def issue():
        with time_machine.travel(at(date(2026, 12, 1)), tick=True):
            statement_issue(statement_id=draft.pk)

    jobs = [lambda: settlement_run(month="2026-11"), lambda: settlement_run(month="2026-11"), issue]
    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then: no error, one statement, issued, with its one line of 30 days
    assert errors == []
    (statement,) = Statement.objects.all()
    assert statement.status == StatementStatus.ISSUED
    assert list(statement.lines.values_list("days", "amount")) == [(30, Decimal("300.00"))]
    assert statement.subtotal == Decimal("300.00")
