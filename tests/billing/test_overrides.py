"""Pricing overrides: a permission and a reason code, an audit row each, and finalized invoices that never change."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from billing import overrides, services
from billing.choices import InvoiceKind, InvoiceReason, InvoiceStatus, LineKind, OverrideKind
from billing.models import Invoice, InvoiceLine, PricingOverride, ReasonCode
from billing.selectors import account_balance
from cos.errors import ApplicationError, Conflict
from cos.models import TransitionLog
from tests.billing.factories import activate, rules, subscription

pytestmark = pytest.mark.django_db

ACTIVATED_ON = date(2026, 2, 10)  # 19 of 28 days: 270.75, start fee 495.00, VAT 191.44, total 957.19


@pytest.fixture
def clerk(django_user_model):
    user = django_user_model.objects.create_user("clerk", "clerk@example.test", "pw-123456", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="billing", codename="override_pricing"))
    return django_user_model.objects.get(pk=user.pk)  # fresh: no cached permissions


@pytest.fixture
def outsider(django_user_model):
    return django_user_model.objects.create_user("ops", "ops@example.test", "pw-123456", is_staff=True)


@pytest.fixture
def goodwill():
    return ReasonCode.objects.create(code="goodwill", label="Goodwill")


@pytest.fixture
def draft():
    sub = subscription()
    rules(sub.marketplace, review_minutes=60)
    invoice = activate(sub, ACTIVATED_ON)
    assert invoice.status == InvoiceStatus.DRAFT
    return invoice


@pytest.fixture
def issued():
    invoice = activate(subscription(), ACTIVATED_ON)
    assert invoice.status == InvoiceStatus.OPEN
    return invoice


def _late(invoice: Invoice) -> Invoice:
    from billing.selectors import config_for

    services.late_invoice(invoice_id=invoice.pk, config=config_for(invoice.marketplace_id, invoice.issuer_id))
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.LATE
    return invoice


def _snapshot(invoice: Invoice):
    """All a customer sees of an invoice: its number, state, totals and lines."""
    invoice = Invoice.objects.get(pk=invoice.pk)
    lines = list(invoice.lines.order_by("pk").values_list("kind", "description", "amount", "voided"))
    return (invoice.number, invoice.status, invoice.subtotal, invoice.tax, invoice.total, lines)


def _every_override(invoice, reason, actor):
    line = invoice.lines.exclude(kind=LineKind.TAX).first()
    return [
        lambda: overrides.line_price_override(line_id=line.pk, amount="100.00", reason_code=reason, actor=actor),
        lambda: overrides.invoice_discount(invoice_id=invoice.pk, amount="10.00", reason_code=reason, actor=actor),
        lambda: overrides.invoice_credit(invoice_id=invoice.pk, amount="10.00", reason_code=reason, actor=actor),
        lambda: overrides.invoice_write_off(invoice_id=invoice.pk, reason_code=reason, actor=actor),
    ]


# --- permission and reason ---------------------------------------------------------------------


OVERRIDES = ["manual price", "discount", "credit", "write-off"]


@pytest.mark.parametrize("which", OVERRIDES)
def test_without_the_permission_nothing_is_overridden(which, draft, issued, outsider, goodwill):
    # given: a user who may not override prices; a draft (for the manual price) and a finalized invoice
    invoice = draft if which == "manual price" else issued
    before = _snapshot(invoice)
    attempt = _every_override(invoice, goodwill, outsider)[OVERRIDES.index(which)]
    # when
    with pytest.raises(overrides.OverrideNotPermitted) as refused:
        attempt()
    # then: a clear refusal, and nothing written
    assert refused.value.code == "permission_denied"
    assert "permission" in refused.value.message
    assert _snapshot(invoice) == before
    assert not PricingOverride.objects.exists()
    assert not Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).exists()


def test_no_actor_is_refused_like_a_user_without_the_permission(issued, goodwill):
    with pytest.raises(overrides.OverrideNotPermitted):
        overrides.invoice_credit(invoice_id=issued.pk, amount="10.00", reason_code=goodwill, actor=None)
    assert not PricingOverride.objects.exists()


@pytest.mark.parametrize("reason", [None, "", "no-such-code", "retired"])
@pytest.mark.parametrize("which", [0, 1, 2])
def test_an_active_reason_code_is_required(reason, which, draft, issued, clerk):
    # given: no reason, an unknown one, or one that was retired
    ReasonCode.objects.create(code="retired", label="Retired reason", active=False)
    invoice = draft if which == 0 else issued
    before = _snapshot(invoice)
    # when
    with pytest.raises(ApplicationError) as refused:
        _every_override(invoice, reason, clerk)[which]()
    # then
    assert refused.value.code == "reason_required"
    assert _snapshot(invoice) == before
    assert not PricingOverride.objects.exists()


def test_a_retired_reason_code_given_as_an_object_is_refused(issued, clerk):
    retired = ReasonCode.objects.create(code="retired", label="Retired reason", active=False)
    with pytest.raises(ApplicationError) as refused:
        overrides.invoice_credit(invoice_id=issued.pk, amount="10.00", reason_code=retired, actor=clerk)
    assert refused.value.code == "reason_required"
    assert not Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).exists()


# --- manual price ------------------------------------------------------------------------------


def test_manual_price_on_a_draft_line_recomputes_tax_and_total_and_is_audited(draft, clerk, goodwill):
    # given: the prorated line costs 270.75
    line = draft.lines.get(kind=LineKind.PRORATED)
    # when
    override = overrides.line_price_override(
        line_id=line.pk, amount=Decimal("200.00"), reason_code="goodwill", actor=clerk, note="agreed on the phone"
    )
    # then: 495.00 + 200.00 = 695.00 net, 173.75 VAT, 868.75 total
    draft.refresh_from_db()
    line.refresh_from_db()
    assert line.amount == Decimal("200.00")
    assert (draft.subtotal, draft.tax, draft.total) == (Decimal("695.00"), Decimal("173.75"), Decimal("868.75"))
    assert draft.lines.get(kind=LineKind.TAX).amount == Decimal("173.75")
    assert draft.total == sum(draft.lines.filter(voided=False).values_list("amount", flat=True))
    assert (override.kind, override.invoice, override.line) == (OverrideKind.MANUAL_PRICE, draft, line)
    assert (override.old_value, override.new_value) == (Decimal("270.75"), Decimal("200.00"))
    assert (override.actor, override.reason_code, override.note) == (clerk, goodwill, "agreed on the phone")
    assert override.created_at is not None


def test_manual_price_on_a_finalized_invoice_is_refused(issued, clerk, goodwill):
    before = _snapshot(issued)
    line = issued.lines.get(kind=LineKind.PRORATED)
    with pytest.raises(Conflict) as refused:
        overrides.line_price_override(line_id=line.pk, amount="1.00", reason_code=goodwill, actor=clerk)
    assert refused.value.code == "not_draft"
    assert "never changes" in refused.value.message
    assert _snapshot(issued) == before
    assert not PricingOverride.objects.exists()


def test_the_tax_line_has_no_manual_price(draft, clerk, goodwill):
    tax = draft.lines.get(kind=LineKind.TAX)
    with pytest.raises(ApplicationError) as refused:
        overrides.line_price_override(line_id=tax.pk, amount="0.00", reason_code=goodwill, actor=clerk)
    assert refused.value.code == "tax_line"
    assert InvoiceLine.objects.get(pk=tax.pk).amount == Decimal("191.44")


# --- discount ----------------------------------------------------------------------------------


def test_discount_on_a_draft_is_a_negative_adjustment_line(draft, clerk, goodwill):
    # when: 100.00 off a draft of 765.75 net
    override = overrides.invoice_discount(invoice_id=draft.pk, amount="100.00", reason_code=goodwill, actor=clerk)
    # then: the draft carries the discount as its own line, and tax follows (VAT on 665.75 = 166.44)
    draft.refresh_from_db()
    adjustment = draft.lines.get(kind=LineKind.ADJUSTMENT)
    assert adjustment.amount == Decimal("-100.00")
    assert (draft.subtotal, draft.tax, draft.total) == (Decimal("665.75"), Decimal("166.44"), Decimal("832.19"))
    assert draft.status == InvoiceStatus.DRAFT
    assert (override.kind, override.line, override.old_value, override.new_value) == (
        OverrideKind.DISCOUNT,
        adjustment,
        Decimal("957.19"),
        Decimal("832.19"),
    )
    assert not Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).exists()


def test_discount_on_a_draft_cannot_exceed_its_net_amount(draft, clerk, goodwill):
    before = _snapshot(draft)
    with pytest.raises(ApplicationError) as refused:
        overrides.invoice_discount(invoice_id=draft.pk, amount="765.76", reason_code=goodwill, actor=clerk)
    assert refused.value.code == "discount_exceeds_invoice"
    assert _snapshot(draft) == before


def test_discount_on_a_finalized_invoice_is_a_credit_note_and_the_invoice_never_changes(issued, clerk, goodwill):
    # given
    before = _snapshot(issued)
    # when
    override = overrides.invoice_discount(
        invoice_id=issued.pk, amount="100.00", reason_code=goodwill, actor=clerk, note="outage in March"
    )
    # then: the invoice is exactly as it was issued
    assert _snapshot(issued) == before
    # and a credit note corrects it: 100.00 plus 25 % VAT, finalized at once (no review window)
    credit_note = Invoice.objects.get(corrects=issued)
    assert credit_note.kind == InvoiceKind.CREDIT_NOTE
    assert credit_note.reason == InvoiceReason.MANUAL
    assert credit_note.status == InvoiceStatus.OPEN
    assert credit_note.number.startswith("CN-")
    assert (credit_note.subtotal, credit_note.tax, credit_note.total) == (
        Decimal("-100.00"),
        Decimal("-25.00"),
        Decimal("-125.00"),
    )
    assert credit_note.lines.get(kind=LineKind.ADJUSTMENT).amount == Decimal("-100.00")
    assert (override.kind, override.result, override.actor, override.note) == (
        OverrideKind.DISCOUNT,
        credit_note,
        clerk,
        "outage in March",
    )
    assert (override.old_value, override.new_value) == (Decimal("957.19"), Decimal("832.19"))
    # what the customer owes counts the credit note against the invoice
    assert account_balance([issued.account_id]) == Decimal("832.19")


def test_a_credit_note_waits_for_review_when_the_rules_ask_for_it(issued, clerk, goodwill):
    rules(issued.marketplace, review_minutes=60)
    overrides.invoice_discount(invoice_id=issued.pk, amount="10.00", reason_code=goodwill, actor=clerk)
    credit_note = Invoice.objects.get(corrects=issued)
    assert (credit_note.status, credit_note.number) == (InvoiceStatus.DRAFT, "")


def test_a_void_invoice_cannot_be_discounted(issued, clerk, goodwill):
    services.invoice_void(invoice_id=issued.pk, actor=clerk, reason="sent twice")
    with pytest.raises(Conflict) as refused:
        overrides.invoice_discount(invoice_id=issued.pk, amount="10.00", reason_code=goodwill, actor=clerk)
    assert refused.value.code == "not_discountable"
    assert not Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).exists()


# --- credit ------------------------------------------------------------------------------------


def test_credit_issues_a_credit_note_and_the_invoice_never_changes(issued, clerk, goodwill):
    before = _snapshot(issued)
    override = overrides.invoice_credit(invoice_id=issued.pk, amount="200.00", reason_code=goodwill, actor=clerk)
    assert _snapshot(issued) == before
    credit_note = override.result
    assert (credit_note.kind, credit_note.corrects, credit_note.total) == (
        InvoiceKind.CREDIT_NOTE,
        issued,
        Decimal("-250.00"),
    )
    assert credit_note.lines.get(kind=LineKind.CREDIT).amount == Decimal("-200.00")
    assert override.kind == OverrideKind.CREDIT
    assert (override.old_value, override.new_value) == (Decimal("957.19"), Decimal("707.19"))


def test_credits_never_exceed_the_invoice_total_less_earlier_credits(issued, clerk, goodwill):
    # given: 200.00 (250.00 with VAT) credited already on an invoice of 957.19
    overrides.invoice_credit(invoice_id=issued.pk, amount="200.00", reason_code=goodwill, actor=clerk)
    # when: the rest, and a cent more
    with pytest.raises(ApplicationError) as refused:
        overrides.invoice_credit(invoice_id=issued.pk, amount="565.76", reason_code=goodwill, actor=clerk)
    # then: refused with what is left, nothing written
    assert refused.value.code == "credit_exceeds_invoice"
    assert "707.19" in refused.value.message
    assert Invoice.objects.filter(corrects=issued).count() == 1
    assert PricingOverride.objects.count() == 1
    # and exactly the rest is allowed: the invoice is then credited in full
    overrides.invoice_credit(invoice_id=issued.pk, amount="565.75", reason_code=goodwill, actor=clerk)
    credited = sum(Invoice.objects.filter(corrects=issued).values_list("total", flat=True))
    assert credited == -issued.total
    assert account_balance([issued.account_id]) == Decimal("0.00")
    with pytest.raises(ApplicationError):
        overrides.invoice_credit(invoice_id=issued.pk, amount="0.01", reason_code=goodwill, actor=clerk)


def test_a_discount_counts_against_what_can_still_be_credited(issued, clerk, goodwill):
    overrides.invoice_discount(invoice_id=issued.pk, amount="700.00", reason_code=goodwill, actor=clerk)
    with pytest.raises(ApplicationError) as refused:
        overrides.invoice_credit(invoice_id=issued.pk, amount="100.00", reason_code=goodwill, actor=clerk)
    assert refused.value.code == "credit_exceeds_invoice"


def test_a_draft_is_not_credited_it_is_discounted(draft, clerk, goodwill):
    before = _snapshot(draft)
    with pytest.raises(Conflict) as refused:
        overrides.invoice_credit(invoice_id=draft.pk, amount="10.00", reason_code=goodwill, actor=clerk)
    assert "discount" in refused.value.message
    assert _snapshot(draft) == before


@pytest.mark.parametrize("amount", ["0", "-5.00", "ten"])
def test_a_credit_must_be_a_positive_amount(amount, issued, clerk, goodwill):
    with pytest.raises(ApplicationError) as refused:
        overrides.invoice_credit(invoice_id=issued.pk, amount=amount, reason_code=goodwill, actor=clerk)
    assert refused.value.code == "invalid_amount"
    assert not PricingOverride.objects.exists()


def test_a_credit_note_itself_cannot_be_credited(issued, clerk, goodwill):
    credit_note = overrides.invoice_credit(
        invoice_id=issued.pk, amount="10.00", reason_code=goodwill, actor=clerk
    ).result
    with pytest.raises(Conflict) as refused:
        overrides.invoice_credit(invoice_id=credit_note.pk, amount="1.00", reason_code=goodwill, actor=clerk)
    assert refused.value.code == "is_credit_note"


def test_crediting_a_late_fee_adds_no_tax(issued, clerk, goodwill):
    # given: the invoice went late and a 60.00 late fee (untaxed) was charged on its own invoice
    _late(issued)
    fee = Invoice.objects.get(corrects=issued, reason=InvoiceReason.LATE_FEE)
    assert (fee.tax, fee.total) == (Decimal("0.00"), Decimal("60.00"))
    # when
    credit_note = overrides.invoice_credit(invoice_id=fee.pk, amount="60.00", reason_code=goodwill, actor=clerk).result
    # then: the fee is credited in full, without VAT
    assert (credit_note.tax, credit_note.total) == (Decimal("0.00"), Decimal("-60.00"))


# --- write-off ---------------------------------------------------------------------------------


def test_write_off_turns_a_late_invoice_uncollectible_and_is_audited(issued, clerk, goodwill):
    # given
    invoice = _late(issued)
    # when
    override = overrides.invoice_write_off(
        invoice_id=invoice.pk, reason_code=goodwill, actor=clerk, note="customer moved abroad"
    )
    # then
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.UNCOLLECTIBLE
    assert invoice.total == Decimal("957.19")  # the invoice itself is unchanged
    assert (override.kind, override.old_value, override.new_value) == (
        OverrideKind.WRITE_OFF,
        Decimal("957.19"),
        Decimal("0.00"),
    )
    assert (override.actor, override.reason_code) == (clerk, goodwill)
    log = TransitionLog.objects.get(object_id=invoice.pk, target=InvoiceStatus.UNCOLLECTIBLE)
    assert log.actor == clerk
    assert "customer moved abroad" in log.reason


@pytest.mark.parametrize("state", ["draft", "open", "paid"])
def test_write_off_only_from_late(state, draft, issued, clerk, goodwill):
    invoice = draft if state == "draft" else issued
    if state == "paid":
        Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.PAID, amount_paid=invoice.total)
    before = _snapshot(invoice)
    with pytest.raises(Conflict) as refused:
        overrides.invoice_write_off(invoice_id=invoice.pk, reason_code=goodwill, actor=clerk)
    assert refused.value.code == "not_late"
    assert "only a late invoice" in refused.value.message
    assert _snapshot(invoice) == before
    assert not PricingOverride.objects.exists()


def test_a_written_off_invoice_is_past_crediting(issued, clerk, goodwill):
    invoice = _late(issued)
    overrides.invoice_write_off(invoice_id=invoice.pk, reason_code=goodwill, actor=clerk)
    with pytest.raises(Conflict):
        overrides.invoice_credit(invoice_id=invoice.pk, amount="1.00", reason_code=goodwill, actor=clerk)
    assert not Invoice.objects.filter(corrects=invoice, kind=InvoiceKind.CREDIT_NOTE).exists()
