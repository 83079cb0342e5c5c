"""Hostile and broken input on the provider API: every answer is JSON with a stable code, never a server error and
never an HTML page, and nothing is written."""

import json

import pytest
from django.test import override_settings

from marketplace.models import Order
from tests.marketplace.api.conftest import order_body

pytestmark = pytest.mark.django_db


def _json_refusal(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    if code:
        assert body["code"] == code, body
    return body


@pytest.mark.parametrize("limit", ["1000000000000000000000000", "99999999999"])
def test_a_huge_limit_gives_a_page_of_the_maximum_size(api, w, limit):
    response = api.get(f"/api/v1/orders/?limit={limit}&offset=100000000000000000000000")
    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize("moment", ["2026-01-01T00:00:00+99:00", "2026-13-45T00:00:00", "not-a-date"])
def test_a_bad_time_filter_is_refused(api, w, moment):
    _json_refusal(api.get("/api/v1/orders/", {"created_after": moment}), 400, "invalid")


def test_a_nul_character_in_a_search_is_refused(api, w):
    _json_refusal(api.get("/api/v1/addresses/?search=Stor%00gatan"), 400, "invalid_characters")


def test_deeply_nested_json_is_refused(api, w):
    body = "[" * 5000 + "]" * 5000
    _json_refusal(
        api.post("/api/v1/orders/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="n"), 400, "parse_error"
    )


def test_a_nul_character_in_a_json_body_is_refused_and_nothing_is_written(api, w):
    body = order_body(w)
    body["customer"]["first_name"] = "An\x00na"
    response = api.post("/api/v1/orders/", json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY="z")
    _json_refusal(response, 400, "parse_error")
    assert not Order.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/orders/abc/", "/api/v1/orders/1.5/", "/api/v1/nothing-here/", "/api/v2/"])
def test_an_unknown_route_or_id_is_a_json_404(api, w, path):
    _json_refusal(api.get(path), 404, "not_found")


def test_a_post_without_the_trailing_slash_is_served(api, w, place):
    response = api.post("/api/v1/orders", order_body(w), format="json", HTTP_IDEMPOTENCY_KEY="no-slash")
    assert response.status_code == 201, response.content[:300]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_over_the_upload_limit_is_a_json_400(api, w):
    body = json.dumps({"x": "a" * 5000})
    _json_refusal(api.post("/api/v1/orders/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big"), 400)


def test_a_product_repeated_on_an_order_is_refused_and_nothing_is_made(api, w, place):
    body = order_body(w)
    body["lines"] = body["lines"] * 3
    response = place(api, body)
    refusal = _json_refusal(response, 400, "duplicate")
    assert "more than once" in refusal["message"]
    assert not Order.objects.exists()


def test_thousands_of_lines_are_refused_before_anything_is_looked_up(api, w, place, django_assert_max_num_queries):
    body = order_body(w)
    body["lines"] = body["lines"] * 5000
    with django_assert_max_num_queries(3):  # the token and the provider only
        response = place(api, body)
    refusal = _json_refusal(response, 400, "invalid")
    assert "lines" in refusal["errors"]
