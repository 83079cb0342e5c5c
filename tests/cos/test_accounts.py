"""Accounts and error pages as a customer meets them: logging in with the e-mail as the phone types it, a new
password by e-mail on the site's own pages, a form that expired keeping what was typed, and pages of our own for
403, 404 and 500, with the operator's contact in every footer."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.cos.factories import UserFactory
from tests.marketplace.factories import world
from tests.marketplace.test_portal import _details

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


@pytest.mark.parametrize("typed", ["Anna.Lind@example.test", "ANNA.LIND@EXAMPLE.TEST", " anna.lind@example.test "])
def test_the_email_logs_in_whatever_the_phone_capitalised(client, typed):
    # given: the checkout made the login with the e-mail as the username
    UserFactory(username="anna.lind@example.test", email="anna.lind@example.test")
    # when
    response = client.post(LOGIN, {"username": typed, "password": "pw-123456"})
    # then
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_a_staff_login_by_username_also_takes_its_email(client):
    UserFactory(username="ops", email="Ops.Person@example.test")
    response = client.post(LOGIN, {"username": "ops.person@EXAMPLE.test", "password": "pw-123456"})
    assert response.status_code == 302


def test_a_wrong_password_is_refused_in_words_and_a_shared_email_logs_no_one_in(client):
    # given: two logins with the same e-mail address
    UserFactory(username="one", email="shared@example.test")
    UserFactory(username="two", email="shared@example.test")
    # when
    wrong = client.post(LOGIN, {"username": "one", "password": "nope"})
    shared = client.post(LOGIN, {"username": "shared@example.test", "password": "pw-123456"})
    # then
    assert wrong.status_code == shared.status_code == 200
    assert "do not match" in wrong.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lockout_counts_every_spelling_of_a_login_as_one(client, settings):
    # given: wrong passwords typed with different capitals
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="anna@example.test")
    for typed in ("Anna@example.test", "ANNA@example.test", "anna@example.test"):
        client.post(LOGIN, {"username": typed, "password": "guess"})
    # when
    right = client.post(LOGIN, {"username": "anna@example.test", "password": "pw-123456"})
    # then
    assert right.status_code == 429


def test_forgot_password_sends_a_link_that_sets_a_new_one_on_the_sites_own_pages(client, settings):
    # given
    settings.SITE_OPERATOR_NAME = "Mälarfiber"
    UserFactory(username="anna@example.test", email="anna@example.test")
    login_page = client.get(LOGIN).content.decode()
    assert 'href="/accounts/password_reset/"' in login_page
    assert "Forgot password?" in login_page
    # when: she asks with the capital her phone typed
    asked = client.post("/accounts/password_reset/", {"email": "Anna@example.test"}, follow=True)
    # then: a branded page and one message with the link
    assert "Check your e-mail" in asked.content.decode()
    assert "Django" not in asked.content.decode()
    (message,) = mail.outbox
    assert message.to == ["anna@example.test"]
    assert "Mälarfiber" in message.subject
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", message.body).group(1)
    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    saved = client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {"new_password1": "a-new-long-phrase", "new_password2": "a-new-long-phrase"},
        follow=True,
    )
    assert "Your new password is saved" in saved.content.decode()
    relogin = Client().post(LOGIN, {"username": "anna@example.test", "password": "a-new-long-phrase"})
    assert relogin.status_code == 302


def test_an_expired_checkout_form_says_so_and_gives_back_what_was_typed():
    # given: a customer on the details page, whose page then expires (the token no longer matches)
    client = Client(enforce_csrf_checks=True)
    w = world()
    client.get("/")  # a session and a token
    _choose_with_token(client, w)
    client.cookies["csrftoken"] = "x" * 32  # the cookie changed since the page was loaded (another tab, a login)
    # when
    expired = client.post(
        reverse("checkout-details"), {**_details(first_name="Eva-Lena"), "csrfmiddlewaretoken": "y" * 32}
    )
    # then: our page, the draft kept, the details back in the form, the password not
    assert expired.status_code == 403
    body = expired.content.decode()
    assert "This page had expired" in body
    assert "What you typed is kept" in body
    again = client.get(reverse("checkout-details")).content.decode()
    assert 'value="Eva-Lena"' in again
    assert "a-long-pass-phrase" not in again
    assert "checkout" in client.session  # the chosen offers are still there


def _choose_with_token(client, w):
    page = client.get(reverse("address-offers", args=[w.address.pk])).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(
        reverse("checkout-start"),
        {
            "address": w.address.pk,
            "customer_type": "residential",
            "offer": [f"{w.marketplace.pk}:{w.internet.pk}"],
            "csrfmiddlewaretoken": token,
        },
    )
    assert response.status_code == 302, response.content[:300]


def test_an_expired_form_on_the_api_paths_is_json():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/billing/stripe/webhook/x", {"a": "b"})
    assert response.status_code in (400, 403, 404, 405)
    assert response["Content-Type"].startswith("application/json")


def test_unknown_pages_and_forbidden_ones_are_ours_with_a_way_back(client):
    missing = client.get("/no/such/page/")
    assert missing.status_code == 404
    assert "We cannot find that page" in missing.content.decode()
    assert 'href="/"' in missing.content.decode()


def test_a_server_error_is_our_page(settings):
    from django.urls import path

    from cos import urls

    def boom(request):
        raise RuntimeError("boom")

    settings.DEBUG = False
    settings.ROOT_URLCONF = type(
        "Urls",
        (),
        {
            "urlpatterns": [path("boom/", boom)] + urls.urlpatterns,
            "handler500": urls.handler500,
            "handler404": urls.handler404,
        },
    )
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_every_page_has_the_icon_and_the_operators_contact_terms_and_privacy(client, settings):
    # given
    settings.SITE_CONTACT_EMAIL, settings.SITE_CONTACT_PHONE = "hej@malarfiber.se", "+46 21 12 34 56"
    w = world()
    w.marketplace.terms_text = "Uppsägningstid en månad."
    w.marketplace.save()
    # when
    home = client.get("/").content.decode()
    # then
    assert 'rel="icon"' in home
    assert "favicon.svg" in home
    assert 'href="mailto:hej@malarfiber.se"' in home
    assert 'href="tel:+4621123456"' in home
    assert 'href="/terms/"' in home
    assert 'href="/privacy/"' in home
    assert "Uppsägningstid en månad." in client.get("/terms/").content.decode()
    assert "hej@malarfiber.se" in client.get("/privacy/").content.decode()
    assert client.get("/favicon.ico")["Location"].endswith("favicon.svg")
