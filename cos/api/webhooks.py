"""Provider API of webhooks: your endpoints (each with its event types and a signing secret shown once), the events
you were sent, the delivery log with every try, replay and secret rotation. cos.webhooks does the work."""

from datetime import timedelta

import django_filters
from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cos import webhooks
from cos.api.filters import DateTimeFilter, IdFilter
from cos.api.providers import ProviderScopedMixin
from cos.api.schema import ERROR_409, error
from cos.api.serializers import InputSerializer, ModelSerializer
from cos.choices import WebhookDeliveryStatus, WebhookEndpointStatus
from cos.models import ProviderNotification, WebhookAttempt, WebhookDelivery, WebhookEndpoint

EVENT_TYPE_CHOICES = sorted(webhooks.EVENT_TYPES)


class EndpointSerializer(ModelSerializer):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPE_CHOICES),
        required=False,
        allow_empty=True,
        help_text="The event types it wants; none (empty): every type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "format",
            "status",
            "disabled_reason",
            "failing_since",
            "created_at",
        ]
        read_only_fields = ["id", "format", "status", "disabled_reason", "failing_since", "created_at"]
        extra_kwargs = {"url": {"help_text": "https:// URL of your receiver (it answers 2xx to take a message)."}}


class EndpointCreatedSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret: shown now, never again.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class EndpointUpdateSerializer(EndpointSerializer):
    class Meta(EndpointSerializer.Meta):
        extra_kwargs = {"url": {"required": False}}


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["at", "status_code", "latency_ms", "error"]


class DeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(source="notification.webhook_id", read_only=True)
    event = serializers.IntegerField(source="notification_id", read_only=True)
    endpoint = serializers.IntegerField(source="endpoint_id", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "webhook_id",
            "event",
            "endpoint",
            "event_type",
            "status",
            "attempts",
            "last_status_code",
            "last_latency_ms",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        ]


class DeliveryDetailSerializer(DeliverySerializer):
    tries = AttemptSerializer(source="attempts_made", many=True, read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "tries"]


class EventSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="topic")
    data = serializers.JSONField(source="payload")

    class Meta:
        model = ProviderNotification
        fields = ["id", "webhook_id", "type", "created_at", "data"]


class ReplayRangeSerializer(InputSerializer):
    since = serializers.DateTimeField(help_text="From this instant (what you were sent from then on).")
    until = serializers.DateTimeField(required=False, help_text="Up to this instant (now if left out).")


class RotateSerializer(InputSerializer):
    overlap_seconds = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=settings.WEBHOOK_SECRET_OVERLAP_MAX_SECONDS,
        help_text=f"How long the old secret signs too (default {settings.WEBHOOK_SECRET_OVERLAP_SECONDS} s).",
    )


SECRET_RESPONSE = inline_serializer(
    "WebhookSecret",
    {
        "secret": serializers.CharField(help_text="The new signing secret: shown now, never again."),
        "old_secrets_valid_until": serializers.DateTimeField(),
    },
)
REPLAY_RESPONSE = inline_serializer("WebhookReplay", {"queued": serializers.IntegerField()})
ENDPOINT_409 = error(
    "The endpoint is not enabled (code webhook_disabled), or is not disabled (transition_not_allowed)."
)


class DeliveryFilter(django_filters.FilterSet):
    endpoint = IdFilter(field_name="endpoint_id")
    status = django_filters.ChoiceFilter(choices=WebhookDeliveryStatus.choices)
    event_type = django_filters.CharFilter()
    since = DateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = WebhookDelivery
        fields = ["endpoint", "status", "event_type", "since"]


class EventFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(field_name="topic", choices=[(t, t) for t in EVENT_TYPE_CHOICES])
    since = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = DateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = ProviderNotification
        fields = ["type", "since", "until"]


