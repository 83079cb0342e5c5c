"""What the network is asked to do, and when: the jobs that follow orders, installations, plan changes,
suspensions, switches and terminations. Each request makes its job once (a redelivered event finds it) and
hands it to Celery after commit; provisioning.jobs runs it and records only a verified outcome."""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from cos import events
from cos.errors import ApplicationError, Conflict
from cos.fsm import transition_apply
from cos.models import ONT
from marketplace import services as marketplace_services
from marketplace.choices import OPEN_SWITCH_STATUSES, SubscriptionStatus
from marketplace.models import Participation, Subscription, SubscriptionChange, Switch
from marketplace.services.subscriptions import reason_text
from provisioning.choices import LIVE_SERVICE_STATUSES, JobAction, ServiceStatus
from provisioning.jobs import enqueue_after_commit, provisioning_job_retry
from provisioning.models import ProvisioningJob, ServiceInstance
from provisioning.selectors import work_order_provisioning
from workorders import provisioning_status as field_panel
from workorders.models import WorkOrder
from workorders.permissions import FieldActor

WAITING = (ServiceStatus.PENDING, ServiceStatus.FAILED)


@transaction.atomic
def service_instances_for_subscriptions(*, subscription_ids: list[int]) -> int:
    """One pending service instance (the network contract) per subscription, from the product's profile.

    Idempotent: a subscription that has one gets no second.
    """
    subscriptions = (
        Subscription.objects.filter(pk__in=subscription_ids, service_instance__isnull=True)
        .select_related("product")
        .order_by("pk")
    )
    created = ServiceInstance.objects.bulk_create(
        [
            ServiceInstance(
                subscription=s,
                address_id=s.address_id,
                provider_id=s.provider_id,
                service_profile=s.product.service_profile,
                download_mbps=s.product.download_mbps,
                upload_mbps=s.product.upload_mbps,
            )
            for s in subscriptions
        ],
        ignore_conflicts=True,
    )
    return len(created)


def _self_activating() -> set[tuple[int, int]]:
    return set(
        Participation.objects.filter(activates_services_itself=True).values_list("marketplace_id", "provider_id")
    )


def _activation_jobs(services, *, event=None) -> list[int]:
    self_activating = _self_activating()
    job_ids = []
    for service in services:
        if (service.subscription.marketplace_id, service.provider_id) in self_activating:
            continue  # waits for the provider's own API call
        job, _ = ProvisioningJob.objects.get_or_create(
            service=service, action=JobAction.ACTIVATE, requested_by_event=event
        )
        job_ids.append(job.pk)
    enqueue_after_commit(job_ids)
    return job_ids


def jobs_for_provisioning_request(*, address_id: int, event=None) -> list[int]:
    """The technician closed the provisioning trigger: one activation job per waiting service at the address.

    Services of providers that activate their services themselves wait for the provider's API call; a service
    waiting for a switch is handed over on its day instead.
    """
    services = (
        ServiceInstance.objects.filter(address_id=address_id, status__in=WAITING)
        .exclude(subscription__switch_in__status__in=OPEN_SWITCH_STATUSES)
        .select_related("subscription")
        .order_by("pk")
    )
    return _activation_jobs(services, event=event)


@field_panel.retry_action
@transaction.atomic
def activation_retry_for_work_order(*, work_order_id: int, actor) -> list[ProvisioningJob]:
    """Try a work order's failed activations again, now (Try again on the phone): a dead job is queued again, one
    waiting for its next try runs at once (provisioning_job_retry). For the technician who holds the work order's
    provisioning trigger, or operator staff; refused when nothing failed."""
    work_order = WorkOrder.objects.select_for_update().get(pk=work_order_id)
    if not field_panel.may_retry(FieldActor.of(actor), work_order.tasks.all()):
        raise PermissionDenied("Only the technician who holds the provisioning task, or operator staff, can try again.")
    failed = [outcome for outcome in work_order_provisioning(work_order) if outcome.can_retry]
    if not failed:
        raise ApplicationError(
            "No service of this work order failed: there is nothing to try again.", code="nothing_to_retry"
        )
    who = getattr(actor, "get_username", lambda: "")()
    return [
        provisioning_job_retry(job_id=outcome.job_id, actor=actor, reason=f"tried again from the field by {who}")
        for outcome in failed
        if outcome.job_id is not None
    ]


def remote_activation_for_order(*, order_id: int, event=None) -> list[int]:
    """An order accepted at a connected address whose ONT is in place needs no visit: its services are activated
    from here (a re-order after a termination, an add-on). Orders with a switch wait for the hand-over day."""
    subscriptions = Subscription.objects.filter(order_line__order_id=order_id).select_related("order_line__order")
    first = subscriptions.first()
    if first is None or Switch.objects.filter(order_id=order_id).exclude(status="aborted").exists():
        return []
    order = first.order_line.order
    if order.address.status != "connected" or not ONT.objects.filter(address_id=order.address_id).exists():
        return []
    services = ServiceInstance.objects.filter(subscription__in=subscriptions, status__in=WAITING).select_related(
        "subscription"
    )
    job_ids = _activation_jobs(list(services), event=event)
    if job_ids:
        marketplace_services.order_start_fulfillment(
            order_id=order_id, reason="activated remotely: the ONT is in place"
        )
    return job_ids


