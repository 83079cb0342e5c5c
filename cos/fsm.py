"""Transition logging, the one way services apply FSM transitions, and the rule that only a model's own app
transitions it.

One owner per record: a stateful model changes state only through the services of the app that defines it.
`transition_ownership_check` runs before every transition (through `transition_apply` or a direct call of the
transition method) and refuses one made from another app's code: the higher app calls the owner's service
(`marketplace.services.subscription_activate`, ...) instead. Tests may set up any state.
"""

import sys

from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.dispatch import receiver
from django.utils import timezone
from django_fsm import TransitionNotAllowed
from django_fsm.signals import post_transition, pre_transition

from cos.errors import TransitionRefused
from cos.models import StatefulModel, TransitionLog
from cos.models.base import PENDING_LOGS


class ForeignTransition(RuntimeError):
    """Code of one app transitioned a record another app owns (a programming error, never a user's)."""


# Modules that sit between the caller and the transition: Django's signal machinery, django-fsm, this module.
_PLUMBING = ("django.", "django_fsm", __name__)
# Code that may transition any record: the test suite (setting up a state).
_TRUSTED_ROOTS = ("tests",)


def transition_caller_module() -> str:
    """The module of the first frame above the transition machinery: the code that asked for the transition."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not (name == __name__ or name.startswith(_PLUMBING)):
            return name
        frame = frame.f_back
    return ""


@receiver(pre_transition)
def transition_ownership_check(sender, instance, name, source, target, **kwargs) -> None:
    """Refuse a transition of a model asked for by code outside the model's own app."""
    owner = sender._meta.app_config.name.split(".")[0]
    caller = transition_caller_module()
    root = caller.split(".")[0]
    if root and root != owner and root not in _TRUSTED_ROOTS:
        raise ForeignTransition(
            f"{caller} transitioned {sender.__name__} ({name}: {source} -> {target}), which {owner} owns: "
            f"call a service of {owner} instead."
        )


@receiver(post_transition)
def transition_log_write(sender, instance, name, source, target, method_kwargs, **kwargs) -> None:
    """Write the TransitionLog row for a transition of any StatefulModel (same transaction as the caller)."""
    if not isinstance(instance, StatefulModel):
        return
    actor = method_kwargs.get("by")
    if isinstance(actor, AnonymousUser):
        actor = None
    log = TransitionLog(
        content_type=ContentType.objects.get_for_model(sender),
        object_id=instance.pk,
        transition=name,
        source=source,
        target=target,
        actor=actor,
        reason=method_kwargs.get("reason", "") or "",
        created_at=timezone.now(),
    )
    if instance.pk is None:  # created in this state: logged by its first save() (never bulk_create it)
        instance.__dict__.setdefault(PENDING_LOGS, []).append(log)
        return
    log.save()


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
