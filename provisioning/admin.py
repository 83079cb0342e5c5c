"""Admin for the network contract and provisioning jobs."""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import render

from cos.admin_tools import TransitionLogInline, service_action
from provisioning.choices import ResolutionCode
from provisioning.jobs import provisioning_job_retry
from provisioning.models import ContractException, ProvisioningJob, ServiceInstance
from provisioning.sync import contract_exception_resolve


class JobInline(admin.TabularInline):
    model = ProvisioningJob
    extra = 0
    can_delete = False
    fields = ("action", "status", "attempts", "last_error", "started_at", "finished_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ServiceInstance)
class ServiceInstanceAdmin(admin.ModelAdmin):
    list_display = ("id", "service_profile", "address", "provider", "status", "ont", "activated_at", "billing_blocked")
    list_filter = ("status", "provider", "billing_blocked")
    search_fields = ("=id", "address__external_id", "ont__serial")
    list_select_related = ("address", "provider", "ont")
    readonly_fields = ("subscription", "status", "activated_at", "deactivated_at", "failure_reason")
    raw_id_fields = ("address", "ont", "olt", "pon_port")
    inlines = [JobInline, TransitionLogInline]


@admin.register(ProvisioningJob)
class ProvisioningJobAdmin(admin.ModelAdmin):
    actions = [service_action(provisioning_job_retry, id_arg="job_id", description="Retry (dead jobs)")]
    list_display = ("id", "service", "action", "status", "attempts", "next_attempt_at", "finished_at")
    list_filter = ("status", "action")
    list_select_related = ("service__address",)
    readonly_fields = (
        "service",
        "action",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "started_at",
        "finished_at",
        "requested_by_event",
    )
    inlines = [TransitionLogInline]


class ResolveForm(forms.Form):
    _selected_action = forms.CharField(widget=forms.MultipleHiddenInput)
    code = forms.ChoiceField(choices=ResolutionCode.choices, label="Reason code")
    note = forms.CharField(required=False, widget=forms.Textarea, label="Note")


@admin.register(ContractException)
class ContractExceptionAdmin(admin.ModelAdmin):
    """The exception queue of the contract sync: resolve each with a reason code."""

    list_display = ("kind", "severity", "status", "ont_serial", "service", "last_seen_at", "resolution_code")
    list_filter = ("status", "severity", "kind")
    search_fields = ("ont_serial", "device_service_id", "detail")
    list_select_related = ("service",)
    readonly_fields = [f.name for f in ContractException._meta.fields]
    inlines = [TransitionLogInline]
    actions = ["resolve"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Resolve with a reason code", permissions=["change"])
    def resolve(self, request, queryset):
        if "apply" in request.POST:
            form = ResolveForm(request.POST)
            if form.is_valid():
                for exception in queryset.filter(status="open"):
                    contract_exception_resolve(
                        exception_id=exception.pk,
                        code=form.cleaned_data["code"],
                        actor=request.user,
                        note=form.cleaned_data["note"],
                    )
                self.message_user(request, "Resolved.", messages.SUCCESS)
                return None
        else:
            form = ResolveForm(initial={"_selected_action": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)})
        return render(
            request,
            "admin/action_form.html",
            {
                "form": form,
                "objects": queryset,
                "title": "Resolve exceptions",
                "action": "resolve",
                **self.admin_site.each_context(request),
            },
        )
