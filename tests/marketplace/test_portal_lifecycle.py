"""The subscriber portal's lifecycle pages: ending a subscription (the earliest end day and any fee first),
withdrawing a notice, changing plan, and switching provider (the offers say where a switch is possible; the
subscriber can abort it before the hand-over day). Driven through the Django test client."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from marketplace import services
from marketplace.choices import ChangeKind, ChangeStatus, OrderStatus, SubscriptionStatus, SwitchStatus
from marketplace.models import Subscription, SubscriptionChange, Switch
from marketplace.validation import LineRequest
from tests.cos.factories import CustomerFactory, UserFactory
from tests.marketplace.factories import (
    ContractTermFactory,
    ParticipationFactory,
    PriceFactory,
    ProductFactory,
    world,
)

pytestmark = pytest.mark.django_db

STOCKHOLM = ZoneInfo("Europe/Stockholm")
TODAY = date(2025, 3, 11)  # a Tuesday in the marketplace's time zone; every test runs on it


@pytest.fixture(autouse=True)
def _on_11_march_2025():
    with time_machine.travel(datetime(2025, 3, 11, 10, 0, tzinfo=STOCKHOLM), tick=True):
        yield


def _shown(day: date) -> str:
    """A day as the pages write it ('10 April 2025')."""
    return f"{day.day} {day:%B %Y}"


def _terms(product, **fields):
    product.term = ContractTermFactory(provider=product.provider, **fields)
    product.save(update_fields=["term"])


def _subscriber(w):
    """The world's customer with a portal login."""
    w.customer.user = UserFactory()
    w.customer.save(update_fields=["user"])
    return w.customer.user


def _live(w, capture, *products, **request):
    """An accepted order of the products, each subscription verified live now."""
    with capture(execute=True):
        order, _ = services.order_place(request=w.request(*products, **request))
    subscriptions = list(Subscription.objects.filter(order_line__order=order).order_by("pk"))
    for subscription in subscriptions:
        with capture(execute=True):
            services.subscription_activate(subscription_id=subscription.pk, at=timezone.now())
        subscription.refresh_from_db()
    return subscriptions


def _page(response) -> str:
    """The page's HTML with each run of whitespace made one space."""
    return " ".join(response.content.decode().split())


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _card(body: str, subscription) -> str:
    """The subscription's card on the My services page."""
    start = body.index(f'id="subscription-{subscription.pk}"')
    return body[start : body.index('<ul class="timeline">', start)]


def _provider_b(w):
    """A second provider in the same marketplace with an internet plan of its own."""
    b = ParticipationFactory(marketplace=w.marketplace).provider
    product = ProductFactory(provider=b, name="B 500", download_mbps=500, upload_mbps=500, service_profile="B_500")
    PriceFactory(product=product, marketplace=w.marketplace, monthly_amount=Decimal("329.00"), start_fee=Decimal("0"))
    return b, product


def _order_from_b(w, b, product, capture):
    with capture(execute=True):
        order, _ = services.order_place(
            request=w.request(provider_id=b.pk, lines=[LineRequest(product.pk, Decimal("329.00"), "SEK")])
        )
    return order


# --- ending a subscription ------------------------------------------------------------------------------------


def test_the_end_page_shows_today_plus_the_notice_days_when_no_minimum_term_binds(
    client, django_capture_on_commit_callbacks
):
    # given: no minimum term, 30 days' notice
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    client.force_login(_subscriber(w))
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    # when
    response = client.get(reverse("portal-subscription-terminate", args=[internet.pk]))
    # then: the earliest end day is 30 days from today, and no fee is mentioned
    body = _page(response)
    assert response.status_code == 200
    assert f'<strong id="earliest-end">{_shown(TODAY + timedelta(days=30))}</strong>' in body
    assert "no minimum term, 30 days notice" in body
    assert "early-termination fee" not in body


def test_the_end_page_shows_the_minimum_term_end_when_the_term_has_no_early_fee(
    client, django_capture_on_commit_callbacks
):
    # given: 12 months minimum, no early-termination fee, activated today
    w = world()
    _terms(w.internet, minimum_months=12, notice_days=30, early_termination_fee=None)
    client.force_login(_subscriber(w))
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    # when
    body = _page(client.get(reverse("portal-subscription-terminate", args=[internet.pk])))
    # then: the minimum term must be served: the earliest end day is a year from activation, no fee offered
    assert f'<strong id="earliest-end">{_shown(date(2026, 3, 11))}</strong>' in body
    assert "12 months minimum" in body
    assert "early-termination fee" not in body


def test_the_end_page_notes_the_early_termination_fee_and_the_tv_that_ends_with_internet(
    client, django_capture_on_commit_callbacks
):
    # given: internet with a 12-month term bought out by a 1500 SEK fee, and TV that needs the internet
    w = world()
    _terms(w.internet, minimum_months=12, notice_days=30, early_termination_fee=Decimal("1500.00"))
    client.force_login(_subscriber(w))
    internet, tv = _live(w, django_capture_on_commit_callbacks, w.internet, w.tv)
    # when
    body = _page(client.get(reverse("portal-subscription-terminate", args=[internet.pk])))
    # then: the notice decides the earliest day; the fee applies until the minimum term ends; TV ends with it
    assert f'<strong id="earliest-end">{_shown(TODAY + timedelta(days=30))}</strong>' in body
    assert f"your minimum term runs until {_shown(date(2026, 3, 11))}. Ending before then" in " ".join(body.split())
    assert "costs <strong>1500.00 SEK</strong> on your final invoice" in body
    assert "These services need it and end on the same day:" in body
    assert "<strong>TV Bas</strong>" in body


def test_confirming_the_end_puts_it_and_its_tv_under_notice_and_my_services_says_ends_on(
    client, django_capture_on_commit_callbacks
):
    # given
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    client.force_login(_subscriber(w))
    internet, tv = _live(w, django_capture_on_commit_callbacks, w.internet, w.tv)
    ends_on = TODAY + timedelta(days=30)
    # when: confirmed without an end day (the earliest)
    response = client.post(
        reverse("portal-subscription-terminate", args=[internet.pk]), {"reason": "moved", "note": ""}, follow=True
    )
    # then: a success message on My services; both run until the end day
    assert response.redirect_chain == [(reverse("portal"), 302)]
    assert _messages(response) == [f"Notice received: Fiber 1000 ends on {_shown(ends_on)}."]
    internet.refresh_from_db()
    tv.refresh_from_db()
    assert (internet.status, internet.ends_on, internet.cancellation_reason) == (
        SubscriptionStatus.AWAITING_CANCELLATION,
        ends_on,
        "moved",
    )
    assert (tv.status, tv.ends_on, tv.ends_with) == (SubscriptionStatus.AWAITING_CANCELLATION, ends_on, internet)
    body = _page(response)
    assert f"Ends on <strong>{_shown(ends_on)}</strong> (moved away)" in _card(body, internet)
    assert "Withdraw the notice and keep it" in _card(body, internet)
    assert f"Ends on <strong>{_shown(ends_on)}</strong>" in _card(body, tv)
    assert "Withdraw the notice" not in _card(body, tv)  # it follows the internet's notice
    assert "End subscription" not in _card(body, internet)


def test_a_later_end_day_than_the_earliest_is_kept(client, django_capture_on_commit_callbacks):
    # given
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    client.force_login(_subscriber(w))
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    later = TODAY + timedelta(days=45)
    # when
    client.post(
        reverse("portal-subscription-terminate", args=[internet.pk]),
        {"reason": "service_cancelled", "ends_on": later.isoformat()},
    )
    # then
    internet.refresh_from_db()
    assert (internet.status, internet.ends_on) == (SubscriptionStatus.AWAITING_CANCELLATION, later)


