"""Provisioning jobs: apply the network contract through the vendor adapter, read it back, and only a
verified match changes anything: the service's state, the ledger (provisioning.ledger), the subscription
(through marketplace's services) and the events billing follows (`service.activated`, `.modified`,
`.suspended`, `.resumed`, `.deactivated`, each with the verified instant).

A job is delivered by Celery with acks_late, so it may arrive twice or again after a worker died
mid-job: it runs only from queued or failed, or from running once its lease has expired, and
applying is idempotent on the device (a PUT of the same contract).

A transient failure is tried again after a backoff: by a delayed Celery delivery with a broker, by the sweep
(provisioning_jobs_sweep) without one, so that no retry ever runs inside the request that asked for the job.
"""

from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cos import events, inventory
from cos.celery import app as celery_app
from cos.fsm import transition_apply
from cos.models import OLT, ONT
from marketplace import services as marketplace_services
from marketplace.choices import ChangeStatus, SubscriptionStatus, SwitchStatus
from provisioning.adapters import AdapterError, ServiceSpec, adapter_for
from provisioning.choices import VLAN_HOLDING, JobAction, JobStatus, PeriodCause, ServiceStatus
from provisioning.ledger import period_change, period_close, period_open
from provisioning.models import ProvisioningJob, ServiceInstance


class JobRefused(Exception):
    """A precondition that no retry can fix (e.g. the ONT is not bound to the service's address)."""


LOST_WORKER = "the worker running it was lost"  # the reason logged when a job is taken over after its lease


def enqueue(job_ids: list[int], countdown: float | None = None) -> None:
    """Hand jobs to Celery (after commit: callers use transaction.on_commit)."""
    from provisioning.tasks import provisioning_job_run_task

    for job_id in job_ids:
        provisioning_job_run_task.apply_async((job_id,), countdown=countdown)


def enqueue_after_commit(job_ids: list[int]) -> None:
    if job_ids:
        transaction.on_commit(partial(enqueue, list(job_ids)))


