"""Provider API, subscriptions: listing and reading your subscriptions, the lifecycle commands (terminate, withdraw
a notice, change plan, suspend, resume) and the service ledger (GET services/{id}/periods/).

The clock stands still at START unless a test moves it: contract days (the notice, the minimum term, the next
billing period) are local days of the marketplace's time zone, Europe/Stockholm. Cross-provider 404s of these
endpoints are walked in test_tenancy.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from cos.models import Event, TransitionLog
from marketplace import services
from marketplace.models import Subscription, SubscriptionChange
from provisioning.models import ServiceInstance
from provisioning.simulator import Simulator
from tests.cos.factories import AddressFactory, OLTFactory, ONTFactory, PonPortFactory
from tests.marketplace.api.conftest import order_body, provider_client
from tests.marketplace.factories import PriceFactory, ProductFactory, world

pytestmark = pytest.mark.django_db

STOCKHOLM = ZoneInfo("Europe/Stockholm")
START = datetime(2031, 1, 15, 10, 0, tzinfo=STOCKHOLM)  # activation day in most tests
NOTICE_END = date(2031, 2, 14)  # START + the factory's 30 days of notice
MINIMUM_END = date(2032, 1, 15)  # START + the factory's 12 months: the first day without a minimum term
NEXT_PERIOD = date(2031, 2, 1)  # the start of the next monthly billing period after START


@pytest.fixture
def clock():
    """The clock stands at START; a test moves it with `clock.move_to(...)`."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def w(clock):
    """Provider A's world (see conftest), built at START."""
    return world()


@pytest.fixture
def command(django_capture_on_commit_callbacks):
    """POST a lifecycle command and run what its commit triggers (the events' handlers), as a real request would."""

    def post(client, subscription, name: str, body: dict | None = None):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/api/v1/subscriptions/{subscription.pk}/{name}/", body or {}, format="json")

    return post


def ordered(w, api, place, *products, address=None, key="order-1") -> list[Subscription]:
    """Place an order through the API (auto-accepted): its pending subscriptions, in line order."""
    overrides = {"address": address.pk} if address is not None else {}
    response = place(api, order_body(w, *products, **overrides), key=key)
    assert response.status_code == 201, response.content
    return list(Subscription.objects.filter(order_line__order_id=response.json()["id"]).order_by("pk"))


def live(w, api, place, *products, at=None, **kwargs) -> Subscription:
    """An order whose services the network verified (at `at`, default now): its first subscription."""
    subscriptions = ordered(w, api, place, *products, **kwargs)
    for subscription in subscriptions:
        services.subscription_activate(subscription_id=subscription.pk, at=at or timezone.now())
    return Subscription.objects.get(pk=subscriptions[0].pk)


def terms(product, **fields) -> None:
    """Set the product's contract terms; a subscription keeps the terms it was sold with, so set them before."""
    term = product.term
    for name, value in fields.items():
        setattr(term, name, value)
    term.save()


def plan(w, name: str, monthly_amount: str, **fields):
    """Another internet product of provider A, on the same terms, priced in A's marketplace."""
    product = ProductFactory(provider=w.provider, name=name, term=w.internet.term, **fields)
    PriceFactory(product=product, marketplace=w.marketplace, monthly_amount=Decimal(monthly_amount))
    return product


def state(subscription) -> dict:
    """What a refused command must leave as it was: the subscription's row, its changes, the events, the log."""
    return {
        "subscription": Subscription.objects.filter(pk=subscription.pk).values().get(),
        "changes": list(SubscriptionChange.objects.filter(subscription=subscription).order_by("pk").values()),
        "events": Event.objects.count(),
        "transitions": TransitionLog.objects.count(),
    }


