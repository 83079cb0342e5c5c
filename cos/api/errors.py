"""What the site answers when no view does (an unknown path, a body too large, a server error): JSON with a stable
code on the machine endpoints (the provider API, the webhooks), the usual pages elsewhere."""

import logging

from django.http import JsonResponse
from django.views import defaults

logger = logging.getLogger(__name__)

MACHINE_PREFIXES = ("/api/", "/tmf-api/", "/billing/stripe/")


def _for_machines(request) -> bool:
    return request.path.startswith(MACHINE_PREFIXES)


def bad_request(request, exception=None):
    if _for_machines(request):
        return JsonResponse(
            {"code": "bad_request", "message": "The request cannot be read (too large or malformed)."}, status=400
        )
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if _for_machines(request):
        return JsonResponse({"code": "forbidden", "message": "You may not do this."}, status=403)
    return defaults.permission_denied(request, exception)


def not_found(request, exception=None):
    if request.path.startswith("/tmf-api/"):  # TM Forum's Error shape
        return JsonResponse(
            {"code": "not_found", "reason": f"No such resource: {request.path}", "status": "404", "@type": "Error"},
            status=404,
        )
    if _for_machines(request):
        return JsonResponse(
            {"code": "not_found", "message": f"No such endpoint or resource: {request.path}"}, status=404
        )
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _for_machines(request):
        return JsonResponse(
            {"code": "server_error", "message": "Something went wrong on our side; it is logged."}, status=500
        )
    return defaults.server_error(request)
