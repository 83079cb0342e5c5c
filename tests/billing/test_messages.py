"""Billing tells the subscriber through the core's messages: each invoice (e-mailed with its PDF when the account's
delivery is e-mail, to the invoice address, whatever the e-mail preference), each payment received, once each."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from billing import notices, overrides, payments, services
from billing.choices import Collection, Delivery, MethodType
from billing.models import BillingAccount, Invoice
from billing.runs import billing_chunk
from billing.services import account_for
from cos.choices import MessageChannel, MessageKind, MessageStatus
from cos.models import Customer, Message
from tests.billing.factories import TEST_CARD, activate, rules, subscription
from tests.billing.money_helpers import DAY, TOTAL, add_method, automatic_account

pytestmark = pytest.mark.django_db


def _invoiced(capture, *, delivery=Delivery.EMAIL, notify_by_email=True, invoice_email="payer@example.test"):
    sub = subscription()
    account = account_for(sub)
    BillingAccount.objects.filter(pk=account.pk).update(delivery=delivery, invoice_email=invoice_email)
    Customer.objects.filter(pk=account.customer_id).update(notify_by_email=notify_by_email)
    with capture(execute=True):
        invoice = activate(sub, DAY)
    invoice.refresh_from_db()
    return invoice


def _told(kind) -> list[Message]:
    return list(Message.objects.filter(kind=kind).order_by("pk"))


def test_an_invoice_delivered_by_email_is_emailed_with_its_pdf(django_capture_on_commit_callbacks):
    # when: the first invoice is finalized
    invoice = _invoiced(django_capture_on_commit_callbacks)
    # then: e-mailed to the invoice address with the invoice as a PDF
    (message,) = _told(MessageKind.INVOICE_ISSUED)
    assert (message.status, message.to, message.attachments) == (
        MessageStatus.SENT,
        "payer@example.test",
        [{"kind": "invoice_pdf", "ref": invoice.pk}],
    )
    (sent,) = [m for m in mail.outbox if invoice.number in m.subject]
    assert sent.to == ["payer@example.test"]
    assert "The invoice is attached as a PDF." in sent.body
    (filename, content, mimetype) = sent.attachments[0]
    assert (filename, mimetype, content[:5]) == (f"{invoice.number}.pdf", "application/pdf", b"%PDF-")


def test_an_invoice_by_email_is_sent_even_to_a_customer_who_turned_email_messages_off(
    django_capture_on_commit_callbacks,
):
    invoice = _invoiced(django_capture_on_commit_callbacks, notify_by_email=False)
    (message,) = _told(MessageKind.INVOICE_ISSUED)
    assert (message.channel, message.status) == (MessageChannel.EMAIL, MessageStatus.SENT)
    assert [m.to for m in mail.outbox if invoice.number in m.subject] == [["payer@example.test"]]


def test_an_invoice_in_the_portal_is_told_without_the_pdf_and_follows_the_preference(
    django_capture_on_commit_callbacks,
):
    # given/when: two accounts whose invoices are seen in the portal, one customer not wanting e-mail
    told = _invoiced(django_capture_on_commit_callbacks, delivery=Delivery.PORTAL)
    silent = _invoiced(django_capture_on_commit_callbacks, delivery=Delivery.PORTAL, notify_by_email=False)
    # then
    (message,) = _told(MessageKind.INVOICE_ISSUED)
    assert (message.customer_id, message.attachments) == (told.account.customer_id, [])
    assert "You find it under Invoices in the portal." in message.body
    assert not Message.objects.filter(customer=silent.account.customer, kind=MessageKind.INVOICE_ISSUED).exists()


def test_an_invoice_told_again_sends_nothing_more(django_capture_on_commit_callbacks):
    invoice = _invoiced(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        again = notices.invoice_issued_tell(invoice_id=invoice.pk)
    assert again == []
    assert len([m for m in mail.outbox if invoice.number in m.subject]) == 1


def test_a_card_payment_is_thanked_once(django_capture_on_commit_callbacks):
    # given: an automatic account with a working card
    sub = subscription()
    add_method(automatic_account(sub), TEST_CARD)
    # when: its first invoice is charged, and the payment's event is delivered again
    with django_capture_on_commit_callbacks(execute=True):
        invoice = activate(sub, DAY)
    payment = invoice.payments.get()
    with django_capture_on_commit_callbacks(execute=True):
        notices.payment_received_tell(payment_id=payment.pk)
    # then
    (message,) = _told(MessageKind.PAYMENT_RECEIVED)
    assert (message.key, message.status) == (f"received-{payment.pk}", MessageStatus.SENT)
    assert f"we received {TOTAL} SEK for invoice {invoice.number}" in message.body


def test_a_part_payment_says_what_is_still_open(django_capture_on_commit_callbacks):
    invoice = _invoiced(django_capture_on_commit_callbacks, delivery=Delivery.PORTAL)
    with django_capture_on_commit_callbacks(execute=True):
        payments.payment_record(
            invoice_id=invoice.pk,
            amount=Decimal("500.00"),
            method_type=MethodType.BANK_TRANSFER,
            external_reference="BG 1",
        )
    (message,) = _told(MessageKind.PAYMENT_RECEIVED)
    assert f"{TOTAL - Decimal('500.00')} SEK is still open on the invoice." in message.body


def test_credit_moved_onto_an_invoice_is_not_thanked_as_money_received(django_capture_on_commit_callbacks):
    # given: the first invoice overpaid by bank transfer (a credit balance)
    sub = subscription()
    account = account_for(sub)
    BillingAccount.objects.filter(pk=account.pk).update(collection=Collection.MANUAL, delivery=Delivery.PORTAL)
    with django_capture_on_commit_callbacks(execute=True):
        first = activate(sub, DAY)
    with django_capture_on_commit_callbacks(execute=True):
        payments.payment_record(
            invoice_id=first.pk, amount=TOTAL * 3, method_type=MethodType.BANK_TRANSFER, external_reference="BG 2"
        )
    # when: March's invoice is issued and paid from the credit
    billing_chunk(run_id=None, account_ids=[account.pk], as_of=date(2026, 3, 1))
    with django_capture_on_commit_callbacks(execute=True):
        services.invoices_finalize_due()
    march = Invoice.objects.exclude(pk=first.pk).get(account=account)
    assert march.payments.filter(method_type=MethodType.CREDIT_BALANCE).exists()
    # then: only the bank transfer is thanked
    (thanked,) = _told(MessageKind.PAYMENT_RECEIVED)
    assert first.number in thanked.body


def test_an_invoice_past_due_is_reminded_once_with_the_day_of_the_suspension(django_capture_on_commit_callbacks):
    # given: suspension 10 days after the due day; the invoice is in the portal and unpaid
    invoice = _invoiced(django_capture_on_commit_callbacks, delivery=Delivery.PORTAL)
    rules(invoice.marketplace, suspend_after_days=10)
    # when: it goes late (after the grace days), and the late run comes again
    with django_capture_on_commit_callbacks(execute=True):
        services.invoices_mark_late(today=invoice.due_on + timedelta(days=30))
    with django_capture_on_commit_callbacks(execute=True):
        services.invoices_mark_late(today=invoice.due_on + timedelta(days=31))
        notices.dunning_reminder_tell(invoice_id=invoice.pk)
    # then
    (reminder,) = Message.objects.filter(kind=MessageKind.DUNNING_REMINDER, key=f"reminder-{invoice.pk}")
    assert reminder.subject == f"Reminder: invoice {invoice.number} is past due"
    suspend_on = invoice.due_on + timedelta(days=10)
    assert f"If it is still unpaid on {suspend_on:%-d %B %Y}, your service is suspended" in reminder.body


def test_no_reminder_when_the_provider_tells_nothing(django_capture_on_commit_callbacks):
    invoice = _invoiced(django_capture_on_commit_callbacks, delivery=Delivery.PORTAL)
    rules(invoice.marketplace, notify_subscriber=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.invoices_mark_late(today=invoice.due_on + timedelta(days=30))
    assert _told(MessageKind.DUNNING_REMINDER) == []


def test_a_reminder_sent_after_the_suspension_day_names_no_day(django_capture_on_commit_callbacks):
    # given: suspension 2 days after the due day, and the invoice already 20 days past due when it goes late
    invoice = _invoiced(django_capture_on_commit_callbacks, delivery=Delivery.PORTAL)
    rules(invoice.marketplace, suspend_after_days=2)
    Invoice.objects.filter(pk=invoice.pk).update(due_on=timezone.localdate() - timedelta(days=20))
    # when
    with django_capture_on_commit_callbacks(execute=True):
        notices.dunning_reminder_tell(invoice_id=invoice.pk)
    # then: reminded, without a suspension day already gone
    (reminder,) = Message.objects.filter(kind=MessageKind.DUNNING_REMINDER, key=f"reminder-{invoice.pk}")
    assert "your service is suspended" not in reminder.body


def test_a_credit_note_is_told_with_its_pdf_and_the_invoice_it_corrects(
    django_capture_on_commit_callbacks, clerk, goodwill
):
    # given: an invoice e-mailed to the payer
    invoice = _invoiced(django_capture_on_commit_callbacks)
    # when: finance credits 100.00 of it
    with django_capture_on_commit_callbacks(execute=True):
        overrides.invoice_credit(invoice_id=invoice.pk, amount="100.00", reason_code=goodwill, actor=clerk)
    # then: the credit note is told, its PDF attached, naming the invoice it corrects
    (message,) = _told(MessageKind.CREDIT_NOTE_ISSUED)
    credit_note = Invoice.objects.get(corrects=invoice)
    assert message.subject == f"Credit note {credit_note.number}: {-credit_note.total} {credit_note.currency} to you"
    assert f"which corrects invoice {invoice.number}" in message.body
    assert message.attachments == [{"kind": "invoice_pdf", "ref": credit_note.pk}]
    assert len(_told(MessageKind.INVOICE_ISSUED)) == 1  # the invoice itself, told once


def test_an_automatic_account_without_a_method_is_not_told_nothing_needs_doing(django_capture_on_commit_callbacks):
    # given: an account collected automatically whose card was removed
    sub = subscription()
    account = account_for(sub)
    BillingAccount.objects.filter(pk=account.pk).update(collection=Collection.AUTOMATIC)
    Customer.objects.filter(pk=account.customer_id).update(language="en")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        activate(sub, DAY)
    # then: the invoice does not promise a charge that cannot happen
    (message,) = _told(MessageKind.INVOICE_ISSUED)
    assert "you need not do anything" not in message.body


def test_a_payment_is_dated_in_the_invoices_marketplace_time_zone(django_capture_on_commit_callbacks, settings):
    # given: an invoice of a Stockholm marketplace, paid by card at 23:30 UTC on 31 March (01:30 on 1 April there)
    settings.SITE_TIME_ZONE = "UTC"  # the site's own zone would say 31 March
    sub = subscription()
    add_method(automatic_account(sub), TEST_CARD)
    Customer.objects.filter(pk=sub.customer_id).update(language="en")
    late_evening = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    with time_machine.travel(late_evening, tick=False), django_capture_on_commit_callbacks(execute=True):
        activate(sub, DAY)
    # then: the thanks says the marketplace's day
    (thanks,) = _told(MessageKind.PAYMENT_RECEIVED)
    assert sub.marketplace.time_zone == "Europe/Stockholm"
    assert "1 April 2026" in thanks.body
