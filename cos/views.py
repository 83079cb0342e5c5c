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
