"""Admin for the marketplace: marketplaces, participations, catalog (read-mostly), orders, subscriptions."""

from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from cos.admin_tools import (
    REFUSALS,
    ActionForm,
    GuardedFieldsMixin,
    NeverDeletedMixin,
    TransitionLogInline,
    form_action,
    refusal_text,
    service_action,
)
from marketplace import services
from marketplace.choices import (
    ENDED_SUBSCRIPTION_STATUSES,
    SEGMENTS_WITH_TAX_INCLUDED,
    CancellationReason,
    LifecycleReason,
)
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
    """The marketplace's providers; a provider joins on the participation's own add page."""

    model = Participation
    fields = ("provider", "status", "auto_accept_orders", "billing_cycle")
    readonly_fields = ("provider", "status")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class MarketplaceAddForm(forms.ModelForm):
    """A new marketplace: its prices include VAT as its segment says (consumers see gross prices), unless chosen."""

    BY_SEGMENT, INCLUDED, ADDED = "segment", "included", "added"
    prices_include_tax = forms.ChoiceField(
        label="Prices include tax",
        choices=[
            (BY_SEGMENT, "As its segment: including VAT for residential and municipal, excluding VAT for business"),
            (INCLUDED, "Including VAT (gross prices, the VAT they include stated)"),
            (ADDED, "Excluding VAT (net prices, VAT added on top)"),
        ],
        initial=BY_SEGMENT,
        help_text=Marketplace._meta.get_field("prices_include_tax").help_text,
    )

    class Meta:
        model = Marketplace
        fields = (
            "name",
            "slug",
            "segment",
            "currency",
            "tax_rate",
            "prices_include_tax",
            "time_zone",
            "areas",
            "takes_preorders",
            "requires_installation_window",
            "terms_text",
        )

    def clean(self):
        cleaned = super().clean()
        choice = cleaned.get("prices_include_tax")
        if choice == self.BY_SEGMENT:
            cleaned["prices_include_tax"] = cleaned.get("segment") in SEGMENTS_WITH_TAX_INCLUDED
        else:
            cleaned["prices_include_tax"] = choice == self.INCLUDED
        return cleaned


@admin.register(Marketplace)
class MarketplaceAdmin(GuardedFieldsMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "segment", "currency", "tax_rate", "prices_include_tax", "takes_preorders")
    list_filter = ("segment", "currency", "prices_include_tax", "takes_preorders")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("areas",)
    inlines = [ParticipationInline]
    # Its prices, orders and invoices are in its currency.
    guarded_fields = ("currency",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = MarketplaceAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        """Whether prices include tax is fixed once something is sold here: the subscriptions' prices were agreed
        that way, and their credits and charges must be reckoned the same way to the end."""
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and obj.subscriptions.exclude(status__in=ENDED_SUBSCRIPTION_STATUSES).exists():
            readonly += ("prices_include_tax",)
        return readonly


@admin.register(Participation)
class ParticipationAdmin(GuardedFieldsMixin, admin.ModelAdmin):
    list_display = ("provider", "marketplace", "status", "auto_accept_orders", "billing_cycle")
    list_filter = ("status", "marketplace", "provider")
    list_select_related = ("provider", "marketplace")
    readonly_fields = ("status",)
    guarded_fields = ("marketplace", "provider")
    filter_horizontal = ("barred_areas",)
    inlines = [TransitionLogInline]
    actions = [
        service_action(services.participation_suspend, id_arg="participation_id", description="Suspend"),
        service_action(services.participation_resume, id_arg="participation_id", description="Resume"),
    ]


class ReadMostlyAdmin(GuardedFieldsMixin, admin.ModelAdmin):
    """The provider owns its catalog (through the API); the operator looks, and corrects only with the permission.
    Every save goes through the catalog's service (`catalog_save`); whose row it is never changes here."""

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_correct_permission(self, request) -> bool:
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        self.catalog_save(obj)

    def catalog_save(self, obj) -> None:
        """Save `obj` through the catalog service that owns it."""
        raise NotImplementedError


def _one_by_one(modeladmin, request, queryset, *, service, done: str) -> None:
    """Call `service(obj)` for each selected object; a refusal becomes an error message naming the object."""
    for obj in queryset.order_by("pk"):
        label = str(obj)
        try:
            service(obj)
        except REFUSALS as refused:
            modeladmin.message_user(request, f"{label}: {refusal_text(refused)}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{label}: {done}", messages.SUCCESS)


PRICE_FIELDS = ("product", "marketplace", "monthly_amount", "start_fee", "currency", "valid_from", "valid_to")


class PriceInline(admin.TabularInline):
    """The product's price versions, read-only: a new version is added on the price's own page."""

    model = Price
    extra = 0
    can_delete = False
    show_change_link = True
    fields = PRICE_FIELDS[1:]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Product)
