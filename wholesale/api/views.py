"""Provider API of wholesale: your statements (once issued), their lines as JSON or as a CSV a spreadsheet opens,
the statement as a PDF; disputing lines of a statement and withdrawing a dispute; the rate cards that apply to you.
A draft statement is the operator's work in progress: it is not shown until it is issued."""

import csv
import io
import re
from datetime import date
from decimal import Decimal

import django_filters
from django import forms
from django.db.models import DecimalField, OuterRef, Prefetch, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from cos.api.filters import IdFilter
from cos.api.providers import ProviderScopedMixin
from cos.api.schema import ERROR_409, AutoSchema, error
from marketplace.models import Participation
from wholesale.api import serializers as s
from wholesale.choices import OPEN_DISPUTE_STATUSES, DisputeStatus, StatementStatus
from wholesale.models import DisputedLine, RateCard, Statement, StatementDispute, StatementLine
from wholesale.pdf import render_statement_pdf
from wholesale.services import dispute_open, dispute_withdraw

# What a provider sees of its statements: drafts are the operator's until issued.
SHOWN_STATUSES = (StatementStatus.ISSUED, StatementStatus.DISPUTED, StatementStatus.SETTLED)

# The CSV of a statement's lines: (header, key of StatementLineSerializer).
CSV_COLUMNS = (
    ("line", "id"),
    ("kind", "kind"),
    ("service", "service"),
    ("subscription", "subscription"),
    ("address", "address_label"),
    ("profile", "profile"),
    ("category", "category"),
    ("first_day", "first_day"),
    ("until", "until"),
    ("days", "days"),
    ("month_days", "month_days"),
    ("unit_rate", "unit_rate"),
    ("amount", "amount"),
)
# Text a spreadsheet would run as a formula (=, +, -, @ first); amounts are numbers and stay as they are.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLUMNS = {"address_label", "profile"}


class CSVRenderer(BaseRenderer):
    """Rows (the first the header) as CSV, UTF-8 with a byte-order mark so a spreadsheet reads å, ä, ö right."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        out = io.StringIO()
        out.write("\ufeff")
        csv.writer(out).writerows(data)
        return out.getvalue().encode("utf-8")


class PDFRenderer(BaseRenderer):
    """Lets a request that accepts only application/pdf through; the view answers with the document itself."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return data


class JSONErrorsMixin:
    """An error is the JSON envelope whatever the request accepted (a CSV or a PDF is no place for it)."""

    def handle_exception(self, exc):
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().handle_exception(exc)


class JSONErrorsSchema(AutoSchema):
    """The schema of a JSONErrorsMixin view: its errors are JSON, whatever its success responses (declared each
    with its media type) are."""

    def map_renderers(self, attribute):
        if attribute == "media_type":
            return [JSONRenderer.media_type]
        return super().map_renderers(attribute)


class MonthFormField(forms.CharField):
    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        if not re.fullmatch(s.MONTH_PATTERN, value):
            raise forms.ValidationError("Give a month as YYYY-MM, e.g. 2026-11.", code="invalid")
        year, month = value.split("-")
        return date(int(year), int(month), 1)


@extend_schema_field(s.MONTH_SCHEMA)
class MonthFilter(django_filters.Filter):
    """A calendar month, YYYY-MM."""

    field_class = MonthFormField


class StatementFilter(django_filters.FilterSet):
    month = MonthFilter(field_name="month")
    status = django_filters.ChoiceFilter(choices=[(value, value.label) for value in SHOWN_STATUSES])

    class Meta:
        model = Statement
        fields = ["month", "status"]


