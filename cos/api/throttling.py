"""API rate limits: a provider's calls per minute, and a lockout of an address that keeps sending wrong keys.

Counters live in the default cache (Redis when REDIS_URL is set, so every web process shares them). A caller's
calls are counted in a window that starts with its first call (a counter that expires; O(1) whatever the rate),
and a call with a right key costs one round trip to Redis for both counters (`calls_count`). Both limits answer
429 with a Retry-After header and the JSON envelope (`throttled`, `too_many_bad_keys`).
"""

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle


class TooManyBadKeys(Throttled):
    default_code = "too_many_bad_keys"

    def __init__(self, wait: int):
        super().__init__(
            wait=wait,
            detail=f"Too many requests with a wrong API key from this address: try again in {wait} seconds.",
            code=self.default_code,
        )


def _rate() -> tuple[int, int] | None:
    """API_RATE_LIMIT as (calls, seconds), e.g. "1200/min" -> (1200, 60); None when switched off."""
    if not settings.API_RATE_LIMIT:
        return None
    return SimpleRateThrottle.parse_rate(None, settings.API_RATE_LIMIT)


def _bad_keys_key(request) -> str:
    return f"api-bad-keys:{get_client_ip_address(request) or 'unknown'}"


def _calls_key(user_pk) -> str:
    return f"api-calls:{user_pk}"


def _redis():
    """The Redis client behind the default cache, or None (another backend: its own add/incr are used)."""
    backend = caches["default"]
    return backend._cache.get_client(write=True) if isinstance(backend, RedisCache) else None


def _bad_keys_over(count) -> bool:
    return bool(settings.API_BAD_KEY_LIMIT) and int(count or 0) >= settings.API_BAD_KEY_LIMIT


def bad_keys_check(request) -> None:
    """Refuse an address that sent API_BAD_KEY_LIMIT wrong keys within API_BAD_KEY_WINDOW_SECONDS, whatever it
    sends now: guessing keys is slower than the window."""
    if settings.API_BAD_KEY_LIMIT and _bad_keys_over(cache.get(_bad_keys_key(request), 0)):
        raise TooManyBadKeys(settings.API_BAD_KEY_WINDOW_SECONDS)


def bad_key_count(request) -> None:
    key, window = _bad_keys_key(request), settings.API_BAD_KEY_WINDOW_SECONDS
    if cache.add(key, 1, timeout=window):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)


def _count(key: str, window: int, client, also_get: str | None = None) -> tuple[int, object]:
    """This call counted under `key` (the window starts with the first call and ends `window` seconds later), and
    the value at `also_get`, in one round trip on Redis."""
    if client is not None:
        pipe = client.pipeline(transaction=False)
        pipe.set(cache.make_and_validate_key(key), 0, ex=window, nx=True)  # a new window; INCR keeps its expiry
        pipe.incr(cache.make_and_validate_key(key))
        if also_get:
            pipe.get(cache.make_and_validate_key(also_get))
        answers = pipe.execute()
        return int(answers[1]), (answers[2] if also_get else None)
    other = cache.get(also_get, 0) if also_get else None
    if cache.add(key, 1, timeout=window):
        return 1, other
    try:
        return cache.incr(key), other
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        return 1, other


def calls_count(request, user) -> None:
    """A right key: refuse its address if it is locked out for wrong keys, and count the caller's call for
    ProviderRateThrottle, both in one round trip. The count is kept on the request."""
    rate = _rate()
    bad_keys = _bad_keys_key(request) if settings.API_BAD_KEY_LIMIT else None
    if rate is None:
        if bad_keys:
            bad_keys_check(request)
        return
    request.cos_calls = _count(_calls_key(user.pk), rate[1], _redis(), also_get=bad_keys)
    if _bad_keys_over(request.cos_calls[1]):  # Redis answers b"3": RedisCache stores integers as they are
        raise TooManyBadKeys(settings.API_BAD_KEY_WINDOW_SECONDS)


class ProviderRateThrottle(BaseThrottle):
    """At most API_RATE_LIMIT calls (e.g. "1200/min") per caller; empty switches it off."""

    def allow_request(self, request, view) -> bool:
        rate = _rate()
        if rate is None:
            return True
        limit, window = rate
        user_pk = request.user.pk if request.user and request.user.is_authenticated else None
        key = _calls_key(user_pk) if user_pk else f"api-calls-anon:{self.get_ident(request)}"
        counted = getattr(request, "cos_calls", None)
        calls = counted[0] if counted else _count(key, window, _redis())[0]
        if calls <= limit:
            return True
        client = _redis()
        left = client.ttl(cache.make_and_validate_key(key)) if client is not None else window
        self.retry_after = max(1, left if left and left > 0 else window)
        return False

    def wait(self):
        return self.retry_after
