"""Webhooks for service providers: every notification a provider is sent (cos.services.providers_notify) goes to
each of its enabled endpoints that wants its type, signed as the Standard Webhooks specification says.

- A delivery is written in the notifying transaction (one per endpoint, with the body it will always send) and
  sent after commit by a Celery task; `webhooks_sweep` (beat) sends what is due or whose hand-over was lost.
- Each try is signed anew (`webhook-id`: the notification's id, the same on every try and replay;
  `webhook-timestamp`: now; `webhook-signature`: `v1,<HMAC-SHA256>` with every secret still valid, so a rotated
  secret keeps working through its overlap). A 2xx answer delivers it; anything else, or none within
  WEBHOOK_TIMEOUT_SECONDS, is tried again after a doubling wait (WEBHOOK_RETRY_BASE_SECONDS, at most
  WEBHOOK_RETRY_MAX_SECONDS) until WEBHOOK_RETRY_FOR_SECONDS (three days) have passed, then given up.
- An endpoint that has answered no try for WEBHOOK_DISABLE_AFTER_SECONDS is disabled, and its provider's people and
  the operator's staff are told by e-mail. Enabling it again (API or admin) sends what waits; a replay of one
  delivery or of a time range sends again what was given up or missed, with the same ids.
- The body format is the endpoint's: COS's own (`{"type", "timestamp", "data"}`), or another registered by a
  higher app (`format_register`: the TM Forum event hubs of tmf/), which cos does not import.
"""

import base64
import ipaddress
import json
import logging
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from cos.choices import (
    UNSENT_DELIVERY_STATUSES,
    MessageKind,
    OrganizationKind,
    Role,
    WebhookDeliveryStatus,
    WebhookEndpointStatus,
    WebhookFormat,
)
from cos.errors import Conflict, NotFound
from cos.fsm import transition_apply
from cos.models import (
    Membership,
    ProviderNotification,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookSecret,
)

logger = logging.getLogger(__name__)

# Every event type a provider can be sent, with what it means (the API's documentation and its validation).
EVENT_TYPES = {
    "order.accepted": "Your order was accepted: its subscriptions and services are pending.",
    "order.rejected": "Your order was refused (validation: address, plan, price, tax, duplicate) or declined.",
    "order.cancelled": "Your order was cancelled before its services went live.",
    "order.completed": "Every service of your order is live.",
    "infrastructure.ready": "The fibre is built and connected at an address where you have an order.",
    "installation.booked": "The installation visit for your order is booked (day and window).",
    "installation.rescheduled": "The installation visit for your order moved to another day or window.",
    "service.activated": "A service went live on the network, verified by read-back (the device's time, the "
    "ledger period it opened).",
    "service.modified": "A service's profile changed on the network (a plan change), verified.",
    "service.suspended": "A service was suspended on the network (dunning), verified.",
    "service.resumed": "A suspended service was resumed on the network, verified.",
    "service.deactivated": "A service came off the network (a termination, or a switch to another provider).",
    "subscription.awaiting_cancellation": "A subscription of yours ends on a date: notice given, or another "
    "provider's switch takes it over.",
    "subscription.cancellation_aborted": "A subscription's coming end was called off (notice withdrawn, switch "
    "aborted).",
    "switch.completed": "A switch between providers was handed over on the network.",
    "switch.aborted": "A switch between providers was called off before the hand-over.",
    "statement.issued": "Your wholesale statement for a month was issued.",
    "statement.settled": "Your wholesale statement was settled.",
    "statement.dispute_updated": "A dispute of your statement was opened, upheld, rejected or withdrawn.",
    "webhook.test": "A test message you asked for (POST /api/v1/webhooks/{id}/test/).",
}
ALL_EVENT_TYPES = frozenset(EVENT_TYPES)


class Format(Protocol):
    """How a notification goes on the wire to one kind of endpoint."""

    def event_type(self, notification: ProviderNotification, endpoint: WebhookEndpoint) -> str | None:
        """The type it has on the wire, or None when this endpoint is not to get it."""

    def body(self, notification: ProviderNotification, endpoint: WebhookEndpoint, event_type: str) -> dict: ...


class CosFormat:
    """COS's own events: `{"type": "order.accepted", "timestamp": ..., "data": {...}}` (Standard Webhooks' shape)."""

    def event_type(self, notification, endpoint):
        return notification.topic if endpoint.wants(notification.topic) else None

    def body(self, notification, endpoint, event_type):
        return {
            "type": event_type,
            "timestamp": notification.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "data": notification.payload,
        }


