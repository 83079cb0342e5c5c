"""A simulated month of COS_SIM_SUBSCRIBERS subscribers (1,000 by default: the suite's size of a 10,000-subscriber
month) with every fault injected, through the `simulate` command on the demo world: nothing live is unbilled
without an open exception explaining it, each week's activations are invoiced within a minute (p99), and every
fault is on the board, reachable by drill-down from the week it happened in.

The clock is pinned to the evening of the 5th of a month, so the month before is whole and this month's statements
are issued (the 2nd) and disputed (the 4th) whatever the day the suite runs."""

import io
import os
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.utils import timezone

from assurance.metrics import METRICS, Scope, activation_lag
from billing.models import Payment, PricingOverride
from cos.models import TransitionLog
from provisioning.choices import ExceptionKind, JobAction
from provisioning.jobs import LOST_WORKER
from provisioning.models import ContractException, ProvisioningJob, ServiceInstance
from tests.provisioning.conftest import running_simulator, simulator  # noqa: F401 - fixtures
from wholesale.models import StatementDispute

pytestmark = pytest.mark.django_db(transaction=True)

SUBSCRIBERS = int(os.environ.get("COS_SIM_SUBSCRIBERS", "1000"))
ZONE = ZoneInfo(settings.SITE_TIME_ZONE)
PINNED = datetime(2026, 11, 5, 20, 0, tzinfo=ZONE)


def _logs(model, **fields):
    return TransitionLog.objects.filter(content_type=ContentType.objects.get_for_model(model), **fields)


def _week_point(moment, now):
    """The trend's point whose week holds `moment`: the end of the local Sunday on or after it (or now)."""
    day = moment.astimezone(ZONE).date()
    return min(datetime.combine(day + timedelta(days=6 - day.weekday()), time.max, tzinfo=ZONE), now)


def test_a_month_of_subscribers_with_every_fault_is_billed_and_every_fault_is_on_the_board(simulator):  # noqa: F811
    simulator.state.auto_discover = True  # as make run starts it
    out = io.StringIO()
    with time_machine.travel(PINNED, tick=True):
        call_command("seed_demo", addresses=60, stdout=io.StringIO())
        call_command("simulate", subscribers=SUBSCRIBERS, months=1, stdout=out)
        now = timezone.now()
        printed = out.getvalue()
        services = ServiceInstance.objects.filter(address__area__code="BJK")
        # then: the run ordered for every subscriber and printed the board
        assert f"orders placed                        {SUBSCRIBERS}" in printed
        assert "The board (/ops/board/), the week ending now:" in printed
        assert services.filter(status="active").count() > SUBSCRIBERS // 2

        # nothing live is unbilled unless an open contract exception explains it
        unbilled = METRICS["active_unbilled"][1](Scope(), now)
        assert unbilled
        assert all("open contract exception" in row.detail for row in unbilled)

        # each week's activations are invoiced within a minute (p99: one outlier in a hundred, the activation
        # whose worker died, waits for its lease; in a smaller week it is the maximum)
        (crash,) = _logs(ProvisioningJob, reason=LOST_WORKER)
        crashed = ProvisioningJob.objects.get(pk=crash.object_id, service__in=services)
        lease = settings.PROVISIONING_JOB_LEASE_SECONDS + 60
        weeks = 0
        for back in range(6):
            at = now - timedelta(weeks=back)
            lag = activation_lag(Scope(), at)
            if lag.value is None:
                continue
            weeks += 1
            small_week_of_the_crash = lag.denominator < 100 and at - timedelta(weeks=1) < crashed.created_at <= at
            assert lag.extra["p99_seconds"] < (lease if small_week_of_the_crash else 60), (at, lag.extra)
        assert weeks >= 4

        # every fault, on the board's faults of its week
        faults = {
            "failed-provisioning": (
                _logs(
                    ProvisioningJob,
                    target="dead",
                    object_id__in=ProvisioningJob.objects.filter(
                        service__in=services, action=JobAction.ACTIVATE
                    ).values("pk"),
                ).earliest("created_at"),
                lambda log: f"Provisioning job {log.object_id} died",
            ),
            "worker-crash": (
                crash,
                lambda log: f"Provisioning job {log.object_id} taken over: its worker was lost mid-job",
            ),
            "lost-webhook": (
                _logs(Payment, source="processing", reason__endswith="(status)").get(),
                lambda log: f"Payment {log.object_id}: the bank's webhook never came",
            ),
            "device-unbound": (
                ContractException.objects.get(kind=ExceptionKind.DEVICE_UNBOUND, service__in=services),
                lambda e: f"Contract exception: {e.get_kind_display()}",
            ),
            "lost-deactivation": (
                ContractException.objects.get(kind=ExceptionKind.ACTIVE_UNBILLED, service__in=services),
                lambda e: f"Contract exception: {e.get_kind_display()}",
            ),
        }
        disputes = list(StatementDispute.objects.select_related("statement__provider").order_by("pk"))
        assert len(disputes) == 2
        for dispute in disputes:
            faults[f"disputed-line {dispute.pk}"] = (
                dispute,
                lambda d: f"{d.statement.provider} disputed {d.amount} on {d.statement.number}",
            )
        for name, (record, label_of) in faults.items():
            rows = METRICS["faults"][1](Scope(), _week_point(record.created_at, now))
            assert label_of(record) in [row.label for row in rows], name
        # the manual price: a pricing-policy exception of its invoice's week
        (override,) = PricingOverride.objects.filter(reason_code__code="price-match")
        rows = METRICS["pricing_exceptions"][1](Scope(), _week_point(override.invoice.finalized_at, now))
        assert override.invoice.number in [row.label for row in rows]
        print(printed)  # the figures, with -s