def refused(response, status: int, code: str) -> dict:
    """The response is a refusal with this status: JSON with the stable code and a message for people."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code, body
    assert body["message"]
    return body


def transitions_of(subscription) -> list[TransitionLog]:
    content_type = ContentType.objects.get_for_model(Subscription)
    return list(TransitionLog.objects.filter(content_type=content_type, object_id=subscription.pk).order_by("pk"))


def detail(api, subscription) -> dict:
    response = api.get(f"/api/v1/subscriptions/{subscription.pk}/")
    assert response.status_code == 200, response.content
    return response.json()


# --- list --------------------------------------------------------------------------------------


def test_the_list_shows_only_the_callers_subscriptions_newest_first_in_pages(w, api, place):
    # given: A has internet and TV at its address; B has a subscription of its own
    internet, tv = ordered(w, api, place, w.internet, w.tv)
    other = world()
    theirs = ordered(other, provider_client(other.provider), place)

    # when
    response = api.get("/api/v1/subscriptions/")
    first_page = api.get("/api/v1/subscriptions/", {"limit": 1})

    # then
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["count"] == 2
    assert [row["id"] for row in data["results"]] == [tv.pk, internet.pk]
    assert theirs[0].pk not in [row["id"] for row in data["results"]]
    assert [(row["product_name"], row["category"], row["status"]) for row in data["results"]] == [
        ("TV Bas", "tv", "pending"),
        ("Fiber 1000", "internet", "pending"),
    ]
    page = first_page.json()
    assert (page["count"], len(page["results"]), page["results"][0]["id"]) == (2, 1, tv.pk)
    assert page["next"] is not None


@pytest.fixture
def estate(w, api, place):
    """A's subscriptions: internet (active) and TV (pending) at the first address, internet (pending) at a second."""
    internet, tv = ordered(w, api, place, w.internet, w.tv)
    services.subscription_activate(subscription_id=internet.pk, at=timezone.now())
    second_address = AddressFactory(area=w.area, status="connected")
    (elsewhere,) = ordered(w, api, place, address=second_address, key="order-2")
    return {"internet": internet, "tv": tv, "elsewhere": elsewhere, "address": w.address, "second": second_address}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (lambda e: {"status": "active"}, ["internet"]),
        (lambda e: {"status": "pending"}, ["elsewhere", "tv"]),
        (lambda e: {"category": "tv"}, ["tv"]),
        (lambda e: {"category": "internet"}, ["elsewhere", "internet"]),
        (lambda e: {"address": e["second"].pk}, ["elsewhere"]),
        (lambda e: {"address": e["address"].pk, "status": "pending"}, ["tv"]),
        (lambda e: {"status": "terminated"}, []),
    ],
    ids=["active", "pending", "tv", "internet", "address", "address-and-status", "none"],
)
def test_the_list_filters_by_status_category_and_address(estate, api, query, expected):
    # when
    response = api.get("/api/v1/subscriptions/", query(estate))

    # then
    assert response.status_code == 200, response.content
    assert [row["id"] for row in response.json()["results"]] == [estate[name].pk for name in expected]


def test_an_unknown_status_in_the_filter_is_refused_with_a_code(estate, api):
    # when
    response = api.get("/api/v1/subscriptions/", {"status": "sleeping"})

    # then
    body = refused(response, 400, "invalid")
    assert "status" in body["errors"]


@pytest.mark.parametrize("how_many", [1, 10])
def test_the_list_costs_the_same_queries_for_one_subscription_or_ten(
    w, api, place, django_assert_max_num_queries, how_many
):
    # given: live subscriptions, every other one with a downgrade scheduled (the change is shown in the list)
    cheaper = plan(w, "Fiber 250", "299.00")
    for n in range(how_many):
        address = w.address if n == 0 else AddressFactory(area=w.area, status="connected")
        subscription = live(w, api, place, address=address, key=f"order-{n}")
        if n % 2:
            services.subscription_change_request(subscription_id=subscription.pk, product_id=cheaper.pk)

    # when
    with django_assert_max_num_queries(6):  # the token, the provider, the count, the page, open changes, switches
        response = api.get("/api/v1/subscriptions/")

    # then
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert len(rows) == how_many
    assert sum(1 for row in rows if row["change"]) == how_many // 2
    assert all(row["earliest_end"] == MINIMUM_END.isoformat() for row in rows)


# --- detail ------------------------------------------------------------------------------------


def test_an_active_subscription_on_a_minimum_term_without_a_fee_ends_at_the_earliest_after_the_term(w, api, place):
    # given: the factory's terms, 12 months and 30 days' notice, no early-termination fee
    subscription = live(w, api, place)

    # when
    data = detail(api, subscription)

    # then
    assert data["status"] == "active"
    assert (data["product"], data["product_name"], data["monthly_amount"]) == (w.internet.pk, "Fiber 1000", "399.00")
    assert data["address"] == {"id": w.address.pk, "label": w.address.label}
    assert data["customer"]["name"] == "Anna Lind"
    assert (data["minimum_months"], data["notice_days"], data["early_termination_fee"]) == (12, 30, None)
    assert data["earliest_end"] == MINIMUM_END.isoformat()
    assert data["early_termination_fee_until"] is None
    assert data["change"] is None
    assert data["switch_away"] is None
    assert (data["ends_on"], data["notice_given_at"], data["terminated_at"]) == (None, None, None)


def test_without_a_minimum_term_the_earliest_end_is_today_plus_the_notice(w, api, place):
    # given
    terms(w.internet, minimum_months=0)
    subscription = live(w, api, place)

    # when
    data = detail(api, subscription)

    # then
    assert data["earliest_end"] == NOTICE_END.isoformat()
    assert data["early_termination_fee_until"] is None


def test_with_an_early_termination_fee_it_can_end_after_the_notice_and_the_fee_applies_until_the_term_ends(
    w, api, place
):
    # given
    terms(w.internet, early_termination_fee=Decimal("1500.00"))
    subscription = live(w, api, place)

    # when
    data = detail(api, subscription)

    # then
    assert data["early_termination_fee"] == "1500.00"
    assert data["earliest_end"] == NOTICE_END.isoformat()
    assert data["early_termination_fee_until"] == MINIMUM_END.isoformat()


