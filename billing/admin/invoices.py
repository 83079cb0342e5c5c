"""Admin for billing rules, reason codes, accounts and invoices (actions through the services), the override audit
and billing runs."""

from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.db.models import F, Prefetch
from django.utils import timezone

from billing import changes, overrides, payments, services
from billing.admin.common import (
    AMOUNT_AS_STATED,
    AmountForm,
    MethodOnFileFilter,
    OverridePermissionMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ReasonCodeForm,
    ReasonForm,
    _report,
    _the_one_selected,
)
from billing.choices import (
    MANUAL_METHOD_TYPES,
    PAYABLE_STATUSES,
    UNPAID_STATUSES,
    Collection,
    CreditKind,
    InvoiceKind,
    InvoiceStatus,
)
from billing.models import (
    BillingAccount,
    BillingConfig,
    BillingRun,
    BillingSchedule,
    CreditEntry,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentMethod,
    PricingOverride,
    ReasonCode,
)
from billing.preferences import billing_preferences_update, preferences_problems
from billing.references import luhn_valid, reference_typed
from cos.admin_tools import (
    REFUSALS,
    ActionForm,
    GuardedFieldsMixin,
    TransitionLogInline,
    action_with_form,
    form_action,
    in_use,
    refusal_text,
    service_action,
)
from cos.roles import is_admin

# --- rules and reason codes --------------------------------------------------------------------


@admin.register(BillingConfig)
class BillingConfigAdmin(GuardedFieldsMixin, admin.ModelAdmin):
    """The rules finance keeps; whose rules they are (the marketplace, the provider) is fixed once they exist, and
    only an admin removes a set of rules (billing then falls back to the marketplace's, or to the defaults)."""

    list_display = (
        "__str__",
        "marketplace",
        "provider",
        "billing_cycle",
        "due_days",
        "review_minutes",
        "late_fee_kind",
        "late_fee_value",
        "late_fee_grace_days",
        "refund_on_termination",
    )
    list_filter = ("marketplace", "late_fee_kind", "refund_on_termination")
    list_select_related = ("marketplace", "provider")
    # Every editable field of the model is in one of these sets: a field left out would not be editable at all.
    fieldsets = (
        (None, {"fields": ("marketplace", "provider", "billing_cycle", "due_days", "review_minutes")}),
        (
            "Late fees",
            {"fields": ("late_fee_kind", "late_fee_value", "late_fee_grace_days", "late_fee_minimum_balance")},
        ),
        ("Termination", {"fields": ("refund_on_termination", "recovery_fee")}),
        ("Dunning", {"fields": ("retry_days", "notify_subscriber", "suspend_after_days")}),
    )
    guarded_fields = ("marketplace", "provider")

    def has_delete_permission(self, request, obj=None) -> bool:
        return is_admin(request.user) and super().has_delete_permission(request, obj)


@admin.register(ReasonCode)
class ReasonCodeAdmin(admin.ModelAdmin):
    """Reason codes of overrides, credits, write-offs and refunds. One that was used is part of their audit: it is
    never deleted (it is made inactive instead) and its code stays; only an admin deletes one never used."""

    list_display = ("code", "label", "active")
    list_filter = ("active",)
    search_fields = ("code", "label")

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj is not None and in_use(obj) else ()

    def has_delete_permission(self, request, obj=None) -> bool:
        if not (is_admin(request.user) and super().has_delete_permission(request, obj)):
            return False
        return obj is None or not in_use(obj)


# --- accounts ----------------------------------------------------------------------------------


class ScheduleInline(ReadOnlyInline):
    model = BillingSchedule
    fields = ("subscription", "cycle", "activated_on", "billed_until", "ends_on", "equipment_returned")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("subscription__product", "subscription__address")


