"""Work orders, their tasks, evidence, installation records and the technicians' notices."""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django_fsm import RETURN_VALUE, FSMField, transition

from cos.models import StatefulModel
from workorders.choices import (
    OPEN_WORK_ORDER_STATUSES,
    EvidenceKind,
    PerformerKind,
    TaskCategory,
    TaskStatus,
    WorkOrderKind,
    WorkOrderStatus,
)


class WorkOrder(StatefulModel):
    """All field work at one address, from "in deployment" to "ready to activate"."""

    address = models.ForeignKey("cos.AddressObject", on_delete=models.PROTECT, related_name="work_orders")
    template = models.ForeignKey(
        "workorders.WorkOrderTemplate", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=16, choices=WorkOrderKind.choices)
    status = FSMField(default=WorkOrderStatus.CREATED, choices=WorkOrderStatus.choices, protected=True)
    orders = models.ManyToManyField("marketplace.Order", blank=True, related_name="work_orders")
    scheduled_for = models.DateField(null=True, blank=True)
    scheduled_window_start = models.TimeField(null=True, blank=True, help_text="The visit's window, from.")
    scheduled_window_end = models.TimeField(null=True, blank=True, help_text="The visit's window, until.")
    due_date = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    # A repair or revisit: the job it reworks, and whether the visit is charged (no-charge rework is a board metric).
    reworks = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="revisits", help_text="The job reworked."
    )
    charged = models.BooleanField(default=False, db_default=False, help_text="A revisit that is paid for.")

    class Meta:
        ordering = ["-id"]
        constraints = [
            # At most one open installation work order per address, whatever delivers the event twice.
            models.UniqueConstraint(
                fields=["address"],
                condition=Q(kind=WorkOrderKind.INSTALLATION) & Q(status__in=OPEN_WORK_ORDER_STATUSES),
                name="workorder_one_open_installation",
            ),
            models.CheckConstraint(
                condition=(Q(scheduled_window_start__isnull=True) & Q(scheduled_window_end__isnull=True))
                | Q(scheduled_window_end__gt=models.F("scheduled_window_start")),
                name="workorder_window_ends_after_it_starts",
            ),
        ]
        indexes = [models.Index(fields=["status", "scheduled_for"], name="workorder_status_date")]

    def __str__(self) -> str:
        return f"WO-{self.pk} {self.get_kind_display()}"

    @transition(field=status, source=WorkOrderStatus.CREATED, target=WorkOrderStatus.SCHEDULED)
    def schedule(self, *, on, window_start=None, window_end=None, by=None, reason: str = "") -> None:
        self.scheduled_for = on
        self.scheduled_window_start, self.scheduled_window_end = window_start, window_end

    @transition(
        field=status,
        source=[WorkOrderStatus.SCHEDULED, WorkOrderStatus.IN_PROGRESS],
        target=RETURN_VALUE(WorkOrderStatus.SCHEDULED, WorkOrderStatus.IN_PROGRESS),
    )
    def reschedule(self, *, on, window_start=None, window_end=None, by=None, reason: str = "") -> str:
        """A new day or window for the visit; the status stays (logged, so every move of the visit is seen)."""
        self.scheduled_for = on
        self.scheduled_window_start, self.scheduled_window_end = window_start, window_end
        return self.status

    @property
    def scheduled_window(self) -> str:
        """The visit's window as people write it ("08:00–12:00"), or "" for any time of the day."""
        if self.scheduled_window_start and self.scheduled_window_end:
            return f"{self.scheduled_window_start:%H:%M}–{self.scheduled_window_end:%H:%M}"
        return ""

    @transition(
        field=status, source=[WorkOrderStatus.CREATED, WorkOrderStatus.SCHEDULED], target=WorkOrderStatus.IN_PROGRESS
    )
    def start(self, *, by=None, reason: str = "") -> None:
        """The first evidence or task completion on site."""

    @transition(field=status, source=WorkOrderStatus.IN_PROGRESS, target=WorkOrderStatus.COMPLETED)
    def complete(self, *, at, by=None, reason: str = "") -> None:
        self.completed_at = at

    @transition(field=status, source=WorkOrderStatus.COMPLETED, target=WorkOrderStatus.ACCEPTED)
    def accept(self, *, at, by=None, reason: str = "") -> None:
        self.accepted_at = at

    @transition(field=status, source=WorkOrderStatus.COMPLETED, target=WorkOrderStatus.REJECTED)
    def reject(self, *, by=None, reason: str = "") -> None:
        self.rejection_reason = reason

    @transition(field=status, source=WorkOrderStatus.REJECTED, target=WorkOrderStatus.IN_PROGRESS)
    def rework(self, *, by=None, reason: str = "") -> None:
        """Back to the field after a rejection."""

    @transition(
        field=status,
        source=[WorkOrderStatus.CREATED, WorkOrderStatus.SCHEDULED, WorkOrderStatus.IN_PROGRESS],
        target=WorkOrderStatus.CANCELLED,
    )
    def cancel(self, *, by=None, reason: str = "") -> None:
        """No longer needed (e.g. the address was connected otherwise)."""


