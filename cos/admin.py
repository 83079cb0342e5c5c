"""Admin for the core domain: organizations, people, customers, areas, addresses, inventory, events."""

from django.contrib import admin, messages
from django.db.models import Count

from cos import events, notifications, services
from cos.admin_access import MembershipInline  # registers memberships, users, groups and API tokens too
from cos.admin_tools import GuardedFieldsMixin, NeverDeletedMixin, TransitionLogInline, service_action
from cos.admin_webhooks import ProviderNotificationAdmin  # noqa: F401 - registers the webhooks' admin too
from cos.choices import HandlerRunStatus
from cos.errors import ApplicationError
from cos.models import (
    OLT,
    ONT,
    AddressObject,
    Area,
    Customer,
    Event,
    HandlerRun,
    Message,
    Organization,
    PonPort,
    TransitionLog,
)
from cos.selectors import address_search


@admin.register(Organization)
class OrganizationAdmin(GuardedFieldsMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "kind", "email")
    # What an organization is decides what its people may do (an admin of the network operator manages rights).
    guarded_fields = ("kind",)
    list_filter = ("kind",)
    search_fields = ("name", "slug", "email", "organisation_number")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("name", "slug", "kind", "email", "phone")}),
        (
            "On invoices",
            {
                "fields": (
                    "legal_name",
                    ("street", "postal_code", "city", "country"),
                    ("organisation_number", "vat_number"),
                    ("bankgiro", "iban", "bic"),
                ),
                "description": "What an invoice of this organization must say to be sent as it is, and where to pay.",
            },
        ),
    )


