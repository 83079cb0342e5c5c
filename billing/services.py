"""Use cases of billing that write: activation invoices, drafts, finalization, voids, late fees (changes of
service: billing.changes).

Each function persists what the pure engine (billing.engine) returns. Billing starts at the verified activation
and stops at the verified deactivation; every charge is guarded by database constraints, so a second delivery of
an event, or a rerun, bills nothing twice.
"""

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from operator import attrgetter
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing import engine, locks
from billing.choices import InvoiceKind, InvoiceReason, InvoiceStatus, LineKind
from billing.models import (
    BillingAccount,
    BillingSchedule,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    RateChange,
)
from billing.references import payment_reference
from billing.selectors import among, config_for, local_date, terms_for
from cos import events
from cos.errors import ApplicationError, Conflict
from cos.fsm import transition_apply
from marketplace.models import Subscription
from provisioning.models import ServiceInstance


def moment_of(value) -> datetime:
    return parse_datetime(value) if isinstance(value, str) else value


def account_for(subscription: Subscription) -> BillingAccount:
    """The customer's account with the subscription's provider in its currency (made on first use)."""
    account, _ = BillingAccount.objects.get_or_create(
        customer_id=subscription.customer_id,
        provider_id=subscription.provider_id,
        currency=subscription.currency,
        defaults={"billing_cycle": subscription.billing_cycle, "invoice_email": subscription.customer.email},
    )
    return account


def invoice_draft_build(
    account: BillingAccount,
    lines: list[engine.Line],
    *,
    marketplace,
    reason: str,
    review_minutes: int,
    run_id: int | None = None,
    corrects: Invoice | None = None,
) -> tuple[Invoice, list[engine.Line]]:
    """An unsaved draft for these lines with its tax line added: a credit note when they total below zero.

    It is taxed as its marketplace prices now (rate, and whether prices include tax), and keeps that; a document
    correcting an invoice is taxed as that invoice was, so the correction means what the invoice meant."""
    tax_rate, included = tax_terms(marketplace, corrects)
    amounts = draft_amounts(lines, tax_rate, prices_include_tax=included)
    invoice = Invoice(
        account=account,
        issuer_id=account.provider_id,
        marketplace=marketplace,
        kind=amounts.kind,
        reason=reason,
        currency=account.currency,
        tax_rate=tax_rate,
        prices_include_tax=included,
        subtotal=amounts.subtotal,
        tax=amounts.tax,
        total=amounts.total,
        finalize_after=timezone.now() + timedelta(minutes=review_minutes),
        run_id=run_id,
        corrects=corrects,
    )
    return invoice, amounts.lines


def tax_terms(marketplace, corrects: Invoice | None = None) -> tuple[Decimal, bool]:
    """The tax rate a new document is drafted at and whether its prices include tax: those of the invoice it
    corrects, else its marketplace's."""
    if corrects is not None:
        return corrects.tax_rate, corrects.prices_include_tax
    return marketplace.tax_rate, marketplace.prices_include_tax


class DraftAmounts(NamedTuple):
    lines: list[engine.Line]  # the draft's lines (split into net and tax when prices include it), its tax line added
    kind: str  # a credit note when the lines total below zero
    subtotal: Decimal  # the lines' net
    tax: Decimal
    total: Decimal


def draft_amounts(lines: list[engine.Line], tax_rate: Decimal, *, prices_include_tax: bool = False) -> DraftAmounts:
    """What a draft of these lines adds up to at this tax rate (for a draft built as a model or written as a row).

    The lines' amounts are prices as the draft states them. Net: the tax is added, reckoned once on their net.
    Including tax: each line is split into its net and the tax its gross includes; the tax is the sum of the lines'
    tax and the total the sum of their gross amounts."""
    if prices_include_tax:
        lines, tax = engine.tax_split(lines, tax_rate)
    else:
        tax = engine.tax_line(lines, tax_rate)
    subtotal = engine.total(lines)
    total = subtotal + tax.amount if tax else subtotal  # engine.total of the lines with the tax line: the same sum
    # a credit note when what it states is below zero: the gross total where prices include tax, else the net
    stated = total if prices_include_tax else subtotal
    return DraftAmounts(
        lines=[*lines, tax] if tax else lines,
        kind=InvoiceKind.CREDIT_NOTE if stated < 0 else InvoiceKind.INVOICE,
        subtotal=subtotal,
        tax=tax.amount if tax else Decimal("0.00"),
        total=total,
    )


