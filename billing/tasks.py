"""Celery entry points of billing (thin: the work is in billing.runs and billing.services)."""

from datetime import date

from celery import shared_task
from django.utils import timezone


@shared_task(acks_late=True, ignore_result=True)
def billing_chunk_task(run_id: int, account_ids: list[int], as_of: str) -> None:
    """A chunk sent straight to the broker (runs now send theirs through the outbox: billing_run.chunk_requested);
    kept so that a chunk queued this way is still billed."""
    from billing.runs import billing_chunk

    billing_chunk(run_id=run_id, account_ids=account_ids, as_of=date.fromisoformat(as_of))


@shared_task(ignore_result=True)
def billing_daily_task(as_of: str | None = None) -> None:
    """Daily (Celery beat): billing stops for subscriptions ended without a verified deactivation, the cycle bills
    what has come due, late invoices, and services suspended for invoices unpaid too long."""
    from billing.changes import billing_stops_overdue
    from billing.dunning import dunning_suspend_due
    from billing.runs import billing_run
    from billing.services import invoices_mark_late

    day = date.fromisoformat(as_of) if as_of else timezone.localdate()
    billing_stops_overdue()
    billing_run(as_of=day)
    invoices_mark_late(today=day)
    dunning_suspend_due(today=day)


@shared_task(ignore_result=True)
def invoices_finalize_due_task() -> None:
    """Frequent (Celery beat): drafts whose review window is over are finalized."""
    from billing.services import invoices_finalize_due

    invoices_finalize_due()


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=5, default_retry_delay=30, retry_backoff=True)
def payment_submit_task(self, payment_id: int) -> None:
    """Send a charge to the gateway; when the outcome is unknown, ask again later with the same key."""
    from billing.gateways.base import GatewayUnavailable
    from billing.payments import payment_submit

    try:
        payment_submit(payment_id=payment_id)
    except GatewayUnavailable as exc:
        if self.request.is_eager:
            return  # run in-process (no worker): the payments sweep sends it again
        raise self.retry(exc=exc) from exc


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=5, default_retry_delay=30)
def refund_submit_task(self, refund_id: int) -> None:
    from billing.gateways.base import GatewayUnavailable
    from billing.refunds import refund_submit

    try:
        refund_submit(refund_id=refund_id)
    except GatewayUnavailable as exc:
        if self.request.is_eager:
            return  # the payments sweep sends it again
        raise self.retry(exc=exc) from exc


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=5, default_retry_delay=30, retry_backoff=True)
def gateway_event_apply_task(self, event_row_id: int) -> None:
    """A webhook event whose work calls the gateway, applied after its transaction committed."""
    from billing.gateways.base import GatewayUnavailable
    from billing.webhooks import gateway_event_apply

    try:
        gateway_event_apply(event_row_id=event_row_id)
    except GatewayUnavailable as exc:
        if self.request.is_eager:
            return  # the payments sweep applies it
        raise self.retry(exc=exc) from exc


@shared_task(ignore_result=True)
def payments_sweep_task() -> None:
    """Frequent (Celery beat): charges, refunds and deferred gateway events are never forgotten; dunning retries."""
    from billing.payments import payments_sweep

    payments_sweep()
