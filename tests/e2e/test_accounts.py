"""A customer's account on a 390x844 phone, in a real browser: the e-mail typed with the capital the phone adds
logs in; "Forgot password?" leads to the site's own pages; a wrong link and an unknown page are ours, with a way
back and the operator's contact. Screenshots go to $COS_SHOTS_DIR (tests/e2e/phone.py)."""

import re

import pytest
from django.core import mail

from tests.cos.factories import UserFactory
from tests.e2e.phone import fits_the_screen, shot

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_capitalised_email_logs_in_and_a_forgotten_password_is_reset_on_a_phone(phone, settings):
    # given: a login made by the checkout (the e-mail is the username)
    settings.SITE_CONTACT_EMAIL = "hej@malarfiber.se"
    UserFactory(username="eva.berg@example.test", email="eva.berg@example.test")
    # when: the phone capitalises the first letter
    phone.goto(phone.base_url + "/accounts/login/")
    assert phone.get_attribute("#id_username", "autocapitalize") == "none"
    phone.fill("#id_username", "Eva.berg@example.test")
    phone.fill("#id_password", "pw-123456")
    shot(phone, "1-login")
    phone.click("button[type=submit]")
    # then
    phone.wait_for_selector("h1:has-text('My services')")
    phone.click("button:has-text('Log out')")

    # when: she forgets the password
    phone.goto(phone.base_url + "/accounts/login/")
    phone.click("text=Forgot password?")
    phone.fill("#id_email", "Eva.Berg@example.test")
    shot(phone, "2-forgot")
    phone.click("button:has-text('Send the link')")
    phone.wait_for_selector("h1:has-text('Check your e-mail')")
    assert "Django" not in phone.content()
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[-1].body).group(1)
    phone.goto(phone.base_url + link)
    phone.fill("#id_new_password1", "a-new-long-phrase")
    phone.fill("#id_new_password2", "a-new-long-phrase")
    shot(phone, "3-new-password")
    assert fits_the_screen(phone)
    phone.click("button:has-text('Save the new password')")
    phone.wait_for_selector("h1:has-text('Your new password is saved')")

    # then: the new password works, and the used link is refused in words
    phone.click("text=Log in")
    phone.fill("#id_username", "eva.berg@example.test")
    phone.fill("#id_password", "a-new-long-phrase")
    phone.click("button[type=submit]")
    phone.wait_for_selector("h1:has-text('My services')")
    phone.goto(phone.base_url + link)
    phone.wait_for_selector("text=This link has been used already")
    shot(phone, "4-used-link")


def test_an_unknown_page_is_ours_with_a_way_back_and_the_contact_on_a_phone(phone, settings):
    settings.SITE_CONTACT_EMAIL = "hej@malarfiber.se"
    response = phone.goto(phone.base_url + "/no/such/page/")
    assert response.status == 404
    phone.wait_for_selector("h1:has-text('We cannot find that page')")
    assert phone.is_visible("footer a[href='mailto:hej@malarfiber.se']")
    assert fits_the_screen(phone)
    shot(phone, "5-not-found")
    phone.click("text=Find your address")
    assert phone.url.rstrip("/") == phone.base_url.rstrip("/")
