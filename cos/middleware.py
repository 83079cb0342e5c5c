"""Requests refused before any view: a NUL character in the path or the query string (PostgreSQL cannot store one,
so it could only end in a server error)."""

from urllib.parse import unquote

from django.http import HttpResponseBadRequest, JsonResponse


class RefuseNulBytesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw = request.META.get("QUERY_STRING", "") + request.path
        if "\x00" in unquote(raw) or "\x00" in raw:
            if request.path.startswith(("/api/", "/billing/stripe/")):
                return JsonResponse(
                    {"code": "invalid_characters", "message": "A NUL character is not allowed in a request."},
                    status=400,
                )
            return HttpResponseBadRequest("A NUL character is not allowed in a request.")
        return self.get_response(request)
