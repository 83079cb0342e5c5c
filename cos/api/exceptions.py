"""One place that maps errors to HTTP: a stable machine code and a human message."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cos.errors import ApplicationError

RULE = "rule"


def django_error_detail(exc: DjangoValidationError) -> dict[str, list[ErrorDetail]]:
    """A model's or a service's ValidationError by field, each message with its code. A check of a model's clean()
    or of a service carries no code of its own: it gets `rule` (well-formed input that a business rule refuses, such
    as an overlapping price or a name in use), apart from `invalid` (malformed input)."""
    errors = exc.error_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.error_list}
    return {
        field: [
            ErrorDetail(message, code=error.code or RULE)
            for error in field_errors
            for message in DjangoValidationError(error).messages
        ]
        for field, field_errors in errors.items()
    }


def _by_field(detail) -> dict:
    """Errors keyed by field; errors of the whole body (a list) under non_field_errors, as a serializer gives them."""
    return detail if isinstance(detail, dict) else {"non_field_errors": detail}


def exception_handler(exc, context):
    """Render ApplicationError and Django ValidationError as {"code", "message", ...}; DRF errors get a code too."""
    if isinstance(exc, ApplicationError):
        body = {"code": exc.code, "message": exc.message, **exc.extra}
        return Response(body, status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        detail = django_error_detail(exc)
        return Response(
            {
                "code": "invalid",
                "message": "The request is not valid.",
                "errors": {field: [str(error) for error in errors] for field, errors in detail.items()},
                "codes": {field: [error.code for error in errors] for field, errors in detail.items()},
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()  # never the model's name ("No ServiceInstance matches ...")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is not None:
        codes = exc.get_codes() if hasattr(exc, "get_codes") else None
        if isinstance(response.data, dict) and "detail" in response.data:
            code = codes.get("detail") if isinstance(codes, dict) else codes
            response.data = {"code": code or "error", "message": str(response.data["detail"])}
        else:
            response.data = {
                "code": "invalid",
                "message": "The request is not valid.",
                "errors": _by_field(response.data),
                "codes": _by_field(codes),
            }
    return response
