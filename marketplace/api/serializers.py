"""Provider API serializers: separate input and output shapes."""

from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from cos.api.exceptions import django_error_detail
from cos.api.serializers import InputSerializer, ModelSerializer
from cos.api.validators import NOT_BLANK, install_date_bound, valid_from_bound
from cos.choices import AddressStatus, BuildingType, CustomerType
from cos.models import AddressObject, Area, Customer
from marketplace.choices import InstallSlot, OrderStatus
from marketplace.models import (
    ContractTerm,
    EligibilityRule,
    Marketplace,
    Order,
    OrderLine,
    Price,
    Product,
    Promotion,
)
from marketplace.validation import MAX_LINES


class OwnedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A related id that must belong to the calling provider; another provider's id reads as 'does not exist'."""

    def __init__(self, *, provider_lookup: str = "provider", **kwargs):
        self.provider_lookup = provider_lookup
        super().__init__(**kwargs)

    def get_queryset(self):
        provider = self.context["request"].provider
        return self.queryset.filter(**{self.provider_lookup: provider})


class ContractTermSerializer(ModelSerializer):
    class Meta:
        model = ContractTerm
        fields = ["id", "name", "minimum_months", "notice_days"]


class ProductSerializer(ModelSerializer):
    term = OwnedPrimaryKeyField(queryset=ContractTerm.objects.all())
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = Product
        fields = [
            "id",
            "category",
            "name",
            "description",
            "download_mbps",
            "upload_mbps",
            "service_profile",
            "requires_category",
            "term",
            "is_active",
            "retired_at",
            "created_at",
        ]
        read_only_fields = ["retired_at", "created_at"]


class PriceSerializer(ModelSerializer):
    product = OwnedPrimaryKeyField(queryset=Product.objects.all())
    marketplace = serializers.PrimaryKeyRelatedField(queryset=Marketplace.objects.all())

    class Meta:
        model = Price
        fields = ["id", "product", "marketplace", "monthly_amount", "start_fee", "currency", "valid_from", "valid_to"]
        extra_kwargs = {"valid_from": {"validators": [valid_from_bound]}}

    def validate(self, attrs):
        marketplace = attrs.get("marketplace") or self.instance.marketplace
        provider = self.context["request"].provider
        if not marketplace.participations.filter(provider=provider).exists():
            raise serializers.ValidationError({"marketplace": "You do not take part in this marketplace."})
        return attrs


