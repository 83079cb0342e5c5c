"""Whether the service is on, on the field pages: the provisioning panel of a work order (/field/tasks/<id>/,
/field/work-orders/<id>/), its Try again, and what holds the work order's completion while an activation failed.

Field work sits below provisioning in the dependency order (DESIGN.md), so this module cannot ask provisioning
itself. Provisioning registers what it knows here, as the apps do for the subscriber portal (cos.portal):

- `outcomes_source`: `fn(work_order) -> list` of the ordered services' outcomes on the network, each with
  `state`, `in_flight` and `can_retry`, and what templates/workorders/_provisioning_status.html shows;
- `completion_hold`: `fn(*, work_order_id) -> str | None`, why the work order may not complete yet;
- `retry_action`: `fn(*, work_order_id, actor) -> list` of the jobs tried again, refusing with PermissionDenied
  or an ApplicationError.

Without anything registered the panel shows nothing and nothing holds completion.
"""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from cos.errors import ApplicationError
from workorders.models import WorkOrder
from workorders.permissions import FieldActor

_outcome_sources: list[Callable] = []
_completion_holds: list[Callable] = []
_retry_actions: list[Callable] = []


def _register(registry: list[Callable], fn: Callable) -> Callable:
    if fn not in registry:
        registry.append(fn)
    return fn


def outcomes_source(fn: Callable) -> Callable:
    """Register `fn(work_order) -> list of outcomes` (a few queries per work order, none per service)."""
    return _register(_outcome_sources, fn)


def completion_hold(fn: Callable) -> Callable:
    """Register `fn(*, work_order_id) -> str | None`: a reason that holds the work order's completion."""
    return _register(_completion_holds, fn)


def retry_action(fn: Callable) -> Callable:
    """Register `fn(*, work_order_id, actor) -> list`: try the work order's failed activations again."""
    return _register(_retry_actions, fn)


def work_order_outcomes(work_order) -> list:
    """What the network did with each service ordered on the work order."""
    return [outcome for source in _outcome_sources for outcome in source(work_order)]


def completion_held(*, work_order_id: int) -> str | None:
    """Why the work order may not complete yet (e.g. the service it turned on failed), or None."""
    for hold in _completion_holds:
        reason = hold(work_order_id=work_order_id)
        if reason:
            return reason
    return None


def may_retry(field: FieldActor, tasks) -> bool:
    """Who taps Try again: whoever may work the work order's provisioning trigger (its technician, his
    organization's people), or operator staff."""
    return field.is_operator_staff or any(task.triggers_provisioning and field.can_work(task) for task in tasks)


def outcomes_retry(*, work_order_id: int, actor) -> int:
    """Try the work order's failed activations again; the number of services tried again."""
    if not _retry_actions:
        raise ApplicationError("Nothing on this work order can be tried again.", code="nothing_to_retry")
    return sum(len(action(work_order_id=work_order_id, actor=actor)) for action in _retry_actions)


@login_required
def field_provisioning(request, work_order_id: int):
    """GET: the panel saying whether each ordered service is on, polled by the page while a job is on its way.
    POST: Try again, then back to the page it was tapped on, with what happened on top."""
    work_order = get_object_or_404(WorkOrder.objects.select_related("address"), pk=work_order_id)
    field = FieldActor.of(request.user)
    tasks = list(work_order.tasks.order_by("position"))
    if not (field.is_operator_staff or any(field.can_see(task) for task in tasks)):
        raise PermissionDenied("This work order has no task for you or your organization.")
    back = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = reverse("field-work-order", args=[work_order.pk])
    if request.method == "POST":
        try:
            outcomes_retry(work_order_id=work_order.pk, actor=request.user)
        except PermissionDenied as refused:
            messages.error(request, str(refused) or "You may not try this again.")
        except ApplicationError as refused:
            messages.error(request, refused.message)
        else:
            messages.success(request, "The network was asked again: “Is the service on?” below says how it went.")
        return redirect(back)
    outcomes = work_order_outcomes(work_order)
    trigger = next((task for task in tasks if task.triggers_provisioning), None)
    shown_on = request.GET.get("task", "")
    on_another_task = shown_on.isdigit() and int(shown_on) != getattr(trigger, "pk", None)
    if on_another_task and all(outcome.state in ("waiting", "provider") for outcome in outcomes):
        outcomes = []  # before the network is asked, only the provisioning task and the work order say so
    return render(
        request,
        "workorders/_provisioning_status.html",
        {
            "provisioning_panel": True,
            "work_order": work_order,
            "outcomes": outcomes,
            "trigger": trigger,
            # no service ordered here (an area's installation before anyone ordered): said where it is turned on
            "nothing_ordered": not outcomes and trigger is not None and not on_another_task,
            "in_flight": any(outcome.in_flight for outcome in outcomes),
            "may_retry": any(outcome.can_retry for outcome in outcomes) and may_retry(field, tasks),
            "next": back,
        },
    )
