"""Forms of the subscriber's billing pages."""

from django import forms

from billing.choices import Collection, Delivery, MethodType
from billing.models import PaymentMethod
from billing.preferences import preferences_problems


class BillingPreferencesForm(forms.Form):
    collection = forms.ChoiceField(label="How you pay", choices=Collection.choices, widget=forms.RadioSelect)
    delivery = forms.ChoiceField(label="How you get your invoices", choices=Delivery.choices, widget=forms.RadioSelect)
    invoice_email = forms.EmailField(label="Invoice e-mail", required=False, max_length=254)

    def clean(self):
        cleaned = super().clean()
        if {"collection", "delivery", "invoice_email"} <= cleaned.keys():
            # The rules live with the service; the form shows them next to the field they concern.
            for field, message in preferences_problems(
                collection=cleaned["collection"], delivery=cleaned["delivery"], invoice_email=cleaned["invoice_email"]
            ).items():
                self.add_error(field, message)
        return cleaned


# --- payment methods and paying an invoice -------------------------------------------------------------------


def sepa_mandate_text(creditor: str) -> str:
    """The SEPA Direct Debit mandate the subscriber accepts when saving an IBAN (Stripe's wording)."""
    return (
        f"By providing your IBAN and confirming this form, you authorise (A) {creditor} and Stripe, our payment "
        "service provider, to send instructions to your bank to debit your account and (B) your bank to debit your "
        "account in accordance with those instructions. As part of your rights, you are entitled to a refund from "
        "your bank under the terms and conditions of your agreement with your bank. A refund must be claimed "
        "within 8 weeks starting from the date on which your account was debited. Your rights are explained in a "
        "statement that you can obtain from your bank."
    )


def ach_authorization_text(creditor: str) -> str:
    """The ACH debit authorization the subscriber accepts when saving a US bank account (Stripe's wording)."""
    return (
        f"By accepting, you authorize {creditor} to debit the bank account above for any amount owed for charges "
        f"arising from your use of {creditor}'s services, pursuant to {creditor}'s terms, until this authorization "
        f"is revoked. You may amend or cancel this authorization at any time by providing notice to {creditor} "
        "with 30 (thirty) days notice."
    )


def method_label(method) -> str:
    """How a saved method reads for the subscriber: `Visa •••• 4242, expires 12/2040`."""
    if method.type == MethodType.CARD:
        label = f"{(method.brand or 'card').title()} •••• {method.last4}"
        if method.exp_month and method.exp_year:
            label += f", expires {method.exp_month:02d}/{method.exp_year}"
        return label
    return f"{method.get_type_display()} •••• {method.last4}"


class _MethodDetailsForm(forms.Form):
    """What the offline gateway takes in place of Stripe Elements; the gateway checks the details themselves."""

    method_type = ""
    make_default = forms.BooleanField(label="Make this my default payment method", required=False, initial=True)

    def __init__(self, *args, creditor: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.creditor = creditor

    def details(self) -> dict:
        """The details for the gateway: every field but the checkboxes, with the method type."""
        values = {k: v for k, v in self.cleaned_data.items() if not isinstance(self.fields[k], forms.BooleanField)}
        return {**values, "type": self.method_type}


class CardDetailsForm(_MethodDetailsForm):
    method_type = MethodType.CARD
    number = forms.CharField(
        label="Card number",
        max_length=23,
        widget=forms.TextInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
    )
    exp_month = forms.IntegerField(
        label="Expiry month",
        min_value=1,
        max_value=12,
        widget=forms.NumberInput(attrs={"autocomplete": "cc-exp-month"}),
    )
    exp_year = forms.IntegerField(
        label="Expiry year",
        min_value=0,
        max_value=2100,
        widget=forms.NumberInput(attrs={"autocomplete": "cc-exp-year"}),
    )
    cvc = forms.CharField(
        label="Security code (CVC)",
        max_length=4,
        widget=forms.TextInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric"}),
    )
    field_order = ["number", "exp_month", "exp_year", "cvc", "make_default"]


class SepaDebitDetailsForm(_MethodDetailsForm):
    method_type = MethodType.SEPA_DEBIT
    account_holder_name = forms.CharField(label="Account holder", max_length=100)
    iban = forms.CharField(label="IBAN", max_length=42)
    mandate_accepted = forms.BooleanField(
        label="I accept the SEPA Direct Debit mandate above",
        error_messages={"required": "Accept the mandate to pay by SEPA Direct Debit."},
    )
    field_order = ["account_holder_name", "iban", "mandate_accepted", "make_default"]

    @property
    def mandate_text(self) -> str:
        return sepa_mandate_text(self.creditor)


class UsBankAccountDetailsForm(_MethodDetailsForm):
    method_type = MethodType.US_BANK_ACCOUNT
    account_holder_name = forms.CharField(label="Account holder", max_length=100)
    routing_number = forms.CharField(
        label="Routing number", max_length=9, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    account_number = forms.CharField(
        label="Account number", max_length=17, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    authorization_accepted = forms.BooleanField(
        label="I authorize these debits",
        error_messages={"required": "Authorize the debits to pay from a US bank account."},
    )
    field_order = ["account_holder_name", "routing_number", "account_number", "authorization_accepted", "make_default"]

    @property
    def mandate_text(self) -> str:
        return ach_authorization_text(self.creditor)


METHOD_DETAILS_FORMS = {
    MethodType.CARD: CardDetailsForm,
    MethodType.SEPA_DEBIT: SepaDebitDetailsForm,
    MethodType.US_BANK_ACCOUNT: UsBankAccountDetailsForm,
}


class _MethodChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return method_label(obj) + (" (default)" if obj.is_default else "")


class InvoicePayForm(forms.Form):
    """Which of the account's saved methods pays the invoice now."""

    method = _MethodChoiceField(
        label="Pay with", queryset=PaymentMethod.objects.none(), empty_label=None, widget=forms.RadioSelect
    )

    def __init__(self, *args, methods, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["method"].queryset = methods
        default = next((m for m in methods if m.is_default), None)
        if default is not None:
            self.fields["method"].initial = default.pk
