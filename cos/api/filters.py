"""Query filters shared by the provider API's lists."""

import re
from datetime import UTC, datetime

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

# The ids the database can hold (a 64-bit integer); a larger one names no row, but must not reach the database,
# which refuses it (an error on PostgreSQL, an overflow in SQLite's driver).
LARGEST_ID = 2**63 - 1


class WholeNumberField(forms.IntegerField):
    """Digits with an optional sign, nothing else: Django's own field also takes "60.0" and " 60 "."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if not re.fullmatch(r"-?[0-9]+", str(value)):
            raise forms.ValidationError("Enter a whole number.", code="invalid")
        return int(value)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """A row's id: a whole number (1.5 or "abc" is a 400); an id that names no row of yours gives an empty list, as
    any filter that matches nothing, rather than an error that would tell another provider's ids from free ones."""

    field_class = WholeNumberField

    def filter(self, qs, value):
        if value is not None and abs(value) > LARGEST_ID:
            return qs.none()
        return super().filter(qs, value)


class StrictNullBooleanField(forms.NullBooleanField):
    """true or false; empty is no filter; anything else is a 400, where Django's field would read it as empty."""

    widget = forms.TextInput  # Django's select widget reads any other value as "unknown" before it is checked

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if value in ("true", "false"):
            return value == "true"
        raise forms.ValidationError("Give true or false.", code="invalid")

    def validate(self, value):
        pass  # None (no filter), True and False are all fine


@extend_schema_field(OpenApiTypes.BOOL)
class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictNullBooleanField


class InstantField(IsoDateTimeField):
    """An ISO 8601 date-time, as the instant in UTC. Any offset Python reads is taken (PostgreSQL refuses offsets past
    15:59 that the standard allows); an instant outside the years 1..9999 in UTC stands for the earliest or the
    latest one, which compares with every row the same way."""

    def to_python(self, value):
        instant = super().to_python(value)
        if instant is None:
            return None
        try:
            return instant.astimezone(UTC)
        except OverflowError:
            return (datetime.min if instant.year == 1 else datetime.max).replace(tzinfo=UTC)


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = InstantField