def test_a_notice_free_term_ends_the_subscription_today(client, django_capture_on_commit_callbacks):
    # given: no minimum term, no notice
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=0)
    client.force_login(_subscriber(w))
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    page = _page(client.get(reverse("portal-subscription-terminate", args=[internet.pk])))
    assert f'<strong id="earliest-end">{_shown(TODAY)}</strong> (today)' in page
    # when
    response = client.post(
        reverse("portal-subscription-terminate", args=[internet.pk]), {"reason": "service_cancelled"}, follow=True
    )
    # then: ended now, and My services says so
    internet.refresh_from_db()
    assert internet.status == SubscriptionStatus.TERMINATED
    assert _messages(response) == ["Fiber 1000 has ended today."]
    assert f"Ended {_shown(TODAY)} (service no longer wanted)" in _card(_page(response), internet)


def test_an_end_day_before_the_earliest_is_a_form_error_and_changes_nothing(client, django_capture_on_commit_callbacks):
    # given: 30 days' notice
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    client.force_login(_subscriber(w))
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    # when: ending in 10 days is asked for
    response = client.post(
        reverse("portal-subscription-terminate", args=[internet.pk]),
        {"reason": "moved", "ends_on": (TODAY + timedelta(days=10)).isoformat()},
    )
    # then: the page again, the error at the end day, the subscription untouched
    assert response.status_code == 200
    assert response.context["form"].errors["ends_on"] == [
        f"The notice is 30 days: the earliest end day is {TODAY + timedelta(days=30)}."
    ]
    internet.refresh_from_db()
    assert (internet.status, internet.ends_on) == (SubscriptionStatus.ACTIVE, None)


def test_an_end_day_before_the_minimum_term_without_an_early_fee_is_a_form_error(
    client, django_capture_on_commit_callbacks
):
    # given: 12 months minimum, no fee to buy it out
    w = world()
    _terms(w.internet, minimum_months=12, notice_days=30, early_termination_fee=None)
    client.force_login(_subscriber(w))
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    # when
    response = client.post(
        reverse("portal-subscription-terminate", args=[internet.pk]),
        {"reason": "moved", "ends_on": (TODAY + timedelta(days=60)).isoformat()},
    )
    # then
    assert response.context["form"].errors["ends_on"] == [
        "The minimum term runs until 2026-03-11: it cannot end earlier."
    ]
    internet.refresh_from_db()
    assert internet.status == SubscriptionStatus.ACTIVE


def test_reason_other_without_a_note_is_a_form_error_and_changes_nothing(client, django_capture_on_commit_callbacks):
    # given
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    client.force_login(_subscriber(w))
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    # when
    response = client.post(reverse("portal-subscription-terminate", args=[internet.pk]), {"reason": "other"})
    # then
    assert response.status_code == 200
    assert response.context["form"].errors["note"] == ["Tell us why."]
    assert "Tell us why." in _page(response)
    internet.refresh_from_db()
    assert internet.status == SubscriptionStatus.ACTIVE


def test_another_customers_subscription_cannot_be_seen_or_ended(client, django_capture_on_commit_callbacks):
    # given: the world's customer's live internet, and someone else logged in
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=0)
    _subscriber(w)
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    client.force_login(CustomerFactory(user=UserFactory()).user)
    url = reverse("portal-subscription-terminate", args=[internet.pk])
    # when / then: not found, whatever is asked, and nothing changes
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "moved"}).status_code == 404
    assert client.post(reverse("portal-subscription-withdraw", args=[internet.pk])).status_code == 404
    assert client.get(reverse("portal-subscription-change", args=[internet.pk])).status_code == 404
    internet.refresh_from_db()
    assert internet.status == SubscriptionStatus.ACTIVE


def test_the_end_page_needs_a_login(client, django_capture_on_commit_callbacks):
    w = world()
    _subscriber(w)
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    url = reverse("portal-subscription-terminate", args=[internet.pk])
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


