from workorders.models.templates import TaskTemplate, WorkOrderTemplate
from workorders.models.work import Evidence, FieldNotice, InstallationRecord, Task, WorkOrder

__all__ = [
    "Evidence",
    "FieldNotice",
    "InstallationRecord",
    "Task",
    "TaskTemplate",
    "WorkOrder",
    "WorkOrderTemplate",
]
