"""Assigning tasks to technicians and crews, and scheduling visits."""

from django.core.exceptions import ValidationError
from django.db import transaction

from cos import events
from cos.errors import ApplicationError
from cos.fsm import transition_apply
from cos.models import Membership, Organization
from workorders.choices import (
    TaskStatus,
    WorkOrderStatus,
)
from workorders.models import Task, WorkOrder
from workorders.permissions import FieldActor
from workorders.services.common import _require, _work_order_locked

# --- assignment --------------------------------------------------------------------------------


@transaction.atomic
def tasks_assign(*, task_ids: list[int], actor, user=None, organization: Organization | None = None) -> int:
    """Assign tasks to a technician and/or a contractor organization (whose field manager then assigns its people).

    Operator staff may assign anything; a contractor's field manager only its organization's tasks, to its own
    people. Refused as a whole when one task is not allowed.
    """
    if not task_ids:
        raise ValidationError("Choose at least one task to assign.")
    if user is None and organization is None:
        raise ValidationError("Choose a technician or an organization.")
    field = FieldActor.of(actor)
    user_org_ids = None
    if user is not None:
        user_org_ids = set(Membership.objects.filter(user=user).values_list("organization_id", flat=True))
        if organization is not None and organization.pk not in user_org_ids:
            raise ValidationError(f"{user} does not work for {organization}.")
    tasks = list(Task.objects.select_for_update().filter(pk__in=task_ids).order_by("pk"))
    if len(tasks) != len(set(task_ids)):
        raise ValidationError("Some of those tasks do not exist.")
    for task in tasks:
        _require(
            field.can_assign(
                task, user_org_ids=user_org_ids, organization_id=organization.pk if organization else None
            ),
            f"You may not assign task {task.pk}.",
        )
        if task.status != TaskStatus.OPEN:
            raise ApplicationError(
                f"Task {task.pk} is {task.status}: only open tasks are assigned.", code="task_closed"
            )
        if organization is not None:
            task.assigned_organization = organization
            # Handed to an organization without naming a person: its field manager dispatches it.
            task.assigned_user = user
        elif user is not None:
            task.assigned_user = user
        task.save(update_fields=["assigned_user", "assigned_organization", "updated_at"])
    return len(tasks)


@transaction.atomic
def work_order_schedule(*, work_order_id: int, on, actor=None, window_start=None, window_end=None) -> WorkOrder:
    """Set the visit's day and (optionally) its window; a scheduled or started job is moved (logged either way).

    Operator staff and admin users schedule any job; a contractor's field manager the jobs with a task of the
    organization. `actor` None is the system (the demo)."""
    if (window_start is None) != (window_end is None):
        raise ValidationError("Give the window's start and end, or neither.")
    if window_start is not None and window_end <= window_start:
        raise ValidationError("The window must end after it starts.")
    work_order = _work_order_locked(work_order_id)
    if actor is not None and not (actor.is_staff and actor.has_perm("workorders.change_workorder")):
        _require(
            FieldActor.of(actor).can_schedule(list(work_order.tasks.all())),
            "Only operator staff or the field manager of a contractor on this job schedule it.",
        )
    name = "schedule" if work_order.status == WorkOrderStatus.CREATED else "reschedule"
    unchanged = (work_order.scheduled_for, work_order.scheduled_window_start, work_order.scheduled_window_end) == (
        on,
        window_start,
        window_end,
    )
    window = f" {window_start:%H:%M}–{window_end:%H:%M}" if window_start else ""
    transition_apply(
        work_order,
        name,
        by=actor,
        reason=f"visit on {on:%Y-%m-%d}{window}",
        on=on,
        window_start=window_start,
        window_end=window_end,
    )
    work_order.save(
        update_fields=["status", "scheduled_for", "scheduled_window_start", "scheduled_window_end", "updated_at"]
    )
    if unchanged and name == "reschedule":
        return work_order  # logged; the customer was told this visit already
    events.publish(
        "workorder.scheduled",
        work_order_id=work_order.pk,
        on=on,
        window_start=window_start,
        window_end=window_end,
        rescheduled=name == "reschedule",
    )
    return work_order
