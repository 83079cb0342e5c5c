"""Admin for the marketplace: marketplaces, participations, catalog (read-mostly), orders, subscriptions."""

from django import forms
from django.contrib import admin

from cos.admin_tools import ActionForm, TransitionLogInline, form_action, service_action
from marketplace import services
from marketplace.choices import CancellationReason, LifecycleReason
from marketplace.models import (
    ContractTerm,
    EligibilityRule,
    Interest,
    Marketplace,
    Order,
    OrderLine,
    Participation,
    Price,
    Product,
    Promotion,
    Subscription,
    SubscriptionChange,
    Switch,
    ValidationFailure,
)


class ParticipationInline(admin.TabularInline):
    model = Participation
    fields = ("provider", "status", "auto_accept_orders", "billing_cycle")
    readonly_fields = ("status",)
    extra = 0


@admin.register(Marketplace)
class MarketplaceAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "segment", "currency", "tax_rate", "takes_preorders")
    list_filter = ("segment", "currency", "takes_preorders")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("areas",)
    inlines = [ParticipationInline]


@admin.register(Participation)
class ParticipationAdmin(admin.ModelAdmin):
    list_display = ("provider", "marketplace", "status", "auto_accept_orders", "billing_cycle")
    list_filter = ("status", "marketplace", "provider")
    list_select_related = ("provider", "marketplace")
    readonly_fields = ("status",)
    filter_horizontal = ("barred_areas",)
    inlines = [TransitionLogInline]
    actions = [
        service_action(services.participation_suspend, id_arg="participation_id", description="Suspend"),
        service_action(services.participation_resume, id_arg="participation_id", description="Resume"),
    ]


class ReadMostlyAdmin(admin.ModelAdmin):
    """The provider owns its catalog (through the API); the operator looks, and corrects only with the permission."""

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser


class PriceInline(admin.TabularInline):
    model = Price
    extra = 0
    fields = ("marketplace", "monthly_amount", "start_fee", "currency", "valid_from", "valid_to")


