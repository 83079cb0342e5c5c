"""The network contract (service instance) and the provisioning jobs that apply it to the network."""

from django.db import models
from django_fsm import FSMField, transition

from cos.models import StatefulModel
from provisioning.choices import ExceptionKind, ExceptionStatus, JobAction, JobStatus, ResolutionCode, ServiceStatus


class ServiceInstance(StatefulModel):
    """What the network must deliver for one subscription: device, port, profile, VLANs, QoS."""

    subscription = models.OneToOneField(
        "marketplace.Subscription", on_delete=models.PROTECT, related_name="service_instance"
    )
    address = models.ForeignKey("cos.AddressObject", on_delete=models.PROTECT, related_name="service_instances")
    provider = models.ForeignKey("cos.Organization", on_delete=models.PROTECT, related_name="service_instances")
    service_profile = models.CharField(max_length=64)
    download_mbps = models.PositiveIntegerField(null=True, blank=True)
    upload_mbps = models.PositiveIntegerField(null=True, blank=True)
    ont = models.ForeignKey("cos.ONT", null=True, blank=True, on_delete=models.PROTECT, related_name="services")
    olt = models.ForeignKey("cos.OLT", null=True, blank=True, on_delete=models.PROTECT, related_name="services")
    pon_port = models.ForeignKey(
        "cos.PonPort", null=True, blank=True, on_delete=models.PROTECT, related_name="services"
    )
    c_vlan = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Customer VLAN (C-tag).")
    s_vlan = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Service VLAN (S-tag), where used.")
    qos_class = models.CharField(max_length=32, default="best_effort")
    status = FSMField(default=ServiceStatus.PENDING, choices=ServiceStatus.choices, protected=True)
    activated_at = models.DateTimeField(null=True, blank=True, help_text="As reported by the device.")
    deactivated_at = models.DateTimeField(null=True, blank=True, help_text="As reported by the device.")
    billing_blocked = models.BooleanField(default=False)
    failure_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["address", "status"], name="service_address_status")]

    def __str__(self) -> str:
        return f"{self.service_profile} at {self.address}"

    @transition(field=status, source=[ServiceStatus.PENDING, ServiceStatus.FAILED], target=ServiceStatus.PROVISIONING)
    def start_provisioning(self, *, by=None, reason: str = "") -> None:
        self.failure_reason = ""

    @transition(field=status, source=ServiceStatus.PROVISIONING, target=ServiceStatus.ACTIVE)
    def activate(self, *, at, by=None, reason: str = "") -> None:
        self.activated_at = at

    @transition(field=status, source=ServiceStatus.PROVISIONING, target=ServiceStatus.FAILED)
    def fail(self, *, by=None, reason: str = "") -> None:
        self.failure_reason = reason

    @transition(field=status, source=ServiceStatus.ACTIVE, target=ServiceStatus.DEACTIVATING)
    def start_deactivation(self, *, by=None, reason: str = "") -> None:
        """Termination asked the network to turn the service off."""

    @transition(field=status, source=ServiceStatus.DEACTIVATING, target=ServiceStatus.INACTIVE)
    def deactivate(self, *, at, by=None, reason: str = "") -> None:
        self.deactivated_at = at


class ProvisioningJob(StatefulModel):
    """One attempt-tracked change to the network for a service: activate, deactivate or modify."""

    service = models.ForeignKey(ServiceInstance, on_delete=models.PROTECT, related_name="jobs")
    action = models.CharField(max_length=16, choices=JobAction.choices)
    status = FSMField(default=JobStatus.QUEUED, choices=JobStatus.choices, protected=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    requested_by_event = models.ForeignKey(
        "cos.Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            # A request delivered twice makes one job.
            models.UniqueConstraint(fields=["service", "action", "requested_by_event"], name="job_once_per_request"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.service}"

    @transition(field=status, source=[JobStatus.QUEUED, JobStatus.FAILED], target=JobStatus.RUNNING)
    def run(self, *, at, by=None, reason: str = "") -> None:
        self.attempts += 1
        self.started_at = at

    @transition(field=status, source=JobStatus.RUNNING, target=JobStatus.SUCCEEDED)
    def succeed(self, *, at, by=None, reason: str = "") -> None:
        self.finished_at = at
        self.last_error = ""

    @transition(field=status, source=JobStatus.RUNNING, target=JobStatus.FAILED)
    def fail(self, *, retry_at, by=None, reason: str = "") -> None:
        self.last_error = reason
        self.next_attempt_at = retry_at

    @transition(field=status, source=[JobStatus.RUNNING, JobStatus.FAILED], target=JobStatus.DEAD)
    def give_up(self, *, at, by=None, reason: str = "") -> None:
        self.last_error = reason
        self.finished_at = at

    @transition(field=status, source=JobStatus.DEAD, target=JobStatus.QUEUED)
    def requeue(self, *, by=None, reason: str = "") -> None:
        """An operator retries a dead job after fixing its cause."""
        self.attempts = 0
        self.finished_at = None


class ContractException(StatefulModel):
    """A difference between what is sold (the subscription) and what the network delivers, found by the sync."""

    kind = models.CharField(max_length=32, choices=ExceptionKind.choices)
    severity = models.CharField(max_length=8, choices=[("red", "Red"), ("amber", "Amber")])
    service = models.ForeignKey(
        ServiceInstance, null=True, blank=True, on_delete=models.CASCADE, related_name="exceptions"
    )
    ont_serial = models.CharField(max_length=12, blank=True)
    device_service_id = models.CharField(max_length=64, blank=True)
    detail = models.TextField()
    status = FSMField(default=ExceptionStatus.OPEN, choices=ExceptionStatus.choices, protected=True)
    last_seen_at = models.DateTimeField()
    resolution_code = models.CharField(max_length=32, choices=ResolutionCode.choices, blank=True)

    class Meta:
        ordering = ["status", "severity", "-last_seen_at"]
        constraints = [
            # Re-running the sync refreshes an open exception instead of adding another.
            models.UniqueConstraint(
                fields=["kind", "ont_serial", "device_service_id"],
                condition=models.Q(status="open"),
                name="contract_exception_open_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.ont_serial or '-'})"

    @transition(field=status, source=ExceptionStatus.OPEN, target=ExceptionStatus.RESOLVED)
    def resolve(self, *, code: str, by=None, reason: str = "") -> None:
        self.resolution_code = code
