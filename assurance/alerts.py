"""The board's check (Celery beat, BOARD_CHECK_SECONDS): a metric of the network, a marketplace or a provider that
turns red opens an alert and tells the operator's staff through the notification service, once per crossing; a
metric that leaves red closes its alert, so the next crossing tells them again."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from assurance.metrics import RED, Scope, board
from assurance.models import BoardAlert
from assurance.trends import WEEKS, closed_weeks
from cos.choices import MessageKind, OrganizationKind
from cos.models import Membership
from cos.notifications import staff_notify
from cos.ops import CONSOLE_ROLES


def _scopes() -> list[tuple[str, Scope]]:
    from cos.models import Organization
    from marketplace.models import Marketplace

    scopes = [Scope()]
    scopes += [Scope(marketplace_id=pk) for pk in Marketplace.objects.values_list("pk", flat=True)]
    providers = Organization.objects.filter(kind=OrganizationKind.SERVICE_PROVIDER).values_list("pk", flat=True)
    scopes += [Scope(provider_id=pk) for pk in providers]
    return [(scope.key, scope) for scope in scopes]


def _staff():
    from django.contrib.auth import get_user_model

    members = Membership.objects.filter(
        role__in=CONSOLE_ROLES, organization__kind=OrganizationKind.NETWORK_OPERATOR
    ).exclude(role="field_manager")
    return list(get_user_model().objects.filter(pk__in=members.values("user_id"), is_active=True).order_by("pk"))


def board_check(*, now=None) -> dict[str, int]:
    """Open an alert for each metric of each scope that is red now and had none open (telling the staff), close the
    open alerts of metrics no longer red. Safe to run again: an open alert is never opened twice. Each scope's
    closed weeks not kept yet are computed and kept, so the board's trends are read, not computed."""
    now = now or timezone.now()
    opened = closed = 0
    staff = None
    open_alerts = {(a.metric, a.scope): a for a in BoardAlert.objects.filter(closed_at__isnull=True)}
    for scope_key, scope in _scopes():
        closed_weeks(scope, now, WEEKS)
        for reading in board(scope, now):
            alert = open_alerts.get((reading.key, scope_key))
            if reading.colour == RED and alert is None:
                staff = staff if staff is not None else _staff()
                if _open(reading, scope_key, scope, now, staff):
                    opened += 1
            elif reading.colour != RED and alert is not None:
                BoardAlert.objects.filter(pk=alert.pk, closed_at__isnull=True).update(closed_at=now)
                closed += 1
    return {"opened": opened, "closed": closed}


def _open(reading, scope_key: str, scope: Scope, now, staff) -> bool:
    query = "" if scope_key == "network" else "?" + scope_key.replace(":", "=")
    link = settings.SITE_URL.rstrip("/") + reverse("ops-board-rows", args=[reading.key]) + query
    try:
        with transaction.atomic():
            alert = BoardAlert.objects.create(
                metric=reading.key, scope=scope_key, value=reading.value, shown=reading.shown, opened_at=now
            )
            told = staff_notify(
                users=staff,
                kind=MessageKind.BOARD_ALERT,
                key=f"board-alert-{alert.pk}",
                context={"reading": reading, "scope": scope.label(), "at": now, "link": link},
            )
            BoardAlert.objects.filter(pk=alert.pk).update(notified=len(told))
    except IntegrityError:  # another check opened it meanwhile
        return False
    return True