@admin.register(Product)
class ProductAdmin(ReadMostlyAdmin):
    list_display = ("name", "provider", "category", "download_mbps", "upload_mbps", "service_profile", "retired_at")
    list_filter = ("category", "provider", ("retired_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "service_profile")
    list_select_related = ("provider",)
    inlines = [PriceInline]


@admin.register(Price)
class PriceAdmin(ReadMostlyAdmin):
    list_display = ("product", "marketplace", "monthly_amount", "start_fee", "currency", "valid_from", "valid_to")
    list_filter = ("marketplace", "product__provider", "currency")
    list_select_related = ("product__provider", "marketplace")
    search_fields = ("product__name",)


@admin.register(Promotion)
class PromotionAdmin(ReadMostlyAdmin):
    list_display = ("name", "product", "kind", "value", "periods", "valid_from", "valid_to")
    list_filter = ("kind", "product__provider")
    list_select_related = ("product__provider",)
    search_fields = ("name", "product__name")


@admin.register(ContractTerm)
class ContractTermAdmin(ReadMostlyAdmin):
    list_display = ("name", "provider", "minimum_months", "notice_days")
    list_filter = ("provider",)
    list_select_related = ("provider",)


@admin.register(EligibilityRule)
class EligibilityRuleAdmin(ReadMostlyAdmin):
    list_display = ("product", "customer_types", "address_statuses", "building_types", "max_per_address")
    list_filter = ("product__provider",)
    list_select_related = ("product__provider",)
    filter_horizontal = ("marketplaces", "areas")


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = (
        "product",
        "monthly_amount",
        "start_fee",
        "currency",
        "promotion_kind",
        "promotion_value",
        "promotion_periods",
        "minimum_months",
        "notice_days",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "provider", "marketplace", "customer", "address", "channel", "created_at")
    list_filter = ("status", "channel", "marketplace", "provider", "is_preorder", "created_at")
    search_fields = ("=id", "customer__email", "customer__last_name", "address__external_id", "idempotency_key")
    list_select_related = ("provider", "marketplace", "customer", "address")
    date_hierarchy = "created_at"
    readonly_fields = (
        "status",
        "customer",
        "address",
        "marketplace",
        "provider",
        "channel",
        "idempotency_key",
        "request_fingerprint",
        "is_preorder",
        "terms_accepted_at",
        "submitted_at",
        "decided_at",
        "rejection_reason",
        "cancellation_reason",
        "placed_by",
    )
    inlines = [OrderLineInline, TransitionLogInline]
    actions = [
        service_action(services.order_accept, id_arg="order_id", description="Accept (creates subscriptions)"),
        service_action(services.order_cancel, id_arg="order_id", description="Cancel"),
    ]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ValidationFailure)
class ValidationFailureAdmin(admin.ModelAdmin):
    list_display = ("created_at", "code", "message", "channel", "provider", "marketplace", "address")
    list_filter = ("code", "channel", "provider", "marketplace")
    search_fields = ("message", "idempotency_key")
    list_select_related = ("provider", "marketplace", "address")
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class TerminateForm(ActionForm):
    reason = forms.ChoiceField(choices=[("", "Choose a reason")] + CancellationReason.choices)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Note")
    ends_on = forms.DateField(
        required=False,
        label="End day",
        help_text="The first day without service. Empty: the earliest day the notice and minimum term allow.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    waive_notice = forms.BooleanField(
        required=False, label="Waive the notice and minimum term: end today, no early-termination fee"
    )


class LifecycleForm(ActionForm):
    reason = forms.ChoiceField(choices=LifecycleReason.choices, label="Reason code")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Note")


class ChangePlanForm(LifecycleForm):
    product = forms.ModelChoiceField(
        Product.objects.filter(retired_at__isnull=True).select_related("provider"),
        label="New plan",
        help_text="A product of the subscription's provider and category, at its current price.",
    )


def _terminate(subscription, data, actor) -> str:
    ended = services.subscription_terminate(
        subscription_id=subscription.pk,
        reason=data["reason"],
        note=data["note"],
        ends_on=data["ends_on"],
        waive_notice=data["waive_notice"],
        actor=actor,
    )
    fee = (
        f"; the early-termination fee of {ended.early_termination_fee} {ended.currency} goes on the final invoice"
        if ended.early_termination_charged
        else ""
    )
    if ended.status == "terminated":
        return f"terminated today{fee}."
    return f"under notice, ends on {ended.ends_on:%Y-%m-%d}{fee}."


def _suspend(subscription, data, actor):
    services.subscription_suspend(
        subscription_id=subscription.pk, reason_code=data["reason"], reason=data["note"], actor=actor
    )


def _resume(subscription, data, actor):
    services.subscription_resume(
        subscription_id=subscription.pk, reason_code=data["reason"], reason=data["note"], actor=actor
    )


def _change(subscription, data, actor):
    services.subscription_change_request(
        subscription_id=subscription.pk,
        product_id=data["product"].pk,
        reason_code=data["reason"],
        note=data["note"],
        actor=actor,
    )


class ChangeInline(admin.TabularInline):
    model = SubscriptionChange
    fk_name = "subscription"
    extra = 0
    can_delete = False
    fields = (
        "kind",
        "status",
        "from_product",
        "to_product",
        "to_amount",
        "effective_on",
        "applied_at",
        "reason_code",
        "requested_by",
    )
    readonly_fields = fields
    verbose_name_plural = "plan changes"

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "product",
        "provider",
        "customer",
        "address",
        "status",
        "monthly_amount",
        "ends_on",
        "billing_cycle",
    )
    list_filter = ("status", "category", "provider", "marketplace", "billing_cycle", "cancellation_reason")
    search_fields = ("=id", "customer__email", "address__external_id", "address__street")
    list_select_related = ("product", "provider", "customer", "address")
    readonly_fields = [f.name for f in Subscription._meta.fields]
    inlines = [ChangeInline, TransitionLogInline]
    actions = [
        form_action(
            form_class=TerminateForm, description="Terminate (reason; notice and minimum term)", call=_terminate
        ),
        form_action(form_class=LifecycleForm, description="Suspend (reason code)", call=_suspend),
        form_action(form_class=LifecycleForm, description="Resume (reason code)", call=_resume),
        form_action(form_class=ChangePlanForm, description="Change plan (reason code)", call=_change),
        service_action(
            services.subscription_notice_withdraw, id_arg="subscription_id", description="Withdraw the notice"
        ),
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SubscriptionChange)
class SubscriptionChangeAdmin(admin.ModelAdmin):
    """Every change of plan: what it was, what it became, from when (the network's verified moment)."""

    list_display = ("subscription", "kind", "status", "from_product", "to_product", "effective_on", "applied_at")
    list_filter = ("status", "kind", "subscription__provider")
    list_select_related = ("subscription__product", "from_product", "to_product")
    search_fields = ("=subscription__id",)
    readonly_fields = [f.name for f in SubscriptionChange._meta.fields]
    inlines = [TransitionLogInline]
    actions = [service_action(services.subscription_change_cancel, id_arg="change_id", description="Withdraw")]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class SwitchAbortForm(ActionForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label="Why (the subscriber and both providers are told)"
    )


def _switch_abort(switch, data, actor):
    services.switch_abort(switch_id=switch.pk, actor=actor, reason=data["reason"])


@admin.register(Switch)
class SwitchAdmin(admin.ModelAdmin):
    """Switches between providers: from whom, to whom, the hand-over day and its verified moment."""

    list_display = (
        "id",
        "category",
        "status",
        "from_provider",
        "to_provider",
        "address",
        "handover_on",
        "completed_at",
    )
    list_filter = ("status", "category", "order__provider", "from_subscription__provider")
    list_select_related = ("order__provider", "order__address", "from_subscription__provider")
    search_fields = ("=id", "=order__id", "order__address__street", "order__customer__email")
    readonly_fields = [f.name for f in Switch._meta.fields]
    inlines = [TransitionLogInline]
    actions = [form_action(form_class=SwitchAbortForm, description="Abort before the hand-over", call=_switch_abort)]

    @admin.display(description="from", ordering="from_subscription__provider__name")
    def from_provider(self, switch):
        return switch.from_subscription.provider

    @admin.display(description="to", ordering="order__provider__name")
    def to_provider(self, switch):
        return switch.order.provider

    @admin.display(description="address")
    def address(self, switch):
        return switch.order.address

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Interest)
class InterestAdmin(admin.ModelAdmin):
    list_display = ("email", "address", "customer_type", "created_at")
    list_filter = ("customer_type", "address__area")
    list_select_related = ("address",)
    search_fields = ("email",)
