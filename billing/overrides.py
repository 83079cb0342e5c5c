"""Audited pricing overrides: a manual price, a discount, a credit note, a write-off.

Each needs the permission `billing.override_pricing` and an active reason code, and writes one PricingOverride
row (who, when, old, new, why): the audit, and a pricing exception in the metrics. A finalized invoice never
changes: on one, a discount or credit is a credit note that corrects it. Amounts are as the invoice states its
prices: net with tax added on an invoice of net prices (business), gross with the tax it includes split off on one
whose prices include tax (consumers), so finance types what the customer sees. A credit note is taxed as the
invoice it corrects.
"""

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Sum

from billing import engine, locks
from billing.choices import InvoiceKind, InvoiceReason, InvoiceStatus, LineKind, OverrideKind
from billing.models import Invoice, InvoiceLine, PricingOverride, ReasonCode
from billing.services import (
    draft_amounts,
    draft_recompute,
    finalize_if_due,
    invoice_persist,
    line_amounts,
    tax_terms,
)
from cos import events
from cos.errors import ApplicationError, Conflict, NotFound
from cos.fsm import transition_apply

PERMISSION = "billing.override_pricing"


class OverrideNotPermitted(ApplicationError):
    """The acting user lacks the permission to override prices."""

    code = "permission_denied"
    http_status = 403


def _check_permission(actor, what: str) -> None:
    if actor is None or not actor.has_perm(PERMISSION):
        raise OverrideNotPermitted(
            f"You may not {what}: it needs the permission "
            "'Can override prices, give discounts and credits, write off debts'."
        )


def _reason(reason_code) -> ReasonCode:
    """The active reason code given as a ReasonCode or its code; none or an inactive one is refused."""
    if isinstance(reason_code, ReasonCode):
        found = ReasonCode.objects.filter(pk=reason_code.pk, active=True).first()
    elif reason_code:
        found = ReasonCode.objects.filter(code=str(reason_code), active=True).first()
    else:
        found = None
    if found is None:
        raise ApplicationError("Choose an active reason code for this override.", code="reason_required")
    return found


