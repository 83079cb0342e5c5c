"""The network contract: one pending service instance per subscription when an order is accepted."""

import pytest
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from cos import events
from cos.models import Event, HandlerRun
from marketplace import services as marketplace_services
from provisioning.choices import JobAction, JobStatus, ServiceStatus
from provisioning.models import ProvisioningJob, ServiceInstance
from tests.marketplace.factories import world

pytestmark = pytest.mark.django_db


def test_an_accepted_order_gets_a_pending_service_instance_per_subscription(django_capture_on_commit_callbacks):
    # given
    w = world()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = marketplace_services.order_place(request=w.request(w.internet, w.tv))
    # then
    services = {s.subscription.product: s for s in ServiceInstance.objects.select_related("subscription__product")}
    assert set(services) == {w.internet, w.tv}
    internet = services[w.internet]
    assert (internet.status, internet.service_profile, internet.download_mbps, internet.upload_mbps) == (
        ServiceStatus.PENDING,
        "HSI_1000_1000",
        1000,
        1000,
    )
    assert (internet.address, internet.provider) == (w.address, w.provider)


def test_order_accepted_delivered_twice_makes_one_service_instance_each(django_capture_on_commit_callbacks):
    # given
    w = world()
    with django_capture_on_commit_callbacks(execute=True):
        marketplace_services.order_place(request=w.request())
    event = Event.objects.get(name="order.accepted")
    # when: the provisioning handler run is delivered again
    run = HandlerRun.objects.get(event=event, handler="provisioning.handlers.service_instances_for_order")
    HandlerRun.objects.filter(pk=run.pk).update(status="pending")
    events.handler_run_execute(run_id=run.pk)
    # then
    assert ServiceInstance.objects.count() == 1


def test_no_service_instance_before_the_provider_accepts(django_capture_on_commit_callbacks):
    w = world(auto_accept=False)
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = marketplace_services.order_place(request=w.request())
    assert not ServiceInstance.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        marketplace_services.order_accept(order_id=order.pk)
    assert ServiceInstance.objects.count() == 1


def test_service_and_job_state_machines(django_capture_on_commit_callbacks):
    # given
    w = world()
    with django_capture_on_commit_callbacks(execute=True):
        marketplace_services.order_place(request=w.request())
    service = ServiceInstance.objects.get()
    job = ProvisioningJob.objects.create(service=service, action=JobAction.ACTIVATE)
    # then: a pending service cannot be active without provisioning, nor a queued job succeed without running
    with pytest.raises(TransitionNotAllowed):
        service.activate(at=timezone.now())
    with pytest.raises(TransitionNotAllowed):
        job.succeed(at=timezone.now())
    # when: the allowed path
    service.start_provisioning()
    job.run(at=timezone.now())
    job.succeed(at=timezone.now())
    service.activate(at=timezone.now())
    # then
    assert (service.status, job.status, job.attempts) == (ServiceStatus.ACTIVE, JobStatus.SUCCEEDED, 1)
