"""Provisioning jobs: apply the network contract through the vendor adapter, read it back, and only a
verified match marks the service active (`service.activated` with the device-reported time).

A job is delivered by Celery with acks_late, so it may arrive twice or again after a worker died
mid-job: it runs only from queued or failed, or from running once its lease has expired, and
applying is idempotent on the device (a PUT of the same contract).
"""

from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cos import events
from cos.errors import ApplicationError, Conflict
from cos.fsm import transition_apply
from cos.models import ONT
from marketplace.choices import SubscriptionStatus
from marketplace.models import Participation
from provisioning.adapters import AdapterError, ServiceSpec, adapter_for
from provisioning.choices import JobAction, JobStatus, ServiceStatus
from provisioning.models import ProvisioningJob, ServiceInstance


class JobRefused(Exception):
    """A precondition that no retry can fix (e.g. the ONT is not bound to the service's address)."""


def jobs_for_provisioning_request(*, address_id: int, event=None) -> list[int]:
    """One activation job per pending (or failed) service at the address; enqueued after commit.

    Services of providers that activate their services themselves wait for the provider's API call.
    """
    self_activating = set(
        Participation.objects.filter(activates_services_itself=True).values_list("marketplace_id", "provider_id")
    )
    services = [
        service
        for service in ServiceInstance.objects.filter(
            address_id=address_id, status__in=[ServiceStatus.PENDING, ServiceStatus.FAILED]
        ).select_related("subscription")
        if (service.subscription.marketplace_id, service.provider_id) not in self_activating
    ]
    job_ids = []
    for service in services:
        job, _ = ProvisioningJob.objects.get_or_create(
            service=service, action=JobAction.ACTIVATE, requested_by_event=event
        )
        job_ids.append(job.pk)
    transaction.on_commit(partial(_enqueue, job_ids))
    return job_ids


def _enqueue(job_ids: list[int], countdown: float | None = None) -> None:
    from provisioning.tasks import provisioning_job_run_task

    for job_id in job_ids:
        provisioning_job_run_task.apply_async((job_id,), countdown=countdown)


def service_spec(service: ServiceInstance) -> ServiceSpec:
    return ServiceSpec(
        service_id=f"cos-{service.pk}",
        ont_serial=service.ont.serial,
        profile=service.service_profile,
        download_mbps=service.download_mbps,
        upload_mbps=service.upload_mbps,
        c_vlan=service.c_vlan,
        s_vlan=service.s_vlan,
        qos_class=service.qos_class,
    )


def _claim(job_id: int) -> ProvisioningJob | None:
    """Take the job for this run, or None when it is done or another run holds a live lease."""
    now = timezone.now()
    with transaction.atomic():
        job = ProvisioningJob.objects.select_for_update().select_related("service").filter(pk=job_id).first()
        if job is None or job.status in (JobStatus.SUCCEEDED, JobStatus.DEAD):
            return None
        lease = timedelta(seconds=settings.PROVISIONING_JOB_LEASE_SECONDS)
        if job.status == JobStatus.RUNNING:
            # Delivered again while another run holds the lease: that run finishes it, or, when its
            # worker died, the sweep delivers the job again once the lease is over.
            if job.started_at and job.started_at > now - lease:
                return None
            transition_apply(job, "fail", retry_at=now, reason="the worker running it was lost")
        service = ServiceInstance.objects.select_for_update().get(pk=job.service_id)
        if job.action == JobAction.ACTIVATE:
            _bind_device(service)
            if service.status in (ServiceStatus.PENDING, ServiceStatus.FAILED):
                transition_apply(service, "start_provisioning")
            service.save()
        transition_apply(job, "run", at=now)
        job.save()
        job.service = service
        return job


def _bind_device(service: ServiceInstance) -> None:
    """The ONT bound to the service's address (by the technician) carries the service; none bound, no service."""
    ont = ONT.objects.select_related("pon_port__olt").filter(address_id=service.address_id).order_by("bound_at").last()
    if ont is None:
        raise JobRefused("No ONT is bound to this address: the technician scans its serial at installation.")
    if ont.pon_port is None:
        raise JobRefused(f"ONT {ont.serial} is on no PON port in the inventory.")
    service.ont, service.pon_port, service.olt = ont, ont.pon_port, ont.pon_port.olt
    if service.c_vlan is None:
        service.c_vlan = 100 + service.pk % 3900