def _amount(value, *, positive: bool) -> Decimal:
    try:
        amount = engine.money(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ApplicationError(f"'{value}' is not an amount of money.", code="invalid_amount") from None
    if positive and amount <= 0:
        raise ApplicationError("The amount must be more than zero.", code="invalid_amount")
    return amount


def override_guard(actor, reason_code, what: str) -> ReasonCode:
    _check_permission(actor, what)
    return _reason(reason_code)


def _locked_invoice(invoice_id: int) -> Invoice:
    # Only the invoice row is locked, not its account or marketplace.
    invoice = locks.invoices([invoice_id], related=("account", "marketplace")).get(invoice_id)
    if invoice is None:
        raise NotFound(f"No invoice #{invoice_id}.")
    return invoice


def _audit(kind: str, invoice: Invoice, *, reason: ReasonCode, actor, note: str, **fields) -> PricingOverride:
    return PricingOverride.objects.create(
        kind=kind, invoice=invoice, reason_code=reason, actor=actor, note=note.strip(), **fields
    )


def _correction_kind(invoice: Invoice, kind: str) -> str:
    """A late fee is not taxed, so a correction of one is not either."""
    return LineKind.LATE_FEE if invoice.reason == InvoiceReason.LATE_FEE else kind


# --- on a draft --------------------------------------------------------------------------------


@transaction.atomic
def line_price_override(*, line_id: int, amount, reason_code, actor, note: str = "") -> PricingOverride:
    """A manual price on a line of a draft invoice (what the line shows: gross where the draft's prices include
    tax); the draft's tax and totals follow. Finalized invoices never change (Conflict): correct them with a
    discount or a credit note."""
    reason = override_guard(actor, reason_code, "set a manual price")
    amount = _amount(amount, positive=False)
    invoice_id = InvoiceLine.objects.filter(pk=line_id).values_list("invoice_id", flat=True).first()
    if invoice_id is None:
        raise NotFound(f"No invoice line #{line_id}.")
    invoice = _locked_invoice(invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        raise Conflict(
            f"Invoice {invoice} is {invoice.get_status_display().lower()}: a finalized invoice never changes. "
            "Give a discount or a credit note instead.",
            code="not_draft",
        )
    line = InvoiceLine.objects.get(pk=line_id)
    if line.kind == LineKind.TAX:
        raise ApplicationError("Tax is computed from the other lines; it has no manual price.", code="tax_line")
    if line.voided:
        raise Conflict("This line was voided; it is not billed.", code="line_voided")
    if line.shown_amount == amount:
        raise ApplicationError(f"The line already costs {amount}.", code="unchanged")
    old = line.shown_amount
    line.amount, line.tax = line_amounts(invoice, line.kind, amount)
    line.save(update_fields=["amount", "tax"])
    draft_recompute(invoice)
    return _audit(
        OverrideKind.MANUAL_PRICE,
        invoice,
        line=line,
        old_value=old,
        new_value=amount,
        reason=reason,
        actor=actor,
        note=note,
    )


# --- on a finalized invoice: credit notes ------------------------------------------------------


def _credited(invoice: Invoice) -> Decimal:
    """What the credit notes already issued (or in review) against the invoice give back, as a positive amount."""
    total = (
        Invoice.objects.filter(corrects=invoice, kind=InvoiceKind.CREDIT_NOTE)
        .exclude(status=InvoiceStatus.VOID)
        .aggregate(total=Sum("total"))["total"]
    )
    return -(total or Decimal("0.00"))


def _credit_note(
    invoice: Invoice,
    amount: Decimal,
    *,
    override_kind: str,
    line_kind: str,
    description: str,
    reason: ReasonCode,
    actor,
    note: str,
) -> tuple[Invoice, PricingOverride]:
    """A credit note correcting the (locked, finalized) invoice, within what is left to credit on it."""
    if invoice.is_credit_note:
        raise Conflict(f"{invoice} is a credit note: only an invoice can be corrected this way.", code="is_credit_note")
    kind = _correction_kind(invoice, line_kind)
    lines = [engine.Line(kind=kind, amount=-amount, description=f"{description} ({reason.label})")]
    tax_rate, included = tax_terms(invoice.marketplace, invoice)
    gross = -draft_amounts(lines, tax_rate, prices_include_tax=included).total  # the amount itself if it includes tax
    credited = _credited(invoice)
    left = invoice.total - credited
    if gross > left:
        asked = (
            f"{amount} {invoice.currency} is"
            if gross == amount
            else f"{amount} {invoice.currency} plus tax is {gross} {invoice.currency},"
        )
        raise ApplicationError(
            f"{asked} more than is left to credit on "
            f"invoice {invoice}: its total {invoice.total} less {credited} already credited leaves {left}.",
            code="credit_exceeds_invoice",
            extra={"left": str(left)},
        )
    credit_note = invoice_persist(
        invoice.account, lines, marketplace=invoice.marketplace, reason=InvoiceReason.MANUAL, corrects=invoice
    )
    override = _audit(
        override_kind,
        invoice,
        result=credit_note,
        old_value=left,
        new_value=left - gross,
        reason=reason,
        actor=actor,
        note=note,
    )
    return credit_note, override


def invoice_discount(*, invoice_id: int, amount, reason_code, actor, note: str = "") -> PricingOverride:
    """A manual discount (as the invoice states its prices): on a draft, a negative adjustment line; on an open or
    late invoice, a credit note that corrects it (finalized at once when its review window is zero). The invoice
    itself never changes."""
    with transaction.atomic():
        reason = override_guard(actor, reason_code, "give a discount")
        amount = _amount(amount, positive=True)
        invoice = _locked_invoice(invoice_id)
        if invoice.status == InvoiceStatus.DRAFT:
            return _draft_discount(invoice, amount, reason=reason, actor=actor, note=note)
        if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.LATE):
            raise Conflict(
                f"Invoice {invoice} is {invoice.get_status_display().lower()}: only a draft, open or late invoice "
                "can be discounted.",
                code="not_discountable",
            )
        credit_note, override = _credit_note(
            invoice,
            amount,
            override_kind=OverrideKind.DISCOUNT,
            line_kind=LineKind.ADJUSTMENT,
            description=f"Discount on invoice {invoice}",
            reason=reason,
            actor=actor,
            note=note,
        )
    finalize_if_due(credit_note)
    return override


def _draft_discount(invoice: Invoice, amount: Decimal, *, reason: ReasonCode, actor, note: str) -> PricingOverride:
    if invoice.is_credit_note:
        raise Conflict(f"{invoice} is a credit note; discount an invoice.", code="is_credit_note")
    limit, what = (invoice.total, "total") if invoice.prices_include_tax else (invoice.subtotal, "net amount")
    if amount > limit:
        raise ApplicationError(
            f"A discount of {amount} is more than the draft's {what} {limit}.",
            code="discount_exceeds_invoice",
        )
    old = invoice.total
    kind = _correction_kind(invoice, LineKind.ADJUSTMENT)
    net, tax = line_amounts(invoice, kind, -amount)
    line = InvoiceLine.objects.create(
        invoice=invoice, kind=kind, description=f"Discount ({reason.label})", amount=net, tax=tax
    )
    draft_recompute(invoice)
    return _audit(
        OverrideKind.DISCOUNT,
        invoice,
        line=line,
        old_value=old,
        new_value=invoice.total,
        reason=reason,
        actor=actor,
        note=note,
    )


def invoice_credit(*, invoice_id: int, amount, reason_code, actor, note: str = "") -> PricingOverride:
    """A credit note (as the invoice states its prices) against a finalized invoice, never more than the invoice's
    total less the credits already given against it. The credit note is finalized at once when its review window is
    zero."""
    with transaction.atomic():
        reason = override_guard(actor, reason_code, "give a credit")
        amount = _amount(amount, positive=True)
        invoice = _locked_invoice(invoice_id)
        if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.LATE, InvoiceStatus.PAID):
            draft = invoice.status == InvoiceStatus.DRAFT
            hint = " Give a discount or a manual price on the draft instead." if draft else ""
            raise Conflict(
                f"Invoice {invoice} is {invoice.get_status_display().lower()}: only an open, late or paid invoice "
                f"can be credited.{hint}",
                code="not_creditable",
            )
        credit_note, override = _credit_note(
            invoice,
            amount,
            override_kind=OverrideKind.CREDIT,
            line_kind=LineKind.CREDIT,
            description=f"Credit on invoice {invoice}",
            reason=reason,
            actor=actor,
            note=note,
        )
    finalize_if_due(credit_note)
    return override


# --- write-off ---------------------------------------------------------------------------------


@transaction.atomic
def invoice_write_off(*, invoice_id: int, reason_code, actor, note: str = "") -> PricingOverride:
    """A late invoice's debt is given up: late -> uncollectible. Publishes invoice.written_off."""
    reason = override_guard(actor, reason_code, "write off a debt")
    invoice = _locked_invoice(invoice_id)
    if invoice.status != InvoiceStatus.LATE:
        raise Conflict(
            f"Invoice {invoice} is {invoice.get_status_display().lower()}: only a late invoice can be written off.",
            code="not_late",
        )
    open_amount = invoice.open_amount
    text = f"{reason.label}: {note.strip()}" if note.strip() else reason.label
    transition_apply(invoice, "write_off", by=actor, reason=text)
    invoice.save()
    events.publish("invoice.written_off", invoice_id=invoice.pk, account_id=invoice.account_id, amount=str(open_amount))
    return _audit(
        OverrideKind.WRITE_OFF,
        invoice,
        old_value=open_amount,
        new_value=Decimal("0.00"),
        reason=reason,
        actor=actor,
        note=note,
    )
