"""Simulated months through the real chain: the demo's history (seed_demo with DEMO_HISTORY_SUBSCRIBERS) and the
`simulate` command. One world per test: a simulation runs once on a database."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.utils import timezone

from assurance.metrics import METRICS, Scope, activation_lag
from billing.choices import InvoiceKind, InvoiceReason
from billing.models import GatewayEvent, Invoice, InvoiceLine, Payment, PricingOverride
from cos.models import TransitionLog
from marketplace.choices import SubscriptionStatus
from marketplace.models import Subscription
from provisioning.choices import ExceptionKind, JobAction, JobStatus
from provisioning.jobs import LOST_WORKER
from provisioning.models import ContractException, ProvisioningJob, ServiceInstance
from simulation.engine import months_back
from tests.provisioning.conftest import running_simulator, simulator  # noqa: F401 - fixtures
from wholesale.choices import DisputeStatus, StatementStatus
from wholesale.models import Statement, StatementDispute

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def history(simulator, settings):  # noqa: F811 - pytest-django's settings
    """The demo world with three months of history of 40 subscribers, every fault injected."""
    simulator.state.auto_discover = True  # as make run starts it
    settings.DEMO_HISTORY_SUBSCRIBERS, settings.DEMO_HISTORY_MONTHS = 40, 3
    call_command("seed_demo", addresses=60)
    return simulator


def test_the_demo_has_two_closed_months_of_statements_one_dispute_upheld_one_rejected_and_every_fault(history):
    today = timezone.now().astimezone(ZoneInfo(settings.SITE_TIME_ZONE)).date()
    closed = [months_back(today, 3), months_back(today, 2)]
    # then: each of the three providers has an issued (or paid) statement for each of the two months
    for month in closed:
        statements = Statement.objects.filter(month=month).exclude(status=StatementStatus.DRAFT)
        assert set(statements.values_list("provider__slug", flat=True)) == {"ljusnet", "fiberly", "sveaconnect"}
        assert all(s.number.startswith(f"WS-{month.year}-") for s in statements)
        for statement in statements:
            assert statement.total == sum(line.amount for line in statement.lines.all()) + statement.tax
    # one dispute upheld, credited once on the provider's next statement; one rejected with its reason
    upheld = StatementDispute.objects.get(status=DisputeStatus.UPHELD)
    rejected = StatementDispute.objects.get(status=DisputeStatus.REJECTED)
    assert rejected.statement.provider_id != upheld.statement.provider_id
    (credit,) = upheld.adjustments.all()
    assert credit.statement.provider_id == upheld.statement.provider_id
    assert credit.statement.month > upheld.statement.month
    assert credit.amount == -upheld.upheld_amount
    # the subscribers of the history were billed and paid, some late (a late fee), by card and by transfer
    history_invoices = Invoice.objects.filter(account__customer__email__endswith="@sim.example")
    assert history_invoices.filter(kind=InvoiceKind.INVOICE, status="paid").count() >= 40
    assert history_invoices.filter(reason=InvoiceReason.LATE_FEE).exists()
    methods = set(
        Payment.objects.filter(invoice__in=history_invoices, status="succeeded").values_list("method_type", flat=True)
    )
    assert {"card", "bank_transfer"} <= methods

    # and every injected fault is where the operator looks:
    history_services = ServiceInstance.objects.filter(address__area__code="BJK")
    # failed provisioning: the refused activation died, operations retried it, the service is live
    retried = TransitionLog.objects.filter(
        content_type=ContentType.objects.get_for_model(ProvisioningJob), reason="retried from the console"
    ).values_list("object_id", flat=True)
    (job,) = ProvisioningJob.objects.filter(pk__in=retried, service__in=history_services)
    assert (job.action, job.status, job.service.status) == (JobAction.ACTIVATE, JobStatus.SUCCEEDED, "active")
    # a manual price-match discount, audited with its reason code
    overrides = PricingOverride.objects.filter(invoice__account__customer__email__endswith="@sim.example")
    assert overrides.filter(reason_code__code="price-match").exists()
    # an ONT taken off its address while its service runs: a contract exception, and the service's billing held
    unbound = ContractException.objects.get(kind=ExceptionKind.DEVICE_UNBOUND, service__in=history_services)
    assert unbound.service.billing_blocked
    # a lost deactivation: the subscription ended, the service is still on the device
    lost = ProvisioningJob.objects.get(service__in=history_services, action=JobAction.DEACTIVATE, status=JobStatus.DEAD)
    assert lost.service.subscription.status == SubscriptionStatus.TERMINATED
    devices = requests.get(f"{history.url}/_sim/state", timeout=5).json()["onts"]
    assert devices[lost.service.ont.serial]["services"][lost.service.device_service_id]["enabled"]
    # and the element manager's clock is its own again
    assert history.state.clock is None
    # on the board: every live service unbilled today is explained by an open exception (the unbound ONT's)
    now = timezone.now()
    unbilled = METRICS["active_unbilled"][1](Scope(), now)
    assert unbilled
    assert all("open contract exception" in row.detail for row in unbilled)
    assert any(row.url.endswith(f"/{unbound.service_id}/change/") for row in unbilled)
    # each week's activations were invoiced within a minute (p99), the first invoice issued at activation; but for
    # the one whose worker died mid-job: invoiced when the sweep took its job over, once its lease ran out
    lost_worker = TransitionLog.objects.get(
        content_type=ContentType.objects.get_for_model(ProvisioningJob), reason=LOST_WORKER
    )
    crashed = ProvisioningJob.objects.get(pk=lost_worker.object_id, service__in=history_services)
    lease = (
        settings.PROVISIONING_JOB_LEASE_SECONDS + settings.CELERY_BEAT_SCHEDULE["provisioning-jobs-sweep"]["schedule"]
    )
    for week in range(14):
        at = now - timedelta(weeks=week)
        lag = activation_lag(Scope(), at)
        if at - timedelta(weeks=1) < crashed.service.activated_at <= at:
            assert 60 < lag.extra["p99_seconds"] <= lease + 60
        else:
            assert lag.value is None or lag.extra["p99_seconds"] < 60
    # the manual discount is a pricing-policy exception of its invoice's week, reachable by drill-down
    (override,) = overrides.filter(reason_code__code="price-match")
    week_rows = METRICS["pricing_exceptions"][1](Scope(), override.invoice.finalized_at)
    assert [row.label for row in week_rows] == [override.invoice.number]

    # a worker lost mid-activation: the job was taken over after its lease and verified, the service is live
    assert (crashed.status, crashed.service.status) == (JobStatus.SUCCEEDED, "active")
    # a lost bank webhook: that debit's outcome was found by looking it up; the others came by signed webhook
    looked_up = TransitionLog.objects.get(
        content_type=ContentType.objects.get_for_model(Payment), source="processing", reason__endswith="(status)"
    )
    assert Payment.objects.get(pk=looked_up.object_id).status == "succeeded"
    confirmed = GatewayEvent.objects.filter(type="payment_intent.succeeded", outcome="applied")
    assert confirmed.exists()
    assert not confirmed.filter(payload__data__object__metadata__cos_payment=str(looked_up.object_id)).exists()
    # the lost deactivation: the subscriber is billed nothing after the end; the live service is unbilled, explained
    ended = lost.service.subscription.terminated_at.astimezone(ZoneInfo(settings.SITE_TIME_ZONE)).date()
    billed_after = InvoiceLine.objects.filter(subscription=lost.service.subscription, period_end__gt=ended)
    assert sum(line.coverage for line in billed_after) <= 0
    assert any(row.url.endswith(f"/{lost.service_id}/change/") for row in unbilled)
    # every fault is on the board's faults of its week (the trend's point: the week's Sunday), by drill-down
    live_on = ContractException.objects.get(kind=ExceptionKind.ACTIVE_UNBILLED, service=lost.service)
    died = TransitionLog.objects.get(
        content_type=ContentType.objects.get_for_model(ProvisioningJob), object_id=job.pk, target="dead"
    )
    for moment, label in (
        (died.created_at, f"Provisioning job {job.pk} died"),
        (lost_worker.created_at, f"Provisioning job {crashed.pk} taken over: its worker was lost mid-job"),
        (looked_up.created_at, f"Payment {looked_up.object_id}: the bank's webhook never came"),
        (unbound.created_at, f"Contract exception: {unbound.get_kind_display()}"),
        (live_on.created_at, f"Contract exception: {live_on.get_kind_display()}"),
        *(
            (d.created_at, f"{d.statement.provider} disputed {d.amount} on {d.statement.number}")
            for d in (upheld, rejected)
        ),
    ):
        point = _week_point(moment)
        assert label in [row.label for row in METRICS["faults"][1](Scope(), point)], (label, point)


def _week_point(moment):
    """The trend's point whose week holds `moment`: the end of the local Sunday on or after it (or now)."""
    zone = ZoneInfo(settings.SITE_TIME_ZONE)
    day = moment.astimezone(zone).date()
    sunday = day + timedelta(days=(6 - day.weekday()))
    return min(datetime.combine(sunday, time.max, tzinfo=zone), timezone.now())


def test_a_database_is_simulated_once_and_bad_options_exit_non_zero():
    # without the demo world there is nothing to simulate on
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("simulate", subscribers=5, months=1)
    with pytest.raises(CommandError, match="unknown fault"):
        call_command("simulate", subscribers=5, months=1, faults="meteor-strike")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("simulate", subscribers=0, months=1)
    assert not Subscription.objects.exists()


def test_a_second_simulation_of_a_database_is_refused(simulator):  # noqa: F811
    from simulation import world

    call_command("seed_demo", addresses=10)
    world.area_build(10)
    with pytest.raises(CommandError, match="simulated already"):
        call_command("simulate", subscribers=5, months=1)
