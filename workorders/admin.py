"""Admin for field work: templates, work orders (filters, search, bulk assign, evidence on the page), tasks,
evidence, installation records; and the operator console's queues and deployment progress over them."""

import re

from django import forms
from django.contrib import admin, messages
from django.db.models import Prefetch, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from cos import ops
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
from cos.choices import Role
from cos.models import Customer, Organization
from cos.selectors import address_ids_matching
from workorders import selectors, services
from workorders.choices import TaskStatus, WorkOrderStatus
from workorders.forms import RedoForm
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


WORK_ORDER_NAME = re.compile(r"^(?:wo)?[-\s#]*(\d{1,12})$", re.IGNORECASE)
ONT_SERIAL = re.compile(r"^[A-Z]{4}[0-9A-F]{8}$")


def work_orders_matching(term: str) -> Q:
    """What the operator types into the work-order search: its name (`WO-200`, or just 200), the address as the list
    shows it (street and number, e.g. "Solhöjdsvägen 2B"), the address's GIS id, an ONT serial (scanned on site,
    or on the installation record), or the customer of one of its orders (name, company or e-mail)."""
    term = " ".join(term.split())
    found = Q(pk__in=[])
    if name := WORK_ORDER_NAME.match(term):
        found |= Q(pk=int(name[1]))
    serial = term.replace(" ", "").upper()
    if ONT_SERIAL.match(serial):
        scanned = Evidence.objects.filter(ont_serial=serial).values("task__work_order_id")
        found |= Q(pk__in=scanned) | Q(installation_record__ont_serial=serial)
    found |= Q(address__external_id=term) | Q(address_id__in=address_ids_matching(term))
    customers = Customer.objects.all()
    for word in term.split():
        customers = customers.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(company_name__icontains=word)
            | Q(email__icontains=word)
        )
    ordered_by = WorkOrder.orders.through.objects.filter(order__customer__in=customers).values("workorder_id")
    return found | Q(pk__in=ordered_by)


class TaskInline(admin.TabularInline):
    """The work order's tasks in order, each with who holds it, who did it, and all its evidence (photos and the
    signature as thumbnails, readings with pass or fail, the ONT serial): what the operator checks before signing
    off, on one page. Read-only: tasks and evidence change through the field views and the actions."""

    model = Task
    extra = 0
    can_delete = False
    fields = ("task", "state", "holder", "done_by", "evidence_shown")
    readonly_fields = fields
    verbose_name_plural = "tasks and their evidence"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        evidence = Evidence.objects.select_related("recorded_by", "removed_by").order_by("recorded_at", "id")
        return (
            super()
            .get_queryset(request)
            .select_related("assigned_user", "assigned_organization", "completed_by", "completed_by_organization")
            .prefetch_related(Prefetch("evidence", queryset=evidence))
        )

    @admin.display(description="task")
    def task(self, task) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:workorders_task_change", args=[task.pk]), task)

    @admin.display(description="status")
    def state(self, task) -> str:
        reason = task.skip_reason or getattr(task, "redo_reason", "")
        if not reason:
            return task.get_status_display()
        label = "skipped" if task.skip_reason else "to redo"
        return format_html("{}<br><small>{}: {}</small>", task.get_status_display(), label, reason)

    @admin.display(description="assigned to")
    def holder(self, task) -> str:
        people = [str(x) for x in (task.assigned_user, task.assigned_organization) if x is not None]
        return ", ".join(people) or "—"

    @admin.display(description="done by")
    def done_by(self, task) -> str:
        if task.completed_at is None:
            return "—"
        who = ", ".join(str(x) for x in (task.completed_by, task.completed_by_organization) if x is not None)
        return format_html(
            "{}<br><small>{}</small>", who or "—", timezone.localtime(task.completed_at).strftime("%Y-%m-%d %H:%M")
        )

    @admin.display(description="evidence")
    def evidence_shown(self, task) -> str:
        items = list(task.evidence.all())
        if not items:
            return "—"
        return render_to_string("admin/workorders/_task_evidence.html", {"items": items})


class RejectForm(ActionForm, RedoForm):
    """The tasks to redo (of the selected work orders) and what must be fixed."""

    def __init__(self, data=None, **kwargs):
        initial = kwargs.get("initial") or {}
        selected = data.getlist("_selected_action") if data is not None else initial.get("_selected_action", [])
        super().__init__(data, work_order_ids=[int(pk) for pk in selected if str(pk).isdigit()], **kwargs)


class ScheduleForm(ActionForm):
    on = forms.DateField(label="Day", widget=forms.DateInput(attrs={"type": "date"}))


def _schedule(work_order, data, actor) -> str:
    services.work_order_schedule(work_order_id=work_order.pk, on=data["on"], actor=actor)
    return f"scheduled for {data['on']:%Y-%m-%d}."


class RevisitForm(ActionForm):
    reason = forms.CharField(label="What is wrong", widget=forms.Textarea(attrs={"rows": 3}))
    charged = forms.BooleanField(required=False, label="The visit is charged (the customer or provider pays)")


def _revisit(work_order, data, actor) -> str:
    revisit = services.work_order_revisit(
        work_order_id=work_order.pk, reason=data["reason"], charged=data["charged"], actor=actor
    )
    return f"revisit WO-{revisit.pk} made ({'charged' if revisit.charged else 'no charge'})."


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
            .objects.filter(memberships__role=Role.TECHNICIAN)  # a field manager hands work out; he is not listed
            .distinct()
            .order_by("username")
        )


