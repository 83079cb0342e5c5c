"""Technician views (/field/, phone first) and the operator's deployment progress (/ops/deployment/)."""

import mimetypes
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from cos import inventory
from cos.errors import ApplicationError
from cos.models import Membership
from workorders import evidence as checks
from workorders import services
from workorders.choices import EvidenceKind, TaskStatus, WorkOrderStatus
from workorders.forms import EVIDENCE_FORMS, EVIDENCE_MAIN_FIELD, AssignForm, NoteForm, ReasonForm, ScheduleForm
from workorders.models import Evidence, Task, WorkOrder
from workorders.permissions import FieldActor
from workorders.selectors import (
    WORKABLE_STATUSES,
    deployment_progress,
    field_notices_unread,
    my_work,
    scheduling_for,
)

GROUPS = [("overdue", "Overdue"), ("today", "Today"), ("upcoming", "Upcoming"), ("unscheduled", "Not scheduled yet")]


def _refusal_text(refused) -> str:
    return refused.message if isinstance(refused, ApplicationError) else " ".join(refused.messages)


@login_required
def field_home(request, *, assign_form=None, status=200):
    """My work: notices, then work orders with tasks for me or my organization; for a field manager also the
    organization's unassigned tasks to hand out and its jobs to schedule."""
    field = FieldActor.of(request.user)
    groups = my_work(field)
    unassigned = _unassigned_of(field)
    technicians = _technicians_of(field)
    return render(
        request,
        "workorders/field_home.html",
        {
            "groups": [(key, label, groups.get(key, [])) for key, label in GROUPS],
            "notices": list(field_notices_unread(request.user)),
            "unassigned": unassigned,
            "technicians": technicians,
            "assign_form": assign_form or AssignForm(tasks=unassigned, technicians=technicians),
            "to_schedule": scheduling_for(field),
            "field": field,
        },
        status=status,
    )


def _unassigned_of(field: FieldActor) -> list[Task]:
    if not field.managed_organization_ids:
        return []
    return list(
        Task.objects.filter(
            assigned_organization_id__in=field.managed_organization_ids,
            assigned_user__isnull=True,
            status=TaskStatus.OPEN,
        )
        .select_related("work_order__address")
        .order_by("work_order_id", "position")[:100]
    )


def _technicians_of(field: FieldActor):
    if not field.managed_organization_ids:
        return []
    ids = Membership.objects.filter(organization_id__in=field.managed_organization_ids).values_list(
        "user_id", flat=True
    )
    return list(get_user_model().objects.filter(pk__in=ids).order_by("username"))


HOLDER = ("assigned_user", "assigned_organization")


def _forbidden(request, field: FieldActor, tasks) -> HttpResponse:
    """A friendly 403: whom the work belongs to (to people in the field), and whom to ask."""
    holders = []
    if field.works_in_the_field:
        seen = set()
        for task in tasks:
            key = (task.assigned_organization_id, task.assigned_user_id)
            if key in seen or key == (None, None):
                continue
            seen.add(key)
            person = (
                task.assigned_user.get_full_name() or task.assigned_user.get_username() if task.assigned_user else ""
            )
            holders.append({"organization": task.assigned_organization, "person": person})
    return render(request, "workorders/field_forbidden.html", {"holders": holders, "field": field}, status=403)


@login_required
def field_work_order(request, work_order_id: int, *, schedule_form=None, status=200):
    """One job: the address, its visit, the customer's contact, notes, what the operator sent back, and the tasks in
    order; a field manager of a contractor on the job (or operator staff) schedules the visit here."""
    work_order = get_object_or_404(WorkOrder.objects.select_related("address"), pk=work_order_id)
    field = FieldActor.of(request.user)
    tasks = list(work_order.tasks.select_related("assigned_user", "assigned_organization").order_by("position"))
    if not (field.is_operator_staff or any(field.can_see(task) for task in tasks)):
        return _forbidden(request, field, tasks)
    customers = {o.customer for o in work_order.orders.select_related("customer")}
    can_schedule = field.can_schedule(tasks) and work_order.status in WORKABLE_STATUSES
    if can_schedule and schedule_form is None:
        schedule_form = ScheduleForm(
            initial={
                "on": work_order.scheduled_for,
                "window_start": work_order.scheduled_window_start,
                "window_end": work_order.scheduled_window_end,
            }
        )
    return render(
        request,
        "workorders/field_work_order.html",
        {
            "work_order": work_order,
            "tasks": tasks,
            "customers": customers,
            "field": field,
            "sent_back": _sent_back(work_order),
            "schedule_form": schedule_form if can_schedule else None,
        },
        status=status,
    )


def _sent_back(work_order: WorkOrder) -> str:
    """The operator's reason, while the job is back in the field."""
    if work_order.rejection_reason and work_order.status in (WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.REJECTED):
        return work_order.rejection_reason
    return ""


