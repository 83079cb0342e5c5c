"""Reactions of billing to events. Billing follows only the network's verified events: the activation starts it,
the deactivation stops it, a verified suspension pauses it and a resumption ends the pause, a verified plan change
brings the new rate, a lifted block bills (or credits) what was held. A finalized invoice is collected; a paid one
restores a service suspended for it. Billing's own work goes through the outbox too: the chunks of a billing run.
The subscriber is told of each invoice and each payment received (billing.notices, through cos.notifications)."""

from cos import events


@events.handler("service.activated")
def first_invoice_on_activation(event) -> None:
    from billing.services import activation_invoice

    activation_invoice(subscription_id=event.payload["subscription_id"], activated_at=event.payload["activated_at"])


@events.handler("service.deactivated")
def billing_stops_on_deactivation(event) -> None:
    from billing.changes import billing_stop

    billing_stop(subscription_id=event.payload["subscription_id"], deactivated_at=event.payload["deactivated_at"])


@events.handler("service.suspended")
def pause_on_suspension(event) -> None:
    from billing.changes import pause_start

    pause_start(subscription_id=event.payload["subscription_id"], at=event.payload["suspended_at"])


@events.handler("service.resumed")
def pause_ends_on_resumption(event) -> None:
    from billing.changes import pause_end

    pause_end(subscription_id=event.payload["subscription_id"], at=event.payload["resumed_at"])


@events.handler("service.modified")
def rate_follows_plan_change(event) -> None:
    """A verified change of plan: the new rate from that day (a modify without a plan change bills nothing)."""
    from billing.changes import rate_change_apply

    p = event.payload
    if p.get("change_id"):
        rate_change_apply(
            subscription_id=p["subscription_id"],
            at=p["modified_at"],
            monthly_amount=p["monthly_amount"],
            product_id=p.get("product_id"),
        )


@events.handler("service.billing_unblocked")
def held_days_billed_or_credited(event) -> None:
    from billing.changes import billing_catch_up

    p = event.payload
    billing_catch_up(
        subscription_id=p["subscription_id"],
        blocked_at=p.get("blocked_at"),
        unblocked_at=p.get("unblocked_at"),
        credit_held_days=not p.get("bill_held_days", True),
        note=p.get("reason", ""),
    )


@events.handler("invoice.finalized")
def collect_finalized_invoice(event) -> None:
    """Credit pays first; automatic collection charges the default method; a credit note is refunded or credited."""
    from billing.payments import invoice_collect

    invoice_collect(invoice_id=event.payload["invoice_id"])


@events.handler("invoice.paid")
def restore_service_when_paid(event) -> None:
    from billing.dunning import dunning_restore

    dunning_restore(invoice_id=event.payload["invoice_id"])


@events.handler("billing_run.chunk_requested")
def bill_run_chunk(event) -> None:
    """One chunk of a billing run (the run and its chunk events were committed together)."""
    from billing.runs import billing_chunk_requested

    p = event.payload
    billing_chunk_requested(run_id=p["run_id"], account_ids=p["account_ids"], as_of=p["as_of"])


@events.handler("invoice.finalized")
def tell_invoice_issued(event) -> None:
    """The subscriber is told of the invoice (e-mailed with its PDF when the account's delivery is e-mail)."""
    from billing.notices import invoice_issued_tell

    invoice_issued_tell(invoice_id=event.payload["invoice_id"])


@events.handler("payment.succeeded")
def tell_payment_received(event) -> None:
    from billing.notices import payment_received_tell

    payment_received_tell(payment_id=event.payload["payment_id"])


@events.handler("invoice.late")
def remind_of_late_invoice(event) -> None:
    from billing.notices import dunning_reminder_tell

    dunning_reminder_tell(invoice_id=event.payload["invoice_id"])


def email_billing_notice(event) -> None:
    """Kept for the `billing_notice.queued` runs written before notices became cos messages: the migration moved
    each notice into a cos.Message, which the messages-retry job sends, so there is nothing left to do here."""
