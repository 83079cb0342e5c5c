"""Variance three ways, each kind from an injected fault, and a statement dispute's life: the undisputed part due,
escalation by age, an upheld dispute credited once on the next statement."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from billing.models import ReasonCode
from billing.overrides import invoice_credit
from cos.errors import ApplicationError, Conflict
from cos.models import ProviderNotification, TransitionLog
from provisioning.models import ServicePeriod
from tests.billing.factories import activate, at
from tests.cos.factories import UserFactory
from tests.marketplace.factories import world
from tests.wholesale.factories import card, local, service_with_periods
from wholesale.choices import DisputeStatus, LineKind, StatementStatus, VarianceKind
from wholesale.models import Statement, StatementLine
from wholesale.services import (
    dispute_open,
    dispute_reject,
    dispute_review,
    dispute_uphold,
    dispute_withdraw,
    escalation_level,
    statement_issue,
    statement_settle,
    undisputed_amount,
)
from wholesale.settlement import settlement_run
from wholesale.variance import settlement_variance, variance_check

pytestmark = pytest.mark.django_db


def _issued(month="2026-11", day=date(2026, 12, 1)):
    statements = settlement_run(month=month).statements
    with time_machine.travel(at(day), tick=False):
        return [statement_issue(statement_id=s.pk) for s in statements]


def _network(rows):
    """The rows comparing the ledger with the statement (these services' subscribers are billed elsewhere)."""
    retail = (VarianceKind.RETAIL_WITHOUT_WHOLESALE, VarianceKind.WHOLESALE_WITHOUT_RETAIL)
    return [row for row in rows if row.kind not in retail]


def _kinds(rows):
    return sorted((row.kind, row.service_id) for row in rows)


def test_a_month_as_the_network_delivered_it_has_no_variance():
    w = world()
    card(monthly="300.00")
    service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    _issued()
    assert _network(variance_check(month="2026-11")) == []
    assert settlement_variance(provider=w.provider, month="2026-11") == {
        "expected": Decimal("300.00"),
        "actual": Decimal("300.00"),
        "ratio": Decimal("0"),
    }


def test_a_lost_deactivation_found_later_shows_days_on_the_statement_not_live():
    # given: November issued with the service live all month
    w = world()
    card(monthly="300.00")
    service = service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    _issued()
    # when: the ledger learns that the service was deactivated on 11 November (the device's time)
    ServicePeriod.objects.filter(service=service).update(ended_at=local(date(2026, 11, 11)), end_cause="deactivate")
    rows = variance_check(month="2026-11")
    # then: 20 charged days the network did not deliver, 200 too much
    (row,) = [r for r in rows if r.kind == VarianceKind.ON_STATEMENT_NOT_LIVE]
    assert (row.service_id, row.network_days, row.statement_days, row.amount) == (
        service.pk,
        10,
        30,
        Decimal("-200.00"),
    )
    figure = settlement_variance(provider=w.provider, month="2026-11")
    assert (figure["expected"], figure["actual"]) == (Decimal("100.00"), Decimal("300.00"))
    assert figure["ratio"] == Decimal("2")


def test_a_period_recorded_after_the_statement_is_live_but_not_on_it():
    w = world()
    card(monthly="300.00")
    service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    _issued()
    late = service_with_periods(w, [(local(date(2026, 11, 16)), None, None, None)])
    rows = variance_check(month="2026-11")
    (row,) = [r for r in rows if r.kind == VarianceKind.LIVE_NOT_ON_STATEMENT]
    assert (row.service_id, row.network_days, row.statement_days, row.amount) == (late.pk, 15, 0, Decimal("150.00"))


def test_a_live_service_no_card_covers_is_said_so():
    w = world()
    card(monthly="300.00", valid_from=date(2026, 11, 16))
    service = service_with_periods(w, [(local(date(2026, 11, 1)), None, None, None)])
    settlement_run(month="2026-11")
    (row,) = [r for r in variance_check(month="2026-11") if r.kind == VarianceKind.LIVE_NOT_ON_STATEMENT]
    assert (row.service_id, row.network_days, row.statement_days) == (service.pk, 30, 15)
    assert "no rate card covers 15" in row.detail


def test_a_rate_change_agreed_after_the_statement_is_a_rate_mismatch():
    # given: November issued at 300; then the agreed 450 from 16 November is entered as a new version
    w = world()
    card(monthly="300.00")
    service = service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    _issued()
    card(monthly="450.00", valid_from=date(2026, 11, 16))
    # when
    (row,) = _network(variance_check(month="2026-11"))
    # then: the same days, 75 more at the cards than charged
    assert (row.kind, row.service_id, row.expected, row.charged, row.amount) == (
        VarianceKind.RATE_MISMATCH,
        service.pk,
        Decimal("375.00"),
        Decimal("300.00"),
        Decimal("75.00"),
    )


def _retail(w, activated_on):
    service = service_with_periods(w, [(local(activated_on), None, None, None)])
    with time_machine.travel(at(activated_on), tick=False):
        invoice = activate(service.subscription, activated_on)
    return service, invoice


def test_retail_and_wholesale_agree_when_the_subscriber_is_billed_the_days_the_provider_is_charged():
    w = world()
    card(monthly="300.00")
    _retail(w, date(2026, 11, 10))
    _issued()
    assert variance_check(month="2026-11") == []


def test_a_manual_retail_credit_is_wholesale_without_retail():
    # given: the subscriber billed from 10 November, then credited 100 by hand
    w = world()
    card(monthly="300.00")
    service, invoice = _retail(w, date(2026, 11, 10))
    code = ReasonCode.objects.create(code="goodwill", label="Goodwill")
    finance = UserFactory(is_staff=True, is_superuser=True)
    with time_machine.travel(at(date(2026, 11, 20)), tick=False):
        invoice_credit(invoice_id=invoice.pk, amount=Decimal("100.00"), reason_code=code.code, actor=finance)
    _issued()
    # when
    (row,) = variance_check(month="2026-11")
    # then
    assert (row.kind, row.service_id, row.retail_days, row.statement_days) == (
        VarianceKind.WHOLESALE_WITHOUT_RETAIL,
        service.pk,
        21,
        21,
    )
    assert row.amount == Decimal("-100.00")
    assert "by hand" in row.detail


def test_retail_days_the_network_never_delivered_are_retail_without_wholesale():
    # given: a subscriber billed from 10 November whose service has no period in the ledger (it never went live)
    w = world()
    card(monthly="300.00")
    service = service_with_periods(w, [])
    with time_machine.travel(at(date(2026, 11, 10)), tick=False):
        activate(service.subscription, date(2026, 11, 10))
    # when
    rows = variance_check(month="2026-11")
    # then
    assert _kinds(rows) == [(VarianceKind.RETAIL_WITHOUT_WHOLESALE, service.pk)]
    assert rows[0].retail_days == 21


# --- disputes ------------------------------------------------------------------------------------------------------


@pytest.fixture
def issued():
    w = world()
    card(monthly="300.00", fee="500.00")
    service_with_periods(w, [(local(date(2026, 11, 5)), None, None, None)])
    service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    (statement,) = _issued()
    return w, statement


def _open(w, statement, amount="100.00", kind=LineKind.ACTIVATION, **fields):
    line = statement.lines.filter(kind=kind).first()
    with time_machine.travel(at(date(2026, 12, 5)), tick=False):
        return dispute_open(
            statement_id=statement.pk,
            provider=w.provider,
            lines=[{"line": line.pk, "amount": amount}],
            reason_code=fields.pop("reason_code", "not_live"),
            text="No installation happened",
            **fields,
        )


def test_a_dispute_keeps_the_undisputed_part_due_and_marks_the_statement_disputed(issued):
    w, statement = issued
    dispute = _open(w, statement, amount="500.00")
    statement.refresh_from_db()
    assert statement.status == StatementStatus.DISPUTED
    assert undisputed_amount(statement) == statement.total - Decimal("625.00")  # 500 and its 25 % VAT
    assert ProviderNotification.objects.filter(topic="statement.dispute_updated").count() == 1
    with pytest.raises(Conflict) as refused:
        statement_settle(statement_id=statement.pk)
    assert refused.value.code == "dispute_open"
    assert dispute.amount == Decimal("500.00")


def test_an_upheld_dispute_is_credited_once_on_the_next_statement(issued):
    # given: a dispute of the activation fee, reviewed and upheld
    w, statement = issued
    dispute = _open(w, statement, amount="500.00")
    dispute_review(dispute_id=dispute.pk)
    dispute_uphold(dispute_id=dispute.pk, reason="The fee was charged twice")
    statement.refresh_from_db()
    assert statement.status == StatementStatus.ISSUED
    # when: December is settled, twice
    settlement_run(month="2026-12")
    (december,) = settlement_run(month="2026-12").statements
    # then: the 500 credited once, on December's statement
    (credit,) = december.lines.filter(kind=LineKind.ADJUSTMENT)
    assert (credit.amount, credit.dispute_id) == (Decimal("-500.00"), dispute.pk)
    assert december.subtotal == Decimal("600.00") - Decimal("500.00")
    assert StatementLine.objects.filter(dispute=dispute).count() == 1
    steps = TransitionLog.objects.filter(object_id=dispute.pk, content_type__model="statementdispute")
    assert sorted(steps.values_list("target", flat=True)) == ["under_review", "upheld"]


def test_a_rejected_dispute_needs_a_reason_and_leaves_the_charge(issued):
    w, statement = issued
    dispute = _open(w, statement)
    with pytest.raises(ApplicationError) as refused:
        dispute_reject(dispute_id=dispute.pk, reason=" ")
    assert refused.value.code == "reason_required"
    dispute_reject(dispute_id=dispute.pk, reason="The installation record is signed by the customer")
    settlement_run(month="2026-12")
    assert not StatementLine.objects.filter(kind=LineKind.ADJUSTMENT).exists()
    statement_settle(statement_id=statement.pk)
    statement.refresh_from_db()
    assert statement.status == StatementStatus.SETTLED


def test_a_withdrawn_dispute_closes_and_another_provider_cannot_touch_it(issued):
    w, statement = issued
    dispute = _open(w, statement)
    other = world().provider
    with pytest.raises(ApplicationError) as refused:
        dispute_withdraw(dispute_id=dispute.pk, provider=other)
    assert refused.value.code == "dispute_not_found"
    dispute_withdraw(dispute_id=dispute.pk, provider=w.provider, reason="Found the record")
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.WITHDRAWN


@pytest.mark.parametrize(
    ("amount", "code"),
    [("0", "invalid_amount"), ("500.01", "invalid_amount"), ("abc", "invalid_line"), ("1.005", "invalid_amount")],
)
def test_a_dispute_asks_at_most_the_lines_amount(issued, amount, code):
    w, statement = issued
    with pytest.raises(ApplicationError) as refused:
        _open(w, statement, amount=amount)
    assert refused.value.code == code


def test_a_dispute_after_the_window_is_refused_and_a_line_is_disputed_once(issued):
    w, statement = issued
    _open(w, statement)
    with pytest.raises(Conflict) as refused:
        _open(w, statement)
    assert refused.value.code == "line_disputed"
    line = statement.lines.filter(kind=LineKind.ACCESS).first()
    with pytest.raises(Conflict) as late:
        dispute_open(
            statement_id=statement.pk,
            provider=w.provider,
            lines=[{"line": line.pk, "amount": "1.00"}],
            reason_code="wrong_rate",
            today=statement.disputable_until + timedelta(days=1),
        )
    assert late.value.code == "dispute_window_closed"
    with pytest.raises(ApplicationError) as foreign:
        dispute_open(
            statement_id=statement.pk,
            provider=world().provider,
            lines=[{"line": line.pk, "amount": "1"}],
            reason_code="other",
        )
    assert foreign.value.code == "statement_not_found"


def test_a_dispute_escalates_at_30_60_and_90_days(issued):
    w, statement = issued
    dispute = _open(w, statement)
    opened = dispute.created_at.date()
    assert [escalation_level(dispute, today=opened + timedelta(days=n)) for n in (0, 29, 30, 60, 89, 90, 200)] == [
        0,
        0,
        1,
        2,
        2,
        3,
        3,
    ]


def test_a_draft_is_not_disputable():
    w = world()
    card(monthly="300.00")
    service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    (draft,) = settlement_run(month="2026-11").statements
    with pytest.raises(Conflict) as refused:
        dispute_open(
            statement_id=draft.pk,
            provider=w.provider,
            lines=[{"line": draft.lines.get().pk, "amount": "1"}],
            reason_code="other",
        )
    assert refused.value.code == "not_disputable"
    assert Statement.objects.get().status == StatementStatus.DRAFT
    assert timezone.now()


def test_a_card_version_cannot_be_ended_later_over_the_next_one():
    from wholesale.rates import rate_card_end

    first = card(monthly="100.00", valid_from=date(2026, 1, 1))
    card(monthly="120.00", valid_from=date(2026, 6, 1))
    first.refresh_from_db()
    with pytest.raises(Conflict) as refused:
        rate_card_end(first, on=date(2026, 7, 1))
    assert refused.value.code == "rate_card_overlap"
    assert rate_card_end(first, on=date(2026, 5, 1)).valid_to == date(2026, 5, 1)


def test_a_charge_where_the_network_expected_nothing_has_no_ratio_but_shows():
    w = world()
    card(monthly="300.00")
    service = service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    _issued()
    ServicePeriod.objects.filter(service=service).update(ended_at=local(date(2026, 10, 20)), end_cause="deactivate")
    variance_check(month="2026-11")
    figure = settlement_variance(provider=w.provider, month="2026-11")
    assert (figure["expected"], figure["actual"], figure["ratio"]) == (Decimal("0.00"), Decimal("300.00"), None)
