"""The wholesale admin: rate cards (a new version made through wholesale.rates, a version never edited), statements
and their lines (read-only, issued and settled through the services), disputes (decided through the services) and
variance rows (read-only). Finance acts; operations looks."""

from datetime import date

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.forms.models import BaseInlineFormSet, apply_limit_choices_to_to_formfield
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from cos.admin_tools import ActionForm, TransitionLogInline, form_action, service_action
from cos.choices import OrganizationKind
from cos.errors import ApplicationError
from cos.models import Organization
from wholesale import rates as card_services
from wholesale import services
from wholesale.models import (
    DisputedLine,
    Rate,
    RateCard,
    Statement,
    StatementDispute,
    StatementLine,
    Variance,
)

# A statement may have tens of thousands of lines: its page shows the first ones and links to the line list.
LINES_SHOWN = 50


# --- shared pieces ---------------------------------------------------------------------------------------------


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent, written only by wholesale's services: every listed field read-only."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ActedOnOnly:
    """A record looked at on its page and changed only by the actions of its list (each a service): never added or
    deleted here. The change permission is kept on the list, where the actions ask for it."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _month_value(value: str | None) -> date | None:
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return None


class MonthFilter(admin.SimpleListFilter):
    """?month=YYYY-MM: the months that have rows, newest first."""

    title = "month"
    parameter_name = "month"
    field_path = "month"

    def months(self, model_admin):
        return model_admin.model.objects.dates(self.field_path, "month", order="DESC")

    def lookups(self, request, model_admin):
        return [(f"{month:%Y-%m}", f"{month:%Y-%m}") for month in self.months(model_admin)]

    def queryset(self, request, queryset):
        month = _month_value(self.value())
        return queryset.filter(**{self.field_path: month}) if month else queryset


class LineMonthFilter(MonthFilter):
    field_path = "statement__month"

    def months(self, model_admin):
        return Statement.objects.dates("month", "month", order="DESC")


class ProviderFilter(admin.SimpleListFilter):
    """?provider=<id>: one service provider's rows."""

    title = "provider"
    parameter_name = "provider"
    field_path = "provider"

    def lookups(self, request, model_admin):
        return (
            Organization.objects.filter(kind=OrganizationKind.SERVICE_PROVIDER)
            .order_by("name")
            .values_list("pk", "name")
        )

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(**{f"{self.field_path}_id": int(value)})
        return queryset


class StatementProviderFilter(ProviderFilter):
    field_path = "statement__provider"


class StatementFilter(admin.SimpleListFilter):
    """?statement=<id>: one statement's rows (the link from the statement's page); only that one is offered."""

    title = "statement"
    parameter_name = "statement"

    def lookups(self, request, model_admin):
        value = self.value()
        if not (value and value.isdigit()):
            return []
        statement = Statement.objects.select_related("provider").filter(pk=int(value)).first()
        return [(value, str(statement))] if statement else []

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(statement_id=int(value)) if value and value.isdigit() else queryset


# --- rate cards --------------------------------------------------------------------------------------------------

CARD_FIELDS = (
    "operator",
    "provider",
    "marketplace",
    "area",
    "name",
    "currency",
    "valid_from",
    "valid_to",
    "dispute_window_days",
    "payment_days",
    "tax_rate",
)
# Where a refusal of rate_card_create is shown: beside the field it is about, or above the form.
REFUSAL_FIELDS = {
    "not_an_operator": "operator",
    "not_a_provider": "provider",
    "invalid_validity": "valid_to",
    "currency_mismatch": "currency",
}


class RateCardCreateForm(forms.Form):
    """A new version of a scope's card; its fields are the model's (built by the admin, with its widgets)."""

    field_order = [*CARD_FIELDS, "supersede"]

    supersede = forms.BooleanField(
        required=False,
        initial=True,
        label="End the version in force",
        help_text="The scope's open-ended version in force on the first day ends that day. Any other overlap is "
        "refused.",
    )


