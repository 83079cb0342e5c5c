"""Input serializers of the provider API take JSON as its schema types it: DRF on its own turns 12 into "12" for a
text field, "12" into 12 for a number and 1 into true, so a body that breaks the schema would be taken as if it kept
it. Each field's JSON type is checked before DRF converts the value; a wrong one is a 400 (code incorrect_type)."""

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.settings import api_settings

TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "an object",
}


def json_types(field) -> tuple[type, ...] | None:
    """The JSON types (as Python's json module reads them) the field's schema allows, None where it does not say."""
    if isinstance(field, serializers.BooleanField):
        return (bool,)
    if isinstance(field, serializers.IntegerField):
        return (int,)
    if isinstance(field, serializers.FloatField):
        return (int, float)
    if isinstance(field, serializers.DecimalField):
        as_string = getattr(field, "coerce_to_string", None)
        if as_string is None:
            as_string = api_settings.COERCE_DECIMAL_TO_STRING
        return (str,) if as_string else (int, float, str)
    if isinstance(field, serializers.MultipleChoiceField | serializers.ListField | serializers.ListSerializer):
        return (list,)
    if isinstance(field, serializers.ManyRelatedField):
        return (list,)
    if isinstance(field, serializers.ChoiceField):
        return (str,) if all(isinstance(key, str) for key in field.choices) else None
    if isinstance(field, serializers.PrimaryKeyRelatedField):
        return (int,)
    if isinstance(field, serializers.CharField | serializers.DateField | serializers.DateTimeField):
        return (str,)
    if isinstance(field, serializers.DictField | serializers.Serializer):
        return (dict,)
    return None


def _fits(value, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, float) and int in types and float not in types:
        return value.is_integer()  # 3.0 is the integer 3 in JSON
    return isinstance(value, types)


class StrictJSONMixin:
    """Refuse a JSON value of another type than the field's schema says, before the field converts it."""

    def to_internal_value(self, data):
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            errors = {}
            for name, field in self.fields.items():
                if field.read_only or field.source == "*" or name not in data:
                    continue
                value, types = data[name], json_types(field)
                if value is None or types is None or _fits(value, types):
                    continue  # a null is the field's own to judge (allow_null)
                expected = " or ".join(TYPE_NAMES[kind] for kind in types)
                errors[name] = [serializers.ErrorDetail(f"Expected {expected}.", code="incorrect_type")]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class InputSerializer(StrictJSONMixin, serializers.Serializer):
    """A command's body."""


class ModelSerializer(StrictJSONMixin, serializers.ModelSerializer):
    """A resource read and written through the API."""