class ProductAdmin(ReadMostlyAdmin):
    list_display = ("name", "provider", "category", "download_mbps", "upload_mbps", "service_profile", "retired_at")
    list_filter = ("category", "provider", ("retired_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "service_profile")
    list_select_related = ("provider",)
    readonly_fields = ("retired_at",)
    guarded_fields = ("provider",)
    inlines = [PriceInline]
    actions = ["retire"]

    def catalog_save(self, product) -> None:
        services.product_save(product=product)

    @admin.action(description="Retire (stop selling; subscriptions stay)", permissions=["correct"])
    def retire(self, request, queryset):
        _one_by_one(
            self,
            request,
            queryset,
            service=lambda product: services.product_retire(product_id=product.pk),
            done="retired.",
        )


class PriceVersionForm(forms.ModelForm):
    """A new price version, refused with the rules of the service that adds it (`price_save`)."""

    class Meta:
        model = Price
        fields = PRICE_FIELDS

    def _post_clean(self):
        super()._post_clean()
        if self.errors or self.instance.pk is not None:
            return
        # The service's own rules (an overlap refused, the open-ended version closed) decide: it is tried on a copy
        # in a savepoint that is rolled back, so a refusal shows next to its field instead of failing the save.
        fields = [field.attname for field in Price._meta.concrete_fields if field.name in PRICE_FIELDS]
        trial = Price(**{name: getattr(self.instance, name) for name in fields})
        try:
            with transaction.atomic():
                services.price_save(price=trial)
                transaction.set_rollback(True)
        except ValidationError as refused:
            self.add_error(None, refused)


@admin.register(Price)
class PriceAdmin(ReadMostlyAdmin):
    """Price versions: a version's amounts and dates never change in place (invoices and settlements were computed
    from them); a new version, added here through `price_save`, closes the open-ended one."""

    list_display = ("product", "marketplace", "monthly_amount", "start_fee", "currency", "valid_from", "valid_to")
    list_filter = ("marketplace", "product__provider", "currency")
    list_select_related = ("product__provider", "marketplace")
    search_fields = ("product__name",)
    form = PriceVersionForm
    guarded_fields = PRICE_FIELDS
    actions = ["start_new_version", "retire"]

    def catalog_save(self, price) -> None:
        services.price_save(price=price)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is not None and self.has_add_permission(request):
            readonly += ("new_version",)
        return readonly

    def save_model(self, request, obj, form, change):
        if not change:  # an existing version has nothing that can be saved
            super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None) -> bool:
        # A version that sold is history; "Retire" removes only one that never started.
        return False

    @admin.display(description="New price version")
    def new_version(self, price) -> str:
        return format_html('<a href="{}">Add a version from this one</a>', _new_version_url(price))

    @admin.action(description="New price version (from the selected one)", permissions=["add"])
    def start_new_version(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one price to start the new version from.", messages.ERROR)
            return None
        return HttpResponseRedirect(_new_version_url(queryset.get()))

    @admin.action(description="Retire (stop selling at this price from today)", permissions=["correct"])
    def retire(self, request, queryset):
        _one_by_one(
            self,
            request,
            queryset,
            service=lambda price: services.price_retire(price_id=price.pk),
            done="retired (one that had not started is removed).",
        )


def _new_version_url(price: Price) -> str:
    """The add form, filled in from `price`, starting today, or the day after the version starts where that is later
    (a new version starts after the one it closes)."""
    starts = max(timezone.localdate(), price.valid_from + timedelta(days=1))
    initial = {
        "product": price.product_id,
        "marketplace": price.marketplace_id,
        "currency": price.currency,
        "monthly_amount": price.monthly_amount,
        "start_fee": price.start_fee,
        "valid_from": starts.isoformat(),
    }
    return f"{reverse('admin:marketplace_price_add')}?{urlencode(initial)}"


@admin.register(Promotion)
class PromotionAdmin(ReadMostlyAdmin):
    list_display = ("name", "product", "kind", "value", "periods", "valid_from", "valid_to")
    list_filter = ("kind", "product__provider")
    list_select_related = ("product__provider",)
    search_fields = ("name", "product__name")
    guarded_fields = ("product",)

    def catalog_save(self, promotion) -> None:
        services.promotion_save(promotion=promotion)


@admin.register(ContractTerm)
class ContractTermAdmin(ReadMostlyAdmin):
    list_display = ("name", "provider", "minimum_months", "notice_days")
    list_filter = ("provider",)
    list_select_related = ("provider",)
    guarded_fields = ("provider",)

    def catalog_save(self, term) -> None:
        services.contract_term_save(term=term)


@admin.register(EligibilityRule)
class EligibilityRuleAdmin(ReadMostlyAdmin):
    list_display = ("product", "customer_types", "address_statuses", "building_types", "max_per_address")
    list_filter = ("product__provider",)
    list_select_related = ("product__provider",)
    filter_horizontal = ("marketplaces", "areas")
    guarded_fields = ("product",)

    def catalog_save(self, rule) -> None:
        # The marketplaces and areas are set after the save, from the form (ModelAdmin.save_related).
        services.eligibility_save(rule=rule)


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
class OrderAdmin(NeverDeletedMixin, admin.ModelAdmin):
    list_display = ("id", "status", "provider", "marketplace", "customer", "address", "created_at")
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
class ValidationFailureAdmin(NeverDeletedMixin, admin.ModelAdmin):
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
    list_display = ("id", "product", "customer", "address", "status", "monthly_amount", "ends_on")
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