RATE_FIELDS = ("category", "profile", "monthly_rate", "activation_fee", "suspended_rate")
# One price of the new card, with the model's fields and validators (a row left empty is ignored).
RateRowForm = type("RateRowForm", (forms.Form,), forms.fields_for_model(Rate, fields=RATE_FIELDS))
RateRowsFormSet = forms.formset_factory(RateRowForm, extra=4, min_num=1, validate_min=True)


class RateInline(ReadOnlyInline):
    model = Rate
    fields = RATE_FIELDS


class ValidityFilter(admin.SimpleListFilter):
    title = "validity"
    parameter_name = "validity"

    def lookups(self, request, model_admin):
        return [("in_force", "In force today"), ("later", "From a later day"), ("ended", "Ended")]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        match self.value():
            case "in_force":
                return queryset.filter(valid_from__lte=today).exclude(valid_to__lte=today)
            case "later":
                return queryset.filter(valid_from__gt=today)
            case "ended":
                return queryset.filter(valid_to__lte=today)
        return queryset


class EndOnForm(ActionForm):
    on = forms.DateField(label="Ends on (the first day it is no longer in force)")


def _card_end(card: RateCard, data: dict, actor) -> str:
    with transaction.atomic():
        card = RateCard.objects.select_for_update().get(pk=card.pk)
        if card.valid_to is not None and data["on"] >= card.valid_to:
            # Only a shortening: a later end could run into the next version of the scope.
            raise ApplicationError(
                f"{card} already ends on {card.valid_to}: a version is only ended earlier here.", code="already_ends"
            )
        card_services.rate_card_end(card, on=data["on"])
    return f"in force until {data['on']} (exclusive)."


@admin.register(RateCard)
class RateCardAdmin(admin.ModelAdmin):
    """A card is made through wholesale.rates.rate_card_create (its versions never overlap); a version is never
    edited, since statements were priced at it: a new price is a new version."""

    list_display = (
        "name",
        "version",
        "operator",
        "provider_or_default",
        "marketplace",
        "area",
        "currency",
        "valid_from",
        "valid_to",
        "tax_rate",
    )
    list_filter = ("operator", "provider", "marketplace", "area", ValidityFilter, "currency")
    list_select_related = ("operator", "provider", "marketplace", "area")
    search_fields = ("name", "provider__name")
    inlines = [RateInline]
    actions = [form_action(form_class=EndOnForm, description="End this version on a date", call=_card_end)]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Provider", ordering="provider__name")
    def provider_or_default(self, card: RateCard) -> str:
        return str(card.provider) if card.provider_id else "(default: every provider without a card)"

    def _create_form_class(self, request) -> type[RateCardCreateForm]:
        fields = {}
        for name in CARD_FIELDS:
            formfield = self.formfield_for_dbfield(RateCard._meta.get_field(name), request=request)
            apply_limit_choices_to_to_formfield(formfield)
            fields[name] = formfield
        return type("RateCardCreateForm", (RateCardCreateForm,), fields)

    def add_view(self, request, form_url="", extra_context=None):
        """The card's fields and its rates on one page; saved by rate_card_create, whose refusals (an overlap, a
        card ending before it starts) show on the form."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form_class = self._create_form_class(request)
        if request.method == "POST":
            form = form_class(request.POST)
            rows = RateRowsFormSet(request.POST, prefix="rates")
            if form.is_valid() and rows.is_valid():
                data = form.cleaned_data
                try:
                    card = card_services.rate_card_create(
                        **{name: data[name] for name in CARD_FIELDS},
                        supersede=data["supersede"],
                        rates=[card_services.RateInput(**row) for row in rows.cleaned_data if row],
                    )
                except ApplicationError as refused:
                    form.add_error(REFUSAL_FIELDS.get(refused.code), refused.message)
                else:
                    self.log_addition(request, card, [{"added": {}}])
                    self.message_user(request, f"{card} was made, {card.scope}.", messages.SUCCESS)
                    return redirect(reverse("admin:wholesale_ratecard_change", args=[card.pk]))
        else:
            form = form_class(initial={"valid_from": timezone.localdate()})
            rows = RateRowsFormSet(prefix="rates")
        context = {
            **self.admin_site.each_context(request),
            "title": "Add a rate card version",
            "opts": self.model._meta,
            "form": form,
            "rows": rows,
            "media": self.media + form.media + rows.media,
            "errors": bool(form.errors or any(rows.errors) or rows.non_form_errors()),
            **(extra_context or {}),
        }
        return TemplateResponse(request, "wholesale/admin/rate_card_add.html", context)


# --- statements --------------------------------------------------------------------------------------------------


class FirstLinesFormSet(BaseInlineFormSet):
    """The statement's first LINES_SHOWN lines only."""

    def get_queryset(self):
        if not hasattr(self, "_first_lines"):
            self._first_lines = super().get_queryset()[:LINES_SHOWN]
        return self._first_lines


