"""The operator's settlement page (/ops/settlement/): a month of each provider's statement, settlement variance
coloured against the board's target and alert, variance rows by kind leading to their list, open disputes with age
and escalation, and twelve months of totals as an inline SVG chart; a fixed cost; only the operator's staff."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import strip_tags

from cos.choices import OrganizationKind, Role
from cos.periods import add_months
from cos.services import membership_grant
from provisioning.models import ServicePeriod
from tests.billing.factories import at
from tests.cos.factories import OrganizationFactory, UserFactory
from tests.marketplace.factories import world
from tests.wholesale.factories import card, local, operator, service_with_periods
from wholesale.choices import DisputeStatus, LineKind, VarianceKind
from wholesale.models import Statement, StatementDispute, Variance
from wholesale.selectors import SettlementVariance
from wholesale.services import dispute_open, statement_issue
from wholesale.settlement import settlement_run
from wholesale.variance import settlement_variance, variance_check

pytestmark = pytest.mark.django_db

PAGE = "/ops/settlement/"
NOVEMBER = date(2026, 11, 1)
# Mid-December 2026: November is the last month that is over.
TODAY = at(date(2026, 12, 15))


def _staff(client, role: str = Role.FINANCE, username: str = "fia-finance"):
    user = UserFactory(username=username)
    membership_grant(user=user, organization=operator(), role=role)
    client.force_login(user)
    return client


def _november(w, services: int = 1):
    """November 2026 settled and issued for `w`'s provider, `services` services live all month at 300."""
    for _ in range(services):
        service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    statements = [s for s in settlement_run(month="2026-11").statements if s.provider_id == w.provider.pk]
    with time_machine.travel(at(date(2026, 12, 1)), tick=False):
        return [statement_issue(statement_id=s.pk) for s in statements]


def _row(response, provider) -> dict:
    """The figures of a provider's row of the table, as the page shows them."""
    (item,) = [item for item in response.context["rows"] if item["row"].provider.pk == provider.pk]
    return item


def _history_statement(provider, month: date, total: str) -> Statement:
    return Statement.objects.create(
        operator=operator(), provider=provider, currency="SEK", month=month, total=Decimal(total)
    )


def test_each_providers_month_with_its_variance_colour_kinds_and_open_disputes(client):
    # given: two providers on one network at 300 a month; Alfa with one service, Beta with two
    card(monthly="300.00")
    alfa_world, beta_world = world(), world()
    alfa_world.provider.name, beta_world.provider.name = "Alfa Fiber", "Beta Net"
    alfa_world.provider.save(update_fields=["name"])
    beta_world.provider.save(update_fields=["name"])
    (alfa,) = _november(alfa_world)
    (beta,) = _november(beta_world, services=2)
    # the last variance check: a small rate mismatch for Alfa, a service missing from Beta's statement and a retail
    # difference (not a network one, so not in the settlement variance)
    for provider, kind, amount in (
        (alfa.provider, VarianceKind.RATE_MISMATCH, "1.20"),
        (beta.provider, VarianceKind.LIVE_NOT_ON_STATEMENT, "8.00"),
        (beta.provider, VarianceKind.RETAIL_WITHOUT_WHOLESALE, "10.00"),
        (beta.provider, VarianceKind.RETAIL_WITHOUT_WHOLESALE, "5.00"),
    ):
        Variance.objects.create(operator=operator(), provider=provider, month=NOVEMBER, kind=kind, amount=amount)
    # Beta disputes a line on 2 December; it has been open since then
    line = beta.lines.filter(kind=LineKind.ACCESS).first()
    dispute = dispute_open(
        statement_id=beta.pk,
        provider=beta.provider,
        lines=[{"line": line.pk, "amount": "50.00"}],
        reason_code="not_live",
        today=date(2026, 12, 2),
    )
    StatementDispute.objects.filter(pk=dispute.pk).update(created_at=TODAY - timedelta(days=35))
    # when
    with time_machine.travel(TODAY, tick=False):
        _staff(client)
        response = client.get(PAGE)
    # then: November, by default
    assert response.status_code == 200
    assert response.context["month"] == NOVEMBER
    a, b = _row(response, alfa.provider), _row(response, beta.provider)
    # each provider's statement, its state and total, linked to its admin page
    assert [(s.number, s.status, s.total, url) for s, url in a["statements"]] == [
        (alfa.number, "issued", Decimal("375.00"), reverse("admin:wholesale_statement_change", args=[alfa.pk]))
    ]
    assert [(s.status, s.total) for s, _ in b["statements"]] == [("disputed", Decimal("750.00"))]
    # settlement variance: 1.20 of 301.20 expected is on target; 8 of 608 is past the alert
    assert (a["row"].variance.expected, a["row"].variance.actual) == (Decimal("301.20"), Decimal("300.00"))
    assert (a["row"].variance.percent, a["row"].variance.level) == (Decimal("0.40"), "ok")
    assert (b["row"].variance.percent, b["row"].variance.level) == (Decimal("1.32"), "bad")
    # the variance rows by kind, each leading to exactly its rows in the admin
    assert [(k.kind, k.count, k.amount) for k, _ in b["kinds"]] == [
        (VarianceKind.LIVE_NOT_ON_STATEMENT, 1, Decimal("8.00")),
        (VarianceKind.RETAIL_WITHOUT_WHOLESALE, 2, Decimal("15.00")),
    ]
    _, retail_url = b["kinds"][1]
    listed = client.get(retail_url)
    assert {(row.provider_id, row.kind) for row in listed.context["cl"].result_list} == {
        (beta.provider.pk, VarianceKind.RETAIL_WITHOUT_WHOLESALE)
    }
    assert len(listed.context["cl"].result_list) == 2
    # the open dispute, 35 days old: escalated once
    assert a["disputes"] == []
    ((open_dispute, dispute_url),) = b["disputes"]
    assert (open_dispute.dispute.pk, open_dispute.age_days, open_dispute.escalation) == (dispute.pk, 35, 1)
    assert dispute_url == reverse("admin:wholesale_statementdispute_change", args=[dispute.pk])
    # and as a person reads it
    text = " ".join(strip_tags(response.content.decode()).split())
    assert "0.40 %" in text
    assert "1.32 %" in text
    assert f"Dispute {dispute.pk} of {beta.number} 50.00 35 days open level 1" in text
    html = response.content.decode()
    assert re.search(r'class="badge variance ok" data-level="ok"[^>]*>0.40 %', html)
    assert re.search(r'class="badge variance bad" data-level="bad"[^>]*>1.32 %', html)


