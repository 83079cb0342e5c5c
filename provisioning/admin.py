"""Admin for the network contract and provisioning jobs."""

from django.contrib import admin

from cos.admin_tools import TransitionLogInline, service_action
from provisioning.jobs import provisioning_job_retry
from provisioning.models import ProvisioningJob, ServiceInstance


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
