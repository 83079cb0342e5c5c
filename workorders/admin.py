"""Admin for field work: templates, work orders (filters, bulk assign), tasks, evidence, installation records."""

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html

from cos.admin_tools import (
    REFUSALS,
    ActionForm,
    GuardedFieldsMixin,
    NeverDeletedMixin,
    TransitionLogInline,
    action_with_form,
    form_action,
    refusal_text,
)
from cos.models import Organization
from workorders import services
from workorders.choices import TaskStatus, WorkOrderStatus
from workorders.models import (
    Evidence,
    InstallationRecord,
    Task,
    TaskTemplate,
    WorkOrder,
    WorkOrderTemplate,
)


class TaskTemplateInline(admin.TabularInline):
    model = TaskTemplate
    extra = 0
    fields = (
        "position",
        "category",
        "title",
        "evidence_required",
        "required_skill",
        "performed_by",
        "triggers_provisioning",
    )


@admin.register(WorkOrderTemplate)
class WorkOrderTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "kind", "building_types", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "code")
    inlines = [TaskTemplateInline]


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            today = timezone.localdate()
            return queryset.filter(
                Q(due_date__lt=today) | Q(scheduled_for__lt=today),
                status__in=[WorkOrderStatus.CREATED, WorkOrderStatus.SCHEDULED, WorkOrderStatus.IN_PROGRESS],
            )
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        from django.contrib.auth import get_user_model

        users = get_user_model().objects.filter(field_tasks__isnull=False).distinct().order_by("username")
        return [(u.pk, u.username) for u in users[:200]]

    def queryset(self, request, queryset):
        return queryset.filter(tasks__assigned_user_id=self.value()).distinct() if self.value() else queryset


class ContractorFilter(admin.SimpleListFilter):
    title = "contractor"
    parameter_name = "contractor"

    def lookups(self, request, model_admin):
        return [(o.pk, o.name) for o in Organization.objects.filter(kind="contractor").order_by("name")]

    def queryset(self, request, queryset):
        return queryset.filter(tasks__assigned_organization_id=self.value()).distinct() if self.value() else queryset