def test_once_the_minimum_term_is_served_the_earliest_end_is_today_plus_the_notice(clock, w, api, place):
    # given: activated at START; fourteen months later
    terms(w.internet, early_termination_fee=Decimal("1500.00"))
    subscription = live(w, api, place)
    clock.move_to(datetime(2032, 3, 1, 10, 0, tzinfo=STOCKHOLM))

    # when
    data = detail(api, subscription)

    # then
    assert data["earliest_end"] == "2032-03-31"
    assert data["early_termination_fee_until"] is None


def test_the_minimum_term_counts_from_the_local_day_of_activation(w, api, place):
    # given: verified at 00:30 on 15 January in Stockholm, still 14 January in UTC
    subscription = live(w, api, place, at=datetime(2031, 1, 14, 23, 30, tzinfo=UTC))

    # when
    data = detail(api, subscription)

    # then
    assert data["earliest_end"] == MINIMUM_END.isoformat()


def test_a_pending_subscription_has_no_end_day_yet(w, api, place):
    # given
    (subscription,) = ordered(w, api, place)

    # when
    data = detail(api, subscription)

    # then
    assert (data["status"], data["activated_at"], data["earliest_end"]) == ("pending", None, None)


def test_an_unknown_subscription_is_a_json_404(w, api):
    # when
    response = api.get("/api/v1/subscriptions/999999/")

    # then
    refused(response, 404, "not_found")


# --- terminate ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minimum_months", "expected_end"),
    [(0, NOTICE_END), (12, MINIMUM_END)],
    ids=["after-the-notice", "after-the-minimum-term"],
)
def test_terminating_without_a_day_gives_notice_until_the_earliest_end(
    w, api, place, command, minimum_months, expected_end
):
    # given
    terms(w.internet, minimum_months=minimum_months)
    subscription = live(w, api, place)

    # when
    response = command(api, subscription, "terminate", {"reason": "moved", "note": "to Umeå"})

    # then
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "awaiting_cancellation"
    assert data["ends_on"] == expected_end.isoformat()
    assert (data["cancellation_reason"], data["cancellation_note"]) == ("moved", "to Umeå")
    assert data["early_termination_charged"] is False
    assert data["notice_given_at"] is not None
    subscription.refresh_from_db()
    assert (subscription.status, subscription.ends_on) == ("awaiting_cancellation", expected_end)
    (event,) = Event.objects.filter(name="subscription.notice_given")
    assert event.payload["ends_on"] == expected_end.isoformat()


def test_an_end_day_inside_the_notice_is_refused_and_nothing_changes(w, api, place, command):
    # given
    terms(w.internet, minimum_months=0)
    subscription = live(w, api, place)
    before = state(subscription)

    # when
    response = command(api, subscription, "terminate", {"reason": "moved", "ends_on": "2031-02-13"})

    # then
    body = refused(response, 400, "notice_period")
    assert body["earliest_end"] == NOTICE_END.isoformat()
    assert state(subscription) == before


def test_the_first_day_after_the_notice_is_accepted(w, api, place, command):
    # given
    terms(w.internet, minimum_months=0)
    subscription = live(w, api, place)

    # when
    response = command(api, subscription, "terminate", {"reason": "moved", "ends_on": NOTICE_END.isoformat()})

    # then
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["ends_on"]) == ("awaiting_cancellation", "2031-02-14")


def test_an_end_day_in_the_past_is_refused(w, api, place, command):
    # given
    terms(w.internet, minimum_months=0)
    subscription = live(w, api, place)
    before = state(subscription)

    # when
    response = command(api, subscription, "terminate", {"reason": "moved", "ends_on": "2031-01-14"})

    # then
    refused(response, 400, "end_date_past")
    assert state(subscription) == before


def test_an_end_day_before_the_minimum_term_without_a_fee_is_refused_and_nothing_changes(w, api, place, command):
    # given: 12 months, no fee; the last day of the term
    subscription = live(w, api, place)
    before = state(subscription)

    # when
    response = command(api, subscription, "terminate", {"reason": "moved", "ends_on": "2032-01-14"})

    # then
    body = refused(response, 400, "minimum_term")
    assert body["earliest_end"] == MINIMUM_END.isoformat()
    assert state(subscription) == before


def test_the_first_day_after_the_minimum_term_is_accepted_without_a_fee(w, api, place, command):
    # given
    subscription = live(w, api, place)

    # when
    response = command(api, subscription, "terminate", {"reason": "moved", "ends_on": MINIMUM_END.isoformat()})

    # then
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["ends_on"], data["early_termination_charged"]) == (
        "awaiting_cancellation",
        MINIMUM_END.isoformat(),
        False,
    )


@pytest.mark.parametrize(
    ("ends_on", "expected_end", "fee_charged"),
    [(None, NOTICE_END, True), ("2032-01-14", date(2032, 1, 14), True), ("2032-01-15", MINIMUM_END, False)],
    ids=["earliest", "last-day-of-the-term", "after-the-term"],
)
def test_with_an_early_termination_fee_it_may_end_within_the_minimum_term_and_the_fee_is_charged(
    w, api, place, command, ends_on, expected_end, fee_charged
):
    # given
    terms(w.internet, early_termination_fee=Decimal("1500.00"))
    subscription = live(w, api, place)

    # when
    response = command(api, subscription, "terminate", {"reason": "provider_changed", "ends_on": ends_on})

    # then
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["ends_on"]) == ("awaiting_cancellation", expected_end.isoformat())
    assert data["early_termination_charged"] is fee_charged
    subscription.refresh_from_db()
    assert subscription.early_termination_charged is fee_charged


