"""Notices to subscribers about their payments: recorded once per cause in the caller's transaction, e-mailed
through the outbox once it commits, with a delivery state the admin shows.

- `notice_send` records the notice and publishes `billing_notice.queued` in the caller's transaction: a rolled
  back cause sends nothing, a committed one is delivered even if the broker was down at that moment (the events
  sweep delivers it).
- `notice_deliver` (the event's handler) e-mails it once: a sent notice is never sent again. A failure is recorded
  on the notice (attempts, the error) and tried again after a wait that doubles each time
  (EVENTS_RETRY_BASE_SECONDS up to EVENTS_RETRY_MAX_SECONDS); after EVENTS_MAX_ATTEMPTS tries it is given up
  (dead) and an operator can send it again from the admin.
- `notices_retry_due` (the payments sweep, Celery beat) queues the failed notices whose wait is over.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.choices import UNSENT_NOTICE_STATUSES, NoticeStatus
from billing.models import BillingAccount, BillingNotice
from cos import events
from cos.fsm import transition_apply

logger = logging.getLogger(__name__)

QUEUED = "billing_notice.queued"


def notice_send(account: BillingAccount, *, kind: str, key: str, subject: str, body: str, invoice=None, payment=None):
    """Record a notice for the subscriber once per key (a repeated cause records nothing more) and queue its
    e-mail; it is sent after the caller's transaction commits. Returns the notice, or None when it exists."""
    to = account.invoice_email or account.customer.email
    try:
        with transaction.atomic():
            notice = BillingNotice.objects.create(
                account=account, kind=kind, key=key, to=to, subject=subject, body=body, invoice=invoice, payment=payment
            )
            events.publish(QUEUED, notice_id=notice.pk)
    except IntegrityError:
        return None
    return notice


def _retry_wait(attempts: int) -> timedelta:
    seconds = settings.EVENTS_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.EVENTS_RETRY_MAX_SECONDS))


def notice_deliver(*, notice_id: int, now=None) -> BillingNotice:
    """E-mail one notice, once; record what happened. Idempotent: a notice sent, skipped or given up is left alone,
    so a second delivery of the event sends nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        notice = BillingNotice.objects.select_for_update().get(pk=notice_id)
        if notice.status not in UNSENT_NOTICE_STATUSES:
            return notice
        if not notice.to:
            transition_apply(notice, "skip", reason="no e-mail address on the account")
            notice.save()
            return notice
        try:
            send_mail(notice.subject, notice.body, settings.DEFAULT_FROM_EMAIL, [notice.to], fail_silently=False)
        except Exception as exc:  # noqa: BLE001 - any mail failure is recorded on the notice and tried again
            error = f"{type(exc).__name__}: {exc}"[:2000]
            logger.warning(
                "billing notice %s to %s not sent (attempt %s): %s", notice.pk, notice.to, notice.attempts + 1, error
            )
            if notice.attempts + 1 >= settings.EVENTS_MAX_ATTEMPTS:
                transition_apply(notice, "give_up", error=error, reason="not sent: given up")
            else:
                retry_at = now + _retry_wait(notice.attempts + 1)
                transition_apply(notice, "fail", error=error, retry_at=retry_at, reason="not sent: tried again later")
        else:
            transition_apply(notice, "mark_sent", at=now, reason=f"e-mailed to {notice.to}")
        notice.save()
    return notice


def notices_retry_due(*, now=None, limit: int = 500) -> int:
    """Queue again the failed notices whose wait is over (through the outbox). Returns how many."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            BillingNotice.objects.filter(status=NoticeStatus.FAILED, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not due:
            return 0
        # Pushed out so that the next sweep does not queue them again while this delivery is on its way; the
        # delivery sets the real next try if it fails again.
        later = now + timedelta(seconds=settings.EVENTS_DISPATCH_GRACE_SECONDS)
        BillingNotice.objects.filter(pk__in=due, status=NoticeStatus.FAILED).update(next_attempt_at=later)
        for notice_id in due:
            events.publish(QUEUED, notice_id=notice_id)
    return len(due)


def notice_requeue(*, notice_id: int, actor=None) -> BillingNotice:
    """An operator sends a failed or given-up notice again now (e.g. once the address is corrected)."""
    with transaction.atomic():
        notice = BillingNotice.objects.select_for_update().select_related("account__customer").get(pk=notice_id)
        transition_apply(notice, "requeue", by=actor, reason="sent again by an operator")
        to = notice.account.invoice_email or notice.account.customer.email
        if to and to != notice.to:
            notice.to = to
        notice.save()
        events.publish(QUEUED, notice_id=notice.pk)
    return notice
