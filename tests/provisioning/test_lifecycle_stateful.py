"""Random lives of one address, over the real services on PostgreSQL with the element-manager simulator.

A subscriber orders from provider A or B (a second provider's order is a switch), services are activated (with
vendor faults injected), suspended, resumed, upgraded, downgraded, switched, aborted, terminated, ordered again,
blocked and unblocked, while days and month ends pass with the daily jobs (due notices, switches and downgrades,
the billing run). After every step:

- every day a service was live on the ledger is billed exactly once, to the provider whose service it was, net of
  credits (days credited by an operator excepted); no day is billed without a live period; while billing of a
  service is blocked nothing new is charged and nothing held is billed;
- a switch bills no day to both providers, and the hand-over day to the new one;
- the ledger never overlaps on the ONT, per service on it (a service id taken over by a switch included);
- every order is open, or completed with every line live or ended, or cancelled/rejected for a reason.
"""

import os
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine
from django.db import transaction
from django.test import TestCase
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from billing.models import InvoiceLine
from billing.runs import billing_run
from billing.selectors import billed_lines
from billing.services import invoices_finalize_due
from cos.errors import ApplicationError
from marketplace import services as marketplace_services
from marketplace.choices import (
    ENDED_SUBSCRIPTION_STATUSES,
    OPEN_ORDER_STATUSES,
    OrderStatus,
    SubscriptionStatus,
    SwitchStatus,
)
from marketplace.errors import OrderInvalid
from marketplace.models import Order, Subscription, Switch
from marketplace.validation import LineRequest
from provisioning.choices import JobStatus, PeriodCause, ServiceStatus
from provisioning.jobs import provisioning_job_retry
from provisioning.models import ProvisioningJob, ServiceInstance, ServicePeriod
from provisioning.requests import service_billing_block, service_billing_unblock
from tests.cos.factories import OLTFactory, ONTFactory, PonPortFactory
from tests.marketplace.factories import ContractTermFactory, ParticipationFactory, PriceFactory, ProductFactory, world

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

STOCKHOLM = ZoneInfo("Europe/Stockholm")
START = datetime(2027, 1, 20, 10, 0, tzinfo=STOCKHOLM)
EXAMPLES = int(os.environ.get("COS_STATEFUL_EXAMPLES", "200"))
RECURRING_KINDS = ("recurring", "prorated", "credit")


def _local(moment) -> date:
    return moment.astimezone(STOCKHOLM).date()


def _days(start: date, end: date) -> set[date]:
    return {start + timedelta(days=n) for n in range((end - start).days)}