@pytest.mark.parametrize("body", [{"reason": "moved"}, {"reason": "moved", "ends_on": "2031-03-01"}])
def test_the_same_termination_again_returns_the_same_state_and_records_nothing_new(w, api, place, command, body):
    # given
    terms(w.internet, minimum_months=0)
    subscription = live(w, api, place)
    first = command(api, subscription, "terminate", body)
    assert first.status_code == 200, first.content
    before = state(subscription)

    # when
    again = command(api, subscription, "terminate", body)

    # then
    assert again.status_code == 200, again.content
    assert again.json() == first.json()
    assert state(subscription) == before


def test_another_end_day_while_a_notice_runs_is_a_conflict_and_nothing_changes(w, api, place, command):
    # given
    terms(w.internet, minimum_months=0)
    subscription = live(w, api, place)
    command(api, subscription, "terminate", {"reason": "moved"})
    before = state(subscription)

    # when
    response = command(api, subscription, "terminate", {"reason": "moved", "ends_on": "2031-03-01"})

    # then
    refused(response, 409, "notice_running")
    assert state(subscription) == before
    assert Subscription.objects.get(pk=subscription.pk).ends_on == NOTICE_END


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "bored"}, "reason"),
        ({}, "reason"),
        ({"reason": "moved", "ends_on": "next week"}, "ends_on"),
        ({"reason": "moved", "note": "x" * 1001}, "note"),
    ],
    ids=["unknown-reason", "no-reason", "malformed-day", "note-too-long"],
)
def test_a_malformed_termination_is_refused_by_the_input_check_and_nothing_changes(w, api, place, command, body, field):
    # given
    subscription = live(w, api, place)
    before = state(subscription)

    # when
    response = command(api, subscription, "terminate", body)

    # then
    assert field in refused(response, 400, "invalid")["errors"]
    assert state(subscription) == before


@pytest.mark.parametrize("note", ["", "   "])
def test_the_reason_other_needs_a_note(w, api, place, command, note):
    # given
    subscription = live(w, api, place)
    before = state(subscription)

    # when
    response = command(api, subscription, "terminate", {"reason": "other", "note": note})

    # then
    refused(response, 400, "reason_required")
    assert state(subscription) == before


def test_the_reason_other_with_a_note_is_accepted_and_the_note_kept(w, api, place, command):
    # given
    terms(w.internet, minimum_months=0)
    subscription = live(w, api, place)

    # when
    response = command(api, subscription, "terminate", {"reason": "other", "note": "  going abroad  "})

    # then
    assert response.status_code == 200, response.content
    assert (response.json()["cancellation_reason"], response.json()["cancellation_note"]) == ("other", "going abroad")


def test_a_subscription_not_live_yet_cannot_be_terminated(w, api, place, command):
    # given
    (subscription,) = ordered(w, api, place)
    before = state(subscription)

    # when
    response = command(api, subscription, "terminate", {"reason": "service_cancelled"})

    # then
    refused(response, 409, "subscription_not_live")
    assert state(subscription) == before


def test_without_notice_the_subscription_ends_at_once(w, api, place, command):
    # given
    terms(w.internet, minimum_months=0, notice_days=0)
    subscription = live(w, api, place)

    # when
    response = command(api, subscription, "terminate", {"reason": "service_cancelled"})

    # then
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "terminated"
    assert datetime.fromisoformat(data["terminated_at"]) == START
    assert data["cancellation_reason"] == "service_cancelled"
    assert Subscription.objects.get(pk=subscription.pk).status == "terminated"
    assert Event.objects.filter(name="subscription.terminated", payload__subscription_id=subscription.pk).exists()


def test_a_suspended_subscription_cannot_run_a_notice(w, api, place, command):
    # given
    terms(w.internet, minimum_months=0)
    subscription = live(w, api, place)
    command(api, subscription, "suspend", {"reason": "non_payment"})
    before = state(subscription)

    # when
    response = command(api, subscription, "terminate", {"reason": "moved"})

    # then
    refused(response, 409, "subscription_suspended")
    assert state(subscription) == before


