"""Guessing passwords is stopped: after a few wrong ones a login is locked for a while, with a clear message, on the
portal and the admin alike; the right password before that resets the count."""

import pytest
from django.urls import reverse

from tests.cos.factories import UserFactory

pytestmark = pytest.mark.django_db

PORTAL, ADMIN = "/accounts/login/", "/admin/login/"


def _try(client, url, username, password):
    return client.post(url, {"username": username, "password": password})


@pytest.mark.parametrize("url", [PORTAL, ADMIN])
def test_five_wrong_passwords_lock_the_login_with_a_message_saying_when_to_retry(client, settings, url):
    # given
    settings.AXES_FAILURE_LIMIT = 5
    UserFactory(username="anna", is_staff=True)
    for _ in range(4):
        assert _try(client, url, "anna", "guess").status_code == 200  # the form again, with its error
    # when: the fifth wrong one, then even the right password
    fifth = _try(client, url, "anna", "guess")
    right = _try(client, url, "anna", "pw-123456")
    # then
    assert fifth.status_code == right.status_code == 429
    page = right.content.decode()
    assert "Too many failed logins" in page
    assert "paused for 15 minutes" in page
    assert right["Retry-After"] == "900"
    assert "_auth_user_id" not in client.session


def test_the_right_password_before_the_limit_logs_in_and_starts_the_count_again(client, settings):
    # given
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="anna")
    _try(client, PORTAL, "anna", "guess")
    _try(client, PORTAL, "anna", "guess")
    # when
    response = _try(client, PORTAL, "anna", "pw-123456")
    # then: logged in, and two more wrong ones later do not lock yet
    assert response.status_code == 302
    client.logout()
    assert _try(client, PORTAL, "anna", "guess").status_code == 200
    assert _try(client, PORTAL, "anna", "guess").status_code == 200
    assert _try(client, PORTAL, "anna", "pw-123456").status_code == 302


def test_one_locked_login_does_not_lock_another_persons(client, settings):
    # given: anna is locked out from this address
    settings.AXES_FAILURE_LIMIT = 2
    UserFactory(username="anna")
    UserFactory(username="erik")
    _try(client, PORTAL, "anna", "guess")
    assert _try(client, PORTAL, "anna", "guess").status_code == 429
    # when
    response = _try(client, PORTAL, "erik", "pw-123456")
    # then
    assert response.status_code == 302
    assert response.url == reverse("portal")
