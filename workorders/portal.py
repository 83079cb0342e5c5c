"""What the subscriber sees of the field work for an order: progress and the installation record."""

from collections import defaultdict

from django.db.models import Count, Q

from cos.portal import order_section
from workorders.choices import TaskStatus, WorkOrderStatus
from workorders.models import WorkOrder

# What a subscriber reads for the installation's state.
FOR_CUSTOMERS = {
    WorkOrderStatus.CREATED: "Planned: we will book a day with you",
    WorkOrderStatus.SCHEDULED: "Booked",
    WorkOrderStatus.IN_PROGRESS: "The technician is at work",
    WorkOrderStatus.COMPLETED: "Installed: being checked",
    WorkOrderStatus.ACCEPTED: "Installed",
    WorkOrderStatus.REJECTED: "Being finished: a step is redone",
    WorkOrderStatus.CANCELLED: "Not needed any more",
}


@order_section
def field_progress(orders) -> dict[int, dict]:
    """Per order: its work orders with tasks done / total and, once finished, the installation record (2 queries)."""
    order_ids = [order.pk for order in orders]
    work_orders = (
        WorkOrder.objects.filter(orders__in=order_ids)
        .annotate(
            tasks_total=Count("tasks", distinct=True),
            tasks_done=Count("tasks", filter=Q(tasks__status__in=[TaskStatus.DONE, TaskStatus.SKIPPED]), distinct=True),
        )
        .select_related("installation_record")
        .values_list(
            "orders",
            "pk",
            "status",
            "scheduled_for",
            "tasks_total",
            "tasks_done",
            "installation_record__completed_at",
            "installation_record__ont_serial",
            "installation_record__light_level_dbm",
            "installation_record__download_mbps",
            "installation_record__upload_mbps",
        )
    )
    sections = defaultdict(lambda: {"template": "workorders/_portal_progress.html", "work_orders": []})
    for order_id, pk, status, booked_on, total, done, record_at, serial, light, down, up in work_orders:
        if order_id in order_ids:
            sections[order_id]["work_orders"].append(
                {
                    "pk": pk,
                    "status": status,
                    "status_words": FOR_CUSTOMERS.get(status, status.replace("_", " ")),
                    "booked_on": booked_on,
                    "total": total,
                    "done": done,
                    "record": {
                        "completed_at": record_at,
                        "ont_serial": serial,
                        "light_level_dbm": light,
                        "download_mbps": down,
                        "upload_mbps": up,
                    }
                    if record_at
                    else None,
                }
            )
    return dict(sections)
