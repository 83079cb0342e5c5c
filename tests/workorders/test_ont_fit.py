"""A scanned ONT is bound only where its fiber can reach: the address's serving OLT and PON port decide."""

import pytest
from django.core.exceptions import ValidationError

from cos.choices import Vendor
from cos.models import ONT
from tests.cos.factories import AreaFactory, OLTFactory, ONTFactory, PonPortFactory
from tests.workorders.factories import assign, installation_work_order, record, task_at
from workorders.models import Evidence

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("templates")]

ONT_STEP = 3


@pytest.fixture
def job(crew):
    work_order = installation_work_order()
    assign(work_order, user=crew.staff_tech)
    return work_order


@pytest.fixture
def tech(crew):
    return crew.staff_tech


def _serve(address, port):
    type(address).objects.filter(pk=address.pk).update(serving_pon_port=port)
    address.refresh_from_db()


def test_an_ont_of_another_areas_olt_is_refused_and_stays_unbound(job, tech):
    # given: the inventory says nothing of the address's port; the ONT belongs to an OLT of another area
    other_olt = OLTFactory(name="OLT-NORTH-1", area=AreaFactory(code="NORTH"))
    ont = ONTFactory(pon_port=PonPortFactory(olt=other_olt))
    # when
    with pytest.raises(ValidationError, match="OLT-NORTH-1 in another area"):
        record(task_at(job, ONT_STEP), tech, "ont_serial", ont_serial=ont.serial)
    # then
    ont.refresh_from_db()
    assert ont.address is None
    assert not Evidence.objects.exists()


def test_an_ont_registered_on_another_olt_than_the_serving_one_is_refused_with_both_named(job, tech):
    # given: the address's fiber reaches port 1/1/4 of OLT-A; the ONT is registered on OLT-B in the same area
    olt_a = OLTFactory(name="OLT-A", area=job.address.area)
    _serve(job.address, PonPortFactory(olt=olt_a, slot=1, port=4))
    ont = ONTFactory(pon_port=PonPortFactory(olt=OLTFactory(name="OLT-B", area=job.address.area)))
    # when
    with pytest.raises(ValidationError) as refused:
        record(task_at(job, ONT_STEP), tech, "ont_serial", ont_serial=ont.serial)
    # then: the technician learns which OLT the address needs
    message = " ".join(refused.value.messages)
    assert "belongs to OLT-B" in message
    assert "served by OLT-A (port 1/1/4): use an ONT of OLT-A" in message
    assert ONT.objects.get(pk=ont.pk).address is None


def test_an_ont_of_another_vendor_than_the_serving_olt_is_refused(job, tech):
    # given: a Nokia OLT serves the address; a spare Adtran ONT on no port is scanned
    nokia = OLTFactory(name="OLT-N", vendor=Vendor.NOKIA, area=job.address.area)
    _serve(job.address, PonPortFactory(olt=nokia))
    ont = ONTFactory(vendor=Vendor.ADTRAN, pon_port=None)
    # when
    with pytest.raises(
        ValidationError, match="made by Adtran, but this address is served by OLT-N, which takes Nokia ONTs only"
    ):
        record(task_at(job, ONT_STEP), tech, "ont_serial", ont_serial=ont.serial)
    # then
    assert ONT.objects.get(pk=ont.pk).address is None


def test_a_spare_ont_of_the_serving_olt_is_bound_on_the_addresss_port(job, tech):
    # given: the ONT sits in the serving OLT's stock on port 1/1/1; the address's fiber reaches 1/2/7
    olt = OLTFactory(area=job.address.area)
    serving = PonPortFactory(olt=olt, slot=2, port=7)
    _serve(job.address, serving)
    ont = ONTFactory(pon_port=PonPortFactory(olt=olt, slot=1, port=1))
    # when
    record(task_at(job, ONT_STEP), tech, "ont_serial", ont_serial=ont.serial)
    # then: bound at the address, discovered on the port its fiber reaches
    ont.refresh_from_db()
    assert (ont.address, ont.pon_port) == (job.address, serving)