def test_the_end_page_of_a_subscription_under_notice_redirects_with_a_message(
    client, django_capture_on_commit_callbacks
):
    # given: notice given already
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    client.force_login(_subscriber(w))
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    services.subscription_terminate(subscription_id=internet.pk, reason="moved")
    # when
    response = client.get(reverse("portal-subscription-terminate", args=[internet.pk]), follow=True)
    # then
    assert response.redirect_chain == [(reverse("portal"), 302)]
    assert _messages(response) == ["Fiber 1000 is awaiting cancellation."]


# --- withdrawing a notice ---------------------------------------------------------------------------------------


def test_withdrawing_the_notice_brings_internet_and_its_tv_back_to_active(client, django_capture_on_commit_callbacks):
    # given: internet and TV under notice through the portal
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    client.force_login(_subscriber(w))
    internet, tv = _live(w, django_capture_on_commit_callbacks, w.internet, w.tv)
    client.post(reverse("portal-subscription-terminate", args=[internet.pk]), {"reason": "moved"}, follow=True)
    # when
    response = client.post(reverse("portal-subscription-withdraw", args=[internet.pk]), follow=True)
    # then: both run on, and My services offers to end or change them again
    assert _messages(response) == ["Your notice is withdrawn: Fiber 1000 runs on."]
    internet.refresh_from_db()
    tv.refresh_from_db()
    assert (internet.status, internet.ends_on) == (SubscriptionStatus.ACTIVE, None)
    assert (tv.status, tv.ends_on, tv.ends_with) == (SubscriptionStatus.ACTIVE, None, None)
    body = _page(response)
    assert "Ends on" not in body
    assert "End subscription" in _card(body, internet)
    assert "End TV Bas" in _card(body, tv)


def test_withdrawing_is_a_post_only(client, django_capture_on_commit_callbacks):
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    client.force_login(_subscriber(w))
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    services.subscription_terminate(subscription_id=internet.pk, reason="moved")
    assert client.get(reverse("portal-subscription-withdraw", args=[internet.pk])).status_code == 405
    internet.refresh_from_db()
    assert internet.status == SubscriptionStatus.AWAITING_CANCELLATION


def test_withdrawing_the_tvs_own_notice_is_refused_with_a_message(client, django_capture_on_commit_callbacks):
    # given: TV under notice because its internet is
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    client.force_login(_subscriber(w))
    internet, tv = _live(w, django_capture_on_commit_callbacks, w.internet, w.tv)
    services.subscription_terminate(subscription_id=internet.pk, reason="moved")
    # when
    response = client.post(reverse("portal-subscription-withdraw", args=[tv.pk]), follow=True)
    # then
    assert _messages(response) == ["It ends with the service it depends on: withdraw that notice."]
    tv.refresh_from_db()
    assert tv.status == SubscriptionStatus.AWAITING_CANCELLATION


# --- changing plan ----------------------------------------------------------------------------------------------


def _plans(w):
    """Two more internet plans of the world's provider: a cheaper one and a dearer one."""
    small = ProductFactory(provider=w.provider, name="Fiber 250", download_mbps=250, upload_mbps=250)
    PriceFactory(product=small, marketplace=w.marketplace, monthly_amount=Decimal("299.00"))
    big = ProductFactory(provider=w.provider, name="Fiber 2000", download_mbps=2000, upload_mbps=2000)
    PriceFactory(product=big, marketplace=w.marketplace, monthly_amount=Decimal("499.00"))
    return small, big


