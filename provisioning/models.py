"""The network contract (service instance) and the provisioning jobs that apply it to the network."""

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django_fsm import FSMField, transition

from cos.models import StatefulModel
from provisioning.choices import (
    ExceptionKind,
    ExceptionStatus,
    JobAction,
    JobStatus,
    PeriodCause,
    ResolutionCode,
    ServiceStatus,
)


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
    network_service_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="The service's id on the ONT (set at activation; a switch takes over the previous provider's).",
    )
    activated_at = models.DateTimeField(null=True, blank=True, help_text="As reported by the device.")
    deactivated_at = models.DateTimeField(null=True, blank=True, help_text="As reported by the device.")
    billing_blocked = models.BooleanField(
        default=False, help_text="Billing holds new charges of this service until the block is lifted."
    )
    billing_blocked_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["address", "status"], name="service_address_status")]
        constraints = [
            # One provider's service at a time on an ONT's service id: a switch hands it over in one transaction.
            models.UniqueConstraint(
                fields=["network_service_id"],
                condition=Q(status="active") & ~Q(network_service_id=""),
                name="service_network_id_live_once",
            ),
            # One service per VLAN on an OLT while it holds it (provisioning.jobs.vlan_for chooses).
            models.UniqueConstraint(
                F("olt"),
                Coalesce("s_vlan", 0),
                F("c_vlan"),
                condition=Q(status__in=["provisioning", "active", "deactivating"], olt__isnull=False),
                name="service_vlan_once_per_olt",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service_profile} at {self.address}"

    @property
    def device_service_id(self) -> str:
        """The service's id on the device: its own, or the one it took over from another provider."""
        return self.network_service_id or f"cos-{self.pk}"

    @transition(field=status, source=[ServiceStatus.PENDING, ServiceStatus.FAILED], target=ServiceStatus.PROVISIONING)
    def start_provisioning(self, *, by=None, reason: str = "") -> None:
        self.failure_reason = ""

    @transition(field=status, source=[ServiceStatus.PENDING, ServiceStatus.FAILED], target=ServiceStatus.CANCELLED)
    def cancel(self, *, by=None, reason: str = "") -> None:
        """Its order was cancelled before the service went live."""

    @transition(field=status, source=ServiceStatus.ACTIVE, target=ServiceStatus.INACTIVE)
    def hand_over(self, *, at, by=None, reason: str = "") -> None:
        """Another provider's service took over the ONT's service (a switch): this one ends there."""
        self.deactivated_at = at

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
    subscription_change = models.ForeignKey(
        "marketplace.SubscriptionChange", null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )
    switch = models.ForeignKey(
        "marketplace.Switch", null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )
    profile = models.CharField(max_length=64, blank=True, help_text="A change in place: the profile it applies.")
    download_mbps = models.PositiveIntegerField(null=True, blank=True)
    upload_mbps = models.PositiveIntegerField(null=True, blank=True)
    from_service = models.ForeignKey(
        "ServiceInstance",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A switch: the other provider's service whose place on the ONT this job takes.",
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            # A request delivered twice makes one job.
            models.UniqueConstraint(fields=["service", "action", "requested_by_event"], name="job_once_per_request"),
            models.UniqueConstraint(fields=["subscription_change"], name="job_once_per_change"),
            models.UniqueConstraint(fields=["switch"], name="job_once_per_switch"),
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


class ServicePeriodQuerySet(models.QuerySet):
    def delete(self):
        raise TypeError("Service periods are the ledger of what the network delivered: they are never deleted.")


class ServicePeriod(models.Model):
    """The ledger: one row per stretch of time a service was verifiably live on the network with one set of
    values (provider, ONT, profile, speeds, VLANs). Append-only: a verified activate, modify, suspend, resume or
    switch opens a row; the next verified change closes it (the only update a row ever gets), in the same
    transaction. Billing, wholesale settlement and the revenue-assurance metrics are computed from these rows.
    """

    service = models.ForeignKey(ServiceInstance, on_delete=models.PROTECT, related_name="periods")
    subscription = models.ForeignKey("marketplace.Subscription", on_delete=models.PROTECT, related_name="periods")
    provider = models.ForeignKey("cos.Organization", on_delete=models.PROTECT, related_name="service_periods")
    address = models.ForeignKey("cos.AddressObject", on_delete=models.PROTECT, related_name="service_periods")
    ont = models.ForeignKey("cos.ONT", on_delete=models.PROTECT, related_name="service_periods")
    olt = models.ForeignKey("cos.OLT", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    pon_port = models.ForeignKey("cos.PonPort", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    network_service_id = models.CharField(max_length=64, help_text="The service's id on the ONT.")
    profile = models.CharField(max_length=64)
    download_mbps = models.PositiveIntegerField(null=True, blank=True)
    upload_mbps = models.PositiveIntegerField(null=True, blank=True)
    c_vlan = models.PositiveSmallIntegerField(null=True, blank=True)
    s_vlan = models.PositiveSmallIntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Empty while the period runs.")
    cause = models.CharField(max_length=16, choices=PeriodCause.choices, help_text="What opened the period.")
    end_cause = models.CharField(max_length=16, choices=PeriodCause.choices, blank=True)
    job = models.ForeignKey(
        ProvisioningJob, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Verified by."
    )
    end_job = models.ForeignKey(ProvisioningJob, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = ServicePeriodQuerySet.as_manager()

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["service"], condition=Q(ended_at__isnull=True), name="period_one_open"),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="period_ends_after_start",
            ),
            # On PostgreSQL an exclusion constraint (migration 0004) also keeps the periods of one service id on
            # one ONT from overlapping, whichever provider's they are; triggers refuse any other update or delete.
        ]
        indexes = [
            models.Index(fields=["provider", "started_at"], name="period_provider_started"),
            models.Index(fields=["subscription", "started_at"], name="period_subscription"),
            # the board's activations of a week
            models.Index(
                fields=["started_at"], condition=Q(cause__in=["activate", "switch"]), name="period_activation_started"
            ),
        ]

    def __str__(self) -> str:
        end = f"{self.ended_at:%Y-%m-%d %H:%M:%S}" if self.ended_at else "now"
        return f"Service {self.service_id}, {self.profile}: {self.started_at:%Y-%m-%d %H:%M:%S} to {end}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise TypeError("A service period is never changed: close it through provisioning.ledger.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Service periods are the ledger of what the network delivered: they are never deleted.")
