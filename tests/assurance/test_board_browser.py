"""The board in a real browser (Debian's chromium, as tests/e2e): each metric's colour as the eye sees it, the
trend drawn, a drill-down click that lands on the rows counted, and a phone that does not scroll sideways.
Screenshots go to $COS_SHOTS_DIR (tests/e2e/phone.py)."""

import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from cos.choices import Role
from cos.services import membership_grant
from provisioning.choices import PeriodCause
from tests.billing.factories import activate
from tests.cos.factories import UserFactory
from tests.e2e.conftest import CHROMIUM, browser_page  # noqa: F401 - the browser fixture
from tests.e2e.phone import PHONE, fits_the_screen, shot
from tests.marketplace.factories import world
from tests.wholesale.factories import operator, service_with_periods

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's chromium at {CHROMIUM}"),
]


def _logged_in(page, live_server) -> None:
    user = UserFactory(username="olle-ops")
    membership_grant(user=user, organization=operator(), role=Role.OPERATIONS)
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def test_the_board_shows_red_and_green_and_a_click_opens_the_rows_counted(browser_page, live_server):  # noqa: F811
    # given: two services live, one of them never billed (active-but-unbilled: red)
    w = world()
    started = timezone.now() - timedelta(hours=1)
    billed = service_with_periods(w, [(started, None, PeriodCause.ACTIVATE, None)])
    activate(billed.subscription, timezone.localdate())
    unbilled = service_with_periods(w, [(started, None, PeriodCause.ACTIVATE, None)])
    _logged_in(browser_page, live_server)
    browser_page.set_viewport_size({"width": 1366, "height": 768})
    # when
    browser_page.goto(live_server.url + "/ops/board/")
    # then: the colours as drawn
    red = browser_page.locator("#metric-active_unbilled .badge").evaluate("e => getComputedStyle(e).color")
    green = browser_page.locator("#metric-activation_lag .badge").evaluate("e => getComputedStyle(e).color")
    assert (red, green) == ("rgb(180, 35, 24)", "rgb(26, 127, 55)")
    assert browser_page.locator("#metric-active_unbilled svg.trend circle").count() == 1
    assert fits_the_screen(browser_page)
    shot(browser_page, "board-desktop")
    # and a click on the number opens exactly the unbilled service
    browser_page.click("#metric-active_unbilled a.drill")
    browser_page.wait_for_url("**/ops/board/active_unbilled/")
    links = browser_page.locator("#rows tbody a")
    assert links.count() == 1
    assert links.first.get_attribute("href") == f"/admin/provisioning/serviceinstance/{unbilled.pk}/change/"
    # on a phone
    browser_page.set_viewport_size(PHONE)
    browser_page.goto(live_server.url + "/ops/board/")
    assert fits_the_screen(browser_page)
    shot(browser_page, "board-phone")
