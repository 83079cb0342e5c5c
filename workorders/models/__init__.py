from workorders.models.templates import TaskTemplate, WorkOrderTemplate
from workorders.models.work import Evidence, InstallationRecord, Task, WorkOrder

__all__ = [
    "Evidence",
    "InstallationRecord",
    "Task",
    "TaskTemplate",
    "WorkOrder",
    "WorkOrderTemplate",
]
