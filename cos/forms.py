"""Forms of the core's portal pages."""

from django import forms
from django.conf import settings


class MessagePreferencesForm(forms.Form):
    """How the subscriber is told what happens: the language and the channels (cos.services checks the number)."""

    language = forms.ChoiceField(label="Language of messages", choices=settings.LANGUAGES, widget=forms.RadioSelect)
    notify_by_email = forms.BooleanField(label="By e-mail", required=False)
    notify_by_sms = forms.BooleanField(label="By SMS", required=False)
    phone = forms.CharField(
        label="Mobile number",
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
        help_text="for SMS, e.g. 070-123 45 67",
    )
