"""Celery entry points of the core: event delivery. Thin: they take ids and call a service."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def handler_run_task(run_id: int) -> None:
    """Run one event handler once (idempotent: a run that succeeded is skipped)."""
    from cos.events import handler_run_execute

    handler_run_execute(run_id=run_id)


@shared_task(ignore_result=True)
def events_sweep_task() -> int:
    """Periodic: re-deliver handler runs whose dispatch was lost or whose retry is due."""
    from cos.events import events_sweep

    return events_sweep()


@shared_task(acks_late=True, ignore_result=True)
def message_deliver_task(message_id: int) -> None:
    """Send one message to a subscriber once (idempotent: a message sent or being sent is left alone)."""
    from cos.notifications import message_deliver

    message_deliver(message_id=message_id)


@shared_task(ignore_result=True)
def messages_retry_due_task() -> int:
    """Periodic: send the messages whose retry is due or whose hand-over was lost."""
    from cos.notifications import messages_retry_due

    return messages_retry_due()


@shared_task(acks_late=True, ignore_result=True)
def webhook_deliver_task(delivery_id: int) -> None:
    """One try of one webhook delivery (idempotent: a delivery delivered, given up or being sent is left alone)."""
    from cos.webhooks import webhook_deliver

    webhook_deliver(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def webhooks_sweep_task() -> int:
    """Periodic: send the webhook deliveries whose retry is due or whose hand-over was lost."""
    from cos.webhooks import webhooks_sweep

    return webhooks_sweep()