def test_the_change_page_lists_the_providers_other_plans_with_upgrade_and_downgrade(
    client, django_capture_on_commit_callbacks
):
    # given: Fiber 1000 at 399, the provider also sells 250 at 299 and 2000 at 499; and TV (another category)
    w = world()
    client.force_login(_subscriber(w))
    small, big = _plans(w)
    internet, _ = _live(w, django_capture_on_commit_callbacks, w.internet, w.tv)
    # when
    response = client.get(reverse("portal-subscription-change", args=[internet.pk]))
    # then: cheapest first, each with its label; the downgrade from the next billing period (1 April)
    body = _page(response)
    rows = [(r["candidate"].product.name, r["upgrade"], r["difference"]) for r in response.context["rows"]]
    assert rows == [("Fiber 250", False, Decimal("-100.00")), ("Fiber 2000", True, Decimal("100.00"))]
    assert body.index("Fiber 250") < body.index("Fiber 2000")
    assert "Downgrade: from 1 April 2025, the start of your next billing period" in body
    assert "Upgrade: at once, the rest of this period at the new price" in body
    assert "(-100.00 SEK)" in body
    assert "(+100.00 SEK)" in body
    assert "TV Bas" not in body.split("<h1>")[1]


def test_choosing_a_downgrade_schedules_it_and_my_services_says_changing_to(client, django_capture_on_commit_callbacks):
    # given
    w = world()
    client.force_login(_subscriber(w))
    small, _ = _plans(w)
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    # when
    response = client.post(
        reverse("portal-subscription-change", args=[internet.pk]), {"product": small.pk}, follow=True
    )
    # then: a change from the next period; the plan itself waits for that day
    change = SubscriptionChange.objects.get(subscription=internet)
    assert (change.kind, change.status, change.to_product, change.effective_on) == (
        ChangeKind.DOWNGRADE,
        ChangeStatus.SCHEDULED,
        small,
        date(2025, 4, 1),
    )
    assert _messages(response) == ["Fiber 250 starts on 1 April 2025."]
    card = _card(_page(response), internet)
    assert "Changing to <strong>Fiber 250</strong> on 1 April 2025." in card
    assert "Change plan" not in card  # one change at a time
    internet.refresh_from_db()
    assert internet.product == w.internet


def test_choosing_an_upgrade_sends_it_at_once(client, django_capture_on_commit_callbacks):
    # given
    w = world()
    client.force_login(_subscriber(w))
    _, big = _plans(w)
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    # when
    response = client.post(reverse("portal-subscription-change", args=[internet.pk]), {"product": big.pk}, follow=True)
    # then
    change = SubscriptionChange.objects.get(subscription=internet)
    assert (change.kind, change.status, change.effective_on) == (ChangeKind.UPGRADE, ChangeStatus.REQUESTED, TODAY)
    assert _messages(response) == ["Fiber 2000 is being switched on: the new price applies from today."]
    assert "Changing to <strong>Fiber 2000</strong> now (on its way to the network)." in _card(
        _page(response), internet
    )


def test_the_change_page_with_a_change_under_way_says_so(client, django_capture_on_commit_callbacks):
    w = world()
    client.force_login(_subscriber(w))
    small, _ = _plans(w)
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    client.post(reverse("portal-subscription-change", args=[internet.pk]), {"product": small.pk})
    body = _page(client.get(reverse("portal-subscription-change", args=[internet.pk])))
    assert "A change to <strong>Fiber 250</strong> is under way (from 1 April 2025)." in body
    assert 'name="product"' not in body


def test_choosing_no_plan_is_a_form_error(client, django_capture_on_commit_callbacks):
    w = world()
    client.force_login(_subscriber(w))
    _plans(w)
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    # a browser always sends the CSRF token, so the form is bound even with no plan chosen
    response = client.post(reverse("portal-subscription-change", args=[internet.pk]), {"csrfmiddlewaretoken": "x"})
    assert response.status_code == 200
    assert "This field is required." in _page(response)
    assert not SubscriptionChange.objects.exists()


def test_the_change_page_of_a_subscription_that_is_not_active_redirects_with_a_message(
    client, django_capture_on_commit_callbacks
):
    # given: under notice
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    client.force_login(_subscriber(w))
    _plans(w)
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    services.subscription_terminate(subscription_id=internet.pk, reason="moved")
    # when
    response = client.get(reverse("portal-subscription-change", args=[internet.pk]), follow=True)
    # then
    assert response.redirect_chain == [(reverse("portal"), 302)]
    assert _messages(response) == ["Fiber 1000 is awaiting cancellation."]
    assert not SubscriptionChange.objects.exists()


