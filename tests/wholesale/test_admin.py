"""The wholesale admin, as finance and as operations: a rate card version is made through the service and never
edited; statements are issued and settled by actions that call the services; a statement's page has nothing to type
into and stays cheap with thousands of lines; disputes are decided by actions; variance rows are filtered by month,
provider and kind."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cos.choices import Role
from cos.services import membership_grant
from tests.billing.factories import at
from tests.cos.factories import UserFactory
from tests.marketplace.factories import world
from tests.wholesale.factories import card, local, operator, service_with_periods
from wholesale.choices import DisputeStatus, LineKind, StatementStatus, VarianceKind
from wholesale.models import Rate, RateCard, Statement, StatementDispute, StatementLine, Variance
from wholesale.services import dispute_open, statement_issue
from wholesale.settlement import settlement_run

pytestmark = pytest.mark.django_db

MAX_QUERIES_PER_PAGE = 25
CHANGELISTS = [
    "wholesale_ratecard",
    "wholesale_statement",
    "wholesale_statementline",
    "wholesale_statementdispute",
    "wholesale_variance",
]


def _staff(client, role: str, username: str):
    user = UserFactory(username=username)
    membership_grant(user=user, organization=operator(), role=role)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def finance(client):
    return _staff(client, Role.FINANCE, "fia-finance")


@pytest.fixture
def operations(client):
    return _staff(client, Role.OPERATIONS, "olle-ops")


def _draft(w=None, *, monthly="300.00") -> Statement:
    """November 2026's draft statement of a provider with one service live all month."""
    w = w or world()
    if not RateCard.objects.exists():
        card(monthly=monthly)
    service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    (statement,) = [s for s in settlement_run(month="2026-11").statements if s.provider_id == w.provider.pk]
    return statement


def _issued(w=None) -> Statement:
    statement = _draft(w)
    with time_machine.travel(at(date(2026, 12, 1)), tick=False):
        return statement_issue(statement_id=statement.pk)


def _act(client, model: str, action: str, objects, **form):
    """Post an admin action on a change list; with a form, post it filled in (as the operator would)."""
    data = {"action": action, "_selected_action": [obj.pk for obj in objects], **form}
    if form:
        data["apply"] = "1"
    return client.post(reverse(f"admin:wholesale_{model}_changelist"), data, follow=True)


