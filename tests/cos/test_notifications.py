"""Messages to subscribers (cos.notifications): written once per cause in the caller's transaction, in the
customer's language, on the channels the customer wants, sent after commit, retried when the server fails, never
sent twice; the admin shows each with its delivery state and can send it again."""

import json
import smtplib
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from cos import notifications, sms
from cos.choices import MessageChannel, MessageKind, MessageStatus
from cos.models import Message
from cos.sms import phone_e164
from tests.cos.factories import CustomerFactory

pytestmark = pytest.mark.django_db

BROKEN = "tests.cos.test_notifications.UnreachableMailServer"
INVOICE = SimpleNamespace(number="F-2026-0042")


class UnreachableMailServer(BaseEmailBackend):
    """A mail server that drops the connection, as one that is down does."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture(autouse=True)
def _retry_policy(settings):
    settings.EVENTS_RETRY_BASE_SECONDS = 10
    settings.EVENTS_RETRY_MAX_SECONDS = 3600
    settings.EVENTS_MAX_ATTEMPTS = 3


def _restored(customer, key="restored-1", **kwargs) -> list[Message]:
    return notifications.notify(
        customer=customer, kind=MessageKind.DUNNING_RESTORED, key=key, context={"invoice": INVOICE}, **kwargs
    )


def test_a_message_is_emailed_once_its_cause_commits(django_capture_on_commit_callbacks):
    # given
    customer = CustomerFactory(language="en")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        (message,) = _restored(customer)
        assert (message.status, mail.outbox) == (MessageStatus.QUEUED, [])
    # then
    message.refresh_from_db()
    assert (message.status, message.attempts, message.to) == (MessageStatus.SENT, 1, customer.email)
    assert message.sent_at is not None
    assert message.provider_message_id.startswith("<")
    assert message.provider_message_id.endswith("@cos.local>")  # the sender's domain, from "Name <address>"
    (sent,) = mail.outbox
    assert (sent.to, sent.subject) == ([customer.email], "Your service is restored")
    assert "invoice F-2026-0042 is paid" in sent.body


def _restored_then_rolled_back(customer) -> None:
    with transaction.atomic():
        _restored(customer)
        raise RuntimeError("the cause failed")


def test_a_rolled_back_cause_sends_nothing(django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        _restored_then_rolled_back(customer)
    assert (Message.objects.count(), mail.outbox) == (0, [])


def test_the_same_cause_notified_again_sends_nothing_more(django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first = _restored(customer)
    with django_capture_on_commit_callbacks(execute=True):
        again = _restored(customer)
    assert (len(first), again, len(mail.outbox)) == (1, [], 1)
    assert Message.objects.filter(customer=customer).count() == 1


def test_messages_are_written_in_the_customers_language(django_capture_on_commit_callbacks):
    # given: a Swedish and an English customer
    svensk, english = CustomerFactory(language="sv"), CustomerFactory(language="en")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        _restored(svensk)
        _restored(english)
    # then
    subjects = {message.to[0]: message.subject for message in mail.outbox}
    assert subjects == {svensk.email: "Din tjänst är öppnad igen", english.email: "Your service is restored"}
    assert Message.objects.get(customer=svensk).language == "sv"


def test_dates_and_amounts_are_written_the_customers_way():
    # given: a payment failure with a retry date and an amount with decimals
    context = {
        "invoice": INVOICE,
        "payment": SimpleNamespace(amount=Decimal("1234.50"), currency="SEK"),
        "retry_on": date(2026, 12, 24),
    }
    # when
    _, swedish = notifications.message_render(
        kind=MessageKind.PAYMENT_FAILED, language="sv", channel=MessageChannel.EMAIL, context=context
    )
    _, english = notifications.message_render(
        kind=MessageKind.PAYMENT_FAILED, language="en", channel=MessageChannel.EMAIL, context=context
    )
    # then
    assert "1234,50 SEK" in swedish
    assert "24 december 2026" in swedish
    assert "1234.50 SEK" in english
    assert "24 December 2026" in english


def test_channels_follow_the_customers_preferences(django_capture_on_commit_callbacks):
    # given: one customer wants SMS only, one e-mail only
    sms_only = CustomerFactory(notify_by_email=False, notify_by_sms=True, phone="070-123 45 67")
    email_only = CustomerFactory(notify_by_email=True, notify_by_sms=False, phone="0701234568")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        _restored(sms_only)
        _restored(email_only)
    # then
    assert [m.to for m in mail.outbox] == [[email_only.email]]
    assert [(s.to, s.sender) for s in sms.outbox] == [("+46701234567", "COS")]
    assert set(Message.objects.values_list("customer", "channel")) == {
        (sms_only.pk, MessageChannel.SMS),
        (email_only.pk, MessageChannel.EMAIL),
    }


def test_a_mandatory_message_is_emailed_whatever_the_preference(django_capture_on_commit_callbacks):
    customer = CustomerFactory(notify_by_email=False)
    with django_capture_on_commit_callbacks(execute=True):
        _restored(customer, mandatory=True, email="invoices@example.test")
    assert [m.to for m in mail.outbox] == [["invoices@example.test"]]


def test_an_sms_without_a_valid_number_is_skipped_with_the_reason(django_capture_on_commit_callbacks):
    # given: SMS wanted, but the number is not one
    customer = CustomerFactory(notify_by_email=False, notify_by_sms=True, phone="call me")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        (message,) = _restored(customer)
    # then
    message.refresh_from_db()
    assert (message.status, message.skip_reason, sms.outbox) == (
        MessageStatus.SKIPPED,
        "not a phone number: call me",
        [],
    )


def test_a_kind_without_an_sms_template_sends_no_sms(django_capture_on_commit_callbacks):
    customer = CustomerFactory(notify_by_email=True, notify_by_sms=True, phone="+46701234567")
    with django_capture_on_commit_callbacks(execute=True):
        written = notifications.notify(
            customer=customer,
            kind=MessageKind.PAYMENT_METHOD_MISSING,
            key="no-method-1",
            context={"invoice": SimpleNamespace(number="F-1", total="10.00", currency="SEK")},
        )
    assert [m.channel for m in written] == [MessageChannel.EMAIL]
    assert sms.outbox == []


@pytest.mark.parametrize(
    ("typed", "country", "e164"),
    [
        ("070-123 45 67", "SE", "+46701234567"),
        ("+46 70 123 45 67", "SE", "+46701234567"),
        ("0046701234567", "SE", "+46701234567"),
        ("(0)40 12 34 56", "NO", "+4740123456"),
        ("0701234567", "US", None),
        ("12", "SE", None),
        ("", "SE", None),
        ("+46 70 CALL ME", "SE", None),
    ],
)
def test_phone_numbers_are_written_in_e164(typed, country, e164):
    assert phone_e164(typed, country=country) == e164


def test_a_failed_delivery_is_tried_again_after_a_growing_wait_then_given_up(
    settings, django_capture_on_commit_callbacks
):
    # given: the mail server is down
    settings.EMAIL_BACKEND = BROKEN
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        (message,) = _restored(customer)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.FAILED, 1)
    assert "SMTPServerDisconnected" in message.last_error
    first_wait = message.next_attempt_at - message.updated_at
    # when: nothing is due before the wait is over, then the retry job tries again, twice
    assert notifications.messages_retry_due(now=message.next_attempt_at - timedelta(seconds=1)) == 0
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert notifications.messages_retry_due(now=message.next_attempt_at) == 1
        message.refresh_from_db()
    # then: tried three times, the second wait twice the first, then given up
    assert (message.status, message.attempts, message.next_attempt_at) == (MessageStatus.DEAD, 3, None)
    assert timedelta(seconds=9) < first_wait < timedelta(seconds=11)
    assert notifications.messages_retry_due(now=timezone.now() + timedelta(days=1)) == 0


def test_a_message_whose_server_came_back_is_sent_once(settings, django_capture_on_commit_callbacks):
    # given: a failed try
    settings.EMAIL_BACKEND = BROKEN
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        (message,) = _restored(customer)
    message.refresh_from_db()
    # when: the server is back and the retry job runs twice, and the event is delivered again
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        notifications.messages_retry_due(now=message.next_attempt_at)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.messages_retry_due(now=message.next_attempt_at + timedelta(hours=1))
    notifications.message_deliver(message_id=message.pk)
    # then
    message.refresh_from_db()
    assert (message.status, message.attempts, len(mail.outbox)) == (MessageStatus.SENT, 2, 1)


def test_a_message_being_sent_is_not_taken_by_a_second_sender(django_capture_on_commit_callbacks):
    # given: a message another sender has just taken (its lease running)
    customer = CustomerFactory()
    (message,) = _restored(customer)
    Message.objects.filter(pk=message.pk).update(sending_until=timezone.now() + timedelta(minutes=5))
    # when
    notifications.message_deliver(message_id=message.pk)
    assert notifications.messages_retry_due(now=timezone.now() + timedelta(minutes=1)) == 0
    # then: nothing sent by this one; once the lease is over (the sender died), the retry job sends it
    assert mail.outbox == []
    Message.objects.filter(pk=message.pk).update(sending_until=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications.messages_retry_due(now=timezone.now() + timedelta(minutes=1)) == 1
    assert len(mail.outbox) == 1


def test_a_lost_hand_over_is_sent_by_the_retry_job(django_capture_on_commit_callbacks):
    # given: a queued message whose hand-over to Celery never happened (no on-commit callbacks run)
    customer = CustomerFactory()
    (message,) = _restored(customer)
    # when: the retry job runs after the grace time
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications.messages_retry_due(now=message.next_attempt_at) == 1
    # then
    message.refresh_from_db()
    assert (message.status, len(mail.outbox)) == (MessageStatus.SENT, 1)


def test_attachments_are_made_when_the_message_is_sent(django_capture_on_commit_callbacks):
    # given: an attachment provider
    made = []

    @notifications.attachment("test_note")
    def note(ref):
        made.append(ref)
        return f"note-{ref}.txt", b"hello", "text/plain"

    customer = CustomerFactory()
    # when
    (message,) = _restored(customer, attachments=[{"kind": "test_note", "ref": 7}])
    assert made == []
    with django_capture_on_commit_callbacks(execute=True):
        notifications.messages_retry_due(now=message.next_attempt_at)
    # then
    assert made == [7]
    assert mail.outbox[0].attachments == [("note-7.txt", "hello", "text/plain")]


def test_an_unknown_attachment_fails_the_delivery_with_a_clear_error(django_capture_on_commit_callbacks):
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        (message,) = _restored(customer, attachments=[{"kind": "nowhere", "ref": 1}])
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "no attachment provider for 'nowhere'" in message.last_error
    assert mail.outbox == []


@pytest.fixture
def root(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.test", "pw-123456"))
    return client


def test_the_admin_lists_each_message_with_its_state_and_sends_a_dead_one_again(
    root, settings, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    # given: one message sent, one given up
    customer = CustomerFactory(first_name="Anna", last_name="Admin", language="en")
    with django_capture_on_commit_callbacks(execute=True):
        (sent,) = _restored(customer, key="ok")
    settings.EMAIL_BACKEND = BROKEN
    settings.EVENTS_MAX_ATTEMPTS = 1
    with django_capture_on_commit_callbacks(execute=True):
        (dead,) = _restored(customer, key="broken")
    dead.refresh_from_db()
    assert dead.status == MessageStatus.DEAD
    url = reverse("admin:cos_message_changelist")
    # when: the list, filtered by state
    with django_assert_max_num_queries(12):
        response = root.get(url, {"status": MessageStatus.DEAD})
    # then
    assert [m.pk for m in response.context["cl"].result_list] == [dead.pk]
    assert "Given up" in response.content.decode()
    detail = root.get(reverse("admin:cos_message_change", args=[dead.pk]))
    assert "invoice F-2026-0042 is paid" in detail.content.decode()
    # when: sent again, the server back
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        root.post(url, {"action": "action_message_requeue", "_selected_action": [dead.pk, sent.pk]})
    # then: the given-up one is sent; the sent one is not sent again (refused)
    dead.refresh_from_db()
    assert (dead.status, len(mail.outbox)) == (MessageStatus.SENT, 1)
    assert Message.objects.get(pk=sent.pk).attempts == 1


def test_the_file_backend_writes_one_json_line_per_sms(settings, tmp_path):
    # given
    path = tmp_path / "sms.jsonl"
    settings.SMS_URL = f"file://{path}"
    # when
    first = sms.sms_send(to="+46701234567", body="Hej")
    sms.sms_send(to="+46707654321", body="Hello")
    # then
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["to"], line["message"], line["from"]) for line in lines] == [
        ("+46701234567", "Hej", "COS"),
        ("+46707654321", "Hello", "COS"),
    ]
    assert lines[0]["id"] == first


def test_an_unknown_sms_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backend 'twilio'"):
        sms.backend_for("twilio://key@api.example.test")


def test_finance_may_send_a_message_again_and_a_technician_may_not(django_user_model):
    # given: the role groups as migrate leaves them
    from django.contrib.auth.models import Group

    from cos.choices import Role
    from cos.roles import role_groups_sync

    role_groups_sync()
    # then
    finance = set(Group.objects.get(name=Role.FINANCE).permissions.values_list("codename", flat=True))
    technician = set(Group.objects.get(name=Role.TECHNICIAN).permissions.values_list("codename", flat=True))
    assert {"view_message", "change_message"} <= finance
    assert "delete_message" not in finance
    assert "change_message" not in technician