@admin.register(Customer)
class CustomerAdmin(GuardedFieldsMixin, admin.ModelAdmin):
    list_display = ("display_name", "customer_type", "email", "phone", "billing_city", "user")
    # The login that sees this customer's orders, services and invoices in the portal.
    guarded_fields = ("user",)
    list_filter = ("customer_type",)
    search_fields = ("first_name", "last_name", "company_name", "email", "phone")
    list_select_related = ("user",)
    autocomplete_fields = ("user",)


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "status", "address_count")
    list_filter = ("status",)
    search_fields = ("name", "code")
    readonly_fields = ("status", "created_at", "updated_at")
    inlines = [TransitionLogInline]
    actions = [
        service_action(services.area_mark_surveyed, id_arg="area_id", description="Mark surveyed"),
        service_action(
            services.area_start_deployment,
            id_arg="area_id",
            description="Start deployment (the area and its planned/surveyed addresses)",
        ),
        service_action(services.area_mark_built, id_arg="area_id", description="Mark built"),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(address_total=Count("addresses"))

    @admin.display(description="addresses", ordering="address_total")
    def address_count(self, obj) -> int:
        return obj.address_total


@admin.register(AddressObject)
class AddressObjectAdmin(admin.ModelAdmin):
    list_display = (
        "external_id",
        "street",
        "house_number",
        "suffix",
        "unit",
        "postal_code",
        "city",
        "building_type",
        "status",
        "area",
    )
    list_filter = ("status", "building_type", "area")
    search_fields = ("external_id",)  # replaced by the ranked address search, see get_search_results
    search_help_text = "Street and number, postal code or external id."
    list_select_related = ("area",)
    readonly_fields = ("status", "created_at", "updated_at")
    show_full_result_count = False
    inlines = [TransitionLogInline]
    actions = [
        service_action(services.address_mark_surveyed, id_arg="address_id", description="Mark surveyed"),
        service_action(services.address_start_deployment, id_arg="address_id", description="Start deployment"),
        service_action(services.address_mark_connected, id_arg="address_id", description="Mark connected"),
    ]

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        ids = [address.pk for address in address_search(query=search_term, limit=500)]
        return queryset.filter(pk__in=ids), False

    def save_model(self, request, obj, form, change):
        obj.postal_code = services.postal_code_normalize(obj.postal_code)
        super().save_model(request, obj, form, change)


class PonPortInline(admin.TabularInline):
    model = PonPort
    extra = 0


@admin.register(OLT)
class OLTAdmin(admin.ModelAdmin):
    list_display = ("name", "vendor", "model", "management_host", "area")
    list_filter = ("vendor", "area")
    search_fields = ("name", "management_host")
    list_select_related = ("area",)
    inlines = [PonPortInline]


@admin.register(PonPort)
class PonPortAdmin(admin.ModelAdmin):
    list_display = ("__str__", "olt", "shelf", "slot", "port")
    list_filter = ("olt__vendor", "olt")
    search_fields = ("olt__name",)
    list_select_related = ("olt",)


@admin.register(ONT)
class ONTAdmin(GuardedFieldsMixin, admin.ModelAdmin):
    """ONTs in stock are added here; the binding to an address is the technician's scan at installation
    (workorders' evidence), and the services on an ONT are provisioning's: none of it is edited in place."""

    list_display = ("serial", "vendor", "model", "pon_port", "address", "bound_at")
    list_filter = ("vendor", ("address", admin.EmptyFieldListFilter))
    search_fields = ("serial",)
    list_select_related = ("pon_port__olt", "address")
    raw_id_fields = ("pon_port",)
    readonly_fields = ("address", "bound_at")
    guarded_fields = ("serial", "vendor", "pon_port")


def _next_try(run: HandlerRun):
    """When the sweep tries the run again: only a run that has not succeeded or died has a next try."""
    if run.status in (HandlerRunStatus.PENDING, HandlerRunStatus.FAILED):
        return run.next_attempt_at
    return None


def _handler_short(run: HandlerRun) -> str:
    """The handler's app and function (`marketplace.on_order_accepted`); the full path is on the run's page."""
    parts = run.handler.split(".")
    return f"{parts[0]}.{parts[-1]}" if len(parts) > 2 else run.handler


class HandlerRunInline(admin.TabularInline):
    model = HandlerRun
    fields = ("handler", "status", "attempts", "next_try", "finished_at", "last_error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="next try")
    def next_try(self, run: HandlerRun):
        return _next_try(run)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(NeverDeletedMixin, admin.ModelAdmin):
    list_display = ("id", "name", "created_at", "payload")
    list_filter = ("name",)
    search_fields = ("name",)
    readonly_fields = ("name", "payload", "created_at")
    date_hierarchy = "created_at"
    inlines = [HandlerRunInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(HandlerRun)
class HandlerRunAdmin(NeverDeletedMixin, admin.ModelAdmin):
    list_display = ("id", "event", "handler_name", "status", "attempts", "next_try", "finished_at")
    list_filter = ("status", "handler", "event__name")
    search_fields = ("handler", "event__name")
    list_select_related = ("event",)
    readonly_fields = ("event", "handler", "status", "attempts", "next_try", "last_error", "finished_at")
    inlines = [TransitionLogInline]
    actions = ["retry_now"]

    @admin.display(description="next try", ordering="next_attempt_at")
    def next_try(self, run: HandlerRun):
        return _next_try(run)

    @admin.display(description="handler", ordering="handler")
    def handler_name(self, run: HandlerRun) -> str:
        return _handler_short(run)

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Retry now", permissions=["change"])
    def retry_now(self, request, queryset):
        for run in queryset.order_by("pk"):
            try:
                events.handler_run_requeue(run_id=run.pk, actor=request.user)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, f"{run} queued again.", messages.SUCCESS)


@admin.register(TransitionLog)
class TransitionLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "content_type", "object_id", "transition", "source", "target", "actor", "reason")
    list_filter = ("content_type", "transition", "target")
    search_fields = ("=object_id", "reason", "actor__username")
    list_select_related = ("content_type", "actor")
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(NeverDeletedMixin, admin.ModelAdmin):
    """Every message to a subscriber and where its delivery stands: queued, sent, failed (tried again later), given
    up, or not sent (why). Written only by cos.notifications; "Send again" asks it for another try."""

    list_display = ("created_at", "customer", "user", "kind", "channel", "to", "status", "attempts", "sent_at")
    list_filter = ("status", "kind", "channel", "language")
    search_fields = ("to", "subject", "key", "customer__email", "customer__last_name", "customer__company_name")
    list_select_related = ("customer", "user")
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        ("customer", "user", "kind", "key"),
        ("channel", "to", "language"),
        ("status", "attempts", "next_attempt_at", "sent_at"),
        "skip_reason",
        "last_error",
        "provider_message_id",
        "subject",
        "body",
        "attachments",
        "created_at",
    )
    inlines = [TransitionLogInline]
    actions = [
        service_action(
            notifications.message_requeue,
            id_arg="message_id",
            description="Send again now (failed, given-up or unsent messages)",
            permission="send_again",
        )
    ]

    def get_readonly_fields(self, request, obj=None):
        return [name for row in self.fields for name in (row if isinstance(row, tuple) else (row,))]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_send_again_permission(self, request) -> bool:
        return request.user.has_perm("cos.change_message")