def test_the_tv_on_the_internet_gets_the_same_notice_and_runs_on_when_it_is_withdrawn(w, api, place, command):
    # given
    terms(w.internet, minimum_months=0)
    internet = live(w, api, place, w.internet, w.tv)
    tv = Subscription.objects.get(order_line__order_id=internet.order_line.order_id, category="tv")

    # when
    ended = command(api, internet, "terminate", {"reason": "moved"})
    tv_withdrawn = command(api, tv, "withdraw-notice")

    # then: the TV ends with the internet; its notice is the internet's to withdraw
    assert ended.status_code == 200, ended.content
    tv.refresh_from_db()
    assert (tv.status, tv.ends_on, tv.ends_with_id) == ("awaiting_cancellation", NOTICE_END, internet.pk)
    refused(tv_withdrawn, 409, "ends_with_other")

    # when
    withdrawn = command(api, internet, "withdraw-notice")

    # then
    assert withdrawn.status_code == 200, withdrawn.content
    tv.refresh_from_db()
    assert (tv.status, tv.ends_on) == ("active", None)


def test_a_suspended_tv_ends_with_the_internet_it_needs(
    clock, w, api, place, command, django_capture_on_commit_callbacks
):
    # given: internet and TV live, the TV suspended; notice is given on the internet
    terms(w.internet, minimum_months=0)
    internet = live(w, api, place, w.internet, w.tv)
    tv = Subscription.objects.get(order_line__order_id=internet.order_line.order_id, category="tv")
    assert command(api, tv, "suspend", {"reason": "non_payment"}).status_code == 200
    assert command(api, internet, "terminate", {"reason": "moved"}).status_code == 200

    # when: the end day comes and the lifecycle sweep runs
    clock.move_to(datetime(2031, 2, 14, 10, 0, tzinfo=STOCKHOLM))
    with django_capture_on_commit_callbacks(execute=True):
        services.subscription_terminations_due()

    # then
    assert detail(api, internet)["status"] == "terminated"
    assert detail(api, tv)["status"] == "terminated"


def test_a_tv_under_a_later_notice_of_its_own_ends_with_the_internet_it_needs(w, api, place, command):
    # given: the TV under its own 30 days' notice; the internet has no notice
    terms(w.internet, minimum_months=0, notice_days=0)
    terms(w.tv, minimum_months=0)
    internet = live(w, api, place, w.internet, w.tv)
    tv = Subscription.objects.get(order_line__order_id=internet.order_line.order_id, category="tv")
    assert command(api, tv, "terminate", {"reason": "service_cancelled"}).json()["ends_on"] == "2031-02-14"

    # when
    response = command(api, internet, "terminate", {"reason": "moved"})

    # then
    assert response.json()["status"] == "terminated"
    assert detail(api, tv)["status"] == "terminated"


# --- withdraw notice ---------------------------------------------------------------------------


def test_withdrawing_a_notice_makes_the_subscription_run_on(w, api, place, command):
    # given
    terms(w.internet, minimum_months=0)
    subscription = live(w, api, place)
    command(api, subscription, "terminate", {"reason": "moved", "note": "maybe"})

    # when
    response = command(api, subscription, "withdraw-notice")

    # then
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "active"
    assert (data["ends_on"], data["notice_given_at"], data["cancellation_reason"]) == (None, None, "")
    assert data["earliest_end"] == NOTICE_END.isoformat()
    assert Subscription.objects.get(pk=subscription.pk).status == "active"
    assert Event.objects.filter(name="subscription.cancellation_aborted").count() == 1


def test_withdrawing_when_no_notice_runs_leaves_an_active_subscription_as_it_is(w, api, place, command):
    # given
    subscription = live(w, api, place)
    before = state(subscription)

    # when
    response = command(api, subscription, "withdraw-notice")

    # then
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "active"
    assert state(subscription) == before


def test_a_terminated_subscription_has_no_notice_to_withdraw(w, api, place, command):
    # given
    terms(w.internet, minimum_months=0, notice_days=0)
    subscription = live(w, api, place)
    command(api, subscription, "terminate", {"reason": "moved"})
    before = state(subscription)

    # when
    response = command(api, subscription, "withdraw-notice")

    # then
    refused(response, 409, "no_notice")
    assert state(subscription) == before


def test_a_notice_cannot_be_withdrawn_once_its_end_day_has_come(clock, w, api, place, command):
    # given: notice until 14 February; five past midnight that day, before the sweep has run
    terms(w.internet, minimum_months=0)
    subscription = live(w, api, place)
    command(api, subscription, "terminate", {"reason": "moved"})
    clock.move_to(datetime(2031, 2, 14, 0, 5, tzinfo=STOCKHOLM))
    before = state(subscription)

    # when
    response = command(api, subscription, "withdraw-notice")

    # then
    assert response.status_code == 409, response.content
    assert response.json()["code"]
    assert state(subscription) == before


# --- change of plan ----------------------------------------------------------------------------


def test_a_higher_price_is_an_upgrade_sent_to_the_network_at_once(w, api, place, command):
    # given
    faster = plan(w, "Fiber 2000", "499.00", download_mbps=2000, service_profile="HSI_2000_1000")
    subscription = live(w, api, place)

    # when
    response = command(api, subscription, "change", {"product": faster.pk, "reason": "customer_request"})

    # then: asked of the network; the plan and price change when the network has verified it
    assert response.status_code == 200, response.content
    data = response.json()
    change = data["change"]
    assert (change["kind"], change["status"]) == ("upgrade", "requested")
    assert (change["to_product"], change["to_product_name"], change["to_amount"]) == (faster.pk, "Fiber 2000", "499.00")
    assert change["effective_on"] == START.date().isoformat()
    assert (data["product"], data["monthly_amount"]) == (w.internet.pk, "399.00")
    (event,) = Event.objects.filter(name="subscription.change_requested")
    assert (event.payload["change_id"], event.payload["profile"]) == (change["id"], "HSI_2000_1000")


