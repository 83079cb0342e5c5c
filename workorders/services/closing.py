"""Closing, skipping and reopening tasks: measurements gate their own task."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cos import events
from cos.errors import ApplicationError
from cos.fsm import transition_apply
from workorders import evidence as checks
from workorders.choices import (
    EvidenceKind,
    TaskCategory,
    TaskStatus,
    WorkOrderStatus,
)
from workorders.models import Evidence, Task, WorkOrder
from workorders.permissions import FieldActor
from workorders.selectors import WORKABLE_STATUSES
from workorders.services.common import (
    REOPEN_FIELDS,
    EvidenceMissing,
    MeasurementFailing,
    _latest,
    _organization,
    _require,
    _task_locked,
)
from workorders.services.completion import _work_order_complete_if_done
from workorders.services.recording import _work_order_start, ordered_speed


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
    recorded = list(task.evidence.current())
    missing = [kind for kind in task.evidence_required if _latest(recorded, kind) is None]
    if missing:
        labels = ", ".join(_in_a_sentence(EvidenceKind(kind).label) for kind in missing)
        raise EvidenceMissing(f"This task needs evidence first: {labels}.")
    _measurements_check(task, recorded)
    if task.category == TaskCategory.PROVISIONING_TRIGGER:
        _light_level_check_for_provisioning(work_order)
    _work_order_start(work_order, actor)
    transition_apply(task, "close", by=actor, at=timezone.now(), organization=_organization(field))
    task.save(
        update_fields=[
            "status",
            "redo_reason",
            "completed_by",
            "completed_by_organization",
            "completed_at",
            "updated_at",
        ]
    )
    if task.triggers_provisioning:
        events.publish(
            "workorder.provisioning_requested",
            work_order_id=work_order.pk,
            address_id=work_order.address_id,
            task_id=task.pk,
        )
    _work_order_complete_if_done(work_order, actor)
    return task


def _measurements_check(task: Task, recorded: list[Evidence]) -> None:
    """A light-level or speed-test task closes only when its last reading passes."""
    light = _latest(recorded, EvidenceKind.LIGHT_LEVEL) if EvidenceKind.LIGHT_LEVEL in task.evidence_required else None
    if light is not None and not light.passed:
        raise MeasurementFailing(
            f"The last light level, {light.light_level_dbm} dBm, fails ({checks.light_level_rule()}): record a new "
            "reading, or skip the task with a reason."
        )
    speed = _latest(recorded, EvidenceKind.SPEED_TEST) if EvidenceKind.SPEED_TEST in task.evidence_required else None
    if speed is not None and not speed.passed:
        raise MeasurementFailing(
            f"The last speed test, {speed.download_mbps}/{speed.upload_mbps} Mbit/s, fails "
            f"({checks.speed_test_rule(ordered_speed(task.work_order))}): run a new test, or skip the task with a "
            "reason."
        )


def _light_level_check_for_provisioning(work_order: WorkOrder) -> None:
    """The service is turned on after a passing light level, or where the light-level task was skipped with a
    reason (the skip is on the operator's queue)."""
    reading = (
        Evidence.objects.current()
        .filter(task__work_order=work_order, kind=EvidenceKind.LIGHT_LEVEL)
        .order_by("recorded_at", "id")
        .last()
    )
    if reading is not None and reading.passed:
        return
    light_tasks = [t for t in work_order.tasks.all() if EvidenceKind.LIGHT_LEVEL in t.evidence_required]
    if light_tasks and all(t.status == TaskStatus.SKIPPED for t in light_tasks):
        return
    raise ApplicationError(
        "Provisioning needs a passing light-level reading on this work order first.", code="light_level_failed"
    )


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
            "redo_reason",
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
    """Reopen a closed task (audited with the reason) while its work order is open in the field (in progress, or
    rejected). The technician it is for, the organization's field manager, or operator staff."""
    if not reason.strip():
        raise ValidationError("Say why the task is reopened.")
    task = _task_locked(task_id)
    _require(
        FieldActor.of(actor).can_reopen(task),
        "Only the technician of this task, the field manager or operator staff reopen it.",
    )
    if task.work_order.status not in (WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.REJECTED):
        raise ApplicationError("Only tasks of a work order in progress can be reopened.", code="work_order_closed")
    transition_apply(task, "reopen", by=actor, reason=reason.strip())
    task.save(update_fields=REOPEN_FIELDS)
    return task


def _in_a_sentence(label: str) -> str:
    """A label inside a sentence: "Photo" -> "photo", but "ONT serial" keeps its capitals."""
    return label if label[:2].isupper() else label[0].lower() + label[1:]
