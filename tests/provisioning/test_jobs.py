"""Provisioning jobs against the simulator on loopback: verified activation, faults, retries (at their time, by the
sweep when there is no broker), duplicates."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from cos import events
from cos.models import Event
from marketplace import services as marketplace_services
from marketplace.choices import SubscriptionStatus
from provisioning.choices import JobStatus, ServiceStatus
from provisioning.jobs import provisioning_job_execute, provisioning_jobs_sweep
from provisioning.models import ProvisioningJob
from tests.provisioning.conftest import fault as _fault
from tests.provisioning.conftest import request_provisioning as _request_provisioning

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("vendor", ["adtran", "nokia", "calix"])
def test_activation_is_verified_and_starts_the_subscription(ordered, vendor, django_capture_on_commit_callbacks):
    # given
    w, ont, service = ordered(vendor)
    # when
    _request_provisioning(w, django_capture_on_commit_callbacks)
    # then
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    assert (service.ont, service.olt.vendor) == (ont, vendor)
    assert service.activated_at is not None
    assert service.subscription.status == SubscriptionStatus.ACTIVE
    assert service.subscription.activated_at == service.activated_at
    (event,) = Event.objects.filter(name="service.activated")
    assert event.payload["service_id"] == service.pk
    assert ProvisioningJob.objects.get().status == JobStatus.SUCCEEDED


def _sweep_until_settled(capture, *, rounds: int = 10) -> None:
    """Run the provisioning sweep, each time past every retry time, until no job is due (what the sweeper loop of
    `make run` does over the minutes of the backoff)."""
    for _ in range(rounds):
        with capture(execute=True):
            if provisioning_jobs_sweep(now=timezone.now() + timedelta(days=1)) == 0:
                return


def test_transient_faults_are_retried_at_their_time_until_success(
    ordered, simulator, django_capture_on_commit_callbacks
):
    # given
    w, ont, service = ordered()
    _fault(simulator, kind="error_5xx", times=2)
    # when: the request fails once; without a broker its next try waits for the sweep instead of running at once
    _request_provisioning(w, django_capture_on_commit_callbacks)
    job = ProvisioningJob.objects.get()
    assert (job.status, job.attempts) == (JobStatus.FAILED, 1)
    assert job.next_attempt_at > timezone.now()
    assert provisioning_jobs_sweep() == 0  # not before its time
    _sweep_until_settled(django_capture_on_commit_callbacks)
    # then
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 3)
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE


def test_a_timeout_storm_ends_dead_with_the_reason_and_nothing_marked_active(
    ordered, simulator, settings, django_capture_on_commit_callbacks
):
    settings.PROVISIONING_MAX_ATTEMPTS = 2
    w, ont, service = ordered()
    _fault(simulator, kind="timeout", delay=1.0)
    _request_provisioning(w, django_capture_on_commit_callbacks)
    _sweep_until_settled(django_capture_on_commit_callbacks)
    job = ProvisioningJob.objects.get()
    assert (job.status, job.attempts) == (JobStatus.DEAD, 2)
    assert "Timeout" in job.last_error
    service.refresh_from_db()
    assert service.status == ServiceStatus.FAILED
    assert service.subscription.status == SubscriptionStatus.PENDING
    assert not Event.objects.filter(name="service.activated").exists()


def test_an_unknown_ont_fails_at_once_without_retry(ordered, django_capture_on_commit_callbacks):
    w, ont, service = ordered(known=False)
    _request_provisioning(w, django_capture_on_commit_callbacks)
    job = ProvisioningJob.objects.get()
    assert (job.status, job.attempts) == (JobStatus.DEAD, 1)
    service.refresh_from_db()
    assert service.status == ServiceStatus.FAILED


def test_an_unbound_ont_is_refused_with_a_clear_reason(ordered, django_capture_on_commit_callbacks):
    w, ont, service = ordered(bound=False)
    _request_provisioning(w, django_capture_on_commit_callbacks)
    job = ProvisioningJob.objects.get()
    assert job.status == JobStatus.DEAD
    assert "No ONT is bound" in job.last_error
    service.refresh_from_db()
    assert service.status == ServiceStatus.PENDING


def test_a_verify_mismatch_is_never_marked_active(ordered, simulator, settings, django_capture_on_commit_callbacks):
    settings.PROVISIONING_MAX_ATTEMPTS = 2
    w, ont, service = ordered()
    _fault(simulator, kind="mismatch")
    _request_provisioning(w, django_capture_on_commit_callbacks)
    _sweep_until_settled(django_capture_on_commit_callbacks)
    job = ProvisioningJob.objects.get()
    assert job.status == JobStatus.DEAD
    assert "reads back differently" in job.last_error
    service.refresh_from_db()
    assert service.status == ServiceStatus.FAILED


def test_a_job_delivered_twice_applies_once(ordered, simulator, django_capture_on_commit_callbacks):
    w, ont, service = ordered()
    _request_provisioning(w, django_capture_on_commit_callbacks)
    job = ProvisioningJob.objects.get()
    calls = requests.get(f"{simulator.url}/_sim/state", timeout=5).json()["calls"]
    # when: the same job arrives again
    assert provisioning_job_execute(job_id=job.pk) is None
    # then: no second call to the element manager, one activation event
    assert requests.get(f"{simulator.url}/_sim/state", timeout=5).json()["calls"] == calls
    assert Event.objects.filter(name="service.activated").count() == 1


def test_the_request_delivered_twice_makes_one_job(ordered, django_capture_on_commit_callbacks):
    w, ont, service = ordered()
    with django_capture_on_commit_callbacks(execute=True):
        event = events.publish("workorder.provisioning_requested", address_id=w.address.pk, work_order_id=0, task_id=0)
    from provisioning.requests import jobs_for_provisioning_request

    with django_capture_on_commit_callbacks(execute=True):
        jobs_for_provisioning_request(address_id=w.address.pk, event=event)
    assert ProvisioningJob.objects.count() == 1


def test_a_job_whose_worker_was_lost_is_taken_over_after_its_lease(
    ordered, settings, django_capture_on_commit_callbacks
):
    # given: a job left running by a worker that died
    w, ont, service = ordered()
    from provisioning.choices import JobAction

    job = ProvisioningJob.objects.create(service=service, action=JobAction.ACTIVATE)
    job.run(at=timezone.now() - timezone.timedelta(hours=1))
    job.save()
    settings.PROVISIONING_JOB_LEASE_SECONDS = 60
    # when: the redelivered task runs it
    provisioning_job_execute(job_id=job.pk)
    # then
    job.refresh_from_db()
    service.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert service.status == ServiceStatus.ACTIVE


def _activated(ordered, capture, vendor="adtran"):
    w, ont, service = ordered(vendor)
    _request_provisioning(w, capture)
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    return w, ont, service


@pytest.mark.parametrize("vendor", ["adtran", "nokia", "calix"])
def test_termination_turns_the_service_off_verified(ordered, simulator, vendor, django_capture_on_commit_callbacks):
    # given
    w, ont, service = _activated(ordered, django_capture_on_commit_callbacks, vendor)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        marketplace_services.subscription_terminate(
            subscription_id=service.subscription_id, reason="moved", waive_notice=True
        )
    # then
    service.refresh_from_db()
    assert service.status == ServiceStatus.INACTIVE
    assert service.deactivated_at is not None
    (event,) = Event.objects.filter(name="service.deactivated")
    assert event.payload["subscription_id"] == service.subscription_id
    device = requests.get(f"{simulator.url}/_sim/state", timeout=5).json()["onts"][ont.serial]
    assert device["services"] == {}


def test_a_pending_service_needs_no_deactivation(ordered, django_capture_on_commit_callbacks):
    from cos.errors import ApplicationError

    w, ont, service = ordered()
    with pytest.raises(ApplicationError) as refused:
        marketplace_services.subscription_terminate(subscription_id=service.subscription_id, reason="moved")
    assert refused.value.code == "subscription_not_live"
    assert not ProvisioningJob.objects.exists()


def test_modify_applies_and_verifies_the_new_profile(ordered, simulator, django_capture_on_commit_callbacks):
    from provisioning.requests import service_modify

    w, ont, service = _activated(ordered, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        job = service_modify(service_id=service.pk, profile="HSI_250_250", download_mbps=250, upload_mbps=250)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert Event.objects.filter(name="service.modified").count() == 1
    device = requests.get(f"{simulator.url}/_sim/state", timeout=5).json()["onts"][ont.serial]
    (state,) = device["services"].values()
    assert (state["profile"], state["down"], state["up"]) == ("HSI_250_250", 250, 250)


def test_a_plan_change_reaches_the_network_verified_once(ordered, simulator, django_capture_on_commit_callbacks):
    from decimal import Decimal

    from marketplace.choices import ChangeStatus
    from tests.marketplace.factories import PriceFactory, ProductFactory

    # given: a live service, and a faster plan of the same provider
    w, ont, service = _activated(ordered, django_capture_on_commit_callbacks)
    faster = ProductFactory(
        provider=w.provider, name="Fiber 2000", download_mbps=2000, upload_mbps=2000, service_profile="HSI_2000_2000"
    )
    PriceFactory(product=faster, marketplace=w.marketplace, monthly_amount=Decimal("599.00"))
    # when: the subscriber asks for it, twice
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            change = marketplace_services.subscription_change_request(
                subscription_id=service.subscription_id, product_id=faster.pk
            )
    # then: one modify job, verified on the device; only then the subscription is on the new plan
    from provisioning.choices import JobAction

    job = ProvisioningJob.objects.get(service=service, action=JobAction.MODIFY)
    assert job.status == JobStatus.SUCCEEDED
    assert Event.objects.filter(name="service.modified").count() == 1
    device = requests.get(f"{simulator.url}/_sim/state", timeout=5).json()["onts"][ont.serial]
    (state,) = device["services"].values()
    assert (state["profile"], state["down"], state["up"]) == ("HSI_2000_2000", 2000, 2000)
    change.refresh_from_db()
    service.subscription.refresh_from_db()
    assert change.status == ChangeStatus.APPLIED
    assert (service.subscription.product, service.subscription.monthly_amount) == (faster, Decimal("599.00"))


def test_a_dead_job_is_retried_from_the_admin(
    ordered, simulator, settings, client, django_user_model, django_capture_on_commit_callbacks
):
    # given: a job that died on an unknown ONT
    w, ont, service = ordered(known=False)
    _request_provisioning(w, django_capture_on_commit_callbacks)
    job = ProvisioningJob.objects.get()
    assert job.status == JobStatus.DEAD
    # when: operations fix the cause and retry it in the admin
    requests.post(f"{simulator.url}/_sim/onts", json={"serial": ont.serial}, timeout=5)
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.test", "pw-123456"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/provisioning/provisioningjob/",
            {"action": "action_provisioning_job_retry", "_selected_action": [job.pk]},
        )
    # then
    job.refresh_from_db()
    service.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert service.status == ServiceStatus.ACTIVE


def test_a_job_whose_delivery_was_lost_is_run_by_the_sweep(ordered, settings, django_capture_on_commit_callbacks):
    # given: a queued job whose enqueue after commit never reached the broker
    from provisioning.choices import JobAction
    from provisioning.jobs import provisioning_jobs_sweep

    w, ont, service = ordered()
    job = ProvisioningJob.objects.create(service=service, action=JobAction.ACTIVATE)
    # when: the sweep runs before the grace time, then after it
    assert provisioning_jobs_sweep() == 0
    later = timezone.now() + timezone.timedelta(seconds=settings.EVENTS_DISPATCH_GRACE_SECONDS + 1)
    assert provisioning_jobs_sweep(now=later) == 1
    # then: the job ran and the service is verified active
    job.refresh_from_db()
    service.refresh_from_db()
    assert (job.status, service.status) == (JobStatus.SUCCEEDED, ServiceStatus.ACTIVE)


def test_a_suspension_reaches_the_network_and_resumption_restores_the_plan(
    ordered, simulator, django_capture_on_commit_callbacks
):
    from django.utils.timezone import now as django_now

    from marketplace.services import subscription_resume, subscription_suspend

    # given: a live service
    w, ont, service = _activated(ordered, django_capture_on_commit_callbacks)
    plan = (service.service_profile, service.download_mbps, service.upload_mbps)

    def on_device():
        device = requests.get(f"{simulator.url}/_sim/state", timeout=5).json()["onts"][ont.serial]
        (state,) = device["services"].values()
        return state["profile"], state["down"], state["up"]

    # when: the subscription is suspended (e.g. an invoice unpaid too long), the event delivered twice
    with django_capture_on_commit_callbacks(execute=True):
        subscription_suspend(subscription_id=service.subscription_id, reason="unpaid invoice")
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(
            "subscription.suspended", subscription_id=service.subscription_id, suspended_at=django_now(), reason=""
        )
    # then: the device carries the suspended profile, verified by one suspend job
    assert on_device() == ("suspended", 1, 1)
    assert Event.objects.filter(name="service.suspended", payload__service_id=service.pk).count() == 1
    # when: it is resumed
    with django_capture_on_commit_callbacks(execute=True):
        subscription_resume(subscription_id=service.subscription_id, reason="paid")
    # then: the plan is back on the device
    assert on_device() == plan