def test_the_change_page_without_other_plans_says_so(client, django_capture_on_commit_callbacks):
    w = world()
    client.force_login(_subscriber(w))
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    body = _page(client.get(reverse("portal-subscription-change", args=[internet.pk])))
    assert f"{w.provider.name} has no other internet plan for this address right now." in body


# --- switching provider -----------------------------------------------------------------------------------------


def test_the_offers_page_offers_the_subscriber_a_switch_with_its_earliest_hand_over_day(
    client, django_capture_on_commit_callbacks
):
    # given: A's internet (no minimum term, 30 days' notice) live; B sells internet in the same marketplace
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    client.force_login(_subscriber(w))
    _live(w, django_capture_on_commit_callbacks)
    b, b_internet = _provider_b(w)
    # when
    response = client.get(reverse("address-offers", args=[w.address.pk]))
    # then: B's offer can be chosen, as a switch that takes over when A's notice would end
    rows = {row["offer"].product.name: row for _, offers in response.context["categories"] for row in offers}
    assert rows["B 500"]["switch"] is True
    assert rows["B 500"]["disabled"] is False
    assert rows["B 500"]["note"] == (
        f"Switch from {w.provider.name}: it takes over on {_shown(TODAY + timedelta(days=30))} at the earliest, "
        "with no visit and no gap in service."
    )
    assert rows["Fiber 1000"]["note"] == "Your current plan."
    assert rows["Fiber 1000"]["disabled"] is True
    body = _page(response)
    assert f'value="{w.marketplace.pk}:{b_internet.pk}" id="offer-{w.marketplace.pk}-{b_internet.pk}"' in body
    assert f'aria-label="Choose B 500 from {b.name}">' in body  # not disabled


def test_the_offers_page_shows_the_switch_as_impossible_to_a_visitor_and_to_another_customer(
    client, django_capture_on_commit_callbacks
):
    # given
    w = world()
    _subscriber(w)
    _live(w, django_capture_on_commit_callbacks)
    b, b_internet = _provider_b(w)
    url = reverse("address-offers", args=[w.address.pk])
    taken = f"This address has internet from {w.provider.name} already."
    disabled = f'aria-label="Choose B 500 from {b.name}" disabled>'
    # when: an anonymous visitor looks
    body = _page(client.get(url))
    # then: disabled, with a hint to log in
    assert f"{taken} If it is yours, log in to switch provider." in body
    assert disabled in body
    # when: another customer, logged in, looks
    client.force_login(CustomerFactory(user=UserFactory()).user)
    body = _page(client.get(url))
    # then: disabled, without the hint
    assert taken in body
    assert "log in to switch" not in body
    assert disabled in body
    assert "Switch from" not in body


def test_after_bs_order_my_services_shows_the_move_and_the_take_over_with_abort_links(
    client, django_capture_on_commit_callbacks
):
    # given: A's internet live; the same subscriber orders B's internet at the address
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    client.force_login(_subscriber(w))
    (a_internet,) = _live(w, django_capture_on_commit_callbacks)
    b, b_internet = _provider_b(w)
    # when
    order = _order_from_b(w, b, b_internet, django_capture_on_commit_callbacks)
    # then: a scheduled switch on the day A's notice ends; A awaits cancellation
    handover = TODAY + timedelta(days=30)
    (switch,) = Switch.objects.filter(order=order)
    assert (switch.status, switch.from_subscription, switch.handover_on) == (
        SwitchStatus.SCHEDULED,
        a_internet,
        handover,
    )
    a_internet.refresh_from_db()
    assert a_internet.status == SubscriptionStatus.AWAITING_CANCELLATION
    body = _page(client.get(reverse("portal")))
    abort = (
        f'<a class="button secondary" href="{reverse("portal-switch-abort", args=[switch.pk])}">Abort the switch</a>'
    )
    a_card = _card(body, a_internet)
    assert f"Moves to another provider on <strong>{_shown(handover)}</strong>" in a_card
    assert abort in a_card
    assert "Withdraw the notice" not in a_card  # a switch is aborted, not withdrawn
    order_card = body[body.index(f"<strong>Order {order.pk}</strong>") :]
    assert f"Takes over your internet from <strong>{w.provider.name}</strong>" in order_card
    assert f"on <strong>{_shown(handover)}</strong>: no visit, no gap in service." in order_card
    assert abort in order_card


