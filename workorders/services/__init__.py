"""Use cases of field work that write, by topic: work orders from orders (creation), assignment and scheduling,
evidence (recording), closing tasks, completion, acceptance and rejection with the tasks to redo, and the
technicians' notices. Callers import from here."""

from workorders.services.assignment import tasks_assign, work_order_schedule
from workorders.services.closing import task_close, task_reopen, task_skip
from workorders.services.common import EvidenceMissing, MeasurementFailing
from workorders.services.completion import (
    field_notice_mark_read,
    infrastructure_ready_notify,
    work_order_accept,
    work_order_reject,
)
from workorders.services.creation import (
    work_order_cancel_if_connected_elsewhere,
    work_order_create,
    work_order_for_accepted_order,
    work_order_revisit,
    work_orders_cancel_for_order,
)
from workorders.services.recording import evidence_record, evidence_remove, ordered_speed

__all__ = [
    "EvidenceMissing",
    "MeasurementFailing",
    "evidence_record",
    "evidence_remove",
    "field_notice_mark_read",
    "infrastructure_ready_notify",
    "ordered_speed",
    "task_close",
    "task_reopen",
    "task_skip",
    "tasks_assign",
    "work_order_accept",
    "work_order_cancel_if_connected_elsewhere",
    "work_order_create",
    "work_order_for_accepted_order",
    "work_order_reject",
    "work_order_revisit",
    "work_order_schedule",
    "work_orders_cancel_for_order",
]