def _messages(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


def _card_form(**fields) -> dict:
    """The add form of a rate card as the operator fills it in: one rate row, three left empty."""
    data = {
        "operator": operator().pk,
        "provider": "",
        "marketplace": "",
        "area": "",
        "name": "Access 2026",
        "currency": "SEK",
        "valid_from": "2026-01-01",
        "valid_to": "",
        "dispute_window_days": "30",
        "payment_days": "30",
        "tax_rate": "0.2500",
        "supersede": "on",
        "rates-TOTAL_FORMS": "4",
        "rates-INITIAL_FORMS": "0",
        "rates-MIN_NUM_FORMS": "1",
        "rates-MAX_NUM_FORMS": "1000",
        "rates-0-category": "internet",
        "rates-0-profile": "",
        "rates-0-monthly_rate": "250.00",
        "rates-0-activation_fee": "500.00",
        "rates-0-suspended_rate": "0.00",
    }
    for n in (1, 2, 3):
        data |= {f"rates-{n}-activation_fee": "0.00", f"rates-{n}-suspended_rate": "0.00"}
    return {**data, **fields}


# --- statements --------------------------------------------------------------------------------------------------


def test_finance_issues_a_draft_through_the_action_once_its_month_is_over(finance):
    # given: November's draft
    statement = _draft()
    # when: issued in November, then on 1 December
    with time_machine.travel(at(date(2026, 11, 20)), tick=False):
        early = _act(finance, "statement", "action_statement_issue", [statement])
    statement.refresh_from_db()
    status_early = statement.status
    with time_machine.travel(at(date(2026, 12, 1)), tick=False):
        issued = _act(finance, "statement", "action_statement_issue", [statement])
    # then: refused with the service's reason first, then numbered and frozen
    assert "is not over" in _messages(early)
    assert status_early == StatementStatus.DRAFT
    statement.refresh_from_db()
    assert statement.status == StatementStatus.ISSUED
    assert statement.number.startswith("WS-2026-")
    assert (statement.issued_on, statement.due_on) == (date(2026, 12, 1), date(2026, 12, 31))
    assert "Issue (number and freeze): 1 done." in _messages(issued)


def test_settling_is_refused_while_a_dispute_is_open_and_done_once_it_is_decided(finance):
    # given: an issued statement, one of its lines disputed
    statement = _issued()
    line = statement.lines.get(kind=LineKind.ACCESS)
    dispute = dispute_open(
        statement_id=statement.pk,
        provider=statement.provider,
        lines=[{"line": line.pk, "amount": "100.00"}],
        reason_code="not_live",
        today=date(2026, 12, 2),
    )
    # when: settled, then the dispute rejected with a reason, then settled again
    refused = _act(finance, "statement", "action_statement_settle", [statement])
    _act(finance, "statementdispute", "action_reject__with_a_reason", [dispute], reason="The ledger shows it live.")
    settled = _act(finance, "statement", "action_statement_settle", [statement])
    # then
    assert "has an open dispute" in _messages(refused)
    assert "Settle (paid or paid out): 1 done." in _messages(settled)
    statement.refresh_from_db()
    assert statement.status == StatementStatus.SETTLED


def test_operations_sees_statements_but_cannot_issue_them(operations):
    # given
    statement = _draft()
    url = reverse("admin:wholesale_statement_changelist")
    # when
    page = operations.get(url)
    with time_machine.travel(at(date(2026, 12, 1)), tick=False):
        posted = operations.post(url, {"action": "action_statement_issue", "_selected_action": [statement.pk]})
    # then: the list, without the action; posting it changes nothing
    assert page.status_code == 200
    assert "action_statement_issue" not in page.content.decode()
    assert posted.status_code in (200, 302)
    statement.refresh_from_db()
    assert (statement.status, statement.number) == (StatementStatus.DRAFT, "")


def _add_lines(statement: Statement, count: int) -> None:
    StatementLine.objects.bulk_create(
        StatementLine(
            statement=statement, kind=LineKind.ADJUSTMENT, amount=Decimal("-1.00"), description=f"Correction {n}"
        )
        for n in range(count)
    )


def _statement_page(client, statement):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:wholesale_statement_change", args=[statement.pk]))
    assert response.status_code == 200
    return response, len(queries)


def test_a_statements_page_has_nothing_to_type_into_and_costs_the_same_with_thousands_of_lines(finance):
    # given: two issued statements, one with 3 lines, one with 2,000
    few, many = _issued(), _issued(world())
    _add_lines(few, 2)
    _add_lines(many, 1999)
    # when
    few_page, few_queries = _statement_page(finance, few)
    many_page, many_queries = _statement_page(finance, many)
    # then: no field to edit and no save button, whoever looks
    assert few_page.context["adminform"].form.fields == {}
    assert 'name="_save"' not in many_page.content.decode()
    # the first lines shown, the count and a link to all of them in the line list
    (lines,) = [f for f in many_page.context["inline_admin_formsets"] if f.opts.model is StatementLine]
    assert len(lines.formset.forms) == 50
    assert "2000 lines, the first 50 are below" in many_page.content.decode()
    assert f"{reverse('admin:wholesale_statementline_changelist')}?statement={many.pk}" in many_page.content.decode()
    # the same queries for 3 lines as for 2,000, and few of them
    assert many_queries == few_queries
    assert many_queries <= MAX_QUERIES_PER_PAGE


def test_a_statement_is_not_changed_by_posting_its_page(finance):
    # given
    statement = _issued()
    before = (statement.total, statement.number, statement.status)
    # when
    response = finance.post(
        reverse("admin:wholesale_statement_change", args=[statement.pk]), {"total": "1.00", "number": "X"}
    )
    # then
    assert response.status_code == 403
    statement.refresh_from_db()
    assert (statement.total, statement.number, statement.status) == before


def test_the_line_list_shows_one_statements_lines_at_a_flat_cost(finance):
    # given: two providers' statements, one with many more lines
    first, second = _issued(), _issued(world())
    _add_lines(second, 300)
    url = reverse("admin:wholesale_statementline_changelist")
    # when
    with CaptureQueriesContext(connection) as few:
        first_list = finance.get(url, {"statement": first.pk})
    with CaptureQueriesContext(connection) as many:
        second_list = finance.get(url, {"statement": second.pk})
    # then: only that statement's lines, a page of them, for the same queries
    assert {line.statement_id for line in first_list.context["cl"].result_list} == {first.pk}
    assert {line.statement_id for line in second_list.context["cl"].result_list} == {second.pk}
    assert len(second_list.context["cl"].result_list) == 100
    assert len(many) == len(few) <= MAX_QUERIES_PER_PAGE


@pytest.mark.parametrize("who", ["finance", "operations"])
def test_every_wholesale_list_loads_in_bounded_queries(who, request):
    # given: statements, lines, a dispute, variance rows and cards
    client = request.getfixturevalue(who)
    statement = _issued()
    _issued(world())
    dispute_open(
        statement_id=statement.pk,
        provider=statement.provider,
        lines=[{"line": statement.lines.first().pk, "amount": "10.00"}],
        reason_code="other",
        today=date(2026, 12, 2),
    )
    Variance.objects.create(
        operator=operator(), provider=statement.provider, month=date(2026, 11, 1), kind="rate_mismatch", amount=1
    )
    for name in CHANGELISTS:
        # when
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(f"admin:{name}_changelist"))
        # then
        assert response.status_code == 200, name
        assert len(queries) <= MAX_QUERIES_PER_PAGE, name