_formats: dict[str, Format] = {WebhookFormat.COS: CosFormat()}


def format_register(name: str, fmt: Format) -> None:
    """A higher app's wire format (tmf/ registers TM Forum's at start)."""
    _formats[name] = fmt


# --- registration --------------------------------------------------------------------------------------------------


def secret_new() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _private_host(host: str) -> bool:
    """Whether the host is this machine or a private network (a webhook must not reach into the operator's LAN)."""
    if host in ("localhost", "") or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):
        return False  # not resolvable now: checked again when sent
    return any(not ipaddress.ip_address(address.split("%")[0]).is_global for address in addresses)


def url_check(url: str) -> str:
    """The endpoint's URL, refused unless https to a public host (WEBHOOK_ALLOW_PRIVATE_URLS lets http and loopback
    through, for development and tests)."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationError({"url": ValidationError("Give an absolute https:// URL.", code="invalid")})
    if settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return url
    if parts.scheme != "https":
        raise ValidationError({"url": ValidationError("Webhook endpoints must use https://.", code="insecure_url")})
    if _private_host(parts.hostname):
        raise ValidationError(
            {"url": ValidationError("The host is on a private network or this machine.", code="private_url")}
        )
    return url


def event_types_check(event_types) -> list[str]:
    if event_types is None:
        return []
    if not isinstance(event_types, list) or not all(isinstance(t, str) for t in event_types):
        raise ValidationError({"event_types": ValidationError("A list of event types.", code="invalid")})
    unknown = sorted(set(event_types) - ALL_EVENT_TYPES)
    if unknown:
        raise ValidationError(
            {
                "event_types": ValidationError(
                    f"Unknown event types: {', '.join(unknown)} (GET /api/v1/webhooks/event-types/).",
                    code="unknown_event_type",
                )
            }
        )
    return sorted(set(event_types))


@transaction.atomic
def webhook_endpoint_register(
    *,
    provider,
    url: str,
    event_types=None,
    description: str = "",
    format: str = WebhookFormat.COS,
    tmf_api: str = "",
    tmf_query: str = "",
    actor=None,
) -> tuple[WebhookEndpoint, str]:
    """A provider's new endpoint and its signing secret (returned once: it is shown only now)."""
    if provider.kind != OrganizationKind.SERVICE_PROVIDER:
        raise ValidationError(
            {"provider": ValidationError("Webhook endpoints belong to service providers.", code="invalid")}
        )
    if format not in _formats:
        raise ValidationError({"format": ValidationError(f"Unknown format {format!r}.", code="invalid")})
    endpoint = WebhookEndpoint(
        provider=provider,
        url=url_check(url),
        event_types=event_types_check(event_types) if format == WebhookFormat.COS else list(event_types or []),
        description=(description or "")[:200],
        format=format,
        tmf_api=tmf_api,
        tmf_query=tmf_query[:500],
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    endpoint.save()
    secret = WebhookSecret.objects.create(endpoint=endpoint, secret=secret_new())
    logger.info("webhook endpoint %s registered for %s: %s, by %s", endpoint.pk, provider, endpoint.url, actor)
    return endpoint, secret.secret


def _endpoint_locked(endpoint_id: int, provider=None) -> WebhookEndpoint:
    endpoints = WebhookEndpoint.objects.select_for_update().exclude(status=WebhookEndpointStatus.REMOVED)
    if provider is not None:
        endpoints = endpoints.filter(provider=provider)
    endpoint = endpoints.filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound(f"There is no webhook endpoint {endpoint_id}.", code="webhook_not_found")
    return endpoint


@transaction.atomic
def webhook_endpoint_update(
    *, endpoint_id: int, provider=None, url=None, event_types=None, description=None, actor=None
) -> WebhookEndpoint:
    """Change where an endpoint is, what it wants, or its description; what is on its way keeps its address."""
    endpoint = _endpoint_locked(endpoint_id, provider)
    if url is not None:
        endpoint.url = url_check(url)
    if event_types is not None:
        endpoint.event_types = event_types_check(event_types) if endpoint.format == WebhookFormat.COS else event_types
    if description is not None:
        endpoint.description = description[:200]
    endpoint.save(update_fields=["url", "event_types", "description", "updated_at"])
    return endpoint


@transaction.atomic
def webhook_endpoint_remove(*, endpoint_id: int, provider=None, actor=None) -> WebhookEndpoint:
    """Nothing more goes to it; its delivery log stays (what waits is given up)."""
    endpoint = _endpoint_locked(endpoint_id, provider)
    transition_apply(endpoint, "remove", by=actor, reason="removed")
    endpoint.save(update_fields=["status", "updated_at"])
    now = timezone.now()
    for delivery in WebhookDelivery.objects.select_for_update().filter(
        endpoint=endpoint, status__in=UNSENT_DELIVERY_STATUSES
    ):
        transition_apply(delivery, "give_up", error="the endpoint was removed", reason="endpoint removed")
        delivery.save()
    logger.info("webhook endpoint %s removed at %s, by %s", endpoint.pk, now, actor)
    return endpoint


@transaction.atomic
def webhook_endpoint_enable(*, endpoint_id: int, provider=None, actor=None) -> WebhookEndpoint:
    """Enable a disabled endpoint: what waits for it is sent now, with a new retry window."""
    endpoint = _endpoint_locked(endpoint_id, provider)
    transition_apply(endpoint, "enable", by=actor, reason="enabled again")
    endpoint.save(update_fields=["status", "disabled_reason", "failing_since", "updated_at"])
    now = timezone.now()
    waiting = list(
        WebhookDelivery.objects.filter(endpoint=endpoint, status__in=UNSENT_DELIVERY_STATUSES).values_list(
            "pk", flat=True
        )
    )
    WebhookDelivery.objects.filter(pk__in=waiting).update(retry_from=now, next_attempt_at=now, sending_until=None)
    deliveries_send_after_commit(waiting)
    return endpoint


@transaction.atomic
def webhook_secret_rotate(*, endpoint_id: int, provider=None, overlap_seconds: int | None = None, actor=None) -> str:
    """A new signing secret (returned once); the old ones sign too for `overlap_seconds` more
    (WEBHOOK_SECRET_OVERLAP_SECONDS by default), then no more."""
    endpoint = _endpoint_locked(endpoint_id, provider)
    overlap = settings.WEBHOOK_SECRET_OVERLAP_SECONDS if overlap_seconds is None else overlap_seconds
    if not 0 <= overlap <= settings.WEBHOOK_SECRET_OVERLAP_MAX_SECONDS:
        raise ValidationError(
            {
                "overlap_seconds": ValidationError(
                    f"From 0 to {settings.WEBHOOK_SECRET_OVERLAP_MAX_SECONDS} seconds.", code="invalid"
                )
            }
        )
    now = timezone.now()
    until = now + timedelta(seconds=overlap)
    WebhookSecret.objects.filter(endpoint=endpoint).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=until)).update(
        expires_at=until, updated_at=now
    )
    secret = WebhookSecret.objects.create(endpoint=endpoint, secret=secret_new())
    logger.info("webhook endpoint %s: secret rotated (old valid until %s), by %s", endpoint.pk, until, actor)
    return secret.secret


