"""Use cases of field work that write: assignment, evidence, closing tasks, completion, acceptance."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from cos import events
from cos.choices import AddressStatus, OrganizationKind
from cos.errors import ApplicationError
from cos.fsm import transition_apply
from cos.inventory import ont_bind
from cos.models import ONT, Membership, Organization
from cos.services import address_mark_connected, providers_notify
from marketplace.choices import OrderStatus, ProductCategory
from marketplace.models import Order, OrderLine
from marketplace.services import order_start_fulfillment
from workorders import evidence as checks
from workorders.choices import (
    OPEN_WORK_ORDER_STATUSES,
    EvidenceKind,
    TaskCategory,
    TaskStatus,
    WorkOrderKind,
    WorkOrderStatus,
)
from workorders.models import Evidence, InstallationRecord, Task, WorkOrder, WorkOrderTemplate
from workorders.permissions import FieldActor
from workorders.selectors import WORKABLE_STATUSES


class EvidenceMissing(ApplicationError):
    code = "evidence_missing"


def _task_locked(task_id: int) -> Task:
    return Task.objects.select_for_update().select_related("work_order__address").get(pk=task_id)


def _work_order_locked(work_order_id: int) -> WorkOrder:
    return WorkOrder.objects.select_for_update().select_related("address").get(pk=work_order_id)


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


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


# --- assignment --------------------------------------------------------------------------------


@transaction.atomic
def tasks_assign(*, task_ids: list[int], actor, user=None, organization: Organization | None = None) -> int:
    """Assign tasks to a technician and/or a contractor organization (whose field manager then assigns its people).

    Operator staff may assign anything; a contractor's field manager only its organization's tasks, to its own
    people. Refused as a whole when one task is not allowed.
    """
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
def work_order_schedule(*, work_order_id: int, on, actor=None) -> WorkOrder:
    work_order = _work_order_locked(work_order_id)
    transition_apply(work_order, "schedule", by=actor, on=on)
    work_order.save(update_fields=["status", "scheduled_for", "updated_at"])
    return work_order


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


def evidence_record(*, task_id: int, actor, kind: str, data: dict, files: dict, submission_key: str) -> Evidence:
    """Check and store one piece of evidence; the same submission twice stores it once.

    An ONT serial also binds that ONT to the work order's address: refused if it is installed elsewhere or cannot
    be there (cos.inventory says which ONTs fit the address's serving port).
    """
    if not submission_key:
        raise ValidationError("The form is missing its submission key; reload the page.")
    existing = Evidence.objects.filter(task_id=task_id, submission_key=submission_key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return _evidence_record(task_id, actor, kind, data, files, submission_key)
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


def _work_order_start(work_order: WorkOrder, actor) -> None:
    if work_order.status in (WorkOrderStatus.CREATED, WorkOrderStatus.SCHEDULED):
        transition_apply(work_order, "start", by=actor)
        work_order.save(update_fields=["status", "updated_at"])
        for order_id in work_order.orders.filter(status=OrderStatus.ACCEPTED).values_list("pk", flat=True):
            order_start_fulfillment(order_id=order_id, actor=actor, reason=f"field work started ({work_order})")


def _latest(task_evidence, kind):
    matching = [e for e in task_evidence if e.kind == kind]
    return matching[-1] if matching else None


@transaction.atomic
def task_close(*, task_id: int, actor) -> Task:
    """Close a task with its evidence, in sequence. The provisioning trigger needs a passing light level and
    publishes workorder.provisioning_requested; the last task completes the work order."""
    task = _task_locked(task_id)
    field = FieldActor.of(actor)
    _require(field.can_work(task), "This task is not assigned to you or your organization.")
    if task.status != TaskStatus.OPEN:
        return task  # a double submit: it is closed already
    work_order = task.work_order
    if work_order.status not in WORKABLE_STATUSES:
        raise ApplicationError(
            f"The work order is {work_order.get_status_display().lower()}.", code="work_order_closed"
        )
    earlier_open = (
        work_order.tasks.filter(position__lt=task.position, status=TaskStatus.OPEN).order_by("position").first()
    )
    if earlier_open is not None:
        raise ApplicationError(f"Close “{earlier_open.title}” first.", code="out_of_sequence")
    recorded = list(task.evidence.all())
    missing = [kind for kind in task.evidence_required if _latest(recorded, kind) is None]
    if missing:
        labels = ", ".join(EvidenceKind(kind).label.lower() for kind in missing)
        raise EvidenceMissing(f"This task needs evidence first: {labels}.")
    if task.category == TaskCategory.PROVISIONING_TRIGGER:
        reading = (
            Evidence.objects.filter(task__work_order=work_order, kind=EvidenceKind.LIGHT_LEVEL)
            .order_by("recorded_at", "id")
            .last()
        )
        if reading is None or not reading.passed:
            raise ApplicationError(
                "Provisioning needs a passing light-level reading on this work order first.", code="light_level_failed"
            )
    _work_order_start(work_order, actor)
    transition_apply(task, "close", by=actor, at=timezone.now(), organization=_organization(field))
    task.save(update_fields=["status", "completed_by", "completed_by_organization", "completed_at", "updated_at"])
    if task.triggers_provisioning:
        events.publish(
            "workorder.provisioning_requested",
            work_order_id=work_order.pk,
            address_id=work_order.address_id,
            task_id=task.pk,
        )
    _work_order_complete_if_done(work_order, actor)
    return task


def _organization(field: FieldActor) -> Organization | None:
    return Organization.objects.filter(pk=field.organization_id).first() if field.organization_id else None


@transaction.atomic
def task_skip(*, task_id: int, actor, reason: str) -> Task:
    """Skip a task that does not apply here, with a reason (the provisioning trigger cannot be skipped)."""
    if not reason.strip():
        raise ValidationError("Say why the task is skipped.")
    task = _task_locked(task_id)
    field = FieldActor.of(actor)
    _require(field.can_work(task), "This task is not assigned to you or your organization.")
    if task.triggers_provisioning:
        raise ApplicationError("The provisioning trigger cannot be skipped.", code="cannot_skip")
    transition_apply(
        task, "skip", by=actor, reason=reason.strip(), at=timezone.now(), organization=_organization(field)
    )
    task.save(
        update_fields=[
            "status",
            "skip_reason",
            "completed_by",
            "completed_by_organization",
            "completed_at",
            "updated_at",
        ]
    )
    _work_order_start(task.work_order, actor)
    _work_order_complete_if_done(task.work_order, actor)
    return task


@transaction.atomic
def task_reopen(*, task_id: int, actor, reason: str) -> Task:
    """Reopen a closed task (audited with the reason); only before the work order is completed."""
    if not reason.strip():
        raise ValidationError("Say why the task is reopened.")
    task = _task_locked(task_id)
    _require(FieldActor.of(actor).can_reopen(task), "Only operator staff or the field manager reopen tasks.")
    if task.work_order.status not in (WorkOrderStatus.IN_PROGRESS,):
        raise ApplicationError("Only tasks of a work order in progress can be reopened.", code="work_order_closed")
    transition_apply(task, "reopen", by=actor, reason=reason.strip())
    task.save(
        update_fields=[
            "status",
            "skip_reason",
            "completed_by",
            "completed_by_organization",
            "completed_at",
            "updated_at",
        ]
    )
    return task


# --- completion and acceptance -------------------------------------------------------------------


def _speed_test_failing(work_order: WorkOrder) -> bool:
    latest = (
        Evidence.objects.filter(task__work_order=work_order, kind=EvidenceKind.SPEED_TEST)
        .order_by("recorded_at", "id")
        .last()
    )
    return latest is not None and latest.passed is False


def _work_order_complete_if_done(work_order: WorkOrder, actor) -> None:
    work_order.refresh_from_db()
    if work_order.status != WorkOrderStatus.IN_PROGRESS or work_order.tasks.filter(status=TaskStatus.OPEN).exists():
        return
    if _speed_test_failing(work_order):
        raise ApplicationError(
            "The last speed test fails: fix the connection and record a passing speed test before the work "
            "order can complete.",
            code="speed_test_failed",
        )
    transition_apply(work_order, "complete", by=actor, at=timezone.now())
    work_order.save(update_fields=["status", "completed_at", "updated_at"])
    contractor_work = work_order.tasks.filter(completed_by_organization__kind=OrganizationKind.CONTRACTOR).exists()
    if not contractor_work:
        _work_order_accept(work_order, actor=None, reason="no contractor work: no sign-off needed")


@transaction.atomic
def work_order_accept(*, work_order_id: int, actor) -> WorkOrder:
    """Operator sign-off of a completed work order done (partly) by a contractor."""
    _require(FieldActor.of(actor).is_operator_staff, "Only operator staff accept work orders.")
    work_order = _work_order_locked(work_order_id)
    _work_order_accept(work_order, actor=actor, reason="signed off")
    return work_order


@transaction.atomic
def work_order_reject(*, work_order_id: int, actor, reason: str) -> WorkOrder:
    """Send a completed work order back to the field, with a reason; it is in progress again."""
    if not reason.strip():
        raise ValidationError("Say what must be fixed.")
    _require(FieldActor.of(actor).is_operator_staff, "Only operator staff reject work orders.")
    work_order = _work_order_locked(work_order_id)
    transition_apply(work_order, "reject", by=actor, reason=reason.strip())
    work_order.save(update_fields=["status", "rejection_reason", "updated_at"])
    transition_apply(work_order, "rework", by=actor, reason=reason.strip())
    work_order.save(update_fields=["status", "updated_at"])
    return work_order


def _work_order_accept(work_order: WorkOrder, *, actor, reason: str) -> None:
    transition_apply(work_order, "accept", by=actor, reason=reason, at=timezone.now())
    work_order.save(update_fields=["status", "accepted_at", "updated_at"])
    _installation_record_write(work_order)
    if work_order.address.status == AddressStatus.IN_DEPLOYMENT:
        address_mark_connected(address_id=work_order.address_id, actor=actor, reason=f"{work_order} accepted")
    events.publish(
        "infrastructure.ready",
        address_id=work_order.address_id,
        work_order_id=work_order.pk,
        order_ids=list(work_order.orders.values_list("pk", flat=True)),
    )


def _installation_record_write(work_order: WorkOrder) -> InstallationRecord:
    tasks = list(
        work_order.tasks.select_related("completed_by", "completed_by_organization").prefetch_related(
            "evidence__recorded_by"
        )
    )
    all_evidence = [e for t in tasks for e in t.evidence.all()]
    light = _latest(all_evidence, EvidenceKind.LIGHT_LEVEL)
    speed = _latest(all_evidence, EvidenceKind.SPEED_TEST)
    serial = _latest(all_evidence, EvidenceKind.ONT_SERIAL)
    started = min((e.recorded_at for e in all_evidence), default=None)
    return InstallationRecord.objects.create(
        work_order=work_order,
        address=work_order.address,
        ont_serial=serial.ont_serial if serial else "",
        light_level_dbm=light.light_level_dbm if light else None,
        download_mbps=speed.download_mbps if speed else None,
        upload_mbps=speed.upload_mbps if speed else None,
        started_at=started,
        completed_at=work_order.completed_at,
        details={
            "tasks": [
                {
                    "position": t.position,
                    "title": t.title,
                    "status": t.status,
                    "skip_reason": t.skip_reason,
                    "completed_at": t.completed_at.isoformat() if t.completed_at else None,
                    "completed_by": t.completed_by.get_username() if t.completed_by else None,
                    "organization": t.completed_by_organization.name if t.completed_by_organization else None,
                    "evidence": [
                        {
                            "kind": e.kind,
                            "recorded_at": e.recorded_at.isoformat(),
                            "recorded_by": e.recorded_by.get_username(),
                            "file": e.file.name or None,
                            "light_level_dbm": str(e.light_level_dbm) if e.light_level_dbm is not None else None,
                            "download_mbps": str(e.download_mbps) if e.download_mbps is not None else None,
                            "upload_mbps": str(e.upload_mbps) if e.upload_mbps is not None else None,
                            "ont_serial": e.ont_serial or None,
                            "passed": e.passed,
                        }
                        for e in t.evidence.all()
                    ],
                }
                for t in tasks
            ],
            "technicians": sorted({t.completed_by.get_username() for t in tasks if t.completed_by}),
            "organizations": sorted({t.completed_by_organization.name for t in tasks if t.completed_by_organization}),
        },
    )


def infrastructure_ready_notify(*, event) -> int:
    """Tell each provider with an order at the address that the infrastructure is ready (recorded for delivery)."""
    provider_ids = set(
        Order.objects.filter(address_id=event.payload["address_id"])
        .exclude(status__in=[OrderStatus.CANCELLED, OrderStatus.REJECTED])
        .values_list("provider_id", flat=True)
    )
    providers_notify(provider_ids=provider_ids, event=event, topic="infrastructure.ready")
    return len(provider_ids)