def provisioning_job_execute(*, job_id: int) -> ProvisioningJob | None:
    """Run one job once: apply through the adapter, read back, and record the verified outcome."""
    try:
        job = _claim(job_id)
    except JobRefused as refused:
        return _refused(job_id, str(refused))
    if job is None:
        return None
    service = job.service
    adapter = adapter_for(service.olt.vendor)
    spec = service_spec(service)
    try:
        if job.action == JobAction.DEACTIVATE:
            adapter.deactivate(spec)
        elif job.action == JobAction.MODIFY:
            adapter.modify(spec)
        else:
            adapter.activate(spec)
        state = adapter.read_state(spec.ont_serial)
    except AdapterError as error:
        return _failed(job, str(error), transient=error.transient)
    verified = spec.service_id not in state.services if job.action == JobAction.DEACTIVATE else state.matches(spec)
    if not verified:
        return _failed(job, "applied, but the device reads back differently from the contract", transient=True)
    reported = state.services.get(spec.service_id)
    return _succeeded(job, activated_at=reported.activated_at if reported else None)


@transaction.atomic
def _succeeded(job: ProvisioningJob, *, activated_at) -> ProvisioningJob:
    job = ProvisioningJob.objects.select_for_update().get(pk=job.pk)
    service = ServiceInstance.objects.select_for_update().select_related("subscription").get(pk=job.service_id)
    now = timezone.now()
    transition_apply(job, "succeed", at=now)
    job.save()
    ids = {"service_id": service.pk, "subscription_id": service.subscription_id, "provider_id": service.provider_id}
    if job.action == JobAction.ACTIVATE:
        at = activated_at or now
        transition_apply(service, "activate", at=at)
        service.save()
        subscription = service.subscription
        if subscription.status == SubscriptionStatus.PENDING:
            transition_apply(subscription, "activate", at=at, reason="service verified active on the network")
            subscription.save(update_fields=["status", "activated_at", "updated_at"])
        events.publish("service.activated", activated_at=at, address_id=service.address_id, **ids)
    elif job.action == JobAction.DEACTIVATE:
        transition_apply(service, "deactivate", at=now)
        service.save()
        events.publish("service.deactivated", deactivated_at=now, **ids)
    else:
        events.publish("service.modified", modified_at=now, profile=service.service_profile, **ids)
    return job


def _failed(job: ProvisioningJob, reason: str, *, transient: bool) -> ProvisioningJob:
    with transaction.atomic():
        job = ProvisioningJob.objects.select_for_update().get(pk=job.pk)
        service = ServiceInstance.objects.select_for_update().get(pk=job.service_id)
        now = timezone.now()
        if transient and job.attempts < settings.PROVISIONING_MAX_ATTEMPTS:
            delay = min(settings.PROVISIONING_RETRY_BASE_SECONDS * 2 ** (job.attempts - 1), 3600)
            transition_apply(job, "fail", retry_at=now + timedelta(seconds=delay), reason=reason)
            job.save()
            transaction.on_commit(partial(_enqueue, [job.pk], countdown=delay))
            return job
        transition_apply(job, "give_up", at=now, reason=reason)
        job.save()
        if service.status == ServiceStatus.PROVISIONING:
            transition_apply(service, "fail", reason=reason)
            service.save()
    return job


@transaction.atomic
def _refused(job_id: int, reason: str) -> ProvisioningJob | None:
    job = ProvisioningJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.status not in (JobStatus.QUEUED, JobStatus.FAILED):
        return job
    transition_apply(job, "run", at=timezone.now())
    transition_apply(job, "give_up", at=timezone.now(), reason=reason)
    job.save()
    return job


@transaction.atomic
def service_deactivation_request(*, subscription_id: int, event=None) -> ProvisioningJob | None:
    """The subscription ended: turn its live service off (verified like an activation)."""
    service = ServiceInstance.objects.select_for_update().filter(subscription_id=subscription_id).first()
    if service is None:
        return None
    if service.status in (ServiceStatus.PENDING, ServiceStatus.FAILED):
        return None  # never live on the network: nothing to turn off
    if service.status == ServiceStatus.ACTIVE:
        transition_apply(service, "start_deactivation", reason="subscription terminated")
        service.save()
    job, _ = ProvisioningJob.objects.get_or_create(
        service=service, action=JobAction.DEACTIVATE, requested_by_event=event
    )
    transaction.on_commit(partial(_enqueue, [job.pk]))
    return job


@transaction.atomic
def service_modify(
    *, service_id: int, profile: str, download_mbps: int | None, upload_mbps: int | None, actor=None
) -> ProvisioningJob:
    """Change a live service's profile and speeds (e.g. a plan change); applied and verified by a modify job."""
    service = ServiceInstance.objects.select_for_update().get(pk=service_id)
    if service.status != ServiceStatus.ACTIVE:
        raise ApplicationError(
            f"Only an active service can be changed; this one is {service.status}.", code="service_not_active"
        )
    service.service_profile, service.download_mbps, service.upload_mbps = profile, download_mbps, upload_mbps
    service.save(update_fields=["service_profile", "download_mbps", "upload_mbps", "updated_at"])
    job = ProvisioningJob.objects.create(service=service, action=JobAction.MODIFY)
    transaction.on_commit(partial(_enqueue, [job.pk]))
    return job


