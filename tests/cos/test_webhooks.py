"""Providers' webhooks against a real receiver on loopback that verifies every Standard Webhooks signature: what a
provider is told reaches its endpoint signed, once per id; a receiver that fails, answers slowly or is down for hours
gets every message in the end, each with the id it always had; three days of failure give the message up and
disable the endpoint (with a notice); replay, rotation with an overlap, and the API's refusals and tenancy."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from cos import events, webhooks
from cos.choices import MessageKind, Role, WebhookDeliveryStatus, WebhookEndpointStatus
from cos.models import Message, ProviderNotification, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from cos.services import membership_grant, providers_notify
from marketplace import services as marketplace_services
from tests.cos.factories import UserFactory
from tests.marketplace.api.conftest import provider_client
from tests.marketplace.factories import world
from tests.webhook_receiver import Receiver
from tests.wholesale.factories import operator

pytestmark = pytest.mark.django_db(transaction=True)

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def w():
    return world()


@pytest.fixture
def api(w):
    return provider_client(w.provider)


def _register(api, receiver, **body) -> dict:
    response = api.post("/api/v1/webhooks/", {"url": receiver.url, **body}, format="json")
    assert response.status_code == 201, response.content
    receiver.secrets.append(response.json()["secret"])
    return response.json()


def _notify(provider, topic: str = "statement.issued", **data) -> ProviderNotification:
    """What a service does when it tells a provider something: an event and its notification, committed."""
    with transaction.atomic():
        event = events.publish("tests.provider_told", provider_id=provider.pk, **data)
        providers_notify(provider_ids=[provider.pk], event=event, topic=topic, payload={"n": data.get("n", 1)})
    return ProviderNotification.objects.get(event=event)


def _waits(delivery_id: int) -> list[float]:
    times = list(WebhookAttempt.objects.filter(delivery_id=delivery_id).order_by("at").values_list("at", flat=True))
    return [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]


def test_an_accepted_order_reaches_the_providers_endpoint_signed_with_its_id(w, api, receiver):
    # given: the provider registered an endpoint; the secret is shown once
    endpoint = _register(api, receiver, description="our order system")
    assert endpoint["status"] == "enabled"
    assert endpoint["secret"].startswith("whsec_")
    assert "secret" not in api.get(f"/api/v1/webhooks/{endpoint['id']}/").json()
    # when: a subscriber orders from it (the provider accepts automatically)
    order, _ = marketplace_services.order_place(request=w.request())
    # then: its receiver got order.accepted, signed with the secret, under the notification's id
    (got,) = [r for r in receiver.received if r.json["type"] == "order.accepted"]
    assert got.verified
    notification = ProviderNotification.objects.get(topic="order.accepted", provider=w.provider)
    assert got.webhook_id == notification.webhook_id
    assert got.json["data"]["order_id"] == order.pk
    assert got.json["data"]["status"] == "accepted"
    # the delivery log says so, to the provider through the API
    (logged,) = api.get("/api/v1/webhook-deliveries/", {"event_type": "order.accepted"}).json()["results"]
    assert (logged["status"], logged["attempts"], logged["last_status_code"]) == ("delivered", 1, 200)
    assert logged["webhook_id"] == got.webhook_id
    assert logged["last_latency_ms"] is not None
    # and the event is listed with the same data
    (listed,) = api.get("/api/v1/webhook-events/", {"type": "order.accepted"}).json()["results"]
    assert listed["data"] == got.json["data"]
    assert listed["webhook_id"] == got.webhook_id


def test_an_endpoint_gets_only_the_event_types_it_asked_for(w, api, receiver):
    _register(api, receiver, event_types=["statement.issued"])
    # when
    _notify(w.provider, "switch.completed")
    _notify(w.provider, "statement.issued")
    # then
    assert [r.json["type"] for r in receiver.received] == ["statement.issued"]


def test_a_failed_try_is_tried_again_after_a_doubling_wait_with_the_same_id(w, api, receiver):
    _register(api, receiver)
    receiver.answers = [500, 503]
    with time_machine.travel(START, tick=False) as clock:
        # when: the receiver answers 500, then 503, then 200
        notification = _notify(w.provider)
        delivery = WebhookDelivery.objects.get(notification=notification)
        assert (delivery.status, delivery.next_attempt_at) == ("failed", START + timedelta(seconds=30))
        clock.shift(29)
        assert webhooks.webhooks_sweep() == 0  # not due yet
        clock.shift(1)
        assert webhooks.webhooks_sweep() == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.next_attempt_at) == ("failed", START + timedelta(seconds=90))
        clock.shift(60)
        assert webhooks.webhooks_sweep() == 1
    # then: delivered on the third try; the receiver saw one id, three times, each signed
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDeliveryStatus.DELIVERED, 3)
    assert [r.answered for r in receiver.received] == [500, 503, 200]
    assert {r.webhook_id for r in receiver.received} == {notification.webhook_id}
    assert all(r.verified for r in receiver.received)
    codes = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("at").values_list("status_code", flat=True))
    assert codes == [500, 503, 200]
    assert _waits(delivery.pk) == [30, 60]


def test_a_slow_receiver_is_given_up_on_for_that_try_and_gets_it_again_under_the_same_id(w, api, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    _register(api, receiver)
    receiver.delay = 1.0
    with time_machine.travel(START, tick=False) as clock:
        notification = _notify(w.provider)
        delivery = WebhookDelivery.objects.get(notification=notification)
        assert delivery.status == "failed"
        assert "Timeout" in delivery.last_error
        assert delivery.last_status_code is None
        # when: the receiver is quick again and the retry is due
        receiver.delay = 0
        clock.shift(30)
        webhooks.webhooks_sweep()
    # then: it arrives; what the receiver saw twice carries one id (it de-duplicates on it)
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert [r.webhook_id for r in receiver.received] == [notification.webhook_id] * 2


def test_nothing_is_lost_while_the_receiver_is_down_for_hours(w, api, receiver):
    _register(api, receiver)
    receiver.stop()  # connection refused for five hours
    with time_machine.travel(START, tick=False) as clock:
        sent = []
        for n in range(3):
            sent.append(_notify(w.provider, n=n))
            clock.shift(timedelta(minutes=40))
        for _ in range(16):  # the beat's sweep, every quarter of an hour
            webhooks.webhooks_sweep()
            clock.shift(timedelta(minutes=15))
        assert not WebhookDelivery.objects.filter(status="delivered").exists()
        # when: it comes back, and the sweeps go on
        receiver.start()
        for _ in range(40):
            webhooks.webhooks_sweep()
            clock.shift(timedelta(minutes=15))
    # then: each message was taken exactly once, under its own id, signed
    taken = receiver.taken()
    assert sorted(r.webhook_id for r in taken) == sorted(n.webhook_id for n in sent)
    assert [r.json["data"]["n"] for r in sorted(taken, key=lambda r: r.json["data"]["n"])] == [0, 1, 2]
    assert all(r.verified for r in taken)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_three_days_of_failure_give_the_message_up_and_disable_the_endpoint_with_a_notice(w, api, receiver):
    # given: the provider's API user and the operator's operations staff
    ops = UserFactory(email="ops@operator.test")
    membership_grant(user=ops, organization=operator(), role=Role.OPERATIONS)
    endpoint = _register(api, receiver)
    receiver.stop()
    with time_machine.travel(START, tick=False) as clock:
        first = _notify(w.provider)
        delivery = WebhookDelivery.objects.get(notification=first)
        # when: every try fails for three days
        while delivery.status == "failed":
            clock.move_to(delivery.next_attempt_at)
            webhooks.webhooks_sweep()
            delivery.refresh_from_db()
        # then: given up after tries whose waits double to six hours, within three days of the first
        waits = _waits(delivery.pk)
        assert waits[:4] == [30, 60, 120, 240]
        assert max(waits) == 6 * 3600
        assert delivery.status == WebhookDeliveryStatus.DEAD
        assert timezone.now() - START <= timedelta(days=3)
        # the endpoint is disabled, and the provider's people and the operator's staff are told once
        row = WebhookEndpoint.objects.get(pk=endpoint["id"])
        assert row.status == WebhookEndpointStatus.DISABLED
        assert "no try got through" in row.disabled_reason
        told = Message.objects.filter(kind=MessageKind.WEBHOOK_DISABLED)
        assert ops.pk in set(told.values_list("user_id", flat=True))
        assert told.exclude(user=ops).exists()  # the provider's API user
        assert any(receiver.url in m.subject for m in mail.outbox)
        # while disabled, a new message waits for no endpoint
        later = _notify(w.provider, n=2)
        assert not WebhookDelivery.objects.filter(notification=later).exists()
        # when: the receiver is mended, the provider enables the endpoint and replays the days it missed
        receiver.start()
        clock.shift(60)
        assert api.post(f"/api/v1/webhooks/{endpoint['id']}/enable/").json()["status"] == "enabled"
        response = api.post(
            f"/api/v1/webhooks/{endpoint['id']}/replay/",
            {"since": (START - timedelta(hours=1)).isoformat()},
            format="json",
        )
    # then: both arrive, each under the id it always had
    assert response.status_code == 202
    assert response.json() == {"queued": 2}
    assert sorted(r.webhook_id for r in receiver.taken()) == sorted([first.webhook_id, later.webhook_id])


def test_replaying_a_delivery_sends_the_same_id_and_body_again(w, api, receiver):
    _register(api, receiver)
    notification = _notify(w.provider)
    delivery = WebhookDelivery.objects.get(notification=notification)
    # when
    response = api.post(f"/api/v1/webhook-deliveries/{delivery.pk}/replay/")
    # then
    assert response.status_code == 202
    first, again = receiver.received
    assert (first.webhook_id, first.body) == (again.webhook_id, again.body)
    detail = api.get(f"/api/v1/webhook-deliveries/{delivery.pk}/").json()
    assert detail["status"] == "delivered"
    assert len(detail["tries"]) == 2


def test_a_rotated_secret_signs_beside_the_old_one_for_the_overlap_then_alone(w, api, receiver):
    endpoint = _register(api, receiver)
    (old,) = receiver.secrets
    with time_machine.travel(START, tick=False) as clock:
        # when: the provider rotates with an hour's overlap
        response = api.post(
            f"/api/v1/webhooks/{endpoint['id']}/rotate-secret/", {"overlap_seconds": 3600}, format="json"
        )
        new = response.json()["secret"]
        assert new != old
        assert response.json()["old_secrets_valid_until"].startswith("2026-11-02T10:00")
        receiver.secrets = [new]
        _notify(w.provider, n=1)
        # then: during the overlap each message carries both signatures (a receiver with either verifies it)
        (during,) = receiver.received
        assert len(during.signature.split(" ")) == 2
        assert during.verified
        assert Receiver(secrets=[old]).verify(during.body, _headers(during))
        # after it, only the new secret signs
        clock.shift(3601)
        _notify(w.provider, n=2)
        after = receiver.received[1]
        assert len(after.signature.split(" ")) == 1
        assert after.verified
        assert not Receiver(secrets=[old]).verify(after.body, _headers(after))


def _headers(received) -> dict:
    return {
        "webhook-id": received.webhook_id,
        "webhook-timestamp": received.timestamp,
        "webhook-signature": received.signature,
    }


def test_a_signature_made_with_another_secret_or_body_does_not_verify(w, api, receiver):
    _register(api, receiver)
    _notify(w.provider)
    (got,) = receiver.received
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.secret_new()).verify(got.body, _headers(got))
    with pytest.raises(WebhookVerificationError):
        Webhook(receiver.secrets[0]).verify(got.body.replace('"n":1', '"n":2'), _headers(got))


def test_bad_endpoints_are_refused_with_a_code(api, receiver, settings):
    bad = [
        ({"url": "ftp://example.test/hook"}, "url", "invalid"),
        ({"url": receiver.url, "event_types": ["order.teleported"]}, "event_types", "invalid_choice"),
        ({"url": receiver.url, "event_types": "order.accepted"}, "event_types", "incorrect_type"),
    ]
    for body, field, code in bad:
        response = api.post("/api/v1/webhooks/", body, format="json")
        assert response.status_code == 400, body
        assert code in str(response.json()["codes"][field]), response.json()
    # production: https to a public host only
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    for url, code in [(receiver.url, "insecure_url"), ("https://127.0.0.1/hook", "private_url")]:
        response = api.post("/api/v1/webhooks/", {"url": url}, format="json")
        assert response.status_code == 400, url
        assert response.json()["codes"]["url"] == [code], response.json()
    assert not WebhookEndpoint.objects.exists()


def test_another_provider_sees_and_replays_none_of_it(w, api, receiver):
    endpoint = _register(api, receiver)
    _notify(w.provider)
    delivery = WebhookDelivery.objects.get()
    other = provider_client(world().provider)
    assert other.get("/api/v1/webhooks/").json()["results"] == []
    assert other.get("/api/v1/webhook-deliveries/").json()["results"] == []
    assert other.get("/api/v1/webhook-events/").json()["results"] == []
    for method, path in [
        ("get", f"/api/v1/webhooks/{endpoint['id']}/"),
        ("post", f"/api/v1/webhooks/{endpoint['id']}/rotate-secret/"),
        ("post", f"/api/v1/webhooks/{endpoint['id']}/replay/"),
        ("delete", f"/api/v1/webhooks/{endpoint['id']}/"),
        ("post", f"/api/v1/webhook-deliveries/{delivery.pk}/replay/"),
    ]:
        response = getattr(other, method)(path, {}, format="json")
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found", path
    assert len(receiver.received) == 1


def test_a_removed_endpoint_gets_nothing_more_and_keeps_its_log(w, api, receiver):
    endpoint = _register(api, receiver)
    _notify(w.provider, n=1)
    # when
    assert api.delete(f"/api/v1/webhooks/{endpoint['id']}/").status_code == 204
    _notify(w.provider, n=2)
    # then
    assert len(receiver.received) == 1
    assert api.get("/api/v1/webhooks/").json()["results"] == []
    assert WebhookDelivery.objects.filter(endpoint_id=endpoint["id"]).count() == 1


@pytest.mark.postgres
def test_two_workers_with_one_delivery_at_once_send_it_once(w, api, receiver, monkeypatch, wait_until):
    # given: a committed delivery whose hand-over was lost; the receiver answers slowly
    _register(api, receiver)
    monkeypatch.setattr(webhooks, "deliveries_send", lambda ids: None)
    notification = _notify(w.provider)
    delivery = WebhookDelivery.objects.get(notification=notification)
    receiver.delay = 0.5
    outcomes = []

    def send():
        try:
            outcomes.append(webhooks.webhook_deliver(delivery_id=delivery.pk).status)
        finally:
            connection.close()

    # when: two workers take it at the same moment
    workers = [threading.Thread(target=send) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=20)
    # then: one sent it, the other found it taken
    assert len(receiver.received) == 1
    assert sorted(outcomes) == ["delivered", "pending"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)


@pytest.mark.celery_worker
def test_a_real_worker_delivers_through_redis(w, api, receiver, celery_worker, wait_until):
    _register(api, receiver)
    notification = _notify(w.provider)
    wait_until(lambda: len(receiver.taken()) == 1, message="the webhook delivered by the worker")
    (got,) = receiver.taken()
    assert got.verified
    assert got.webhook_id == notification.webhook_id


def test_operations_staff_register_an_endpoint_in_the_admin_and_see_its_secret_once(w, receiver, client):
    # given: a member of the operator's operations staff
    ops = UserFactory()
    membership_grant(user=ops, organization=operator(), role=Role.OPERATIONS)
    client.force_login(ops)
    # when: they add an endpoint for the provider, for accepted orders only
    response = client.post(
        "/admin/cos/webhookendpoint/add/",
        {"provider": w.provider.pk, "url": receiver.url, "description": "ISP's CRM", "event_types": ["order.accepted"]},
    )
    # then: the page shows its secret; the endpoint is the provider's, with that type
    assert response.status_code == 200, response.content[:300]
    assert b"errorlist" not in response.content, response.content.decode()[-3000:]
    (endpoint,) = WebhookEndpoint.objects.all()
    (secret,) = endpoint.secrets.values_list("secret", flat=True)
    assert secret in response.content.decode()
    assert (endpoint.provider, endpoint.event_types) == (w.provider, ["order.accepted"])
    # the test action sends a signed message the receiver verifies; the delivery log shows it
    receiver.secrets.append(secret)
    client.post("/admin/cos/webhookendpoint/", {"action": "send_test", "_selected_action": [endpoint.pk]}, follow=True)
    (got,) = receiver.received
    assert got.verified
    log = client.get("/admin/cos/webhookdelivery/")
    assert log.status_code == 200
    assert "webhook.test" in log.content.decode()
    # a bad URL is a form error, nothing is made
    refused = client.post("/admin/cos/webhookendpoint/add/", {"provider": w.provider.pk, "url": "ftp://x.test/"})
    assert refused.status_code == 200
    assert WebhookEndpoint.objects.count() == 1
