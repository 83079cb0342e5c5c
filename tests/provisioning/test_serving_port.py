"""Provisioning targets the port that serves the address in the inventory, never an ONT that cannot be there."""

import pytest

from cos.models import ONT, AddressObject
from provisioning.choices import JobStatus, ServiceStatus
from provisioning.models import ProvisioningJob
from tests.cos.factories import AreaFactory, OLTFactory, PonPortFactory
from tests.provisioning.conftest import request_provisioning

pytestmark = pytest.mark.django_db


def test_the_service_is_provisioned_on_the_port_that_serves_the_address(ordered, django_capture_on_commit_callbacks):
    # given: the ONT was registered on port 1/1/1; the inventory says the address's fiber reaches 1/2/5 of that OLT
    w, ont, service = ordered()
    serving = PonPortFactory(olt=ont.pon_port.olt, slot=2, port=5)
    AddressObject.objects.filter(pk=w.address.pk).update(serving_pon_port=serving)
    # when
    request_provisioning(w, django_capture_on_commit_callbacks)
    # then
    service.refresh_from_db()
    assert service.status == ServiceStatus.ACTIVE
    assert (service.olt, service.pon_port) == (serving.olt, serving)


def test_an_ont_bound_before_the_address_was_moved_to_another_olt_is_refused(
    ordered, django_capture_on_commit_callbacks
):
    # given: the bound ONT is on OLT-OLD; the inventory now serves the address from another area's OLT
    w, ont, service = ordered()
    AddressObject.objects.filter(pk=w.address.pk).update(
        serving_pon_port=PonPortFactory(olt=OLTFactory(name="OLT-NEW", area=AreaFactory(code="NEW")))
    )
    # when
    request_provisioning(w, django_capture_on_commit_callbacks)
    # then: nothing goes live on the wrong OLT, and the job says why
    job = ProvisioningJob.objects.get()
    assert job.status == JobStatus.DEAD
    assert "served by OLT-NEW" in job.last_error
    service.refresh_from_db()
    assert service.status != ServiceStatus.ACTIVE
    assert service.olt is None
    assert ONT.objects.get(pk=ont.pk).address_id == w.address.pk
