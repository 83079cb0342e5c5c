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


class ExceptionKind(models.TextChoices):
    ACTIVE_UNBILLED = "active_unbilled", "Live on the network, no active subscription"
    BILLED_INACTIVE = "billed_inactive", "Subscription active, network inactive"
    PROFILE_MISMATCH = "profile_mismatch", "Speed or VLAN differ from the contract"
    DEVICE_UNBOUND = "device_unbound", "ONT no longer bound to the service's address"
    ACTIVATION_WITHOUT_ORDER = "activation_without_order", "Service on the network without an order"


SEVERITY = {
    ExceptionKind.ACTIVE_UNBILLED: "red",
    ExceptionKind.BILLED_INACTIVE: "red",
    ExceptionKind.DEVICE_UNBOUND: "red",
    ExceptionKind.PROFILE_MISMATCH: "amber",
    ExceptionKind.ACTIVATION_WITHOUT_ORDER: "amber",
}


class ExceptionStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class ResolutionCode(models.TextChoices):
    NETWORK_CORRECTED = "network_corrected", "Network corrected to the contract"
    CONTRACT_CORRECTED = "contract_corrected", "Contract corrected to the network"
    BILLED_MANUALLY = "billed_manually", "Billed manually"
    TEST_SERVICE = "test_service", "Test or staff service"
    FALSE_POSITIVE = "false_positive", "False positive"
