"""Billing fixtures: a Stripe-compatible server on loopback (tests.billing.stripe_server) and settings that point
the StripeGateway at it; customers made here write in English (the messages' words are asserted)."""

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
import stripe

from tests.billing.stripe_helpers import STRIPE_KEY, WEBHOOK_SECRET


@pytest.fixture(autouse=True)
def _customers_in_english(settings):
    settings.COS_DEFAULT_LANGUAGE = "en"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def stripe_server():
    """The server's base URL; it runs for the whole session."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.billing.stripe_server", "--port", str(port)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{url}/v1/customers", timeout=1, headers={"Authorization": f"Bearer {STRIPE_KEY}"})
            break
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Stripe test server did not start: {process.stderr.read().decode()}") from None
            time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def stripe_settings(settings, stripe_server):
    """The Stripe gateway, configured as in production, pointed at the loopback server."""
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = STRIPE_KEY
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_cos"
    settings.STRIPE_API_BASE = stripe_server
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_TIMEOUT_SECONDS = 2.0
    # the server lives for the session while ids restart with each test's database: keys must not meet again
    settings.PAYMENT_KEY_PREFIX = f"test-{uuid.uuid4().hex[:12]}"
    requests.post(f"{stripe_server}/_config/faults", json={"slow": 0}, timeout=5)
    return settings


@pytest.fixture
def stripe_api(stripe_settings):
    """An SDK client for the test's own look at the server (and for the part Stripe.js plays in a browser)."""
    return stripe.StripeClient(STRIPE_KEY, base_addresses={"api": stripe_settings.STRIPE_API_BASE})


@pytest.fixture
def stripe_webhooks(stripe_settings, live_server):
    """The server posts its signed webhook events to this test's live server."""
    response = requests.post(
        f"{stripe_settings.STRIPE_API_BASE}/_config/webhooks/cos",
        data={"url": f"{live_server.url}/billing/stripe/webhook/", "secret": WEBHOOK_SECRET},
        timeout=5,
    )
    response.raise_for_status()
    yield live_server
    # later tests get no events: the endpoint is pointed at a closed port
    requests.post(
        f"{stripe_settings.STRIPE_API_BASE}/_config/webhooks/cos",
        data={"url": "http://127.0.0.1:9/", "secret": WEBHOOK_SECRET},
        timeout=5,
    )


@pytest.fixture
def clerk(django_user_model):
    """Finance staff who may override pricing (refunds, credit notes, write-offs)."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("finance", "finance@example.test", "pw-123456", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="billing", codename="override_pricing"))
    return django_user_model.objects.get(pk=user.pk)


@pytest.fixture
def goodwill():
    """The reason code money is given back for."""
    from billing.models import ReasonCode

    return ReasonCode.objects.create(code="goodwill", label="Goodwill")
