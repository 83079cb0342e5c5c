"""Status values and kinds of field work."""

from django.db import models


class WorkOrderKind(models.TextChoices):
    INSTALLATION = "installation", "Installation (deployment)"
    CONNECTION = "connection", "Post-deployment connection"
    REPAIR = "repair", "Repair or revisit"


class TaskCategory(models.TextChoices):
    PHYSICAL = "physical", "Physical installation"
    TESTING = "testing", "Testing and verification"
    PROVISIONING_TRIGGER = "provisioning_trigger", "Provisioning trigger"
    CUSTOMER_COMMUNICATION = "customer_communication", "Customer communication"


class EvidenceKind(models.TextChoices):
    PHOTO = "photo", "Photo"
    LIGHT_LEVEL = "light_level", "Light level"
    SPEED_TEST = "speed_test", "Speed test"
    ONT_SERIAL = "ont_serial", "ONT serial"
    SIGNATURE = "signature", "Customer signature"
    NOTE = "note", "Note"


class PerformerKind(models.TextChoices):
    STAFF = "staff", "Operator staff"
    CONTRACTOR = "contractor", "Contractor"


class WorkOrderStatus(models.TextChoices):
    CREATED = "created", "Created"
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


OPEN_WORK_ORDER_STATUSES = (
    WorkOrderStatus.CREATED,
    WorkOrderStatus.SCHEDULED,
    WorkOrderStatus.IN_PROGRESS,
    WorkOrderStatus.COMPLETED,
    WorkOrderStatus.REJECTED,
)


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"
