"""Provider API of provisioning: the provider's own services, and activating one where the provider does that."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cos.api.providers import ProviderScopedMixin
from cos.api.schema import ERROR_409
from provisioning.models import ServiceInstance, ServicePeriod
from provisioning.requests import service_activate_by_provider


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


class PeriodSerializer(serializers.ModelSerializer):
    """One stretch of time the service was verifiably live with these values (the ledger)."""

    ont = serializers.CharField(source="ont.serial")

    class Meta:
        model = ServicePeriod
        fields = [
            "id",
            "started_at",
            "ended_at",
            "cause",
            "end_cause",
            "profile",
            "download_mbps",
            "upload_mbps",
            "c_vlan",
            "s_vlan",
            "ont",
            "network_service_id",
            "subscription",
        ]


class JobSerializer(serializers.Serializer):
    job = serializers.IntegerField(source="pk")
    action = serializers.CharField()
    status = serializers.CharField()


class ServiceViewSet(ProviderScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your services (the network side of your subscriptions) and their state on the network."""

    queryset = ServiceInstance.objects.select_related("address", "subscription__product").order_by("-pk")
    serializer_class = ServiceSerializer
    filterset_fields = ["status"]

    @extend_schema(responses={200: PeriodSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def periods(self, request, pk=None):
        """The service's ledger: each period it was verifiably live, with the profile, speeds and VLANs it had,
        from when to when (an open period has no end), and what opened and closed it. Settlement is computed from
        these rows."""
        service = self.get_object()
        periods = ServicePeriod.objects.filter(service=service).select_related("ont").order_by("started_at", "pk")
        return Response(PeriodSerializer(periods, many=True).data)

    @extend_schema(request=None, responses={202: JobSerializer, 409: ERROR_409})
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        """Turn the service on (only where you activate your own services, and once the infrastructure is ready)."""
        job = service_activate_by_provider(
            service_id=self.get_object().pk, provider=request.provider, actor=request.user
        )
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