def test_aborting_the_switch_asks_first_then_cancels_bs_order_and_a_runs_on(client, django_capture_on_commit_callbacks):
    # given: a scheduled switch from A to B
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    client.force_login(_subscriber(w))
    (a_internet,) = _live(w, django_capture_on_commit_callbacks)
    b, b_internet = _provider_b(w)
    order = _order_from_b(w, b, b_internet, django_capture_on_commit_callbacks)
    switch = Switch.objects.get(order=order)
    url = reverse("portal-switch-abort", args=[switch.pk])
    # when: the abort link is followed
    page = client.get(url)
    # then: a confirmation, nothing changed yet
    body = _page(page)
    assert f"<h1>Stay with {w.provider.name}?</h1>" in body
    assert f"your order {order.pk} with {b.name} is cancelled" in body
    switch.refresh_from_db()
    assert switch.status == SwitchStatus.SCHEDULED
    # when: confirmed
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)
    # then: B's order is cancelled, A's subscription runs on as before
    assert _messages(response) == [f"The switch is aborted: Fiber 1000 from {w.provider.name} runs on."]
    switch.refresh_from_db()
    order.refresh_from_db()
    a_internet.refresh_from_db()
    assert switch.status == SwitchStatus.ABORTED
    assert order.status == OrderStatus.CANCELLED
    assert (a_internet.status, a_internet.ends_on) == (SubscriptionStatus.ACTIVE, None)
    assert Subscription.objects.get(order_line__order=order).status == SubscriptionStatus.CANCELLED
    card = _card(_page(response), a_internet)
    assert "Moves to another provider" not in card
    assert "End subscription" in card
    # and the abort page is gone
    assert client.get(url).status_code == 404


def test_the_abort_link_works_when_b_keeps_its_own_customer_record_of_the_subscriber(
    client, django_capture_on_commit_callbacks
):
    # given: A's internet live; B orders the switch under its own customer record of the same person (same e-mail,
    # no portal login), as a provider's API does
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    client.force_login(_subscriber(w))
    (a_internet,) = _live(w, django_capture_on_commit_callbacks)
    b, b_internet = _provider_b(w)
    w.customer = CustomerFactory(email=w.customer.email)
    order = _order_from_b(w, b, b_internet, django_capture_on_commit_callbacks)
    switch = Switch.objects.get(order=order, status=SwitchStatus.SCHEDULED)
    url = reverse("portal-switch-abort", args=[switch.pk])
    # when: the subscriber sees the switch on A's service and follows its abort link
    card = _card(_page(client.get(reverse("portal"))), a_internet)
    assert f'<a class="button secondary" href="{url}">Abort the switch</a>' in card
    response = client.get(url)
    # then: the confirmation page opens
    assert response.status_code == 200


def test_another_customer_cannot_abort_the_switch(client, django_capture_on_commit_callbacks):
    w = world()
    _terms(w.internet, minimum_months=0, notice_days=30)
    _subscriber(w)
    _live(w, django_capture_on_commit_callbacks)
    b, b_internet = _provider_b(w)
    order = _order_from_b(w, b, b_internet, django_capture_on_commit_callbacks)
    switch = Switch.objects.get(order=order)
    client.force_login(CustomerFactory(user=UserFactory()).user)
    url = reverse("portal-switch-abort", args=[switch.pk])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    switch.refresh_from_db()
    assert switch.status == SwitchStatus.SCHEDULED


