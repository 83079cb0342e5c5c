"""Provisioned = paid, enforced: a service whose billing is blocked gets no new charge; the held days are billed
once when the block is lifted, or credited by finance with a reason code; the contract sync flags any live
ledger period that is not billed and any billing that runs without a live period; an early end before the minimum
term puts the provider's fee on the final invoice."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.utils import timezone

from billing import changes
from billing.choices import InvoiceReason, LineKind
from billing.models import BillingSchedule, Invoice, InvoiceLine, ReasonCode
from billing.overrides import OverrideNotPermitted
from billing.runs import billing_chunk
from marketplace.models import Subscription
from provisioning.choices import ExceptionKind
from provisioning.ledger import period_open
from provisioning.models import ContractException, ServiceInstance
from provisioning.requests import service_billing_block, service_billing_unblock
from provisioning.sync import contract_sync
from tests.billing.factories import activate, at, subscription
from tests.cos.factories import ONTFactory

pytestmark = pytest.mark.django_db


def _block(sub, on: date):
    service = ServiceInstance.objects.get(subscription=sub)
    with time_machine.travel(at(on), tick=False):
        service_billing_block(service_id=service.pk, reason="ONT no longer bound to the address")
    return service


def _unblock(service, on: date, capture, **kwargs):
    with time_machine.travel(at(on), tick=False), capture(execute=True):
        service_billing_unblock(service_id=service.pk, **kwargs)


def _days(sub) -> dict[date, int]:
    """Net coverage per billed day of the subscription (recurring stream)."""
    days: dict[date, int] = {}
    for line in InvoiceLine.objects.filter(subscription=sub, voided=False, period_start__isnull=False).exclude(
        kind=LineKind.PROMOTION
    ):
        day = line.period_start
        while day <= line.period_end:
            days[day] = days.get(day, 0) + line.coverage
            day += timedelta(days=1)
    return {day: n for day, n in days.items() if n}


def _each_day(start: date, end: date):
    return [start + timedelta(days=n) for n in range((end - start).days)]


def test_a_blocked_service_is_skipped_by_the_cycle_and_its_held_months_are_billed_once_when_lifted(
    django_capture_on_commit_callbacks,
):
    # given: billed for March, blocked on 20 March
    sub = subscription()
    activate(sub, date(2026, 3, 1))
    service = _block(sub, date(2026, 3, 20))
    schedule = BillingSchedule.objects.get(subscription=sub)
    # when: the April and May runs come
    for day in (date(2026, 4, 1), date(2026, 5, 1)):
        billing_chunk(run_id=None, account_ids=[schedule.account_id], as_of=day)
    # then: nothing new is charged while blocked
    assert Invoice.objects.filter(reason=InvoiceReason.CYCLE).count() == 0
    assert max(_days(sub)) == date(2026, 3, 31)
    # when: the block is lifted on 10 May (delivered twice)
    for _ in range(2):
        _unblock(service, date(2026, 5, 10), django_capture_on_commit_callbacks)
    # then: April and May are billed once each, on one catch-up invoice
    assert _days(sub) == dict.fromkeys(_each_day(date(2026, 3, 1), date(2026, 6, 1)), 1)
    assert Invoice.objects.filter(reason=InvoiceReason.ADJUSTMENT).count() == 1
    schedule.refresh_from_db()
    assert schedule.billed_until == date(2026, 6, 1)


def test_a_service_activated_while_blocked_gets_its_first_invoice_when_the_block_is_lifted(
    django_capture_on_commit_callbacks,
):
    # given: blocked before the activation
    sub = subscription()
    service = _block(sub, date(2026, 3, 1))
    # when: activated on 10 March (the first invoice would be issued now)
    assert activate(sub, date(2026, 3, 10)) is None
    assert not InvoiceLine.objects.filter(subscription=sub).exists()
    # when: lifted on 15 March
    _unblock(service, date(2026, 3, 15), django_capture_on_commit_callbacks)
    # then: the start fee and the days from the activation, once
    (invoice,) = Invoice.objects.filter(account__customer=sub.customer)
    assert invoice.reason == InvoiceReason.ACTIVATION
    kinds = {line.kind: line.amount for line in invoice.lines.all()}
    assert kinds[LineKind.START_FEE] == sub.start_fee
    assert _days(sub) == dict.fromkeys(_each_day(date(2026, 3, 10), date(2026, 4, 1)), 1)


def test_a_plan_change_while_blocked_credits_but_charges_only_after_the_block(django_capture_on_commit_callbacks):
    # given: billed for March at 399, blocked, then upgraded to 599 on 21 March
    sub = subscription()
    activate(sub, date(2026, 3, 1))
    service = _block(sub, date(2026, 3, 15))
    changes.rate_change_apply(
        subscription_id=sub.pk, at=at(date(2026, 3, 21)), monthly_amount="599.00", product_id=None
    )
    # then: the old rate's days are credited, the new rate's not yet charged
    lines = InvoiceLine.objects.filter(subscription=sub, invoice__reason=InvoiceReason.ADJUSTMENT)
    assert {line.kind for line in lines} == {LineKind.CREDIT}
    # when: lifted
    _unblock(service, date(2026, 3, 25), django_capture_on_commit_callbacks)
    # then: March is billed once, at 399 to the 20th and 599 from the 21st
    assert _days(sub) == dict.fromkeys(_each_day(date(2026, 3, 1), date(2026, 4, 1)), 1)
    charged = InvoiceLine.objects.filter(
        subscription=sub, voided=False, coverage=1, period_start__gte=date(2026, 3, 21)
    )
    assert {line.rate for line in charged} == {Decimal("599.00")}


@pytest.fixture
def finance(django_user_model):
    user = django_user_model.objects.create_user("fin", "fin@example.test", "pw-123456", is_staff=True)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="billing", codename="override_pricing"))
    return django_user_model.objects.get(pk=user.pk)


def test_finance_credits_the_held_days_with_a_reason_code(finance, django_capture_on_commit_callbacks):
    # given: billed for March, blocked from 10 to 20 March
    sub = subscription()
    activate(sub, date(2026, 3, 1))
    _block(sub, date(2026, 3, 10))
    code = ReasonCode.objects.create(code="service-outage", label="Service outage")
    # when: finance releases the hold and credits the held days
    with time_machine.travel(at(date(2026, 3, 20)), tick=False), django_capture_on_commit_callbacks(execute=True):
        changes.billing_hold_release(
            subscription_id=sub.pk, credit_held_days=True, actor=finance, reason_code=code.code, note="ONT swapped"
        )
    # then: 10..19 March are not billed (credited), the rest once
    expected = set(_each_day(date(2026, 3, 1), date(2026, 4, 1))) - set(_each_day(date(2026, 3, 10), date(2026, 3, 20)))
    assert set(_days(sub)) == expected
    pause = BillingSchedule.objects.get(subscription=sub).pauses.get()
    assert (pause.starts_on, pause.ends_on, pause.note) == (
        date(2026, 3, 10),
        date(2026, 3, 20),
        "Service outage: ONT swapped",
    )
    assert ServiceInstance.objects.get(subscription=sub).billing_blocked is False


def test_crediting_held_days_needs_the_override_permission(django_user_model, django_capture_on_commit_callbacks):
    sub = subscription()
    activate(sub, date(2026, 3, 1))
    _block(sub, date(2026, 3, 10))
    ReasonCode.objects.create(code="goodwill", label="Goodwill")
    clerk = django_user_model.objects.create_user("clerk", "c@example.test", "pw-123456", is_staff=True)
    with pytest.raises(OverrideNotPermitted):
        changes.billing_hold_release(subscription_id=sub.pk, credit_held_days=True, actor=clerk, reason_code="goodwill")
    assert ServiceInstance.objects.get(subscription=sub).billing_blocked is True


def test_an_early_end_puts_the_early_termination_fee_on_the_final_invoice():
    sub = subscription(early_termination_fee=Decimal("995.00"), early_termination_charged=True, minimum_months=12)
    activate(sub, date(2026, 3, 1))
    final = changes.billing_stop(subscription_id=sub.pk, deactivated_at=at(date(2026, 5, 10)))
    fees = final.lines.filter(kind=LineKind.FEE)
    assert [(fee.amount, "minimum term" in fee.description) for fee in fees] == [(Decimal("995.00"), True)]


def test_the_contract_sync_flags_a_live_period_that_is_not_billed_and_billing_without_a_live_period(settings):
    settings.LEDGER_CHECK_GRACE_SECONDS = 0
    # given: service 1 is live on the ledger but never billed; subscription 2 is billed with no live period
    unbilled = subscription()
    service = ServiceInstance.objects.get(subscription=unbilled)
    ServiceInstance.objects.filter(pk=service.pk).update(ont=ONTFactory(address=unbilled.address))
    service.refresh_from_db()
    period_open(service, at=timezone.now() - timedelta(days=2), cause="activate", job=None)
    orphan = subscription()
    activate(orphan, date(2026, 3, 1))
    # when: the sync runs twice
    for _ in range(2):
        result = contract_sync()
    # then: one red exception of each kind, found in the run
    found = ContractException.objects.filter(status="open")
    kinds = sorted(found.values_list("kind", flat=True))
    assert kinds == sorted([ExceptionKind.LIVE_UNBILLED, ExceptionKind.BILLED_NOT_LIVE])
    assert set(found.values_list("severity", flat=True)) == {"red"}
    assert result.found[ExceptionKind.LIVE_UNBILLED] == result.found[ExceptionKind.BILLED_NOT_LIVE] == 1
    assert found.get(kind=ExceptionKind.LIVE_UNBILLED).service == service
    assert found.get(kind=ExceptionKind.BILLED_NOT_LIVE).service.subscription == Subscription.objects.get(pk=orphan.pk)


def test_a_fresh_activation_is_given_time_to_be_billed(settings):
    settings.LEDGER_CHECK_GRACE_SECONDS = 900
    sub = subscription()
    service = ServiceInstance.objects.get(subscription=sub)
    ServiceInstance.objects.filter(pk=service.pk).update(ont=ONTFactory(address=sub.address))
    service.refresh_from_db()
    period_open(service, at=timezone.now() - timedelta(seconds=30), cause="activate", job=None)
    contract_sync()
    assert not ContractException.objects.exists()