class AddressLives(RuleBasedStateMachine):
    simulator = None  # set by the test

    def __init__(self):
        super().__init__()
        self._clock = time_machine.travel(START, tick=True)
        self.clock = self._clock.start()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        requests.post(f"{self.simulator.url}/_sim/reset", timeout=5)
        self.w = world()
        a_term = ContractTermFactory(provider=self.w.provider, minimum_months=0, notice_days=0)
        self.products = {"A": [], "B": []}
        for name, amount in (("A fast", "499.00"), ("A slow", "299.00")):
            self.products["A"].append(self._product(self.w.provider, name, amount, a_term))
        self.b = ParticipationFactory(marketplace=self.w.marketplace).provider
        b_term = ContractTermFactory(provider=self.b, minimum_months=0, notice_days=5)
        for name, amount in (("B fast", "449.00"), ("B slow", "249.00")):
            self.products["B"].append(self._product(self.b, name, amount, b_term))
        self.providers = {"A": self.w.provider, "B": self.b}
        self.ont = ONTFactory(
            serial=f"ALCL{self.w.address.pk % 0xFFFFFFFF:08X}",
            vendor="nokia",
            pon_port=PonPortFactory(olt=OLTFactory(vendor="nokia")),
            address=self.w.address,
            bound_at=START,
        )
        requests.post(f"{self.simulator.url}/_sim/onts", json={"serial": self.ont.serial}, timeout=5)
        self.credited: dict[int, list[tuple[date, date]]] = {}  # subscription -> days an operator credited
        self.blocked_from: dict[int, date] = {}  # subscription -> first day of the running block
        self.lines_seen = 0

    def _product(self, provider, name, amount, term):
        product = ProductFactory(
            provider=provider,
            name=name,
            term=term,
            download_mbps=int(float(amount)),
            upload_mbps=int(float(amount)),
            service_profile=f"P_{name.replace(' ', '_')}",
        )
        PriceFactory(product=product, marketplace=self.w.marketplace, monthly_amount=Decimal(amount), start_fee=0)
        return product

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)
        self._clock.stop()

    # --- helpers ----------------------------------------------------------------------------------------------

    def _run(self, action):
        """One user action with what its commit would trigger; refusals are part of life."""
        before = InvoiceLine.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        blocked = set(self.blocked_from)
        try:
            with TestCase.captureOnCommitCallbacks(execute=True):
                action()
        except (ApplicationError, OrderInvalid):
            pass
        # nothing new is charged for a service whose billing stayed blocked through the step
        still = blocked & set(self.blocked_from)
        charged = InvoiceLine.objects.filter(pk__gt=before, subscription_id__in=still, coverage__gt=0)
        assert not charged.exists(), "a blocked service was charged"

    def _current(self):
        """The address's internet subscription in service (or pending), newest first."""
        return (
            Subscription.objects.filter(address=self.w.address)
            .exclude(status__in=ENDED_SUBSCRIPTION_STATUSES)
            .order_by("-pk")
            .first()
        )

    def _in_service(self, status=SubscriptionStatus.ACTIVE):
        subscription = self._current()
        return subscription if subscription and subscription.status == status else None

    # --- rules --------------------------------------------------------------------------------------------------

    @initialize(side=st.sampled_from(["A", "B"]), fast=st.booleans(), faulty=st.booleans())
    def first_order(self, side, fast, faulty):
        """Most lives start with an order (possibly met by a vendor fault)."""
        if faulty:
            self.vendor_fault("reject")
        self.order(side, fast)

    @rule(side=st.sampled_from(["A", "B"]), fast=st.booleans())
    def order(self, side, fast):
        """Order internet from A or B: a first order, a re-order after a termination, or a switch."""
        product = self.products[side][0 if fast else 1]
        price = product.prices.get()
        request = self.w.request(
            provider_id=self.providers[side].pk,
            lines=[LineRequest(product.pk, price.monthly_amount, price.currency)],
            install_date=None,
        )
        self._run(lambda: marketplace_services.order_place(request=request))

    @rule(kind=st.sampled_from(["error_5xx", "reject"]))
    def vendor_fault(self, kind):
        """The element manager fails the next call on this ONT: once (retried), or by rejecting it (the job dies)."""
        requests.post(
            f"{self.simulator.url}/_sim/faults", json={"kind": kind, "serial": self.ont.serial, "times": 1}, timeout=5
        )

    @rule()
    def operations_retry_dead_jobs(self):
        requests.delete(f"{self.simulator.url}/_sim/faults", timeout=5)
        for job in ProvisioningJob.objects.filter(status=JobStatus.DEAD).order_by("pk"):
            self._run(lambda job=job: provisioning_job_retry(job_id=job.pk))

    @rule()
    def suspend(self):
        subscription = self._in_service()
        if subscription:
            self._run(lambda: marketplace_services.subscription_suspend(subscription_id=subscription.pk, reason="x"))

    @rule()
    def resume(self):
        subscription = self._in_service(SubscriptionStatus.SUSPENDED)
        if subscription:
            self._run(lambda: marketplace_services.subscription_resume(subscription_id=subscription.pk, reason="x"))

    @rule(faster=st.booleans())
    def change_plan(self, faster):
        subscription = self._in_service()
        if subscription:
            side = "A" if subscription.provider == self.w.provider else "B"
            product = self.products[side][0 if faster else 1]
            self._run(
                lambda: marketplace_services.subscription_change_request(
                    subscription_id=subscription.pk, product_id=product.pk
                )
            )

    @rule(waive=st.booleans())
    def terminate(self, waive):
        subscription = self._in_service()
        if subscription:
            self._run(
                lambda: marketplace_services.subscription_terminate(
                    subscription_id=subscription.pk, reason="moved", waive_notice=waive
                )
            )

    @rule()
    def withdraw_notice(self):
        subscription = self._in_service(SubscriptionStatus.AWAITING_CANCELLATION)
        if subscription:
            self._run(lambda: marketplace_services.subscription_notice_withdraw(subscription_id=subscription.pk))

    @rule()
    def abort_switch(self):
        switch = Switch.objects.filter(status__in=[SwitchStatus.PENDING, SwitchStatus.SCHEDULED]).first()
        if switch:
            self._run(lambda: marketplace_services.switch_abort(switch_id=switch.pk, reason="stays"))

    @rule()
    def cancel_open_order(self):
        order = Order.objects.filter(status__in=OPEN_ORDER_STATUSES).order_by("pk").first()
        if order:
            self._run(lambda: marketplace_services.order_cancel(order_id=order.pk, reason="changed my mind"))

    @rule()
    def block_billing(self):
        service = (
            ServiceInstance.objects.filter(address=self.w.address, billing_blocked=False)
            .exclude(status__in=[ServiceStatus.CANCELLED, ServiceStatus.INACTIVE])
            .order_by("-pk")
            .first()
        )
        if service:
            self._run(lambda: service_billing_block(service_id=service.pk, reason="ONT unbound"))
            self.blocked_from[service.subscription_id] = _local(datetime.now(STOCKHOLM))

    @rule(bill=st.booleans())
    def unblock_billing(self, bill):
        service = ServiceInstance.objects.filter(address=self.w.address, billing_blocked=True).order_by("pk").first()
        if service:
            started = self.blocked_from.pop(service.subscription_id)
            self._run(lambda: service_billing_unblock(service_id=service.pk, bill_held_days=bill, reason="decided"))
            if not bill:
                self.credited.setdefault(service.subscription_id, []).append((started, _local(datetime.now(STOCKHOLM))))

    @rule(days=st.sampled_from([1, 2, 7, 16, 31]))
    def days_pass(self, days):
        """Time passes; the daily jobs run: due switches, notices and downgrades, then the billing run."""
        self.clock.shift(timedelta(days=days))
        today = _local(datetime.now(STOCKHOLM))
        self._run(marketplace_services.switches_due)
        self._run(marketplace_services.subscription_terminations_due)
        self._run(marketplace_services.subscription_changes_due)
        self._run(lambda: billing_run(as_of=today, dispatch=self._chunk))
        self._run(invoices_finalize_due)

    def _chunk(self, run_id, account_ids, as_of):
        from billing.runs import billing_chunk

        billing_chunk(run_id=run_id, account_ids=account_ids, as_of=as_of)

    # --- invariants ---------------------------------------------------------------------------------------------

    def _expected_days(self, subscription, today) -> set[date]:
        live = set()
        for period in ServicePeriod.objects.filter(subscription=subscription):
            if period.cause == PeriodCause.SUSPEND:
                continue
            end = _local(period.ended_at) if period.ended_at else today + timedelta(days=1)
            live |= _days(_local(period.started_at), end)
        for start, end in self.credited.get(subscription.pk, []):
            live -= _days(start, end)
        return live

    @invariant()
    def every_live_day_is_billed_once_to_its_provider_and_no_other_day_is(self):
        today = _local(datetime.now(STOCKHOLM))
        billed_days: dict[int, dict[date, int]] = {}
        expected_days: dict[int, set[date]] = {}
        for subscription in Subscription.objects.filter(address=self.w.address):
            coverage: dict[date, int] = {}
            for line in billed_lines(subscription.pk):
                if line.kind in RECURRING_KINDS and line.coverage:
                    for day in _days(line.period_start, line.period_end + timedelta(days=1)):
                        coverage[day] = coverage.get(day, 0) + line.coverage
            expected = self._expected_days(subscription, today)
            expected_days[subscription.pk] = expected
            held_from = self.blocked_from.get(subscription.pk)
            for day in set(coverage) | expected:
                billed, due = coverage.get(day, 0), 1 if day in expected else 0
                if day <= today:
                    if held_from is not None and day >= held_from:
                        assert billed <= due, f"{subscription}: {day} billed {billed} while held, due {due}"
                    else:
                        assert billed == due, f"{subscription}: {day} billed {billed}, live {due}"
                    billed_days.setdefault(subscription.pk, {})[day] = billed
                else:
                    assert billed in (0, 1), f"{subscription}: future {day} billed {billed}"
                    open_period = ServicePeriod.objects.filter(subscription=subscription, ended_at__isnull=True).first()
                    if open_period is None or open_period.cause == PeriodCause.SUSPEND:
                        assert billed == 0, f"{subscription}: {day} billed ahead although not live"
            issuers = set(
                InvoiceLine.objects.filter(subscription=subscription).values_list("invoice__issuer_id", flat=True)
            )
            assert issuers <= {subscription.provider_id}
            providers = set(ServicePeriod.objects.filter(subscription=subscription).values_list("provider", flat=True))
            assert providers <= {subscription.provider_id}
        for switch in Switch.objects.filter(status=SwitchStatus.COMPLETED):
            old, new = billed_days.get(switch.from_subscription_id, {}), billed_days.get(switch.to_subscription_id, {})
            assert not {d for d, n in old.items() if n} & {d for d, n in new.items() if n}, "a day billed to both"
            handover = _local(switch.completed_at)
            assert not old.get(handover), "the old provider billed the hand-over day"
            held_from = self.blocked_from.get(switch.to_subscription_id)
            live_then = handover in expected_days.get(switch.to_subscription_id, ())  # not ended the same day
            if live_then and (held_from is None or handover < held_from):  # a held one bills when released
                assert new.get(handover) == 1, "the hand-over day is not the new provider's"

    @invariant()
    def the_ledger_never_overlaps_on_the_ont(self):
        service_ids = set(ServicePeriod.objects.filter(ont=self.ont).values_list("network_service_id", flat=True))
        for service_id in service_ids:
            self._no_overlap(ServicePeriod.objects.filter(ont=self.ont, network_service_id=service_id))

    def _no_overlap(self, periods):
        periods = list(periods.order_by("started_at", "pk"))
        assert sum(1 for p in periods if p.ended_at is None) <= 1
        for earlier, later in zip(periods, periods[1:], strict=False):
            assert earlier.ended_at is not None
            assert earlier.ended_at <= later.started_at

    @invariant()
    def every_order_is_open_or_ended_for_a_reason(self):
        for order in Order.objects.all():
            statuses = set(Subscription.objects.filter(order_line__order=order).values_list("status", flat=True))
            if order.status == OrderStatus.COMPLETED:
                assert statuses
                assert SubscriptionStatus.PENDING not in statuses
            elif order.status == OrderStatus.CANCELLED:
                assert order.cancellation_reason
                assert statuses <= {SubscriptionStatus.CANCELLED}
            elif order.status == OrderStatus.REJECTED:
                assert order.rejection_reason
            else:
                assert order.status in OPEN_ORDER_STATUSES
                assert not statuses or SubscriptionStatus.PENDING in statuses, f"{order} should have completed"


def test_random_lives_of_an_address_bill_every_live_day_once(simulator):
    AddressLives.simulator = simulator
    run_state_machine_as_test(
        AddressLives,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
            print_blob=True,
        ),
    )
