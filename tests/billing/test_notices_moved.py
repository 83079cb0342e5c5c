"""The migration that made billing's notices the core's messages keeps each one, with its delivery state: nothing
sent before is sent again, and one still waiting is sent."""

import pytest
from django.core import mail
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from billing.services import account_for
from cos import notifications
from cos.choices import MessageChannel, MessageStatus
from cos.models import Message
from tests.billing.factories import subscription

BEFORE = [("billing", "0008_prices_include_tax"), ("cos", "0010_messages_to_subscribers")]
AFTER = [("billing", "0009_notices_become_messages")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _migrate_to_now():
    """Every app's latest migration again (what BEFORE rolled back later than the move), for today's models."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_notices_become_messages_with_their_state(django_capture_on_commit_callbacks):
    # given: an account with a notice sent and one still waiting, as billing kept them
    account = account_for(subscription())
    earlier = set(Message.objects.values_list("pk", flat=True))  # the order's own messages
    old = _migrate(BEFORE)
    Notice = old.get_model("billing", "BillingNotice")
    sent_at = timezone.now()
    common = {"account_id": account.pk, "to": "payer@example.test", "subject": "Payment failed", "body": "It failed."}
    Notice.objects.create(kind="payment_failed", key="failed-1", status="sent", attempts=1, sent_at=sent_at, **common)
    Notice.objects.create(kind="suspended", key="suspended-1-1", status="pending", **common)
    # when
    _migrate(AFTER)
    _migrate_to_now()
    # then: each is a message, with its state
    moved = {m.key: m for m in Message.objects.exclude(pk__in=earlier)}
    assert set(moved) == {"failed-1", "suspended-1-1"}
    sent, waiting = moved["failed-1"], moved["suspended-1-1"]
    assert (sent.kind, sent.channel, sent.status, sent.attempts) == (
        "payment_failed",
        MessageChannel.EMAIL,
        MessageStatus.SENT,
        1,
    )
    assert (sent.customer_id, sent.to, sent.body) == (account.customer_id, "payer@example.test", "It failed.")
    assert (waiting.kind, waiting.status) == ("dunning_suspended", MessageStatus.QUEUED)
    # and the retry job sends only the waiting one
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications.messages_retry_due(now=timezone.now()) == 1
    assert [m.subject for m in mail.outbox if m.to == ["payer@example.test"]] == ["Payment failed"]
    assert Message.objects.get(key="suspended-1-1").status == MessageStatus.SENT
