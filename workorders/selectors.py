"""Queries of field work that read."""

from collections import defaultdict
from datetime import date

from django.db.models import Count, F, Q
from django.utils import timezone

from cos.choices import AddressStatus, OrganizationKind
from cos.models import AddressObject, Area
from workorders.choices import OPEN_WORK_ORDER_STATUSES, TaskStatus, WorkOrderStatus
from workorders.models import FieldNotice, Task, WorkOrder
from workorders.permissions import FieldActor

WORKABLE_STATUSES = (WorkOrderStatus.CREATED, WorkOrderStatus.SCHEDULED, WorkOrderStatus.IN_PROGRESS)


def tasks_for(field: FieldActor):
    """Open tasks assigned to the user or to an organization the user does field work for."""
    mine = Q(assigned_user=field.user)
    if field.organization_ids:
        mine |= Q(assigned_organization_id__in=field.organization_ids)
    return Task.objects.filter(mine, status=TaskStatus.OPEN, work_order__status__in=WORKABLE_STATUSES)


def my_work(field: FieldActor, *, today: date | None = None) -> dict[str, list[WorkOrder]]:
    """Work orders with open tasks for the user, grouped overdue / today / upcoming / unscheduled."""
    today = today or timezone.localdate()
    tasks = list(
        tasks_for(field)
        .select_related("work_order__address", "assigned_user", "assigned_organization")
        .order_by("work_order__scheduled_for", "work_order_id", "position")
    )
    by_work_order: dict[int, WorkOrder] = {}
    for task in tasks:
        work_order = by_work_order.setdefault(task.work_order_id, task.work_order)
        work_order.my_tasks = [*getattr(work_order, "my_tasks", []), task]
    groups = defaultdict(list)
    for work_order in by_work_order.values():
        when = work_order.scheduled_for
        if (work_order.due_date and work_order.due_date < today) or (when and when < today):
            groups["overdue"].append(work_order)
        elif when == today:
            groups["today"].append(work_order)
        elif when:
            groups["upcoming"].append(work_order)
        else:
            groups["unscheduled"].append(work_order)
    return groups


def field_notices_unread(user):
    """The notices the user has not marked read yet, newest first."""
    return FieldNotice.objects.filter(recipient=user, read_at__isnull=True).select_related("work_order__address")


def scheduling_for(field: FieldActor, *, limit: int = 50) -> list[WorkOrder]:
    """Jobs a field manager schedules: open ones with a task of a managed organization, unscheduled first."""
    if not field.managed_organization_ids:
        return []
    ids = (
        Task.objects.filter(
            assigned_organization_id__in=field.managed_organization_ids,
            work_order__status__in=WORKABLE_STATUSES,
        )
        .values("work_order_id")
        .distinct()
    )
    return list(
        WorkOrder.objects.filter(pk__in=ids)
        .select_related("address")
        .order_by(F("scheduled_for").asc(nulls_first=True), "pk")[:limit]
    )


def deployment_progress() -> list[dict]:
    """Per area: its work orders by status, and its addresses connected (three queries). Cancelled work orders are
    counted apart: they are not work to do, so the total and the percentages leave them out (an address connected
    another way cancels its installation job: the connected figure counts it)."""
    counts = defaultdict(dict)
    for row in WorkOrder.objects.values("address__area_id", "status").annotate(n=Count("id")).order_by():
        counts[row["address__area_id"]][row["status"]] = row["n"]
    addresses = {
        row["area_id"]: row
        for row in AddressObject.objects.values("area_id")
        .annotate(n=Count("id"), connected=Count("id", filter=Q(status=AddressStatus.CONNECTED)))
        .order_by()
    }
    rows = []
    for area in Area.objects.order_by("name"):
        by_status = counts.get(area.pk, {})
        cancelled = by_status.get(WorkOrderStatus.CANCELLED, 0)
        total = sum(by_status.values()) - cancelled
        done = by_status.get(WorkOrderStatus.ACCEPTED, 0)
        statuses, offset = [], 0.0
        for status, label in WorkOrderStatus.choices:
            if status == WorkOrderStatus.CANCELLED:
                continue
            count = by_status.get(status, 0)
            width = 100 * count / total if total else 0
            statuses.append(
                {"status": status, "label": label, "count": count, "x": f"{offset:.3f}", "width": f"{width:.3f}"}
            )
            offset += width
        homes = addresses.get(area.pk, {"n": 0, "connected": 0})
        rows.append(
            {
                "area": area,
                "addresses": homes["n"],
                "connected": homes["connected"],
                "percent_connected": round(100 * homes["connected"] / homes["n"]) if homes["n"] else 0,
                "total": total,
                "done": done,
                "cancelled": cancelled,
                "statuses": statuses,
                "percent_done": round(100 * done / total) if total else 0,
            }
        )
    return rows


def work_orders_awaiting_sign_off():
    """Completed work orders with contractor work: they wait for the operator's Accept (or Reject)."""
    contractor_tasks = Task.objects.filter(completed_by_organization__kind=OrganizationKind.CONTRACTOR)
    return WorkOrder.objects.filter(status=WorkOrderStatus.COMPLETED, pk__in=contractor_tasks.values("work_order_id"))


def work_orders_rejected():
    """Work orders the operator sent back, not yet done again: rejected, or back in progress with the reason."""
    return WorkOrder.objects.filter(
        Q(status=WorkOrderStatus.REJECTED) | (Q(status=WorkOrderStatus.IN_PROGRESS) & ~Q(rejection_reason=""))
    )


def tasks_skipped_with_reason():
    """Tasks skipped with a reason on work orders not yet closed: the operator checks each reason."""
    return Task.objects.filter(status=TaskStatus.SKIPPED, work_order__status__in=OPEN_WORK_ORDER_STATUSES).exclude(
        skip_reason=""
    )
