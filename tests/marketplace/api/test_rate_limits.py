"""The provider API limits how fast one caller may call, and locks out an address that keeps sending wrong keys."""

import pytest
from rest_framework.test import APIClient

from tests.marketplace.api.conftest import provider_client
from tests.marketplace.factories import world

pytestmark = pytest.mark.django_db


def test_a_provider_over_its_rate_gets_429_with_when_to_retry(settings):
    # given
    settings.API_RATE_LIMIT = "3/min"
    w = world()
    api = provider_client(w.provider)
    for _ in range(3):
        assert api.get("/api/v1/products/").status_code == 200
    # when
    response = api.get("/api/v1/products/")
    # then
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    # and another provider is not slowed by it
    assert provider_client(world().provider).get("/api/v1/products/").status_code == 200


def test_wrong_keys_from_one_address_lock_it_out_even_for_a_right_key(settings):
    # given
    settings.API_BAD_KEY_LIMIT = 3
    w = world()
    right = provider_client(w.provider)
    guesser = APIClient()
    guesser.credentials(HTTP_AUTHORIZATION="Token not-a-key")
    codes = [guesser.get("/api/v1/products/").json()["code"] for _ in range(3)]
    # when
    guessed = guesser.get("/api/v1/products/")
    right_now = right.get("/api/v1/products/")  # same client address
    # then
    assert codes == ["token_invalid"] * 3
    assert guessed.status_code == right_now.status_code == 429
    assert guessed.json()["code"] == "too_many_bad_keys"
    assert "wrong API key" in guessed.json()["message"]
    assert guessed["Retry-After"] == str(settings.API_BAD_KEY_WINDOW_SECONDS)


def test_a_caller_from_another_address_is_not_locked_out(settings):
    # given: 127.0.0.1 is locked out
    settings.API_BAD_KEY_LIMIT = 1
    w = world()
    guesser = APIClient()
    guesser.credentials(HTTP_AUTHORIZATION="Token not-a-key")
    guesser.get("/api/v1/products/")
    assert guesser.get("/api/v1/products/").status_code == 429
    # when
    elsewhere = provider_client(w.provider).get("/api/v1/products/", REMOTE_ADDR="198.51.100.7")
    # then
    assert elsewhere.status_code == 200


def test_a_window_starts_with_the_first_call_and_the_429_says_when_it_ends(settings):
    # given: a limit of 2 calls a minute
    settings.API_RATE_LIMIT = "2/min"
    api = provider_client(world().provider)
    assert [api.get("/api/v1/products/").status_code for _ in range(2)] == [200, 200]
    # when
    refused = api.get("/api/v1/products/")
    # then: the caller waits at most the window, and the refusal is not counted against a later window
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60


def test_a_call_with_a_right_key_costs_one_round_trip_to_redis(settings, monkeypatch):
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache
    from redis.connection import AbstractConnection

    if not isinstance(caches["default"], RedisCache):
        pytest.skip("needs Redis (REDIS_URL)")
    # given: both limits on, and a warm client
    settings.API_RATE_LIMIT, settings.API_BAD_KEY_LIMIT = "100/min", 5
    api = provider_client(world().provider)
    assert api.get("/api/v1/me/").status_code == 200
    sent = []
    real = AbstractConnection.send_packed_command
    monkeypatch.setattr(
        AbstractConnection, "send_packed_command", lambda self, *a, **k: sent.append(1) or real(self, *a, **k)
    )
    # when
    response = api.get("/api/v1/me/")
    # then: the lockout check and the caller's count travel together
    assert response.status_code == 200
    assert len(sent) == 1
