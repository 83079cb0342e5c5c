"""A marketplace's "today" is the day in its own time zone, for its prices, its orders and its bills alike."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from billing.selectors import local_date
from marketplace.selectors import local_day, marketplace_today, offers_for_address
from marketplace.validation import order_request_validate
from tests.marketplace.factories import PriceFactory, world

pytestmark = pytest.mark.django_db

# 22:30 UTC on 31 March: already 1 April in Stockholm (UTC+2 in summer time), still 31 March in UTC.
LATE_EVENING_UTC = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)


@pytest.fixture
def late_evening():
    with time_machine.travel(LATE_EVENING_UTC, tick=False):
        yield


def test_the_marketplaces_today_is_its_own_calendar_day(late_evening, settings):
    # given
    settings.TIME_ZONE = "UTC"
    w = world()
    # then
    assert w.marketplace.time_zone == "Europe/Stockholm"
    assert marketplace_today(w.marketplace) == date(2026, 4, 1)
    assert local_date is local_day  # billing counts days with the same definition


def test_offers_carry_the_price_that_is_valid_on_the_marketplaces_today(late_evening, settings):
    # given: a new price from 1 April (Stockholm's today, not yet UTC's)
    settings.TIME_ZONE = "UTC"
    w = world()
    PriceFactory(product=w.internet, marketplace=w.marketplace, monthly_amount="449.00", valid_from=date(2026, 4, 1))
    # when
    offers = offers_for_address(address=w.address, customer_type="residential")
    # then
    internet = next(o for o in offers if o.product == w.internet)
    assert str(internet.price.monthly_amount) == "449.00"


def test_an_installation_on_the_marketplaces_today_is_not_in_the_future(late_evening, settings):
    # given: 1 April is today in Stockholm, though still tomorrow in UTC
    settings.TIME_ZONE = "UTC"
    w = world()
    w.marketplace.requires_installation_window = True
    w.marketplace.save()
    request = w.request(install_date=date(2026, 4, 1))
    # when
    result = order_request_validate(request, address=w.address)
    # then
    assert "The installation date must be in the future." in [p.message for p in result.problems]
    # and the next Stockholm day is accepted
    later = w.request(install_date=date(2026, 4, 2))
    assert not order_request_validate(later, address=w.address).problems
