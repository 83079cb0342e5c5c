"""Admin for the network contract and provisioning jobs."""

from django import forms
from django.contrib import admin, messages

from cos.admin_tools import ActionForm, TransitionLogInline, action_with_form, service_action
from provisioning.choices import ResolutionCode
from provisioning.jobs import provisioning_job_retry
from provisioning.models import ContractException, ProvisioningJob, ServiceInstance
from provisioning.sync import contract_exception_resolve


class JobInline(admin.TabularInline):
    model = ProvisioningJob
    fk_name = "service"
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


class ResolveForm(ActionForm):
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
        def apply(data):
            for exception in queryset.filter(status="open"):
                contract_exception_resolve(
                    exception_id=exception.pk, code=data["code"], actor=request.user, note=data["note"]
                )
            self.message_user(request, "Resolved.", messages.SUCCESS)

        return action_with_form(
            self, request, queryset, form_class=ResolveForm, title="Resolve exceptions", apply=apply
        )
