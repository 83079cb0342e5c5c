"""The portal's Messages page: what was sent to me, newest first, and how I want to be told (language, e-mail,
SMS with my mobile number)."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import time_machine
from django.urls import reverse

from cos import notifications
from cos.choices import MessageKind
from cos.models import Customer
from tests.cos.factories import CustomerFactory

pytestmark = pytest.mark.django_db

URL = "/portal/messages/"


@pytest.fixture
def anna(client, django_user_model):
    user = django_user_model.objects.create_user("anna", "anna@example.test", "pw-123456")
    customer = CustomerFactory(user=user, email="anna@example.test", language="en")
    client.force_login(user)
    return customer


def _restored(customer, number: str):
    return notifications.notify(
        customer=customer,
        kind=MessageKind.DUNNING_RESTORED,
        key=f"restored-{number}",
        context={"invoice": SimpleNamespace(number=number)},
    )


def test_my_messages_are_listed_newest_first_and_only_mine(client, anna, django_assert_max_num_queries):
    # given: two messages to me, one to someone else
    for number in ("F-1", "F-2", "F-3"):
        _restored(anna, number)
    _restored(CustomerFactory(language="en"), "F-OTHER")
    # when
    with django_assert_max_num_queries(8):
        response = client.get(URL)
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert body.index("invoice F-3 is paid") < body.index("invoice F-2 is paid") < body.index("invoice F-1 is paid")
    assert "F-OTHER" not in body
    assert "On its way" in body
    assert reverse("portal-messages") == URL


def test_the_messages_page_is_linked_from_my_services(client, anna):
    assert f'href="{URL}"' in client.get(reverse("portal")).content.decode()


def test_i_choose_swedish_and_sms_to_my_mobile(client, anna):
    # when
    response = client.post(
        URL, {"language": "sv", "notify_by_email": "on", "notify_by_sms": "on", "phone": "070-123 45 67"}
    )
    # then
    assert response.status_code == 302
    anna.refresh_from_db()
    assert (anna.language, anna.notify_by_email, anna.notify_by_sms, anna.phone) == ("sv", True, True, "+46701234567")


def test_sms_without_a_mobile_number_is_refused_and_nothing_changes(client, anna):
    before = Customer.objects.values("language", "notify_by_sms", "phone").get(pk=anna.pk)
    response = client.post(URL, {"language": "sv", "notify_by_sms": "on", "phone": ""})
    assert response.status_code == 200
    assert "Enter the mobile number the SMS go to." in response.content.decode()
    assert Customer.objects.values("language", "notify_by_sms", "phone").get(pk=anna.pk) == before


def test_a_number_that_is_not_one_is_refused(client, anna):
    response = client.post(URL, {"language": "en", "notify_by_email": "on", "phone": "call me"})
    assert "Enter a mobile number, e.g. 070-123 45 67" in response.content.decode()
    anna.refresh_from_db()
    assert anna.phone == ""


def test_an_unknown_language_is_refused(client, anna):
    response = client.post(URL, {"language": "de", "notify_by_email": "on"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    anna.refresh_from_db()
    assert anna.language == "en"


def test_without_a_login_the_page_asks_for_one(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_a_message_is_dated_in_the_customers_time_zone(client, anna, settings):
    # given: a message written at 23:30 UTC on New Year's Eve (00:30 on 1 January in Stockholm)
    settings.SITE_TIME_ZONE = "Europe/Stockholm"
    with time_machine.travel(datetime(2026, 12, 31, 23, 30, tzinfo=UTC), tick=False):
        _restored(anna, "F-9")
    # when
    body = client.get(URL).content.decode()
    # then
    assert "1 Jan 2027, 00:30" in body
