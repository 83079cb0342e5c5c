"""Celery entry points of billing (thin: the work is in billing.runs and billing.services)."""

from datetime import date

from celery import shared_task
from django.utils import timezone


@shared_task(acks_late=True, ignore_result=True)
def billing_chunk_task(run_id: int, account_ids: list[int], as_of: str) -> None:
    from billing.runs import billing_chunk

    billing_chunk(run_id=run_id, account_ids=account_ids, as_of=date.fromisoformat(as_of))


@shared_task(ignore_result=True)
def billing_daily_task(as_of: str | None = None) -> None:
    """Daily (Celery beat): due downgrades take effect, the cycle bills what has come due, late invoices."""
    from billing.runs import billing_run
    from billing.services import invoices_mark_late, plan_changes_apply

    day = date.fromisoformat(as_of) if as_of else timezone.localdate()
    plan_changes_apply(today=day)
    billing_run(as_of=day)
    invoices_mark_late(today=day)


@shared_task(ignore_result=True)
def invoices_finalize_due_task() -> None:
    """Frequent (Celery beat): drafts whose review window is over are finalized."""
    from billing.services import invoices_finalize_due

    invoices_finalize_due()
