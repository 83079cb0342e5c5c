"""Provisioned = paid, checked: every contract-sync run compares the ledger (what the network verifiably
delivered) with billing. A live period whose subscription is not billed, and a billing schedule that runs
without a live period, each become a red contract exception (once, however often the sync runs)."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from billing.models import BillingSchedule
from provisioning.choices import ExceptionKind
from provisioning.models import ServiceInstance, ServicePeriod
from provisioning.sync import SyncResult, contract_exception_record, sync_check


@sync_check
def ledger_against_billing(result: SyncResult) -> None:
    """Flag live periods without a running billing schedule, and running schedules without a live period.

    A period younger than LEDGER_CHECK_GRACE_SECONDS is left alone: its first invoice is on its way.
    """
    grace = timezone.now() - timedelta(seconds=settings.LEDGER_CHECK_GRACE_SECONDS)
    billed = BillingSchedule.objects.filter(subscription_id=OuterRef("subscription_id"), ends_on__isnull=True)
    unbilled = (
        ServicePeriod.objects.filter(ended_at__isnull=True, started_at__lte=grace)
        .annotate(billed=Exists(billed))
        .filter(billed=False)
        .select_related("service", "ont")
    )
    for period in unbilled:
        contract_exception_record(
            ExceptionKind.LIVE_UNBILLED,
            service=period.service,
            ont_serial=period.ont.serial,
            device_service_id=period.network_service_id,
            detail=(
                f"Service {period.service_id} ({period.profile}) is live on {period.ont.serial} since "
                f"{period.started_at:%Y-%m-%d %H:%M} UTC, but subscription {period.subscription_id} is not billed."
            ),
        )
        result.found[ExceptionKind.LIVE_UNBILLED] += 1
    live = ServicePeriod.objects.filter(subscription_id=OuterRef("subscription_id"), ended_at__isnull=True)
    orphaned = (
        BillingSchedule.objects.filter(ends_on__isnull=True, created_at__lte=grace)
        .annotate(live=Exists(live))
        .filter(live=False)
    )
    services = {
        s.subscription_id: s
        for s in ServiceInstance.objects.filter(subscription_id__in=orphaned.values("subscription_id")).select_related(
            "ont"
        )
    }
    for schedule in orphaned:
        service = services.get(schedule.subscription_id)
        contract_exception_record(
            ExceptionKind.BILLED_NOT_LIVE,
            service=service,
            ont_serial=service.ont.serial if service and service.ont else "",
            device_service_id=service.device_service_id if service else f"subscription-{schedule.subscription_id}",
            detail=(
                f"Subscription {schedule.subscription_id} is billed (from {schedule.activated_on}), but no period "
                "of its service is live on the ledger."
            ),
        )
        result.found[ExceptionKind.BILLED_NOT_LIVE] += 1
