"""Transition logging and the one way services apply FSM transitions."""

from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.dispatch import receiver
from django.utils import timezone
from django_fsm import TransitionNotAllowed
from django_fsm.signals import post_transition

from cos.errors import TransitionRefused
from cos.models import StatefulModel, TransitionLog


@receiver(post_transition)
def transition_log_write(sender, instance, name, source, target, method_kwargs, **kwargs) -> None:
    """Write the TransitionLog row for a transition of any StatefulModel (same transaction as the caller)."""
    if not isinstance(instance, StatefulModel):
        return
    if instance.pk is None:
        raise ValueError(f"{sender.__name__} must be saved before its status changes")
    actor = method_kwargs.get("by")
    if isinstance(actor, AnonymousUser):
        actor = None
    TransitionLog.objects.create(
        content_type=ContentType.objects.get_for_model(sender),
        object_id=instance.pk,
        transition=name,
        source=source,
        target=target,
        actor=actor,
        reason=method_kwargs.get("reason", "") or "",
        created_at=timezone.now(),
    )


def transition_apply(obj: StatefulModel, name: str, *, by=None, reason: str = "", **kwargs) -> None:
    """Call transition `name` on `obj`, turning a forbidden transition into a TransitionRefused error.

    The caller saves the object (with update_fields) in its own transaction.
    """
    try:
        getattr(obj, name)(by=by, reason=reason, **kwargs)
    except TransitionNotAllowed as exc:
        label = name.replace("_", " ")
        state = obj.get_status_display() if hasattr(obj, "get_status_display") else obj.status
        raise TransitionRefused(
            f"{obj._meta.verbose_name.capitalize()} '{obj}' cannot {label} while it is {state}.",
            extra={"status": obj.status, "transition": name},
        ) from exc


def transition_locked(model, pk: int, name: str, *, by=None, reason: str = "", **kwargs):
    """Lock the row, apply transition `name` and save the status; for services whose action is only that."""
    obj = model.objects.select_for_update().get(pk=pk)
    transition_apply(obj, name, by=by, reason=reason, **kwargs)
    obj.save(update_fields=["status", "updated_at"])
    return obj