class TaskInline(admin.TabularInline):
    model = Task
    extra = 0
    can_delete = False
    fields = ("position", "title", "status", "assigned_user", "assigned_organization", "completed_by", "completed_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class RejectForm(ActionForm):
    reason = forms.CharField(widget=forms.Textarea, label="What must be fixed")


class ScheduleForm(ActionForm):
    on = forms.DateField(label="Day", widget=forms.DateInput(attrs={"type": "date"}))


def _schedule(work_order, data, actor) -> str:
    services.work_order_schedule(work_order_id=work_order.pk, on=data["on"], actor=actor)
    return f"scheduled for {data['on']:%Y-%m-%d}."


class AssignForm(ActionForm):
    organization = forms.ModelChoiceField(
        Organization.objects.filter(kind__in=["contractor", "network_operator"]), required=False
    )
    user = forms.ModelChoiceField(queryset=None, required=False, label="Technician")
    only_open = forms.BooleanField(initial=True, required=False, label="Only the open tasks")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from django.contrib.auth import get_user_model

        self.fields["user"].queryset = (
            get_user_model()
            .objects.filter(memberships__role__in=["technician", "field_manager"])
            .distinct()
            .order_by("username")
        )


@admin.register(WorkOrder)
class WorkOrderAdmin(NeverDeletedMixin, admin.ModelAdmin):
    """Work orders are made from templates by workorders' services and change through the actions; the due day and
    the notes are the only fields edited in place."""

    list_display = ("__str__", "address", "kind", "status", "scheduled_for", "due_date", "template")
    list_filter = ("status", "kind", "address__area", OverdueFilter, AssigneeFilter, ContractorFilter)
    search_fields = ("=id", "address__external_id", "address__street")
    list_select_related = ("address", "template")
    readonly_fields = (
        "address",
        "template",
        "kind",
        "status",
        "orders",
        "scheduled_for",
        "completed_at",
        "accepted_at",
        "rejection_reason",
    )
    show_full_result_count = False
    inlines = [TaskInline, TransitionLogInline]
    actions = [
        "assign_tasks",
        form_action(form_class=ScheduleForm, description="Schedule (created work orders)", call=_schedule),
        "accept",
        "reject",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Assign tasks (technician or contractor)", permissions=["change"])
    def assign_tasks(self, request, queryset):
        def apply(data):
            tasks = Task.objects.filter(work_order__in=queryset)
            if data["only_open"]:
                tasks = tasks.filter(status=TaskStatus.OPEN)
            try:
                count = services.tasks_assign(
                    task_ids=list(tasks.values_list("pk", flat=True)),
                    actor=request.user,
                    user=data["user"],
                    organization=data["organization"],
                )
            except REFUSALS as refused:
                self.message_user(request, refusal_text(refused), messages.ERROR)
            else:
                self.message_user(request, f"{count} task(s) assigned.", messages.SUCCESS)

        return action_with_form(self, request, queryset, form_class=AssignForm, title="Assign tasks", apply=apply)

    @admin.action(description="Accept (operator sign-off)", permissions=["change"])
    def accept(self, request, queryset):
        for work_order in queryset.order_by("pk"):
            try:
                services.work_order_accept(work_order_id=work_order.pk, actor=request.user)
            except REFUSALS as refused:
                self.message_user(request, f"{work_order}: {refusal_text(refused)}", messages.ERROR)
            else:
                self.message_user(request, f"{work_order} accepted.", messages.SUCCESS)

    @admin.action(description="Reject (back to the field, with a reason)", permissions=["change"])
    def reject(self, request, queryset):
        def apply(data):
            for work_order in queryset.order_by("pk"):
                try:
                    services.work_order_reject(work_order_id=work_order.pk, actor=request.user, reason=data["reason"])
                except REFUSALS as refused:
                    self.message_user(request, f"{work_order}: {refusal_text(refused)}", messages.ERROR)
                else:
                    self.message_user(request, f"{work_order} sent back to the field.", messages.SUCCESS)

        return action_with_form(self, request, queryset, form_class=RejectForm, title="Reject work orders", apply=apply)


@admin.display(description="photo")
def evidence_picture(evidence) -> str:
    """The thumbnail, linking to the full picture, both through the view that checks who asks."""
    if not evidence.file:
        return "—"
    if evidence.thumbnail:
        return format_html(
            '<a href="{}"><img src="{}" alt="" style="max-height:80px"></a>', evidence.file_url, evidence.thumbnail_url
        )
    return format_html('<a href="{}">open</a>', evidence.file_url)


class EvidenceInline(admin.TabularInline):
    model = Evidence
    extra = 0
    can_delete = False
    fields = (
        "kind",
        evidence_picture,
        "light_level_dbm",
        "download_mbps",
        "upload_mbps",
        "ont_serial",
        "note",
        "passed",
        "recorded_by",
        "recorded_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def _assign(task, data, actor) -> str:
    services.tasks_assign(task_ids=[task.pk], actor=actor, user=data["user"], organization=data["organization"])
    return "assigned."


class TaskAssignForm(AssignForm):
    only_open = None  # tasks are picked one by one here; the service refuses any that is not open


@admin.register(Task)
class TaskAdmin(GuardedFieldsMixin, NeverDeletedMixin, admin.ModelAdmin):
    """A task's state, assignment and evidence change through workorders' services (the field views, the actions);
    what it asks of the technician is edited in place."""

    list_display = (
        "__str__",
        "work_order",
        "status",
        "category",
        "assigned_user",
        "assigned_organization",
        "completed_at",
    )
    list_filter = ("status", "category", "assigned_organization", "triggers_provisioning")
    search_fields = ("=work_order__id", "title")
    list_select_related = ("work_order", "assigned_user", "assigned_organization")
    readonly_fields = ("status", "completed_by", "completed_by_organization", "completed_at", "skip_reason")
    guarded_fields = (
        "work_order",
        "position",
        "category",
        "evidence_required",
        "performed_by",
        "triggers_provisioning",
        "assigned_user",
        "assigned_organization",
    )
    show_full_result_count = False
    inlines = [EvidenceInline, TransitionLogInline]
    actions = [form_action(form_class=TaskAssignForm, description="Assign (technician or contractor)", call=_assign)]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Evidence)
class EvidenceAdmin(NeverDeletedMixin, admin.ModelAdmin):
    """What the technician recorded: photos, measurements, the ONT serial. Part of the job's audit: never deleted."""

    list_display = ("task", "kind", "passed", "recorded_by", "recorded_at")
    list_filter = ("kind", "passed")
    list_select_related = ("task", "recorded_by")
    exclude = ("file", "thumbnail")  # shown as evidence_picture, through the view that checks who asks
    readonly_fields = [evidence_picture] + [
        f.name for f in Evidence._meta.fields if f.name not in ("file", "thumbnail")
    ]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(InstallationRecord)
class InstallationRecordAdmin(NeverDeletedMixin, admin.ModelAdmin):
    list_display = ("address", "work_order", "ont_serial", "light_level_dbm", "download_mbps", "completed_at")
    search_fields = ("address__external_id", "ont_serial")
    list_select_related = ("address", "work_order")
    readonly_fields = [f.name for f in InstallationRecord._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
