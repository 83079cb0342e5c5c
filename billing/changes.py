"""Billing follows the network's verified changes of a live service: deactivation (the final invoice), suspension
and resumption (pauses), plan changes (a new rate from the verified day), and billing blocks (nothing charged
while blocked; the held days billed once when the block is lifted, or credited by an operator's decision).

Every path reconciles: the engine compares the days already billed with the days now due and returns the
difference as credit and charge lines, so each billable day is billed exactly once, net of credits.
"""

import logging
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing import engine, locks
from billing.choices import InvoiceReason, InvoiceStatus, LineKind
from billing.models import BillingSchedule, Invoice, InvoiceLine, Pause, RateChange, ReasonCode
from billing.overrides import override_guard
from billing.selectors import billed_lines, config_for, local_date, terms_for
from billing.services import billing_held, draft_recompute, finalize_if_due, invoice_persist, moment_of
from cos.errors import ApplicationError
from cos.fsm import transition_apply
from provisioning.models import ServiceInstance
from provisioning.requests import service_billing_unblock

logger = logging.getLogger(__name__)


def _reconcile(schedule: BillingSchedule, *, reason: str, extra: list[engine.Line] = ()) -> Invoice | None:
    """Bill the difference between what was billed and what is now due (credits and charges) on one document.

    While billing of the service is blocked only credits go out: the days it would charge wait, and the next
    reconciliation after the block charges them (the engine bills what is due and not yet billed).
    """
    terms = terms_for(schedule)
    lines = engine.reconcile(terms, billed_lines(schedule.subscription_id), schedule.billed_until)
    if billing_held(schedule.subscription_id):
        lines = [line for line in lines if line.coverage < 0]
    lines += list(extra)
    return invoice_persist(schedule.account, lines, marketplace=schedule.subscription.marketplace, reason=reason)


def schedule_locked(subscription_id: int) -> BillingSchedule | None:
    return (
        BillingSchedule.objects.select_for_update(of=("self",))
        .select_related("subscription__marketplace", "subscription__product", "account")
        .filter(subscription_id=subscription_id)
        .first()
    )


def _day(at, schedule: BillingSchedule) -> date:
    if isinstance(at, str):
        at = parse_datetime(at)
    if isinstance(at, datetime):
        return local_date(at, schedule.subscription.marketplace.time_zone)
    return at


def billing_stops_overdue(*, now=None) -> int:
    """Daily: a subscription that ended more than BILLING_STOP_WAIT_SECONDS ago without its deactivation being
    verified (the element manager refused it, the job died) stops billing at its termination, as the deactivation
    would have: the subscriber is not billed for the network's failure to turn the service off. The service stays
    live until operations turns it off; the contract sync's exception and the board show it live and unbilled. A
    deactivation verified later changes nothing more (billing stopped already). Returns how many stopped."""
    from marketplace.choices import SubscriptionStatus

    now = now or timezone.now()
    waited = now - timedelta(seconds=settings.BILLING_STOP_WAIT_SECONDS)
    due = BillingSchedule.objects.filter(
        ends_on__isnull=True,
        subscription__status=SubscriptionStatus.TERMINATED,
        subscription__terminated_at__lte=waited,
    ).values_list("subscription_id", "subscription__terminated_at")
    stopped = 0
    for subscription_id, terminated_at in due.order_by("subscription_id"):
        try:
            billing_stop(subscription_id=subscription_id, deactivated_at=terminated_at)
            stopped += 1
        except ApplicationError as refused:
            logger.warning("billing of subscription %s not stopped: %s", subscription_id, refused)
    return stopped


def billing_stop(*, subscription_id: int, deactivated_at) -> Invoice | None:
    """`service.deactivated`: billing stops at the deactivation day; the subscription's draft charges are voided;
    unused days of the paid period are refunded on a credit note (when the rules say so); final charges are added:
    the recovery fee for equipment not returned, the early-termination fee when it ended before its minimum term.
    """
    with transaction.atomic():
        schedule = schedule_locked(subscription_id)
        if schedule is None or schedule.ends_on is not None:
            return None  # never billed, or stopped already (a second delivery)
        subscription = schedule.subscription
        ends_on = local_date(moment_of(deactivated_at), subscription.marketplace.time_zone)
        if ends_on < schedule.activated_on:
            raise ApplicationError(
                f"The deactivation ({ends_on}) is dated before the activation ({schedule.activated_on}).",
                code="termination_before_activation",
            )
        _void_draft_lines(subscription_id)
        config = config_for(subscription.marketplace_id, schedule.account.provider_id)
        # Without refunds, the days paid for stay paid: billing ends where it had reached.
        schedule.ends_on = ends_on if config.refund_on_termination else max(ends_on, schedule.billed_until)
        schedule.save(update_fields=["ends_on", "updated_at"])
        extra = []
        if config.recovery_fee and not schedule.equipment_returned:
            extra.append(
                engine.Line(
                    kind=engine.FEE,
                    amount=config.recovery_fee,
                    description="Equipment not returned: recovery fee",
                    subscription_id=subscription_id,
                )
            )
        if subscription.early_termination_charged and subscription.early_termination_fee:
            extra.append(
                engine.Line(
                    kind=engine.FEE,
                    amount=engine.money(subscription.early_termination_fee),
                    description=(
                        f"Early termination: {subscription.product.name} ended before its "
                        f"{subscription.minimum_months}-month minimum term"
                    ),
                    subscription_id=subscription_id,
                )
            )
        invoice = _reconcile(schedule, reason=InvoiceReason.FINAL, extra=extra)
    return finalize_if_due(invoice)


