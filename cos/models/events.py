"""The transactional outbox: events and the record of each handler's run."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django_fsm import FSMField, transition

from cos.choices import HandlerRunStatus
from cos.models.base import StatefulModel


class Event(models.Model):
    """A domain event, written in the same transaction as the change that caused it."""

    name = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.name}"


class HandlerRun(StatefulModel):
    """One handler's delivery of one event: created with the event, run at least once, succeeds at most once."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="runs")
    handler = models.CharField(max_length=200, help_text="Dotted path of the handler function.")
    status = FSMField(default=HandlerRunStatus.PENDING, choices=HandlerRunStatus.choices, protected=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(help_text="When the sweep (re)delivers it if it has not succeeded.")
    last_error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["event", "handler"], name="handlerrun_once_per_event")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.handler} for event #{self.event_id}"

    @transition(
        field=status, source=[HandlerRunStatus.PENDING, HandlerRunStatus.FAILED], target=HandlerRunStatus.SUCCEEDED
    )
    def succeed(self, *, at, by=None, reason: str = "") -> None:
        self.attempts += 1
        self.finished_at = at
        self.last_error = ""

    @transition(
        field=status, source=[HandlerRunStatus.PENDING, HandlerRunStatus.FAILED], target=HandlerRunStatus.FAILED
    )
    def fail(self, *, error: str, retry_at, by=None, reason: str = "") -> None:
        self.attempts += 1
        self.last_error = error
        self.next_attempt_at = retry_at

    @transition(field=status, source=[HandlerRunStatus.PENDING, HandlerRunStatus.FAILED], target=HandlerRunStatus.DEAD)
    def give_up(self, *, error: str, at, by=None, reason: str = "") -> None:
        self.attempts += 1
        self.last_error = error
        self.finished_at = at

    @transition(field=status, source=[HandlerRunStatus.DEAD, HandlerRunStatus.FAILED], target=HandlerRunStatus.PENDING)
    def requeue(self, *, at, by=None, reason: str = "") -> None:
        """An operator asks for another try."""
        self.attempts = 0
        self.next_attempt_at = at
        self.finished_at = None