def line_amounts(invoice: Invoice, kind: str, shown: Decimal) -> tuple[Decimal, Decimal]:
    """A line of `kind` that shows `shown` on the invoice, as its (amount, tax): split into net and tax when the
    invoice's prices include tax (as `draft_amounts` splits every line), else net with no tax of its own."""
    if not invoice.prices_include_tax:
        return shown, Decimal("0.00")
    split, _ = engine.tax_split([engine.Line(kind=kind, amount=shown)], invoice.tax_rate)
    return split[0].amount, split[0].tax


def invoice_persist(
    account: BillingAccount,
    lines: list[engine.Line],
    *,
    marketplace,
    reason: str,
    corrects: Invoice | None = None,
) -> Invoice | None:
    """A draft invoice (or credit note) with its lines saved; none for no lines."""
    if not lines:
        return None
    invoice, every = invoice_draft_build(
        account,
        lines,
        marketplace=marketplace,
        reason=reason,
        review_minutes=config_for(marketplace.pk, account.provider_id).review_minutes,
        corrects=corrects,
    )
    invoice.save()
    InvoiceLine.objects.bulk_create(lines_numbered([invoice_line_row(invoice, line) for line in every]))
    return invoice


LINE_KEY = ("subscription_id", "kind", "period_start", "period_end", "rate", "coverage")


def lines_numbered(rows: list[InvoiceLine]) -> list[InvoiceLine]:
    """Number each days-bearing row by the identical lines already on the books (one query), so days credited and
    charged again are a new repeat while a second write of the same line still collides (`days_billed_once`)."""
    for row, repeat in zip(rows, line_repeats(rows), strict=True):
        if repeat is not None:
            row.repeat = repeat
    return rows


def line_repeats(lines) -> list[int | None]:
    """`repeat` of each line (an InvoiceLine row, or an engine line about to be written as one): how many identical
    lines are on the books or before it in `lines` (one query); None for a line that bears no days."""
    dated = [line for line in lines if line.subscription_id and line.period_start]
    if not dated:
        return [None] * len(lines)
    existing = Counter(
        InvoiceLine.objects.filter(
            among("subscription_id", {line.subscription_id for line in dated}),
            voided=False,
            period_start__gte=min(line.period_start for line in dated),
        ).values_list(*LINE_KEY)
    )
    key_of = attrgetter(*LINE_KEY)
    repeats = []
    for line in lines:
        if not (line.subscription_id and line.period_start):
            repeats.append(None)
            continue
        key = key_of(line)
        repeats.append(existing[key])
        existing[key] += 1
    return repeats


def invoice_line_row(invoice: Invoice, line: engine.Line) -> InvoiceLine:
    return InvoiceLine(
        invoice=invoice,
        subscription_id=line.subscription_id,
        kind=line.kind,
        description=line.description[:300],
        amount=line.amount,
        tax=line.tax,
        period_start=line.period_start,
        period_end=line.period_end,
        rate=line.rate,
        days=line.days,
        period_days=line.period_days,
        coverage=line.coverage,
        refers_to_id=line.refers_to,
    )


def finalize_if_due(invoice: Invoice | None) -> Invoice | None:
    """A document whose review window is zero is finalized at once (after the transaction that made it)."""
    if invoice is not None and invoice.finalize_after <= timezone.now():
        return invoice_finalize(invoice_id=invoice.pk)
    return invoice


# --- activation --------------------------------------------------------------------------------


