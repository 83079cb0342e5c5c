"""Provider API, the contract at the edges: days in the far future are refused with a stable code, and the
Idempotency-Key header is read as UTF-8 (as a WSGI server hands it over) or refused."""

import pytest

from cos.api.validators import INSTALL_DATE_MAX_AHEAD, VALID_FROM_MAX_AHEAD
from marketplace.models import ContractTerm, Order, Price, Promotion
from tests.marketplace.api.conftest import order_body, provider_client
from tests.marketplace.factories import PriceFactory, PromotionFactory, days_from_today, world

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


# --- what the schema fuzzing found (tests/cos/test_api_fuzz.py) -------------------------------


@pytest.mark.parametrize("path", ["/api/v1/prices/", "/api/v1/orders/", "/api/v1/subscriptions/"])
def test_an_id_filter_past_64_bits_lists_nothing(w, api, path):
    # when: an id no database column can hold (it was a server error)
    response = api.get(path, {"marketplace": "-1455993982304746733568"})

    # then
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


@pytest.mark.parametrize("value", ["3.5", "60.0", " 6", "abc"])
def test_an_id_filter_that_is_no_whole_number_is_refused(w, api, value):
    # when
    response = api.get("/api/v1/prices/", {"marketplace": value})

    # then: where a select of known ids used to say "invalid_choice" for any unknown one
    assert response.status_code == 400
    assert response.json()["codes"] == {"marketplace": ["invalid"]}


def test_an_unknown_id_in_a_filter_lists_nothing(w, api):
    # when
    response = api.get("/api/v1/prices/", {"product": w.internet.pk + 1000})

    # then
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    ("after", "listed"),
    [
        ("3931-03-14T01:30:03-19:23", False),  # an offset PostgreSQL refuses (it was a server error there)
        ("0001-01-01T00:00:00+05:00", True),  # before the year 1 in UTC (it overflowed)
        ("9999-12-31T23:59:59-12:00", False),  # after the year 9999 in UTC
    ],
)
def test_a_created_after_filter_takes_any_instant(w, api, place, after, listed):
    # given
    order_id = place(api, order_body(w), key="k").json()["id"]

    # when
    response = api.get("/api/v1/orders/", {"created_after": after})

    # then
    assert response.status_code == 200, response.content
    assert ([row["id"] for row in response.json()["results"]] == [order_id]) is listed


@pytest.mark.parametrize(("query", "field"), [("limit=0", "limit"), ("offset=-1", "offset"), ("offset=null", "offset")])
def test_a_page_parameter_that_is_no_whole_number_is_refused(w, api, query, field):
    # when: it used to give the first page, as if not sent
    response = api.get(f"/api/v1/products/?{query}")

    # then
    assert response.status_code == 400
    assert response.json()["codes"] == {field: ["invalid"]}


def test_an_empty_page_parameter_is_as_if_not_sent(w, api):
    # when
    response = api.get("/api/v1/products/?limit=&offset=")

    # then
    assert response.status_code == 200
    assert response.json()["count"] == 2


@pytest.mark.parametrize(("value", "status", "count"), [("true", 200, 2), ("false", 200, 0), ("0.2", 400, None)])
def test_a_boolean_filter_takes_true_or_false_only(w, api, value, status, count):
    # when: any other value used to be read as no filter
    response = api.get("/api/v1/products/", {"active": value})

    # then
    assert response.status_code == status
    assert response.json().get("count") == count


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": -851101859}, "name"),  # was stored as the text "-851101859"
        ({"periods": "3"}, "periods"),
        ({"value": 10}, "value"),  # a decimal is a string in the schema
    ],
)
def test_a_value_of_another_json_type_than_the_schema_says_is_refused(w, api, body, field):
    # given
    promotion = PromotionFactory(product=w.internet, marketplace=w.marketplace, name="Summer")

    # when
    response = api.patch(f"/api/v1/promotions/{promotion.pk}/", body, format="json")

    # then
    assert response.status_code == 400, response.content
    assert response.json()["codes"] == {field: ["incorrect_type"]}
    promotion.refresh_from_db()
    assert promotion.name == "Summer"


def test_a_body_that_is_no_json_is_refused(w, api):
    # when: form encodings cannot say null, a list or an object, so the API takes JSON only
    response = api.post("/api/v1/terms/", {"name": "Form", "minimum_months": 12, "notice_days": 30})

    # then
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert not ContractTerm.objects.filter(name="Form").exists()


def test_a_text_of_spaces_is_refused_as_blank(place):
    # given: an order of a provider that decides by hand, so it waits as submitted
    w = world(auto_accept=False)
    api = provider_client(w.provider)
    order_id = place(api, order_body(w), key="by-hand").json()["id"]

    # when
    response = api.post(f"/api/v1/orders/{order_id}/reject/", {"reason": "\r "}, format="json")

    # then
    assert response.status_code == 400
    assert response.json()["codes"] == {"reason": ["blank"]}
    assert Order.objects.get(pk=order_id).status == "submitted"


def test_a_rule_of_a_model_has_the_code_rule(w, api):
    # given: a price version that ends in 10 days, so a new one from 60 days ago overlaps it
    PriceFactory(product=w.internet, marketplace=w.marketplace, valid_from=days_from_today(10))

    # when
    response = api.post("/api/v1/prices/", price_body(w, days_from_today(-60)), format="json")

    # then: well-formed input that a rule refuses, told apart from malformed input (invalid)
    assert response.status_code == 400, response.content
    assert response.json()["codes"] == {"valid_from": ["rule"]}


def test_an_optional_query_parameter_sent_empty_is_as_if_not_sent(w, api):
    # when
    response = api.get("/api/v1/availability/", {"address": w.address.pk, "customer_type": ""})

    # then: the residential offers
    assert response.status_code == 200, response.content
    assert {offer["product"] for offer in response.json()} == {w.internet.pk, w.tv.pk}
