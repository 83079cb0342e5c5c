"""Forms of the field views."""

from django import forms
from django.core.exceptions import ValidationError

from workorders.choices import TaskStatus
from workorders.evidence import decimal_from_text
from workorders.models import Task

# What a decimal input lets through before the server reads it (the server's rules decide): digits, spaces between
# digit groups, one decimal comma or point, a leading minus. Written for Chromium's `v`-flag patterns.
DECIMAL_PATTERN = r"\s*[\-−]?\s*[0-9][0-9\s]*([.,][0-9]*)?\s*"


class TypedDecimalField(forms.DecimalField):
    """A decimal typed on a phone: a text input with the decimal keypad, read with a comma or a point.

    Not type="number": Chromium's number input in an English locale drops a comma as a thousands separator, so
    "-2,5" reached the server as -25 (and passed). Django's `localize` would do the same with USE_THOUSAND_SEPARATOR.
    """

    widget = forms.TextInput

    def __init__(self, *, example: str = "", **kwargs):
        self.example = example
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        return decimal_from_text(value, self.label or "The number")

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.pop("step", None)
        attrs.update(
            {
                "inputmode": "decimal",
                "pattern": DECIMAL_PATTERN,
                "autocomplete": "off",
                "title": f"A number, with a decimal comma or point{f' (e.g. {self.example})' if self.example else ''}",
            }
        )
        if self.example:
            attrs["placeholder"] = self.example
        return attrs


class PhotoForm(forms.Form):
    photo = forms.ImageField(
        label="Photo",
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
        error_messages={"required": "Choose a photo."},
    )


class LightLevelForm(forms.Form):
    light_level_dbm = TypedDecimalField(
        label="Receive power at the ONT (dBm)", max_digits=5, decimal_places=2, example="-19,5"
    )


class SpeedTestForm(forms.Form):
    download_mbps = TypedDecimalField(
        label="Download (Mbit/s)", max_digits=8, decimal_places=2, min_value=0, example="940,5"
    )
    upload_mbps = TypedDecimalField(label="Upload (Mbit/s)", max_digits=8, decimal_places=2, min_value=0, example="930")


class OntSerialForm(forms.Form):
    ont_serial = forms.CharField(
        label="ONT serial (from the label)",
        max_length=12,
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off"}),
    )


class SignatureForm(forms.Form):
    signature = forms.CharField(
        label="Customer's signature",
        widget=forms.HiddenInput,
        error_messages={"required": "Draw the customer's signature."},
    )


class NoteForm(forms.Form):
    note = forms.CharField(
        label="Note", widget=forms.Textarea(attrs={"rows": 3}), error_messages={"required": "Write the note."}
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=1000, error_messages={"required": "Say why."})


EVIDENCE_FORMS = {
    "photo": PhotoForm,
    "light_level": LightLevelForm,
    "speed_test": SpeedTestForm,
    "ont_serial": OntSerialForm,
    "signature": SignatureForm,
    "note": NoteForm,
}

# The field an evidence kind's refusals are shown next to (a refusal from the service names no field).
EVIDENCE_MAIN_FIELD = {
    "photo": "photo",
    "light_level": "light_level_dbm",
    "speed_test": "download_mbps",
    "ont_serial": "ont_serial",
    "signature": "signature",
    "note": "note",
}


class AssignForm(forms.Form):
    """A field manager hands tasks of the organization to one of its technicians."""

    task = forms.TypedMultipleChoiceField(
        coerce=int,
        choices=(),
        error_messages={
            "required": "Choose at least one task to assign.",
            "invalid_choice": "Task %(value)s is no unassigned task of your organization now; reload the page.",
        },
    )
    user = forms.TypedChoiceField(
        coerce=int,
        choices=(),
        label="Technician",
        error_messages={
            "required": "Choose the technician.",
            "invalid_choice": "Choose one of your organization's technicians.",
        },
    )

    def __init__(self, *args, tasks=(), technicians=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["task"].choices = [(t.pk, str(t)) for t in tasks]
        self.fields["user"].choices = [(u.pk, u.get_full_name() or u.get_username()) for u in technicians]


class ScheduleForm(forms.Form):
    """The day and the window of a visit."""

    on = forms.DateField(
        label="Day", widget=forms.DateInput(attrs={"type": "date"}), error_messages={"required": "Choose the day."}
    )
    window_start = forms.TimeField(label="From", widget=forms.TimeInput(attrs={"type": "time"}), required=False)
    window_end = forms.TimeField(label="Until", widget=forms.TimeInput(attrs={"type": "time"}), required=False)

    def clean(self):
        data = super().clean()
        start, end = data.get("window_start"), data.get("window_end")
        if (start is None) != (end is None):
            self.add_error("window_end" if start else "window_start", "Give the window's start and end, or neither.")
        elif start and end and end <= start:
            self.add_error("window_end", "The window must end after it starts.")
        return data


class RedoForm(forms.Form):
    """What the operator sends back: the tasks to redo and why (the work order's done or skipped tasks)."""

    tasks = forms.ModelMultipleChoiceField(
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        label="Tasks to redo",
        error_messages={"required": "Choose the tasks to redo."},
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="What must be fixed",
        error_messages={"required": "Say what must be fixed."},
    )

    def __init__(self, *args, work_order_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tasks"].queryset = (
            Task.objects.filter(work_order_id__in=work_order_ids, status__in=[TaskStatus.DONE, TaskStatus.SKIPPED])
            .select_related("work_order")
            .order_by("work_order_id", "position")
        )
        self.fields["tasks"].label_from_instance = lambda task: f"WO-{task.work_order_id} · {task}"

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError("Say what must be fixed.")
        return reason
