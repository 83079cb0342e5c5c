"""Forms of the subscriber's billing pages."""

from django import forms

from billing.choices import Collection, Delivery
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