def test_the_variance_figure_is_the_variance_checks_for_an_injected_fault(client):
    # given: November issued with two services live all month; then the ledger learns one ended on 11 November
    card(monthly="300.00")
    w = world()
    (statement,) = _november(w, services=2)
    lost = ServicePeriod.objects.filter(provider=w.provider).order_by("pk").first()
    ServicePeriod.objects.filter(pk=lost.pk).update(ended_at=local(date(2026, 11, 11)), end_cause="deactivate")
    variance_check(month="2026-11")
    # when
    with time_machine.travel(TODAY, tick=False):
        _staff(client)
        response = client.get(PAGE, {"month": "2026-11"})
    # then: the page's figure is the variance module's, and far past the alert
    checked = settlement_variance(provider=w.provider, month="2026-11")
    shown = _row(response, w.provider)["row"].variance
    assert (shown.expected, shown.actual) == (checked["expected"], checked["actual"])
    assert shown.ratio == checked["ratio"]
    assert shown.level == "bad"


@pytest.mark.parametrize(
    ("expected", "actual", "level"),
    [
        ("1000.00", "1005.00", "ok"),  # 0.5 %: on target
        ("1000.00", "1005.01", "warn"),
        ("1000.00", "990.00", "warn"),  # 1 %: not yet an alert
        ("1000.00", "989.99", "bad"),
        ("0.00", "0.00", "none"),
        ("0.00", "10.00", "bad"),  # charged where nothing was expected
    ],
)
def test_the_variance_colour_follows_the_boards_target_and_alert(expected, actual, level):
    assert SettlementVariance(Decimal(expected), Decimal(actual)).level == level


def test_the_chart_draws_twelve_months_of_each_providers_totals(client):
    # given: Alfa's statements in September, October and November; Beta's only in October; one older than 12 months
    alfa, beta = world().provider, world().provider
    for month, total in ((date(2026, 9, 1), "1000.00"), (date(2026, 10, 1), "1250.00"), (NOVEMBER, "1500.00")):
        _history_statement(alfa, month, total)
    _history_statement(beta, date(2026, 10, 1), "400.00")
    _history_statement(beta, date(2025, 11, 1), "999.00")
    # when
    with time_machine.travel(TODAY, tick=False):
        _staff(client)
        response = client.get(PAGE)
    # then: months December 2025 to November 2026, one line per provider with a point per statement
    chart = response.context["chart"]
    assert [m for _, m, _ in chart.months][:2] == ["Dec", "Jan"]
    assert [year for _, _, year in chart.months if year] == ["2025", "2026"]
    by_label = {series.label: series for series in chart.series}
    assert len(by_label[alfa.name].points) == 3
    assert by_label[alfa.name].totals[-3:] == [Decimal("1000.00"), Decimal("1250.00"), Decimal("1500.00")]
    assert by_label[beta.name].totals.count(None) == 11  # the older statement is outside the twelve months
    # drawn on the server: an inline SVG with a path per provider, no script
    html = response.content.decode()
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count("<path") == 2
    assert "<script" not in svg
    assert f"{alfa.name}, 2026-11: 1500.00 SEK" in svg
    # the highest point is the highest total
    top = min(y for _, y, _ in by_label[alfa.name].points)
    assert top == by_label[alfa.name].points[-1][1]


