"""Admin building blocks shared by every app: transition history, service-calling actions, fields a service guards
and audited records that are never deleted."""

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.contenttypes.admin import GenericTabularInline
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render

from cos.errors import ApplicationError
from cos.models import TransitionLog


class TransitionLogInline(GenericTabularInline):
    """The object's transition history (who, when, from, to, why), read-only."""

    model = TransitionLog
    ct_field = "content_type"
    ct_fk_field = "object_id"
    fields = ("created_at", "transition", "source", "target", "actor", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "transition"
    verbose_name_plural = "transition history"
    ordering = ("-created_at", "-id")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


def service_action(service: Callable, *, id_arg: str, description: str, permission: str = "change") -> Callable:
    """An admin action that calls `service(<id_arg>=obj.pk, actor=request.user)` for each selected object.

    Each object runs in its own transaction (the service's); refusals are shown as error messages
    and change nothing for that object.
    """

    def action(modeladmin, request, queryset):
        done, refused = 0, []
        for obj in queryset.order_by("pk"):
            try:
                service(**{id_arg: obj.pk}, actor=request.user)
            except (ApplicationError, ValidationError) as exc:
                refused.append(refusal_text(exc))
            else:
                done += 1
        if done:
            modeladmin.message_user(request, f"{description}: {done} done.", messages.SUCCESS)
        for message in refused:
            modeladmin.message_user(request, message, messages.ERROR)

    action.__name__ = f"action_{service.__name__}"
    return admin.action(description=description, permissions=[permission])(action)


def refusal_text(refused: Exception) -> str:
    """The message of a refused action, whatever kind of refusal it is."""
    if isinstance(refused, ApplicationError):
        return refused.message
    if isinstance(refused, ValidationError):
        return "; ".join(refused.messages)
    return str(refused)


REFUSALS = (ApplicationError, ValidationError, PermissionDenied)


class ActionForm(forms.Form):
    """Base of the forms an admin action asks for before it runs (a reason, an assignee)."""

    _selected_action = forms.CharField(widget=forms.MultipleHiddenInput)


def action_with_form(modeladmin, request, queryset, *, form_class: type[ActionForm], title: str, apply: Callable):
    """Show `form_class` for the selected objects; once it is submitted and valid, call `apply(cleaned_data)`."""
    if "apply" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            apply(form.cleaned_data)
            return None
    else:
        form = form_class(initial={"_selected_action": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)})
    context = {
        "form": form,
        "objects": queryset,
        "title": title,
        "action": request.POST.get("action", ""),
        **modeladmin.admin_site.each_context(request),
    }
    return render(request, "admin/action_form.html", context)


def form_action(
    *, form_class: type[ActionForm], description: str, call: Callable, permission: str = "change"
) -> Callable:
    """An admin action that asks for `form_class`, then runs `call(obj, cleaned_data, actor)` for each selected
    object in its own transaction (the service's), showing each refusal as an error message. When `call` returns a
    text (what became of the object), it is shown for that object."""

    def action(modeladmin, request, queryset):
        def apply(data):
            done = 0
            for obj in queryset.order_by("pk"):
                try:
                    outcome = call(obj, data, request.user)
                except REFUSALS as refused:
                    text = refusal_text(refused)
                    modeladmin.message_user(request, text if str(obj) in text else f"{obj}: {text}", messages.ERROR)
                else:
                    done += 1
                    if outcome:
                        obj.refresh_from_db()  # its label as it is now
                        modeladmin.message_user(request, f"{obj}: {outcome}", messages.SUCCESS)
            if done:
                modeladmin.message_user(request, f"{description}: {done} done.", messages.SUCCESS)

        return action_with_form(modeladmin, request, queryset, form_class=form_class, title=description, apply=apply)

    action.__name__ = "action_" + "".join(c if c.isalnum() else "_" for c in description.lower()).strip("_")
    return admin.action(description=description, permissions=[permission])(action)


class NeverDeletedMixin:
    """Audited records are never deleted through the admin, by anyone, a superuser included; without the delete
    permission the admin offers neither the delete page nor the bulk delete action."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class GuardedFieldsMixin:
    """`guarded_fields` are read-only once the row exists: a service guards them, and they change only through an
    action that calls it. An add form may still set them, where adding a row here is legitimate."""

    guarded_fields: tuple[str, ...] = ()

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is None:
            return readonly
        return readonly + tuple(name for name in self.guarded_fields if name not in readonly)


def in_use(obj) -> bool:
    """Whether any row refers to `obj` (a reason code on an override or a refund, ...): then it is part of the audit."""
    relations = [
        field
        for field in obj._meta.get_fields(include_hidden=True)  # the audit's links are often hidden (related_name "+")
        if field.auto_created and not field.concrete and (field.one_to_many or field.one_to_one or field.many_to_many)
    ]
    return any(
        relation.related_model._base_manager.filter(**{relation.field.name: obj}).exists() for relation in relations
    )
