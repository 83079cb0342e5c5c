"""Pages and machine endpoints of the core."""

import logging

from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def _database_state() -> str:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any failure to reach the database means "down"
        logger.exception("health check: database unreachable")
        return "down"
    return "ok"


def _broker_state() -> str:
    from cos.celery import app

    if app.conf.task_always_eager:
        return "eager"
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    except Exception:  # noqa: BLE001 - any failure to reach the broker means "down"
        logger.warning("health check: broker unreachable", exc_info=True)
        return "down"
    return "ok"


@never_cache
@require_GET
def healthz(request):
    """Database and broker state: 200 when usable, 503 when not."""
    checks = {"database": _database_state(), "broker": _broker_state()}
    healthy = checks["database"] == "ok" and checks["broker"] in ("ok", "eager")
    return JsonResponse({"status": "ok" if healthy else "down", **checks}, status=200 if healthy else 503)


def locked_out(request, response=None, credentials=None, *args, **kwargs):
    """What a login locked out by too many wrong passwords answers (portal, field and admin alike): 429 with when to
    try again; JSON on the machine endpoints."""
    from django.conf import settings
    from django.shortcuts import render

    from cos.api.errors import MACHINE_PREFIXES

    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    if request.path.startswith(MACHINE_PREFIXES):
        answer = JsonResponse(
            {"code": "login_locked", "message": f"Too many failed logins: try again in {minutes} minutes."}, status=429
        )
    else:
        login_url = "/admin/login/" if request.path.startswith("/admin/") else "/accounts/login/"
        context = {
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "username": username,
            "minutes": minutes,
            "login_url": login_url,
        }
        answer = render(request, "registration/locked_out.html", context, status=429)
    answer["Retry-After"] = str(minutes * 60)
    return answer