def test_another_month_is_picked_and_a_bad_one_is_said_so(client):
    # given
    w = world()
    _history_statement(w.provider, date(2026, 6, 1), "100.00")
    with time_machine.travel(TODAY, tick=False):
        _staff(client)
        # when
        june = client.get(PAGE, {"month": "2026-06"})
        bad = client.get(PAGE, {"month": "2026-13"})
    # then
    assert june.context["month"] == date(2026, 6, 1)
    assert [s.total for s, _ in _row(june, w.provider)["statements"]] == [Decimal("100.00")]
    assert 'value="2026-06"' in june.content.decode()
    assert bad.context["month"] == NOVEMBER
    assert "is not a month" in bad.content.decode()


def _providers_with_history(count: int) -> None:
    """`count` providers, each with twelve months of statements, lines, variance rows of two kinds and two open
    disputes."""
    for _ in range(count):
        provider = world().provider
        for months_back in range(1, 12):
            _history_statement(provider, add_months(NOVEMBER, -months_back), "100.00")
        statement = _history_statement(provider, NOVEMBER, "100.00")
        statement.lines.create(kind=LineKind.ACCESS, amount=Decimal("100.00"))
        for kind in (VarianceKind.RATE_MISMATCH, VarianceKind.WHOLESALE_WITHOUT_RETAIL):
            Variance.objects.create(operator=operator(), provider=provider, month=NOVEMBER, kind=kind, amount=1)
        for _ in range(2):
            StatementDispute.objects.create(
                statement=statement, reason_code="other", amount=Decimal("1.00"), status=DisputeStatus.OPEN
            )


def _page_queries(client) -> tuple[int, object]:
    with time_machine.travel(TODAY, tick=False), CaptureQueriesContext(connection) as queries:
        response = client.get(PAGE)
    assert response.status_code == 200
    return len(queries), response


def test_the_page_costs_the_same_queries_for_one_provider_as_for_five(client, django_assert_max_num_queries):
    # given
    with time_machine.travel(TODAY, tick=False):
        _staff(client)
    _providers_with_history(1)
    one, _ = _page_queries(client)
    _providers_with_history(4)
    # when
    with django_assert_max_num_queries(12):
        five, response = _page_queries(client)
    # then
    assert len(response.context["rows"]) == 5
    assert all(len(item["disputes"]) == 2 and len(item["kinds"]) == 2 for item in response.context["rows"])
    assert len(response.context["chart"].series) == 5
    assert five == one


def test_operations_reads_the_page_with_its_links(client):
    # given
    w = world()
    _history_statement(w.provider, NOVEMBER, "100.00")
    # when
    with time_machine.travel(TODAY, tick=False):
        _staff(client, Role.OPERATIONS, "olle-ops")
        response = client.get(PAGE)
    # then
    assert response.status_code == 200
    assert _row(response, w.provider)["statements"][0][1]


def test_the_console_links_to_the_page(client):
    with time_machine.travel(TODAY, tick=False):
        _staff(client)
        console = client.get(reverse("ops-console"))
    assert f'href="{PAGE}"' in console.content.decode()


def test_only_the_operators_staff_read_the_page(client, django_user_model):
    # given: a provider's figures, and three people who are not the operator's finance or operations staff
    w = world()
    _history_statement(w.provider, NOVEMBER, "123.45")
    subscriber = UserFactory(username="sam-subscriber")
    contractor_boss = UserFactory(username="kim-contractor")
    membership_grant(
        user=contractor_boss,
        organization=OrganizationFactory(kind=OrganizationKind.CONTRACTOR),
        role=Role.FIELD_MANAGER,
    )
    field_manager = UserFactory(username="fred-field")
    membership_grant(user=field_manager, organization=operator(), role=Role.FIELD_MANAGER)
    for user in (contractor_boss, field_manager):
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    responses = {}
    with time_machine.travel(TODAY, tick=False):
        for user in (subscriber, contractor_boss, field_manager):
            client.force_login(user)
            responses[user.username] = client.get(PAGE)
        client.logout()
        responses["anonymous"] = client.get(PAGE)
    # then: sent to the admin's login, or refused; the figures never shown
    assert responses["sam-subscriber"].status_code == 302
    assert responses["anonymous"].status_code == 302
    assert responses["kim-contractor"].status_code == 403
    assert responses["fred-field"].status_code == 403
    for response in responses.values():
        assert "123.45" not in response.content.decode()
        assert w.provider.name not in response.content.decode()
