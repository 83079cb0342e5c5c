"""Messages delivered for real: e-mail through an SMTP server on loopback (aiosmtpd), SMS through a fake 46elks HTTP
API on loopback. Each server is down for a while: the message fails, is sent by the retry job once the server is
back, and arrives exactly once; a repeated cause sends nothing more; a channel the customer turned off gets nothing;
the customer's language picks the templates."""

import asyncio
import base64
import json
import socket
import threading
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.db import connection, transaction

from billing.choices import Delivery
from billing.models import BillingAccount
from billing.services import account_for
from cos import notifications
from cos.choices import MessageChannel, MessageKind, MessageStatus
from cos.models import Customer, Message
from tests.billing.factories import activate, subscription
from tests.billing.money_helpers import DAY
from tests.cos.factories import CustomerFactory

pytestmark = pytest.mark.django_db

INVOICE = SimpleNamespace(number="F-2026-0042")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MailServer:
    """An SMTP server on loopback that keeps what it receives; it can be stopped and started again on its port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.received: list = []
        self.gate: threading.Event | None = None
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        if self.gate is not None:  # a test holds the answer back until it has seen what it wants
            await asyncio.to_thread(self.gate.wait, 10)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append(SimpleNamespace(rcpt=list(envelope.rcpt_tos), message=parsed))
        return "250 OK"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
        self._controller = None


class ElksApi:
    """A fake of 46elks' SMS API (POST /a1/sms, form fields from/to/message, basic auth) on loopback."""

    def __init__(self, user: str, password: str) -> None:
        self.port = _free_port()
        self.received: list[dict] = []
        self.expected_auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self._server = None

    def start(self) -> None:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
                if self.headers.get("Authorization") != api.expected_auth:
                    return self._answer(401, {"error": "unauthorized"})
                if self.path != "/a1/sms" or not {"from", "to", "message"} <= set(form):
                    return self._answer(400, {"error": "missing from, to or message"})
                api.received.append(form)
                return self._answer(200, {"id": f"s{len(api.received):04d}", "status": "created", **form})

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server = None


@pytest.fixture
def smtp(settings):
    server = MailServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield server
    if server._controller is not None:
        server.stop()


@pytest.fixture
def elks(settings):
    api = ElksApi("u_test", "s3cret")
    api.start()
    settings.SMS_URL = f"46elks+http://u_test:s3cret@127.0.0.1:{api.port}"
    settings.SMS_FROM = "COSFiber"
    settings.SMS_TIMEOUT = 5
    yield api
    if api._server is not None:
        api.stop()


@pytest.fixture(autouse=True)
def _retry_policy(settings):
    settings.EVENTS_RETRY_BASE_SECONDS = 10
    settings.EVENTS_MAX_ATTEMPTS = 5


def _restored(customer, key="restored-1") -> list[Message]:
    return notifications.notify(
        customer=customer, kind=MessageKind.DUNNING_RESTORED, key=key, context={"invoice": INVOICE}
    )


def _retry_when_due(capture, message: Message) -> int:
    message.refresh_from_db()
    with capture(execute=True):
        return notifications.messages_retry_due(now=message.next_attempt_at)


def test_an_invoice_arrives_at_the_mail_server_with_its_pdf(smtp, django_capture_on_commit_callbacks):
    # given: an account whose invoices are e-mailed to its invoice address
    sub = subscription()
    account = account_for(sub)
    BillingAccount.objects.filter(pk=account.pk).update(delivery=Delivery.EMAIL, invoice_email="payer@example.test")
    Customer.objects.filter(pk=account.customer_id).update(language="en")
    # when: the first invoice is finalized
    with django_capture_on_commit_callbacks(execute=True):
        invoice = activate(sub, DAY)
    # then: the mail server has it, with the PDF
    (got,) = [r for r in smtp.received if invoice.number in r.message["Subject"]]
    assert got.rcpt == ["payer@example.test"]
    assert "The invoice is attached as a PDF." in got.message.get_body(("plain",)).get_content()
    (pdf,) = list(got.message.iter_attachments())
    assert (pdf.get_content_type(), pdf.get_filename()) == ("application/pdf", f"{invoice.number}.pdf")
    assert pdf.get_content()[:5] == b"%PDF-"
    message = Message.objects.get(kind=MessageKind.INVOICE_ISSUED)
    assert (message.status, message.provider_message_id) == (MessageStatus.SENT, got.message["Message-ID"])


def test_mail_for_a_server_that_is_down_arrives_once_when_it_is_back(smtp, django_capture_on_commit_callbacks):
    # given: the mail server is down
    smtp.stop()
    customer = CustomerFactory(language="en")
    # when: a message is sent, and the retry job runs while the server is still down
    with django_capture_on_commit_callbacks(execute=True):
        (message,) = _restored(customer)
    assert _retry_when_due(django_capture_on_commit_callbacks, message) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.FAILED, 2)
    assert "Connection refused" in message.last_error or "ConnectionRefusedError" in message.last_error
    # when: the server is back, the retry job runs, then runs again and the event is delivered again
    smtp.start()
    assert _retry_when_due(django_capture_on_commit_callbacks, message) == 1
    assert _retry_when_due(django_capture_on_commit_callbacks, message) == 0
    notifications.message_deliver(message_id=message.pk)
    # then: it arrived exactly once
    assert [(r.rcpt, r.message["Subject"]) for r in smtp.received] == [([customer.email], "Your service is restored")]
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 3)