def secrets_valid(endpoint_id: int, now: datetime) -> list[str]:
    return list(
        WebhookSecret.objects.filter(endpoint_id=endpoint_id)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-created_at", "-id")
        .values_list("secret", flat=True)
    )


# --- fan-out -------------------------------------------------------------------------------------------------------


def _delivery_for(notification, endpoint, now) -> WebhookDelivery | None:
    fmt = _formats.get(endpoint.format)
    event_type = fmt.event_type(notification, endpoint) if fmt else None
    if event_type is None:
        return None
    body = json.dumps(fmt.body(notification, endpoint, event_type), cls=DjangoJSONEncoder, separators=(",", ":"))
    return WebhookDelivery(
        notification=notification,
        endpoint=endpoint,
        event_type=event_type,
        body=body,
        retry_from=now,
        next_attempt_at=now + timedelta(seconds=settings.EVENTS_DISPATCH_GRACE_SECONDS),
    )


def notifications_fan_out(notifications: list[ProviderNotification]) -> list[int]:
    """In the notifying transaction: one delivery per enabled endpoint of the provider that wants it; sent after
    commit. Returns the deliveries' ids."""
    if not notifications:
        return []
    now = timezone.now()
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(
        provider_id__in={n.provider_id for n in notifications}, status=WebhookEndpointStatus.ENABLED
    ).order_by("pk"):
        endpoints.setdefault(endpoint.provider_id, []).append(endpoint)
    deliveries = [
        delivery
        for notification in notifications
        for endpoint in endpoints.get(notification.provider_id, ())
        if (delivery := _delivery_for(notification, endpoint, now)) is not None
    ]
    if not deliveries:
        return []
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    ids = list(
        WebhookDelivery.objects.filter(
            notification__in=[n.pk for n in notifications], status=WebhookDeliveryStatus.PENDING, attempts=0
        ).values_list("pk", flat=True)
    )
    deliveries_send_after_commit(ids)
    return ids


