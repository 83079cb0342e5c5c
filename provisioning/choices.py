"""Status values of the network contract and of provisioning jobs."""

from django.db import models


class ServiceStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROVISIONING = "provisioning", "Provisioning"
    ACTIVE = "active", "Active"
    DEACTIVATING = "deactivating", "Deactivating"
    INACTIVE = "inactive", "Inactive"
    FAILED = "failed", "Failed"


class JobAction(models.TextChoices):
    ACTIVATE = "activate", "Activate"
    DEACTIVATE = "deactivate", "Deactivate"
    MODIFY = "modify", "Modify"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed (will retry)"
    DEAD = "dead", "Dead"
