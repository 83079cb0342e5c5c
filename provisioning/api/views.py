"""Provider API of provisioning: the provider's own services, and activating one where the provider does that."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cos.api.providers import ProviderScopedMixin
from provisioning.models import ServiceInstance
from provisioning.requests import service_activate_by_provider

ERROR = inline_serializer("ServiceError", {"code": serializers.CharField(), "message": serializers.CharField()})


class ServiceSerializer(serializers.ModelSerializer):
    address = serializers.CharField(source="address.label")
    subscription = serializers.IntegerField(source="subscription_id")
    product = serializers.CharField(source="subscription.product.name")

    class Meta:
        model = ServiceInstance
        fields = [
            "id",
            "subscription",
            "product",
            "address",
            "status",
            "service_profile",
            "download_mbps",
            "upload_mbps",
            "activated_at",
            "deactivated_at",
        ]


class JobSerializer(serializers.Serializer):
    job = serializers.IntegerField(source="pk")
    action = serializers.CharField()
    status = serializers.CharField()


@extend_schema(responses={200: ServiceSerializer, 404: OpenApiResponse(ERROR)})
class ServiceViewSet(ProviderScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your services (the network side of your subscriptions) and their state on the network."""

    queryset = ServiceInstance.objects.select_related("address", "subscription__product").order_by("-pk")
    serializer_class = ServiceSerializer
    filterset_fields = ["status"]

    @extend_schema(
        request=None, responses={202: JobSerializer, 404: OpenApiResponse(ERROR), 409: OpenApiResponse(ERROR)}
    )
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        """Turn the service on (only where you activate your own services, and once the infrastructure is ready)."""
        job = service_activate_by_provider(
            service_id=self.get_object().pk, provider=request.provider, actor=request.user
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
