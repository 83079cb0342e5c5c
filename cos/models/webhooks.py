"""A provider's webhook endpoints, their signing secrets, and the delivery of each of its notifications to each
endpoint, with every try logged. Written only by cos.webhooks."""

from django.conf import settings
from django.db import models
from django_fsm import FSMField, transition

from cos.choices import (
    UNSENT_DELIVERY_STATUSES,
    WebhookDeliveryStatus,
    WebhookEndpointStatus,
    WebhookFormat,
)
from cos.models.base import StatefulModel, TimeStampedModel


class WebhookEndpoint(StatefulModel):
    """Where a provider wants its events: a URL, the event types it wants (none listed: all of them), and the wire
    format (COS's own, or TM Forum's for a listener registered on a /tmf-api/ hub)."""

    provider = models.ForeignKey("cos.Organization", on_delete=models.PROTECT, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, blank=True, help_text="Empty: every event type.")
    format = models.CharField(max_length=8, choices=WebhookFormat.choices, default=WebhookFormat.COS)
    # A TM Forum hub's listener: the API it was registered on and the query it gave (eventType=...).
    tmf_api = models.CharField(max_length=64, blank=True)
    tmf_query = models.CharField(max_length=500, blank=True)
    status = FSMField(
        max_length=16, choices=WebhookEndpointStatus.choices, default=WebhookEndpointStatus.ENABLED, protected=True
    )
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text="The first failed try since the last delivery that got through."
    )
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["provider", "status"], name="webhook_endpoint_provider")]

    def __str__(self) -> str:
        return f"{self.url} ({self.provider})"

    def wants(self, topic: str) -> bool:
        return not self.event_types or topic in self.event_types

    @transition(field=status, source=WebhookEndpointStatus.ENABLED, target=WebhookEndpointStatus.DISABLED)
    def disable(self, *, why: str, by=None, reason: str = "") -> None:
        self.disabled_reason = why[:300]

    @transition(field=status, source=WebhookEndpointStatus.DISABLED, target=WebhookEndpointStatus.ENABLED)
    def enable(self, *, by=None, reason: str = "") -> None:
        self.disabled_reason, self.failing_since = "", None

    @transition(
        field=status,
        source=[WebhookEndpointStatus.ENABLED, WebhookEndpointStatus.DISABLED],
        target=WebhookEndpointStatus.REMOVED,
    )
    def remove(self, *, by=None, reason: str = "") -> None:
        """Kept with its delivery log; nothing more is sent to it."""


class WebhookSecret(TimeStampedModel):
    """A signing secret of an endpoint (`whsec_` + base64, as Standard Webhooks has it). Every try is signed with
    each secret still valid: after a rotation the old one signs too until `expires_at`, so a receiver can move to
    the new one without missing a message."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    secret = models.CharField(max_length=100)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: valid until rotated.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.secret[:10]}… of endpoint {self.endpoint_id}"


class WebhookDelivery(StatefulModel):
    """One notification on its way to one endpoint: the body (made once, so every try sends the same bytes), where
    it stands, and when it is tried next. Tried again after a growing wait for WEBHOOK_RETRY_FOR_SECONDS from its
    first try (or its replay), then given up."""

    notification = models.ForeignKey("cos.ProviderNotification", on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=64, help_text="The type on the wire (a TMF event type for a listener).")
    body = models.TextField()
    status = FSMField(
        max_length=16, choices=WebhookDeliveryStatus.choices, default=WebhookDeliveryStatus.PENDING, protected=True
    )
    attempts = models.PositiveIntegerField(default=0)
    retry_from = models.DateTimeField(help_text="Tries go on until WEBHOOK_RETRY_FOR_SECONDS after this.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sending_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["notification", "endpoint"], name="webhook_delivery_once"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "failed"]),
                name="webhook_delivery_due",
            ),
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.endpoint.url}"

    @transition(field=status, source=UNSENT_DELIVERY_STATUSES, target=WebhookDeliveryStatus.DELIVERED)
    def mark_delivered(self, *, at, by=None, reason: str = "") -> None:
        self.delivered_at, self.next_attempt_at, self.sending_until, self.last_error = at, None, None, ""

    @transition(field=status, source=UNSENT_DELIVERY_STATUSES, target=WebhookDeliveryStatus.FAILED)
    def fail(self, *, error: str, retry_at, by=None, reason: str = "") -> None:
        self.last_error, self.next_attempt_at, self.sending_until = error[:500], retry_at, None

    @transition(field=status, source=UNSENT_DELIVERY_STATUSES, target=WebhookDeliveryStatus.DEAD)
    def give_up(self, *, error: str, by=None, reason: str = "") -> None:
        self.last_error, self.next_attempt_at, self.sending_until = error[:500], None, None

    @transition(
        field=status,
        source=[WebhookDeliveryStatus.DELIVERED, WebhookDeliveryStatus.FAILED, WebhookDeliveryStatus.DEAD],
        target=WebhookDeliveryStatus.PENDING,
    )
    def replay(self, *, at, by=None, reason: str = "") -> None:
        """Send it again now (the same webhook-id and body), with a new retry window."""
        self.retry_from, self.next_attempt_at, self.sending_until = at, at, None


class WebhookAttempt(models.Model):
    """One try of a delivery: when, the receiver's answer (or why there was none), and how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts_made")
    at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=500, blank=True)
    response_body = models.CharField(max_length=500, blank=True, help_text="The first 500 characters of the answer.")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["delivery", "-at"], name="webhook_attempt_delivery")]

    def __str__(self) -> str:
        return f"try of delivery {self.delivery_id} at {self.at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
