"""Status values of the network contract and of provisioning jobs."""

from django.db import models


class ServiceStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROVISIONING = "provisioning", "Provisioning"
    ACTIVE = "active", "Active"
    DEACTIVATING = "deactivating", "Deactivating"
    INACTIVE = "inactive", "Inactive"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled (never live)"


# On the network, delivering (or about to stop delivering) the service.
LIVE_SERVICE_STATUSES = (ServiceStatus.ACTIVE, ServiceStatus.DEACTIVATING)
# Holding a VLAN on its OLT: being applied, delivered or taken off.
VLAN_HOLDING = (ServiceStatus.PROVISIONING, ServiceStatus.ACTIVE, ServiceStatus.DEACTIVATING)


class JobAction(models.TextChoices):
    ACTIVATE = "activate", "Activate"
    DEACTIVATE = "deactivate", "Deactivate"
    MODIFY = "modify", "Modify"
    SUSPEND = "suspend", "Suspend (to the suspended profile)"
    RESUME = "resume", "Resume (back to the plan's profile)"
    SWITCH = "switch", "Switch (take over another provider's service on the ONT)"


# Jobs that change a live service in place (the adapter's modify).
MODIFYING_ACTIONS = (JobAction.MODIFY, JobAction.SUSPEND, JobAction.RESUME, JobAction.SWITCH)


class PeriodCause(models.TextChoices):
    """What opened or closed a service period: each one a verified network operation."""

    ACTIVATE = "activate", "Activated"
    MODIFY = "modify", "Modified"
    SUSPEND = "suspend", "Suspended"
    RESUME = "resume", "Resumed"
    DEACTIVATE = "deactivate", "Deactivated"
    SWITCH = "switch", "Switched between providers"


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
    LIVE_UNBILLED = "live_unbilled", "Live period on the ledger, not billed"
    BILLED_NOT_LIVE = "billed_not_live", "Billed, no live period on the ledger"


SEVERITY = {
    ExceptionKind.ACTIVE_UNBILLED: "red",
    ExceptionKind.BILLED_INACTIVE: "red",
    ExceptionKind.DEVICE_UNBOUND: "red",
    ExceptionKind.PROFILE_MISMATCH: "amber",
    ExceptionKind.ACTIVATION_WITHOUT_ORDER: "amber",
    ExceptionKind.LIVE_UNBILLED: "red",
    ExceptionKind.BILLED_NOT_LIVE: "red",
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
