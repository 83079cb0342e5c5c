"""Provider API serializers of wholesale: statements, their lines, disputes and rate cards (output), and the body
of a dispute (input)."""

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cos.api.filters import LARGEST_ID
from cos.api.serializers import InputSerializer
from wholesale.choices import DisputeReason
from wholesale.models import DisputedLine, Rate, RateCard, Statement, StatementDispute, StatementLine
from wholesale.services import escalation_level, undisputed_of

# A calendar month as the API writes and reads it (years 1000 to 9999).
MONTH_PATTERN = r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"
MONTH_SCHEMA = {"type": "string", "pattern": MONTH_PATTERN, "example": "2026-11"}


@extend_schema_field(MONTH_SCHEMA)
class MonthField(serializers.Field):
    """A month's first day, written YYYY-MM."""

    def to_representation(self, value) -> str:
        return value.strftime("%Y-%m")


class StatementSerializer(serializers.ModelSerializer):
    """A statement as the provider sees it: what it charges, what is due now and by when."""

    month = MonthField(read_only=True)
    issuer = serializers.CharField(source="operator.invoice_name", help_text="The network operator that bills you.")
    undisputed_amount = serializers.SerializerMethodField(
        help_text="Due now: the total less what your open disputes question (with its tax)."
    )

    class Meta:
        model = Statement
        fields = [
            "id",
            "number",
            "status",
            "month",
            "issuer",
            "currency",
            "subtotal",
            "tax_rate",
            "tax",
            "total",
            "undisputed_amount",
            "retail_collected",
            "payout",
            "issued_on",
            "due_on",
            "disputable_until",
            "settled_at",
        ]
        extra_kwargs = {
            "retail_collected": {"help_text": "Revenue share: what your subscribers paid in the month."},
            "payout": {"help_text": "Revenue share: retail collected less the total, paid out to you."},
            "disputable_until": {"help_text": "The last day its lines may be disputed."},
        }

    @extend_schema_field(serializers.DecimalField(max_digits=14, decimal_places=2))
    def get_undisputed_amount(self, statement) -> str:
        # wholesale.services.undisputed_amount's figure, from the queryset's `questioned` (a page in one query)
        return str(undisputed_of(statement.total, statement.questioned, statement.tax_rate))


class StatementLineSerializer(serializers.ModelSerializer):
    """One line: a service's days in the month at one rate, an activation fee, or an adjustment."""

    address_label = serializers.SerializerMethodField()

    class Meta:
        model = StatementLine
        fields = [
            "id",
            "kind",
            "service",
            "subscription",
            "address",
            "address_label",
            "marketplace",
            "category",
            "profile",
            "first_day",
            "until",
            "days",
            "month_days",
            "unit_rate",
            "amount",
            "description",
            "dispute",
        ]
        extra_kwargs = {
            "until": {"help_text": "The day after the last day charged (exclusive)."},
            "days": {"help_text": "Days charged (0 on a fee or an adjustment)."},
            "month_days": {"help_text": "Days of the month: a month's rate is prorated per day of it."},
            "unit_rate": {"help_text": "The monthly rate, or the fee."},
            "dispute": {"help_text": "An adjustment: the upheld dispute it credits."},
        }

    def get_address_label(self, line) -> str:
        return line.address.label if line.address_id else ""


class DisputedLineSerializer(serializers.ModelSerializer):
    line_amount = serializers.DecimalField(source="line.amount", max_digits=14, decimal_places=2)
    service = serializers.IntegerField(source="line.service_id", allow_null=True)

    class Meta:
        model = DisputedLine
        fields = ["line", "amount", "line_amount", "service"]
        extra_kwargs = {"amount": {"help_text": "The amount in question (excluding tax)."}}


class DisputeSerializer(serializers.ModelSerializer):
    """A dispute of some lines of a statement, its state, age and escalation."""

    statement_number = serializers.CharField(source="statement.number")
    lines = DisputedLineSerializer(many=True)
    opened_at = serializers.DateTimeField(source="created_at")
    age_days = serializers.SerializerMethodField(help_text="Days open (a decided dispute: until its decision).")
    escalation_level = serializers.SerializerMethodField(help_text="0 under 30 days, then 1, 2, 3 at 30, 60, 90 days.")

    class Meta:
        model = StatementDispute
        fields = [
            "id",
            "statement",
            "statement_number",
            "status",
            "reason_code",
            "text",
            "amount",
            "upheld_amount",
            "decision",
            "opened_at",
            "decided_at",
            "age_days",
            "escalation_level",
            "lines",
        ]

    def get_age_days(self, dispute) -> int:
        return ((dispute.decided_at or timezone.now()) - dispute.created_at).days

    def get_escalation_level(self, dispute) -> int:
        return escalation_level(dispute)


class RateSerializer(serializers.ModelSerializer):
    class Meta:
        model = Rate
        fields = ["category", "profile", "monthly_rate", "activation_fee", "suspended_rate"]
        extra_kwargs = {"profile": {"help_text": "A network profile, e.g. HSI_1000_1000; empty: any of the category."}}


class RateCardSerializer(serializers.ModelSerializer):
    """A version of a card that applies to you: your own, or the default card of providers without one."""

    default = serializers.SerializerMethodField(
        help_text="The default card (for providers without a card of their own)."
    )
    in_force = serializers.SerializerMethodField(help_text="Valid today.")
    rates = RateSerializer(many=True)

    class Meta:
        model = RateCard
        fields = [
            "id",
            "name",
            "version",
            "default",
            "marketplace",
            "area",
            "currency",
            "valid_from",
            "valid_to",
            "in_force",
            "dispute_window_days",
            "payment_days",
            "tax_rate",
            "rates",
        ]
        extra_kwargs = {
            "marketplace": {"help_text": "Only in this marketplace (empty: every one)."},
            "area": {"help_text": "Only in this area (empty: every one)."},
        }

    def get_default(self, card) -> bool:
        return card.provider_id is None

    def get_in_force(self, card) -> bool:
        return card.covers(timezone.localdate())


class DisputeLineInputSerializer(InputSerializer):
    line = serializers.IntegerField(min_value=1, max_value=LARGEST_ID, help_text="A line id of the statement.")
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0"),  # 0 is refused by the service, with the code of any amount out of bounds
        help_text="The amount in question, excluding tax: more than 0 and at most the line's amount.",
    )


class DisputeInputSerializer(InputSerializer):
    lines = DisputeLineInputSerializer(many=True, allow_empty=False, max_length=1000)
    reason_code = serializers.ChoiceField(DisputeReason.choices)
    text = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")


class WithdrawInputSerializer(InputSerializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