def deliveries_send(delivery_ids: list[int]) -> None:
    """Hand deliveries to Celery. A lost hand-over loses nothing: the sweep sends them."""
    from cos.tasks import webhook_deliver_task

    for delivery_id in delivery_ids:
        try:
            webhook_deliver_task.delay(delivery_id)
        except Exception:  # noqa: BLE001 - the delivery stays pending and webhooks_sweep sends it
            logger.warning("could not hand webhook delivery %s to the broker; the sweep will send it", delivery_id)


def deliveries_send_after_commit(delivery_ids: list[int]) -> None:
    if delivery_ids:
        transaction.on_commit(partial(deliveries_send, list(delivery_ids)), robust=True)


# --- sending -------------------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status_code: int | None
    latency_ms: int
    error: str = ""
    body: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signed_headers(*, webhook_id: str, body: str, secrets_: list[str], at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one try: one `v1,` signature per valid secret, space separated."""
    at = at.astimezone(UTC)
    signatures = " ".join(Webhook(secret).sign(webhook_id, at, body) for secret in secrets_)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": "COS-Webhooks/1",
    }


def _post(url: str, *, body: str, headers: dict[str, str]) -> Answer:
    started = time.monotonic()
    try:
        host = urlsplit(url).hostname or ""
        if not settings.WEBHOOK_ALLOW_PRIVATE_URLS and _private_host(host):
            raise ValueError(f"{host} is on a private network or this machine")
        response = requests.post(
            url, data=body.encode(), headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS, allow_redirects=False
        )
    except (requests.RequestException, ValueError) as exc:
        return Answer(None, int((time.monotonic() - started) * 1000), f"{type(exc).__name__}: {exc}"[:500])
    latency = int((time.monotonic() - started) * 1000)
    text = response.text[:500] if response.content else ""
    error = "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return Answer(response.status_code, latency, error, text)


def retry_wait(attempts: int) -> timedelta:
    """The wait before try `attempts + 1`: doubling from WEBHOOK_RETRY_BASE_SECONDS, at most
    WEBHOOK_RETRY_MAX_SECONDS."""
    seconds = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.WEBHOOK_RETRY_MAX_SECONDS))


def _claim(delivery_id: int, now) -> WebhookDelivery | None:
    """Take the delivery for one try: None when it is delivered, given up, being sent, or its endpoint is not
    enabled (it waits for the endpoint to be enabled again)."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint", "notification")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status not in UNSENT_DELIVERY_STATUSES:
            return None
        if delivery.endpoint.status != WebhookEndpointStatus.ENABLED:
            return None
        if delivery.sending_until and delivery.sending_until > now:
            return None
        delivery.sending_until = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + 30)
        delivery.save(update_fields=["sending_until", "updated_at"])
        return delivery


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """One try of one delivery, recorded. Safe to call any number of times; call it outside any transaction (it
    waits for the receiver in between)."""
    now = timezone.now()
    claimed = _claim(delivery_id, now)
    if claimed is None:
        return WebhookDelivery.objects.filter(pk=delivery_id).first()
    keys = secrets_valid(claimed.endpoint_id, now)
    headers = signed_headers(webhook_id=claimed.notification.webhook_id, body=claimed.body, secrets_=keys, at=now)
    answer = _post(claimed.endpoint.url, body=claimed.body, headers=headers)
    return _record(delivery_id, answer, at=now)


