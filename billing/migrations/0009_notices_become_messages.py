"""Billing's notices become the core's messages (cos.Message): one delivery mechanism for every message to a
subscriber. Each notice is moved with its state; one still waiting is sent by the messages-retry job."""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

KINDS = {
    "payment_failed": "payment_failed",
    "action_required": "payment_action_required",
    "no_method": "payment_method_missing",
    "suspended": "dunning_suspended",
    "restored": "dunning_restored",
    "receipt": "payment_received",
}
STATUSES = {"pending": "queued", "sent": "sent", "failed": "failed", "dead": "dead", "skipped": "skipped"}


def notices_to_messages(apps, schema_editor):
    BillingNotice = apps.get_model("billing", "BillingNotice")
    Message = apps.get_model("cos", "Message")
    now = timezone.now()
    notices = BillingNotice.objects.select_related("account__customer").order_by("pk")
    messages = []
    for notice in notices.iterator():
        status = STATUSES[notice.status]
        messages.append(
            Message(
                customer=notice.account.customer,
                kind=KINDS.get(notice.kind, notice.kind),
                key=notice.key,
                channel="email",
                to=notice.to,
                language=notice.account.customer.language or settings.COS_DEFAULT_LANGUAGE,
                subject=notice.subject,
                body=notice.body,
                status=status,
                attempts=notice.attempts,
                last_error=notice.last_error,
                skip_reason="no e-mail address on the account" if status == "skipped" else "",
                next_attempt_at=now if status == "queued" else notice.next_attempt_at,
                sent_at=notice.sent_at,
                created_at=notice.created_at,
                updated_at=notice.updated_at,
            )
        )
    Message.objects.bulk_create(messages, batch_size=500, ignore_conflicts=True)
    # auto_now_add wrote this moment: the message was made when the notice was.
    for message in messages:
        Message.objects.filter(customer_id=message.customer_id, kind=message.kind, key=message.key).update(
            created_at=message.created_at
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0008_prices_include_tax"),
        ("cos", "0010_messages_to_subscribers"),
    ]

    operations = [
        migrations.RunPython(notices_to_messages, migrations.RunPython.noop),
        migrations.DeleteModel(name="BillingNotice"),
    ]
