"""Messages for service providers and for subscribers, each a delivery record kept until it is delivered."""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django_fsm import FSMField, transition

from cos.choices import UNSENT_MESSAGE_STATUSES, MessageChannel, MessageKind, MessageStatus
from cos.models.base import StatefulModel, TimeStampedModel


def webhook_id_new() -> str:
    return f"msg_{uuid.uuid4().hex}"


class ProviderNotification(TimeStampedModel):
    """A message for a provider about one event (an order accepted, its service live, a switch away from it, ...):
    what its webhook endpoints receive (cos.webhooks: one WebhookDelivery per endpoint) and what it can list.

    `webhook_id` is the message's id on the wire (the `webhook-id` header): the same on every try and every replay
    to every endpoint, so a receiver that sees it twice knows it has it already."""

    provider = models.ForeignKey("cos.Organization", on_delete=models.CASCADE, related_name="notifications")
    event = models.ForeignKey("cos.Event", on_delete=models.CASCADE, related_name="+")
    topic = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    webhook_id = models.CharField(max_length=40, unique=True, default=webhook_id_new, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event", "topic"], name="provider_notification_once")
        ]
        indexes = [models.Index(fields=["provider", "created_at"], name="provider_notification_when")]

    def __str__(self) -> str:
        return f"{self.topic} for {self.provider}"


class Message(StatefulModel):
    """One message to a subscriber on one channel (e-mail or SMS), with where its delivery stands. Once per cause:
    (customer, kind, key, channel) is unique, so a repeated cause sends nothing more.

    Written, with its subject and body rendered in the customer's language, in the caller's transaction
    (cos.notifications.notify); sent after commit; a failed try is tried again after a growing wait and given up
    (dead) after EVENTS_MAX_ATTEMPTS tries, when an operator can send it again."""

    customer = models.ForeignKey(
        "cos.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    # Or one to a member of the operator's staff (cos.notifications.staff_notify): an alert of the board.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="staff_messages"
    )
    kind = models.CharField(max_length=40, choices=MessageKind.choices, db_index=True)
    key = models.CharField(max_length=200, help_text="What the message is about (its cause): sent once.")
    channel = models.CharField(max_length=8, choices=MessageChannel.choices)
    to = models.CharField(max_length=254, blank=True, help_text="E-mail address or phone number (E.164).")
    language = models.CharField(max_length=8)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField()
    attachments = models.JSONField(
        default=list, blank=True, help_text='Made when sent: [{"kind": "invoice_pdf", "ref": 12}, ...]'
    )
    status = FSMField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED, protected=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Delivery tries so far.")
    last_error = models.TextField(blank=True)
    skip_reason = models.CharField(max_length=200, blank=True, help_text="Why it was not sent.")
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the retry job sends it if it is still unsent by then."
    )
    # Set while one sender has it (its mail or SMS on the way): no other sender takes it before this time.
    sending_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True, help_text="Message-ID or the SMS provider's id.")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A cause delivered twice (an event's handler run again) finds its message and sends nothing more.
            models.UniqueConstraint(fields=["customer", "kind", "key", "channel"], name="message_once_per_cause"),
            models.UniqueConstraint(
                fields=["user", "kind", "key", "channel"],
                condition=models.Q(user__isnull=False),
                name="staff_message_once_per_cause",
            ),
            models.CheckConstraint(
                condition=models.Q(customer__isnull=False, user__isnull=True)
                | models.Q(customer__isnull=True, user__isnull=False),
                name="message_to_a_customer_or_a_staff_member",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["queued", "failed"]),
                name="message_unsent_due",
            ),
            models.Index(fields=["customer", "-created_at"], name="message_customer_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.to or self.customer_id or self.user_id} ({self.channel})"

    @transition(field=status, source=UNSENT_MESSAGE_STATUSES, target=MessageStatus.SENT)
    def mark_sent(self, *, at, provider_message_id: str = "", by=None, reason: str = "") -> None:
        self.attempts += 1
        self.sent_at, self.provider_message_id = at, provider_message_id
        self.next_attempt_at, self.sending_until, self.last_error = None, None, ""

    @transition(field=status, source=UNSENT_MESSAGE_STATUSES, target=MessageStatus.FAILED)
    def fail(self, *, error: str, retry_at, by=None, reason: str = "") -> None:
        self.attempts += 1
        self.last_error, self.next_attempt_at, self.sending_until = error, retry_at, None

    @transition(field=status, source=UNSENT_MESSAGE_STATUSES, target=MessageStatus.DEAD)
    def give_up(self, *, error: str, by=None, reason: str = "") -> None:
        self.attempts += 1
        self.last_error, self.next_attempt_at, self.sending_until = error, None, None

    @transition(field=status, source=UNSENT_MESSAGE_STATUSES, target=MessageStatus.SKIPPED)
    def skip(self, *, why: str, by=None, reason: str = "") -> None:
        """Nothing to send it to (no e-mail address, no valid phone number): kept, so it shows why."""
        self.skip_reason, self.next_attempt_at, self.sending_until = why[:200], None, None

    @transition(
        field=status,
        source=[MessageStatus.FAILED, MessageStatus.DEAD, MessageStatus.SKIPPED],
        target=MessageStatus.QUEUED,
    )
    def requeue(self, *, at, by=None, reason: str = "") -> None:
        """An operator asks for another try now (the address may have been corrected meanwhile)."""
        self.attempts, self.next_attempt_at, self.sending_until = 0, at, None
