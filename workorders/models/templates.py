"""Work-order templates and their ordered task templates, defined by the operator."""

from django.core.exceptions import ValidationError
from django.db import models

from cos.choices import BuildingType
from cos.models import TimeStampedModel
from workorders.choices import EvidenceKind, PerformerKind, TaskCategory, WorkOrderKind


def _validate_choices(values, allowed, label: str) -> None:
    if not isinstance(values, list) or any(v not in allowed for v in values):
        raise ValidationError(f"{label}: a list of {', '.join(allowed)}.")


class WorkOrderTemplate(TimeStampedModel):
    """A kind of job (single-family drop, MDU, business, post-deployment connection) and the buildings it fits."""

    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=WorkOrderKind.choices)
    building_types = models.JSONField(default=list, help_text="Building types this template is for.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            _validate_choices(self.building_types, BuildingType.values, "building types")
        except ValidationError as exc:
            raise ValidationError({"building_types": exc.messages}) from exc


class TaskTemplate(TimeStampedModel):
    """One step of a template: what to do, what proves it, who normally does it."""

    template = models.ForeignKey(WorkOrderTemplate, on_delete=models.CASCADE, related_name="task_templates")
    position = models.PositiveSmallIntegerField()
    category = models.CharField(max_length=32, choices=TaskCategory.choices)
    title = models.CharField(max_length=200)
    instructions = models.TextField(blank=True)
    evidence_required = models.JSONField(default=list, blank=True, help_text="Evidence kinds needed to close it.")
    required_skill = models.CharField(max_length=64, blank=True)
    performed_by = models.CharField(max_length=16, choices=PerformerKind.choices, default=PerformerKind.STAFF)
    triggers_provisioning = models.BooleanField(default=False)

    class Meta:
        ordering = ["template", "position"]
        constraints = [models.UniqueConstraint(fields=["template", "position"], name="tasktemplate_position")]

    def __str__(self) -> str:
        return f"{self.position}. {self.title}"

    def clean(self) -> None:
        try:
            _validate_choices(self.evidence_required, EvidenceKind.values, "evidence")
        except ValidationError as exc:
            raise ValidationError({"evidence_required": exc.messages}) from exc
        if self.triggers_provisioning and self.category != TaskCategory.PROVISIONING_TRIGGER:
            raise ValidationError({"triggers_provisioning": "Only a provisioning-trigger task triggers provisioning."})
