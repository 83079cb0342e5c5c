"""Messages for service providers, each a delivery record kept until the provider has it."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from cos.models.base import TimeStampedModel


class ProviderNotification(TimeStampedModel):
    """A message for a provider about one event (infrastructure ready, a switch away from it, ...)."""

    provider = models.ForeignKey("cos.Organization", on_delete=models.CASCADE, related_name="notifications")
    event = models.ForeignKey("cos.Event", on_delete=models.CASCADE, related_name="+")
    topic = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event", "topic"], name="provider_notification_once")
        ]

    def __str__(self) -> str:
        return f"{self.topic} for {self.provider}"