class AutomaticCollectionFilter(admin.SimpleListFilter):
    title = "automatic collection"
    parameter_name = "automatic_collection"

    def lookups(self, request, model_admin):
        return [("without", "Customers without an automatic collection"), ("with", "With an automatic collection")]

    def queryset(self, request, queryset):
        automatic = BillingAccount.objects.filter(collection=Collection.AUTOMATIC).values("customer_id")
        if self.value() == "without":
            return queryset.exclude(customer_id__in=automatic)
        if self.value() == "with":
            return queryset.filter(customer_id__in=automatic)
        return queryset


class PaymentMethodInline(ReadOnlyInline):
    model = PaymentMethod
    fields = (
        "type",
        "brand",
        "last4",
        "exp_month",
        "exp_year",
        "is_default",
        "gateway",
        "reference",
        "mandate_reference",
        "created_at",
        "removed_at",
    )
    verbose_name_plural = "payment methods (removed ones kept)"


class AccountDeliveryForm(forms.ModelForm):
    """Where the account's invoices go, checked with the rules of the service that changes it."""

    def clean(self):
        cleaned = super().clean()
        if {"delivery", "invoice_email"} <= cleaned.keys():
            problems = preferences_problems(
                collection=self.instance.collection,
                delivery=cleaned["delivery"],
                invoice_email=(cleaned["invoice_email"] or "").strip(),
            )
            for field, message in problems.items():
                self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin):
    """A billing account's delivery and invoice e-mail are saved through `billing_preferences_update` (which records
    the change as billing_account.preferences_changed); everything else is read-only."""

    list_display = (
        "customer",
        "provider",
        "currency",
        "billing_cycle",
        "collection",
        "default_method",
        "delivery",
        "invoice_email",
    )
    list_filter = (
        AutomaticCollectionFilter,
        MethodOnFileFilter,
        "collection",
        "delivery",
        "billing_cycle",
        "provider",
        "currency",
    )
    search_fields = ("customer__email", "customer__last_name", "customer__first_name", "customer__company_name")
    list_select_related = ("customer", "provider")
    # The account's identity is billing's; its cycle is kept per subscription on the schedules; automatic
    # collection needs a payment method on file, so it is set where the payment method is, not here. The
    # gateway's customer id is made by the gateway on first use.
    readonly_fields = (
        "customer",
        "provider",
        "currency",
        "billing_cycle",
        "collection",
        "gateway_customer",
        "credit_balance",
    )
    form = AccountDeliveryForm
    show_full_result_count = False
    inlines = [ScheduleInline, PaymentMethodInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        on_file = PaymentMethod.objects.filter(is_default=True, removed_at=None)
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("payment_methods", queryset=on_file, to_attr="default_methods"))
        )

    def save_model(self, request, obj, form, change):
        billing_preferences_update(
            account_id=obj.pk,
            collection=obj.collection,
            delivery=obj.delivery,
            invoice_email=obj.invoice_email,
            actor=request.user,
        )

    def get_inline_instances(self, request, obj=None):
        inlines = super().get_inline_instances(request, obj)
        if request.method == "POST":
            # Payment methods are only shown, and change through their own services: a save of the account's
            # delivery details has nothing to post back for them.
            inlines = [inline for inline in inlines if not isinstance(inline, PaymentMethodInline)]
        return inlines

    @admin.display(description="Default payment method")
    def default_method(self, account: BillingAccount) -> str | None:
        return str(account.default_methods[0]) if account.default_methods else None

    @admin.display(description="Credit balance")
    def credit_balance(self, account: BillingAccount) -> str:
        return f"{payments.credit_balance(account.pk)} {account.currency}"


# --- invoices ----------------------------------------------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue (open or late, past the due day)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status__in=UNPAID_STATUSES, due_on__lt=timezone.localdate())
        return queryset