class PromotionSerializer(ModelSerializer):
    product = OwnedPrimaryKeyField(queryset=Product.objects.all())
    marketplace = serializers.PrimaryKeyRelatedField(
        queryset=Marketplace.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Promotion
        fields = ["id", "product", "marketplace", "name", "kind", "value", "periods", "valid_from", "valid_to"]
        extra_kwargs = {"valid_from": {"validators": [valid_from_bound]}}


class EligibilitySerializer(ModelSerializer):
    product = serializers.PrimaryKeyRelatedField(read_only=True)
    customer_types = serializers.ListField(child=serializers.ChoiceField(CustomerType.choices), allow_empty=False)
    address_statuses = serializers.ListField(child=serializers.ChoiceField(AddressStatus.choices), allow_empty=False)
    building_types = serializers.ListField(child=serializers.ChoiceField(BuildingType.choices), required=False)
    marketplaces = serializers.PrimaryKeyRelatedField(queryset=Marketplace.objects.all(), many=True, required=False)
    areas = serializers.PrimaryKeyRelatedField(queryset=Area.objects.all(), many=True, required=False)

    class Meta:
        model = EligibilityRule
        fields = [
            "id",
            "product",
            "customer_types",
            "address_statuses",
            "building_types",
            "marketplaces",
            "areas",
            "max_per_address",
        ]


class AddressSerializer(serializers.ModelSerializer):
    area = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = AddressObject
        fields = [
            "id",
            "external_id",
            "label",
            "street",
            "house_number",
            "suffix",
            "unit",
            "postal_code",
            "city",
            "country",
            "building_type",
            "units",
            "status",
            "area",
        ]


class AddressQuerySerializer(serializers.Serializer):
    search = serializers.RegexField(
        NOT_BLANK, max_length=200, help_text="Street and number, postal code or external id, e.g. Storgatan 12."
    )


class AvailabilityQuerySerializer(serializers.Serializer):
    address = serializers.IntegerField(min_value=1, help_text="The address id (from /addresses/).")
    customer_type = serializers.ChoiceField(CustomerType.choices, default=CustomerType.RESIDENTIAL)


class OfferSerializer(serializers.Serializer):
    marketplace = serializers.IntegerField(source="marketplace.pk")
    marketplace_name = serializers.CharField(source="marketplace.name")
    product = serializers.IntegerField(source="product.pk")
    product_name = serializers.CharField(source="product.name")
    category = serializers.CharField()
    download_mbps = serializers.IntegerField(source="product.download_mbps", allow_null=True)
    upload_mbps = serializers.IntegerField(source="product.upload_mbps", allow_null=True)
    monthly_amount = serializers.DecimalField(source="price.monthly_amount", max_digits=12, decimal_places=2)
    start_fee = serializers.DecimalField(source="price.start_fee", max_digits=12, decimal_places=2)
    currency = serializers.CharField(source="price.currency")
    prices_include_tax = serializers.BooleanField(
        source="marketplace.prices_include_tax",
        help_text="The amounts include VAT at tax_rate (consumers); otherwise VAT is added to them (business).",
    )
    tax_rate = serializers.DecimalField(source="marketplace.tax_rate", max_digits=5, decimal_places=4)
    promotion = serializers.CharField(source="promotion.summary", allow_null=True, default=None)
    minimum_months = serializers.IntegerField(source="term.minimum_months")
    notice_days = serializers.IntegerField(source="term.notice_days")
    is_preorder = serializers.BooleanField()


class CustomerInputSerializer(InputSerializer):
    customer_type = serializers.ChoiceField(CustomerType.choices)
    first_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    last_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    company_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.EmailField()
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    billing_street = serializers.CharField(max_length=200)
    billing_postal_code = serializers.CharField(max_length=16)
    billing_city = serializers.CharField(max_length=100)
    billing_country = serializers.CharField(max_length=2, default="SE")

    def validate(self, attrs):
        customer = Customer(**attrs)
        try:
            customer.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(django_error_detail(exc)) from exc
        return attrs


class OrderLineInputSerializer(InputSerializer):
    product = serializers.IntegerField(min_value=1)
    monthly_amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0"))
    currency = serializers.RegexField(r"^[A-Z]{3}$")


class OrderInputSerializer(InputSerializer):
    customer = CustomerInputSerializer()
    address = serializers.IntegerField(min_value=1)
    marketplace = serializers.IntegerField(min_value=1)
    lines = OrderLineInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES)
    preferred_install_date = serializers.DateField(
        required=False, allow_null=True, default=None, validators=[install_date_bound]
    )
    preferred_install_slot = serializers.ChoiceField(InstallSlot.choices, default=InstallSlot.ANY)
    terms_accepted = serializers.BooleanField()


class RejectInputSerializer(InputSerializer):
    reason = serializers.CharField(max_length=1000)


class CancelInputSerializer(InputSerializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class OrderLineSerializer(serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.name")

    class Meta:
        model = OrderLine
        fields = [
            "id",
            "product",
            "product_name",
            "category",
            "monthly_amount",
            "start_fee",
            "currency",
            "promotion_kind",
            "promotion_value",
            "promotion_periods",
            "minimum_months",
            "notice_days",
            "early_termination_fee",
        ]


class OrderSwitchSerializer(serializers.Serializer):
    """A switch the order makes: which of the customer's services another provider hands over, and when."""

    category = serializers.CharField()
    handover_on = serializers.DateField()
    status = serializers.CharField()
    completed_at = serializers.DateTimeField()


class OrderSerializer(serializers.ModelSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)
    customer = serializers.SerializerMethodField()
    address = AddressSerializer(read_only=True)
    status = serializers.ChoiceField(OrderStatus.choices, read_only=True)
    switches = OrderSwitchSerializer(many=True, read_only=True, help_text="Services taken over from another provider.")

    class Meta:
        model = Order
        fields = [
            "id",
            "status",
            "channel",
            "customer",
            "address",
            "marketplace",
            "lines",
            "preferred_install_date",
            "preferred_install_slot",
            "is_preorder",
            "idempotency_key",
            "submitted_at",
            "decided_at",
            "rejection_reason",
            "cancellation_reason",
            "completed_at",
            "switches",
            "created_at",
        ]

    def get_customer(self, order) -> dict:
        c = order.customer
        return {
            "id": c.pk,
            "customer_type": c.customer_type,
            "name": c.display_name,
            "email": c.email,
            "phone": c.phone,
        }
