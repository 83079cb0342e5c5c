"""Shared model bases: timestamps, FSM-backed models and the transition log."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django_fsm import ConcurrentTransitionMixin


class TimeStampedModel(models.Model):
    """Adds created/updated timestamps."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class StatefulModel(ConcurrentTransitionMixin, TimeStampedModel):
    """A model whose `status` is an FSM; every transition is written to the TransitionLog.

    Transition methods take keyword-only `by` (the acting user, or None for the system) and
    `reason`; they change fields on `self` only and never do I/O.
    """

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        """Save, then log the transitions made before the record first existed (an order created submitted)."""
        super().save(*args, **kwargs)
        pending = self.__dict__.pop(PENDING_LOGS, None)
        if pending:
            for log in pending:
                log.object_id = self.pk
            TransitionLog.objects.bulk_create(pending)


PENDING_LOGS = "_transition_logs_pending"  # on a record transitioned before its first save


class TransitionLog(models.Model):
    """One FSM transition of any stateful object: who, when, from, to, and why."""

    # Indexed only through the composite index below: 100,000 rows may be logged in one statement.
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, db_index=False)
    object_id = models.PositiveBigIntegerField()
    subject = GenericForeignKey("content_type", "object_id")
    transition = models.CharField(max_length=64)
    source = models.CharField(max_length=32)
    target = models.CharField(max_length=32)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "created_at"])]

    def __str__(self) -> str:
        return f"{self.content_type.model} #{self.object_id}: {self.source} -> {self.target}"


def prefetched_set(instance: models.Model, relation: str, objects) -> None:
    """Give `instance` its `relation` (a reverse foreign key or many-to-many) as if prefetch_related had read it:
    for a record just written, whose related rows are in hand, so showing it costs no query."""
    queryset = getattr(instance, relation).all()
    queryset._result_cache = list(objects)
    queryset._prefetch_done = True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[relation] = queryset
