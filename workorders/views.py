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
from workorders import services
from workorders.choices import EvidenceKind, TaskStatus
from workorders.forms import EVIDENCE_FORMS, NoteForm, ReasonForm
from workorders.models import Evidence, Task, WorkOrder
from workorders.permissions import FieldActor
from workorders.selectors import WORKABLE_STATUSES, deployment_progress, my_work

GROUPS = [("overdue", "Overdue"), ("today", "Today"), ("upcoming", "Upcoming"), ("unscheduled", "Not scheduled yet")]


@login_required
def field_home(request):
    """My work: work orders with tasks for me or my organization."""
    field = FieldActor.of(request.user)
    groups = my_work(field)
    unassigned = []
    if field.managed_organization_ids:
        unassigned = list(
            Task.objects.filter(
                assigned_organization_id__in=field.managed_organization_ids,
                assigned_user__isnull=True,
                status=TaskStatus.OPEN,
            )
            .select_related("work_order__address")
            .order_by("work_order_id", "position")[:100]
        )
    return render(
        request,
        "workorders/field_home.html",
        {
            "groups": [(key, label, groups.get(key, [])) for key, label in GROUPS],
            "unassigned": unassigned,
            "technicians": _technicians_of(field),
            "field": field,
        },
    )


def _technicians_of(field: FieldActor):
    if not field.managed_organization_ids:
        return []
    ids = Membership.objects.filter(organization_id__in=field.managed_organization_ids).values_list(
        "user_id", flat=True
    )
    return list(get_user_model().objects.filter(pk__in=ids).order_by("username"))


@login_required
def field_work_order(request, work_order_id: int):
    """One job: the address, the customer's contact, notes and the tasks in order."""
    work_order = get_object_or_404(WorkOrder.objects.select_related("address"), pk=work_order_id)
    field = FieldActor.of(request.user)
    tasks = list(work_order.tasks.select_related("assigned_user", "assigned_organization").order_by("position"))
    if not (field.is_operator_staff or any(field.can_see(task) for task in tasks)):
        raise PermissionDenied("This work order has no task for you or your organization.")
    customers = {o.customer for o in work_order.orders.select_related("customer")}
    return render(
        request,
        "workorders/field_work_order.html",
        {
            "work_order": work_order,
            "tasks": tasks,
            "customers": customers,
            "field": field,
        },
    )


def _task_page(request, task, field, *, forms=None, status=200):
    forms = forms or {}
    kinds = list(task.evidence_required)
    evidence_forms = [(kind, EvidenceKind(kind).label, forms.get(kind) or EVIDENCE_FORMS[kind]()) for kind in kinds]
    return render(
        request,
        "workorders/field_task.html",
        {
            "task": task,
            "work_order": task.work_order,
            "evidence": list(task.evidence.all()),
            "evidence_forms": evidence_forms,
            "note_form": forms.get("note") or NoteForm(),
            "reason_form": ReasonForm(),
            "submission_key": uuid.uuid4().hex,
            "serving_port": inventory.serving_port(task.work_order.address) if "ont_serial" in kinds else None,
            "field": field,
            "can_reopen": field.can_reopen(task),
            "is_open": task.status == TaskStatus.OPEN and task.work_order.status in WORKABLE_STATUSES,
        },
        status=status,
    )


@login_required
def field_task(request, task_id: int):
    """A task with the evidence form it needs, and close / skip / reopen."""
    task = get_object_or_404(Task.objects.select_related("work_order__address"), pk=task_id)
    field = FieldActor.of(request.user)
    if not field.can_see(task):
        raise PermissionDenied("This task is not assigned to you or your organization.")
    if request.method != "POST":
        return _task_page(request, task, field)
    action = request.POST.get("action", "")
    try:
        if action == "evidence":
            kind = request.POST.get("kind", "")
            form_class = EVIDENCE_FORMS.get(kind)
            if form_class is None:
                raise ValidationError("Unknown kind of evidence.")
            form = form_class(request.POST, request.FILES)
            if not form.is_valid():
                return _task_page(request, task, field, forms={kind: form}, status=400)
            services.evidence_record(
                task_id=task.pk,
                actor=request.user,
                kind=kind,
                data=request.POST,
                files=request.FILES,
                submission_key=request.POST.get("submission_key", ""),
            )
            messages.success(request, f"{EvidenceKind(kind).label} recorded.")
        elif action == "close":
            services.task_close(task_id=task.pk, actor=request.user)
            messages.success(request, f"“{task.title}” is done.")
            return redirect("field-work-order", work_order_id=task.work_order_id)
        elif action == "skip":
            services.task_skip(task_id=task.pk, actor=request.user, reason=request.POST.get("reason", ""))
            messages.success(request, f"“{task.title}” is skipped.")
            return redirect("field-work-order", work_order_id=task.work_order_id)
        elif action == "reopen":
            services.task_reopen(task_id=task.pk, actor=request.user, reason=request.POST.get("reason", ""))
            messages.success(request, f"“{task.title}” is open again.")
        else:
            raise ValidationError("Unknown action.")
    except (ApplicationError, ValidationError) as refused:
        text = refused.message if isinstance(refused, ApplicationError) else " ".join(refused.messages)
        messages.error(request, text)
        task.refresh_from_db()
        return _task_page(request, task, field, status=400)
    return redirect("field-task", task_id=task.pk)


@login_required
@require_POST
def field_assign(request):
    """A field manager assigns tasks of the organization to one of its technicians."""
    task_ids = [int(pk) for pk in request.POST.getlist("task") if pk.isdigit()]
    user = get_user_model().objects.filter(pk=request.POST.get("user") or 0).first()
    try:
        count = services.tasks_assign(task_ids=task_ids, actor=request.user, user=user)
    except (ApplicationError, ValidationError) as refused:
        messages.error(
            request, refused.message if isinstance(refused, ApplicationError) else " ".join(refused.messages)
        )
    else:
        messages.success(request, f"{count} task(s) assigned to {user}.")
    return redirect("field-home")


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
