"""Provider API: catalog (own products, prices, promotions, eligibility, terms), orders, addresses, availability."""

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from cos.api.filters import BooleanFilter, DateTimeFilter, IdFilter
from cos.api.headers import TEXT_PATTERN, header_text
from cos.api.providers import IsServiceProvider, ProviderScopedMixin
from cos.api.schema import ERROR_404, ERROR_409
from cos.models import AddressObject, Customer
from cos.selectors import address_search
from marketplace import services
from marketplace.api import serializers as s
from marketplace.choices import Channel, OrderStatus
from marketplace.models import ContractTerm, EligibilityRule, Order, Price, Product, Promotion
from marketplace.selectors import offers_for_address
from marketplace.validation import LineRequest, OrderRequest

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 100  # Order.idempotency_key's length


class ServiceSaveMixin:
    """Create and update through the catalog service named by `save_service` (validation lives there)."""

    save_service: str = ""
    save_argument: str = ""

    def _save(self, serializer, **extra):
        instance = serializer.instance or serializer.Meta.model()
        m2m = {}
        for field, value in {**serializer.validated_data, **extra}.items():
            if isinstance(value, list) and field in ("marketplaces", "areas"):
                m2m[field] = value
            else:
                setattr(instance, field, value)
        service = getattr(services, self.save_service)
        serializer.instance = service(**{self.save_argument: instance}, **m2m)

    def perform_create(self, serializer):
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer)


class ContractTermViewSet(ProviderScopedMixin, ServiceSaveMixin, viewsets.ModelViewSet):
    """Your contract terms (minimum months, notice days)."""

    queryset = ContractTerm.objects.all()
    serializer_class = s.ContractTermSerializer
    http_method_names = ["get", "post", "put", "patch"]

    save_service, save_argument = "contract_term_save", "term"

    def perform_create(self, serializer):
        self._save(serializer, provider=self.request.provider)


class PriceFilter(django_filters.FilterSet):
    product = IdFilter(field_name="product_id")
    marketplace = IdFilter(field_name="marketplace_id")

    class Meta:
        model = Price
        fields = ["product", "marketplace"]


class PromotionFilter(django_filters.FilterSet):
    product = IdFilter(field_name="product_id")
    marketplace = IdFilter(field_name="marketplace_id")

    class Meta:
        model = Promotion
        fields = ["product", "marketplace", "kind"]


class EligibilityFilter(django_filters.FilterSet):
    product = IdFilter(field_name="product_id")

    class Meta:
        model = EligibilityRule
        fields = ["product"]


class ProductFilter(django_filters.FilterSet):
    active = BooleanFilter(field_name="retired_at", lookup_expr="isnull")

    class Meta:
        model = Product
        fields = ["category", "active"]


class ProductViewSet(ProviderScopedMixin, ServiceSaveMixin, viewsets.ModelViewSet):
    """Your products. Retire a product to stop selling it; it is never deleted."""

    queryset = Product.objects.select_related("term").order_by("pk")
    serializer_class = s.ProductSerializer
    filterset_class = ProductFilter
    http_method_names = ["get", "post", "put", "patch"]
    save_service, save_argument = "product_save", "product"

    def perform_create(self, serializer):
        self._save(serializer, provider=self.request.provider)

    @extend_schema(request=None, responses={200: s.ProductSerializer})
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        product = services.product_retire(product_id=self.get_object().pk)
        return Response(self.get_serializer(product).data)


class PriceViewSet(ProviderScopedMixin, ServiceSaveMixin, viewsets.ModelViewSet):
    """Your price versions: a new version starting after an open-ended one closes it."""

    queryset = Price.objects.order_by("pk")
    serializer_class = s.PriceSerializer
    provider_lookup = "product__provider"
    filterset_class = PriceFilter
    http_method_names = ["get", "post", "put", "patch"]
    save_service, save_argument = "price_save", "price"

    @extend_schema(request=None, responses={200: s.PriceSerializer, 204: None})
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        """Stop selling at this price version: a running one stops today, one not yet started is removed (204)."""
        price = services.price_retire(price_id=self.get_object().pk)
        if price is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(self.get_serializer(price).data)


class PromotionViewSet(ProviderScopedMixin, ServiceSaveMixin, viewsets.ModelViewSet):
    """Your promotions: percent off, amount off or free months for N billing periods."""

    queryset = Promotion.objects.order_by("pk")
    serializer_class = s.PromotionSerializer
    provider_lookup = "product__provider"
    filterset_class = PromotionFilter
    http_method_names = ["get", "post", "put", "patch"]
    save_service, save_argument = "promotion_save", "promotion"

    @extend_schema(request=None, responses={200: s.PromotionSerializer, 204: None})
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        """Stop offering the promotion: a running one stops today, one not yet started is removed (204)."""
        promotion = services.promotion_retire(promotion_id=self.get_object().pk)
        if promotion is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(self.get_serializer(promotion).data)


