"""Activation-linked invoicing: the first invoice, numbering, review window, termination, pauses, late fees."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import changes, services
from billing.choices import InvoiceKind, InvoiceReason, InvoiceStatus, LineKind
from billing.models import BillingSchedule, Invoice, InvoiceLine
from cos import events
from cos.errors import ApplicationError
from cos.models import Event
from marketplace.choices import BillingCycle, PromotionKind
from tests.billing.factories import activate, at, rules, subscription

pytestmark = pytest.mark.django_db


def _amounts(invoice) -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for line in invoice.lines.filter(voided=False):
        found[line.kind] = found.get(line.kind, Decimal("0")) + line.amount
    return found


def test_monthly_first_invoice_is_prorated_from_the_activation_day_plus_the_start_fee():
    # given: 399.00 a month, 495.00 start fee, 25 % VAT; activated on 10 February 2026 (28 days)
    sub = subscription()
    # when
    invoice = activate(sub, date(2026, 2, 10))
    # then: 19 of 28 days, the start fee, tax on both; finalized and numbered at once
    assert _amounts(invoice) == {
        LineKind.START_FEE: Decimal("495.00"),
        LineKind.PRORATED: Decimal("270.75"),  # 399 x 19 / 28 = 270.75
        LineKind.TAX: Decimal("191.44"),  # 25 % of 765.75 = 191.4375
    }
    assert invoice.total == Decimal("957.19") == sum(line.amount for line in invoice.lines.all())
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.number == f"INV-{timezone.localdate().year}-000001"
    assert invoice.reason == InvoiceReason.ACTIVATION


def test_activation_on_the_first_bills_a_whole_month():
    invoice = activate(subscription(), date(2026, 3, 1))
    assert _amounts(invoice)[LineKind.RECURRING] == Decimal("399.00")
    assert LineKind.PRORATED not in _amounts(invoice)


def test_anniversary_cycle_bills_one_whole_period_from_the_activation_day():
    sub = subscription(billing_cycle=BillingCycle.ANNIVERSARY)
    invoice = activate(sub, date(2026, 1, 31))
    line = invoice.lines.get(kind=LineKind.RECURRING)
    assert (line.amount, line.period_start, line.period_end) == (
        Decimal("399.00"),
        date(2026, 1, 31),
        date(2026, 2, 27),
    )
    assert BillingSchedule.objects.get(subscription=sub).billed_until == date(2026, 2, 28)


def test_a_promotion_is_its_own_negative_line():
    sub = subscription(promotion_kind=PromotionKind.PERCENT_OFF, promotion_value=Decimal("50"), promotion_periods=3)
    invoice = activate(sub, date(2026, 3, 1))
    assert _amounts(invoice)[LineKind.PROMOTION] == Decimal("-199.50")


def test_a_second_delivery_of_service_activated_issues_nothing_more(django_capture_on_commit_callbacks):
    # given: the verified activation, delivered twice
    sub = subscription()
    activate(sub, date(2026, 2, 10))
    # when
    again = services.activation_invoice(subscription_id=sub.pk, activated_at=at(date(2026, 2, 10)))
    # then
    assert again is None
    assert Invoice.objects.filter(account__customer=sub.customer).count() == 1


def test_the_service_activated_event_issues_the_first_invoice(django_capture_on_commit_callbacks):
    sub = subscription()
    from marketplace.models import Subscription

    Subscription.objects.filter(pk=sub.pk).update(status="active", activated_at=at(date(2026, 2, 10)))
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(
            "service.activated", subscription_id=sub.pk, activated_at=at(date(2026, 2, 10)), service_id=0, provider_id=0
        )
    invoice = Invoice.objects.get(account__customer=sub.customer)
    assert invoice.status == InvoiceStatus.OPEN
    assert Event.objects.filter(name="invoice.finalized", payload__invoice_id=invoice.pk).exists()


def test_numbers_are_gapless_per_issuer_and_series():
    # given: two subscribers of one provider, and a credit note
    first = subscription()
    from tests.marketplace.factories import world

    w = world()
    second = subscription(w)
    a = activate(first, date(2026, 2, 10))
    b = activate(second, date(2026, 2, 11))
    credit = changes.billing_stop(subscription_id=first.pk, deactivated_at=at(date(2026, 2, 20)))
    # then: each provider numbers from 1; credit notes have their own series
    year = timezone.localdate().year
    assert a.number == f"INV-{year}-000001"
    assert b.number == f"INV-{year}-000001"  # another provider
    assert credit.kind == InvoiceKind.CREDIT_NOTE
    assert credit.number == f"CN-{year}-000001"


def test_drafts_wait_for_the_review_window_then_finalize():
    # given: a one-hour review window
    sub = subscription()
    rules(sub.marketplace, review_minutes=60)
    invoice = activate(sub, date(2026, 2, 10))
    assert (invoice.status, invoice.number) == (InvoiceStatus.DRAFT, "")
    # when: the window has not passed, then has
    assert services.invoices_finalize_due() == 0
    assert services.invoices_finalize_due(now=timezone.now() + timedelta(minutes=61)) == 1
    # then
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.number


def test_a_finalized_invoice_cannot_be_finalized_again():
    invoice = activate(subscription(), date(2026, 2, 10))
    with pytest.raises(ApplicationError, match="not a draft"):
        services.invoice_finalize(invoice_id=invoice.pk)


def test_the_same_days_cannot_be_billed_twice_even_by_a_direct_insert():
    sub = subscription()
    invoice = activate(sub, date(2026, 2, 10))
    line = invoice.lines.get(kind=LineKind.PRORATED)
    line.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        line.save()


# --- termination ----------------------------------------------------------------------------


def test_termination_refunds_the_unused_days_on_a_credit_note():
    # given: March billed in full
    sub = subscription()
    activate(sub, date(2026, 3, 1))
    # when: the service is verified off on 21 March
    credit = changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 21)))
    # then: 21..31 March (11 days) are refunded, with their tax
    line = credit.lines.get(kind=LineKind.CREDIT)
    assert (line.period_start, line.period_end, line.amount) == (
        date(2026, 3, 21),
        date(2026, 3, 31),
        Decimal("-141.58"),
    )
    assert credit.total == Decimal("-176.98")  # -141.58 - 35.395 rounded half up
    assert credit.kind == InvoiceKind.CREDIT_NOTE
    assert credit.status == InvoiceStatus.OPEN
    assert credit.total == sum(line.amount for line in credit.lines.all())


def test_after_termination_the_cycle_bills_nothing_more():
    from billing.runs import billing_chunk

    sub = subscription()
    activate(sub, date(2026, 3, 1))
    changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 21)))
    schedule = BillingSchedule.objects.get(subscription=sub)
    assert billing_chunk(run_id=None, account_ids=[schedule.account_id], as_of=date(2026, 4, 1)) == (0, 0)


def test_a_subscription_ended_without_a_verified_deactivation_stops_billing_at_its_termination(settings):
    import time_machine

    from marketplace.services import subscription_terminate

    # given: March billed in full; the subscriber ends on 21 March, and the network's deactivation never comes
    settings.BILLING_STOP_WAIT_SECONDS = 86400
    sub = subscription()
    activate(sub, date(2026, 3, 1))
    ended = at(date(2026, 3, 21), hour=9)
    with time_machine.travel(ended, tick=False):
        subscription_terminate(subscription_id=sub.pk, reason="moved", waive_notice=True)
    schedule = BillingSchedule.objects.get(subscription=sub)
    # when the daily check runs within the wait: billing waits for the deactivation
    assert changes.billing_stops_overdue(now=ended + timedelta(hours=23)) == 0
    schedule.refresh_from_db()
    assert schedule.ends_on is None
    # after it: billing stops at the termination, and the unused days 21..31 March are refunded
    assert changes.billing_stops_overdue(now=ended + timedelta(days=1, minutes=1)) == 1
    credit = Invoice.objects.get(account__customer=sub.customer, kind=InvoiceKind.CREDIT_NOTE)
    line = credit.lines.get(kind=LineKind.CREDIT)
    assert (line.period_start, line.period_end, line.amount) == (
        date(2026, 3, 21),
        date(2026, 3, 31),
        Decimal("-141.58"),
    )
    # April is not billed to the subscriber who left
    from billing.runs import billing_chunk

    assert billing_chunk(run_id=None, account_ids=[schedule.account_id], as_of=date(2026, 4, 1)) == (0, 0)
    # the check again, and the deactivation verified days later, change nothing more
    assert changes.billing_stops_overdue(now=ended + timedelta(days=2)) == 0
    assert changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 25))) is None
    assert Invoice.objects.filter(account__customer=sub.customer).count() == 2


def test_termination_voids_the_drafts_of_the_subscription():
    # given: a review window, so the first invoice is still a draft
    sub = subscription()
    rules(sub.marketplace, review_minutes=60)
    draft = activate(sub, date(2026, 3, 1))
    # when
    final = changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 11)))
    # then: the draft is void, and the final invoice bills exactly the 10 days used (no refund of unpaid days)
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.VOID
    assert final.kind == InvoiceKind.INVOICE
    assert _amounts(final)[LineKind.PRORATED] == Decimal("128.71")  # 399 x 10 / 31
    assert final.lines.filter(kind=LineKind.START_FEE).count() == 0  # the start fee was on the voided draft
    assert InvoiceLine.objects.filter(subscription=sub, kind=LineKind.START_FEE, voided=False).count() == 0


def test_a_termination_dated_before_activation_is_refused_and_changes_nothing():
    sub = subscription()
    activate(sub, date(2026, 3, 10))
    with pytest.raises(ApplicationError, match="before the activation"):
        changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 9)))
    assert BillingSchedule.objects.get(subscription=sub).ends_on is None
    assert Invoice.objects.filter(account__customer=sub.customer).count() == 1


def test_a_second_delivery_of_service_deactivated_credits_nothing_more():
    sub = subscription()
    activate(sub, date(2026, 3, 1))
    changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 21)))
    assert changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 21))) is None
    assert Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).count() == 1


def test_without_refunds_the_paid_period_stays_paid_and_a_recovery_fee_is_charged():
    sub = subscription()
    rules(sub.marketplace, refund_on_termination=False, recovery_fee=Decimal("800.00"))
    activate(sub, date(2026, 3, 1))
    BillingSchedule.objects.filter(subscription=sub).update(equipment_returned=False)
    final = changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 3, 21)))
    assert _amounts(final) == {LineKind.FEE: Decimal("800.00"), LineKind.TAX: Decimal("200.00")}


# --- pauses and plan changes ----------------------------------------------------------------


def test_a_pause_credits_the_paused_days_and_resuming_charges_the_rest():
    sub = subscription()
    activate(sub, date(2026, 3, 1))
    paused = changes.pause_start(subscription_id=sub.pk, at=date(2026, 3, 11))
    resumed = changes.pause_end(subscription_id=sub.pk, at=date(2026, 3, 21))
    # then: 11..31 credited (21 days), 21..31 charged again (11 days): net 10 paused days not billed
    assert _amounts(paused)[LineKind.CREDIT] == Decimal("-270.29")  # 399 x 21 / 31
    assert _amounts(resumed)[LineKind.PRORATED] == Decimal("141.58")  # 399 x 11 / 31
    net = sum(
        line.amount
        for line in InvoiceLine.objects.filter(subscription=sub, kind__in=["recurring", "prorated", "credit"])
    )
    assert net == Decimal("270.29")  # 399 - 270.29 + 141.58 ~ 399 x 21 / 31 = 270.29


def test_the_verified_suspension_pauses_billing_and_the_resumption_ends_the_pause(django_capture_on_commit_callbacks):
    sub = subscription()
    activate(sub, date(2026, 3, 1))
    with django_capture_on_commit_callbacks(execute=True):
        events.publish("service.suspended", subscription_id=sub.pk, suspended_at=at(date(2026, 3, 11)))
    schedule = BillingSchedule.objects.get(subscription=sub)
    assert schedule.pauses.filter(ends_on__isnull=True).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        events.publish("service.resumed", subscription_id=sub.pk, resumed_at=at(date(2026, 3, 21)))
    assert list(schedule.pauses.values_list("starts_on", "ends_on")) == [(date(2026, 3, 11), date(2026, 3, 21))]


def _faster_plan(sub, amount="599.00", currency=None):
    from tests.marketplace.factories import PriceFactory, ProductFactory

    product = ProductFactory(provider=sub.provider, name="Fiber 2000", download_mbps=2000, upload_mbps=2000)
    PriceFactory(
        product=product,
        marketplace=sub.marketplace,
        monthly_amount=Decimal(amount),
        currency=currency or sub.marketplace.currency,
        valid_from=date(2020, 1, 1),
    )
    return product


def test_a_verified_upgrade_credits_the_old_plan_and_charges_the_new_from_that_day():
    # given: 399 a month, billed for March
    sub = subscription()
    activate(sub, date(2026, 3, 1))
    product = _faster_plan(sub)
    # when: the network verified the 599 plan on 21 March
    changes.rate_change_apply(
        subscription_id=sub.pk, at=at(date(2026, 3, 21)), monthly_amount="599.00", product_id=product.pk
    )
    # then: the 11 days left are credited at the old rate and charged at the new one
    adjustment = Invoice.objects.get(reason=InvoiceReason.ADJUSTMENT)
    assert _amounts(adjustment)[LineKind.CREDIT] == Decimal("-141.58")  # 399 x 11 / 31
    assert _amounts(adjustment)[LineKind.PRORATED] == Decimal("212.55")  # 599 x 11 / 31
    # each line names the plan of its days: the old one credited, the new one charged
    credit = adjustment.lines.get(kind=LineKind.CREDIT).description
    charge = adjustment.lines.get(kind=LineKind.PRORATED).description
    assert credit.startswith(f"Credit: {sub.product.name} ")
    assert charge.startswith("Fiber 2000 ")


def test_a_verified_rate_change_delivered_twice_bills_once():
    sub = subscription()
    activate(sub, date(2026, 3, 1))
    product = _faster_plan(sub)
    for _ in range(2):
        changes.rate_change_apply(
            subscription_id=sub.pk, at=at(date(2026, 3, 21)), monthly_amount="599.00", product_id=product.pk
        )
    assert Invoice.objects.filter(reason=InvoiceReason.ADJUSTMENT).count() == 1


def test_a_downgrade_verified_on_the_first_bills_the_new_month_at_the_new_rate_whatever_ran_first():
    from billing.runs import billing_chunk

    # given: on 599 from 1 March; the cycle run billed April at 599 before the network applied the downgrade
    sub = subscription(monthly_amount=Decimal("599.00"))
    activate(sub, date(2026, 3, 1))
    schedule = BillingSchedule.objects.get(subscription=sub)
    billing_chunk(run_id=None, account_ids=[schedule.account_id], as_of=date(2026, 4, 1))
    # when: the downgrade to 399 is verified on 1 April
    changes.rate_change_apply(
        subscription_id=sub.pk, at=at(date(2026, 4, 1)), monthly_amount="399.00", product_id=sub.product_id
    )
    # then: April nets to 399: 599 credited, 399 charged
    april = InvoiceLine.objects.filter(subscription=sub, period_start=date(2026, 4, 1), voided=False)
    assert sum(line.amount for line in april if line.kind != LineKind.TAX) == Decimal("399.00")


# --- late fees ------------------------------------------------------------------------------


def test_an_invoice_past_due_and_grace_becomes_late_and_gets_its_fee_once():
    # given: due in 14 days, 5 grace days, 60.00 fixed fee
    sub = subscription()
    invoice = activate(sub, date(2026, 2, 10))
    due = invoice.due_on
    # when: the day after the grace days, twice
    assert services.invoices_mark_late(today=due + timedelta(days=5)) == 0
    assert services.invoices_mark_late(today=due + timedelta(days=6)) == 1
    services.invoices_mark_late(today=due + timedelta(days=30))
    # then
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.LATE
    fee = Invoice.objects.get(reason=InvoiceReason.LATE_FEE)
    assert _amounts(fee) == {LineKind.LATE_FEE: Decimal("60.00")}  # not taxed
    assert fee.corrects == invoice  # and the fee itself, when late, gets no fee of its own


def test_a_percent_late_fee_respects_the_minimum_balance():
    sub = subscription()
    rules(
        sub.marketplace, late_fee_kind="percent", late_fee_value=Decimal("2"), late_fee_minimum_balance=Decimal("5000")
    )
    invoice = activate(sub, date(2026, 2, 10))
    services.invoices_mark_late(today=invoice.due_on + timedelta(days=30))
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.LATE
    assert not Invoice.objects.filter(reason=InvoiceReason.LATE_FEE).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_finalization_numbers_gaplessly():
    import threading

    from django.db import connection

    from tests.marketplace.factories import AddressFactory, world

    # given: eight drafts of one provider, held for review
    w = world()
    rules(w.marketplace, review_minutes=60)
    drafts = []
    for _ in range(8):
        w.address = AddressFactory(area=w.area, status=w.address.status)
        drafts.append(activate(subscription(w), date(2026, 3, 5)))
    barrier = threading.Barrier(len(drafts))

    def finalize(invoice_id):
        try:
            barrier.wait()
            services.invoice_finalize(invoice_id=invoice_id)
        finally:
            connection.close()

    # when: all are finalized at the same moment
    threads = [threading.Thread(target=finalize, args=(d.pk,)) for d in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then: numbers 1..8, no gap, no duplicate
    numbers = sorted(Invoice.objects.filter(issuer=w.provider).values_list("number", flat=True))
    year = timezone.localdate().year
    assert numbers == [f"INV-{year}-{n:06d}" for n in range(1, 9)]
