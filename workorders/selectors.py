"""Queries of field work that read."""

from collections import defaultdict
from datetime import date

from django.db.models import Count, Q
from django.utils import timezone

from cos.models import Area
from workorders.choices import TaskStatus, WorkOrderStatus
from workorders.models import Task, WorkOrder
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


def deployment_progress() -> list[dict]:
    """Per area: its work orders by status (two queries)."""
    counts = defaultdict(dict)
    for row in WorkOrder.objects.values("address__area_id", "status").annotate(n=Count("id")).order_by():
        counts[row["address__area_id"]][row["status"]] = row["n"]
    rows = []
    for area in Area.objects.order_by("name"):
        by_status = counts.get(area.pk, {})
        total = sum(by_status.values())
        done = by_status.get(WorkOrderStatus.ACCEPTED, 0)
        statuses, offset = [], 0.0
        for status, label in WorkOrderStatus.choices:
            count = by_status.get(status, 0)
            width = 100 * count / total if total else 0
            statuses.append(
                {"status": status, "label": label, "count": count, "x": f"{offset:.3f}", "width": f"{width:.3f}"}
            )
            offset += width
        rows.append(
            {
                "area": area,
                "total": total,
                "done": done,
                "statuses": statuses,
                "percent_done": round(100 * done / total) if total else 0,
            }
        )
    return rows