class StatementLineInline(ReadOnlyInline):
    model = StatementLine
    formset = FirstLinesFormSet
    fields = (
        "kind",
        "description",
        "service_ref",
        "address",
        "profile",
        "card",
        "first_day",
        "until",
        "days",
        "unit_rate",
        "amount",
    )
    verbose_name_plural = f"lines (the first {LINES_SHOWN}; all of them in the line list, linked above)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("address", "card").order_by("pk")

    @admin.display(description="Service")
    def service_ref(self, line: StatementLine):
        return line.service_id or "-"


class StatementDisputeInline(ReadOnlyInline):
    model = StatementDispute
    fields = ("status", "reason_code", "amount", "upheld_amount", "created_at", "decided_at")
    show_change_link = True
    verbose_name_plural = "disputes"


@admin.register(Statement)
class StatementAdmin(ActedOnOnly, admin.ModelAdmin):
    """A statement is computed by the month's run, issued and settled through the services, and never edited:
    a correction is an adjustment line on a later statement."""

    list_display = (
        "__str__",
        "provider",
        "month_label",
        "status",
        "subtotal",
        "tax",
        "total",
        "payout",
        "currency",
        "issued_on",
        "due_on",
    )
    list_filter = ("status", MonthFilter, ProviderFilter, "currency")
    list_select_related = ("provider",)
    search_fields = ("number", "provider__name")
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("number", "status", "operator", "provider", "currency", "month", "lines_summary")}),
        (
            "Money",
            {"fields": ("subtotal", "tax_rate", "tax", "total", "undisputed", "retail_collected", "payout")},
        ),
        ("Dates", {"fields": ("issued_on", "due_on", "disputable_until", "settled_at")}),
    )
    readonly_fields = ("lines_summary", "undisputed")
    inlines = [StatementLineInline, StatementDisputeInline, TransitionLogInline]
    actions = [
        service_action(services.statement_issue, id_arg="statement_id", description="Issue (number and freeze)"),
        service_action(services.statement_settle, id_arg="statement_id", description="Settle (paid or paid out)"),
    ]

    @admin.display(description="Month", ordering="month")
    def month_label(self, statement: Statement) -> str:
        return f"{statement.month:%Y-%m}"

    @admin.display(description="Lines")
    def lines_summary(self, statement: Statement):
        count = statement.lines.count()
        if not count:
            return "No lines."
        url = reverse("admin:wholesale_statementline_changelist") + f"?statement={statement.pk}"
        shown = f"the first {LINES_SHOWN} are below" if count > LINES_SHOWN else "all are below"
        return format_html(
            '{} line{}, {}: <a href="{}">open the {} in the line list</a>',
            count,
            "" if count == 1 else "s",
            shown,
            url,
            "line" if count == 1 else f"{count} lines",
        )

    @admin.display(description="Due now (less what open disputes question)")
    def undisputed(self, statement: Statement) -> str:
        return f"{services.undisputed_amount(statement)} {statement.currency}"


