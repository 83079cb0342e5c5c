"""Every home can be found: without å/ä/ö and in any case on every database, apartments typed with the address
("Solhöjdsvägen 2 1301", "lgh 1301"), apartment blocks as one suggestion that opens onto their homes, more than
eight matches behind "Show all", and each suggestion saying whether it can be ordered, pre-ordered or noted."""

import re

import pytest
from django.urls import reverse

from cos.choices import AddressStatus, AreaStatus, BuildingType
from cos.selectors import AddressQuery, address_search
from tests.cos.factories import AddressFactory, AreaFactory
from tests.marketplace.factories import MarketplaceFactory

pytestmark = pytest.mark.django_db


def _block(area, number: int, units: int, status=AddressStatus.CONNECTED, street="Solhöjdsvägen"):
    doors = [f"1{floor}0{door}" for floor in range(1, units // 4 + 2) for door in range(1, 5)][:units]
    return [
        AddressFactory(
            area=area,
            street=street,
            house_number=number,
            city="Uppsala",
            postal_code="75321",
            building_type=BuildingType.MULTI_DWELLING,
            units=units,
            unit=door,
            status=status,
        )
        for door in doors
    ]


@pytest.fixture
def uppsala():
    area = AreaFactory(status=AreaStatus.IN_DEPLOYMENT)
    MarketplaceFactory(areas=[area], takes_preorders=True)
    return area


@pytest.mark.parametrize("typed", ["solhojd 2", "SOLHOJDSVAGEN 2", "Solhöjdsvägen 2", "solhöjdsvägen 2 uppsala"])
def test_the_street_is_found_without_its_accents_and_in_any_case(uppsala, typed):
    _block(uppsala, 2, 4)
    assert {a.street for a in address_search(query=typed)} == {"Solhöjdsvägen"}


@pytest.mark.parametrize("typed", ["Solhöjdsvägen 2 1301", "solhojdsvagen 2 lgh 1301", "Solhöjdsvägen 2, lgh1301"])
def test_an_apartment_typed_with_the_address_is_found_at_once(uppsala, typed):
    homes = _block(uppsala, 2, 12)
    (found,) = address_search(query=typed)
    assert found == next(home for home in homes if home.unit == "1301")


def test_a_four_digit_number_before_the_house_number_is_still_a_street_word():
    parsed = AddressQuery.parse("Storgatan 12 1301")
    assert (parsed.words, parsed.number, parsed.unit) == (["storgatan"], 12, "1301")
    assert AddressQuery.parse("Storgatan 1301").number == 1301  # a house number, not an apartment


def _suggest(client, q, **extra):
    return client.get(reverse("address-suggest"), {"q": q, **extra}, HTTP_HX_REQUEST="true").content.decode()


def test_a_block_is_one_suggestion_that_opens_onto_all_its_homes(client, uppsala):
    # given: two blocks of 12 homes on one street
    _block(uppsala, 2, 12)
    _block(uppsala, 4, 12)
    # when: the street is typed
    street = _suggest(client, "solhojdsvagen")
    # then: two buildings, each with its count, not 8 of the 24 homes
    assert street.count("<li>") == 2
    assert street.count("12 homes: choose yours") == 2
    # when: one block is chosen (its street and number)
    block = _suggest(client, "Solhöjdsvägen 2")
    # then: all its homes, 1301 to 1304 among them
    assert "12 homes" in block
    for unit in ("1101", "1204", "1301", "1304"):
        assert f"Home {unit}" in block
    assert block.count("<li>") == 12


def test_more_than_eight_matches_are_behind_show_all(client, uppsala):
    # given: ten villas on one street
    for number in range(1, 11):
        AddressFactory(area=uppsala, street="Ekbacksvägen", house_number=number, city="Uppsala")
    # when
    first = _suggest(client, "ekbacksvagen")
    everything = client.get(reverse("address-suggest"), {"q": "ekbacksvagen", "all": "1"}).content.decode()
    # then
    assert first.count("<li>") == 8
    assert 'id="show-all"' in first
    assert everything.count("<li>") == 10
    assert 'id="show-all"' not in everything


def test_each_suggestion_says_what_can_be_done_there(client, uppsala):
    # given: a connected villa, one being built, one in an area no marketplace sells in yet
    AddressFactory(area=uppsala, street="Kvarnvägen", house_number=1, status=AddressStatus.CONNECTED)
    AddressFactory(area=uppsala, street="Kvarnvägen", house_number=2, status=AddressStatus.IN_DEPLOYMENT)
    AddressFactory(street="Kvarnvägen", house_number=3, status=AddressStatus.PLANNED)
    # when
    page = _suggest(client, "kvarnvagen")
    # then
    said = re.findall(r"Kvarnvägen (\d)[^<]*<.*?badge[^>]*>([^<]+)<", page, flags=re.S)
    assert said == [("1", "Can order"), ("2", "Pre-order"), ("3", "Register interest")]


def test_the_suggestions_cost_a_fixed_number_of_queries(client, uppsala, django_assert_max_num_queries):
    for number in range(1, 9):
        _block(uppsala, number, 8)
    with django_assert_max_num_queries(6):
        page = _suggest(client, "solhojdsvagen")
    assert page.count("<li>") == 8
