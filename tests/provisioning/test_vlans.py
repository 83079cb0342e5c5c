"""C-VLANs are allocated per OLT: the lowest free one, never one a live service there holds (the database refuses
a second holder too)."""

import pytest
from django.db import IntegrityError, transaction

from provisioning import jobs
from provisioning.jobs import JobRefused, vlan_for
from provisioning.models import ServiceInstance
from tests.cos.factories import OLTFactory
from tests.provisioning.conftest import request_provisioning

pytestmark = pytest.mark.django_db


def _services(ordered, capture, count):
    """`count` services activated on one OLT."""
    olt = OLTFactory(vendor="adtran")
    found = []
    for _ in range(count):
        w, ont, service = ordered("adtran")
        ont.pon_port.olt = olt
        ont.pon_port.save()
        request_provisioning(w, capture)
        service.refresh_from_db()
        found.append(service)
    return olt, found


def test_services_on_one_olt_get_the_lowest_free_vlans(ordered, django_capture_on_commit_callbacks):
    olt, services = _services(ordered, django_capture_on_commit_callbacks, 3)
    assert [s.status for s in services] == ["active"] * 3
    assert sorted(s.c_vlan for s in services) == [100, 101, 102]
    assert {s.olt for s in services} == {olt}


def test_a_vlan_taken_by_another_live_service_is_not_reused(ordered, django_capture_on_commit_callbacks):
    olt, (first, second) = _services(ordered, django_capture_on_commit_callbacks, 2)
    ServiceInstance.objects.filter(pk=second.pk).update(status="failed")  # its VLAN is free again
    ServiceInstance.objects.filter(pk=first.pk).update(c_vlan=second.c_vlan + 5)
    second.refresh_from_db()
    assert vlan_for(second) == second.c_vlan  # still free: it keeps it
    ServiceInstance.objects.filter(pk=first.pk).update(c_vlan=second.c_vlan)
    assert vlan_for(second) == 100  # taken meanwhile: the lowest free one


def test_an_olt_with_no_free_vlan_refuses_the_activation(ordered, django_capture_on_commit_callbacks, monkeypatch):
    olt, (first, second) = _services(ordered, django_capture_on_commit_callbacks, 2)
    monkeypatch.setattr(jobs, "VLAN_RANGE", range(first.c_vlan, first.c_vlan + 1))
    ServiceInstance.objects.filter(pk=second.pk).update(status="failed", c_vlan=None)
    second.refresh_from_db()
    with pytest.raises(JobRefused, match="No C-VLAN is free"):
        vlan_for(second)


def test_the_database_refuses_two_live_services_on_one_vlan(ordered, django_capture_on_commit_callbacks):
    olt, (first, second) = _services(ordered, django_capture_on_commit_callbacks, 2)
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceInstance.objects.filter(pk=second.pk).update(c_vlan=first.c_vlan)
