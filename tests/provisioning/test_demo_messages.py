"""The demo tells Anna every step, as `make run` does: from her checkout to her first paid invoice, each message
written once in Swedish, e-mailed and texted, and listed in the admin with its delivery state."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from billing.choices import InvoiceStatus
from billing.models import Invoice
from billing.payments import invoice_pay_now, payment_method_add
from cos import sms
from cos.choices import MessageChannel, MessageKind, MessageStatus
from cos.models import Customer, Message
from tests.billing.factories import TEST_CARD
from tests.provisioning.conftest import running_simulator, simulator  # noqa: F401 - fixtures
from tests.workorders.factories import work_through
from workorders.models import WorkOrder

pytestmark = pytest.mark.django_db(transaction=True)

ANNA_HEARS = [
    MessageKind.ORDER_RECEIVED,
    MessageKind.ORDER_ACCEPTED,
    MessageKind.INSTALLATION_BOOKED,
    MessageKind.FIBRE_READY,
    MessageKind.SERVICE_ACTIVE,
    MessageKind.INVOICE_ISSUED,
    MessageKind.PAYMENT_RECEIVED,
]


def test_anna_is_told_every_step_from_checkout_to_her_first_paid_invoice(simulator, client):  # noqa: F811
    # given: the demo as make run loads it (the simulator knows every ONT plugged in)
    simulator.state.auto_discover = True
    call_command("seed_demo", addresses=80)
    anna = Customer.objects.get(user__username="anna")
    (job,) = WorkOrder.objects.filter(orders__customer=anna)
    # when: the technician does her job (a spare ONT of the OLT that serves the address), and she pays by card
    work_through(job, get_user_model().objects.get(username="tech"), ont_serial="ALCL1A2B0000")
    (invoice,) = Invoice.objects.filter(account__customer=anna)
    card = payment_method_add(account_id=invoice.account_id, details=TEST_CARD)
    invoice_pay_now(invoice_id=invoice.pk, method_id=card.pk)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    # then: each step once, by e-mail and by SMS, all sent, in Swedish
    emails = Message.objects.filter(customer=anna, channel=MessageChannel.EMAIL).order_by("pk")
    assert [m.kind for m in emails] == ANNA_HEARS
    assert set(Message.objects.filter(customer=anna).values_list("status", "language")) == {(MessageStatus.SENT, "sv")}
    texted = set(Message.objects.filter(customer=anna, channel=MessageChannel.SMS).values_list("kind", flat=True))
    assert {MessageKind.ORDER_RECEIVED, MessageKind.INSTALLATION_BOOKED, MessageKind.SERVICE_ACTIVE} <= texted
    to_anna = [m for m in mail.outbox if m.to == [anna.email]]
    assert [m.subject for m in to_anna] == [m.subject for m in emails]
    assert "Ljusnet 250 är påslaget" in [m.subject for m in to_anna]
    issued = next(m for m in to_anna if m.subject == emails.get(kind=MessageKind.INVOICE_ISSUED).subject)
    assert [name for name, _content, kind in issued.attachments if kind == "application/pdf"]
    assert {text.to for text in sms.outbox} >= {"+46701234567"}
    # and the operator finds them in the admin, each with its state
    client.force_login(get_user_model().objects.get(username="admin"))
    page = client.get(reverse("admin:cos_message_changelist"), {"q": anna.email}).content.decode()
    assert page.count('class="field-status">Sent<') >= len(ANNA_HEARS)
    # Erik, who switched provider, is told in English that his old service ends, with nothing to withdraw
    erik = Customer.objects.get(user__username="erik")
    (ends,) = Message.objects.filter(customer=erik, kind=MessageKind.TERMINATION_CONFIRMED, channel="email")
    assert ends.subject.startswith("Your Svea 100 ")
    assert "moves to another provider" in ends.body
    assert "withdraw" not in ends.body
