"""The settlement page in a real browser (Debian's chromium, as tests/e2e): on a 1366x768 screen and on a phone it
does not scroll sideways, the chart is drawn, and the variance badges are green and red. Screenshots go to
$COS_SHOTS_DIR (tests/e2e/phone.py) for a person to look at."""

import os
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client

from cos.choices import Role
from cos.periods import add_months
from cos.services import membership_grant
from marketplace.selectors import local_day
from tests.cos.factories import UserFactory
from tests.e2e.conftest import CHROMIUM, browser_page  # noqa: F401 - the browser fixture
from tests.e2e.phone import PHONE, fits_the_screen, shot
from tests.marketplace.factories import world
from tests.wholesale.factories import operator
from wholesale.choices import DisputeStatus, LineKind, VarianceKind
from wholesale.models import Statement, StatementDispute, Variance

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"needs Debian's chromium at {CHROMIUM}"),
]

DESKTOP = {"width": 1366, "height": 768}


def _months_of_statements() -> None:
    """Two providers with a year of statements; Alfa on target, Beta past the alert, with an open dispute."""
    from django.utils import timezone

    last = add_months(local_day(timezone.now(), settings.SITE_TIME_ZONE).replace(day=1), -1)
    for name, base, gap in (("Alfa Fiber", 42000, "10.00"), ("Beta Net", 18000, "-400.00")):
        w = world()
        w.provider.name = name
        w.provider.save(update_fields=["name"])
        for back in range(12):
            total = Decimal(base + 900 * (11 - back) - 300 * (back % 3))
            statement = Statement.objects.create(
                operator=operator(), provider=w.provider, currency="SEK", month=add_months(last, -back), total=total
            )
            if back == 0:
                statement.lines.create(kind=LineKind.ACCESS, amount=total / Decimal("1.25"))
                latest = statement
        Variance.objects.create(
            operator=operator(), provider=w.provider, month=last, kind=VarianceKind.RATE_MISMATCH, amount=gap
        )
        Variance.objects.create(
            operator=operator(), provider=w.provider, month=last, kind=VarianceKind.WHOLESALE_WITHOUT_RETAIL, amount=-5
        )
    StatementDispute.objects.create(
        statement=latest, reason_code="not_live", amount=Decimal("120.00"), status=DisputeStatus.OPEN
    )


def _logged_in(page, live_server) -> None:
    user = UserFactory(username="fia-finance")
    membership_grant(user=user, organization=operator(), role=Role.FINANCE)
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def test_the_settlement_page_reads_on_a_desktop_and_on_a_phone(browser_page, live_server):  # noqa: F811
    # given
    _months_of_statements()
    context = browser_page.context.browser.new_context(viewport=DESKTOP)
    desktop = context.new_page()
    desktop.set_default_timeout(15_000)
    _logged_in(desktop, live_server)
    # when
    desktop.goto(live_server.url + "/ops/settlement/")
    # then: the chart with a line per provider, the badges coloured, nothing wider than the screen
    assert desktop.locator("h1").inner_text().startswith("Settlement")
    assert desktop.locator("svg.history-chart path").count() == 2
    assert desktop.locator("svg.history-chart circle").count() == 24
    ok = desktop.locator(".badge.variance.ok").evaluate("e => getComputedStyle(e).color")
    bad = desktop.locator(".badge.variance.bad").evaluate("e => getComputedStyle(e).color")
    assert (ok, bad) == ("rgb(26, 127, 55)", "rgb(180, 35, 24)")
    assert fits_the_screen(desktop)
    shot(desktop, "settlement-desktop")
    # and on a phone
    _logged_in(browser_page, live_server)
    browser_page.set_viewport_size(PHONE)
    browser_page.goto(live_server.url + "/ops/settlement/")
    assert browser_page.locator("svg.history-chart").is_visible()
    assert fits_the_screen(browser_page)
    shot(browser_page, "settlement-phone")
    context.close()
