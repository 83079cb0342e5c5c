"""Contract synchronization: compare what is sold with what the network delivers, and queue the differences.

Every service on an ONT is read back through its vendor's adapter. Findings become ContractExceptions,
one open row per (kind, ONT, device service): a re-run refreshes `last_seen_at` instead of duplicating.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cos.fsm import transition_apply
from cos.models import ONT
from marketplace.choices import IN_SERVICE_STATUSES, SubscriptionStatus
from provisioning.adapters import AdapterError, adapter_for
from provisioning.choices import SEVERITY, ExceptionKind, ExceptionStatus, ResolutionCode, ServiceStatus
from provisioning.jobs import service_spec
from provisioning.models import ContractException, ServiceInstance
from provisioning.requests import service_billing_block

BILLABLE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.AWAITING_CANCELLATION)
LIVE_ON_PAPER = IN_SERVICE_STATUSES


@dataclass
class SyncResult:
    onts_read: int = 0
    unreachable: list[str] = field(default_factory=list)
    found: dict[str, int] = field(default_factory=lambda: defaultdict(int))


# Checks that higher apps add to each run (e.g. billing compares its schedules with the ledger): `fn(result)`.
_checks: list[Callable[[SyncResult], None]] = []


def sync_check(fn: Callable[[SyncResult], None]) -> Callable[[SyncResult], None]:
    """Register a check the contract sync runs after reading the network (from a higher app's handlers module)."""
    if fn not in _checks:
        _checks.append(fn)
    return fn


def contract_sync() -> SyncResult:
    """Read every bound ONT that carries (or should carry) a service and record each difference found; then run
    the registered checks (the ledger against billing), so one run flags every gap it can see."""
    result = SyncResult()
    _network_read(result)
    for check in _checks:
        check(result)
    return result


def _network_read(result: SyncResult) -> None:
    services = defaultdict(list)
    for service in (
        ServiceInstance.objects.filter(ont__isnull=False)
        .exclude(status__in=[ServiceStatus.INACTIVE, ServiceStatus.CANCELLED])
        .select_related("ont", "subscription", "olt")
    ):
        services[service.ont.serial].append(service)
    onts = ONT.objects.filter(pon_port__isnull=False, address__isnull=False).select_related("pon_port__olt")
    serials = {ont.serial: ont for ont in onts} | {s.ont.serial: s.ont for group in services.values() for s in group}
    for serial, ont in sorted(serials.items()):
        olt = ont.pon_port.olt if ont.pon_port_id else None
        if olt is None:
            continue
        try:
            state = adapter_for(olt.vendor).read_state(serial)
        except AdapterError:
            result.unreachable.append(serial)
            continue
        result.onts_read += 1
        for kind, service, device_service_id, detail in _differences(ont, state, services.get(serial, [])):
            contract_exception_record(
                kind, service=service, ont_serial=serial, device_service_id=device_service_id, detail=detail
            )
            result.found[kind] += 1


def _differences(ont, state, services):
    known = {service.device_service_id for service in services}
    for service in services:
        device_id = service.device_service_id
        on_device = state.services.get(device_id)
        live = on_device is not None and on_device.enabled
        if ont.address_id != service.address_id:
            yield (
                ExceptionKind.DEVICE_UNBOUND,
                service,
                device_id,
                (f"ONT {ont.serial} is bound to another address than service {service.pk}."),
            )
        if live and service.subscription.status not in LIVE_ON_PAPER:
            yield (
                ExceptionKind.ACTIVE_UNBILLED,
                service,
                device_id,
                (f"Live on {ont.serial}, but the subscription is {service.subscription.status}."),
            )
        if not live and service.subscription.status in BILLABLE:
            yield (
                ExceptionKind.BILLED_INACTIVE,
                service,
                device_id,
                (f"The subscription is active, but {ont.serial} does not deliver service {service.pk}."),
            )
        if live and not state.matches(service_spec(service)):
            yield (
                ExceptionKind.PROFILE_MISMATCH,
                service,
                device_id,
                (
                    f"{ont.serial} delivers {on_device.profile} {on_device.download_mbps}/{on_device.upload_mbps} "
                    f"VLAN {on_device.c_vlan}; the contract says {service.service_profile} "
                    f"{service.download_mbps}/{service.upload_mbps} VLAN {service.c_vlan}."
                ),
            )
    for device_id, on_device in state.services.items():
        if device_id not in known and on_device.enabled:
            yield (
                ExceptionKind.ACTIVATION_WITHOUT_ORDER,
                None,
                device_id,
                (f"{ont.serial} delivers {device_id} ({on_device.profile}), which no order asked for."),
            )


@transaction.atomic
def contract_exception_record(
    kind: str, *, service, ont_serial: str = "", device_service_id: str = "", detail: str
) -> ContractException:
    """Open an exception of this kind, or refresh the open one (a re-run never duplicates it). An unbound device
    also blocks billing of the service."""
    now = timezone.now()
    if kind == ExceptionKind.DEVICE_UNBOUND and service is not None and not service.billing_blocked:
        service_billing_block(service_id=service.pk, reason=detail)
    existing = (
        ContractException.objects.select_for_update()
        .filter(kind=kind, ont_serial=ont_serial, device_service_id=device_service_id, status=ExceptionStatus.OPEN)
        .first()
    )
    if existing is not None:
        existing.last_seen_at, existing.detail = now, detail
        existing.save(update_fields=["last_seen_at", "detail", "updated_at"])
        return existing
    return ContractException.objects.create(
        kind=kind,
        severity=SEVERITY[kind],
        service=service,
        ont_serial=ont_serial,
        device_service_id=device_service_id,
        detail=detail,
        last_seen_at=now,
    )


@transaction.atomic
def contract_exception_resolve(*, exception_id: int, code: str, actor=None, note: str = "") -> ContractException:
    """Close an exception with a reason code (audited in the transition log)."""
    if code not in ResolutionCode.values:
        raise ValidationError({"code": f"One of: {', '.join(ResolutionCode.values)}."})
    exception = ContractException.objects.select_for_update().get(pk=exception_id)
    transition_apply(exception, "resolve", by=actor, reason=note.strip() or ResolutionCode(code).label, code=code)
    exception.save(update_fields=["status", "resolution_code", "updated_at"])
    return exception