def activation_invoice(*, subscription_id: int, activated_at) -> Invoice | None:
    """`service.activated`: start billing and issue the first invoice at once.

    Monthly cycle: the activation day to the month's end, prorated by days, plus start fees (a whole month when
    activated on the 1st). Anniversary cycle: one whole period from the activation day. Idempotent: the schedule
    is one per subscription, so a second delivery issues nothing.
    """
    with transaction.atomic():
        subscription = (
            Subscription.objects.select_for_update()
            .select_related("marketplace", "product", "customer")
            .get(pk=subscription_id)
        )
        if BillingSchedule.objects.filter(subscription=subscription).exists():
            return None
        activated_on = local_date(moment_of(activated_at), subscription.marketplace.time_zone)
        account = account_for(subscription)
        config = config_for(subscription.marketplace_id, subscription.provider_id)
        cycle = config.billing_cycle or subscription.billing_cycle
        schedule = BillingSchedule.objects.create(
            subscription=subscription,
            account=account,
            cycle=cycle,
            activated_on=activated_on,
            billed_until=activated_on,
        )
        RateChange.objects.create(
            schedule=schedule,
            effective_on=activated_on,
            monthly_amount=subscription.monthly_amount,
            product=subscription.product,
        )
        if billing_held(subscription.pk):
            return None  # no charge while billing is blocked: the first invoice follows when the block is lifted
        terms = terms_for(schedule, rates=[(activated_on, subscription.monthly_amount)], pauses=[])
        lines = engine.first_invoice_lines(terms)
        schedule.billed_until = terms.first_period.end
        schedule.save(update_fields=["billed_until", "updated_at"])
        invoice = invoice_persist(account, lines, marketplace=subscription.marketplace, reason=InvoiceReason.ACTIVATION)
    return finalize_if_due(invoice)


def billing_held(subscription_id: int) -> bool:
    """Provisioned = paid, enforced: a service whose billing is blocked (e.g. its ONT left the address) gets no
    new charge until the block is lifted."""
    return ServiceInstance.objects.filter(subscription_id=subscription_id, billing_blocked=True).exists()


def draft_recompute(invoice: Invoice) -> None:
    """A draft's tax and totals from its lines (drafts only: finalized invoices never change). Each line's amount
    and tax are as `line_amounts` makes them, so its shown amount splits the same again."""
    assert invoice.status == InvoiceStatus.DRAFT
    lines = [
        engine.Line(kind=line.kind, amount=line.shown_amount)
        for line in invoice.lines.filter(voided=False).exclude(kind=LineKind.TAX)
    ]
    invoice.lines.filter(kind=LineKind.TAX).delete()
    amounts = draft_amounts(lines, invoice.tax_rate, prices_include_tax=invoice.prices_include_tax)
    for tax in amounts.lines[len(lines) :]:
        InvoiceLine.objects.create(invoice=invoice, kind=tax.kind, description=tax.description, amount=tax.amount)
    invoice.subtotal, invoice.tax, invoice.total = amounts.subtotal, amounts.tax, amounts.total
    invoice.kind = amounts.kind
    invoice.save(update_fields=["subtotal", "tax", "total", "kind", "updated_at"])


# --- finalization, numbering, late fees --------------------------------------------------------


def _next_number(issuer_id: int, year: int, series: str) -> tuple[str, str]:
    """The next number of the issuer's series for the year, gapless (the sequence row is locked until commit), and
    its OCR payment reference."""
    InvoiceSequence.objects.get_or_create(issuer_id=issuer_id, year=year, series=series)
    sequence = InvoiceSequence.objects.select_for_update().get(issuer_id=issuer_id, year=year, series=series)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    reference = payment_reference(year=year, series=series, sequence=sequence.last_number)
    return f"{series}-{year}-{sequence.last_number:06d}", reference


@transaction.atomic
def invoice_finalize(*, invoice_id: int, actor=None) -> Invoice:
    """Number the draft (gapless per issuer, series and year) and freeze it. Publishes invoice.finalized."""
    return invoice_finalize_locked(locks.invoice(invoice_id, related=("marketplace",)), actor=actor)


def invoice_finalize_locked(invoice: Invoice, *, actor=None) -> Invoice:
    """invoice_finalize for a draft the caller holds: locked by it, or made in its transaction (a credit note
    issued with a refund, after the payment's lock: a row of its own needs no lock, so the lock order holds)."""
    if invoice.status != InvoiceStatus.DRAFT:
        raise Conflict(f"Invoice {invoice} is {invoice.get_status_display().lower()}, not a draft.", code="not_draft")
    today = local_date(timezone.now(), invoice.marketplace.time_zone)
    config = config_for(invoice.marketplace_id, invoice.issuer_id)
    series = "CN" if invoice.is_credit_note else "INV"
    number, reference = _next_number(invoice.issuer_id, today.year, series)
    due = today + timedelta(days=config.due_days)
    transition_apply(
        invoice,
        "finalize",
        by=actor,
        number=number,
        payment_reference=reference,
        at=timezone.now(),
        issued_on=today,
        due_on=due,
    )
    invoice.save()
    events.publish(
        "invoice.finalized",
        invoice_id=invoice.pk,
        account_id=invoice.account_id,
        provider_id=invoice.issuer_id,
        total=str(invoice.total),
        currency=invoice.currency,
    )
    return invoice


