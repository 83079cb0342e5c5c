"""Customer portal pages: search, offers, checkout (sign-up and logged-in), the subscriber's portal."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from cos.choices import AddressStatus
from marketplace.choices import OrderStatus
from marketplace.models import Interest, Order, ValidationFailure
from tests.cos.factories import AddressFactory, CustomerFactory, UserFactory
from tests.marketplace.factories import PriceFactory, ProductFactory, PromotionFactory, days_from_today, world

pytestmark = pytest.mark.django_db


def _details(**over):
    data = {
        "first_name": "Eva",
        "last_name": "Berg",
        "email": "eva@example.test",
        "phone": "+46 70 000 00 00",
        "billing_street": "Storgatan 3",
        "billing_postal_code": "72110",
        "billing_city": "Västerås",
        "install_date": days_from_today(10).isoformat(),
        "install_slot": "morning",
        "password": "a-long-pass-phrase",
    }
    data.update(over)
    return data


def _choose(client, w, *products):
    return client.post(
        reverse("checkout-start"),
        {
            "address": w.address.pk,
            "customer_type": "residential",
            "offer": [f"{w.marketplace.pk}:{p.pk}" for p in products],
        },
    )


def test_search_suggestions_as_one_types(client):
    AddressFactory(street="Storgatan", house_number=12)
    response = client.get(reverse("address-suggest"), {"q": "storgatan 12"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Storgatan 12" in response.content.decode()
    assert "<html" not in response.content.decode()  # a partial for htmx


def test_home_page_loads_htmx_from_the_project_not_a_cdn(client):
    body = client.get("/").content.decode()
    assert "/static/django_htmx/htmx-2.min.js" in body
    assert "https://" not in body


def test_offers_page_groups_by_category_and_compares(client):
    w = world()
    PromotionFactory(product=w.internet)
    body = client.get(reverse("address-offers", args=[w.address.pk])).content.decode()
    assert body.index("<h2>Internet</h2>") < body.index("<h2>TV</h2>")  # headings: a random token may spell "TV"
    assert "399.00 SEK" in body
    assert "495.00 SEK" in body
    assert "50 % off for 3 month(s)" in body
    assert "12 months" in body
    assert w.provider.name in body


def test_offers_page_query_count_is_flat(client, django_assert_max_num_queries):
    w = world()
    with django_assert_max_num_queries(13):
        client.get(reverse("address-offers", args=[w.address.pk]))
    for i in range(15):
        product = ProductFactory(
            provider=w.provider, name=f"Extra {i}", category="value_added", download_mbps=None, upload_mbps=None
        )
        PriceFactory(product=product, marketplace=w.marketplace)
    with django_assert_max_num_queries(13):
        response = client.get(reverse("address-offers", args=[w.address.pk]))
    assert response.content.decode().count('name="offer"') == 17


def test_honest_message_and_interest_where_nothing_can_be_ordered(client):
    w = world(address_status=AddressStatus.PLANNED)
    body = client.get(reverse("address-offers", args=[w.address.pk])).content.decode()
    assert "You cannot order here yet" in body
    client.post(reverse("address-interest", args=[w.address.pk]), {"email": "Neighbour@Example.test"})
    client.post(reverse("address-interest", args=[w.address.pk]), {"email": "neighbour@example.test"})
    assert list(Interest.objects.values_list("email", flat=True)) == ["neighbour@example.test"]


def test_pre_order_offers_are_marked(client):
    w = world(address_status=AddressStatus.IN_DEPLOYMENT, takes_preorders=True)
    rule = w.internet.eligibility
    rule.address_statuses = ["connected", "in_deployment"]
    rule.save()
    body = client.get(reverse("address-offers", args=[w.address.pk])).content.decode()
    assert "pre-orders" in body
    assert "Fiber 1000" in body


def test_offers_of_two_providers_in_one_order_are_refused(client):
    w = world()
    other = ProductFactory()
    PriceFactory(product=other, marketplace=w.marketplace)
    w.marketplace.participations.create(provider=other.provider)
    response = _choose(client, w, w.internet, other)
    assert response.status_code == 302
    follow = client.get(response.url).content.decode()
    assert "one provider" in follow
    assert "checkout" not in client.session


def test_after_an_error_the_offers_page_keeps_what_was_ticked(client):
    # given: two providers' offers ticked together (refused)
    w = world()
    other = ProductFactory()
    PriceFactory(product=other, marketplace=w.marketplace)
    w.marketplace.participations.create(provider=other.provider)
    response = _choose(client, w, w.internet, other)
    # when: the customer is back on the offers page
    page = client.get(response.url).content.decode()
    # then: both boxes are still ticked, nothing else; and only this once
    ticked = set(re.findall(r'value="(\d+:\d+)"[^>]*checked', page))
    assert ticked == {f"{w.marketplace.pk}:{w.internet.pk}", f"{w.marketplace.pk}:{other.pk}"}
    assert "checked" not in client.get(response.url).content.decode()


def test_sign_up_checkout_places_the_order_and_logs_in(client, django_capture_on_commit_callbacks):
    # given
    w = world()
    _choose(client, w, w.internet, w.tv)
    # when: details with sign-up
    response = client.post(reverse("checkout-details"), _details())
    assert response.status_code == 302
    review = client.get(reverse("checkout-review")).content.decode()
    # then: the first month is shown: (399 + 199) + 495 start fee = 1093.00, tax 25 % = 273.25
    assert "1366.25 SEK" in review
    # when: the terms are accepted
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("checkout-review"), {"terms_accepted": "on"})
    # then
    order = Order.objects.get()
    assert response.url == reverse("checkout-done", args=[order.pk])
    assert order.status == OrderStatus.ACCEPTED
    assert order.customer.user.username == "eva@example.test"
    assert order.customer.user.check_password("a-long-pass-phrase")
    done = client.get(response.url).content.decode()
    assert f">{order.pk}<" in done
    portal = client.get(reverse("portal")).content.decode()
    assert "Fiber 1000" in portal
    assert "— Confirmed" in portal  # the timeline speaks the customer's words, not the status's code


def test_the_portal_speaks_plain_words_in_the_marketplaces_local_time(client, django_capture_on_commit_callbacks):
    # given: an order accepted at 23:30 UTC on 1 December, half past midnight on 2 December in Stockholm
    from datetime import UTC, datetime

    from django.contrib.contenttypes.models import ContentType

    from cos.models import TransitionLog
    from marketplace import services

    w = world()
    w.customer.user = UserFactory()
    w.customer.save(update_fields=["user"])
    with django_capture_on_commit_callbacks(execute=True):  # accepted automatically
        order, _ = services.order_place(request=w.request(w.internet, install_date=days_from_today(9)))
    TransitionLog.objects.filter(
        content_type=ContentType.objects.get_for_model(order), object_id=order.pk, target="accepted"
    ).update(created_at=datetime(2026, 12, 1, 23, 30, tzinfo=UTC))
    client.force_login(w.customer.user)
    # when
    page = client.get(reverse("portal")).content.decode()
    # then: no state-machine names, the local time, the day asked for
    assert "2 Dec 2026, 00:30 — Confirmed" in page
    for code in ("in_fulfillment", "submitted", "accepted", "pending", "created", "scheduled"):
        assert f">{code}<" not in page
        assert f"— {code}" not in page
    assert "Starts when it is connected" in page
    assert f"Installation you asked for:\n          <strong>{days_from_today(9):%-d %B %Y}</strong>" in page


def test_review_without_terms_shows_a_form_error_and_places_nothing(client):
    w = world()
    _choose(client, w, w.internet)
    client.post(reverse("checkout-details"), _details())
    response = client.post(reverse("checkout-review"), {})
    assert response.status_code == 200
    assert "Accept the terms" in response.content.decode()
    assert not Order.objects.exists()


def test_details_form_errors(client):
    w = world()
    _choose(client, w, w.internet)
    UserFactory(username="taken@example.test")
    response = client.post(reverse("checkout-details"), _details(email="taken@example.test", phone="", password="x"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "log in first" in body
    assert "This field is required" in body


def test_a_price_change_during_checkout_is_refused_and_recorded(client, django_capture_on_commit_callbacks):
    w = world()
    _choose(client, w, w.internet)
    client.post(reverse("checkout-details"), _details())
    w.internet_price.monthly_amount = Decimal("449.00")
    w.internet_price.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("checkout-review"), {"terms_accepted": "on"})
    assert response.status_code == 302
    assert "now 449.00" in client.get(response.url).content.decode()
    assert not Order.objects.exists()
    assert not get_user_model().objects.filter(username="eva@example.test").exists()
    assert ValidationFailure.objects.filter(code="price_stale", channel="portal").exists()


def test_logged_in_customer_checks_out_with_prefilled_details(client, django_capture_on_commit_callbacks):
    w = world()
    customer = CustomerFactory(user=UserFactory(username="olle"), first_name="Olle")
    client.force_login(customer.user)
    _choose(client, w, w.internet)
    form = client.get(reverse("checkout-details")).content.decode()
    assert 'value="Olle"' in form
    assert "password" not in form.lower().split("<form")[1].split("</form>")[0]
    details = _details()
    details.pop("password")
    client.post(reverse("checkout-details"), details)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("checkout-review"), {"terms_accepted": "on"})
    assert Order.objects.get().customer == customer


def test_portal_shows_only_my_orders_and_lets_me_cancel(client, django_capture_on_commit_callbacks):
    from marketplace.services import order_place

    w = world()
    mine = CustomerFactory(user=UserFactory())
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = order_place(request=w.request(customer=mine))
    other_world = world()
    with django_capture_on_commit_callbacks(execute=True):
        theirs, _ = order_place(request=other_world.request())
    client.force_login(mine.user)
    body = client.get(reverse("portal")).content.decode()
    assert f"Order {order.pk}" in body
    assert f"Order {theirs.pk}" not in body
    assert client.post(reverse("portal-order-cancel", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == OrderStatus.ACCEPTED
    # the button leads to a page that says what happens, and only its POST cancels
    asked = client.get(reverse("portal-order-cancel", args=[order.pk])).content.decode()
    assert "nothing of this order is billed" in asked
    assert "Yes, cancel the order" in asked
    order.refresh_from_db()
    assert order.status == OrderStatus.ACCEPTED
    client.post(reverse("portal-order-cancel", args=[order.pk]))
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert client.get(reverse("portal-order-cancel", args=[order.pk])).status_code == 302  # nothing to cancel now


def test_portal_query_count_is_flat(client, django_assert_max_num_queries, django_capture_on_commit_callbacks):
    from marketplace.services import order_place

    customer = CustomerFactory(user=UserFactory())
    client.force_login(customer.user)
    for _ in range(4):
        w = world()
        with django_capture_on_commit_callbacks(execute=True):
            order_place(request=w.request(w.internet, w.tv, customer=customer))
    with django_assert_max_num_queries(14):
        assert client.get(reverse("portal")).status_code == 200