def test_a_lower_price_is_a_downgrade_scheduled_for_the_next_billing_period(w, api, place, command):
    # given
    cheaper = plan(w, "Fiber 250", "299.00", download_mbps=250)
    subscription = live(w, api, place)

    # when
    response = command(api, subscription, "change", {"product": cheaper.pk})

    # then
    assert response.status_code == 200, response.content
    change = response.json()["change"]
    assert (change["kind"], change["status"], change["effective_on"]) == (
        "downgrade",
        "scheduled",
        NEXT_PERIOD.isoformat(),
    )
    data = detail(api, subscription)
    assert data["change"] == change
    assert (data["product"], data["monthly_amount"]) == (w.internet.pk, "399.00")
    assert not Event.objects.filter(name="subscription.change_requested").exists()


def test_a_downgrade_asked_just_after_midnight_on_the_first_waits_for_the_next_month(clock, w, api, place, command):
    # given: 00:30 on 1 February in Stockholm is still 31 January in UTC
    cheaper = plan(w, "Fiber 250", "299.00", download_mbps=250)
    subscription = live(w, api, place)
    clock.move_to(datetime(2031, 2, 1, 0, 30, tzinfo=STOCKHOLM))

    # when
    response = command(api, subscription, "change", {"product": cheaper.pk})

    # then
    assert response.status_code == 200, response.content
    change = response.json()["change"]
    assert (change["status"], change["effective_on"]) == ("scheduled", "2031-03-01")


def test_on_the_anniversary_cycle_a_downgrade_waits_for_the_next_anniversary_of_activation(w, api, place, command):
    # given: billed from the 15th of each month
    w.participation.billing_cycle = "anniversary"
    w.participation.save()
    cheaper = plan(w, "Fiber 250", "299.00")
    subscription = live(w, api, place)

    # when
    response = command(api, subscription, "change", {"product": cheaper.pk})

    # then
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["billing_cycle"] == "anniversary"
    assert (data["change"]["kind"], data["change"]["effective_on"]) == ("downgrade", "2031-02-15")


def _same_product(w):
    return w.internet.pk


def _other_providers_product(w):
    return world().internet.pk


def _tv_product(w):
    return w.tv.pk


def _unpriced_product(w):
    return ProductFactory(provider=w.provider, name="Fiber 10000", term=w.internet.term).pk


def _unknown_product(w):
    return 999_999


@pytest.mark.parametrize(
    ("product", "code"),
    [
        (_same_product, "same_plan"),
        (_other_providers_product, "product_not_found"),
        (_unknown_product, "product_not_found"),
        (_tv_product, "category_mismatch"),
        (_unpriced_product, "product_not_available"),
    ],
)
def test_a_change_to_a_plan_it_cannot_have_is_refused_and_nothing_changes(w, api, place, command, product, code):
    # given
    subscription = live(w, api, place, w.internet, w.tv)
    product_id = product(w)
    before = state(subscription)

    # when
    response = command(api, subscription, "change", {"product": product_id})

    # then
    refused(response, 400, code)
    assert state(subscription) == before


@pytest.mark.parametrize("body", [{"product": "fast"}, {"product": 0}, {}, {"product": 1, "reason": "bored"}])
def test_a_malformed_change_is_refused_by_the_input_check(w, api, place, command, body):
    # given
    subscription = live(w, api, place)
    before = state(subscription)

    # when
    response = command(api, subscription, "change", body)

    # then
    errors = refused(response, 400, "invalid")["errors"]
    assert set(errors) & {"product", "reason"}
    assert state(subscription) == before


def test_a_second_different_change_while_one_is_open_is_a_conflict(w, api, place, command):
    # given
    faster = plan(w, "Fiber 2000", "499.00")
    cheaper = plan(w, "Fiber 250", "299.00")
    subscription = live(w, api, place)
    command(api, subscription, "change", {"product": faster.pk})
    before = state(subscription)

    # when
    response = command(api, subscription, "change", {"product": cheaper.pk})

    # then
    refused(response, 409, "change_pending")
    assert state(subscription) == before


def test_asking_again_for_the_same_change_returns_the_change_under_way(w, api, place, command):
    # given
    cheaper = plan(w, "Fiber 250", "299.00")
    subscription = live(w, api, place)
    first = command(api, subscription, "change", {"product": cheaper.pk})
    before = state(subscription)

    # when
    again = command(api, subscription, "change", {"product": cheaper.pk})

    # then
    assert again.status_code == 200, again.content
    assert again.json()["change"] == first.json()["change"]
    assert state(subscription) == before


