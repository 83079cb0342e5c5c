"""What the billing admin pages share: read-only records, the override permission, action helpers and forms."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.db.models import Exists, OuterRef

from billing import overrides
from billing.models import (
    PaymentMethod,
    ReasonCode,
)
from cos.admin_tools import REFUSALS, ActionForm, refusal_text


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by billing itself: looked at, never added, changed or deleted by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OverridePermissionMixin:
    """Actions marked `permissions=["override_pricing"]` show only to users who may override prices."""

    def has_override_pricing_permission(self, request) -> bool:
        return request.user.has_perm(overrides.PERMISSION)


def _report(modeladmin, request, obj, success: str, service, **kwargs) -> None:
    """Call `service(**kwargs)` for `obj`; a refusal becomes an error message naming the object."""
    try:
        service(**kwargs)
    except REFUSALS as refused:
        modeladmin.message_user(request, f"{obj}: {refusal_text(refused)}", messages.ERROR)
    else:
        modeladmin.message_user(request, f"{obj}: {success}", messages.SUCCESS)


def _the_one_selected(modeladmin, request, queryset, *, what: str):
    """The single selected object of an action that acts on one at a time; otherwise None, with a message."""
    if queryset.count() != 1:
        modeladmin.message_user(request, f"Select exactly one {what}: this action acts on one.", messages.ERROR)
        return None
    return queryset.get()


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent, written only by billing itself: every listed field read-only."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def _method_on_file(account_ref: str) -> Exists:
    """Whether the account (the outer row's `account_ref`) has a default payment method that was not removed."""
    return Exists(PaymentMethod.objects.filter(account_id=OuterRef(account_ref), is_default=True, removed_at=None))


class MethodOnFileFilter(admin.SimpleListFilter):
    """Yes: the account can be charged automatically; no: there is nothing on file to charge."""

    title = "payment method on file"
    parameter_name = "method_on_file"
    account_ref = "pk"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No (no payment method on file)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(_method_on_file(self.account_ref))
        if self.value() == "no":
            return queryset.filter(~_method_on_file(self.account_ref))
        return queryset


class ReasonForm(ActionForm):
    reason = forms.CharField(widget=forms.Textarea, label="Why")


class ReasonCodeForm(ActionForm):
    reason_code = forms.ModelChoiceField(ReasonCode.objects.filter(active=True), label="Reason code")
    note = forms.CharField(required=False, widget=forms.Textarea, label="Note")


AMOUNT_AS_STATED = (
    "As the invoice states its prices: including tax on an invoice whose prices include tax (the tax it includes "
    "is split off), otherwise excluding tax (tax is added)."
)


class AmountForm(ReasonCodeForm):
    amount = forms.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        label="Amount",
        help_text=AMOUNT_AS_STATED,
        localize=False,
    )

    field_order = ["_selected_action", "amount", "reason_code", "note"]
