"""Work orders in bulk: when an area (or an address) goes into deployment, one work order per address.

Set-based: a chunk of addresses is three INSERT ... SELECT statements, whatever its size. Each
chunk is its own event (`workorders.chunk_requested`), so chunks run in parallel on Celery workers
and a failed chunk is retried and visible like any event. Running a chunk twice creates nothing
twice: the partial unique index "one open installation work order per address" skips addresses
that have one, and tasks and order links are made only for the work orders a run created.
"""

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from cos import events
from cos.choices import AddressStatus
from cos.models import AddressObject
from marketplace.choices import OrderStatus
from marketplace.models import Order
from workorders.choices import TaskStatus, WorkOrderKind, WorkOrderStatus
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
    area_filter, area_params = ("AND a.area_id = %s", [area_id]) if area_id is not None else ("", [])
    building_cases = " ".join("WHEN %s THEN %s" for _ in templates)
    building_params = [value for pair in templates.items() for value in pair]
    with connection.cursor() as cursor:
        # The partial unique index turns a second open installation work order for an address into a no-op,
        # so this needs no look-up of existing work orders (whose cost would grow with the table).
        cursor.execute(
            f"""
            INSERT INTO {_table(WorkOrder)} (created_at, updated_at, address_id, template_id, kind, status, notes,
                rejection_reason)
            SELECT %s, %s, a.id, CASE a.building_type {building_cases} END, %s, %s, '', ''
            FROM {_table(AddressObject)} a
            WHERE a.id BETWEEN %s AND %s {area_filter} AND a.status = %s
              AND a.building_type IN ({", ".join(["%s"] * len(templates))})
            ON CONFLICT DO NOTHING
            RETURNING id
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
            ],
        )
        created = [row[0] for row in cursor.fetchall()]
        if created:
            _tasks_create(cursor, now=now, work_order_ids=created)
            _orders_link(cursor, work_order_ids=created)
    return len(created)


def _ids_sql(ids: list[int]) -> tuple[str, list]:
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [ids]
    return f"IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _tasks_create(cursor, *, now, work_order_ids: list[int]) -> None:
    """The template's tasks for work orders just created (in the same transaction)."""
    ids_sql, ids_params = _ids_sql(work_order_ids)
    cursor.execute(
        f"""
        INSERT INTO {_table(Task)} (created_at, updated_at, work_order_id, position, category, title, instructions,
            evidence_required, required_skill, performed_by, triggers_provisioning, status, skip_reason)
        SELECT %s, %s, w.id, t.position, t.category, t.title, t.instructions, t.evidence_required, t.required_skill,
            t.performed_by, t.triggers_provisioning, %s, ''
        FROM {_table(WorkOrder)} w JOIN {_table(TaskTemplate)} t ON t.template_id = w.template_id
        WHERE w.id {ids_sql}
        """,
        [now, now, TaskStatus.OPEN, *ids_params],
    )


def _orders_link(cursor, *, work_order_ids: list[int]) -> None:
    """Accepted orders (e.g. pre-orders) at these addresses join their new installation work order."""
    through = WorkOrder.orders.through
    ids_sql, ids_params = _ids_sql(work_order_ids)
    cursor.execute(
        f"""
        INSERT INTO {_table(through)} (workorder_id, order_id)
        SELECT w.id, o.id FROM {_table(WorkOrder)} w JOIN {_table(Order)} o ON o.address_id = w.address_id
        WHERE w.id {ids_sql} AND o.status = %s
        """,
        [*ids_params, OrderStatus.ACCEPTED],
    )
