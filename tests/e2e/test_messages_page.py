"""On a phone, a subscriber reads the messages sent to them and turns on SMS: nothing scrolls sideways, the whole
message can be read. Screenshots go to /tmp/message-shots/."""

from datetime import date
from pathlib import Path

import pytest

from cos.models import Customer, Message
from tests.billing.factories import activate, subscription
from tests.cos.factories import UserFactory
from tests.marketplace.factories import world

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = Path("/tmp/message-shots")
WIDTH = 360


def _sideways(page) -> dict:
    return page.evaluate(
        """() => ({page: document.documentElement.scrollWidth, inner: window.innerWidth,
                  boxes: [...document.querySelectorAll('body *')].filter(
                      e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible'
                  ).map(e => e.tagName + '.' + e.className)})"""
    )


def test_a_subscriber_reads_their_messages_and_turns_on_sms_on_a_phone(browser_page):
    page = browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    # given: a subscriber told of their first invoice, in English
    w = world()
    w.customer.user = UserFactory(username="eva")
    w.customer.language = "en"
    w.customer.save(update_fields=["user", "language"])
    invoice = activate(subscription(w), date(2025, 3, 10))
    assert Message.objects.filter(customer=w.customer).exists()
    page.goto(page.base_url + "/accounts/login/")
    page.fill("#id_username", "eva")
    page.fill("#id_password", "pw-123456")
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('My services')")
    # when: the Messages page, and the invoice message opened
    page.click("nav >> text=Messages")
    page.wait_for_selector("h1:has-text('Messages')")
    page.click(".message-list li >> text=Read")
    # then: readable on the phone
    assert page.is_visible(f".message-list pre:has-text('your invoice {invoice.number}')")
    page.screenshot(path=str(SHOTS / "1-messages.png"), full_page=True)
    where = _sideways(page)
    assert (where["page"] <= where["inner"], where["boxes"]) == (True, []), where
    # when: SMS turned on with a mobile number
    page.check("#id_notify_by_sms")
    page.fill("#id_phone", "070-123 45 67")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Your message settings are saved.")
    page.screenshot(path=str(SHOTS / "2-saved.png"), full_page=True)
    # then
    customer = Customer.objects.get(pk=w.customer.pk)
    assert (customer.notify_by_sms, customer.phone) == (True, "+46701234567")