def jobs_after_switch(*, switch_id: int, event=None) -> list[int]:
    """The hand-over is done: the other new services of the gaining order (e.g. its TV) are activated now."""
    switch = Switch.objects.get(pk=switch_id)
    services = ServiceInstance.objects.filter(
        subscription__order_line__order_id=switch.order_id, status__in=WAITING
    ).select_related("subscription")
    return _activation_jobs(list(services), event=event)


@transaction.atomic
def services_cancel(*, subscription_ids: list[int], reason: str = "order cancelled") -> int:
    """The order was cancelled: its services that never went live are cancelled (an activation on its way is
    turned off again when it lands: provisioning.jobs)."""
    cancelled = 0
    for service in ServiceInstance.objects.select_for_update().filter(
        subscription_id__in=subscription_ids, status__in=WAITING
    ):
        transition_apply(service, "cancel", reason=reason)
        service.save(update_fields=["status", "updated_at"])
        cancelled += 1
    return cancelled


@transaction.atomic
def service_deactivation_request(*, subscription_id: int, event=None) -> ProvisioningJob | None:
    """The subscription ended: turn its live service off (verified like an activation). A service handed over to
    another provider, or never live, has nothing to turn off."""
    service = ServiceInstance.objects.select_for_update().filter(subscription_id=subscription_id).first()
    if service is None or service.status not in LIVE_SERVICE_STATUSES:
        return None
    if service.status == ServiceStatus.ACTIVE:
        transition_apply(service, "start_deactivation", reason="subscription terminated")
        service.save()
    job, _ = ProvisioningJob.objects.get_or_create(
        service=service, action=JobAction.DEACTIVATE, requested_by_event=event
    )
    enqueue_after_commit([job.pk])
    return job


@transaction.atomic
def service_modify(
    *,
    service_id: int,
    profile: str,
    download_mbps: int | None,
    upload_mbps: int | None,
    action: str = JobAction.MODIFY,
    change: SubscriptionChange | None = None,
    actor=None,
) -> ProvisioningJob:
    """Change a live service's profile and speeds (a plan change, a suspension, a resumption): the contract
    changes now, the network follows by a job that is verified by read-back."""
    service = ServiceInstance.objects.select_for_update().get(pk=service_id)
    if service.status != ServiceStatus.ACTIVE:
        raise ApplicationError(
            f"Only an active service can be changed; this one is {service.status}.", code="service_not_active"
        )
    service.service_profile, service.download_mbps, service.upload_mbps = profile, download_mbps, upload_mbps
    service.save(update_fields=["service_profile", "download_mbps", "upload_mbps", "updated_at"])
    target = {"service": service, "action": action, "profile": profile, "download_mbps": download_mbps}
    target["upload_mbps"] = upload_mbps
    if change is not None:
        job, _ = ProvisioningJob.objects.get_or_create(subscription_change=change, defaults=target)
    else:
        job = ProvisioningJob.objects.create(**target)
    enqueue_after_commit([job.pk])
    return job


@transaction.atomic
def service_profile_change(
    *,
    service_id: int,
    profile: str,
    download_mbps: int | None,
    upload_mbps: int | None,
    reason_code: str,
    note: str = "",
    actor=None,
) -> ProvisioningJob:
    """Operator staff change a live service's profile and speeds, with a reason code (LifecycleReason): a modify job,
    verified by read-back like any other. Emits service.modify_requested: who asked, why, from what, to what."""
    reason = reason_text(reason_code, note)
    profile = (profile or "").strip()
    if not profile:
        raise ValidationError("Give the service profile.")
    service = ServiceInstance.objects.select_for_update().get(pk=service_id)
    before = {"profile": service.service_profile, "download_mbps": service.download_mbps}
    before["upload_mbps"] = service.upload_mbps
    after = {"profile": profile, "download_mbps": download_mbps, "upload_mbps": upload_mbps}
    if before == after:
        raise ApplicationError(f"The service has {profile} at these speeds already.", code="service_unchanged")
    job = service_modify(
        service_id=service.pk, profile=profile, download_mbps=download_mbps, upload_mbps=upload_mbps, actor=actor
    )
    events.publish(
        "service.modify_requested",
        service_id=service.pk,
        subscription_id=service.subscription_id,
        job_id=job.pk,
        previous=before,
        requested=after,
        reason_code=reason_code,
        reason=reason,
        actor_id=getattr(actor, "pk", None),
    )
    return job


