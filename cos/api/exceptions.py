"""One place that maps errors to HTTP: a stable machine code and a human message."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cos.errors import ApplicationError


def exception_handler(exc, context):
    """Render ApplicationError and Django ValidationError as {"code", "message", ...}; DRF errors get a code too."""
    if isinstance(exc, ApplicationError):
        body = {"code": exc.code, "message": exc.message, **exc.extra}
        return Response(body, status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(
            {"code": "invalid", "message": "The request is not valid.", "errors": detail},
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
            response.data = {"code": "invalid", "message": "The request is not valid.", "errors": response.data}
    return response