def _void_draft_lines(subscription_id: int) -> None:
    """Drafts are not yet issued: the subscription's lines on them are voided (a draft left empty is voided)."""
    ids = set(
        InvoiceLine.objects.filter(
            subscription_id=subscription_id, voided=False, invoice__status=InvoiceStatus.DRAFT
        ).values_list("invoice_id", flat=True)
    )
    drafts = [draft for draft in locks.invoices(ids).values() if draft.status == InvoiceStatus.DRAFT]
    for draft in drafts:
        draft.lines.filter(subscription_id=subscription_id).update(voided=True)
        if not draft.lines.filter(voided=False).exclude(kind=LineKind.TAX).exists():
            transition_apply(draft, "void", at=timezone.now(), reason="the service was deactivated")
            draft.save()
        else:
            draft_recompute(draft)


def pause_start(*, subscription_id: int, at) -> Invoice | None:
    """`service.suspended`: from the verified day the paused days are not billed; what was billed ahead for them
    is credited."""
    with transaction.atomic():
        schedule = schedule_locked(subscription_id)
        if schedule is None or schedule.ends_on is not None or schedule.pauses.filter(ends_on__isnull=True).exists():
            return None
        on = _day(at, schedule)
        Pause.objects.create(schedule=schedule, starts_on=max(on, schedule.activated_on))
        invoice = _reconcile(schedule, reason=InvoiceReason.ADJUSTMENT)
    return finalize_if_due(invoice)


def pause_end(*, subscription_id: int, at) -> Invoice | None:
    """`service.resumed`: from the verified day the days to the end of the billed period are charged again."""
    with transaction.atomic():
        schedule = schedule_locked(subscription_id)
        pause = schedule and schedule.pauses.filter(ends_on__isnull=True).first()
        if pause is None:
            return None
        on = _day(at, schedule)
        pause.ends_on = max(on, pause.starts_on)
        pause.save(update_fields=["ends_on", "updated_at"])
        invoice = _reconcile(schedule, reason=InvoiceReason.ADJUSTMENT)
    return finalize_if_due(invoice)


def rate_change_apply(*, subscription_id: int, at, monthly_amount, product_id: int | None) -> Invoice | None:
    """`service.modified` for a plan change: the new monthly rate is in force from the verified day; the days
    billed ahead at the old rate are credited and charged at the new one (prorated). Idempotent."""
    with transaction.atomic():
        schedule = schedule_locked(subscription_id)
        if schedule is None or schedule.ends_on is not None:
            return None  # not billed yet (the first invoice uses the new rate) or ended
        on = max(_day(at, schedule), schedule.activated_on)
        amount = engine.money(monthly_amount)
        # One rate a day: a second change on the same day replaces the first one's rate for it.
        RateChange.objects.update_or_create(
            schedule=schedule, effective_on=on, defaults={"monthly_amount": amount, "product_id": product_id}
        )
        invoice = _reconcile(schedule, reason=InvoiceReason.ADJUSTMENT)
    return finalize_if_due(invoice)


def billing_catch_up(
    *, subscription_id: int, blocked_at=None, unblocked_at=None, credit_held_days: bool = False, note: str = ""
) -> Invoice | None:
    """`service.billing_unblocked`: what was held is billed now, once: the first invoice's start fee if it never
    went out, the differences of the billed periods, and every period begun meanwhile. With `credit_held_days`
    (an operator's decision, with a reason) the blocked days are not billed at all."""
    with transaction.atomic():
        schedule = schedule_locked(subscription_id)
        if schedule is None:
            return None
        subscription = schedule.subscription
        if credit_held_days and blocked_at and unblocked_at:
            starts_on, ends_on = _day(blocked_at, schedule), _day(unblocked_at, schedule)
            if ends_on > starts_on:
                Pause.objects.create(
                    schedule=schedule, starts_on=max(starts_on, schedule.activated_on), ends_on=ends_on, note=note
                )
        terms = terms_for(schedule)
        lines = []
        started = InvoiceLine.objects.filter(subscription_id=subscription_id, voided=False).exclude(
            invoice__status=InvoiceStatus.VOID
        )
        first = not started.exists()
        if first and terms.start_fee:
            lines += [line for line in engine.first_invoice_lines(terms) if line.kind == engine.START_FEE]
        lines += engine.reconcile(terms, billed_lines(subscription_id), schedule.billed_until)
        today = local_date(timezone.now(), subscription.marketplace.time_zone)
        due, schedule.billed_until = engine.due_lines(terms, schedule.billed_until, today)
        lines += due
        schedule.save(update_fields=["billed_until", "updated_at"])
        invoice = invoice_persist(
            schedule.account,
            lines,
            marketplace=subscription.marketplace,
            reason=InvoiceReason.ACTIVATION if first else InvoiceReason.ADJUSTMENT,
        )
    return finalize_if_due(invoice)


@transaction.atomic
def billing_hold_release(*, subscription_id: int, credit_held_days: bool, actor, reason_code=None, note: str = ""):
    """Finance lifts the billing block of a service: the held days are billed, or credited (that needs the
    override permission and a reason code, like any credit). Provisioning owns the block; billing follows its
    event."""
    reason = ""
    if credit_held_days:
        code: ReasonCode = override_guard(actor, reason_code, "credit the days a service was held")
        reason = f"{code.label}" + (f": {note.strip()}" if note.strip() else "")
    service = ServiceInstance.objects.get(subscription_id=subscription_id)
    return service_billing_unblock(
        service_id=service.pk, bill_held_days=not credit_held_days, actor=actor, reason=reason
    )