def test_a_subscription_under_notice_cannot_change_plan(w, api, place, command):
    # given
    faster = plan(w, "Fiber 2000", "499.00")
    terms(w.internet, minimum_months=0)
    subscription = live(w, api, place)
    command(api, subscription, "terminate", {"reason": "moved"})
    before = state(subscription)

    # when
    response = command(api, subscription, "change", {"product": faster.pk})

    # then
    refused(response, 409, "subscription_not_active")
    assert state(subscription) == before


def test_a_subscription_not_live_yet_takes_the_new_plan_at_once(w, api, place, command):
    # given
    faster = plan(w, "Fiber 2000", "499.00", download_mbps=2000, service_profile="HSI_2000_1000")
    (subscription,) = ordered(w, api, place)

    # when
    response = command(api, subscription, "change", {"product": faster.pk})

    # then: the plan is the new one, and the service will be activated with its profile
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["product"], data["product_name"], data["monthly_amount"], data["change"]) == (
        faster.pk,
        "Fiber 2000",
        "499.00",
        None,
    )
    service = ServiceInstance.objects.get(subscription=subscription)
    assert (service.service_profile, service.download_mbps) == ("HSI_2000_1000", 2000)


# --- suspend and resume ------------------------------------------------------------------------


def test_suspending_records_the_reason_and_repeating_it_changes_nothing(w, api, place, command):
    # given
    subscription = live(w, api, place)

    # when
    response = command(api, subscription, "suspend", {"reason": "non_payment", "note": "invoice 1001"})

    # then
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "suspended"
    log = transitions_of(subscription)[-1]
    assert (log.transition, log.source, log.target) == ("suspend", "active", "suspended")
    assert log.reason == "Non-payment: invoice 1001"
    assert log.actor.memberships.get().organization == w.provider
    (event,) = Event.objects.filter(name="subscription.suspended")
    assert event.payload["reason"] == "Non-payment: invoice 1001"

    # when
    before = state(subscription)
    again = command(api, subscription, "suspend", {"reason": "non_payment", "note": "invoice 1001"})

    # then
    assert again.status_code == 200, again.content
    assert again.json()["status"] == "suspended"
    assert state(subscription) == before


def test_resuming_restores_the_subscription_and_repeating_it_changes_nothing(w, api, place, command):
    # given
    subscription = live(w, api, place)
    command(api, subscription, "suspend", {"reason": "non_payment"})

    # when
    response = command(api, subscription, "resume", {"reason": "customer_request", "note": "paid"})

    # then
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "active"
    log = transitions_of(subscription)[-1]
    assert (log.transition, log.source, log.target) == ("resume", "suspended", "active")
    assert log.reason == "The customer asked for it: paid"
    assert Event.objects.filter(name="subscription.resumed").count() == 1

    # when
    before = state(subscription)
    again = command(api, subscription, "resume", {"reason": "customer_request"})

    # then
    assert again.status_code == 200, again.content
    assert again.json()["status"] == "active"
    assert state(subscription) == before


def test_resuming_an_active_subscription_leaves_it_as_it_is(w, api, place, command):
    # given
    subscription = live(w, api, place)
    before = state(subscription)

    # when
    response = command(api, subscription, "resume", {"reason": "correction"})

    # then
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "active"
    assert state(subscription) == before


@pytest.mark.parametrize("name", ["suspend", "resume"])
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"reason": "bored"}, "invalid"),
        ({}, "invalid"),
        ({"reason": "other"}, "reason_required"),
        ({"reason": "other", "note": "  "}, "reason_required"),
    ],
)
def test_suspend_and_resume_without_a_valid_reason_are_refused_and_nothing_changes(
    w, api, place, command, name, body, code
):
    # given: live, and suspended where it is to be resumed
    subscription = live(w, api, place)
    if name == "resume":
        command(api, subscription, "suspend", {"reason": "non_payment"})
    before = state(subscription)

    # when
    response = command(api, subscription, name, body)

    # then
    refused(response, 400, code)
    assert state(subscription) == before


@pytest.mark.parametrize("name", ["suspend", "resume"])
def test_a_subscription_not_live_yet_cannot_be_suspended_or_resumed(w, api, place, command, name):
    # given
    (subscription,) = ordered(w, api, place)
    before = state(subscription)

    # when
    response = command(api, subscription, name, {"reason": "technical"})

    # then
    refused(response, 409, "transition_not_allowed")
    assert state(subscription) == before


# --- the service ledger ------------------------------------------------------------------------


@pytest.fixture
def network(settings):
    """The element-manager simulator on loopback as every vendor's endpoint."""
    simulator = Simulator(0).start()
    for vendor in ("adtran", "nokia", "calix"):
        setattr(settings, f"PROVISIONING_{vendor.upper()}_URL", f"{simulator.url}/{vendor}")
    settings.PROVISIONING_TIMEOUT_SECONDS = 2
    yield simulator
    simulator.stop()