def questioned_amount():
    """What the open disputes of each statement question (0 where none): for its undisputed amount."""
    disputed = (
        DisputedLine.objects.filter(dispute__statement=OuterRef("pk"), dispute__status__in=OPEN_DISPUTE_STATUSES)
        .order_by()
        .values("dispute__statement")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    money = DecimalField(max_digits=14, decimal_places=2)
    return Coalesce(Subquery(disputed, output_field=money), Value(Decimal("0.00")), output_field=money)


def _csv_cell(key: str, value) -> str:
    if value is None:
        return ""
    text = str(value)
    if key in TEXT_COLUMNS and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


DISPUTE_OPEN_ERRORS = {
    400: error(
        "The dispute is not valid (codes: invalid, and unknown_line, duplicate_line, invalid_amount: an amount "
        "in question above the line's)."
    ),
    409: error(
        "The statement cannot be disputed now (codes: dispute_window_closed, not_disputable, line_disputed: the "
        "line is in another open or upheld dispute)."
    ),
}


class StatementViewSet(
    JSONErrorsMixin, ProviderScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Your monthly statements from the network operator: what the network delivered to your services, at the
    rate cards in force each day. Shown once issued; a statement never changes after that (a correction is an
    adjustment line on a later one)."""

    queryset = (
        Statement.objects.filter(status__in=SHOWN_STATUSES)
        .select_related("operator")
        .annotate(questioned=questioned_amount())
        .order_by("-month", "-pk")
    )
    serializer_class = s.StatementSerializer
    filterset_class = StatementFilter
    schema = JSONErrorsSchema()

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format",
                str,
                enum=["json", "csv"],
                description="csv: every line as a CSV file (as `Accept: text/csv`), without pages.",
            )
        ],
        responses={
            (200, "application/json"): s.StatementLineSerializer(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
        },
        filters=False,
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, CSVRenderer], filter_backends=[])
    def lines(self, request, pk=None):
        """The statement's lines, in pages; as CSV (`?format=csv` or `Accept: text/csv`) all of them, a header row
        and one row a line, whose amounts add up to the statement's subtotal."""
        statement = self.get_object()
        lines = StatementLine.objects.filter(statement=statement).select_related("address").order_by("pk")
        if request.accepted_renderer.format == CSVRenderer.format:
            serializer = s.StatementLineSerializer()
            rows = [[header for header, _ in CSV_COLUMNS]]
            for line in lines.iterator(chunk_size=2000):
                data = serializer.to_representation(line)
                rows.append([_csv_cell(key, data[key]) for _, key in CSV_COLUMNS])
            response = Response(rows)
            response["Content-Disposition"] = f'attachment; filename="{statement.number}-lines.csv"'
            return response
        page = self.paginate_queryset(lines)
        return self.get_paginated_response(s.StatementLineSerializer(page, many=True).data)

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY}, filters=False)
    @action(
        detail=True,
        methods=["get"],
        renderer_classes=[PDFRenderer],
        filter_backends=[],
        pagination_class=None,
    )
    def pdf(self, request, pk=None):
        """The statement as a PDF: who bills you and where to pay, its lines by kind with subtotals, tax and total
        (in a revenue share: retail collected, less the total, and the payout)."""
        statement = self.get_object()
        response = HttpResponse(render_statement_pdf(statement), content_type=PDFRenderer.media_type)
        response["Content-Disposition"] = f'attachment; filename="{statement.number}.pdf"'
        return response

    @extend_schema(request=s.DisputeInputSerializer, responses={201: s.DisputeSerializer, **DISPUTE_OPEN_ERRORS})
    @action(detail=True, methods=["post"], filter_backends=[])
    def disputes(self, request, pk=None):
        """Dispute lines of the statement within its dispute window (until `disputable_until`): each line with the
        amount in question (at most the line's), a reason code and a text. The rest of the statement stays due
        (`undisputed_amount`); the operator reviews the dispute, and an upheld one is credited on your next
        statement."""
        statement = self.get_object()
        data = s.DisputeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        dispute = dispute_open(
            statement_id=statement.pk,
            provider=request.provider,
            lines=[{"line": line["line"], "amount": line["amount"]} for line in v["lines"]],
            reason_code=v["reason_code"],
            text=v["text"],
            actor=request.user,
        )
        shown = DisputeViewSet.queryset.get(pk=dispute.pk)
        return Response(s.DisputeSerializer(shown).data, status=status.HTTP_201_CREATED)


class DisputeFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DisputeStatus.choices)
    statement = IdFilter(field_name="statement_id")

    class Meta:
        model = StatementDispute
        fields = ["status", "statement"]


class DisputeViewSet(ProviderScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your disputes of statement lines: open -> under review -> upheld | rejected, or withdrawn by you; with their
    age and escalation level (1, 2, 3 at 30, 60, 90 days)."""

    queryset = (
        StatementDispute.objects.select_related("statement")
        .prefetch_related(Prefetch("lines", queryset=DisputedLine.objects.select_related("line").order_by("pk")))
        .order_by("-pk")
    )
    serializer_class = s.DisputeSerializer
    filterset_class = DisputeFilter
    provider_lookup = "statement__provider"

    @extend_schema(request=s.WithdrawInputSerializer, responses={200: s.DisputeSerializer, 409: ERROR_409})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        """Take the dispute back while it is open or under review: its lines are due again."""
        dispute = self.get_object()
        data = s.WithdrawInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dispute_withdraw(
            dispute_id=dispute.pk, provider=request.provider, actor=request.user, reason=data.validated_data["reason"]
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=dispute.pk)).data)


class RateCardViewSet(ProviderScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The rate cards that apply to you, every version with its validity: your own, and the default cards (for
    providers without one of their own) of the marketplaces you take part in."""

    queryset = RateCard.objects.prefetch_related("rates").order_by("-valid_from", "-pk")
    serializer_class = s.RateCardSerializer

    def get_queryset(self):
        # The one exception to ProviderScopedMixin's rule: the default cards (no provider) apply to every provider.
        provider = self.request.provider
        taking_part = Participation.objects.filter(provider=provider).values("marketplace_id")
        default = Q(provider__isnull=True) & (Q(marketplace__isnull=True) | Q(marketplace__in=taking_part))
        return self.queryset.filter(Q(provider=provider) | default)
