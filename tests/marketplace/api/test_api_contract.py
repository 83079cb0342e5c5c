"""Provider API, the contract at the edges: days in the far future are refused with a stable code, and the
Idempotency-Key header is read as UTF-8 (as a WSGI server hands it over) or refused."""

import pytest

from cos.api.validators import INSTALL_DATE_MAX_AHEAD, VALID_FROM_MAX_AHEAD
from marketplace.models import Order, Price, Promotion
from tests.marketplace.api.conftest import order_body
from tests.marketplace.factories import days_from_today

pytestmark = pytest.mark.django_db


def as_wsgi_gives_it(text: str) -> str:
    """A header value as a WSGI server hands it to Django: its UTF-8 bytes, each read as one ISO-8859-1 character."""
    return text.encode("utf-8").decode("latin-1")


def price_body(w, valid_from) -> dict:
    return {
        "product": w.internet.pk,
        "marketplace": w.marketplace.pk,
        "monthly_amount": "449.00",
        "start_fee": "0.00",
        "currency": "SEK",
        "valid_from": valid_from.isoformat(),
    }


# --- days in the far future --------------------------------------------------------------------


@pytest.mark.parametrize("install_date", ["9999-12-31", days_from_today(INSTALL_DATE_MAX_AHEAD.days + 1).isoformat()])
def test_an_install_date_past_the_bound_is_refused_with_a_code(w, api, place, install_date):
    # when
    response = place(api, order_body(w, preferred_install_date=install_date), key="far")

    # then
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert body["codes"] == {"preferred_install_date": ["date_too_far"]}
    assert "years ahead" in body["errors"]["preferred_install_date"][0]
    assert not Order.objects.exists()


def test_an_install_date_on_the_bound_is_taken(w, api, place):
    # given
    last_day = days_from_today(INSTALL_DATE_MAX_AHEAD.days)

    # when
    response = place(api, order_body(w, preferred_install_date=last_day.isoformat()), key="on-the-bound")

    # then
    assert response.status_code == 201, response.content
    assert Order.objects.get().preferred_install_date == last_day


@pytest.mark.parametrize("days_ahead", [VALID_FROM_MAX_AHEAD.days + 1, 2_900_000])
def test_a_price_valid_from_past_the_bound_is_refused_with_a_code(w, api, days_ahead):
    # given: 2,900,000 days is the year 9999
    before = set(Price.objects.values_list("pk", "valid_to"))
    valid_from = days_from_today(days_ahead)

    # when
    response = api.post("/api/v1/prices/", price_body(w, valid_from), format="json")

    # then: and the open-ended price is not closed either
    assert response.status_code == 400, response.content
    assert response.json()["codes"] == {"valid_from": ["date_too_far"]}
    assert set(Price.objects.values_list("pk", "valid_to")) == before


def test_a_price_valid_from_on_the_bound_is_taken(w, api):
    # given
    last_day = days_from_today(VALID_FROM_MAX_AHEAD.days)

    # when
    response = api.post("/api/v1/prices/", price_body(w, last_day), format="json")

    # then
    assert response.status_code == 201, response.content
    assert Price.objects.get(pk=response.json()["id"]).valid_from == last_day


def test_moving_a_price_valid_from_past_the_bound_is_refused(w, api):
    # when
    response = api.patch(f"/api/v1/prices/{w.internet_price.pk}/", {"valid_from": "9999-01-01"}, format="json")

    # then
    assert response.status_code == 400, response.content
    assert response.json()["codes"] == {"valid_from": ["date_too_far"]}
    w.internet_price.refresh_from_db()
    assert w.internet_price.valid_from < days_from_today(1)


def test_a_promotion_valid_from_past_the_bound_is_refused(w, api):
    # given
    body = {
        "product": w.internet.pk,
        "name": "Someday",
        "kind": "free_months",
        "periods": 1,
        "valid_from": "9999-12-31",
    }

    # when
    response = api.post("/api/v1/promotions/", body, format="json")

    # then
    assert response.status_code == 400, response.content
    assert response.json()["codes"] == {"valid_from": ["date_too_far"]}
    assert not Promotion.objects.filter(name="Someday").exists()


# --- the Idempotency-Key header ----------------------------------------------------------------


def test_a_utf8_idempotency_key_is_stored_as_sent(w, api, place):
    # given
    key = "beställning-ключ-注文-1"

    # when
    response = place(api, order_body(w), key=as_wsgi_gives_it(key))

    # then
    assert response.status_code == 201, response.content
    assert response.json()["idempotency_key"] == key
    assert Order.objects.get().idempotency_key == key


def test_the_same_utf8_key_again_returns_the_first_order(w, api, place):
    # given
    key = as_wsgi_gives_it("åäö-retry")
    first = place(api, order_body(w), key=key)

    # when
    again = place(api, order_body(w), key=key)

    # then
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1


def test_the_key_length_counts_characters_not_bytes(w, api, place):
    # given: 100 characters, 200 bytes
    key = "å" * 100

    # when
    response = place(api, order_body(w), key=as_wsgi_gives_it(key))

    # then
    assert response.status_code == 201, response.content
    assert Order.objects.get().idempotency_key == key


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("\xff\xfe-not-utf8", "header_invalid"),  # bytes FF FE: no UTF-8 text
        (as_wsgi_gives_it("tab\tinside"), "header_invalid"),
        (as_wsgi_gives_it("å" * 101), "max_length"),
        ("   ", "required"),
    ],
)
def test_an_idempotency_key_that_is_no_valid_text_is_refused(w, api, place, raw, code):
    # when
    response = place(api, order_body(w), key=raw)

    # then
    assert response.status_code == 400, response.content
    assert response.json()["codes"] == {"Idempotency-Key": [code]}
    assert not Order.objects.exists()


def test_a_missing_idempotency_key_is_refused(w, api, place):
    # when
    response = place(api, order_body(w), key=None)

    # then
    assert response.status_code == 400
    assert response.json()["codes"] == {"Idempotency-Key": ["required"]}
    assert not Order.objects.exists()
