"""Pages and machine endpoints of the core."""

import logging

from django.conf import settings
from django.contrib import messages as django_messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connections
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from cos.choices import MessageStatus
from cos.errors import ApplicationError
from cos.forms import MessagePreferencesForm
from cos.models import Message
from cos.services import customer_message_preferences_update

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


# Fields never kept from an expired form: secrets, and the token that expired.
_NEVER_KEPT = ("csrfmiddlewaretoken", "password", "password1", "password2", "new_password1", "new_password2")
RESUME_KEY = "form_resume"


def csrf_failure(request, reason: str = ""):
    """A form posted from a page that expired (left open for long, or the login changed in another tab): a page
    that says so in plain words, with what was typed kept in the session for the same page to fill in again
    (`form_resume`). JSON on the machine endpoints."""
    from django.shortcuts import render

    from cos.api.errors import MACHINE_PREFIXES

    if request.path.startswith(MACHINE_PREFIXES):
        return JsonResponse(
            {"code": "csrf_failed", "message": "The form expired: reload the page and send it again."}, status=403
        )
    kept = {
        key: request.POST.getlist(key)
        for key in request.POST
        if key not in _NEVER_KEPT and not key.startswith("password")
    }
    if kept and hasattr(request, "session"):
        request.session[RESUME_KEY] = {"path": request.path, "data": kept}
    return render(request, "expired_form.html", {"back": request.path, "kept": bool(kept)}, status=403)


def form_resume(request) -> dict | None:
    """What was typed into this page's form before it expired (csrf_failure), once; None if nothing was kept."""
    kept = request.session.get(RESUME_KEY) if hasattr(request, "session") else None
    if not kept or kept.get("path") != request.path:
        return None
    del request.session[RESUME_KEY]
    return {key: values[-1] if len(values) == 1 else values for key, values in kept["data"].items()}


def privacy(request):
    """What the operator keeps about customers and why."""
    from django.shortcuts import render

    return render(request, "pages/privacy.html")


def favicon(request):
    """Browsers that ask for /favicon.ico (the admin's pages have no icon link) get the site's icon."""
    from django.shortcuts import redirect
    from django.templatetags.static import static

    return redirect(static("cos/favicon.svg"), permanent=True)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset by e-mail, on the site's own pages, the message signed with the operator's name."""

    def form_valid(self, form):
        self.extra_email_context = {"site_name": settings.SITE_OPERATOR_NAME}
        return super().form_valid(form)


MESSAGES_PER_PAGE = 20

# What a subscriber reads of where a message stands.
MESSAGE_STATUS_FOR_CUSTOMERS = {
    MessageStatus.QUEUED: "On its way",
    MessageStatus.SENT: "Sent",
    MessageStatus.FAILED: "Not delivered yet: we try again",
    MessageStatus.DEAD: "Could not be delivered",
    MessageStatus.SKIPPED: "Not sent",
}


@login_required
def portal_messages(request):
    """What we sent the subscriber (newest first), and how they want to be told: language and channels."""
    customer = getattr(request.user, "customer", None)
    if customer is None:
        return render(request, "cos/portal_messages.html", {"customer": None})
    if request.method == "POST":
        form = MessagePreferencesForm(request.POST)
        if form.is_valid():
            try:
                customer_message_preferences_update(customer_id=customer.pk, actor=request.user, **form.cleaned_data)
            except ApplicationError as refused:
                for field, message in refused.extra.get("fields", {None: refused.message}).items():
                    form.add_error(field, message)
            else:
                django_messages.success(request, "Your message settings are saved.")
                return redirect("portal-messages")
    else:
        form = MessagePreferencesForm(
            initial={
                "language": customer.language,
                "notify_by_email": customer.notify_by_email,
                "notify_by_sms": customer.notify_by_sms,
                "phone": customer.phone,
            }
        )
    sent = Message.objects.filter(customer=customer).order_by("-created_at", "-id")
    page = Paginator(sent, MESSAGES_PER_PAGE).get_page(request.GET.get("page"))
    for message in page:
        message.status_for_customer = MESSAGE_STATUS_FOR_CUSTOMERS.get(message.status, message.status)
    context = {"customer": customer, "form": form, "page": page, "time_zone": settings.SITE_TIME_ZONE}
    return render(request, "cos/portal_messages.html", context)
