"""The board's metrics on known worlds: the exact value and colour, and the drill-down listing exactly the rows
counted; the page, its CSV and JSON, and who may read them."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from assurance.metrics import METRICS, Scope, colour_of
from billing.overrides import invoice_discount
from cos.choices import Role
from cos.services import api_token_issue, membership_grant
from marketplace import services as marketplace_services
from marketplace.errors import OrderInvalid
from marketplace.models import ValidationFailure
from marketplace.validation import LineRequest
from provisioning.choices import PeriodCause
from tests.billing.factories import activate
from tests.cos.factories import UserFactory
from tests.marketplace.factories import world
from tests.wholesale.factories import operator, service_with_periods
from workorders import services as field
from workorders.choices import WorkOrderKind
from workorders.models import WorkOrderTemplate

pytestmark = pytest.mark.django_db


def _now():
    return timezone.now()


def _reading_and_rows(key, scope=None):
    compute, rows = METRICS[key]
    scope = scope or Scope()
    return compute(scope, _now()), rows(scope, _now())


def _live(w, *, billed: bool):
    """A service live on the ledger since an hour ago, billed from its activation today (or not billed at all)."""
    started = _now() - timedelta(hours=1)
    service = service_with_periods(w, [(started, None, PeriodCause.ACTIVATE, None)])
    if billed:
        activate(service.subscription, timezone.localdate())
    return service


def test_active_but_unbilled_counts_live_services_no_invoice_covers_today_and_lists_them():
    # given: four services live on the network, three billed for today, one never billed
    w = world()
    for _ in range(3):
        _live(w, billed=True)
    unbilled = _live(w, billed=False)
    # when
    reading, rows = _reading_and_rows("active_unbilled")
    # then: 1 of 4 = 25 %, red (alert at 1 %), and the row is that service, linked to its admin page
    assert (reading.numerator, reading.denominator, reading.value, reading.colour) == (1, 4, Decimal("0.25"), "red")
    assert reading.shown == "25.00 %"
    assert [row.url for row in rows] == [reverse("admin:provisioning_serviceinstance_change", args=[unbilled.pk])]
    assert "no open exception explains it" in rows[0].detail


def test_a_day_billed_then_given_back_by_a_credit_note_counts_as_unbilled():
    from billing.changes import billing_stop

    # given: two live services billed for today; one's billing stopped today, its unused days credited back
    w = world()
    _live(w, billed=True)
    credited = _live(w, billed=True)
    billing_stop(subscription_id=credited.subscription_id, deactivated_at=_now() - timedelta(minutes=1))
    # when
    reading, rows = _reading_and_rows("active_unbilled")
    # then: still live on the ledger, its day no longer billed: 1 of 2
    assert (reading.numerator, reading.denominator) == (1, 2)
    assert [row.url for row in rows] == [reverse("admin:provisioning_serviceinstance_change", args=[credited.pk])]


def test_the_activation_to_invoice_lag_is_the_median_and_its_p99_of_the_weeks_activations():
    # given: two activations this week, invoiced 1 hour and 5 hours after the device reported them
    w = world()
    lags = []
    for days_ago, hours in ((3, 1), (2, 5)):
        started = _now() - timedelta(days=days_ago)
        service = service_with_periods(w, [(started, None, PeriodCause.ACTIVATE, None)])
        with time_machine.travel(started + timedelta(hours=hours), tick=False):
            activate(service.subscription, timezone.localdate())
        lags.append(hours * 3600)
    # when
    reading, rows = _reading_and_rows("activation_lag")
    # then: median 3 hours = 0.125 days (green: within a day); p99 the slowest
    assert reading.value == Decimal("0.1250")
    assert reading.extra["median_seconds"] == pytest.approx(3 * 3600, abs=1)
    assert reading.extra["p99_seconds"] == pytest.approx(5 * 3600, abs=1)
    assert reading.colour == "green"
    assert len(rows) == 2
    assert all("invoiced after" in row.detail for row in rows)


def test_pricing_exceptions_are_the_weeks_invoices_with_a_manual_price_or_discount(django_user_model, goodwill):
    # given: two invoices this week, finance discounts one of them
    w = world()
    first = _live(w, billed=True)
    _live(w, billed=True)
    from billing.models import Invoice

    finance = UserFactory(username="fia", is_superuser=True, is_staff=True)
    invoice = Invoice.objects.filter(lines__subscription=first.subscription).first()
    invoice_discount(invoice_id=invoice.pk, amount="10.00", reason_code=goodwill.code, actor=finance)
    # when
    reading, rows = _reading_and_rows("pricing_exceptions")
    # then: 1 of 2 invoices (the credit note correcting it is not an invoice of its own)
    assert (reading.numerator, reading.denominator, reading.colour) == (1, 2, "red")
    assert [row.label for row in rows] == [invoice.number]


def test_data_quality_counts_a_refused_order_once_however_many_problems_it_had():
    # given: one order placed, one refused for two problems (terms not accepted, and a price that is not the offer's)
    w = world()
    marketplace_services.order_place(request=w.request())
    wrong_price = [LineRequest(w.internet.pk, Decimal("1.00"), "SEK")]
    with pytest.raises(OrderInvalid):
        marketplace_services.order_place(request=w.request(terms_accepted=False, lines=wrong_price))
    assert ValidationFailure.objects.count() >= 2
    # when
    reading, rows = _reading_and_rows("data_quality")
    # then: 1 refused of 2 requests
    assert (reading.numerator, reading.denominator, reading.value) == (1, 2, Decimal("0.5"))
    assert len(rows) == 1
    assert ";" in rows[0].detail  # its problems on one row


def test_no_charge_rework_counts_completed_jobs_revisited_within_14_days_without_charge(templates, crew, deliver):
    from tests.workorders.factories import assign, installation_work_order, work_through

    # given: two completed installations; one revisited free of charge, the other revisited and charged
    assert WorkOrderTemplate.objects.filter(kind=WorkOrderKind.REPAIR, is_active=True).exists()  # the demo's
    jobs = []
    for number in (4, 6):
        job = installation_work_order(street="Kvarngatan", house_number=number)
        assign(job, user=crew.staff_tech, positions=list(range(1, 9)))
        deliver(work_through, job, crew.staff_tech)
        jobs.append(job)
    field.work_order_revisit(work_order_id=jobs[0].pk, reason="No light at the ONT", charged=False)
    field.work_order_revisit(work_order_id=jobs[1].pk, reason="Customer moved the ONT", charged=True)
    # when
    reading, rows = _reading_and_rows("rework")
    # then: 1 of 2 (50 %, red), and the row is the first job
    assert (reading.numerator, reading.denominator, reading.colour) == (1, 2, "red")
    assert [row.url for row in rows] == [reverse("admin:workorders_workorder_change", args=[jobs[0].pk])]


def test_a_revisit_needs_a_reason_a_finished_job_and_a_repair_template(templates, crew, deliver):
    from cos.errors import ApplicationError
    from tests.workorders.factories import installation_work_order

    job = installation_work_order(street="Kvarngatan", house_number=8)
    with pytest.raises(ApplicationError, match="Say what is wrong"):
        field.work_order_revisit(work_order_id=job.pk, reason=" ")
    with pytest.raises(ApplicationError, match="only a finished job"):
        field.work_order_revisit(work_order_id=job.pk, reason="again")


def test_the_colours_follow_the_operators_thresholds(settings):
    assert colour_of("active_unbilled", Decimal("0.002")) == "green"
    assert colour_of("active_unbilled", Decimal("0.005")) == "amber"
    assert colour_of("active_unbilled", Decimal("0.01")) == "red"
    assert colour_of("activation_lag", Decimal("1")) == "green"  # "≤ 1 day"
    assert colour_of("activation_lag", Decimal("3")) == "amber"
    assert colour_of("activation_lag", Decimal("3.01")) == "red"  # "alert > 3 days"
    settings.BOARD_THRESHOLDS = {"active_unbilled": {"target": "0.01", "alert": "0.05"}}
    assert colour_of("active_unbilled", Decimal("0.005")) == "green"
    assert colour_of("data_quality", None) == "grey"


def _staff(client, role=Role.OPERATIONS):
    user = UserFactory(username=f"olle-{role}")
    membership_grant(user=user, organization=operator(), role=role)
    client.force_login(user)
    return user


def test_the_board_shows_each_metric_with_its_colour_and_opens_its_rows(client):
    # given: one of two live services unbilled
    w = world()
    _live(w, billed=True)
    unbilled = _live(w, billed=False)
    _staff(client)
    # when
    page = client.get(reverse("ops-board"))
    rows = client.get(reverse("ops-board-rows", args=["active_unbilled"]))
    sheet = client.get(reverse("ops-board-rows", args=["active_unbilled"]) + "?format=csv")
    # then
    assert page.status_code == 200
    cards = {card["reading"].key: card for card in page.context["cards"]}
    assert set(cards) == set(METRICS)
    assert cards["active_unbilled"]["reading"].colour == "red"
    assert 'id="metric-active_unbilled" data-colour="red"' in page.content.decode()
    # its trend: twelve weeks, of which only this one had services live (the others are empty)
    assert [text for *_, text, _week in cards["active_unbilled"]["trend"].points] == [
        f"{timezone.localtime():%Y-%m-%d}: 50.00 %"
    ]
    assert reverse("admin:provisioning_serviceinstance_change", args=[unbilled.pk]) in rows.content.decode()
    table = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert table[0] == ["row", "detail", "link"]
    assert len(table) == 2


def test_the_board_is_json_for_a_staff_token_and_refused_to_a_provider(client):
    staff = UserFactory(username="bi-robot", is_staff=True)
    membership_grant(user=staff, organization=operator(), role=Role.FINANCE)
    _, key = api_token_issue(user=staff, name="BI")
    w = world()
    provider_user = UserFactory(username="prov-api")
    membership_grant(user=provider_user, organization=w.provider, role=Role.API)
    _, provider_key = api_token_issue(user=provider_user, name="provider")
    # when
    answer = client.get(reverse("ops-board-json") + "?weeks=2", HTTP_AUTHORIZATION=f"Token {key}")
    refused = client.get(reverse("ops-board-json"), HTTP_AUTHORIZATION=f"Token {provider_key}")
    bad = client.get(reverse("ops-board-json") + "?weeks=99", HTTP_AUTHORIZATION=f"Token {key}")
    # then
    assert answer.status_code == 200
    body = answer.json()
    assert [m["key"] for m in body["metrics"]] == list(METRICS)
    assert all(len(m["weeks"]) == 2 for m in body["metrics"])
    assert refused.status_code == 403
    assert refused["Content-Type"].startswith("application/json")
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_weeks"


def test_the_board_is_for_the_operators_staff_only(client):
    user = UserFactory(username="fred", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("ops-board")).status_code == 403
    assert client.get(reverse("ops-board-rows", args=["rework"])).status_code == 403
    _staff(client)
    assert client.get(reverse("ops-board-rows", args=["no-such-metric"])).status_code == 404


def test_operations_sends_a_revisit_from_the_admin_and_it_counts_as_rework(admin_client, templates, crew, deliver):
    from tests.workorders.factories import assign, installation_work_order, work_through
    from workorders.models import WorkOrder

    job = installation_work_order(street="Kvarngatan", house_number=10)
    assign(job, user=crew.staff_tech, positions=list(range(1, 9)))
    deliver(work_through, job, crew.staff_tech)
    url = reverse("admin:workorders_workorder_changelist")
    answer = admin_client.post(
        url,
        {
            "action": "action_revisit__a_repair_of_a_finished_job",
            "_selected_action": [job.pk],
            "apply": "1",
            "reason": "No light after the storm",
        },
        follow=True,
    )
    assert answer.status_code == 200
    (revisit,) = WorkOrder.objects.filter(reworks=job)
    assert (revisit.kind, revisit.charged, revisit.notes) == ("repair", False, "No light after the storm")
    reading, rows = _reading_and_rows("rework")
    assert (reading.numerator, reading.denominator) == (1, 1)


def test_an_activation_without_an_order_is_red_from_the_week_the_sync_found_it():
    from provisioning.choices import ExceptionKind
    from provisioning.sync import contract_exception_record

    found = contract_exception_record(
        ExceptionKind.ACTIVATION_WITHOUT_ORDER,
        service=None,
        ont_serial="ADTN00000042",
        device_service_id="fieldtest-9",
        detail="ADTN00000042 delivers fieldtest-9, which no order asked for.",
    )
    now, compute, rows_of = _now(), *METRICS["activations_without_order"]
    assert (compute(Scope(), now).value, compute(Scope(), now).colour) == (1, "red")
    assert [row.url for row in rows_of(Scope(), now)] == [
        reverse("admin:provisioning_contractexception_change", args=[found.pk])
    ]
    a_week_before = now - timedelta(days=8)
    assert (compute(Scope(), a_week_before).value, compute(Scope(), a_week_before).colour) == (0, "green")
    assert rows_of(Scope(), a_week_before) == []


def test_credit_velocity_is_the_30_days_credit_notes_over_what_was_invoiced(goodwill):
    from billing.models import Invoice
    from billing.overrides import invoice_credit

    # given: two first invoices this month, and a credit of 20.00 on one of them
    w = world()
    first, second = _live(w, billed=True), _live(w, billed=True)
    invoices = list(
        Invoice.objects.filter(lines__subscription__in=[first.subscription, second.subscription]).distinct()
    )
    finance = UserFactory(username="fia-credit", is_superuser=True, is_staff=True)
    override = invoice_credit(invoice_id=invoices[0].pk, amount="20.00", reason_code=goodwill.code, actor=finance)
    credited = -override.result.total  # 20.00 and its VAT, as the invoice states its prices without it
    assert credited == Decimal("25.00")
    billed = sum(i.total for i in invoices)
    # when
    reading, rows = _reading_and_rows("credit_velocity")
    # then
    assert (reading.numerator, reading.denominator) == (credited, billed)
    assert reading.value == (credited / billed).quantize(Decimal("0.000001"))
    assert reading.colour == colour_of("credit_velocity", reading.value)
    (row,) = rows
    assert row.label.startswith("CN-")


def test_settlement_variance_is_last_months_gap_between_the_ledger_and_the_statements():
    from datetime import date

    from tests.billing.factories import at
    from tests.wholesale.factories import card, local
    from wholesale.services import statement_issue
    from wholesale.settlement import settlement_run
    from wholesale.variance import variance_check

    # given: November charged for one service at 300; a second one, recorded after the statement, was live too
    w = world()
    card(monthly="300.00")
    service_with_periods(w, [(local(date(2026, 10, 1)), None, None, None)])
    with time_machine.travel(at(date(2026, 12, 1)), tick=False):
        for statement in settlement_run(month="2026-11").statements:
            statement_issue(statement_id=statement.pk)
    late = service_with_periods(w, [(local(date(2026, 11, 16)), None, None, None)])
    variance_check(month="2026-11")
    # when: the board in December
    with time_machine.travel(at(date(2026, 12, 10)), tick=False):
        reading, rows = _reading_and_rows("settlement_variance")
    # then: expected 300 + 150, charged 300: 150 / 450 = 33.33 %, red; the row is the late service's
    assert (reading.numerator, reading.denominator) == (Decimal("150.00"), Decimal("450.00"))
    assert reading.shown == "33.33 %"
    assert reading.colour == "red"
    assert reading.extra["month"] == "2026-11"
    assert [row.detail.split()[-1] for row in rows] == [str(late.pk)]


def test_dso_is_receivables_over_the_quarters_daily_billing_with_and_without_disputed_balances():
    from billing.models import Invoice

    # given: two first invoices this quarter, one of them paid
    w = world()
    first, second = _live(w, billed=True), _live(w, billed=True)
    invoices = list(
        Invoice.objects.filter(lines__subscription__in=[first.subscription, second.subscription]).distinct()
    )
    from billing.payments import payment_record

    payment_record(
        invoice_id=invoices[0].pk, amount=invoices[0].total, method_type="bank_transfer", external_reference="BG-1"
    )
    billed = sum(i.total for i in invoices)
    # when
    reading, rows = _reading_and_rows("dso")
    # then: what is open (the second invoice) over a day's billing of the last 90 days
    expected = (invoices[1].total / (billed / 90)).quantize(Decimal("0.01"))
    assert reading.value == expected
    assert reading.extra["excluding_disputed"] == str(expected)  # no card dispute holds any of it
    assert reading.colour == "grey"  # no quarter before to compare with
    assert [row.label for row in rows] == [invoices[1].number]


def test_a_metric_turning_red_tells_the_staff_once_per_crossing(mailoutbox, django_capture_on_commit_callbacks):
    from assurance.alerts import board_check
    from assurance.models import BoardAlert
    from cos.models import Message

    # given: the operator's finance and operations staff; one of two live services unbilled (red)
    ops = UserFactory(username="olle-alert", email="olle@operator.example", is_staff=True)
    membership_grant(user=ops, organization=operator(), role=Role.OPERATIONS)
    fia = UserFactory(username="fia-alert", email="fia@operator.example", is_staff=True)
    membership_grant(user=fia, organization=operator(), role=Role.FINANCE)
    w = world()
    _live(w, billed=True)
    unbilled = _live(w, billed=False)
    # when: the check runs twice
    with django_capture_on_commit_callbacks(execute=True):
        first = board_check()
    with django_capture_on_commit_callbacks(execute=True):
        second = board_check()
    # then: one alert per red scope (the network, the marketplace, the provider), each told to both once
    network = BoardAlert.objects.get(metric="active_unbilled", scope="network", closed_at__isnull=True)
    assert network.notified == 2
    assert second["opened"] == 0
    assert first["opened"] == BoardAlert.objects.count()
    told = Message.objects.filter(user__in=[ops, fia], key=f"board-alert-{network.pk}")
    assert sorted(told.values_list("to", flat=True)) == ["fia@operator.example", "olle@operator.example"]
    sent = [m for m in mailoutbox if "Active-but-unbilled rate" in m.subject and m.to == ["olle@operator.example"]]
    assert any("/ops/board/active_unbilled/" in m.body for m in sent)
    # and once billed again it leaves red: the alert closes, a new crossing will tell them again
    activate(unbilled.subscription, timezone.localdate())
    assert board_check()["closed"] >= 1
    network.refresh_from_db()
    assert network.closed_at is not None


def test_the_board_costs_the_same_queries_for_two_services_as_for_eight(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _staff(client)
    w = world()
    assert client.get(reverse("ops-board")).status_code == 200  # the closed weeks computed once, and kept
    counts = []
    for more in (2, 6):
        for index in range(more):
            _live(w, billed=index % 2 == 0)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("ops-board")).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_closed_weeks_reading_is_kept_then_read_and_judged_against_todays_thresholds(client, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from assurance.models import WeekReading
    from assurance.trends import week_ends

    # given: a service live and never billed since three weeks ago
    w = world()
    service_with_periods(w, [(_now() - timedelta(days=21), None, PeriodCause.ACTIVATE, None)])
    _staff(client)
    # when the board is read twice
    with CaptureQueriesContext(connection) as first:
        page = client.get(reverse("ops-board"))
    with CaptureQueriesContext(connection) as second:
        again = client.get(reverse("ops-board"))
    # then: the eleven closed weeks were computed once, as of each week's end (a local Sunday's last instant), kept
    ends = week_ends(_now(), 12)
    assert len(ends) == 11
    assert all(end.weekday() == 6 and end < _now() for end in ends)
    assert WeekReading.objects.filter(scope="network", metric__in=list(METRICS)).count() == 11 * len(METRICS)
    assert len(second) < len(first) - 11  # read, not computed again
    trend = {c["reading"].key: c["trend"] for c in again.context["cards"]}["active_unbilled"]
    kept = WeekReading.objects.filter(metric="active_unbilled", value__isnull=False).order_by("week_end")
    assert [p[3] for p in trend.points][: kept.count()] == [
        f"{timezone.localtime(r.week_end):%Y-%m-%d}: 100.00 %" for r in kept
    ]
    assert kept.count() in (2, 3)
    assert all(p[2] == "#b42318" for p in trend.points)
    # a point's drill-down reads the very moment the kept reading was taken: the same numbers
    week = f"{timezone.localtime(kept[0].week_end):%Y-%m-%d}"
    rows = client.get(reverse("ops-board-rows", args=["active_unbilled"]) + f"?at={week}")
    assert (rows.context["reading"].numerator, rows.context["reading"].denominator) == (
        kept[0].numerator,
        kept[0].denominator,
    )
    # the operator raises the alert level: the kept weeks are judged again (amber), their figures unchanged
    settings.BOARD_THRESHOLDS = {"active_unbilled": {"target": "0.5", "alert": "2"}}
    later = client.get(reverse("ops-board"))
    trend = {c["reading"].key: c["trend"] for c in later.context["cards"]}["active_unbilled"]
    assert {p[2] for p in trend.points} == {"#9a6700"}
    assert page.status_code == again.status_code == later.status_code == 200
