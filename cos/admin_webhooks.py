"""The admin of providers' webhooks: what each provider was told, its endpoints (registered here or through the API),
and the delivery log with every try. Nothing here is edited in place: endpoints are registered, enabled, rotated,
tested and removed, and deliveries replayed, through cos.webhooks."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from cos import webhooks
from cos.admin_tools import REFUSALS, NeverDeletedMixin, TransitionLogInline, refusal_text, service_action
from cos.choices import OrganizationKind
from cos.models import (
    Organization,
    ProviderNotification,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)


class ReadOnlyMixin(NeverDeletedMixin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class DeliveryInline(ReadOnlyMixin, admin.TabularInline):
    model = WebhookDelivery
    fields = ("endpoint", "event_type", "status", "attempts", "last_status_code", "last_latency_ms", "delivered_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True


@admin.register(ProviderNotification)
class ProviderNotificationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """What each provider is told (an order accepted, its service live, a switch away from it, ...), and where each
    went: one delivery per webhook endpoint that wanted it."""

    list_display = ("topic", "provider", "created_at", "webhook_id", "deliveries_count")
    list_filter = ("topic", "provider")
    list_select_related = ("provider",)
    search_fields = ("=webhook_id",)
    date_hierarchy = "created_at"
    readonly_fields = ("provider", "event", "topic", "webhook_id", "payload", "created_at")
    inlines = [DeliveryInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(deliveries_total=Count("deliveries"))

    @admin.display(description="deliveries", ordering="deliveries_total")
    def deliveries_count(self, obj) -> int:
        return obj.deliveries_total


class EndpointAddForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        choices=[(t, f"{t}: {d}") for t, d in sorted(webhooks.EVENT_TYPES.items())],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("provider", "url", "description", "event_types")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = Organization.objects.filter(kind=OrganizationKind.SERVICE_PROVIDER)

    def clean_url(self):
        try:
            return webhooks.url_check(self.cleaned_data["url"])
        except ValidationError as refused:
            raise ValidationError(refused.error_dict["url"]) from refused


def secrets_page(modeladmin, request, issued, overlap=None) -> TemplateResponse:
    """The page that shows the secrets just made, once (rendered, never stored in a message)."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Webhook signing secrets",
        "issued": issued,
        "overlap": overlap,
        "back_url": reverse("admin:cos_webhookendpoint_changelist"),
    }
    response = TemplateResponse(request, "admin/cos/webhook_secrets.html", context)
    add_never_cache_headers(response)
    return response


class AttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = WebhookAttempt
    fields = ("at", "status_code", "latency_ms", "error", "response_body")
    readonly_fields = fields
    extra = 0
    ordering = ("-at", "-id")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(NeverDeletedMixin, admin.ModelAdmin):
    list_display = ("url", "provider", "status", "format", "failing_since", "created_at")
    list_filter = ("status", "format", "provider")
    list_select_related = ("provider",)
    search_fields = ("url", "description")
    readonly_fields = (
        "provider",
        "url",
        "description",
        "event_types",
        "format",
        "tmf_api",
        "tmf_query",
        "status",
        "failing_since",
        "disabled_reason",
        "created_by",
        "created_at",
    )
    inlines = [TransitionLogInline]
    actions = [
        "rotate_secret",
        "send_test",
        service_action(webhooks.webhook_endpoint_enable, id_arg="endpoint_id", description="Enable again"),
        service_action(webhooks.webhook_endpoint_remove, id_arg="endpoint_id", description="Remove"),
    ]

    def get_fields(self, request, obj=None):
        return EndpointAddForm.Meta.fields if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = EndpointAddForm
        return super().get_form(request, obj, **kwargs)

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        endpoint, secret = webhooks.webhook_endpoint_register(
            provider=obj.provider,
            url=obj.url,
            event_types=form.cleaned_data.get("event_types") or [],
            description=obj.description,
            actor=request.user,
        )
        for field in WebhookEndpoint._meta.concrete_fields:
            if field.attname != "status":  # an FSM field, set only by its transitions
                setattr(obj, field.attname, getattr(endpoint, field.attname))
        obj.__dict__["status"] = endpoint.status
        obj._state.adding = False
        self._issued = [(endpoint, secret)]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # a new endpoint has no history yet

    def save_related(self, request, form, formsets, change):
        """Inlines of a new endpoint: none (its history starts with it)."""

    def response_add(self, request, obj, post_url_continue=None):
        return secrets_page(self, request, getattr(self, "_issued", []))

    @admin.action(description="Rotate the signing secret (the old one signs too for a day)", permissions=["change"])
    def rotate_secret(self, request, queryset):
        issued = []
        for endpoint in queryset.order_by("pk"):
            try:
                issued.append((endpoint, webhooks.webhook_secret_rotate(endpoint_id=endpoint.pk, actor=request.user)))
            except REFUSALS as refused:
                self.message_user(request, f"{endpoint}: {refusal_text(refused)}", messages.ERROR)
        overlap = timezone.now() + timedelta(seconds=settings.WEBHOOK_SECRET_OVERLAP_SECONDS)
        return secrets_page(self, request, issued, overlap=overlap)

    @admin.action(description="Send a test message", permissions=["change"])
    def send_test(self, request, queryset):
        for endpoint in queryset.order_by("pk"):
            try:
                delivery = webhooks.webhook_test(endpoint_id=endpoint.pk, actor=request.user)
            except REFUSALS as refused:
                self.message_user(request, f"{endpoint}: {refusal_text(refused)}", messages.ERROR)
                continue
            delivery.refresh_from_db()
            self.message_user(
                request, f"{endpoint}: test message {delivery.get_status_display().lower()}.", messages.INFO
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """The delivery log: each notification to each endpoint, where it stands, and every try (answer, latency)."""

    list_display = (
        "event_type",
        "endpoint",
        "provider",
        "status",
        "attempts",
        "last_status_code",
        "last_latency_ms",
        "created_at",
        "delivered_at",
    )
    list_filter = ("status", "event_type", "endpoint__provider")
    list_select_related = ("endpoint__provider", "notification")
    search_fields = ("=notification__webhook_id", "endpoint__url")
    date_hierarchy = "created_at"
    readonly_fields = (
        "notification",
        "webhook_id",
        "endpoint",
        "event_type",
        "status",
        "attempts",
        "retry_from",
        "next_attempt_at",
        "last_status_code",
        "last_latency_ms",
        "last_error",
        "delivered_at",
        "body",
    )
    fields = readonly_fields
    inlines = [AttemptInline, TransitionLogInline]
    actions = [
        service_action(webhooks.webhook_delivery_replay, id_arg="delivery_id", description="Replay (send again now)")
    ]

    @admin.display(ordering="endpoint__provider__name")
    def provider(self, obj):
        return obj.endpoint.provider

    @admin.display(description="webhook-id")
    def webhook_id(self, obj) -> str:
        return obj.notification.webhook_id

    def has_change_permission(self, request, obj=None) -> bool:
        # the change list's actions need it; the change page itself stays read-only (every field is)
        return obj is None and super(ReadOnlyMixin, self).has_change_permission(request, obj)