def service_modify_for_plan(
    *, subscription_id: int, profile: str, download_mbps, upload_mbps
) -> ProvisioningJob | None:
    """The plan changed: a live service gets the new profile; one not live yet is changed before activation."""
    service = ServiceInstance.objects.filter(subscription_id=subscription_id).first()
    if service is None:
        return None
    if (service.service_profile, service.download_mbps, service.upload_mbps) == (profile, download_mbps, upload_mbps):
        return None  # applied already (a second delivery)
    if service.status == ServiceStatus.ACTIVE:
        return service_modify(
            service_id=service.pk, profile=profile, download_mbps=download_mbps, upload_mbps=upload_mbps
        )
    ServiceInstance.objects.filter(pk=service.pk).update(
        service_profile=profile, download_mbps=download_mbps, upload_mbps=upload_mbps
    )
    return None


@transaction.atomic
def service_activate_by_provider(*, service_id: int, provider, actor=None) -> ProvisioningJob:
    """A provider that activates its own services turns one on, once the infrastructure at the address is ready."""
    service = (
        ServiceInstance.objects.select_for_update()
        .select_related("address", "subscription")
        .get(pk=service_id, provider=provider)
    )
    participation = Participation.objects.filter(
        marketplace_id=service.subscription.marketplace_id, provider=provider
    ).first()
    if participation is None or not participation.activates_services_itself:
        raise Conflict(
            "Your services here are activated automatically when the installation is done.",
            code="activated_automatically",
        )
    if service.address.status != "connected":
        raise Conflict(
            "The infrastructure at this address is not ready yet (infrastructure.ready).",
            code="infrastructure_not_ready",
        )
    if service.status not in (ServiceStatus.PENDING, ServiceStatus.FAILED):
        raise Conflict(f"The service is {service.status}.", code="service_not_pending")
    job = ProvisioningJob.objects.create(service=service, action=JobAction.ACTIVATE)
    transaction.on_commit(partial(_enqueue, [job.pk]))
    return job


def provisioning_jobs_sweep(*, now=None, limit: int = 1000) -> int:
    """Enqueue again the jobs whose delivery was lost: still queued after the grace time (the broker was
    down after commit), failed and past their retry time, or running past their lease (the worker died)."""
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.EVENTS_DISPATCH_GRACE_SECONDS)
    lease = now - timedelta(seconds=settings.PROVISIONING_JOB_LEASE_SECONDS)
    due = list(
        ProvisioningJob.objects.filter(
            Q(status=JobStatus.QUEUED, updated_at__lte=grace)
            | Q(status=JobStatus.FAILED, next_attempt_at__lte=grace)
            | Q(status=JobStatus.RUNNING, started_at__lte=lease)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    _enqueue(due)
    return len(due)


@transaction.atomic
def provisioning_job_retry(*, job_id: int, actor=None) -> ProvisioningJob:
    """An operator runs a dead job again after fixing its cause."""
    job = ProvisioningJob.objects.select_for_update().get(pk=job_id)
    transition_apply(job, "requeue", by=actor, reason="retried by operations")
    job.save()
    transaction.on_commit(partial(_enqueue, [job.pk]))
    return job


def service_suspend_for_subscription(*, subscription_id: int) -> ProvisioningJob | None:
    """The subscription is suspended (e.g. for non-payment): its live service moves to the suspended profile
    (a walled garden at minimal speed), applied and verified by a modify job. Once per suspension."""
    service = ServiceInstance.objects.filter(subscription_id=subscription_id).first()
    if service is None or service.status != ServiceStatus.ACTIVE:
        return None
    if service.service_profile == settings.PROVISIONING_SUSPENDED_PROFILE:
        return None  # suspended already (a second delivery)
    return service_modify(
        service_id=service.pk,
        profile=settings.PROVISIONING_SUSPENDED_PROFILE,
        download_mbps=settings.PROVISIONING_SUSPENDED_MBPS,
        upload_mbps=settings.PROVISIONING_SUSPENDED_MBPS,
    )


def service_restore_for_subscription(*, subscription_id: int) -> ProvisioningJob | None:
    """The subscription is resumed: the service gets its plan's profile and speeds back (verified)."""
    service = (
        ServiceInstance.objects.select_related("subscription__product").filter(subscription_id=subscription_id).first()
    )
    if service is None or service.status != ServiceStatus.ACTIVE:
        return None
    if service.service_profile != settings.PROVISIONING_SUSPENDED_PROFILE:
        return None  # restored already
    product = service.subscription.product
    return service_modify(
        service_id=service.pk,
        profile=product.service_profile,
        download_mbps=product.download_mbps,
        upload_mbps=product.upload_mbps,
    )
