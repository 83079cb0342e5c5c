"""Activation through a real Celery worker (Redis broker, PostgreSQL), the simulator on loopback."""

import pytest
from django.db import transaction
from django.utils import timezone

from cos import events
from marketplace import services as marketplace_services
from provisioning.choices import JobStatus, ServiceStatus
from provisioning.models import ProvisioningJob, ServiceInstance
from tests.cos.factories import OLTFactory, ONTFactory, PonPortFactory
from tests.marketplace.factories import world
from tests.provisioning.conftest import fault

pytestmark = [pytest.mark.celery_worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_activates_a_service_through_retries(simulator, celery_worker, wait_until):
    # given: an accepted order (committed, so the worker sees it) and an ONT bound at the address
    w = world()
    marketplace_services.order_place(request=w.request())
    wait_until(lambda: ServiceInstance.objects.filter(address=w.address).exists(), message="the service instance")
    ont = ONTFactory(
        serial=f"CXNK{w.address.pk % 0xFFFFFFFF:08X}",
        vendor="calix",
        address=w.address,
        bound_at=timezone.now(),
        pon_port=PonPortFactory(olt=OLTFactory(vendor="calix")),
    )
    import requests

    requests.post(f"{simulator.url}/_sim/onts", json={"serial": ont.serial}, timeout=5)
    fault(simulator, kind="error_5xx", times=1)
    # when: the technician's trigger is committed
    with transaction.atomic():
        events.publish("workorder.provisioning_requested", address_id=w.address.pk, work_order_id=0, task_id=0)
    # then: the worker retries past the 5xx and the service is verified active
    wait_until(
        lambda: ServiceInstance.objects.filter(address=w.address, status=ServiceStatus.ACTIVE).exists(),
        timeout=30,
        message="the service to be active",
    )
    job = ProvisioningJob.objects.get(service__address=w.address)
    assert (job.status, job.attempts) == (JobStatus.SUCCEEDED, 2)