@admin.register(StatementLine)
class StatementLineAdmin(admin.ModelAdmin):
    """Lines are written by the month's run and never changed."""

    list_display = (
        "id",
        "statement",
        "kind",
        "description",
        "service_id",
        "profile",
        "first_day",
        "until",
        "days",
        "unit_rate",
        "amount",
    )
    list_filter = (StatementFilter, "kind", LineMonthFilter, StatementProviderFilter, "statement__status", "category")
    list_select_related = ("statement__provider",)
    search_fields = ("statement__number", "description", "profile", "=service__id")
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- disputes ----------------------------------------------------------------------------------------------------


class DisputedLineInline(ReadOnlyInline):
    model = DisputedLine
    fields = ("line", "line_description", "line_amount", "amount")
    verbose_name_plural = "disputed lines (the amount in question of each)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("line")

    @admin.display(description="Line")
    def line_description(self, disputed: DisputedLine) -> str:
        line = disputed.line
        days = f", {line.days} days from {line.first_day}" if line.first_day else ""
        return f"{line.description or line.get_kind_display()} (service {line.service_id or '-'}{days})"

    @admin.display(description="Line amount")
    def line_amount(self, disputed: DisputedLine):
        return disputed.line.amount


class RejectForm(ActionForm):
    reason = forms.CharField(widget=forms.Textarea, label="Why the charge stands (the provider is told)")


def _reject(dispute: StatementDispute, data: dict, actor) -> str:
    services.dispute_reject(dispute_id=dispute.pk, actor=actor, reason=data["reason"])
    return "rejected; the provider is told why."


@admin.register(StatementDispute)
class StatementDisputeAdmin(ActedOnOnly, admin.ModelAdmin):
    """A provider's dispute (opened through the API), decided here through the services."""

    list_display = (
        "__str__",
        "statement",
        "provider",
        "status",
        "reason_code",
        "amount",
        "upheld_amount",
        "age",
        "escalation",
        "created_at",
        "decided_at",
    )
    list_filter = ("status", "reason_code", StatementProviderFilter)
    list_select_related = ("statement__provider",)
    search_fields = ("statement__number", "text")
    readonly_fields = ("age", "escalation")
    fields = (
        "statement",
        "status",
        "reason_code",
        "text",
        "amount",
        "upheld_amount",
        "decision",
        "opened_by",
        "created_at",
        "decided_at",
        "age",
        "escalation",
    )
    inlines = [DisputedLineInline, TransitionLogInline]
    actions = [
        service_action(services.dispute_review, id_arg="dispute_id", description="Review (take it up)"),
        service_action(services.dispute_uphold, id_arg="dispute_id", description="Uphold (the full amount)"),
        form_action(form_class=RejectForm, description="Reject (with a reason)", call=_reject),
    ]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description="Provider", ordering="statement__provider__name")
    def provider(self, dispute: StatementDispute) -> str:
        return str(dispute.statement.provider)

    @admin.display(description="Age")
    def age(self, dispute: StatementDispute) -> str:
        if dispute.created_at is None:
            return "-"
        days = ((dispute.decided_at or timezone.now()) - dispute.created_at).days
        return f"{days} day{'' if days == 1 else 's'}"

    @admin.display(description="Escalation")
    def escalation(self, dispute: StatementDispute) -> str:
        if dispute.created_at is None:
            return "-"
        level = services.escalation_level(dispute)
        return f"level {level}" if level else "none"


# --- variance ----------------------------------------------------------------------------------------------------


@admin.register(Variance)
class VarianceAdmin(admin.ModelAdmin):
    """What the last variance check found (recomputed by each check): looked at, never changed by hand."""

    list_display = (
        "month_label",
        "provider",
        "kind",
        "service_id",
        "subscription_id",
        "network_days",
        "retail_days",
        "statement_days",
        "expected",
        "charged",
        "amount",
        "detail",
    )
    list_filter = (MonthFilter, ProviderFilter, "kind")
    list_select_related = ("provider",)
    search_fields = ("=service__id", "=subscription__id", "detail")
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Month", ordering="month")
    def month_label(self, variance: Variance) -> str:
        return f"{variance.month:%Y-%m}"
