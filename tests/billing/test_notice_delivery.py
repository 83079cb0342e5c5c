"""Billing notices go through the outbox: e-mailed once their cause commits, with a delivery state (sent, failed
and tried again with a growing wait, given up, skipped without an address), never silently lost."""

import smtplib
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from billing import notices, payments
from billing.choices import NoticeKind, NoticeStatus
from billing.models import BillingAccount, BillingNotice
from billing.services import account_for
from cos import events
from cos.choices import HandlerRunStatus
from cos.models import Customer, Event, HandlerRun, TransitionLog
from tests.billing.factories import DECLINED_CARD, activate, subscription
from tests.billing.money_helpers import DAY, add_method, automatic_account

pytestmark = pytest.mark.django_db

BROKEN = "tests.billing.test_notice_delivery.UnreachableMailServer"


class UnreachableMailServer(BaseEmailBackend):
    """A mail server that drops the connection, as one that is down or overloaded does."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


@pytest.fixture(autouse=True)
def _retry_policy(settings):
    settings.EVENTS_RETRY_BASE_SECONDS = 10
    settings.EVENTS_RETRY_MAX_SECONDS = 3600
    settings.EVENTS_MAX_ATTEMPTS = 4


def _account() -> BillingAccount:
    account = account_for(subscription())
    BillingAccount.objects.filter(pk=account.pk).update(invoice_email="payer@example.test")
    return BillingAccount.objects.select_related("customer").get(pk=account.pk)


def _notice(account, key="failed-1") -> BillingNotice:
    return notices.notice_send(
        account, kind=NoticeKind.PAYMENT_FAILED, key=key, subject="Payment failed", body="Your payment failed."
    )


def _fresh(notice) -> BillingNotice:
    return BillingNotice.objects.get(pk=notice.pk)


def _log(notice) -> list[str]:
    rows = TransitionLog.objects.filter(
        content_type=ContentType.objects.get_for_model(BillingNotice), object_id=notice.pk
    ).order_by("created_at", "id")
    return [row.transition for row in rows]


def test_a_notice_is_emailed_once_its_cause_commits_and_records_the_delivery(django_capture_on_commit_callbacks):
    # given
    account = _account()
    # when: a payment fails (the notice is written in the same transaction)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        notice = _notice(account)
        # then: nothing is sent before the transaction commits
        assert (notice.status, len(mail.outbox)) == (NoticeStatus.PENDING, 0)
    # then: e-mailed once, and the notice says so
    assert [(m.to, m.subject) for m in mail.outbox] == [(["payer@example.test"], "Payment failed")]
    notice = _fresh(notice)
    assert (notice.status, notice.attempts, notice.last_error) == (NoticeStatus.SENT, 1, "")
    assert notice.sent_at is not None
    assert _log(notice) == ["mark_sent"]
    assert Event.objects.filter(name="billing_notice.queued", payload__notice_id=notice.pk).count() == 1


def _notice_then_fail(account) -> None:
    with transaction.atomic():
        _notice(account)
        raise RuntimeError("the payment was not recorded after all")


def test_a_cause_rolled_back_sends_nothing(django_capture_on_commit_callbacks):
    account = _account()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        _notice_then_fail(account)
    assert mail.outbox == []
    assert not BillingNotice.objects.exists()


def test_the_dunning_notice_of_a_declined_card_goes_through_the_outbox(django_capture_on_commit_callbacks):
    # given: an automatic account whose card declines
    sub = subscription()
    add_method(automatic_account(sub), DECLINED_CARD)
    # when: its first invoice is charged
    with django_capture_on_commit_callbacks(execute=True):
        activate(sub, DAY)
    # then: the subscriber is told, and the notice is sent
    notice = BillingNotice.objects.get(kind=NoticeKind.PAYMENT_FAILED)
    assert notice.status == NoticeStatus.SENT
    assert [m.subject for m in mail.outbox] == [notice.subject]


def test_a_failed_email_is_recorded_and_sent_on_a_later_try(settings, django_capture_on_commit_callbacks):
    # given: the mail server is down when the notice is delivered
    settings.EMAIL_BACKEND = BROKEN
    account = _account()
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        notice = _notice(account)
    # then: failed, with the error and the time of the next try; the delivery itself is done (not lost, not stuck)
    notice = _fresh(notice)
    assert (notice.status, notice.attempts) == (NoticeStatus.FAILED, 1)
    assert "Connection unexpectedly closed" in notice.last_error
    assert before + timedelta(seconds=10) <= notice.next_attempt_at <= timezone.now() + timedelta(seconds=10)
    assert HandlerRun.objects.get(event__payload__notice_id=notice.pk).status == HandlerRunStatus.SUCCEEDED
    assert mail.outbox == []
    # when: the sweep runs before the wait is over, then after it, with the mail server back
    with django_capture_on_commit_callbacks(execute=True):
        assert payments.payments_sweep(now=notice.next_attempt_at - timedelta(seconds=1))["notices"] == 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        assert payments.payments_sweep(now=notice.next_attempt_at)["notices"] == 1
    # then: sent on the second try
    notice = _fresh(notice)
    assert (notice.status, notice.attempts, notice.last_error) == (NoticeStatus.SENT, 2, "")
    assert notice.next_attempt_at is None
    assert len(mail.outbox) == 1
    assert _log(notice) == ["fail", "mark_sent"]


def test_the_wait_doubles_and_the_notice_is_given_up_after_the_last_try(settings, django_capture_on_commit_callbacks):
    # given: the mail server stays down
    settings.EMAIL_BACKEND = BROKEN
    settings.EVENTS_MAX_ATTEMPTS = 3
    with django_capture_on_commit_callbacks(execute=True):
        notice = _notice(_account())
    waits = []
    # when: each try is made when it is due
    for _ in range(2):
        tried_at = timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            notices.notices_retry_due(now=_fresh(notice).next_attempt_at)
        after = _fresh(notice)
        if after.next_attempt_at:
            waits.append((after.next_attempt_at - tried_at).total_seconds())
    # then: waited 20 s after the second failure (10 s after the first), and given up at the third
    notice = _fresh(notice)
    assert len(waits) == 1
    assert 20 <= waits[0] < 21
    assert (notice.status, notice.attempts, notice.next_attempt_at) == (NoticeStatus.DEAD, 3, None)
    assert _log(notice) == ["fail", "fail", "give_up"]
    with django_capture_on_commit_callbacks(execute=True):
        assert notices.notices_retry_due(now=timezone.now() + timedelta(days=1)) == 0


def test_a_broker_down_at_commit_delays_the_notice_and_the_events_sweep_sends_it(
    monkeypatch, django_capture_on_commit_callbacks
):
    # given: the broker refuses the dispatch after commit
    from cos import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis: Connection refused.")

    account = _account()
    with monkeypatch.context() as broker:
        broker.setattr(tasks.handler_run_task, "delay", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            notice = _notice(account)
    assert (_fresh(notice).status, mail.outbox) == (NoticeStatus.PENDING, [])
    # when: the events sweep runs
    with django_capture_on_commit_callbacks(execute=True):
        events.events_sweep(now=timezone.now() + timedelta(minutes=5))
    # then
    assert _fresh(notice).status == NoticeStatus.SENT
    assert len(mail.outbox) == 1


def test_a_notice_delivered_twice_is_emailed_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notice = _notice(_account())
    again = notices.notice_deliver(notice_id=notice.pk)
    assert again.status == NoticeStatus.SENT
    assert len(mail.outbox) == 1


def test_a_notice_without_an_address_is_kept_and_skipped(django_capture_on_commit_callbacks):
    # given: no invoice address and no customer e-mail
    account = _account()
    BillingAccount.objects.filter(pk=account.pk).update(invoice_email="")
    Customer.objects.filter(pk=account.customer_id).update(email="")
    account = BillingAccount.objects.select_related("customer").get(pk=account.pk)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        notice = _notice(account)
    # then
    assert _fresh(notice).status == NoticeStatus.SKIPPED
    assert mail.outbox == []


# --- the admin -----------------------------------------------------------------------------------------------


@pytest.fixture
def root(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.test", "pw-123456")
    client.force_login(user)
    return client


def test_the_admin_shows_the_delivery_state_and_sends_a_given_up_notice_again(
    root, settings, django_capture_on_commit_callbacks
):
    # given: one notice sent, one given up
    account = _account()
    with django_capture_on_commit_callbacks(execute=True):
        sent = _notice(account, key="sent-1")
    settings.EMAIL_BACKEND = BROKEN
    settings.EVENTS_MAX_ATTEMPTS = 1
    with django_capture_on_commit_callbacks(execute=True):
        dead = _notice(account, key="dead-1")
    assert _fresh(dead).status == NoticeStatus.DEAD
    url = reverse("admin:billing_billingnotice_changelist")
    # when / then: the list shows each one's state and filters by it
    page = root.get(url).content.decode()
    assert '<td class="field-status">Given up</td>' in page
    assert '<td class="field-status">Sent</td>' in page
    assert '<td class="field-attempts">1</td>' in page
    response = root.get(url, {"status": NoticeStatus.DEAD})
    assert {n.pk for n in response.context["cl"].result_list} == {dead.pk}
    # when: the operator sends it again, the mail server being back
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        root.post(url, {"action": "action_notice_requeue", "_selected_action": [dead.pk]}, follow=True)
    # then
    assert _fresh(dead).status == NoticeStatus.SENT
    assert _fresh(sent).status == NoticeStatus.SENT
    assert [m.subject for m in mail.outbox] == ["Payment failed", "Payment failed"]