# --- rate cards --------------------------------------------------------------------------------------------------


def test_finance_makes_a_rate_card_through_the_add_form(finance):
    # when
    page = finance.get(reverse("admin:wholesale_ratecard_add"))
    response = finance.post(reverse("admin:wholesale_ratecard_add"), _card_form())
    # then: one page with the card's fields and rows of rates
    assert page.status_code == 200
    fields = ("operator", "provider", "valid_from", "valid_to", "supersede", "rates-0-monthly_rate", "rates-3-category")
    assert all(f'name="{name}"' in page.content.decode() for name in fields)
    # the card and its one rate (the empty rows ignored), version 1 of the default card
    assert response.status_code == 302
    made = RateCard.objects.get()
    assert (made.name, made.version, made.provider, made.valid_from) == ("Access 2026", 1, None, date(2026, 1, 1))
    assert list(Rate.objects.filter(card=made).values_list("category", "monthly_rate", "activation_fee")) == [
        ("internet", Decimal("250.00"), Decimal("500.00"))
    ]
    assert response["Location"] == reverse("admin:wholesale_ratecard_change", args=[made.pk])


def test_an_overlapping_version_is_a_form_error_and_nothing_is_made(finance):
    # given: a version for the first half of 2026
    card(valid_from=date(2026, 1, 1), valid_to=date(2026, 7, 1))
    # when: another from March to September
    response = finance.post(
        reverse("admin:wholesale_ratecard_add"), _card_form(valid_from="2026-03-01", valid_to="2026-09-01")
    )
    # then: the form again, with the service's reason, and still one card
    assert response.status_code == 200
    assert "never overlaps another" in str(response.context["form"].non_field_errors())
    assert "Please correct the errors below." in response.content.decode()
    assert RateCard.objects.count() == 1