def _record(delivery_id: int, answer: Answer, *, at) -> WebhookDelivery:
    done = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",)).select_related("endpoint").get(pk=delivery_id)
        )
        WebhookAttempt.objects.create(
            delivery=delivery,
            at=at,
            status_code=answer.status_code,
            latency_ms=answer.latency_ms,
            error=answer.error,
            response_body=answer.body,
        )
        delivery.attempts += 1
        delivery.last_status_code, delivery.last_latency_ms = answer.status_code, answer.latency_ms
        if delivery.status not in UNSENT_DELIVERY_STATUSES:
            delivery.save(update_fields=["attempts", "last_status_code", "last_latency_ms", "updated_at"])
            return delivery
        endpoint = delivery.endpoint
        if answer.ok:
            transition_apply(delivery, "mark_delivered", at=done)
            if endpoint.failing_since is not None:
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        else:
            retry_at = done + retry_wait(delivery.attempts)
            if retry_at - delivery.retry_from > timedelta(seconds=settings.WEBHOOK_RETRY_FOR_SECONDS):
                logger.warning(
                    "webhook delivery %s to %s given up after %s tries: %s",
                    delivery.pk,
                    endpoint.url,
                    delivery.attempts,
                    answer.error,
                )
                transition_apply(delivery, "give_up", error=answer.error, reason="not delivered: given up")
                _endpoint_failed(endpoint, at=at, gave_up_since=delivery.retry_from)
            else:
                transition_apply(delivery, "fail", error=answer.error, retry_at=retry_at, reason="tried again later")
                _endpoint_failed(endpoint, at=at)
        delivery.save()
    return delivery


def _endpoint_failed(endpoint: WebhookEndpoint, *, at, gave_up_since=None) -> None:
    """A try failed: the endpoint is failing since its first failed try after the last success. Failing for
    WEBHOOK_DISABLE_AFTER_SECONDS, or through the whole retry window of a message it made us give up, it is disabled
    (and its provider and the operator told)."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=at)
    limit = at - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS)
    if gave_up_since is not None:
        limit = max(limit, gave_up_since)
    endpoint = (
        WebhookEndpoint.objects.select_for_update()
        .filter(pk=endpoint.pk, status=WebhookEndpointStatus.ENABLED, failing_since__lte=limit)
        .first()
    )
    if endpoint is None:
        return
    why = f"no try got through since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC"
    transition_apply(endpoint, "disable", why=why, reason="disabled: failing")
    endpoint.save(update_fields=["status", "disabled_reason", "updated_at"])
    logger.warning("webhook endpoint %s (%s) disabled: %s", endpoint.pk, endpoint.url, why)
    _tell_disabled(endpoint)


def _tell_disabled(endpoint: WebhookEndpoint) -> None:
    from django.contrib.auth import get_user_model

    from cos.notifications import staff_notify

    people = Membership.objects.filter(
        Q(organization=endpoint.provider, role__in=[Role.ADMIN, Role.API])
        | Q(organization__kind=OrganizationKind.NETWORK_OPERATOR, role__in=[Role.ADMIN, Role.OPERATIONS])
    )
    users = get_user_model().objects.filter(pk__in=people.values("user_id"), is_active=True).order_by("pk")
    staff_notify(
        users=users,
        kind=MessageKind.WEBHOOK_DISABLED,
        key=f"webhook-disabled-{endpoint.pk}-{endpoint.updated_at:%Y%m%d%H%M%S}",
        context={"endpoint": endpoint, "provider": endpoint.provider, "why": endpoint.disabled_reason},
    )


def webhooks_sweep(*, now=None, limit: int = 500) -> int:
    """Send the deliveries that are due (a failed try's wait is over, a hand-over was lost, a sender died while
    sending) to enabled endpoints. Returns how many."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.filter(
                status__in=UNSENT_DELIVERY_STATUSES,
                next_attempt_at__lte=now,
                endpoint__status=WebhookEndpointStatus.ENABLED,
            )
            .exclude(sending_until__gt=now)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not due:
            return 0
        # Pushed out so the next sweep does not hand them over again while this one is on its way.
        later = now + timedelta(seconds=settings.EVENTS_DISPATCH_GRACE_SECONDS)
        WebhookDelivery.objects.filter(pk__in=due, status__in=UNSENT_DELIVERY_STATUSES).update(next_attempt_at=later)
        deliveries_send_after_commit(due)
    return len(due)


# --- replay --------------------------------------------------------------------------------------------------------


