"""Reactions of billing to events: the verified activation starts billing, the verified deactivation stops it;
a finalized invoice is collected; a paid one restores a service suspended for it."""

from cos import events


@events.handler("service.activated")
def first_invoice_on_activation(event) -> None:
    from billing.services import activation_invoice

    activation_invoice(subscription_id=event.payload["subscription_id"], activated_at=event.payload["activated_at"])


@events.handler("service.deactivated")
def billing_stops_on_deactivation(event) -> None:
    from billing.services import billing_stop

    billing_stop(subscription_id=event.payload["subscription_id"], deactivated_at=event.payload["deactivated_at"])


@events.handler("subscription.suspended")
def pause_on_suspension(event) -> None:
    from billing.services import pause_start

    pause_start(subscription_id=event.payload["subscription_id"], at=event.payload["suspended_at"])


@events.handler("subscription.resumed")
def pause_ends_on_resumption(event) -> None:
    from billing.services import pause_end

    pause_end(subscription_id=event.payload["subscription_id"], at=event.payload["resumed_at"])


@events.handler("invoice.finalized")
def collect_finalized_invoice(event) -> None:
    """Credit pays first; automatic collection charges the default method; a credit note is refunded or credited."""
    from billing.payments import invoice_collect

    invoice_collect(invoice_id=event.payload["invoice_id"])


@events.handler("invoice.paid")
def restore_service_when_paid(event) -> None:
    from billing.dunning import dunning_restore

    dunning_restore(invoice_id=event.payload["invoice_id"])
