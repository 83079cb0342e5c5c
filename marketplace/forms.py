"""Forms of the customer portal."""

from datetime import date, timedelta

from django import forms
from django.contrib.auth import get_user_model, password_validation

from cos.choices import CustomerType
from marketplace.choices import CancellationReason, InstallSlot


class InterestForm(forms.Form):
    email = forms.EmailField()


class OfferSelectionForm(forms.Form):
    """The offers picked on the address page: 'marketplace:product' keys, one provider and marketplace per order."""

    offer = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, error_messages={"required": "Choose at least one offer."}
    )
    customer_type = forms.ChoiceField(choices=CustomerType.choices)

    def __init__(self, *args, offers, **kwargs):
        super().__init__(*args, **kwargs)
        self.offers = {f"{o.marketplace.pk}:{o.product.pk}": o for o in offers}
        self.fields["offer"].choices = [(key, o.product.name) for key, o in self.offers.items()]

    def clean_offer(self):
        chosen = [self.offers[key] for key in self.cleaned_data["offer"]]
        if len({(o.marketplace.pk, o.provider.pk) for o in chosen}) > 1:
            raise forms.ValidationError("An order is with one provider: choose offers of one provider.")
        categories = [o.category for o in chosen]
        if len(categories) != len(set(categories)):
            raise forms.ValidationError("Choose at most one offer per category.")
        return chosen


class CheckoutDetailsForm(forms.Form):
    """Contact, billing and installation details; with sign-up fields when the visitor has no login."""

    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)
    company_name = forms.CharField(max_length=200, required=False)
    email = forms.EmailField()
    phone = forms.CharField(max_length=40)
    billing_street = forms.CharField(max_length=200, label="Billing street and number")
    billing_postal_code = forms.CharField(max_length=16, label="Postal code")
    billing_city = forms.CharField(max_length=100, label="City")
    install_date = forms.DateField(
        required=False, label="Preferred installation date", widget=forms.DateInput(attrs={"type": "date"})
    )
    install_slot = forms.ChoiceField(choices=InstallSlot.choices, label="Preferred time of day")
    password = forms.CharField(
        required=False, widget=forms.PasswordInput, label="Choose a password (for your customer portal login)"
    )

    def __init__(self, *args, customer_type: str, needs_login: bool, requires_window: bool, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today  # the marketplace's today
        self.customer_type = customer_type
        self.needs_login = needs_login
        self.fields["install_date"].required = requires_window
        if customer_type != CustomerType.RESIDENTIAL:
            self.fields["company_name"].required = True
        else:
            del self.fields["company_name"]
        if needs_login:
            self.fields["password"].required = True
        else:
            del self.fields["password"]

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if self.needs_login and get_user_model().objects.filter(username__iexact=email).exists():
            raise forms.ValidationError("There is already a login with this email: log in first.")
        return email

    def clean_install_date(self):
        value = self.cleaned_data.get("install_date")
        if value and value <= self.today:
            raise forms.ValidationError("Choose a date after today.")
        if value and value > self.today + timedelta(days=365):
            raise forms.ValidationError("Choose a date within a year.")
        return value

    def clean_password(self):
        password = self.cleaned_data.get("password", "")
        if self.needs_login:
            password_validation.validate_password(password)
        return password


class ReviewForm(forms.Form):
    terms_accepted = forms.BooleanField(
        label="I accept the terms", error_messages={"required": "Accept the terms to place the order."}
    )


class TerminateForm(forms.Form):
    """Ending a subscription in the portal: why, and (optionally) a later end day than the earliest."""

    reason = forms.ChoiceField(
        choices=[("", "Choose a reason")] + CancellationReason.choices, label="Why are you ending it?"
    )
    note = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Anything to add",
        help_text="Needed when the reason is 'Other'.",
    )
    ends_on = forms.DateField(
        required=False,
        label="End day",
        help_text="Leave empty to end on the earliest day your terms allow.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args, earliest, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ends_on"].widget.attrs["min"] = earliest.isoformat()

    def clean(self):
        data = super().clean()
        if data.get("reason") == CancellationReason.OTHER and not (data.get("note") or "").strip():
            self.add_error("note", "Tell us why.")
        return data


class ChangePlanForm(forms.Form):
    product = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label="New plan")

    def __init__(self, *args, options, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [(o.product.pk, o.product.name) for o in options]