class InvoicePaymentFilter(admin.SimpleListFilter):
    """Where the money of an invoice stands, from its status and what has been paid on it."""

    title = "payment"
    parameter_name = "payment"

    def lookups(self, request, model_admin):
        return [
            ("processing", "Processing (a debit on its way)"),
            ("paid", "Paid"),
            ("unpaid", "Unpaid (nothing paid yet)"),
            ("partly_paid", "Partly paid"),
        ]

    def queryset(self, request, queryset):
        open_invoices = queryset.filter(kind=InvoiceKind.INVOICE, status__in=PAYABLE_STATUSES)
        match self.value():
            case "processing":
                return queryset.filter(status=InvoiceStatus.PROCESSING)
            case "paid":
                return queryset.filter(status=InvoiceStatus.PAID)
            case "unpaid":
                return open_invoices.filter(amount_paid__lte=0)
            case "partly_paid":
                return open_invoices.filter(amount_paid__gt=0, amount_paid__lt=F("total"))
        return queryset


class InvoiceMethodOnFileFilter(MethodOnFileFilter):
    account_ref = "account_id"


class LineInline(ReadOnlyInline):
    model = InvoiceLine
    fk_name = "invoice"
    fields = (
        "kind",
        "description",
        "amount",
        "tax",
        "period_start",
        "period_end",
        "rate",
        "days",
        "coverage",
        "voided",
    )


class OverrideInline(ReadOnlyInline):
    model = PricingOverride
    fk_name = "invoice"
    fields = ("created_at", "kind", "old_value", "new_value", "reason_code", "actor", "note", "result")
    verbose_name_plural = "pricing overrides"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("reason_code", "actor", "result")


class InvoicePaymentInline(ReadOnlyInline):
    model = Payment
    fk_name = "invoice"
    fields = (
        "created_at",
        "method_type",
        "channel",
        "amount",
        "status",
        "reference",
        "external_reference",
        "received_on",
        "recorded_by",
        "amount_refunded",
        "failure_message",
    )
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("recorded_by")


class ManualPaymentForm(ActionForm):
    amount = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), label="Amount received", localize=False
    )
    method_type = forms.ChoiceField(choices=[(kind.value, kind.label) for kind in MANUAL_METHOD_TYPES], label="Paid by")
    external_reference = forms.CharField(max_length=100, label="Reference (bank or receipt)")
    received_on = forms.DateField(initial=timezone.localdate, label="Received on")
    note = forms.CharField(required=False, max_length=300, widget=forms.Textarea, label="Note")


