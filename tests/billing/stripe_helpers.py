"""Helpers of the Stripe tests: the test keys, the fault switch of the loopback server, signing events."""

import hashlib
import hmac
import time

import requests

STRIPE_KEY = "sk_test_cos"
WEBHOOK_SECRET = "whsec_cos_test"


def stripe_slow(settings, *, requests_: int, seconds: float, path: str) -> None:
    """The next `requests_` calls to `path` do their work and answer `seconds` late (a timeout mid-call)."""
    requests.post(
        f"{settings.STRIPE_API_BASE}/_config/faults",
        json={"slow": requests_, "seconds": seconds, "path": path},
        timeout=5,
    ).raise_for_status()


def signed(payload: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """A Stripe-Signature header for the payload, as Stripe computes it."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"