@admin.register(WorkOrder)
class WorkOrderAdmin(NeverDeletedMixin, admin.ModelAdmin):
    """Work orders are made from templates by workorders' services and change through the actions; the due day and
    the notes are the only fields edited in place."""

    list_display = ("name", "address_line", "kind", "status", "scheduled_for", "due_date", "area")
    list_filter = (
        ops.AttentionFilter,
        "status",
        "kind",
        "address__area",
        OverdueFilter,
        AssigneeFilter,
        ContractorFilter,
    )
    search_fields = ("=id",)  # replaced by work_orders_matching, see get_search_results
    search_help_text = "WO-200, street and number, ONT serial, or the customer's name or e-mail."
    list_select_related = ("address__area",)
    readonly_fields = (
        "address",
        "template",
        "kind",
        "status",
        "customers",
        "scheduled_for",
        "visit_window",
        "completed_at",
        "accepted_at",
        "rejection_reason",
        "reworks",
        "charged",
    )
    # The orders show as customers (whom they are for); the day and window of the visit change by scheduling.
    fieldsets = (
        (None, {"fields": ("address", "template", "kind", "status", "customers")}),
        ("Visit", {"fields": ("scheduled_for", "visit_window", "due_date", "notes")}),
        ("Outcome", {"fields": ("completed_at", "accepted_at", "rejection_reason", "reworks", "charged")}),
    )
    show_full_result_count = False
    inlines = [TaskInline, TransitionLogInline]
    actions = [
        "assign_tasks",
        form_action(form_class=ScheduleForm, description="Schedule (created work orders)", call=_schedule),
        "accept",
        "reject",
        form_action(form_class=RevisitForm, description="Revisit (a repair of a finished job)", call=_revisit),
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(work_orders_matching(search_term)), False

    @admin.display(description="work order", ordering="id")
    def name(self, work_order) -> str:
        return f"WO-{work_order.pk}"

    @admin.display(description="address", ordering="address__street")
    def address_line(self, work_order) -> str:
        address = work_order.address
        line = f"{address.street} {address.house_number}{address.suffix}"
        return f"{line}, {address.unit}, {address.city}" if address.unit else f"{line}, {address.city}"

    @admin.display(description="area", ordering="address__area__name")
    def area(self, work_order) -> str:
        return work_order.address.area.name

    @admin.display(description="window")
    def visit_window(self, work_order) -> str:
        return getattr(work_order, "scheduled_window", "") or "—"

    @admin.display(description="orders")
    def customers(self, work_order) -> str:
        orders = work_order.orders.select_related("customer", "provider").order_by("pk")
        return (
            format_html_join(
                "",
                '<div><a href="{}">Order {}</a> · {} · {} · {}</div>',
                (
                    (
                        reverse("admin:marketplace_order_change", args=[order.pk]),
                        order.pk,
                        order.customer.display_name,
                        order.customer.email,
                        order.provider.name,
                    )
                    for order in orders
                ),
            )
            or "—"
        )

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
                    services.work_order_reject(
                        work_order_id=work_order.pk,
                        actor=request.user,
                        reason=data["reason"],
                        task_ids=[task.pk for task in data["tasks"] if task.work_order_id == work_order.pk],
                    )
                except REFUSALS as refused:
                    self.message_user(request, f"{work_order}: {refusal_text(refused)}", messages.ERROR)
                else:
                    self.message_user(
                        request, f"{work_order} sent back to the field: its people are told.", messages.SUCCESS
                    )

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
        "work_order_name",
        "address_line",
        "status",
        "skip_reason_shown",
        "assigned_to",
        "completed_at",
    )
    list_filter = (ops.AttentionFilter, "status", "category", "assigned_organization", "triggers_provisioning")
    search_fields = ("=work_order__id", "title")
    search_help_text = "WO-200 (its tasks) or words of the title."
    list_select_related = ("work_order__address", "assigned_user", "assigned_organization")
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

    def get_search_results(self, request, queryset, search_term):
        if name := WORK_ORDER_NAME.match(search_term.strip()):
            return queryset.filter(work_order_id=int(name[1])), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="work order", ordering="work_order_id")
    def work_order_name(self, task) -> str:
        return f"WO-{task.work_order_id}"

    @admin.display(description="address", ordering="work_order__address__street")
    def address_line(self, task) -> str:
        address = task.work_order.address
        line = f"{address.street} {address.house_number}{address.suffix}"
        return f"{line}, {address.unit}" if address.unit else line

    @admin.display(description="skip reason")
    def skip_reason_shown(self, task) -> str:
        return Truncator(task.skip_reason).chars(80) or "—"

    @admin.display(description="assigned to", ordering="assigned_user__username")
    def assigned_to(self, task) -> str:
        return ", ".join(str(x) for x in (task.assigned_user, task.assigned_organization) if x is not None) or "—"


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


# --- the operator console ---------------------------------------------------------------------------------------

ops.attention_queue(
    key="work_orders_awaiting_sign_off",
    title="Work orders awaiting sign-off",
    description="Completed with contractor work: check the evidence on the work order, then Accept, or Reject "
    "with the tasks to redo.",
    items=selectors.work_orders_awaiting_sign_off,
    position=10,
)
ops.attention_queue(
    key="work_orders_rejected",
    title="Rejected work orders",
    description="Sent back to the field with a reason; they come back for sign-off once redone.",
    items=selectors.work_orders_rejected,
    position=20,
)
ops.attention_queue(
    key="tasks_skipped_with_reason",
    title="Tasks skipped with a reason",
    description="On work orders still open: read each reason; reopen the task where it must be done after all.",
    items=selectors.tasks_skipped_with_reason,
    position=30,
)


@ops.console_section(position=10)
def deployment_section(request) -> dict:
    """Deployment progress per area, each figure linking to the work orders it counts."""
    return {
        "template": "ops/_deployment_section.html",
        "title": "Deployment progress",
        "anchor": "deployment",
        "rows": selectors.deployment_progress(),
    }