def service_change_for_plan(*, change_id: int) -> ProvisioningJob | None:
    """A change of plan is due: the live service gets the new plan's profile (a modify job carrying the change)."""
    change = SubscriptionChange.objects.select_related("to_product").get(pk=change_id)
    if ProvisioningJob.objects.filter(subscription_change=change).exists():
        return None  # asked already (a second delivery)
    service = ServiceInstance.objects.filter(subscription_id=change.subscription_id).first()
    if service is None or service.status != ServiceStatus.ACTIVE:
        return None
    product = change.to_product
    return service_modify(
        service_id=service.pk,
        profile=product.service_profile,
        download_mbps=product.download_mbps,
        upload_mbps=product.upload_mbps,
        change=change,
    )


def service_follows_product(*, subscription_id: int, profile: str, download_mbps, upload_mbps) -> int:
    """A subscription not live yet changed plan: its pending service will be activated with the new profile."""
    return ServiceInstance.objects.filter(subscription_id=subscription_id, status__in=WAITING).update(
        service_profile=profile, download_mbps=download_mbps, upload_mbps=upload_mbps, updated_at=timezone.now()
    )


def service_suspend_for_subscription(*, subscription_id: int) -> ProvisioningJob | None:
    """The subscription is suspended (e.g. for non-payment): its live service moves to the suspended profile
    (a walled garden at minimal speed), applied and verified by a suspend job. Once per suspension."""
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
        action=JobAction.SUSPEND,
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
        action=JobAction.RESUME,
    )


@transaction.atomic
def service_switch_request(*, switch_id: int, event=None) -> ProvisioningJob | None:
    """The hand-over day of a switch: one job moves the ONT's service from the old provider's profile to the new
    one's (no truck roll); only its verified read-back ends the old service and starts the new."""
    switch = Switch.objects.get(pk=switch_id)
    if ProvisioningJob.objects.filter(switch=switch).exists():
        return None
    old = ServiceInstance.objects.filter(subscription_id=switch.from_subscription_id).first()
    # The new provider's service may not be made yet when this runs first (events run in parallel on workers).
    service_instances_for_subscriptions(subscription_ids=[switch.to_subscription_id])
    new = ServiceInstance.objects.select_for_update().filter(subscription_id=switch.to_subscription_id).first()
    if old is None or new is None:
        raise Conflict(f"Switch {switch.pk} has no service to hand over.", code="switch_without_service")
    job = ProvisioningJob.objects.create(
        service=new, action=JobAction.SWITCH, switch=switch, from_service=old, requested_by_event=event
    )
    enqueue_after_commit([job.pk])
    return job


@transaction.atomic
def service_activate_by_provider(*, service_id: int, provider, actor=None) -> ProvisioningJob:
    """A provider that activates its own services turns one on, once the infrastructure at the address is ready."""
    service = (
        ServiceInstance.objects.select_for_update(of=("self",))
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
    if service.subscription.status != SubscriptionStatus.PENDING:
        raise Conflict(f"The subscription is {service.subscription.status}.", code="service_not_pending")
    if service.status not in WAITING:
        raise Conflict(f"The service is {service.status}.", code="service_not_pending")
    job = ProvisioningJob.objects.create(service=service, action=JobAction.ACTIVATE)
    enqueue_after_commit([job.pk])
    return job


@transaction.atomic
def service_billing_block(*, service_id: int, reason: str) -> ServiceInstance:
    """Billing holds new charges of the service (e.g. its ONT is no longer bound to its address). Emits
    service.billing_blocked once."""
    service = ServiceInstance.objects.select_for_update().get(pk=service_id)
    if service.billing_blocked:
        return service
    service.billing_blocked, service.billing_blocked_at = True, timezone.now()
    service.save(update_fields=["billing_blocked", "billing_blocked_at", "updated_at"])
    events.publish(
        "service.billing_blocked",
        service_id=service.pk,
        subscription_id=service.subscription_id,
        blocked_at=service.billing_blocked_at,
        reason=reason,
    )
    return service


@transaction.atomic
def service_billing_unblock(
    *, service_id: int, bill_held_days: bool = True, actor=None, reason: str = ""
) -> ServiceInstance:
    """Lift a billing block. Emits service.billing_unblocked with the held span: billing bills the held days once,
    or, when `bill_held_days` is off (an operator's decision with a reason), credits them."""
    if not bill_held_days and not reason.strip():
        raise ValidationError("Say why the held days are credited.")
    service = ServiceInstance.objects.select_for_update().get(pk=service_id)
    if not service.billing_blocked:
        return service
    blocked_at = service.billing_blocked_at
    service.billing_blocked, service.billing_blocked_at = False, None
    service.save(update_fields=["billing_blocked", "billing_blocked_at", "updated_at"])
    events.publish(
        "service.billing_unblocked",
        service_id=service.pk,
        subscription_id=service.subscription_id,
        blocked_at=blocked_at,
        unblocked_at=timezone.now(),
        bill_held_days=bill_held_days,
        reason=reason.strip(),
        actor_id=getattr(actor, "pk", None),
    )
    return service