def test_an_sms_reaches_the_providers_api(elks, smtp, django_capture_on_commit_callbacks):
    # given: a customer who wants SMS only, the number typed the Swedish way
    customer = CustomerFactory(language="en", notify_by_email=False, notify_by_sms=True, phone="070-123 45 67")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        (message,) = _restored(customer)
    # then: the provider has it, from our sender, to the number in E.164; no e-mail
    assert elks.received == [
        {
            "from": "COSFiber",
            "to": "+46701234567",
            "message": "COS fiber: invoice F-2026-0042 is paid and your service is restored. Thank you.",
        }
    ]
    message.refresh_from_db()
    assert (message.channel, message.status, message.provider_message_id) == (MessageChannel.SMS, "sent", "s0001")
    assert smtp.received == []


def test_an_sms_for_a_provider_that_is_down_arrives_once_when_it_is_back(elks, django_capture_on_commit_callbacks):
    # given: the SMS provider's API is down
    elks.stop()
    customer = CustomerFactory(notify_by_email=False, notify_by_sms=True, phone="+46701234567")
    with django_capture_on_commit_callbacks(execute=True):
        (message,) = _restored(customer)
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.FAILED, 1)
    assert "46elks unreachable" in message.last_error
    # when: it is back; the retry job runs twice
    elks.start()
    assert _retry_when_due(django_capture_on_commit_callbacks, message) == 1
    assert _retry_when_due(django_capture_on_commit_callbacks, message) == 0
    # then
    assert [sms["to"] for sms in elks.received] == ["+46701234567"]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_a_provider_that_refuses_the_sms_fails_it_with_its_answer(elks, settings, django_capture_on_commit_callbacks):
    # given: wrong API credentials
    settings.SMS_URL = f"46elks+http://u_test:wrong@127.0.0.1:{elks.port}"
    customer = CustomerFactory(notify_by_email=False, notify_by_sms=True, phone="+46701234567")
    with django_capture_on_commit_callbacks(execute=True):
        (message,) = _restored(customer)
    message.refresh_from_db()
    assert (message.status, elks.received) == (MessageStatus.FAILED, [])
    assert "46elks answered 401" in message.last_error


def test_a_repeated_cause_sends_nothing_more(smtp, elks, django_capture_on_commit_callbacks):
    customer = CustomerFactory(notify_by_sms=True, phone="0701234567")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            _restored(customer)
    assert (len(smtp.received), len(elks.received)) == (1, 1)


@pytest.mark.parametrize(
    ("by_email", "by_sms", "emails", "texts"),
    [(True, False, 1, 0), (False, True, 0, 1), (False, False, 0, 0), (True, True, 1, 1)],
    ids=["email-only", "sms-only", "neither", "both"],
)
def test_only_the_channels_the_customer_wants_get_a_message(
    by_email, by_sms, emails, texts, smtp, elks, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(notify_by_email=by_email, notify_by_sms=by_sms, phone="0701234567")
    with django_capture_on_commit_callbacks(execute=True):
        _restored(customer)
    assert (len(smtp.received), len(elks.received)) == (emails, texts)


def test_swedish_and_english_customers_get_their_own_language(smtp, elks, django_capture_on_commit_callbacks):
    svensk = CustomerFactory(language="sv", notify_by_sms=True, phone="0701111111")
    english = CustomerFactory(language="en", notify_by_sms=True, phone="0702222222")
    with django_capture_on_commit_callbacks(execute=True):
        _restored(svensk)
        _restored(english)
    subjects = {r.rcpt[0]: r.message["Subject"] for r in smtp.received}
    assert subjects == {svensk.email: "Din tjänst är öppnad igen", english.email: "Your service is restored"}
    texts = {sms["to"]: sms["message"] for sms in elks.received}
    assert texts["+46701111111"].endswith("din tjänst är öppnad igen. Tack!")
    assert texts["+46702222222"].endswith("your service is restored. Thank you.")
    assert mail.outbox == []  # through the real server, not the test outbox


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_senders_of_one_message_at_once_send_it_once(smtp, wait_until, monkeypatch):
    # given: a committed message not sent yet (its hand-over lost); the mail server holds its answer back
    customer = CustomerFactory(language="en")
    monkeypatch.setattr(notifications, "messages_send", lambda message_ids: None)
    with transaction.atomic():
        (message,) = _restored(customer)
    smtp.gate = threading.Event()
    outcomes = {}

    def send(name):
        try:
            outcomes[name] = notifications.message_deliver(message_id=message.pk).status
        finally:
            connection.close()

    # when: two workers deliver it at the same moment
    senders = [threading.Thread(target=send, args=(name,)) for name in ("a", "b")]
    for sender in senders:
        sender.start()
    wait_until(lambda: len(outcomes) >= 1, message="the second sender to find the message taken")
    smtp.gate.set()
    for sender in senders:
        sender.join(timeout=20)
    # then: the one that took it sent it; the other left it alone
    assert sorted(outcomes.values()) == [MessageStatus.QUEUED, MessageStatus.SENT]
    assert len(smtp.received) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 1)


@pytest.mark.celery_worker
def test_a_real_worker_sends_the_message_through_the_mail_server(smtp, celery_worker, wait_until):
    # when: a message is committed; a real worker takes the event, then the delivery, from Redis
    customer = CustomerFactory(language="en")
    with transaction.atomic():
        (message,) = _restored(customer)
    # then
    wait_until(lambda: Message.objects.get(pk=message.pk).status == MessageStatus.SENT, message="the message sent")
    assert [r.rcpt for r in smtp.received] == [[customer.email]]
