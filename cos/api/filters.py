"""Query filters shared by the provider API's lists."""

import django_filters
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

# The ids the database can hold (a 64-bit integer); a larger one names no row, but must not reach the database,
# which refuses it (an error on PostgreSQL, an overflow in SQLite's driver).
LARGEST_ID = 2**63 - 1


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """A row's id: a whole number (1.5 or "abc" is a 400); an id that names no row of yours gives an empty list, as
    any filter that matches nothing, rather than an error that would tell another provider's ids from free ones."""

    field_class = forms.IntegerField

    def filter(self, qs, value):
        if value is not None and abs(value) > LARGEST_ID:
            return qs.none()
        return super().filter(qs, value)


class StrictNullBooleanField(forms.NullBooleanField):
    """true/false (or 1/0); empty is no filter; anything else is a 400, where Django's field would read it as empty."""

    widget = forms.TextInput  # Django's select widget reads any other value as "unknown" before it is checked

    def to_python(self, value):
        text = "" if value is None else str(value).strip().lower()
        if not text:
            return None
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise forms.ValidationError("Give true or false.", code="invalid")

    def validate(self, value):
        pass  # None (no filter), True and False are all fine


@extend_schema_field(OpenApiTypes.BOOL)
class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictNullBooleanField
