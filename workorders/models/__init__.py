from workorders.models.templates import TaskTemplate, WorkOrderTemplate
from workorders.models.work import Evidence, InstallationRecord, ProviderNotification, Task, WorkOrder

__all__ = [
    "Evidence",
    "InstallationRecord",
    "ProviderNotification",
    "Task",
    "TaskTemplate",
    "WorkOrder",
    "WorkOrderTemplate",
]
