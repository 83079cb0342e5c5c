"""Completion, sign-off and rejection with the tasks to redo; the installation record; notices."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from cos import events
from cos.choices import AddressStatus, OrganizationKind, Role
from cos.errors import ApplicationError
from cos.fsm import transition_apply
from cos.models import Membership
from cos.services import address_mark_connected, providers_notify
from marketplace.choices import OrderStatus
from marketplace.models import Order
from workorders import provisioning_status
from workorders.choices import (
    EvidenceKind,
    TaskStatus,
    WorkOrderStatus,
)
from workorders.models import Evidence, FieldNotice, InstallationRecord, Task, WorkOrder
from workorders.permissions import FieldActor
from workorders.services.common import REOPEN_FIELDS, _latest, _require, _work_order_locked

# --- completion and acceptance -------------------------------------------------------------------


def _speed_test_failing(work_order: WorkOrder) -> bool:
    """The last speed test of a done task fails (a skipped speed test is the operator's to review)."""
    latest = (
        Evidence.objects.current()
        .filter(task__work_order=work_order, task__status=TaskStatus.DONE, kind=EvidenceKind.SPEED_TEST)
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
    held = provisioning_status.completion_held(work_order_id=work_order.pk)
    if held:
        raise ApplicationError(held, code="activation_failed")
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
    held = provisioning_status.completion_held(work_order_id=work_order.pk)
    if held:
        raise ApplicationError(held, code="activation_failed")
    _work_order_accept(work_order, actor=actor, reason="signed off")
    return work_order


@transaction.atomic
def work_order_reject(*, work_order_id: int, actor, reason: str, task_ids: list[int]) -> WorkOrder:
    """Send a completed work order back to the field: the chosen tasks reopen with the reason (logged), go back to
    their people's My work with the reason on top, and those people get a notice. It is in progress again; once
    the tasks are redone it completes and waits for sign-off again."""
    reason = reason.strip()
    if not reason:
        raise ValidationError("Say what must be fixed.")
    if not task_ids:
        raise ValidationError("Choose the tasks to redo.")
    _require(FieldActor.of(actor).is_operator_staff, "Only operator staff reject work orders.")
    work_order = _work_order_locked(work_order_id)
    tasks = list(Task.objects.select_for_update().filter(pk__in=task_ids, work_order=work_order).order_by("position"))
    if len(tasks) != len(set(task_ids)):
        raise ValidationError(f"Choose tasks of {work_order} only.")
    transition_apply(work_order, "reject", by=actor, reason=reason)
    work_order.save(update_fields=["status", "rejection_reason", "updated_at"])
    recipients: dict[int, list[Task]] = {}
    for task in tasks:
        for user_id in _people_told_to_redo(task):
            recipients.setdefault(user_id, []).append(task)
        transition_apply(task, "reopen", by=actor, reason=reason, redo=True)
        task.save(update_fields=REOPEN_FIELDS)
    transition_apply(work_order, "rework", by=actor, reason=reason)
    work_order.save(update_fields=["status", "updated_at"])
    FieldNotice.objects.bulk_create(
        FieldNotice(
            recipient_id=user_id,
            work_order=work_order,
            text=f"WO-{work_order.pk} at {work_order.address.label} was sent back: {reason.rstrip('.')}. "
            f"Redo: {', '.join(f'{t.position}. {t.title}' for t in redo)}.",
        )
        for user_id, redo in sorted(recipients.items())
    )
    return work_order


def _people_told_to_redo(task: Task) -> set[int]:
    """Who hears that a task is sent back: its technician; for a task held by an organization without a named
    person, the organization's field managers; failing both, whoever did it."""
    if task.assigned_user_id:
        return {task.assigned_user_id}
    if task.assigned_organization_id:
        managers = set(
            Membership.objects.filter(
                organization_id=task.assigned_organization_id, role=Role.FIELD_MANAGER
            ).values_list("user_id", flat=True)
        )
        if managers:
            return managers
    return {task.completed_by_id} if task.completed_by_id else set()


@transaction.atomic
def field_notice_mark_read(*, notice_id: int, actor) -> FieldNotice:
    """The recipient has read the notice: it leaves the banner on My work (kept, with when it was read)."""
    notice = FieldNotice.objects.select_for_update().filter(pk=notice_id, recipient=actor).first()
    if notice is None:
        raise ApplicationError("That notice is not yours.", code="not_found")
    if notice.read_at is None:
        notice.read_at = timezone.now()
        notice.save(update_fields=["read_at"])
    return notice


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
            Prefetch("evidence", queryset=Evidence.objects.current().select_related("recorded_by"))
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