class Task(StatefulModel):
    """One step of a work order, assigned to a technician or a contractor organization."""

    # Indexes kept few on purpose (an area's deployment writes 800,000 tasks): the composite ones cover these.
    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    position = models.PositiveSmallIntegerField()
    category = models.CharField(max_length=32, choices=TaskCategory.choices)
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    evidence_required = models.JSONField(default=list, blank=True)
    required_skill = models.CharField(max_length=64, blank=True)
    performed_by = models.CharField(max_length=16, choices=PerformerKind.choices, default=PerformerKind.STAFF)
    triggers_provisioning = models.BooleanField(default=False)
    status = FSMField(default=TaskStatus.OPEN, choices=TaskStatus.choices, protected=True)
    assigned_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="field_tasks",
        db_index=False,
    )
    assigned_organization = models.ForeignKey(
        "cos.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="field_tasks",
        db_index=False,
    )
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    completed_by_organization = models.ForeignKey(
        "cos.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.TextField(blank=True)
    # A database default too: the deployment batch inserts tasks in SQL (workorders.batch) and names no new column.
    redo_reason = models.TextField(
        blank=True, default="", db_default="", help_text="Why the operator sent this task back, until it is redone."
    )

    class Meta:
        ordering = ["work_order", "position"]
        constraints = [models.UniqueConstraint(fields=["work_order", "position"], name="task_position")]
        # Partial: tasks are created unassigned by the hundred thousand, and only assigned ones are looked up.
        indexes = [
            models.Index(
                fields=["assigned_user", "status"], name="task_user_status", condition=Q(assigned_user__isnull=False)
            ),
            models.Index(
                fields=["assigned_organization", "status"],
                name="task_org_status",
                condition=Q(assigned_organization__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.title}"

    @transition(field=status, source=TaskStatus.OPEN, target=TaskStatus.DONE)
    def close(self, *, at, organization=None, by=None, reason: str = "") -> None:
        self.completed_by = by
        self.completed_by_organization = organization
        self.completed_at = at
        self.redo_reason = ""

    @transition(field=status, source=TaskStatus.OPEN, target=TaskStatus.SKIPPED)
    def skip(self, *, at, organization=None, by=None, reason: str = "") -> None:
        self.skip_reason = reason
        self.completed_by = by
        self.completed_by_organization = organization
        self.completed_at = at
        self.redo_reason = ""

    @transition(field=status, source=[TaskStatus.DONE, TaskStatus.SKIPPED], target=TaskStatus.OPEN)
    def reopen(self, *, by=None, reason: str = "", redo: bool = False) -> None:
        """Open again; `redo` when the operator sent it back, so the reason stays on the task until it is redone."""
        self.completed_at = None
        self.completed_by = None
        self.completed_by_organization = None
        self.skip_reason = ""
        self.redo_reason = reason if redo else ""


def evidence_path(instance, filename: str) -> str:
    """Where a photo or signature is stored: under its work order and task, with a random part no one can guess.
    Files are served only through workorders.views.evidence_file, which checks who asks."""
    return f"evidence/wo-{instance.task.work_order_id}/task-{instance.task_id}/{secrets.token_hex(8)}-{filename}"


class EvidenceQuerySet(models.QuerySet):
    def current(self):
        """The evidence that counts: not removed by the technician (removed items stay, for the audit)."""
        return self.filter(removed_at__isnull=True)


class Evidence(models.Model):
    """What proves a task was done: a photo, a light level, a speed test, an ONT serial, a signature, a note.

    A wrong item is removed before its task closes: it then counts for nothing, but the row and its file are kept.
    """

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField(max_length=16, choices=EvidenceKind.choices)
    file = models.ImageField(upload_to=evidence_path, blank=True)
    thumbnail = models.ImageField(upload_to=evidence_path, blank=True)
    light_level_dbm = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    download_mbps = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    upload_mbps = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    ont_serial = models.CharField(max_length=12, blank=True)
    note = models.TextField(blank=True)
    passed = models.BooleanField(null=True, help_text="For measured evidence: within the thresholds.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    submission_key = models.CharField(max_length=64, help_text="One per form submission: a double submit adds nothing.")
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    objects = EvidenceQuerySet.as_manager()

    class Meta:
        ordering = ["task", "recorded_at", "id"]
        verbose_name_plural = "evidence"
        constraints = [models.UniqueConstraint(fields=["task", "submission_key"], name="evidence_once_per_submit")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.task}"

    @property
    def file_url(self) -> str:
        return reverse("evidence-file", args=[self.pk, "file"]) if self.file else ""

    @property
    def thumbnail_url(self) -> str:
        return reverse("evidence-file", args=[self.pk, "thumbnail"]) if self.thumbnail else ""


class InstallationRecord(models.Model):
    """The connection's birth certificate: what was measured and who did what. Never changes once written."""

    work_order = models.OneToOneField(WorkOrder, on_delete=models.PROTECT, related_name="installation_record")
    address = models.ForeignKey("cos.AddressObject", on_delete=models.PROTECT, related_name="installation_records")
    ont_serial = models.CharField(max_length=12, blank=True)
    light_level_dbm = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    download_mbps = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    upload_mbps = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    details = models.JSONField(help_text="Every task with who did it, when, and its evidence (photos by path).")
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Installation record of {self.address}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("An installation record never changes once written.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("An installation record is never deleted.")


class FieldNotice(models.Model):
    """A message for one person in the field (a job sent back to redo), shown on My work until it is marked read."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="field_notices")
    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="notices")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient"], name="fieldnotice_unread", condition=Q(read_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"Notice for {self.recipient} about {self.work_order}"