def test_the_ledger_lists_the_verified_periods_of_a_service_in_order(
    clock, w, api, place, command, network, django_assert_max_num_queries
):
    # given: the ONT is in place, so the order is activated remotely (verified on the simulator)
    ont = ONTFactory(
        vendor="adtran", pon_port=PonPortFactory(olt=OLTFactory(vendor="adtran")), address=w.address, bound_at=START
    )
    assert requests.post(f"{network.url}/_sim/onts", json={"serial": ont.serial}, timeout=5).status_code == 201
    (subscription,) = ordered(w, api, place)
    subscription.refresh_from_db()
    assert subscription.status == "active"
    clock.move_to(START + timedelta(days=3))
    assert command(api, subscription, "suspend", {"reason": "non_payment"}).status_code == 200
    clock.move_to(START + timedelta(days=5))
    assert command(api, subscription, "resume", {"reason": "customer_request"}).status_code == 200
    service = ServiceInstance.objects.get(subscription=subscription)

    # when
    with django_assert_max_num_queries(4):  # the token, the provider, the service, its periods
        response = api.get(f"/api/v1/services/{service.pk}/periods/")

    # then
    assert response.status_code == 200, response.content
    periods = response.json()
    assert [(p["cause"], p["end_cause"], p["profile"]) for p in periods] == [
        ("activate", "suspend", "HSI_1000_1000"),
        ("suspend", "resume", "suspended"),
        ("resume", "", "HSI_1000_1000"),
    ]
    starts = [datetime.fromisoformat(p["started_at"]) for p in periods]
    ends = [p["ended_at"] and datetime.fromisoformat(p["ended_at"]) for p in periods]
    assert starts == [START, START + timedelta(days=3), START + timedelta(days=5)]
    assert ends == [START + timedelta(days=3), START + timedelta(days=5), None]
    assert {(p["ont"], p["subscription"]) for p in periods} == {(ont.serial, subscription.pk)}


def test_a_service_not_live_yet_has_an_empty_ledger(w, api, place):
    # given
    (subscription,) = ordered(w, api, place)
    service = ServiceInstance.objects.get(subscription=subscription)

    # when
    response = api.get(f"/api/v1/services/{service.pk}/periods/")

    # then
    assert response.status_code == 200, response.content
    assert response.json() == []


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("post", "/api/v1/subscriptions/999999/terminate/", 404, "not_found"),
        ("get", "/api/v1/subscriptions/{id}/terminate/", 405, "method_not_allowed"),
        ("delete", "/api/v1/subscriptions/{id}/", 405, "method_not_allowed"),
        ("patch", "/api/v1/subscriptions/{id}/", 405, "method_not_allowed"),
        ("get", "/api/v1/services/999999/periods/", 404, "not_found"),
    ],
)
def test_a_request_no_endpoint_answers_is_refused_as_json_and_changes_nothing(
    w, api, place, method, path, status, code
):
    # given
    subscription = live(w, api, place)
    before = state(subscription)

    # when
    body = None if method == "get" else {"status": "terminated"}
    response = getattr(api, method)(path.format(id=subscription.pk), body, format="json")

    # then
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code
    assert state(subscription) == before


def test_a_body_that_is_not_json_is_refused_as_json(w, api, place, command):
    # given
    subscription = live(w, api, place)
    before = state(subscription)

    # when
    response = api.post(
        f"/api/v1/subscriptions/{subscription.pk}/terminate/", "{reason: moved", content_type="application/json"
    )

    # then
    refused(response, 400, "parse_error")
    assert state(subscription) == before


# --- added: withdrawing a scheduled change, far end days, the ledger's list ---------------------


def test_a_scheduled_downgrade_is_withdrawn_and_the_plan_kept(w, api, place, command):
    # given: a downgrade waiting for the next period
    subscription = live(w, api, place)
    cheaper = plan(w, "Fiber 100", "199.00")
    assert command(api, subscription, "change", {"product": cheaper.pk}).json()["change"]["status"] == "scheduled"
    # when
    response = command(api, subscription, "withdraw-change")
    # then
    assert response.status_code == 200, response.content
    assert response.json()["change"] is None
    assert SubscriptionChange.objects.get().status == "cancelled"
    # and again: nothing to withdraw, the same answer
    assert command(api, subscription, "withdraw-change").json()["product"] == w.internet.pk


def test_an_end_day_years_ahead_is_refused(w, api, place, command):
    subscription = live(w, api, place)
    before = state(subscription)
    refused(
        command(api, subscription, "terminate", {"reason": "moved", "ends_on": "9999-12-31"}), 400, "end_date_too_far"
    )
    assert state(subscription) == before


def test_the_ledger_of_a_service_is_a_plain_list_that_ignores_list_filters(w, api, place):
    subscription = ordered(w, api, place)[0]
    service = ServiceInstance.objects.get(subscription=subscription)
    response = api.get(f"/api/v1/services/{service.pk}/periods/?status=bogus&limit=1")
    assert (response.status_code, response.json()) == (200, [])


def test_a_missing_row_is_a_404_that_names_no_model(api):
    body = refused(api.get("/api/v1/services/999999/periods/"), 404, "not_found")
    assert "ServiceInstance" not in body["message"]
