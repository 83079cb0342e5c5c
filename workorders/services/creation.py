"""Work orders from orders: created, joined, and cancelled when no longer needed."""

from django.db import transaction

from cos.choices import AddressStatus
from cos.fsm import transition_apply
from cos.models import ONT
from marketplace.choices import OrderStatus
from marketplace.models import Order
from workorders.choices import (
    OPEN_WORK_ORDER_STATUSES,
    WorkOrderKind,
    WorkOrderStatus,
)
from workorders.models import Task, WorkOrder, WorkOrderTemplate

# --- creation from orders ----------------------------------------------------------------------


@transaction.atomic
def work_order_for_accepted_order(*, order_id: int) -> WorkOrder | None:
    """An accepted order joins the address's open installation work order, or gets a connection work order
    where the address is already connected. Pre-orders at addresses not yet in deployment wait (they join
    the work order created when the address goes into deployment)."""
    order = Order.objects.select_related("address").get(pk=order_id)
    if order.status != OrderStatus.ACCEPTED or order.work_orders.exists():
        return None
    address = order.address
    if order.switches.exclude(status="aborted").exists():
        return None  # a switch between providers is a hand-over on the network: no visit
    if address.status == AddressStatus.CONNECTED and ONT.objects.filter(address=address).exists():
        return None  # the ONT is in place: provisioning activates remotely
    if address.status == AddressStatus.CONNECTED:
        template = (
            WorkOrderTemplate.objects.filter(kind=WorkOrderKind.CONNECTION, is_active=True).order_by("pk").first()
        )
        if template is None:
            raise RuntimeError("No active connection work-order template: define one in the admin.")
        work_order = work_order_create(address=address, template=template)
    else:
        work_order = WorkOrder.objects.filter(
            address=address, kind=WorkOrderKind.INSTALLATION, status__in=OPEN_WORK_ORDER_STATUSES
        ).first()
        if work_order is None:
            return None
    work_order.orders.add(order)
    if work_order.scheduled_for is not None:  # the visit is booked already: this customer hears its day now
        from workorders.customer_messages import installation_booked

        installation_booked(
            work_order_id=work_order.pk,
            on=work_order.scheduled_for,
            window_start=work_order.scheduled_window_start,
            window_end=work_order.scheduled_window_end,
            rescheduled=False,
            cause_key=f"joined:{order.pk}",
            customer_ids=[order.customer_id],
        )
    return work_order


def work_order_create(*, address, template: WorkOrderTemplate, **fields) -> WorkOrder:
    """One work order from a template, with the template's tasks (the batch does the same set-based)."""
    work_order = WorkOrder.objects.create(address=address, template=template, kind=template.kind, **fields)
    Task.objects.bulk_create(
        [
            Task(
                work_order=work_order,
                position=t.position,
                category=t.category,
                title=t.title,
                instructions=t.instructions,
                evidence_required=t.evidence_required,
                required_skill=t.required_skill,
                performed_by=t.performed_by,
                triggers_provisioning=t.triggers_provisioning,
            )
            for t in template.task_templates.order_by("position")
        ]
    )
    return work_order


@transaction.atomic
def work_orders_cancel_for_order(*, order_id: int) -> int:
    """The order was cancelled: a connection work order made for it alone is not needed any more (an area's
    installation work order stays: the network is built anyway)."""
    cancelled = 0
    for work_order in WorkOrder.objects.select_for_update().filter(
        orders=order_id, kind=WorkOrderKind.CONNECTION, status__in=OPEN_WORK_ORDER_STATUSES
    ):
        if work_order.orders.exclude(pk=order_id).exclude(status=OrderStatus.CANCELLED).exists():
            continue
        transition_apply(work_order, "cancel", reason=f"order {order_id} cancelled")
        work_order.save(update_fields=["status", "updated_at"])
        cancelled += 1
    return cancelled


@transaction.atomic
def work_order_cancel_if_connected_elsewhere(*, address_id: int) -> int:
    """An address connected outside a work order (e.g. a legacy import) needs no installation visit."""
    cancelled = 0
    for work_order in WorkOrder.objects.select_for_update().filter(
        address_id=address_id,
        kind=WorkOrderKind.INSTALLATION,
        status__in=[WorkOrderStatus.CREATED, WorkOrderStatus.SCHEDULED, WorkOrderStatus.IN_PROGRESS],
    ):
        transition_apply(work_order, "cancel", reason="address connected outside this work order")
        work_order.save(update_fields=["status", "updated_at"])
        cancelled += 1
    return cancelled


@transaction.atomic
def work_order_revisit(*, work_order_id: int, reason: str, charged: bool = False, actor=None) -> WorkOrder:
    """Send someone back to a finished job (a fault at the installation, a redo): a repair work order at the same
    address from the active repair template, linked to the job it reworks, charged or not. Its orders follow."""
    from cos.errors import ApplicationError, Conflict

    if not reason.strip():
        raise ApplicationError("Say what is wrong: the technician reads it first.", code="reason_required")
    job = WorkOrder.objects.select_for_update().get(pk=work_order_id)
    if job.status not in (WorkOrderStatus.COMPLETED, WorkOrderStatus.ACCEPTED):
        raise Conflict(
            f"{job} is {job.get_status_display().lower()}: only a finished job is revisited.", code="not_finished"
        )
    template = WorkOrderTemplate.objects.filter(kind=WorkOrderKind.REPAIR, is_active=True).order_by("pk").first()
    if template is None:
        raise Conflict("No active repair work-order template: add one in the admin.", code="no_repair_template")
    revisit = work_order_create(
        address=job.address, template=template, reworks=job, charged=charged, notes=reason.strip()
    )
    revisit.orders.set(job.orders.all())
    return revisit