# --- the My services page stays cheap ---------------------------------------------------------------------------


def _busy_address(customer, capture):
    """One more address of the customer: live internet and TV from A, a downgrade scheduled, a switch to B ordered."""
    w = world()
    w.customer = customer
    _terms(w.internet, minimum_months=0, notice_days=30)
    small = ProductFactory(provider=w.provider, name="Fiber 250", download_mbps=250, upload_mbps=250)
    PriceFactory(product=small, marketplace=w.marketplace, monthly_amount=Decimal("299.00"))
    internet, _ = _live(w, capture, w.internet, w.tv)
    services.subscription_change_request(subscription_id=internet.pk, product_id=small.pk)
    b, b_internet = _provider_b(w)
    _order_from_b(w, b, b_internet, capture)


def test_my_services_query_count_does_not_grow_with_the_subscriptions(
    client, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    # given: one address with live services, a plan change and a switch under way
    customer = CustomerFactory(user=UserFactory())
    client.force_login(customer.user)
    _busy_address(customer, django_capture_on_commit_callbacks)
    assert Subscription.objects.filter(customer=customer).count() == 3
    # when / then
    with django_assert_max_num_queries(12):
        assert client.get(reverse("portal")).status_code == 200
    # given: four more such addresses
    for _ in range(4):
        _busy_address(customer, django_capture_on_commit_callbacks)
    assert Subscription.objects.filter(customer=customer).count() == 15
    # when / then: the same number of queries
    with django_assert_max_num_queries(12):
        body = _page(client.get(reverse("portal")))
    assert body.count("Moves to another provider on") == 5
    assert body.count("Changing to <strong>Fiber 250</strong>") == 5


# --- added: keeping the current plan, the old provider's fee on a switch ---------------------------------------


def test_a_scheduled_downgrade_is_withdrawn_from_my_services(client, django_capture_on_commit_callbacks):
    # given: a downgrade scheduled for the next period
    w = world()
    client.force_login(_subscriber(w))
    (internet,) = _live(w, django_capture_on_commit_callbacks)
    cheaper = ProductFactory(provider=w.provider, name="Fiber 250", download_mbps=250, upload_mbps=250)
    PriceFactory(product=cheaper, marketplace=w.marketplace, monthly_amount=Decimal("299.00"))
    services.subscription_change_request(subscription_id=internet.pk, product_id=cheaper.pk)
    card = _card(_page(client.get(reverse("portal"))), internet)
    assert "Keep Fiber 1000" in card
    # when
    response = client.post(reverse("portal-subscription-change-withdraw", args=[internet.pk]), follow=True)
    # then
    assert _messages(response) == ["You keep Fiber 1000: the change to Fiber 250 is withdrawn."]
    assert SubscriptionChange.objects.get().status == ChangeStatus.CANCELLED
    assert "Changing to" not in _card(_page(response), internet)


def test_the_offers_page_says_what_the_old_provider_charges_for_a_switch_inside_its_minimum_term(
    client, django_capture_on_commit_callbacks
):
    # given: A's terms bind 12 months, bought out by a 995 SEK fee
    w = world()
    _terms(w.internet, minimum_months=12, notice_days=30, early_termination_fee=Decimal("995.00"))
    client.force_login(_subscriber(w))
    _live(w, django_capture_on_commit_callbacks)
    b, b_internet = _provider_b(w)
    # when
    response = client.get(reverse("address-offers", args=[w.address.pk]))
    # then
    rows = {row["offer"].product.name: row for _, offers in response.context["categories"] for row in offers}
    assert rows["B 500"]["switch"] is True
    assert f"{w.provider.name} charges its early-termination fee of 995.00 SEK" in rows["B 500"]["note"]
    assert f"runs until {_shown(date(2026, 3, 11))}" in rows["B 500"]["note"]