@login_required
@require_POST
def field_schedule(request, work_order_id: int):
    """The field manager (or operator staff) sets the visit's day and window."""
    work_order = get_object_or_404(WorkOrder, pk=work_order_id)
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        return field_work_order(request, work_order_id, schedule_form=form, status=400)
    try:
        services.work_order_schedule(
            work_order_id=work_order.pk,
            on=form.cleaned_data["on"],
            window_start=form.cleaned_data["window_start"],
            window_end=form.cleaned_data["window_end"],
            actor=request.user,
        )
    except PermissionDenied:
        return _forbidden(request, FieldActor.of(request.user), list(work_order.tasks.select_related(*HOLDER)))
    except (ApplicationError, ValidationError) as refused:
        form.add_error(None, _refusal_text(refused))
        return field_work_order(request, work_order_id, schedule_form=form, status=400)
    work_order.refresh_from_db()
    window = f", {work_order.scheduled_window}" if work_order.scheduled_window else ""
    messages.success(request, f"Visit set for {work_order.scheduled_for:%a %-d %b}{window}.")
    return redirect("field-work-order", work_order_id=work_order.pk)


def _task_page(request, task, field, *, forms=None, status=200):
    forms = forms or {}
    kinds = list(task.evidence_required)
    evidence_forms = [(kind, EvidenceKind(kind).label, forms.get(kind) or EVIDENCE_FORMS[kind]()) for kind in kinds]
    is_open = task.status == TaskStatus.OPEN and task.work_order.status in WORKABLE_STATUSES
    return render(
        request,
        "workorders/field_task.html",
        {
            "task": task,
            "work_order": task.work_order,
            "evidence": list(task.evidence.current().select_related("recorded_by")),
            "evidence_forms": evidence_forms,
            "note_form": forms.get("note") or NoteForm(),
            "reason_form": forms.get("reason") or ReasonForm(),
            "submission_key": uuid.uuid4().hex,
            "serving_port": inventory.serving_port(task.work_order.address) if "ont_serial" in kinds else None,
            "field": field,
            "can_reopen": field.can_reopen(task) and task.work_order.status in REOPENABLE_STATUSES,
            "is_open": is_open,
            "sent_back": task.redo_reason if task.status == TaskStatus.OPEN else "",
            "skippable": is_open and not task.triggers_provisioning,
        },
        status=status,
    )


REOPENABLE_STATUSES = (WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.REJECTED)


def _saved_text(task, item) -> str:
    """What was stored, read back ("Saved: -20.50 dBm, passes.")."""
    if item.kind == EvidenceKind.LIGHT_LEVEL:
        verdict = "passes" if item.passed else f"fails ({checks.light_level_rule()})"
        return f"Saved: {item.light_level_dbm} dBm, {verdict}."
    if item.kind == EvidenceKind.SPEED_TEST:
        verdict = (
            "passes" if item.passed else f"fails ({checks.speed_test_rule(services.ordered_speed(task.work_order))})"
        )
        return f"Saved: {item.download_mbps}/{item.upload_mbps} Mbit/s, {verdict}."
    if item.kind == EvidenceKind.ONT_SERIAL:
        return f"Saved: ONT {item.ont_serial}, bound to this address."
    return f"{EvidenceKind(item.kind).label} recorded."


@login_required
def field_task(request, task_id: int):
    """A task with the evidence form it needs, what was recorded (removable while the task is open), and close /
    skip / reopen. Every refusal is shown next to the field it is about."""
    task = get_object_or_404(
        Task.objects.select_related("work_order__address", "assigned_user", "assigned_organization"), pk=task_id
    )
    field = FieldActor.of(request.user)
    if not field.can_see(task):
        return _forbidden(request, field, [task])
    if request.method != "POST":
        return _task_page(request, task, field)
    action = request.POST.get("action", "")
    if action == "evidence":
        return _evidence_post(request, task, field)
    reason_form = None
    try:
        if action == "close":
            services.task_close(task_id=task.pk, actor=request.user)
            if task.triggers_provisioning:  # done on site; whether the service is on is the panel's to say
                messages.success(request, f"“{task.title}” is sent to the network: see below whether it is on.")
            else:
                messages.success(request, f"“{task.title}” is done.")
            return redirect("field-work-order", work_order_id=task.work_order_id)
        elif action in ("skip", "reopen"):
            reason_form = ReasonForm(request.POST)
            if not reason_form.is_valid():
                return _task_page(request, task, field, forms={"reason": reason_form}, status=400)
            reason = reason_form.cleaned_data["reason"]
            if action == "skip":
                services.task_skip(task_id=task.pk, actor=request.user, reason=reason)
                messages.success(request, f"“{task.title}” is skipped: the operator sees why.")
                return redirect("field-work-order", work_order_id=task.work_order_id)
            services.task_reopen(task_id=task.pk, actor=request.user, reason=reason)
            messages.success(request, f"“{task.title}” is open again.")
        elif action == "remove":
            evidence_id = request.POST.get("evidence", "")
            if not evidence_id.isdigit() or not task.evidence.filter(pk=evidence_id).exists():
                raise ValidationError("That evidence is not on this task.")
            item = services.evidence_remove(evidence_id=int(evidence_id), actor=request.user)
            messages.success(request, f"{item.get_kind_display()} removed (kept on record for the operator).")
        else:
            raise ValidationError("Unknown action.")
    except PermissionDenied as refused:
        messages.error(request, str(refused))
        task.refresh_from_db()
        return _task_page(request, task, field, status=403)
    except (ApplicationError, ValidationError) as refused:
        task.refresh_from_db()
        if reason_form is not None and isinstance(refused, ValidationError):
            reason_form.add_error("reason", _refusal_text(refused))
            return _task_page(request, task, field, forms={"reason": reason_form}, status=400)
        messages.error(request, _refusal_text(refused))
        return _task_page(request, task, field, status=400)
    return redirect("field-task", task_id=task.pk)


