"""Provider API of wholesale: a provider reads its issued statements (never a draft), their lines as JSON and as a
CSV that adds up to the subtotal, disputes lines within the window and withdraws a dispute, and reads the rate
cards that apply to it; another provider reaches none of it."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cos.periods import add_months
from marketplace.models import Participation
from tests.marketplace.api.conftest import provider_client
from tests.marketplace.factories import MarketplaceFactory, world
from tests.wholesale.factories import (
    card,
    dispute_of,
    draft_statement,
    issued_statement,
    this_month,
)
from wholesale.choices import StatementStatus
from wholesale.models import RateCard, Statement, StatementDispute
from wholesale.services import dispute_open, dispute_reject, undisputed_amount

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    return world()


@pytest.fixture
def api(w):
    return provider_client(w.provider)


@pytest.fixture
def other():
    """Provider B, with an issued statement, a dispute and a card of its own."""
    b = world()
    dispute_of(issued_statement(b))
    return b


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


# --- statements -------------------------------------------------------------------------------------------------


def test_a_provider_lists_its_issued_statements_and_not_its_drafts(w, api, other):
    # given
    issued = issued_statement(w)
    draft = draft_statement(w)

    # when
    response = api.get("/api/v1/statements/")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert [row["id"] for row in body["results"]] == [issued.pk]
    assert body["results"][0]["number"] == issued.number
    assert draft.pk not in {row["id"] for row in body["results"]}


def test_statements_are_filtered_by_month_and_status(w, api):
    # given: last month's statement disputed, the month before's issued
    last_month = add_months(this_month(), -1)
    older = issued_statement(w, month=add_months(last_month, -1))
    latest = issued_statement(w, month=last_month)
    dispute_of(latest)

    # when
    by_month = api.get("/api/v1/statements/", {"month": older.month.strftime("%Y-%m")})
    by_status = api.get("/api/v1/statements/", {"status": "disputed"})
    drafts = api.get("/api/v1/statements/", {"status": "draft"})
    bad_month = api.get("/api/v1/statements/", {"month": "2026-13"})

    # then
    assert [row["id"] for row in by_month.json()["results"]] == [older.pk]
    assert [row["id"] for row in by_status.json()["results"]] == [latest.pk]
    assert drafts.status_code == 400
    assert drafts.json()["codes"] == {"status": ["invalid_choice"]}
    assert bad_month.status_code == 400
    assert bad_month.json()["codes"] == {"month": ["invalid"]}


def test_a_statement_shows_its_totals_tax_due_dates_and_what_is_due_now(w, api):
    # given: one line of 50.00 in question
    statement = issued_statement(w, services=2)
    dispute_of(statement, amount="50.00")
    statement.refresh_from_db()

    # when
    response = api.get(f"/api/v1/statements/{statement.pk}/")

    # then: 2 x (100.00 a month + 50.00) = 300.00, VAT 25 % 75.00; due now: 375.00 - 50.00 with its VAT
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == statement.number
    assert body["status"] == "disputed"
    assert body["month"] == statement.month.strftime("%Y-%m")
    assert (body["subtotal"], body["tax_rate"], body["tax"], body["total"]) == ("300.00", "0.2500", "75.00", "375.00")
    assert body["undisputed_amount"] == "312.50" == str(undisputed_amount(statement))
    assert body["due_on"] == statement.due_on.isoformat()
    assert body["disputable_until"] == (timezone.localdate() + timedelta(days=30)).isoformat()
    assert body["issuer"] == statement.operator.invoice_name
    assert (body["retail_collected"], body["payout"]) == (None, None)


def test_a_revenue_share_statement_shows_retail_collected_and_the_payout(w, api):
    # given
    Participation.objects.filter(pk=w.participation.pk).update(settlement_model="revenue_share")
    statement = issued_statement(w)

    # when
    body = api.get(f"/api/v1/statements/{statement.pk}/").json()

    # then
    assert body["retail_collected"] == str(statement.retail_collected)
    assert Decimal(body["payout"]) == Decimal(body["retail_collected"]) - Decimal(body["total"])


# --- lines ------------------------------------------------------------------------------------------------------


def test_a_statements_lines_come_in_pages(w, api):
    # given
    statement = issued_statement(w, services=2)

    # when
    first = api.get(f"/api/v1/statements/{statement.pk}/lines/", {"limit": 3})
    second = api.get(f"/api/v1/statements/{statement.pk}/lines/", {"limit": 3, "offset": 3})

    # then
    assert first.status_code == 200
    assert first.json()["count"] == 4
    rows = first.json()["results"] + second.json()["results"]
    assert [row["id"] for row in rows] == list(statement.lines.order_by("pk").values_list("pk", flat=True))
    access = next(row for row in rows if row["kind"] == "access")
    month_days = (add_months(statement.month, 1) - statement.month).days
    assert (access["days"], access["month_days"], access["unit_rate"], access["amount"]) == (
        month_days,
        month_days,
        "100.00",
        "100.00",
    )
    assert access["address_label"]


@pytest.mark.parametrize("how", ["query", "accept"])
def test_the_lines_as_csv_open_in_a_spreadsheet_and_add_up_to_the_subtotal(w, api, how):
    # given: an address with Swedish letters
    statement = issued_statement(w, services=3)
    line = statement.lines.select_related("address").first()
    line.address.street = "Ängsvägen"
    line.address.save(update_fields=["street"])

    # when
    url = f"/api/v1/statements/{statement.pk}/lines/"
    response = api.get(url, {"format": "csv"}) if how == "query" else api.get(url, HTTP_ACCEPT="text/csv")

    # then
    rows = csv_rows(response)
    assert list(rows[0]) == [
        "line",
        "kind",
        "service",
        "subscription",
        "address",
        "profile",
        "category",
        "first_day",
        "until",
        "days",
        "month_days",
        "unit_rate",
        "amount",
    ]
    assert len(rows) == statement.lines.count() == 6
    assert sum(Decimal(row["amount"]) for row in rows) == statement.subtotal
    assert any(row["address"].startswith("Ängsvägen") for row in rows)
    assert response["Content-Disposition"] == f'attachment; filename="{statement.number}-lines.csv"'
    access = next(row for row in rows if row["kind"] == "access")
    assert (access["first_day"], access["until"]) == (
        statement.month.isoformat(),
        add_months(statement.month, 1).isoformat(),
    )


def test_an_error_of_the_csv_is_json(w, api):
    # when
    response = api.get("/api/v1/statements/999999/lines/", HTTP_ACCEPT="text/csv")

    # then
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


# --- disputes ---------------------------------------------------------------------------------------------------


def test_a_provider_disputes_a_line_and_the_rest_stays_due(w, api):
    # given
    statement = issued_statement(w)
    line = statement.lines.get(kind="activation")

    # when
    response = api.post(
        f"/api/v1/statements/{statement.pk}/disputes/",
        {"lines": [{"line": line.pk, "amount": "50.00"}], "reason_code": "duplicate", "text": "Activated in 2025."},
        format="json",
    )

    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["reason_code"], body["amount"]) == ("open", "duplicate", "50.00")
    assert body["statement_number"] == statement.number
    assert body["lines"] == [{"line": line.pk, "amount": "50.00", "line_amount": "50.00", "service": line.service_id}]
    assert (body["age_days"], body["escalation_level"]) == (0, 0)
    shown = api.get(f"/api/v1/statements/{statement.pk}/").json()
    assert shown["status"] == "disputed"
    assert shown["undisputed_amount"] == "125.00"  # 187.50 less 50.00 with its VAT


@pytest.mark.parametrize("amount", ["50.01", "0.00"])
def test_disputing_more_than_a_lines_amount_or_nothing_is_refused(w, api, amount):
    # given: a line of 50.00
    statement = issued_statement(w)
    line = statement.lines.get(kind="activation")

    # when
    response = api.post(
        f"/api/v1/statements/{statement.pk}/disputes/",
        {"lines": [{"line": line.pk, "amount": amount}], "reason_code": "wrong_rate"},
        format="json",
    )

    # then
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_amount"
    assert not StatementDispute.objects.exists()
    statement.refresh_from_db()
    assert statement.status == StatementStatus.ISSUED


def test_disputing_after_the_window_is_refused(w, api):
    # given: issued 40 days ago, disputable for 30 days
    issued_on = timezone.localdate() - timedelta(days=40)
    statement = issued_statement(w, month=add_months(issued_on.replace(day=1), -1), issued_on=issued_on)
    line = statement.lines.first()

    # when
    response = api.post(
        f"/api/v1/statements/{statement.pk}/disputes/",
        {"lines": [{"line": line.pk, "amount": "1.00"}], "reason_code": "not_live"},
        format="json",
    )

    # then
    assert response.status_code == 409
    assert response.json()["code"] == "dispute_window_closed"
    assert not StatementDispute.objects.exists()


def test_a_line_of_another_statement_or_a_line_disputed_already_is_refused(w, api):
    # given
    last_month = add_months(this_month(), -1)
    older = issued_statement(w, month=add_months(last_month, -1))
    statement = issued_statement(w, month=last_month)
    disputed = dispute_of(statement).lines.get().line
    url = f"/api/v1/statements/{statement.pk}/disputes/"

    # when
    elsewhere = api.post(
        url, {"lines": [{"line": older.lines.first().pk, "amount": "1.00"}], "reason_code": "other"}, format="json"
    )
    again = api.post(url, {"lines": [{"line": disputed.pk, "amount": "1.00"}], "reason_code": "other"}, format="json")
    no_lines = api.post(url, {"lines": [], "reason_code": "other"}, format="json")

    # then
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (400, "unknown_line")
    assert (again.status_code, again.json()["code"]) == (409, "line_disputed")
    assert (no_lines.status_code, no_lines.json()["codes"]) == (400, {"lines": {"non_field_errors": ["empty"]}})
    assert StatementDispute.objects.count() == 1


def test_a_provider_lists_its_disputes_with_age_and_escalation(w, api, other):
    # given: one opened 65 days ago and rejected since, one open
    statement = issued_statement(w, services=2)
    old = dispute_of(statement)
    StatementDispute.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=65))
    dispute_reject(dispute_id=old.pk, reason="The service was live: see the ledger.")
    line = statement.lines.order_by("-pk").first()
    new = dispute_open(
        statement_id=statement.pk, provider=w.provider, lines=[{"line": line.pk, "amount": "5.00"}], reason_code="other"
    )

    # when
    response = api.get("/api/v1/disputes/")
    open_only = api.get("/api/v1/disputes/", {"status": "open"})

    # then
    assert response.status_code == 200
    rows = {row["id"]: row for row in response.json()["results"]}
    assert set(rows) == {old.pk, new.pk}
    assert (rows[old.pk]["status"], rows[old.pk]["age_days"], rows[old.pk]["escalation_level"]) == ("rejected", 65, 2)
    assert rows[old.pk]["decision"] == "The service was live: see the ledger."
    assert (rows[new.pk]["status"], rows[new.pk]["age_days"], rows[new.pk]["escalation_level"]) == ("open", 0, 0)
    assert rows[new.pk]["statement_number"] == statement.number
    assert [line["line"] for line in rows[new.pk]["lines"]] == [line.pk]
    assert [row["id"] for row in open_only.json()["results"]] == [new.pk]
    assert api.get(f"/api/v1/disputes/{new.pk}/").json() == rows[new.pk]


def test_a_provider_withdraws_its_dispute(w, api):
    # given
    statement = issued_statement(w)
    dispute = dispute_of(statement)

    # when
    response = api.post(f"/api/v1/disputes/{dispute.pk}/withdraw/", {"reason": "Our mistake."}, format="json")
    again = api.post(f"/api/v1/disputes/{dispute.pk}/withdraw/", {}, format="json")

    # then: the statement is due in full again
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["decision"]) == ("withdrawn", "Our mistake.")
    assert again.status_code == 409
    assert again.json()["code"] == "transition_not_allowed"
    shown = api.get(f"/api/v1/statements/{statement.pk}/").json()
    assert (shown["status"], shown["undisputed_amount"]) == ("issued", shown["total"])


# --- rate cards -------------------------------------------------------------------------------------------------


def test_a_provider_sees_its_own_cards_and_the_default_ones_that_apply_to_it(w, api, other):
    # given: its own card in two versions, a default card, a default card of a marketplace it is not in
    mid = this_month() - timedelta(days=40)
    old = card(w.provider, monthly="100.00", valid_from=mid - timedelta(days=100))
    current = card(w.provider, monthly="120.00", valid_from=mid)
    default = card(None, monthly="150.00", name="Default")
    card(None, monthly="90.00", name="Elsewhere", marketplace=MarketplaceFactory())

    # when
    response = api.get("/api/v1/rate-cards/")

    # then
    assert response.status_code == 200
    rows = {row["id"]: row for row in response.json()["results"]}
    assert set(rows) == {old.pk, current.pk, default.pk}
    assert (rows[old.pk]["valid_to"], rows[old.pk]["in_force"]) == (mid.isoformat(), False)
    assert (rows[current.pk]["version"], rows[current.pk]["in_force"], rows[current.pk]["default"]) == (2, True, False)
    assert rows[default.pk]["default"] is True
    assert rows[current.pk]["rates"] == [
        {
            "category": "internet",
            "profile": "",
            "monthly_rate": "120.00",
            "activation_fee": "0.00",
            "suspended_rate": "0.00",
        }
    ]
    assert api.get(f"/api/v1/rate-cards/{default.pk}/").json() == rows[default.pk]


# --- tenancy ----------------------------------------------------------------------------------------------------


def test_another_provider_reaches_none_of_it(w, other):
    # given: A's statement, its dispute and its card
    statement = issued_statement(w)
    dispute = dispute_of(statement)
    own_card = RateCard.objects.get(provider=w.provider)
    b = provider_client(other.provider)
    b_statement = Statement.objects.get(provider=other.provider)
    line = statement.lines.first()
    before = (list(Statement.objects.values()), list(StatementDispute.objects.values()))

    # when
    lists = {
        url: b.get(url).json()["results"] for url in ("/api/v1/statements/", "/api/v1/disputes/", "/api/v1/rate-cards/")
    }
    reads = [
        b.get(url)
        for url in (
            f"/api/v1/statements/{statement.pk}/",
            f"/api/v1/statements/{statement.pk}/lines/",
            f"/api/v1/statements/{statement.pk}/lines/?format=csv",
            f"/api/v1/statements/{statement.pk}/pdf/",
            f"/api/v1/disputes/{dispute.pk}/",
            f"/api/v1/rate-cards/{own_card.pk}/",
        )
    ]
    body = {"lines": [{"line": line.pk, "amount": "1.00"}], "reason_code": "other"}
    commands = [
        b.post(f"/api/v1/statements/{statement.pk}/disputes/", body, format="json"),
        b.post(f"/api/v1/statements/{b_statement.pk}/disputes/", body, format="json"),  # A's line on B's statement
        b.post(f"/api/v1/disputes/{dispute.pk}/withdraw/", {}, format="json"),
    ]

    # then
    assert [row["id"] for row in lists["/api/v1/statements/"]] == [b_statement.pk]
    assert {row["id"] for row in lists["/api/v1/disputes/"]} == set(
        StatementDispute.objects.filter(statement__provider=other.provider).values_list("pk", flat=True)
    )
    assert {row["id"] for row in lists["/api/v1/rate-cards/"]} == {RateCard.objects.get(provider=other.provider).pk}
    assert [response.status_code for response in reads] == [404] * 6
    assert [response.status_code for response in commands] == [404, 400, 404]
    assert commands[1].json()["code"] == "unknown_line"
    assert (list(Statement.objects.values()), list(StatementDispute.objects.values())) == before


def test_a_draft_is_reached_by_no_one(w, api):
    # given
    issued_statement(w)
    draft = draft_statement(w)

    # when
    responses = [
        api.get(f"/api/v1/statements/{draft.pk}/"),
        api.get(f"/api/v1/statements/{draft.pk}/lines/"),
        api.get(f"/api/v1/statements/{draft.pk}/pdf/"),
        api.post(
            f"/api/v1/statements/{draft.pk}/disputes/",
            {"lines": [{"line": draft.lines.first().pk, "amount": "1.00"}], "reason_code": "other"},
            format="json",
        ),
    ]

    # then
    assert [response.status_code for response in responses] == [404] * 4
    assert not StatementDispute.objects.exists()


# --- query counts -----------------------------------------------------------------------------------------------


def queries_of(api, url: str) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200
    return len(captured), response.json()


def statements_of_months(w, n: int, *, start: int = 1) -> list[Statement]:
    """Statements of the n months before the last `start - 1`, each with a dispute."""
    statements = [issued_statement(w, month=add_months(this_month(), -(start + k))) for k in range(n)]
    for statement in statements:
        dispute_of(statement)
    return statements


def test_listing_statements_and_disputes_costs_the_same_for_2_and_10(w, api, django_assert_max_num_queries):
    # given
    statements_of_months(w, 2)
    small_statements, listed = queries_of(api, "/api/v1/statements/")
    small_disputes, disputes = queries_of(api, "/api/v1/disputes/")
    assert (listed["count"], disputes["count"]) == (2, 2)
    statements_of_months(w, 8, start=3)

    # when / then
    with django_assert_max_num_queries(small_statements):
        response = api.get("/api/v1/statements/")
    assert response.json()["count"] == 10
    assert all(row["undisputed_amount"] != row["total"] for row in response.json()["results"])
    with django_assert_max_num_queries(small_disputes):
        response = api.get("/api/v1/disputes/")
    assert response.json()["count"] == 10
    assert all(len(row["lines"]) == 1 for row in response.json()["results"])


def test_listing_lines_costs_the_same_for_2_and_10(w, api, django_assert_max_num_queries):
    # given: last month's statement with 2 lines, the month before's with 10
    last_month = add_months(this_month(), -1)
    small = issued_statement(w, month=last_month, services=1)
    large = issued_statement(w, month=add_months(last_month, -1), services=5)
    count, listed = queries_of(api, f"/api/v1/statements/{small.pk}/lines/")
    assert listed["count"] == 2

    # when / then
    with django_assert_max_num_queries(count):
        response = api.get(f"/api/v1/statements/{large.pk}/lines/")
    assert response.json()["count"] == 10
    with django_assert_max_num_queries(count):
        assert len(csv_rows(api.get(f"/api/v1/statements/{large.pk}/lines/?format=csv"))) == 10


def test_listing_rate_cards_costs_the_same_for_2_and_10(w, api, django_assert_max_num_queries):
    # given: versions of the provider's card, each from its own day
    first = timezone.localdate() - timedelta(days=100)
    for k in range(2):
        card(w.provider, valid_from=first + timedelta(days=k))
    count, listed = queries_of(api, "/api/v1/rate-cards/")
    assert listed["count"] == 2
    for k in range(2, 10):
        card(w.provider, valid_from=first + timedelta(days=k))

    # when / then
    with django_assert_max_num_queries(count):
        response = api.get("/api/v1/rate-cards/")
    assert response.json()["count"] == 10
    assert all(len(row["rates"]) == 1 for row in response.json()["results"])
