"""Work orders in bulk: when an area (or an address) goes into deployment, one work order per address.

Set-based: a chunk of addresses is three INSERT ... SELECT statements, whatever its size. Each
chunk is its own event (`workorders.chunk_requested`), so chunks run in parallel on Celery workers
and a failed chunk is retried and visible like any event. Running a chunk twice creates nothing
twice: the partial unique index "one open installation work order per address" and NOT EXISTS
guards hold.
"""

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from cos import events
from cos.choices import AddressStatus
from cos.models import AddressObject
from marketplace.choices import OrderStatus
from marketplace.models import Order
from workorders.choices import OPEN_WORK_ORDER_STATUSES, TaskStatus, WorkOrderKind, WorkOrderStatus
from workorders.models import Task, TaskTemplate, WorkOrder, WorkOrderTemplate


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def installation_templates() -> dict[str, int]:
    """Building type -> the active installation template for it."""
    templates = {}
    for template in WorkOrderTemplate.objects.filter(kind=WorkOrderKind.INSTALLATION, is_active=True).order_by("pk"):
        for building_type in template.building_types:
            templates.setdefault(building_type, template.pk)
    return templates


def address_chunks(*, area_id: int, size: int) -> list[tuple[int, int]]:
    """(first id, last id) ranges of the area's addresses in deployment, `size` addresses each."""
    ids = list(
        AddressObject.objects.filter(area_id=area_id, status=AddressStatus.IN_DEPLOYMENT)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]


def work_orders_plan_area(*, area_id: int) -> int:
    """Split the area's work-order creation into chunk events (in the caller's transaction); returns their count."""
    chunks = address_chunks(area_id=area_id, size=settings.WORKORDERS_CHUNK_SIZE)
    for first, last in chunks:
        events.publish("workorders.chunk_requested", area_id=area_id, first_id=first, last_id=last)
    return len(chunks)


@transaction.atomic
def work_orders_create_chunk(*, area_id: int | None, first_id: int, last_id: int) -> int:
    """Installation work orders with their tasks for the addresses in deployment with ids first..last.

    Also links accepted orders at those addresses. Returns how many work orders were created.
    """
    templates = installation_templates()
    if not templates:
        raise RuntimeError("No active installation work-order template: define one in the admin.")
    now = timezone.now()
    open_statuses = list(OPEN_WORK_ORDER_STATUSES)
    area_filter, area_params = ("AND a.area_id = %s", [area_id]) if area_id is not None else ("", [])
    building_cases = " ".join("WHEN %s THEN %s" for _ in templates)
    building_params = [value for pair in templates.items() for value in pair]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_table(WorkOrder)} (created_at, updated_at, address_id, template_id, kind, status, notes,
                rejection_reason)
            SELECT %s, %s, a.id, CASE a.building_type {building_cases} END, %s, %s, '', ''
            FROM {_table(AddressObject)} a
            WHERE a.id BETWEEN %s AND %s {area_filter} AND a.status = %s
              AND a.building_type IN ({", ".join(["%s"] * len(templates))})
              AND NOT EXISTS (
                SELECT 1 FROM {_table(WorkOrder)} w
                WHERE w.address_id = a.id AND w.kind = %s AND w.status IN ({", ".join(["%s"] * len(open_statuses))})
              )
            ON CONFLICT DO NOTHING
            """,
            [
                now,
                now,
                *building_params,
                WorkOrderKind.INSTALLATION,
                WorkOrderStatus.CREATED,
                first_id,
                last_id,
                *area_params,
                AddressStatus.IN_DEPLOYMENT,
                *templates,
                WorkOrderKind.INSTALLATION,
                *open_statuses,
            ],
        )
        created = cursor.rowcount
        _tasks_create(cursor, now=now, first_id=first_id, last_id=last_id)
        _orders_link(cursor, first_id=first_id, last_id=last_id)
    return created


def _tasks_create(cursor, *, now, first_id: int, last_id: int) -> None:
    """Tasks from the templates for every new work order of the address range that has none yet."""
    cursor.execute(
        f"""
        INSERT INTO {_table(Task)} (created_at, updated_at, work_order_id, position, category, title, instructions,
            evidence_required, required_skill, performed_by, triggers_provisioning, status, skip_reason)
        SELECT %s, %s, w.id, t.position, t.category, t.title, t.instructions, t.evidence_required, t.required_skill,
            t.performed_by, t.triggers_provisioning, %s, ''
        FROM {_table(WorkOrder)} w JOIN {_table(TaskTemplate)} t ON t.template_id = w.template_id
        WHERE w.address_id BETWEEN %s AND %s AND w.status = %s
          AND NOT EXISTS (SELECT 1 FROM {_table(Task)} x WHERE x.work_order_id = w.id)
        ON CONFLICT DO NOTHING
        """,
        [now, now, TaskStatus.OPEN, first_id, last_id, WorkOrderStatus.CREATED],
    )


def _orders_link(cursor, *, first_id: int, last_id: int) -> None:
    """Accepted orders (e.g. pre-orders) at these addresses join the address's open installation work order."""
    through = WorkOrder.orders.through
    cursor.execute(
        f"""
        INSERT INTO {_table(through)} (workorder_id, order_id)
        SELECT w.id, o.id FROM {_table(WorkOrder)} w JOIN {_table(Order)} o ON o.address_id = w.address_id
        WHERE w.address_id BETWEEN %s AND %s AND w.kind = %s AND w.status = %s AND o.status = %s
          AND NOT EXISTS (SELECT 1 FROM {_table(through)} x WHERE x.workorder_id = w.id AND x.order_id = o.id)
        """,
        [first_id, last_id, WorkOrderKind.INSTALLATION, WorkOrderStatus.CREATED, OrderStatus.ACCEPTED],
    )
