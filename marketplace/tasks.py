"""Celery entry points of the marketplace (thin: the work is in marketplace.services)."""

from celery import shared_task


@shared_task(ignore_result=True)
def lifecycle_due_task() -> None:
    """Frequent (Celery beat): whatever is due today in each marketplace's time zone happens: notices end, scheduled
    downgrades go to the network, switches are handed over."""
    from marketplace.services import subscription_changes_due, subscription_terminations_due, switches_due

    switches_due()
    subscription_terminations_due()
    subscription_changes_due()