def invoices_finalize_due(*, now: datetime | None = None, limit: int = 5000) -> int:
    """Drafts whose review window is over are finalized (each in its own transaction)."""
    now = now or timezone.now()
    ids = list(
        Invoice.objects.filter(status=InvoiceStatus.DRAFT, finalize_after__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for invoice_id in ids:
        try:
            invoice_finalize(invoice_id=invoice_id)
            done += 1
        except Conflict:
            continue  # finalized meanwhile by another run
    return done


@transaction.atomic
def invoice_void(*, invoice_id: int, actor=None, reason: str = "") -> Invoice:
    """Void an invoice; its days count as not billed again (the next reconciliation bills what is due)."""
    if not reason.strip():
        raise ApplicationError("Say why the invoice is voided.", code="reason_required")
    invoice = locks.invoice(invoice_id)
    if invoice.amount_paid:
        raise Conflict("A paid amount is on this invoice: refund or credit it instead.", code="has_payments")
    if (
        Invoice.objects.filter(corrects=invoice, kind=InvoiceKind.CREDIT_NOTE)
        .exclude(status=InvoiceStatus.VOID)
        .exists()
    ):
        raise Conflict("Credit notes were issued against this invoice: void them first.", code="has_corrections")
    transition_apply(invoice, "void", by=actor, reason=reason, at=timezone.now())
    invoice.save()
    invoice.lines.update(voided=True)
    events.publish("invoice.voided", invoice_id=invoice.pk, account_id=invoice.account_id)
    return invoice


def invoices_mark_late(*, today: date) -> int:
    """Open invoices past their due day plus the grace days become late, and get their late fee once."""
    marked = 0
    configs = {}
    candidates = Invoice.objects.filter(
        status=InvoiceStatus.OPEN, kind=InvoiceKind.INVOICE, due_on__lt=today
    ).values_list("pk", "marketplace_id", "issuer_id", "due_on")
    for invoice_id, marketplace_id, issuer_id, due_on in candidates:
        if (marketplace_id, issuer_id) not in configs:
            configs[marketplace_id, issuer_id] = config_for(marketplace_id, issuer_id)
        config = configs[marketplace_id, issuer_id]
        if due_on + timedelta(days=config.late_fee_grace_days) >= today:
            continue
        if late_invoice(invoice_id=invoice_id, config=config):
            marked += 1
    return marked


def late_invoice(*, invoice_id: int, config) -> Invoice | None:
    """Mark one invoice late and charge its late fee on a new invoice (the late one is frozen). Once only."""
    with transaction.atomic():
        invoice = locks.invoice(invoice_id, related=("account", "marketplace"))
        if invoice.status != InvoiceStatus.OPEN:
            return None
        transition_apply(invoice, "mark_late", at=timezone.now(), reason="past due and grace days")
        invoice.save()
        rule = engine.LateFeeRule(
            config.late_fee_kind, config.late_fee_value, config.late_fee_grace_days, config.late_fee_minimum_balance
        )
        # no fee on a fee
        amount = engine.late_fee(invoice.open_amount, rule) if invoice.reason != InvoiceReason.LATE_FEE else 0
        fee = None
        if amount:
            line = engine.Line(
                kind=engine.LATE_FEE,
                amount=amount,
                description=f"Late fee for invoice {invoice.number} (due {invoice.due_on})",
                refers_to=invoice.pk,
            )
            try:
                with transaction.atomic():
                    fee = invoice_persist(
                        invoice.account,
                        [line],
                        marketplace=invoice.marketplace,
                        reason=InvoiceReason.LATE_FEE,
                        corrects=invoice,
                    )
            except IntegrityError:
                fee = None  # charged already
        events.publish("invoice.late", invoice_id=invoice.pk, account_id=invoice.account_id)
    finalize_if_due(fee)
    return invoice
