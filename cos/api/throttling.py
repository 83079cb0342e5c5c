"""API rate limits: a provider's calls per minute, and a lockout of an address that keeps sending wrong keys.

Counters live in the default cache (Redis when REDIS_URL is set, so every web process shares them). Both answer
429 with a Retry-After header and the JSON envelope (`throttled`, `too_many_bad_keys`).
"""

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.throttling import UserRateThrottle


class ProviderRateThrottle(UserRateThrottle):
    """At most API_RATE_LIMIT calls (e.g. "1200/min") per caller; empty switches it off."""

    scope = "provider"

    def get_rate(self):
        return settings.API_RATE_LIMIT or None


class TooManyBadKeys(Throttled):
    default_code = "too_many_bad_keys"

    def __init__(self, wait: int):
        super().__init__(
            wait=wait,
            detail=f"Too many requests with a wrong API key from this address: try again in {wait} seconds.",
            code=self.default_code,
        )


def _key(request) -> str:
    return f"api-bad-keys:{get_client_ip_address(request) or 'unknown'}"


def bad_keys_check(request) -> None:
    """Refuse an address that sent API_BAD_KEY_LIMIT wrong keys within API_BAD_KEY_WINDOW_SECONDS, whatever it
    sends now: guessing keys is slower than the window."""
    if settings.API_BAD_KEY_LIMIT and cache.get(_key(request), 0) >= settings.API_BAD_KEY_LIMIT:
        raise TooManyBadKeys(settings.API_BAD_KEY_WINDOW_SECONDS)


def bad_key_count(request) -> None:
    key, window = _key(request), settings.API_BAD_KEY_WINDOW_SECONDS
    if cache.add(key, 1, timeout=window):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
