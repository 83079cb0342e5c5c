"""Forms of the field views."""

from django import forms


class PhotoForm(forms.Form):
    photo = forms.ImageField(
        label="Photo", widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"})
    )


class LightLevelForm(forms.Form):
    light_level_dbm = forms.DecimalField(
        label="Receive power at the ONT (dBm)",
        max_digits=5,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )


class SpeedTestForm(forms.Form):
    download_mbps = forms.DecimalField(label="Download (Mbit/s)", max_digits=8, decimal_places=2, min_value=0)
    upload_mbps = forms.DecimalField(label="Upload (Mbit/s)", max_digits=8, decimal_places=2, min_value=0)


class OntSerialForm(forms.Form):
    ont_serial = forms.CharField(
        label="ONT serial (from the label)",
        max_length=12,
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off"}),
    )


class SignatureForm(forms.Form):
    signature = forms.CharField(widget=forms.HiddenInput)


class NoteForm(forms.Form):
    note = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 3}))


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=1000)


EVIDENCE_FORMS = {
    "photo": PhotoForm,
    "light_level": LightLevelForm,
    "speed_test": SpeedTestForm,
    "ont_serial": OntSerialForm,
    "signature": SignatureForm,
    "note": NoteForm,
}
