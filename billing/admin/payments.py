"""Admin for the records of payments: payments (refund through the gateway, look up at the gateway), refunds,
credit entries, gateway events and disputes (messages to subscribers are in the core admin: Messages)."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages

from billing import payments, refunds
from billing.admin.common import (
    OverridePermissionMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ReasonCodeForm,
    _report,
    _the_one_selected,
)
from billing.choices import (
    IN_FLIGHT_PAYMENT_STATUSES,
)
from billing.gateways.base import GatewayUnavailable
from billing.models import (
    CreditEntry,
    Dispute,
    GatewayEvent,
    Payment,
    Refund,
)
from cos.admin_tools import REFUSALS, TransitionLogInline, action_with_form, refusal_text

# --- payments ----------------------------------------------------------------------------------


class RefundForm(ReasonCodeForm):
    amount = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), label="Amount to refund", localize=False
    )

    field_order = ["_selected_action", "amount", "reason_code", "note"]


class RefundInline(ReadOnlyInline):
    model = Refund
    fk_name = "payment"
    fields = ("created_at", "amount", "status", "reason_code", "actor", "credit_note", "reference", "failure_message")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("reason_code", "actor", "credit_note")


_CUSTOMER_SEARCH = (
    "account__customer__email",
    "account__customer__last_name",
    "account__customer__first_name",
    "account__customer__company_name",
)


@admin.register(Payment)
class PaymentAdmin(OverridePermissionMixin, ReadOnlyAdmin):
    """Payments change only through the gateway's answers and the services: a refund, a look-up."""

    list_display = (
        "id",
        "invoice",
        "customer",
        "provider",
        "method_type",
        "channel",
        "money",
        "status",
        "created_at",
        "references",
    )
    list_filter = (
        "status",
        "method_type",
        "channel",
        ("account__provider", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("invoice__number", *_CUSTOMER_SEARCH, "reference", "charge_reference", "external_reference")
    list_select_related = ("invoice", "account__customer", "account__provider")
    date_hierarchy = "created_at"
    show_full_result_count = False
    # The client secret is the subscriber's, for confirming the payment in their browser.
    exclude = ("client_secret",)
    inlines = [RefundInline, TransitionLogInline]
    actions = ["refund", "look_up"]

    def has_look_up_permission(self, request) -> bool:
        return request.user.has_perm("billing.change_payment")

    @admin.display(description="Customer", ordering="account__customer__last_name")
    def customer(self, payment: Payment) -> str:
        return str(payment.account.customer)

    @admin.display(description="Provider", ordering="account__provider__name")
    def provider(self, payment: Payment) -> str:
        return str(payment.account.provider)

    @admin.display(description="Amount", ordering="amount")
    def money(self, payment: Payment) -> str:
        return f"{payment.amount} {payment.currency}"

    @admin.display(description="Reference")
    def references(self, payment: Payment) -> str:
        return " / ".join(ref for ref in (payment.reference, payment.external_reference) if ref)

    @admin.action(description="Refund through the gateway (with a reason code)", permissions=["override_pricing"])
    def refund(self, request, queryset):
        # Money leaves through the gateway: one payment at a time keeps the amount unambiguous.
        payment = _the_one_selected(self, request, queryset, what="payment")
        if payment is None:
            return None

        def apply(data):
            _report(
                self,
                request,
                payment,
                f"refund of {data['amount']} {payment.currency} on its way through the gateway (with a credit note).",
                refunds.payment_refund,
                payment_id=payment.pk,
                amount=data["amount"],
                reason_code=data["reason_code"],
                actor=request.user,
                note=data["note"],
            )

        return action_with_form(self, request, queryset, form_class=RefundForm, title="Refund a payment", apply=apply)

    @admin.action(description="Look up at the gateway (payments in flight)", permissions=["look_up"])
    def look_up(self, request, queryset):
        for payment in queryset.order_by("pk"):
            if payment.status not in IN_FLIGHT_PAYMENT_STATUSES or not payment.reference:
                self.message_user(request, f"{payment}: not in flight at a gateway, nothing to look up.", messages.INFO)
                continue
            try:
                now = payments.payment_refresh(payment_id=payment.pk)
            except GatewayUnavailable as exc:
                self.message_user(request, f"{payment}: the gateway did not answer ({exc}).", messages.ERROR)
            except REFUSALS as refused:
                self.message_user(request, f"{payment}: {refusal_text(refused)}", messages.ERROR)
            else:
                self.message_user(
                    request, f"{payment}: the gateway says {now.get_status_display().lower()}.", messages.SUCCESS
                )


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "payment",
        "invoice",
        "customer",
        "amount",
        "status",
        "reason_code",
        "actor",
        "credit_note",
        "reference",
    )
    list_filter = ("status", ("payment__account__provider", admin.RelatedOnlyFieldListFilter), "reason_code")
    search_fields = (
        "payment__invoice__number",
        "credit_note__number",
        "reference",
        "payment__account__customer__email",
        "payment__account__customer__last_name",
    )
    list_select_related = ("payment__invoice", "payment__account__customer", "reason_code", "actor", "credit_note")
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [TransitionLogInline]

    @admin.display(description="Invoice", ordering="payment__invoice__number")
    def invoice(self, refund: Refund) -> str:
        return str(refund.payment.invoice or "")

    @admin.display(description="Customer", ordering="payment__account__customer__last_name")
    def customer(self, refund: Refund) -> str:
        return str(refund.payment.account.customer)


@admin.register(CreditEntry)
class CreditEntryAdmin(ReadOnlyAdmin):
    """The credit balance's ledger: the balance of an account is the sum of its entries."""

    list_display = ("created_at", "account", "kind", "amount", "description", "invoice", "payment")
    list_filter = ("kind",)
    search_fields = (*_CUSTOMER_SEARCH, "description", "invoice__number")
    list_select_related = ("account__customer", "account__provider", "invoice", "payment")
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(GatewayEvent)
class GatewayEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "gateway", "type", "event_id", "outcome", "deliveries", "note")
    list_filter = ("type", "outcome", "gateway")
    search_fields = ("event_id",)
    date_hierarchy = "received_at"
    show_full_result_count = False


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    list_display = ("reference", "payment", "invoice", "amount", "reason", "status", "created_at", "closed_at")
    list_filter = ("status",)
    search_fields = ("reference", "payment__reference", "payment__charge_reference", "payment__invoice__number")
    list_select_related = ("payment__invoice",)
    show_full_result_count = False
    inlines = [TransitionLogInline]

    @admin.display(description="Invoice", ordering="payment__invoice__number")
    def invoice(self, dispute: Dispute) -> str:
        return str(dispute.payment.invoice or "")
