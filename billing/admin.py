"""Admin for billing: rules, reason codes, accounts, invoices (actions through the services), the override audit."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from billing import overrides, services
from billing.choices import UNPAID_STATUSES, Collection
from billing.models import (
    BillingAccount,
    BillingConfig,
    BillingRun,
    BillingSchedule,
    Invoice,
    InvoiceLine,
    PricingOverride,
    ReasonCode,
)
from cos.admin_tools import REFUSALS, ActionForm, TransitionLogInline, action_with_form, refusal_text, service_action


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by billing itself: looked at, never added, changed or deleted by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OverridePermissionMixin:
    """Actions marked `permissions=["override_pricing"]` show only to users who may override prices."""

    def has_override_pricing_permission(self, request) -> bool:
        return request.user.has_perm(overrides.PERMISSION)


def _report(modeladmin, request, obj, success: str, service, **kwargs) -> None:
    """Call `service(**kwargs)` for `obj`; a refusal becomes an error message naming the object."""
    try:
        service(**kwargs)
    except REFUSALS as refused:
        modeladmin.message_user(request, f"{obj}: {refusal_text(refused)}", messages.ERROR)
    else:
        modeladmin.message_user(request, f"{obj}: {success}", messages.SUCCESS)


# --- rules and reason codes --------------------------------------------------------------------


@admin.register(BillingConfig)
class BillingConfigAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "marketplace",
        "provider",
        "billing_cycle",
        "due_days",
        "review_minutes",
        "late_fee_kind",
        "late_fee_value",
        "late_fee_grace_days",
        "refund_on_termination",
    )
    list_filter = ("marketplace", "late_fee_kind", "refund_on_termination")
    list_select_related = ("marketplace", "provider")


@admin.register(ReasonCode)
class ReasonCodeAdmin(admin.ModelAdmin):
    list_display = ("code", "label", "active")
    list_filter = ("active",)
    search_fields = ("code", "label")


# --- accounts ----------------------------------------------------------------------------------


class ScheduleInline(admin.TabularInline):
    model = BillingSchedule
    extra = 0
    can_delete = False
    fields = ("subscription", "cycle", "activated_on", "billed_until", "ends_on", "equipment_returned")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("subscription__product", "subscription__address")


class AutomaticCollectionFilter(admin.SimpleListFilter):
    title = "automatic collection"
    parameter_name = "automatic_collection"

    def lookups(self, request, model_admin):
        return [("without", "Customers without an automatic collection"), ("with", "With an automatic collection")]

    def queryset(self, request, queryset):
        automatic = BillingAccount.objects.filter(collection=Collection.AUTOMATIC).values("customer_id")
        if self.value() == "without":
            return queryset.exclude(customer_id__in=automatic)
        if self.value() == "with":
            return queryset.filter(customer_id__in=automatic)
        return queryset


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin):
    list_display = ("customer", "provider", "currency", "billing_cycle", "collection", "delivery", "invoice_email")
    list_filter = (AutomaticCollectionFilter, "collection", "delivery", "billing_cycle", "provider", "currency")
    search_fields = ("customer__email", "customer__last_name", "customer__first_name", "customer__company_name")
    list_select_related = ("customer", "provider")
    # The account's identity is billing's; its cycle is kept per subscription on the schedules; automatic
    # collection needs a payment method on file, so it is set where the payment method is, not here.
    readonly_fields = ("customer", "provider", "currency", "billing_cycle", "collection")
    show_full_result_count = False
    inlines = [ScheduleInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- invoices ----------------------------------------------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue (open or late, past the due day)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status__in=UNPAID_STATUSES, due_on__lt=timezone.localdate())
        return queryset


class LineInline(admin.TabularInline):
    model = InvoiceLine
    fk_name = "invoice"
    extra = 0
    can_delete = False
    fields = ("kind", "description", "amount", "period_start", "period_end", "rate", "days", "coverage", "voided")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class OverrideInline(admin.TabularInline):
    model = PricingOverride
    fk_name = "invoice"
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "old_value", "new_value", "reason_code", "actor", "note", "result")
    readonly_fields = fields
    verbose_name_plural = "pricing overrides"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("reason_code", "actor", "result")


class ReasonForm(ActionForm):
    reason = forms.CharField(widget=forms.Textarea, label="Why")


class ReasonCodeForm(ActionForm):
    reason_code = forms.ModelChoiceField(ReasonCode.objects.filter(active=True), label="Reason code")
    note = forms.CharField(required=False, widget=forms.Textarea, label="Note")


class AmountForm(ReasonCodeForm):
    amount = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), label="Amount (excluding tax)", localize=False
    )

    field_order = ["_selected_action", "amount", "reason_code", "note"]


@admin.register(Invoice)
class InvoiceAdmin(OverridePermissionMixin, admin.ModelAdmin):
    """Invoices change only through their actions (each a service); a finalized invoice never changes at all."""

    list_display = (
        "__str__",
        "kind",
        "status",
        "customer",
        "issuer",
        "marketplace",
        "total",
        "currency",
        "issued_on",
        "due_on",
    )
    list_filter = ("status", "kind", "reason", OverdueFilter, "issuer", "marketplace", "currency")
    search_fields = (
        "number",
        "account__customer__email",
        "account__customer__last_name",
        "account__customer__first_name",
        "account__customer__company_name",
    )
    list_select_related = ("account__customer", "issuer", "marketplace")
    show_full_result_count = False
    inlines = [LineInline, OverrideInline, TransitionLogInline]
    actions = [
        service_action(services.invoice_finalize, id_arg="invoice_id", description="Finalize (number and issue)"),
        "void",
        "credit",
        "discount",
        "write_off",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # The page of an invoice is for looking; the actions on the list are how it changes.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Customer", ordering="account__customer__last_name")
    def customer(self, invoice: Invoice) -> str:
        return str(invoice.account.customer)

    @admin.action(description="Void (with a reason)", permissions=["change"])
    def void(self, request, queryset):
        def apply(data):
            for invoice in queryset.order_by("pk"):
                _report(
                    self,
                    request,
                    invoice,
                    "voided.",
                    services.invoice_void,
                    invoice_id=invoice.pk,
                    actor=request.user,
                    reason=data["reason"],
                )

        return action_with_form(self, request, queryset, form_class=ReasonForm, title="Void invoices", apply=apply)

    def _amount_override(self, request, queryset, *, service, done: str, title: str):
        """An override with an amount and a reason code (credit, discount), applied to each selected invoice."""

        def apply(data):
            for invoice in queryset.order_by("pk"):
                _report(
                    self,
                    request,
                    invoice,
                    done.format(amount=data["amount"]),
                    service,
                    invoice_id=invoice.pk,
                    amount=data["amount"],
                    reason_code=data["reason_code"],
                    actor=request.user,
                    note=data["note"],
                )

        return action_with_form(self, request, queryset, form_class=AmountForm, title=title, apply=apply)

    @admin.action(description="Credit (a credit note, with a reason code)", permissions=["override_pricing"])
    def credit(self, request, queryset):
        return self._amount_override(
            request,
            queryset,
            service=overrides.invoice_credit,
            done="credited {amount} plus tax on a credit note.",
            title="Credit invoices",
        )

    @admin.action(description="Discount (with a reason code)", permissions=["override_pricing"])
    def discount(self, request, queryset):
        return self._amount_override(
            request,
            queryset,
            service=overrides.invoice_discount,
            done="discounted {amount} plus tax.",
            title="Discount invoices",
        )

    @admin.action(description="Write off (late invoices, with a reason code)", permissions=["override_pricing"])
    def write_off(self, request, queryset):
        def apply(data):
            for invoice in queryset.order_by("pk"):
                _report(
                    self,
                    request,
                    invoice,
                    "written off.",
                    overrides.invoice_write_off,
                    invoice_id=invoice.pk,
                    reason_code=data["reason_code"],
                    actor=request.user,
                    note=data["note"],
                )

        return action_with_form(
            self, request, queryset, form_class=ReasonCodeForm, title="Write off invoices", apply=apply
        )


class ManualPriceForm(ReasonCodeForm):
    amount = forms.DecimalField(max_digits=12, decimal_places=2, label="New amount (excluding tax)", localize=False)

    field_order = ["_selected_action", "amount", "reason_code", "note"]


@admin.register(InvoiceLine)
class InvoiceLineAdmin(OverridePermissionMixin, ReadOnlyAdmin):
    list_display = ("description", "invoice", "kind", "amount", "subscription_id", "period_start", "period_end")
    list_filter = ("kind", "voided")
    search_fields = ("invoice__number", "description")
    list_select_related = ("invoice",)
    show_full_result_count = False
    actions = ["manual_price"]

    @admin.action(description="Set a manual price (lines of drafts, reason code)", permissions=["override_pricing"])
    def manual_price(self, request, queryset):
        def apply(data):
            for line in queryset.order_by("pk"):
                _report(
                    self,
                    request,
                    line,
                    f"now {data['amount']}.",
                    overrides.line_price_override,
                    line_id=line.pk,
                    amount=data["amount"],
                    reason_code=data["reason_code"],
                    actor=request.user,
                    note=data["note"],
                )

        return action_with_form(
            self, request, queryset, form_class=ManualPriceForm, title="Set a manual price", apply=apply
        )


@admin.register(PricingOverride)
class PricingOverrideAdmin(ReadOnlyAdmin):
    """The audit of pricing exceptions: who, when, what it was, what it became, and why."""

    list_display = ("created_at", "kind", "invoice", "old_value", "new_value", "reason_code", "actor", "result", "note")
    list_filter = ("kind", "reason_code")
    search_fields = ("invoice__number", "note", "actor__username")
    list_select_related = ("invoice", "reason_code", "actor", "result")
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyAdmin):
    list_display = ("as_of", "status", "chunks", "chunks_done", "invoices", "lines", "created_at", "finished_at")
    list_filter = ("status",)
    date_hierarchy = "as_of"