class WebhookEndpointViewSet(
    ProviderScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your webhook endpoints. Each message is a POST of JSON `{"type", "timestamp", "data"}` signed as Standard
    Webhooks says (`webhook-id`, `webhook-timestamp`, `webhook-signature`: HMAC-SHA256 with the secret shown when
    the endpoint is made); answer 2xx to take it. Not taken, it is tried again after a doubling wait for three
    days; an endpoint failing that long is disabled, and you are told."""

    queryset = WebhookEndpoint.objects.exclude(status=WebhookEndpointStatus.REMOVED).order_by("pk")
    serializer_class = EndpointSerializer
    http_method_names = ["get", "post", "patch", "delete"]

    @extend_schema(request=EndpointSerializer, responses={201: EndpointCreatedSerializer})
    def create(self, request, *args, **kwargs):
        """A new endpoint; the answer carries its signing secret, shown only now."""
        incoming = EndpointSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        endpoint, secret = webhooks.webhook_endpoint_register(
            provider=request.provider,
            url=data["url"],
            event_types=data.get("event_types", []),
            description=data.get("description", ""),
            actor=request.user,
        )
        endpoint.secret = secret
        return Response(EndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EndpointUpdateSerializer, responses={200: EndpointSerializer})
    def partial_update(self, request, *args, **kwargs):
        """Change its URL, event types or description."""
        endpoint = self.get_object()
        incoming = EndpointUpdateSerializer(endpoint, data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        endpoint = webhooks.webhook_endpoint_update(
            endpoint_id=endpoint.pk,
            provider=request.provider,
            url=data.get("url"),
            event_types=data.get("event_types"),
            description=data.get("description"),
            actor=request.user,
        )
        return Response(EndpointSerializer(endpoint).data)

    def update(self, request, *args, **kwargs):
        return self.partial_update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        """Remove it: nothing more is sent to it (its delivery log stays)."""
        endpoint = self.get_object()
        webhooks.webhook_endpoint_remove(endpoint_id=endpoint.pk, provider=request.provider, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: EndpointSerializer, 409: ENDPOINT_409})
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        """Enable a disabled endpoint: what waits for it is sent now."""
        endpoint = webhooks.webhook_endpoint_enable(
            endpoint_id=self.get_object().pk, provider=request.provider, actor=request.user
        )
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(request=RotateSerializer, responses={200: SECRET_RESPONSE})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new signing secret; the old one signs too for the overlap (every message carries both signatures), so
        your receiver can switch without missing one."""
        endpoint = self.get_object()
        incoming = RotateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        overlap = incoming.validated_data.get("overlap_seconds", settings.WEBHOOK_SECRET_OVERLAP_SECONDS)
        secret = webhooks.webhook_secret_rotate(
            endpoint_id=endpoint.pk, provider=request.provider, overlap_seconds=overlap, actor=request.user
        )
        until = timezone.now() + timedelta(seconds=overlap)
        return Response({"secret": secret, "old_secrets_valid_until": until})

    @extend_schema(request=ReplayRangeSerializer, responses={202: REPLAY_RESPONSE, 409: ENDPOINT_409})
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        """Send again everything you were sent in a time range that this endpoint wants (also what came before it
        was made or while it was disabled), each with its own webhook-id as before: de-duplicate on it."""
        endpoint = self.get_object()
        incoming = ReplayRangeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        queued = webhooks.webhook_replay_range(
            endpoint_id=endpoint.pk,
            provider=request.provider,
            since=data["since"],
            until=data.get("until") or timezone.now(),
            actor=request.user,
        )
        return Response({"queued": queued}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: DeliverySerializer, 409: ENDPOINT_409})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a `webhook.test` message to this endpoint now."""
        delivery = webhooks.webhook_test(
            endpoint_id=self.get_object().pk, provider=request.provider, actor=request.user
        )
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses={
            200: inline_serializer(
                "WebhookEventType", {"type": serializers.CharField(), "description": serializers.CharField()}, many=True
            )
        },
        filters=False,
    )
    @action(detail=False, methods=["get"], url_path="event-types", pagination_class=None, filter_backends=[])
    def event_types(self, request):
        """Every event type you can be sent, and what it means."""
        return Response([{"type": t, "description": d} for t, d in sorted(webhooks.EVENT_TYPES.items())])


class WebhookDeliveryViewSet(
    ProviderScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The delivery log: each event to each of your endpoints, where it stands, and (one by one) every try with
    your receiver's answer and how long it took."""

    queryset = WebhookDelivery.objects.select_related("notification").order_by("-created_at", "-pk")
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilter
    provider_lookup = "endpoint__provider"

    def get_serializer_class(self):
        return DeliveryDetailSerializer if self.action == "retrieve" else DeliverySerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("attempts_made")
        return queryset

    @extend_schema(request=None, responses={202: DeliverySerializer, 409: ERROR_409})
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        """Send it again now (the same webhook-id and body)."""
        delivery = webhooks.webhook_delivery_replay(
            delivery_id=self.get_object().pk, provider=request.provider, actor=request.user
        )
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookEventViewSet(
    ProviderScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Every event you were sent (or would have been, with no endpoint then), newest first: the same `data` as
    the webhook's body. Poll it, or find what to replay."""

    queryset = ProviderNotification.objects.order_by("-created_at", "-pk")
    serializer_class = EventSerializer
    filterset_class = EventFilter


def register(router) -> None:
    router.register("webhooks", WebhookEndpointViewSet, basename="webhook")
    router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")
    router.register("webhook-events", WebhookEventViewSet, basename="webhook-event")
