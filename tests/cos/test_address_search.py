"""Free-text address search: external id, postal code, street and number, ranking."""

import pytest

from cos.selectors import address_search
from tests.cos.factories import AddressFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def addresses():
    def make(street, number, **kw):
        return AddressFactory(street=street, house_number=number, **kw)

    return {
        "storgatan_12": make("Storgatan", 12, external_id="GIS-A1", postal_code="72110"),
        "storgatan_12b": make("Storgatan", 12, suffix="B", postal_code="72110"),
        "storgatan_1": make("Storgatan", 1, postal_code="72110"),
        "storgatan_120": make("Storgatan", 120, postal_code="72111"),
        "storgatan_2": make("Storgatan", 2, postal_code="72110"),
        "lillstorgatan_12": make("Lillstorgatan", 12, postal_code="72112"),
        "hagagatan_1": make("Hagagatan", 1, postal_code="75320", city="Uppsala"),
        "storgatan_uppsala_12": make("Storgatan", 12, postal_code="75310", city="Uppsala"),
        "kyrkvagen_5": make("Kyrkvägen", 5, external_id="EKB-000099", postal_code="72130"),
    }


def labels(results):
    return [f"{a.street} {a.house_number}{a.suffix} {a.city}" for a in results]


def test_street_and_number_puts_the_exact_number_first(addresses):
    results = address_search(query="Storgatan 12")
    assert results[0].pk in {addresses["storgatan_12"].pk, addresses["storgatan_uppsala_12"].pk}
    top_numbers = [(a.street, a.house_number) for a in results[:3]]
    assert all(number == 12 for _, number in top_numbers)


def test_number_letter_prefers_the_lettered_address(addresses):
    results = address_search(query="storgatan 12b")
    assert results[0] == addresses["storgatan_12b"]


def test_street_starting_with_the_words_ranks_before_a_street_containing_them(addresses):
    results = address_search(query="Storgatan 12")
    streets = [a.street for a in results]
    assert streets.index("Lillstorgatan") > streets.index("Storgatan")


def test_house_number_is_a_prefix_match_after_the_exact_number(addresses):
    results = address_search(query="Storgatan 1 Västerås")
    assert labels(results)[:4] == [
        "Storgatan 1 Västerås",
        "Storgatan 12 Västerås",
        "Storgatan 12B Västerås",
        "Storgatan 120 Västerås",
    ]


def test_city_word_narrows_the_street(addresses):
    results = address_search(query="storgatan 12 uppsala")
    assert results[0] == addresses["storgatan_uppsala_12"]


def test_common_fragment_finds_all_streets_that_contain_it(addresses):
    results = address_search(query="gatan 1", limit=50)
    assert addresses["hagagatan_1"] in results
    assert addresses["storgatan_1"] in results
    assert addresses["kyrkvagen_5"] not in results
    assert addresses["storgatan_2"] not in results


def test_external_id_finds_exactly_that_address(addresses):
    assert address_search(query="EKB-000099") == [addresses["kyrkvagen_5"]]
    assert address_search(query="ekb-000099") == [addresses["kyrkvagen_5"]]


def test_postal_code_with_or_without_space(addresses):
    expected = {addresses[k].pk for k in ("storgatan_12", "storgatan_12b", "storgatan_1", "storgatan_2")}
    assert {a.pk for a in address_search(query="721 10", limit=50)} == expected
    assert {a.pk for a in address_search(query="72110", limit=50)} == expected


def test_no_match_and_empty_query_return_nothing(addresses):
    assert address_search(query="Nonexistentvägen 3") == []
    assert address_search(query="   ") == []


def test_search_query_count_is_bounded(addresses, django_assert_max_num_queries):
    AddressFactory.create_batch(50, street="Storgatan")
    with django_assert_max_num_queries(4):
        assert address_search(query="storgatan 1", limit=10)
