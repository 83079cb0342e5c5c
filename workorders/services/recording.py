"""Evidence recorded and removed on a task; the work order starts with the first piece."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cos.errors import ApplicationError
from cos.fsm import transition_apply
from cos.inventory import ont_bind
from marketplace.choices import OrderStatus, ProductCategory
from marketplace.models import OrderLine
from marketplace.services import order_start_fulfillment
from workorders import evidence as checks
from workorders.choices import (
    EvidenceKind,
    TaskStatus,
    WorkOrderStatus,
)
from workorders.models import Evidence, WorkOrder
from workorders.permissions import FieldActor
from workorders.selectors import WORKABLE_STATUSES
from workorders.services.common import _require, _task_locked

# --- evidence and tasks --------------------------------------------------------------------------


def ordered_speed(work_order: WorkOrder) -> tuple[int, int] | None:
    """The fastest internet product ordered at the work order's address (download, upload)."""
    line = (
        OrderLine.objects.filter(
            order__address_id=work_order.address_id,
            category=ProductCategory.INTERNET,
            order__status__in=[OrderStatus.ACCEPTED, OrderStatus.IN_FULFILLMENT, OrderStatus.COMPLETED],
        )
        .select_related("product")
        .order_by("-product__download_mbps")
        .first()
    )
    return (line.product.download_mbps, line.product.upload_mbps) if line else None


def evidence_record(
    *, task_id: int, actor, kind: str, data: dict, files: dict, submission_key: str, replaces: int | None = None
) -> Evidence:
    """Check and store one piece of evidence; the same submission twice stores it once. With `replaces`, that item
    of the same task and kind is removed in the same step (a retaken photo).

    Numbers are read with a decimal comma or point ("-20,5"). An ONT serial also binds that ONT to the work order's
    address: refused if it is installed elsewhere or cannot be there (cos.inventory says which ONTs fit the
    address's serving port).
    """
    if not submission_key:
        raise ValidationError("The form is missing its submission key; reload the page.")
    existing = Evidence.objects.filter(task_id=task_id, submission_key=submission_key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            item = _evidence_record(task_id, actor, kind, data, files, submission_key)
            if replaces is not None:
                replaced = Evidence.objects.current().filter(pk=replaces, task_id=task_id, kind=kind).first()
                if replaced is None:
                    raise ValidationError("The item to replace is not on this task any more; reload the page.")
                _evidence_mark_removed(replaced, actor)
            return item
    except IntegrityError:
        existing = Evidence.objects.filter(task_id=task_id, submission_key=submission_key).first()
        if existing is None:
            raise
        return existing


def _evidence_record(task_id, actor, kind, data, files, submission_key) -> Evidence:
    task = _task_locked(task_id)
    _require(FieldActor.of(actor).can_work(task), "This task is not assigned to you or your organization.")
    if task.status != TaskStatus.OPEN:
        raise ApplicationError("This task is closed; reopen it first.", code="task_closed")
    if task.work_order.status not in WORKABLE_STATUSES:
        raise ApplicationError(
            f"The work order is {task.work_order.get_status_display().lower()}.", code="work_order_closed"
        )
    if kind not in task.evidence_required and kind != EvidenceKind.NOTE:
        raise ValidationError(f"This task does not take {kind.replace('_', ' ')} evidence.")
    item = Evidence(task=task, kind=kind, recorded_by=actor, submission_key=submission_key)
    if kind == EvidenceKind.PHOTO:
        item.file, item.thumbnail = checks.image_file(files.get("photo"))
    elif kind == EvidenceKind.SIGNATURE:
        item.file, item.thumbnail = checks.signature(data.get("signature", ""))
    elif kind == EvidenceKind.LIGHT_LEVEL:
        item.light_level_dbm, item.passed = checks.light_level(data.get("light_level_dbm"))
    elif kind == EvidenceKind.SPEED_TEST:
        item.download_mbps, item.upload_mbps, item.passed = checks.speed_test(
            data.get("download_mbps"), data.get("upload_mbps"), ordered=ordered_speed(task.work_order)
        )
    elif kind == EvidenceKind.ONT_SERIAL:
        item.ont_serial = checks.ont_serial(data.get("ont_serial", ""))
        ont_bind(serial=item.ont_serial, address=task.work_order.address)
    elif kind == EvidenceKind.NOTE:
        item.note = (data.get("note") or "").strip()
        if not item.note:
            raise ValidationError("Write the note.")
    else:
        raise ValidationError(f"Unknown evidence kind {kind!r}.")
    item.save()
    _work_order_start(task.work_order, actor)
    return item


@transaction.atomic
def evidence_remove(*, evidence_id: int, actor) -> Evidence:
    """Take back a wrong item (a photo of the wrong wall, a mistyped reading) while its task is open. The item then
    counts for nothing; its row and file are kept, with who removed it and when. An ONT serial stays: it bound the
    ONT to the address (scan the right ONT instead, and tell the operator)."""
    task_id = Evidence.objects.filter(pk=evidence_id).values_list("task_id", flat=True).first()
    if task_id is None:
        raise ApplicationError("That evidence does not exist.", code="not_found")
    task = _task_locked(task_id)
    _require(FieldActor.of(actor).can_work(task), "This task is not assigned to you or your organization.")
    item = Evidence.objects.select_for_update().get(pk=evidence_id)
    if item.removed_at is not None:
        return item  # a double tap: removed already
    if task.status != TaskStatus.OPEN:
        raise ApplicationError("This task is closed; reopen it first.", code="task_closed")
    if task.work_order.status not in WORKABLE_STATUSES:
        raise ApplicationError(
            f"The work order is {task.work_order.get_status_display().lower()}.", code="work_order_closed"
        )
    if item.kind == EvidenceKind.ONT_SERIAL:
        raise ApplicationError(
            f"The serial bound ONT {item.ont_serial} to this address, so it stays on record: scan the right ONT, "
            "and tell the operator which one was scanned by mistake.",
            code="evidence_kept",
        )
    _evidence_mark_removed(item, actor)
    return item


def _evidence_mark_removed(item: Evidence, actor) -> None:
    item.removed_at, item.removed_by = timezone.now(), actor
    item.save(update_fields=["removed_at", "removed_by"])


def _work_order_start(work_order: WorkOrder, actor) -> None:
    if work_order.status in (WorkOrderStatus.CREATED, WorkOrderStatus.SCHEDULED):
        transition_apply(work_order, "start", by=actor)
        work_order.save(update_fields=["status", "updated_at"])
        for order_id in work_order.orders.filter(status=OrderStatus.ACCEPTED).values_list("pk", flat=True):
            order_start_fulfillment(order_id=order_id, actor=actor, reason=f"field work started ({work_order})")