def test_a_card_ending_before_it_starts_is_shown_beside_its_end(finance):
    # when
    response = finance.post(
        reverse("admin:wholesale_ratecard_add"), _card_form(valid_from="2026-03-01", valid_to="2026-02-01")
    )
    # then
    assert response.status_code == 200
    assert response.context["form"].errors["valid_to"] == ["A card ends after it starts."]
    assert not RateCard.objects.exists()


def test_a_new_version_ends_the_one_in_force(finance):
    # given: an open-ended version from 2020
    first = card(monthly="100.00")
    # when: a new price from 1 June 2026
    response = finance.post(reverse("admin:wholesale_ratecard_add"), _card_form(valid_from="2026-06-01"))
    # then
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.valid_to == date(2026, 6, 1)
    assert RateCard.objects.order_by("-pk").first().version == 2


def test_a_cards_page_is_read_only_and_operations_cannot_add_one(finance, client):
    # given
    existing = card(monthly="100.00")
    url = reverse("admin:wholesale_ratecard_change", args=[existing.pk])
    # when
    page = finance.get(url)
    posted = finance.post(url, {"name": "Cheaper", "currency": "SEK", "valid_from": "2020-01-01"})
    _staff(client, Role.OPERATIONS, "olle-ops")
    add_page = client.get(reverse("admin:wholesale_ratecard_add"))
    # then
    assert page.status_code == 200
    assert page.context["adminform"].form.fields == {}
    assert posted.status_code == 403
    assert add_page.status_code == 403
    existing.refresh_from_db()
    assert existing.name == "Access"


def test_ending_a_version_on_a_date(finance):
    # given: an open-ended version
    existing = card(valid_from=date(2026, 1, 1))
    # when: ended on 1 July, then "ended" on 1 August (later than it already ends)
    ended = _act(finance, "ratecard", "action_end_this_version_on_a_date", [existing], on="2026-07-01")
    existing.refresh_from_db()
    first_end = existing.valid_to
    later = _act(finance, "ratecard", "action_end_this_version_on_a_date", [existing], on="2026-08-01")
    # then: the first ends it, the second is refused
    assert first_end == date(2026, 7, 1)
    assert "in force until 2026-07-01" in _messages(ended)
    assert "already ends on 2026-07-01" in _messages(later)
    existing.refresh_from_db()
    assert existing.valid_to == date(2026, 7, 1)


# --- disputes ----------------------------------------------------------------------------------------------------


def _dispute(statement: Statement, amount: str = "100.00") -> StatementDispute:
    line = statement.lines.filter(kind=LineKind.ACCESS).exclude(disputed__isnull=False).first()
    return dispute_open(
        statement_id=statement.pk,
        provider=statement.provider,
        lines=[{"line": line.pk, "amount": amount}],
        reason_code="not_live",
        text="Deactivated on the 11th",
        today=date(2026, 12, 2),
    )


def test_finance_reviews_and_upholds_a_dispute_for_its_full_amount(finance):
    # given
    dispute = _dispute(_issued())
    # when
    reviewed = _act(finance, "statementdispute", "action_dispute_review", [dispute])
    dispute.refresh_from_db()
    status_reviewed = dispute.status
    upheld = _act(finance, "statementdispute", "action_dispute_uphold", [dispute])
    # then
    assert status_reviewed == DisputeStatus.UNDER_REVIEW
    assert "Review (take it up): 1 done." in _messages(reviewed)
    assert "Uphold (the full amount): 1 done." in _messages(upheld)
    dispute.refresh_from_db()
    assert (dispute.status, dispute.upheld_amount) == (DisputeStatus.UPHELD, Decimal("100.00"))
    assert dispute.statement.status == StatementStatus.ISSUED  # no dispute of it open any more