class EligibilityViewSet(
    ProviderScopedMixin,
    ServiceSaveMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The eligibility rule of each of your products (created with the product)."""

    queryset = EligibilityRule.objects.prefetch_related("marketplaces", "areas").order_by("pk")
    serializer_class = s.EligibilitySerializer
    provider_lookup = "product__provider"
    filterset_class = EligibilityFilter
    save_service, save_argument = "eligibility_save", "rule"


class OrderFilter(django_filters.FilterSet):
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = DateTimeFilter(field_name="created_at", lookup_expr="lt")
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)
    marketplace = IdFilter(field_name="marketplace_id")

    class Meta:
        model = Order
        fields = ["status", "marketplace", "created_after", "created_before"]


# The hot path's serializers, their fields built once per process: neither keeps state between calls
# (`run_validation` and `to_representation` are what `is_valid` and `.data` call on a fresh one).
ORDER_INPUT = s.OrderInputSerializer()
ORDER_OUTPUT = s.OrderSerializer()


class OrderViewSet(ProviderScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your orders: list, read, place (idempotent), accept, reject, cancel."""

    queryset = (
        Order.objects.select_related("customer", "address__area")
        .prefetch_related("lines__product", "switches")
        .order_by("-pk")
    )
    serializer_class = s.OrderSerializer
    filterset_class = OrderFilter

    @extend_schema(
        request=s.OrderInputSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH, "pattern": TEXT_PATTERN},
                OpenApiParameter.HEADER,
                required=True,
                description="Your unique key of this order request: 1 to 100 characters of UTF-8 text.",
            )
        ],
        responses={201: s.OrderSerializer, 200: s.OrderSerializer, 409: ERROR_409},
    )
    def create(self, request):
        """Place an order through your own channel. The same Idempotency-Key returns the same order."""
        key = header_text(request, IDEMPOTENCY_HEADER)
        if not key or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
            raise ApiValidationError(
                {IDEMPOTENCY_HEADER: [f"Send a unique {IDEMPOTENCY_HEADER} header (1 to 100 characters)."]},
                code="required" if not key else "max_length",
            )
        v = ORDER_INPUT.run_validation(request.data)
        customer_data = v["customer"]
        # Reuse only a customer this provider already has orders for: never another provider's record.
        customer = Customer.objects.filter(
            email__iexact=customer_data["email"],
            customer_type=customer_data["customer_type"],
            orders__provider=request.provider,
        ).first() or Customer(**customer_data)
        order_request = OrderRequest(
            customer=customer,
            address_id=v["address"],
            marketplace_id=v["marketplace"],
            provider_id=request.provider.pk,
            channel=Channel.API,
            terms_accepted=v["terms_accepted"],
            lines=[LineRequest(line["product"], line["monthly_amount"], line["currency"]) for line in v["lines"]],
            install_date=v["preferred_install_date"],
            install_slot=v["preferred_install_slot"],
            idempotency_key=key,
            placed_by=request.user,
        )
        order, created = services.order_place(request=order_request)
        if not created:  # a retry: the order as it is now
            order = self.get_queryset().get(pk=order.pk)
        return Response(
            ORDER_OUTPUT.to_representation(order), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    def _command(self, service, **kwargs):
        order = self.get_object()
        service(order_id=order.pk, actor=self.request.user, **kwargs)
        return Response(self.get_serializer(self.get_queryset().get(pk=order.pk)).data)

    @extend_schema(request=None, responses={200: s.OrderSerializer, 409: ERROR_409})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """Accept a submitted order: its subscriptions are created (pending)."""
        return self._command(services.order_accept)

    @extend_schema(request=s.RejectInputSerializer, responses={200: s.OrderSerializer, 409: ERROR_409})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject a submitted order, with a reason."""
        data = s.RejectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._command(services.order_reject, reason=data.validated_data["reason"])

    @extend_schema(request=s.CancelInputSerializer, responses={200: s.OrderSerializer, 409: ERROR_409})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel an order before fulfillment (e.g. the customer withdrew)."""
        data = s.CancelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._command(services.order_cancel, reason=data.validated_data["reason"])


@extend_schema(parameters=[s.AddressQuerySerializer], responses={200: s.AddressSerializer(many=True)})
class AddressSearchView(ListAPIView):
    """Find addresses on the network (the same ranked search as the portal)."""

    permission_classes = [IsServiceProvider]
    serializer_class = s.AddressSerializer
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return AddressObject.objects.none()
        query = s.AddressQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        ids = [address.pk for address in address_search(query=query.validated_data["search"], limit=25)]
        by_id = AddressObject.objects.select_related("area").in_bulk(ids)
        return [by_id[pk] for pk in ids]


class MeView(APIView):
    """Who the token belongs to: check your credentials (also the trivial endpoint the benchmarks compare with)."""

    permission_classes = [IsServiceProvider]

    @extend_schema(
        responses={200: inline_serializer("Me", {"provider": serializers.CharField(), "user": serializers.CharField()})}
    )
    def get(self, request):
        return Response({"provider": request.provider.name, "user": request.user.get_username()})


class AvailabilityView(APIView):
    """Your offers at an address for a customer type: the marketplaces covering it and your current prices."""

    permission_classes = [IsServiceProvider]

    @extend_schema(
        parameters=[s.AvailabilityQuerySerializer],
        responses={200: s.OfferSerializer(many=True), 404: ERROR_404},
    )
    def get(self, request):
        query = s.AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        customer_type = query.validated_data["customer_type"]
        address = get_object_or_404(AddressObject, pk=query.validated_data["address"])
        offers = offers_for_address(address=address, customer_type=customer_type, provider_ids={request.provider.pk})
        return Response(s.OfferSerializer(offers, many=True).data)
