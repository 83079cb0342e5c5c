"""How the provider API documents itself: every operation its success response and the errors it can answer, each
error in the one JSON envelope of cos.api.exceptions (component `Error`).

The errors every view can give are added here, from what the view is (who may call it, whether its path names a
resource, whether it takes a body or query parameters, whether it is throttled); a view declares only its own, such
as a 409 of a command, with `extend_schema(responses={409: ERROR_409})`.
"""

from django.core.validators import RegexValidator
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import is_list_serializer
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from cos.api.validators import NOT_BLANK


class ErrorSerializer(serializers.Serializer):
    """The error envelope: a stable machine code and a message for people, with the details of bad input."""

    code = serializers.CharField(help_text="Stable machine code, e.g. invalid, not_found, order_invalid.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    errors = serializers.DictField(
        required=False, help_text="Bad input: the messages of each field in error (code invalid)."
    )
    codes = serializers.DictField(
        required=False, help_text="Bad input: the stable codes of each field in error, e.g. date_too_far."
    )
    problems = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="Every reason an order was refused, each with a code."
    )

    class Meta:
        ref_name = "Error"


def error(description: str) -> OpenApiResponse:
    """An error response in the envelope, described by when it happens and its codes."""
    return OpenApiResponse(ErrorSerializer, description=description)


ERROR_400 = error(
    "Bad input: a field, a query parameter or a header is not valid, or the request cannot be read "
    "(codes: invalid, parse_error, invalid_characters, bad_request, and the codes of the operation)."
)
ERROR_401 = error(
    "No credentials, or credentials that are not valid (codes: not_authenticated, authentication_failed, "
    "token_invalid, token_revoked, token_expired, user_inactive)."
)
ERROR_403 = error("The token's user works for no service provider (code not_a_provider), or may not do this.")
ERROR_404 = error("No such resource of yours (code not_found).")
ERROR_409 = error(
    "Not possible in the resource's current state (codes: transition_not_allowed, conflict, idempotency_key_reused, "
    "and the codes of the operation)."
)
ERROR_415 = error("The body is not JSON (code unsupported_media_type).")
ERROR_429 = error("Too many requests: wait as long as Retry-After says (codes: throttled, too_many_bad_keys).")

BODY_METHODS = ("POST", "PUT", "PATCH")


def decimal_pattern(field: serializers.DecimalField) -> str:
    """The strings the field takes: at least one digit, at most its whole and decimal places, a sign only where a
    negative value is allowed (drf-spectacular's own pattern also allows "" and "-")."""
    places = field.decimal_places or 0
    whole = (field.max_digits - places) if field.max_digits is not None else None
    digits = rf"\d{{1,{whole}}}" if whole else (r"0" if whole == 0 else r"\d+")
    sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
    fraction = rf"(?:\.\d{{0,{places}}})?" if places else ""
    leading = rf"|\.\d{{1,{places}}}" if places else ""
    return rf"^{sign}(?:{digits}{fraction}{leading})$"


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, with the errors each operation can answer added to what the view declares, and
    the input constraints it leaves out (a decimal's digits, a nested list's length, a text that is not blank). A
    filter or page parameter sent empty is as if not sent (django-filter's rule), which the schema says too."""

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        return parameters

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.DecimalField) and schema.get("type") == "string":
            schema["pattern"] = decimal_pattern(field)
        elif (
            direction == "request"
            and type(field) is serializers.CharField
            and field.trim_whitespace
            and not field.allow_blank
            and schema.get("type") == "string"
            and not any(isinstance(validator, RegexValidator) for validator in field.validators)
        ):
            schema["pattern"] = NOT_BLANK  # blanks are trimmed away: a text of spaces is an empty text
        if is_list_serializer(field) or isinstance(field, serializers.ListField):
            if not field.allow_empty:
                schema["minItems"] = max(schema.get("minItems", 1), 1)
            if getattr(field, "min_length", None) is not None:
                schema["minItems"] = max(schema.get("minItems", 0), field.min_length)
            if getattr(field, "max_length", None) is not None:
                schema["maxItems"] = field.max_length
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status_code, response in self._common_errors():
            code = str(status_code)
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return dict(sorted(responses.items()))

    def _common_errors(self):
        # Any request can be unreadable (a NUL in the query, a body too large), so 400 is everywhere.
        yield 400, ERROR_400
        if not any(isinstance(permission, AllowAny) for permission in self.view.get_permissions()):
            yield 401, ERROR_401
            yield 403, ERROR_403
        if "{" in self.path:
            yield 404, ERROR_404
        if self.method in BODY_METHODS and self.get_request_serializer() is not None:
            yield 415, ERROR_415
        if self.view.get_throttles():
            yield 429, ERROR_429