@transaction.atomic
def webhook_delivery_replay(*, delivery_id: int, provider=None, actor=None) -> WebhookDelivery:
    """Send one delivery again now: the same webhook-id and body, a new retry window."""
    deliveries = WebhookDelivery.objects.select_for_update(of=("self",)).select_related("endpoint")
    if provider is not None:
        deliveries = deliveries.filter(endpoint__provider=provider)
    delivery = deliveries.filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound(f"There is no webhook delivery {delivery_id}.", code="webhook_delivery_not_found")
    if delivery.endpoint.status == WebhookEndpointStatus.REMOVED:
        raise Conflict("Its endpoint was removed.", code="webhook_removed")
    if delivery.status in UNSENT_DELIVERY_STATUSES:
        delivery.next_attempt_at, delivery.retry_from, delivery.sending_until = timezone.now(), timezone.now(), None
        delivery.save(update_fields=["next_attempt_at", "retry_from", "sending_until", "updated_at"])
    else:
        transition_apply(delivery, "replay", at=timezone.now(), by=actor, reason="replayed")
        delivery.save()
    deliveries_send_after_commit([delivery.pk])
    return delivery


@transaction.atomic
def webhook_replay_range(*, endpoint_id: int, since: datetime, until: datetime, provider=None, actor=None) -> int:
    """Send the endpoint everything its provider was notified of from `since` to `until` that it wants again: what
    it got, what was given up, and what came before it was registered or while it was disabled. Returns how many
    are on their way."""
    if since >= until:
        raise ValidationError({"since": ValidationError("Must be before until.", code="invalid")})
    endpoint = _endpoint_locked(endpoint_id, provider)
    if endpoint.status != WebhookEndpointStatus.ENABLED:
        raise Conflict("Enable the endpoint first.", code="webhook_disabled")
    notifications = list(
        ProviderNotification.objects.filter(
            provider=endpoint.provider, created_at__gte=since, created_at__lt=until
        ).order_by("created_at", "pk")[: settings.WEBHOOK_REPLAY_MAX]
    )
    now = timezone.now()
    existing = {
        d.notification_id: d
        for d in WebhookDelivery.objects.select_for_update(of=("self",)).filter(
            endpoint=endpoint, notification__in=notifications
        )
    }
    ids, new = [], []
    for notification in notifications:
        delivery = existing.get(notification.pk)
        if delivery is None:
            delivery = _delivery_for(notification, endpoint, now)
            if delivery is not None:
                delivery.next_attempt_at = now
                new.append(delivery)
            continue
        if delivery.status in UNSENT_DELIVERY_STATUSES:
            delivery.next_attempt_at, delivery.retry_from = now, now
            delivery.save(update_fields=["next_attempt_at", "retry_from", "updated_at"])
        else:
            transition_apply(delivery, "replay", at=now, by=actor, reason=f"replayed: {since:%Y-%m-%d %H:%M} on")
            delivery.save()
        ids.append(delivery.pk)
    try:
        with transaction.atomic():
            created = WebhookDelivery.objects.bulk_create(new)
    except IntegrityError:  # a notification fanned out to it meanwhile: that one is on its way already
        created = WebhookDelivery.objects.bulk_create(new, ignore_conflicts=True)
    ids += [d.pk for d in created if d.pk]
    deliveries_send_after_commit(ids)
    return len(ids)


@transaction.atomic
def webhook_test(*, endpoint_id: int, provider=None, actor=None) -> WebhookDelivery:
    """A `webhook.test` message to this endpoint only, to check the receiver and its signature check."""
    from cos import events

    endpoint = _endpoint_locked(endpoint_id, provider)
    if endpoint.status != WebhookEndpointStatus.ENABLED:
        raise Conflict("Enable the endpoint first.", code="webhook_disabled")
    event = events.publish("webhook.test", endpoint_id=endpoint.pk, provider_id=endpoint.provider_id)
    notification = ProviderNotification.objects.create(
        provider=endpoint.provider,
        event=event,
        topic="webhook.test",
        payload={"endpoint_id": endpoint.pk, "message": "A test message from COS."},
    )
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        notification=notification,
        endpoint=endpoint,
        event_type="webhook.test",
        body=json.dumps(
            CosFormat().body(notification, endpoint, "webhook.test"), cls=DjangoJSONEncoder, separators=(",", ":")
        ),
        retry_from=now,
        next_attempt_at=now,
    )
    deliveries_send_after_commit([delivery.pk])
    return delivery
