"""What the field-work services share: their errors, row locks and permission check."""

from django.core.exceptions import PermissionDenied

from cos.errors import ApplicationError
from cos.models import Organization
from workorders.models import Task, WorkOrder
from workorders.permissions import FieldActor


class EvidenceMissing(ApplicationError):
    code = "evidence_missing"


class MeasurementFailing(ApplicationError):
    """A light-level or speed-test task whose last reading fails: measure again, or skip it with a reason."""

    code = "measurement_failed"


def _task_locked(task_id: int) -> Task:
    return Task.objects.select_for_update().select_related("work_order__address").get(pk=task_id)


def _work_order_locked(work_order_id: int) -> WorkOrder:
    return WorkOrder.objects.select_for_update().select_related("address").get(pk=work_order_id)


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def _organization(field: FieldActor) -> Organization | None:
    return Organization.objects.filter(pk=field.organization_id).first() if field.organization_id else None


def _latest(task_evidence, kind):
    matching = [e for e in task_evidence if e.kind == kind]
    return matching[-1] if matching else None


# What a reopened task forgets of its closing.
REOPEN_FIELDS = [
    "status",
    "skip_reason",
    "redo_reason",
    "completed_by",
    "completed_by_organization",
    "completed_at",
    "updated_at",
]
