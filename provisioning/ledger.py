"""The service-period ledger: what the network verifiably delivered, for whom, from when to when.

Rows are written only here, in the transaction that records a verified network outcome (provisioning.jobs):
`period_open` after a verified activate / resume / modify / suspend / switch, `period_close` at the next verified
change or the deactivation. A period is closed once and never changed otherwise (the database refuses it too).
"""

from provisioning.models import ProvisioningJob, ServiceInstance, ServicePeriod


def period_open(service: ServiceInstance, *, at, cause: str, job: ProvisioningJob | None) -> ServicePeriod:
    """Open the period of the service's verified values from `at` (caller holds the service's lock)."""
    return ServicePeriod.objects.create(
        service=service,
        subscription_id=service.subscription_id,
        provider_id=service.provider_id,
        address_id=service.address_id,
        ont_id=service.ont_id,
        olt_id=service.olt_id,
        pon_port_id=service.pon_port_id,
        network_service_id=service.device_service_id,
        profile=service.service_profile,
        download_mbps=service.download_mbps,
        upload_mbps=service.upload_mbps,
        c_vlan=service.c_vlan,
        s_vlan=service.s_vlan,
        started_at=at,
        cause=cause,
        job=job,
    )


def period_close(service: ServiceInstance, *, at, cause: str, job: ProvisioningJob | None) -> int:
    """Close the service's open period at `at` (never before it started); 0 when none is open."""
    period = ServicePeriod.objects.filter(service=service, ended_at__isnull=True).first()
    if period is None:
        return 0
    return ServicePeriod.objects.filter(pk=period.pk, ended_at__isnull=True).update(
        ended_at=max(at, period.started_at), end_cause=cause, end_job=job
    )


def period_change(service: ServiceInstance, *, at, cause: str, job: ProvisioningJob | None) -> ServicePeriod:
    """A verified change in place: the running period ends and the new values' period starts at the same instant."""
    period_close(service, at=at, cause=cause, job=job)
    return period_open(service, at=at, cause=cause, job=job)