def service_spec(service: ServiceInstance) -> ServiceSpec:
    return ServiceSpec(
        service_id=service.device_service_id,
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
        job = (
            ProvisioningJob.objects.select_for_update(of=("self",)).select_related("service").filter(pk=job_id).first()
        )
        if job is None or job.status in (JobStatus.SUCCEEDED, JobStatus.DEAD):
            return None
        lease = timedelta(seconds=settings.PROVISIONING_JOB_LEASE_SECONDS)
        if job.status == JobStatus.RUNNING:
            # Delivered again while another run holds the lease: that run finishes it, or, when its
            # worker died, the sweep delivers the job again once the lease is over.
            if job.started_at and job.started_at > now - lease:
                return None
            transition_apply(job, "fail", retry_at=now, reason=LOST_WORKER)
        service = (
            ServiceInstance.objects.select_for_update(of=("self",))
            .select_related("subscription")
            .get(pk=job.service_id)
        )
        if job.action == JobAction.ACTIVATE:
            if service.subscription.status == SubscriptionStatus.CANCELLED:
                raise JobRefused("The order was cancelled before the service went live.")
            _bind_device(service)
            if service.status in (ServiceStatus.PENDING, ServiceStatus.FAILED):
                transition_apply(service, "start_provisioning")
            service.save()
        elif job.action == JobAction.SWITCH:
            if job.switch.status != SwitchStatus.HANDING_OVER:
                raise JobRefused(f"The switch is {job.switch.status}: there is nothing to hand over.")
            _take_over_device(service, job.from_service_id)
            if service.status in (ServiceStatus.PENDING, ServiceStatus.FAILED):
                transition_apply(service, "start_provisioning", reason="switch from another provider")
            service.save()
        elif job.action == JobAction.DEACTIVATE:
            if service.status != ServiceStatus.DEACTIVATING:
                raise JobRefused(f"The service is {service.status}: there is nothing to turn off.")
        else:
            _still_wanted(job, service)
            # The job applies what it was made for, whatever another job asked for since (a late retry).
            service.service_profile, service.download_mbps, service.upload_mbps = (
                job.profile or service.service_profile,
                job.download_mbps,
                job.upload_mbps,
            )
            service.save()
        transition_apply(job, "run", at=now)
        job.save()
        job.service = service
        return job


def _still_wanted(job: ProvisioningJob, service: ServiceInstance) -> None:
    """A change in place is applied only while it is still what the subscription wants: a suspension while it is
    suspended, a resumption while it is not, a plan change while it is sent and not applied."""
    if service.status != ServiceStatus.ACTIVE:
        raise JobRefused(f"The service is {service.status}: it is not changed in place.")
    suspended = service.subscription.status == SubscriptionStatus.SUSPENDED
    if job.action == JobAction.SUSPEND and not suspended:
        raise JobRefused("The subscription was resumed meanwhile: the suspension is not applied.")
    if job.action == JobAction.RESUME and suspended:
        raise JobRefused("The subscription was suspended again meanwhile: the resumption is not applied.")
    if job.subscription_change_id and job.subscription_change.status != ChangeStatus.REQUESTED:
        raise JobRefused(f"The plan change is {job.subscription_change.status}: it is not applied.")


def _bind_device(service: ServiceInstance) -> None:
    """The ONT bound to the service's address (by the technician) carries the service, on the port that serves the
    address in the inventory; none bound, no service; an ONT that cannot be there, no service either."""
    ont = ONT.objects.select_related("pon_port__olt").filter(address_id=service.address_id).order_by("bound_at").last()
    if ont is None:
        raise JobRefused("No ONT is bound to this address: the technician scans its serial at installation.")
    port = inventory.serving_port(service.address) or ont.pon_port
    if port is None:
        raise JobRefused(f"ONT {ont.serial} is on no PON port in the inventory.")
    misfit = inventory.ont_misfit(ont, service.address)
    if misfit:
        raise JobRefused(misfit)
    service.ont, service.pon_port, service.olt = ont, port, port.olt
    service.c_vlan = vlan_for(service)


def _take_over_device(service: ServiceInstance, from_service_id: int) -> None:
    """A switch: the new provider's service takes the old one's place on the same ONT (no truck roll)."""
    old = ServiceInstance.objects.select_related("ont", "pon_port__olt").get(pk=from_service_id)
    if old.status != ServiceStatus.ACTIVE or old.ont is None:
        raise JobRefused(f"The service to take over is {old.status}: nothing to hand over on the network.")
    service.ont, service.pon_port, service.olt = old.ont, old.pon_port, old.olt
    service.network_service_id = old.device_service_id
    service.c_vlan = vlan_for(service)


VLAN_RANGE = range(100, 4095)  # C-VLANs for services; 1-99 and 4095 are the operator's


def vlan_for(service: ServiceInstance) -> int:
    """The service's C-VLAN on its OLT: the one it has while no other live service there uses it, else the lowest
    free one. The OLT's row is locked while choosing, so two activations on one OLT never take the same VLAN (a
    unique constraint guards it too)."""
    OLT.objects.select_for_update().filter(pk=service.olt_id).first()
    taken = set(
        ServiceInstance.objects.filter(olt_id=service.olt_id, s_vlan=service.s_vlan, status__in=VLAN_HOLDING)
        .exclude(pk=service.pk)
        .values_list("c_vlan", flat=True)
    )
    if service.c_vlan is not None and service.c_vlan not in taken:
        return service.c_vlan
    free = next((vlan for vlan in VLAN_RANGE if vlan not in taken), None)
    if free is None:
        raise JobRefused(f"No C-VLAN is free on {service.olt}: every one of {len(VLAN_RANGE)} is in use.")
    return free


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
        elif job.action == JobAction.ACTIVATE:
            adapter.activate(spec)
        else:  # modify, suspend, resume, switch: the service changes in place on the ONT
            adapter.modify(spec)
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
    """The verified outcome, all in one transaction: job, service, ledger, subscription, events."""
    job = ProvisioningJob.objects.select_for_update().get(pk=job.pk)
    if job.status != JobStatus.RUNNING:
        return job
    from_service = None
    if job.action == JobAction.SWITCH:  # locked first: the old service gives up its place before the new one takes it
        from_service = ServiceInstance.objects.select_for_update().get(pk=job.from_service_id)
    service = (
        ServiceInstance.objects.select_for_update(of=("self",))
        .select_related("subscription", "ont")
        .get(pk=job.service_id)
    )
    now = timezone.now()
    transition_apply(job, "succeed", at=now)
    job.save()
    ids = {"service_id": service.pk, "subscription_id": service.subscription_id, "provider_id": service.provider_id}
    if job.action == JobAction.ACTIVATE:
        _activated(job, service, at=activated_at or now, ids=ids)
    elif job.action == JobAction.DEACTIVATE:
        transition_apply(service, "deactivate", at=now)
        service.save()
        period_close(service, at=now, cause=PeriodCause.DEACTIVATE, job=job)
        events.publish("service.deactivated", deactivated_at=now, cause=PeriodCause.DEACTIVATE, **ids)
    elif job.action == JobAction.SWITCH:
        _switched(job, from_service, service, at=now, ids=ids)
    else:
        cause = {JobAction.SUSPEND: PeriodCause.SUSPEND, JobAction.RESUME: PeriodCause.RESUME}.get(
            job.action, PeriodCause.MODIFY
        )
        period_change(service, at=now, cause=cause, job=job)
        if job.action == JobAction.SUSPEND:
            events.publish("service.suspended", suspended_at=now, **ids)
        elif job.action == JobAction.RESUME:
            events.publish("service.resumed", resumed_at=now, **ids)
        else:
            change = {}
            if job.subscription_change_id:
                subscription = marketplace_services.subscription_change_product(
                    change_id=job.subscription_change_id, at=now
                )
                change = {
                    "change_id": job.subscription_change_id,
                    "product_id": subscription.product_id,
                    "monthly_amount": str(subscription.monthly_amount),
                }
            events.publish("service.modified", modified_at=now, profile=service.service_profile, **change, **ids)
    return job


def _activated(job: ProvisioningJob, service: ServiceInstance, *, at, ids: dict) -> None:
    transition_apply(service, "activate", at=at)
    service.network_service_id = service.device_service_id
    service.save()
    period_open(service, at=at, cause=PeriodCause.ACTIVATE, job=job)
    if service.subscription.status == SubscriptionStatus.CANCELLED:
        # The order was cancelled while the activation was on its way: the service comes off again at once.
        transition_apply(service, "start_deactivation", reason="its order was cancelled")
        service.save()
        off = ProvisioningJob.objects.create(service=service, action=JobAction.DEACTIVATE)
        enqueue_after_commit([off.pk])
        return
    marketplace_services.subscription_activate(subscription_id=service.subscription_id, at=at)
    events.publish("service.activated", activated_at=at, address_id=service.address_id, **ids)


def _switched(job: ProvisioningJob, old: ServiceInstance, service: ServiceInstance, *, at, ids: dict) -> None:
    """One verified operation moved the ONT's service from the old provider to the new: the old period ends and
    the new one starts at the same instant, so no day is billed to both and none to neither."""
    transition_apply(old, "hand_over", at=at, reason=f"taken over by service {service.pk}")
    old.save()
    period_close(old, at=at, cause=PeriodCause.SWITCH, job=job)
    transition_apply(service, "activate", at=at, reason=f"took over service {old.pk}")
    service.save()
    period_open(service, at=at, cause=PeriodCause.SWITCH, job=job)
    marketplace_services.switch_complete(switch_id=job.switch_id, at=at)
    events.publish(
        "service.deactivated",
        deactivated_at=at,
        cause=PeriodCause.SWITCH,
        service_id=old.pk,
        subscription_id=old.subscription_id,
        provider_id=old.provider_id,
    )
    events.publish("service.activated", activated_at=at, address_id=service.address_id, cause=PeriodCause.SWITCH, **ids)


def _failed(job: ProvisioningJob, reason: str, *, transient: bool) -> ProvisioningJob:
    with transaction.atomic():
        job = ProvisioningJob.objects.select_for_update().get(pk=job.pk)
        service = ServiceInstance.objects.select_for_update().get(pk=job.service_id)
        now = timezone.now()
        if transient and job.attempts < settings.PROVISIONING_MAX_ATTEMPTS:
            delay = min(settings.PROVISIONING_RETRY_BASE_SECONDS * 2 ** (job.attempts - 1), 3600)
            transition_apply(job, "fail", retry_at=now + timedelta(seconds=delay), reason=reason)
            job.save()
            if not _eager():
                transaction.on_commit(partial(enqueue, [job.pk], countdown=delay))
            # Eager Celery ignores the countdown: the retries would run at once, one after the other, inside the
            # caller (a technician's request). The sweep runs the next try at its time instead.
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
    if job is None or job.status not in (JobStatus.QUEUED, JobStatus.FAILED, JobStatus.RUNNING):
        return job
    if job.status != JobStatus.RUNNING:  # running: a lost worker's job, taken over and refused
        transition_apply(job, "run", at=timezone.now())
    transition_apply(job, "give_up", at=timezone.now(), reason=reason)
    job.save()
    return job


def provisioning_jobs_sweep(*, now=None, limit: int = 1000) -> int:
    """Enqueue again the jobs whose delivery was lost: still queued after the grace time (the broker was
    down after commit), failed and past their retry time, or running past their lease (the worker died).

    Without a broker (eager Celery) the sweep is what runs a failed job's next try: at its retry time, not after
    a grace time as well (no countdown delivery comes first)."""
    now = now or timezone.now()
    grace = now - timedelta(seconds=settings.EVENTS_DISPATCH_GRACE_SECONDS)
    lease = now - timedelta(seconds=settings.PROVISIONING_JOB_LEASE_SECONDS)
    retry_due = now if _eager() else grace
    due = list(
        ProvisioningJob.objects.filter(
            Q(status=JobStatus.QUEUED, updated_at__lte=grace)
            | Q(status=JobStatus.FAILED, next_attempt_at__lte=retry_due)
            | Q(status=JobStatus.RUNNING, started_at__lte=lease)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    enqueue(due)
    return len(due)


@transaction.atomic
def provisioning_job_retry(*, job_id: int, actor=None, reason: str = "retried by operations") -> ProvisioningJob:
    """Try a job again now, once its cause is fixed: a dead job is queued again with its attempts counted from
    zero; a failing one waiting for its next try runs at once. Refused (TransitionRefused) for a job that is
    queued, running or done."""
    job = ProvisioningJob.objects.select_for_update().get(pk=job_id)
    if job.status == JobStatus.FAILED:
        job.next_attempt_at = timezone.now()
        job.save(update_fields=["next_attempt_at", "updated_at"])
    else:
        transition_apply(job, "requeue", by=actor, reason=reason)
        job.save()
    enqueue_after_commit([job.pk])
    return job


def _eager() -> bool:
    """No broker: Celery runs each task in the caller, at once (the embedded default, unit tests)."""
    return bool(celery_app.conf.task_always_eager)