def test_rejecting_a_dispute_asks_for_a_reason(finance):
    # given
    dispute = _dispute(_issued())
    # when: the action asked for, sent without a reason, then with one
    asked = finance.post(
        reverse("admin:wholesale_statementdispute_changelist"),
        {"action": "action_reject__with_a_reason", "_selected_action": [dispute.pk]},
    )
    empty = _act(finance, "statementdispute", "action_reject__with_a_reason", [dispute], reason="")
    dispute.refresh_from_db()
    status_after_empty = dispute.status
    _act(finance, "statementdispute", "action_reject__with_a_reason", [dispute], reason="Live on the ledger.")
    # then: a form with a reason field, which must be filled
    assert 'name="reason"' in asked.content.decode()
    assert empty.context["form"].errors["reason"]
    assert status_after_empty == DisputeStatus.OPEN
    dispute.refresh_from_db()
    assert (dispute.status, dispute.decision) == (DisputeStatus.REJECTED, "Live on the ledger.")


def test_a_decided_dispute_cannot_be_upheld_again_and_says_why(finance):
    # given: a rejected dispute
    dispute = _dispute(_issued())
    _act(finance, "statementdispute", "action_reject__with_a_reason", [dispute], reason="No.")
    # when
    response = _act(finance, "statementdispute", "action_dispute_uphold", [dispute])
    # then
    assert "rejected" in _messages(response).lower()
    dispute.refresh_from_db()
    assert (dispute.status, dispute.upheld_amount) == (DisputeStatus.REJECTED, None)


def test_a_disputes_page_is_read_only_with_its_lines_age_and_escalation(finance):
    # given: a dispute opened 65 days ago
    dispute = _dispute(_issued())
    StatementDispute.objects.filter(pk=dispute.pk).update(created_at=timezone.now() - timedelta(days=65))
    # when
    page = finance.get(reverse("admin:wholesale_statementdispute_change", args=[dispute.pk]))
    # then
    assert page.status_code == 200
    assert page.context["adminform"].form.fields == {}
    content = page.content.decode()
    assert "65 days" in content
    assert "level 2" in content
    assert "Deactivated on the 11th" in content


# --- variance ----------------------------------------------------------------------------------------------------


def test_variance_rows_are_filtered_by_month_provider_and_kind(finance):
    # given: rows of two providers in two months
    first, second = world().provider, world().provider
    rows = {}
    for provider in (first, second):
        for month in (date(2026, 10, 1), date(2026, 11, 1)):
            for kind in (VarianceKind.RATE_MISMATCH, VarianceKind.LIVE_NOT_ON_STATEMENT):
                rows[(provider.pk, month, kind)] = Variance.objects.create(
                    operator=operator(), provider=provider, month=month, kind=kind, amount=Decimal("5.00")
                )
    url = reverse("admin:wholesale_variance_changelist")
    # when
    response = finance.get(url, {"month": "2026-11", "provider": first.pk, "kind__exact": VarianceKind.RATE_MISMATCH})
    # then: exactly that row; the page offers both months and both providers
    assert [row.pk for row in response.context["cl"].result_list] == [
        rows[(first.pk, date(2026, 11, 1), VarianceKind.RATE_MISMATCH)].pk
    ]
    content = response.content.decode()
    assert "?month=2026-10" in content or "month=2026-10" in content
    assert second.name in content


def test_variance_rows_cannot_be_changed_or_deleted(finance):
    # given
    row = Variance.objects.create(
        operator=operator(), provider=world().provider, month=date(2026, 11, 1), kind="rate_mismatch", amount=1
    )
    # when
    page = finance.get(reverse("admin:wholesale_variance_change", args=[row.pk]))
    deleted = finance.post(reverse("admin:wholesale_variance_delete", args=[row.pk]), {"post": "yes"})
    # then
    assert page.context["adminform"].form.fields == {}
    assert deleted.status_code == 403
    assert Variance.objects.filter(pk=row.pk).exists()