@admin.register(Invoice)
class InvoiceAdmin(OverridePermissionMixin, admin.ModelAdmin):
    """Invoices change only through their actions (each a service); a finalized invoice never changes at all."""

    list_display = (
        "__str__",
        "kind",
        "status",
        "customer",
        "issuer",
        "marketplace",
        "total",
        "amount_paid",
        "currency",
        "issued_on",
        "due_on",
    )
    list_filter = (
        "status",
        InvoicePaymentFilter,
        InvoiceMethodOnFileFilter,
        "kind",
        "reason",
        OverdueFilter,
        "issuer",
        "marketplace",
        "currency",
    )
    search_fields = (
        "number",
        "account__customer__email",
        "account__customer__last_name",
        "account__customer__first_name",
        "account__customer__company_name",
    )
    search_help_text = "Number, customer, or the OCR reference from a bank statement (spaces and dashes are fine)."
    list_select_related = ("account__customer", "issuer", "marketplace")
    show_full_result_count = False
    inlines = [LineInline, InvoicePaymentInline, OverrideInline, TransitionLogInline]

    def get_search_results(self, request, queryset, search_term):
        """A bank transfer is matched by its OCR reference, typed as the statement prints it ("2026 1000 0429")."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        digits = reference_typed(search_term)
        if len(digits) >= 8 and luhn_valid(digits) and not search_term.strip().isalpha():
            results = results | queryset.filter(payment_reference=digits)  # one query, the reference or the words
        return results, may_have_duplicates

    actions = [
        service_action(services.invoice_finalize, id_arg="invoice_id", description="Finalize (number and issue)"),
        "record_payment",
        "void",
        "credit",
        "discount",
        "write_off",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # The page of an invoice is for looking; the actions on the list are how it changes.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Customer", ordering="account__customer__last_name")
    def customer(self, invoice: Invoice) -> str:
        return str(invoice.account.customer)

    def has_record_payment_permission(self, request) -> bool:
        return request.user.has_perm("billing.add_payment")

    @admin.action(description="Record a manual payment (bank transfer, cash, cheque)", permissions=["record_payment"])
    def record_payment(self, request, queryset):
        invoice = _the_one_selected(self, request, queryset, what="invoice")
        if invoice is None:
            return None

        def apply(data):
            try:
                payment = payments.payment_record(
                    invoice_id=invoice.pk,
                    amount=data["amount"],
                    method_type=data["method_type"],
                    external_reference=data["external_reference"],
                    received_on=data["received_on"],
                    actor=request.user,
                    note=data["note"],
                )
            except REFUSALS as refused:
                self.message_user(request, f"{invoice}: {refusal_text(refused)}", messages.ERROR)
                return
            self.message_user(request, _payment_recorded_text(payment), messages.SUCCESS)

        return action_with_form(
            self, request, queryset, form_class=ManualPaymentForm, title="Record a manual payment", apply=apply
        )

    @admin.action(description="Void (with a reason)", permissions=["change"])
    def void(self, request, queryset):
        def apply(data):
            for invoice in queryset.order_by("pk"):
                _report(
                    self,
                    request,
                    invoice,
                    "voided.",
                    services.invoice_void,
                    invoice_id=invoice.pk,
                    actor=request.user,
                    reason=data["reason"],
                )

        return action_with_form(self, request, queryset, form_class=ReasonForm, title="Void invoices", apply=apply)

    def _amount_override(self, request, queryset, *, service, done: str, title: str):
        """An override with an amount and a reason code (credit, discount), applied to each selected invoice."""

        def apply(data):
            for invoice in queryset.order_by("pk"):
                _report(
                    self,
                    request,
                    invoice,
                    done.format(
                        amount=data["amount"], tax="including tax" if invoice.prices_include_tax else "plus tax"
                    ),
                    service,
                    invoice_id=invoice.pk,
                    amount=data["amount"],
                    reason_code=data["reason_code"],
                    actor=request.user,
                    note=data["note"],
                )

        return action_with_form(self, request, queryset, form_class=AmountForm, title=title, apply=apply)

    @admin.action(description="Credit (a credit note, with a reason code)", permissions=["override_pricing"])
    def credit(self, request, queryset):
        return self._amount_override(
            request,
            queryset,
            service=overrides.invoice_credit,
            done="credited {amount} {tax} on a credit note.",
            title="Credit invoices",
        )

    @admin.action(description="Discount (with a reason code)", permissions=["override_pricing"])
    def discount(self, request, queryset):
        return self._amount_override(
            request,
            queryset,
            service=overrides.invoice_discount,
            done="discounted {amount} {tax}.",
            title="Discount invoices",
        )

    @admin.action(description="Write off (late invoices, with a reason code)", permissions=["override_pricing"])
    def write_off(self, request, queryset):
        def apply(data):
            for invoice in queryset.order_by("pk"):
                _report(
                    self,
                    request,
                    invoice,
                    "written off.",
                    overrides.invoice_write_off,
                    invoice_id=invoice.pk,
                    reason_code=data["reason_code"],
                    actor=request.user,
                    note=data["note"],
                )

        return action_with_form(
            self, request, queryset, form_class=ReasonCodeForm, title="Write off invoices", apply=apply
        )


def _payment_recorded_text(payment: Payment) -> str:
    """What became of a recorded payment: the invoice paid or partly paid, and any excess kept as credit."""
    invoice = Invoice.objects.get(pk=payment.invoice_id)
    text = f"{invoice}: recorded {payment.amount} {payment.currency} ({payment.get_method_type_display().lower()}, "
    text += f"{payment.external_reference}); "
    if invoice.status == InvoiceStatus.PAID:
        text += "the invoice is paid."
    else:
        text += f"{invoice.open_amount} {invoice.currency} is still open."
    to_credit = CreditEntry.objects.filter(payment=payment, kind=CreditKind.OVERPAYMENT).values_list(
        "amount", flat=True
    )
    if excess := sum(to_credit):
        text += f" {excess} {payment.currency} more than was open went to the customer's credit balance."
    return text


class ManualPriceForm(ReasonCodeForm):
    amount = forms.DecimalField(
        max_digits=12, decimal_places=2, label="New amount", help_text=AMOUNT_AS_STATED, localize=False
    )

    field_order = ["_selected_action", "amount", "reason_code", "note"]


@admin.register(InvoiceLine)
class InvoiceLineAdmin(OverridePermissionMixin, ReadOnlyAdmin):
    list_display = ("description", "invoice", "kind", "amount", "tax", "subscription_id", "period_start", "period_end")
    list_filter = ("kind", "voided")
    search_fields = ("invoice__number", "description")
    list_select_related = ("invoice",)
    show_full_result_count = False
    actions = ["manual_price"]

    @admin.action(description="Set a manual price (lines of drafts, reason code)", permissions=["override_pricing"])
    def manual_price(self, request, queryset):
        def apply(data):
            for line in queryset.order_by("pk"):
                _report(
                    self,
                    request,
                    line,
                    f"now {data['amount']}.",
                    overrides.line_price_override,
                    line_id=line.pk,
                    amount=data["amount"],
                    reason_code=data["reason_code"],
                    actor=request.user,
                    note=data["note"],
                )

        return action_with_form(
            self, request, queryset, form_class=ManualPriceForm, title="Set a manual price", apply=apply
        )


@admin.register(PricingOverride)
class PricingOverrideAdmin(ReadOnlyAdmin):
    """The audit of pricing exceptions: who, when, what it was, what it became, and why."""

    list_display = ("created_at", "kind", "invoice", "old_value", "new_value", "reason_code", "actor", "result", "note")
    list_filter = ("kind", "reason_code")
    search_fields = ("invoice__number", "note", "actor__username")
    list_select_related = ("invoice", "reason_code", "actor", "result")
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyAdmin):
    list_display = ("as_of", "status", "chunks", "chunks_done", "invoices", "lines", "created_at", "finished_at")
    list_filter = ("status",)
    inlines = [TransitionLogInline]
    date_hierarchy = "as_of"


# --- schedules and billing holds ---------------------------------------------------------------


class HeldFilter(admin.SimpleListFilter):
    title = "billing hold"
    parameter_name = "held"

    def lookups(self, request, model_admin):
        return [("yes", "Held (service blocked)"), ("no", "Not held")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(subscription__service_instance__billing_blocked=True)
        if self.value() == "no":
            return queryset.exclude(subscription__service_instance__billing_blocked=True)
        return queryset


class HoldCreditForm(ReasonCodeForm):
    pass


def _release_bill(schedule, data, actor):
    changes.billing_hold_release(subscription_id=schedule.subscription_id, credit_held_days=False, actor=actor)


def _release_credit(schedule, data, actor):
    changes.billing_hold_release(
        subscription_id=schedule.subscription_id,
        credit_held_days=True,
        actor=actor,
        reason_code=data["reason_code"],
        note=data["note"],
    )


@admin.register(BillingSchedule)
class BillingScheduleAdmin(admin.ModelAdmin):
    """Where billing of each subscription stands; a held one (its service's billing is blocked) is released here."""

    list_display = ("subscription", "account", "cycle", "activated_on", "billed_until", "ends_on", "held")
    list_filter = (HeldFilter, "cycle", "account__provider")
    list_select_related = ("subscription__product", "subscription__service_instance", "account__customer")
    search_fields = ("=subscription__id", "account__customer__email")
    readonly_fields = [f.name for f in BillingSchedule._meta.fields]
    actions = [
        form_action(form_class=ActionForm, description="Release the hold: bill the held days", call=_release_bill),
        form_action(
            form_class=HoldCreditForm,
            description="Release the hold: credit the held days (reason code)",
            call=_release_credit,
        ),
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(boolean=True, description="held")
    def held(self, schedule) -> bool:
        service = getattr(schedule.subscription, "service_instance", None)
        return bool(service and service.billing_blocked)
