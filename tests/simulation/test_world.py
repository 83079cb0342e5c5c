"""The simulated area's network is sized like a real one: an OLT per 2,048 homes (16 PON ports of 1:128), since an
OLT has 3,995 C-VLANs for its live services; homes and ONTs in stock are spread over every port."""

import pytest

from cos.models import OLT, ONT, AddressObject
from simulation import world

pytestmark = pytest.mark.django_db


def test_a_small_area_has_one_olt_and_a_large_one_an_olt_per_2048_homes():
    # when: an area of 5,000 homes
    area = world.area_build(5000)
    # then: three OLTs of 16 ports each, every home served by a port, no port past 1:128
    olts = list(OLT.objects.filter(area=area).order_by("name").values_list("name", flat=True))
    assert olts == ["OLT-BJK-1", "OLT-BJK-2", "OLT-BJK-3"]
    homes = AddressObject.objects.filter(area=area)
    assert not homes.filter(serving_pon_port__isnull=True).exists()
    per_olt = {name: homes.filter(serving_pon_port__olt__name=name).count() for name in olts}
    assert sum(per_olt.values()) == 5000
    assert max(per_olt.values()) <= world.HOMES_PER_OLT
    assert {ONT.objects.filter(pon_port__olt__name=name).count() > 0 for name in olts} == {True}
    # building again adds nothing
    world.area_build(5000)
    assert OLT.objects.filter(area=area).count() == 3


def test_an_area_of_the_demos_size_keeps_its_one_olt():
    area = world.area_build(200)
    assert list(OLT.objects.filter(area=area).values_list("name", flat=True)) == [world.OLT_NAME]