def _evidence_post(request, task, field):
    kind = request.POST.get("kind", "")
    form_class = EVIDENCE_FORMS.get(kind)
    if form_class is None:
        messages.error(request, "Unknown kind of evidence.")
        return _task_page(request, task, field, status=400)
    form = form_class(request.POST, request.FILES)
    if not form.is_valid():
        return _task_page(request, task, field, forms={kind: form}, status=400)
    replaces = request.POST.get("replaces", "")
    try:
        item = services.evidence_record(
            task_id=task.pk,
            actor=request.user,
            kind=kind,
            data=request.POST,
            files=request.FILES,
            submission_key=request.POST.get("submission_key", ""),
            replaces=int(replaces) if replaces.isdigit() else None,
        )
    except ValidationError as refused:
        form.add_error(EVIDENCE_MAIN_FIELD[kind], _refusal_text(refused))
        return _task_page(request, task, field, forms={kind: form}, status=400)
    except ApplicationError as refused:
        messages.error(request, refused.message)
        task.refresh_from_db()
        return _task_page(request, task, field, status=400)
    messages.success(request, _saved_text(task, item))
    return redirect("field-task", task_id=task.pk)


@login_required
@require_POST
def field_assign(request):
    """A field manager assigns tasks of the organization to one of its technicians."""
    field = FieldActor.of(request.user)
    technicians = _technicians_of(field)
    form = AssignForm(request.POST, tasks=_unassigned_of(field), technicians=technicians)
    if not form.is_valid():
        return field_home(request, assign_form=form, status=400)
    user = next(person for person in technicians if person.pk == form.cleaned_data["user"])
    try:
        count = services.tasks_assign(task_ids=form.cleaned_data["task"], actor=request.user, user=user)
    except (ApplicationError, ValidationError, PermissionDenied) as refused:
        form.add_error(None, str(refused) if isinstance(refused, PermissionDenied) else _refusal_text(refused))
        return field_home(request, assign_form=form, status=400)
    messages.success(request, f"{count} task{'s' if count != 1 else ''} assigned to {user.get_full_name() or user}.")
    return redirect("field-home")


@login_required
@require_POST
def field_notice_read(request, notice_id: int):
    """Mark a notice read: it leaves the banner."""
    try:
        services.field_notice_mark_read(notice_id=notice_id, actor=request.user)
    except ApplicationError as refused:
        raise Http404(refused.message) from None
    return redirect(request.POST.get("next") or "field-home")


@staff_member_required
def ops_deployment(request):
    """Deployment progress per area: work orders by status, with a bar chart."""
    return render(request, "workorders/ops_deployment.html", {"rows": deployment_progress()})


@login_required
def evidence_file(request, evidence_id: int, variant: str):
    """A photo or signature (or its thumbnail), only to someone who may see its task: the assignee, the assignee's
    organization, operator field staff, or staff allowed to view evidence. Others get a 404, as if it did not exist.

    With EVIDENCE_SENDFILE set, the web server in front sends the file (X-Accel-Redirect for nginx, X-Sendfile for
    Apache or lighttpd) after this check; otherwise the file is streamed from here."""
    if variant not in ("file", "thumbnail"):
        raise Http404("No such file.")
    evidence = get_object_or_404(Evidence.objects.select_related("task__work_order"), pk=evidence_id)
    user = request.user
    in_admin = user.is_staff and user.has_perm("workorders.view_evidence")  # technicians' view right is the field's
    allowed = in_admin or FieldActor.of(user).can_see(evidence.task)
    stored = getattr(evidence, variant)
    if not allowed or not stored:
        raise Http404("No such file.")
    return _send(stored)


def _send(stored):
    mode = settings.EVIDENCE_SENDFILE
    content_type = mimetypes.guess_type(stored.name)[0] or "application/octet-stream"
    if mode == "x-accel-redirect":
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.EVIDENCE_SENDFILE_PREFIX.rstrip("/") + "/" + stored.name
    elif mode == "x-sendfile":
        response = HttpResponse(content_type=content_type)
        response["X-Sendfile"] = stored.path
    else:
        response = FileResponse(stored.open("rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
