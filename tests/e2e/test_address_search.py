"""A resident of an apartment block finds her own home on a 390x844 phone, typing without å/ä/ö: the block is one
suggestion with its number of homes, choosing it lists the homes, and her home leads to its offers. Typing the
apartment with the address finds it at once. Screenshots go to $COS_SHOTS_DIR (tests/e2e/phone.py)."""

import pytest

from cos.choices import AddressStatus, AreaStatus, BuildingType
from tests.cos.factories import AddressFactory
from tests.e2e.phone import fits_the_screen, shot
from tests.marketplace.factories import world

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_home_in_a_block_is_found_without_accents_and_ordered_on_a_phone(phone):
    # given: a block of 12 homes in a sold area, and another block on the street
    w = world()
    area = w.area
    homes = {}
    for number in (2, 4):
        for floor in (1, 2, 3):
            for door in (1, 2, 3, 4):
                unit = f"1{floor}0{door}"
                homes[(number, unit)] = AddressFactory(
                    area=area,
                    street="Solhöjdsvägen",
                    house_number=number,
                    city="Uppsala",
                    postal_code="75321",
                    building_type=BuildingType.MULTI_DWELLING,
                    units=12,
                    unit=unit,
                    status=AddressStatus.CONNECTED,
                )
    assert area.status == AreaStatus.IN_DEPLOYMENT
    # when: she types the street without its accents
    phone.goto(phone.base_url + "/")
    phone.fill("#q", "solhojdsvagen")
    phone.wait_for_selector("text=12 homes: choose yours")
    assert phone.locator("#suggestions li").count() == 2
    shot(phone, "1-buildings")
    # when: she picks her block
    phone.click("text=Solhöjdsvägen 2, 75321 Uppsala")
    phone.wait_for_selector("#building-homes")
    assert phone.locator("#suggestions li").count() == 12
    assert fits_the_screen(phone)
    shot(phone, "2-homes")
    # then: her home leads to its offers
    phone.click("text=Home 1301")
    phone.wait_for_selector("text=Fiber 1000")
    assert phone.url.endswith(f"/address/{homes[(2, '1301')].pk}/")

    # when: a neighbour types his apartment with the address
    phone.goto(phone.base_url + "/")
    phone.fill("#q", "Solhöjdsvägen 4 lgh 1203")
    phone.wait_for_selector("text=Can order")
    assert phone.locator("#suggestions li").count() == 1
    shot(phone, "3-apartment")
    phone.click("#suggestions li a")
    assert phone.url.endswith(f"/address/{homes[(4, '1203')].pk}/")
