"""Admin for the network contract and provisioning jobs."""

from django import forms
from django.contrib import admin, messages

from cos import ops
from cos.admin_tools import (
    ActionForm,
    NeverDeletedMixin,
    TransitionLogInline,
    action_with_form,
    form_action,
    service_action,
)
from cos.models import ONT
from cos.selectors import address_ids_matching
from marketplace.choices import LifecycleReason
from marketplace.models import Subscription
from provisioning.choices import ResolutionCode
from provisioning.jobs import provisioning_job_retry
from provisioning.models import ContractException, ProvisioningJob, ServiceInstance, ServicePeriod
from provisioning.requests import service_billing_unblock, service_profile_change
from provisioning.selectors import contract_exceptions_open, jobs_needing_attention
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


PERIOD_FIELDS = (
    "started_at",
    "ended_at",
    "cause",
    "end_cause",
    "provider",
    "profile",
    "download_mbps",
    "upload_mbps",
    "c_vlan",
    "ont",
    "network_service_id",
)


class PeriodInline(admin.TabularInline):
    """The service's ledger, read-only."""

    model = ServicePeriod
    fk_name = "service"
    extra = 0
    can_delete = False
    fields = PERIOD_FIELDS
    readonly_fields = fields
    verbose_name_plural = "ledger (verified service periods)"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("provider", "ont")


def _unblock(modeladmin, request, queryset):
    for service in queryset.filter(billing_blocked=True).order_by("pk"):
        service_billing_unblock(service_id=service.pk, actor=request.user, reason="lifted in the admin")
    modeladmin.message_user(request, "Billing resumes; the held days are billed once.", messages.SUCCESS)


class ProfileChangeForm(ActionForm):
    profile = forms.CharField(max_length=64, label="Service profile")
    download_mbps = forms.IntegerField(min_value=1, required=False, label="Download (Mbit/s)")
    upload_mbps = forms.IntegerField(min_value=1, required=False, label="Upload (Mbit/s)")
    reason = forms.ChoiceField(choices=LifecycleReason.choices, label="Reason code")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Note")


def _change_profile(service, data, actor) -> str:
    job = service_profile_change(
        service_id=service.pk,
        profile=data["profile"],
        download_mbps=data["download_mbps"],
        upload_mbps=data["upload_mbps"],
        reason_code=data["reason"],
        note=data["note"],
        actor=actor,
    )
    return f"a modify job ({job.pk}) applies {job.profile} on the network; the ledger follows once it is verified."


@admin.register(ServiceInstance)
class ServiceInstanceAdmin(NeverDeletedMixin, admin.ModelAdmin):
    list_display = ("id", "service_profile", "address", "provider", "status", "ont", "billing_blocked")
    list_filter = ("status", "provider", "billing_blocked")
    search_fields = ("=id", "address__external_id", "ont__serial", "subscription__customer__email")
    list_select_related = ("address", "provider", "ont")

    def get_search_results(self, request, queryset, search_term):
        """Also the address as the operator types it ("Solhöjdsvägen 2B", "Hagagatan 5 1202")."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if search_term.strip():
            results = results | queryset.filter(address_id__in=address_ids_matching(search_term))
        return results, may_have_duplicates

    # The network contract changes only through provisioning's services (a modify job, verified): read-only here.
    readonly_fields = [f.name for f in ServiceInstance._meta.fields]
    inlines = [PeriodInline, JobInline, TransitionLogInline]
    actions = [
        form_action(
            form_class=ProfileChangeForm,
            description="Change profile (a verified modify job, reason code)",
            call=_change_profile,
        ),
        admin.action(description="Lift the billing block (bill the held days)", permissions=["change"])(_unblock),
    ]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ServicePeriod)
class ServicePeriodAdmin(NeverDeletedMixin, admin.ModelAdmin):
    """The ledger: what the network verifiably delivered, for which provider, from when to when. Append-only."""

    list_display = (
        "id",
        "started_at",
        "ended_at",
        "provider",
        "profile",
        "cause",
        "end_cause",
        "ont",
        "subscription_id",
    )
    list_display_links = ("id", "started_at")
    list_filter = ("cause", "end_cause", "provider", ("ended_at", admin.EmptyFieldListFilter))
    search_fields = ("=service__id", "=subscription__id", "ont__serial", "network_service_id")
    list_select_related = ("provider", "ont")
    date_hierarchy = "started_at"
    readonly_fields = [f.name for f in ServicePeriod._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ProvisioningJob)
class ProvisioningJobAdmin(NeverDeletedMixin, admin.ModelAdmin):
    """What the network was asked to do and what became of it: written by provisioning only, retried by an action."""

    def has_add_permission(self, request) -> bool:
        return False

    actions = [service_action(provisioning_job_retry, id_arg="job_id", description="Retry (dead jobs)")]
    list_display = ("id", "service", "action", "status", "attempts", "next_attempt_at")
    list_filter = (ops.AttentionFilter, "status", "action")
    list_select_related = ("service__address",)
    readonly_fields = [f.name for f in ProvisioningJob._meta.fields]
    inlines = [TransitionLogInline]


class ResolveForm(ActionForm):
    code = forms.ChoiceField(choices=ResolutionCode.choices, label="Reason code")
    note = forms.CharField(required=False, widget=forms.Textarea, label="Note")


@admin.register(ContractException)
class ContractExceptionAdmin(NeverDeletedMixin, admin.ModelAdmin):
    """The exception queue of the contract sync: resolve each with a reason code."""

    list_display = ("kind", "severity", "status", "ont_serial", "service", "last_seen_at", "resolution_code")
    list_filter = ("status", "severity", "kind")
    search_fields = ("ont_serial", "device_service_id", "detail")
    list_select_related = ("service",)
    readonly_fields = ["where", "whose", *[f.name for f in ContractException._meta.fields]]
    inlines = [TransitionLogInline]
    actions = ["resolve"]

    def _address(self, exception: ContractException):
        """The service's address, or where the ONT of the serial is bound (an activation nobody ordered)."""
        if exception.service_id:
            return exception.service.address
        ont = ONT.objects.select_related("address").filter(serial=exception.ont_serial).first()
        return ont.address if ont else None

    @admin.display(description="address")
    def where(self, exception: ContractException) -> str:
        address = self._address(exception)
        return address.label if address else "-"

    @admin.display(description="customer")
    def whose(self, exception: ContractException) -> str:
        """The service's customer; without a service, who was last subscribed at the address, said as such."""
        if exception.service_id:
            return exception.service.subscription.customer.display_name
        address = self._address(exception)
        last = (
            Subscription.objects.filter(address=address).select_related("customer").order_by("-created_at").first()
            if address
            else None
        )
        return f"none ordered it; last at the address: {last.customer.display_name}" if last else "none ordered it"

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


# The operator console's queues over these lists.
ops.attention_queue(
    key="provisioning_jobs_failing",
    title="Provisioning jobs dead or failing",
    description="The network refused or did not answer: dead jobs wait for Retry once the cause is fixed; "
    "failing ones retry by themselves.",
    items=jobs_needing_attention,
    position=40,
)
ops.attention_queue(
    key="contract_exceptions_open",
    title="Open contract exceptions",
    description="What is sold and what the network delivers differ: correct one side, then Resolve with a reason code.",
    items=contract_exceptions_open,
    lookups={"status__exact": "open"},
    position=60,
)
