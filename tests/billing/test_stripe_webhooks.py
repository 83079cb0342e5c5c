"""POST /billing/stripe/webhook/: signed Stripe events, verified and applied once, in any order; and ACH Direct
Debit (which the loopback server cannot emulate) through recorded Stripe responses and signed events, on the same
code path as every other Stripe call."""

import copy
import json
import threading
import time
from datetime import date
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from billing import payments
from billing.choices import (
    Collection,
    DisputeStatus,
    GatewayEventOutcome,
    InvoiceStatus,
    PaymentChannel,
    PaymentStatus,
    RefundStatus,
)
from billing.gateways.base import PROCESSING, ChargeResult
from billing.models import BillingAccount, Dispute, GatewayEvent, Invoice, Payment, PaymentMethod, Refund
from billing.services import account_for
from cos.models import Event
from tests.billing.factories import activate, subscription
from tests.billing.stripe_helpers import STRIPE_KEY, WEBHOOK_SECRET, signed

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 10)
URL = "/billing/stripe/webhook/"
RECORDINGS = json.loads((Path(__file__).parent / "recordings" / "us_bank_account.json").read_text())


@pytest.fixture(autouse=True)
def _stripe(settings):
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = STRIPE_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens: these tests never call the API


def _event(kind: str, obj: dict, *, event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "id": event_id or f"evt_{kind.replace('.', '_')}_{obj.get('id')}",
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()


def _post(client, payload: bytes, signature: str | None = None):
    headers = {} if signature == "" else {"HTTP_STRIPE_SIGNATURE": signature or signed(payload)}
    return client.post(URL, data=payload, content_type="application/json", **headers)


def _charged(status: str = PROCESSING, *, reference: str = "pi_test_1", method_type: str = "card") -> Payment:
    """An invoice whose charge at Stripe is under way (as after payments.payment_submit)."""
    sub = subscription()
    account = account_for(sub)
    BillingAccount.objects.filter(pk=account.pk).update(gateway_customer="cus_test_1")
    invoice = activate(sub, DAY)
    method = PaymentMethod.objects.create(
        account=account, gateway="stripe", reference=f"pm_{reference}", type=method_type, last4="4242", is_default=True
    )
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        payment = payments._payment_start(invoice, method, channel=PaymentChannel.AUTOMATIC)
    return payments.payment_result_apply(
        payment_id=payment.pk, result=ChargeResult(reference, status, charge=f"ch_{reference}")
    )


def _intent(payment: Payment, status: str, **fields) -> dict:
    return {
        "id": payment.reference,
        "object": "payment_intent",
        "amount": int(payment.amount * 100),
        "currency": payment.currency.lower(),
        "status": status,
        "latest_charge": payment.charge_reference,
        "metadata": {"cos_payment": str(payment.pk)},
        **fields,
    }


def test_a_forged_event_is_refused_and_changes_nothing(client):
    payment = _charged()
    payload = _event("payment_intent.succeeded", _intent(payment, "succeeded"))
    response = _post(client, payload, signature=signed(payload, secret="whsec_someone_else"))
    assert response.status_code == 400
    assert response.json()["error"] == "signature_invalid"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING
    assert not GatewayEvent.objects.exists()


@pytest.mark.parametrize(
    "payload", [b'{"id": "evt_1"}', b'{"id": "evt_2", "type": "x", "data": []}', b"[1, 2]", b'"just a string"']
)
def test_a_signed_body_that_is_no_event_is_refused_and_changes_nothing(client, payload):
    response = _post(client, payload)
    assert response.status_code == 400
    assert response.json()["error"] == "event_malformed"
    assert not GatewayEvent.objects.exists()


def test_an_unsigned_or_stale_event_is_refused(client):
    payment = _charged()
    payload = _event("payment_intent.succeeded", _intent(payment, "succeeded"))
    assert _post(client, payload, signature="").status_code == 400
    an_hour_ago = int(time.time()) - 3600  # past the tolerance: a replayed capture
    assert _post(client, payload, signature=signed(payload, at=an_hour_ago)).status_code == 400
    assert _post(client, b"not json", signature=signed(b"not json")).status_code == 400
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING


def test_a_debit_that_succeeds_pays_the_invoice_and_a_replay_changes_nothing(client):
    # given: a SEPA debit on its way
    payment = _charged(method_type="sepa_debit")
    invoice = payment.invoice
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PROCESSING
    payload = _event("payment_intent.succeeded", _intent(payment, "succeeded"))
    # when: Stripe says it settled, then delivers the same event again
    first = _post(client, payload)
    again = _post(client, payload)
    # then: applied once
    assert (first.status_code, first.json()["outcome"]) == (200, GatewayEventOutcome.APPLIED)
    assert (again.status_code, again.json()["outcome"]) == (200, "replay")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, invoice.total)
    assert Event.objects.filter(name="payment.succeeded", payload__payment_id=payment.pk).count() == 1
    assert GatewayEvent.objects.get().deliveries == 2


def test_events_out_of_order_never_move_a_payment_back(client):
    payment = _charged(method_type="sepa_debit")
    succeeded = _event("payment_intent.succeeded", _intent(payment, "succeeded"))
    processing = _event("payment_intent.processing", _intent(payment, "processing"))
    assert _post(client, succeeded).json()["outcome"] == GatewayEventOutcome.APPLIED
    assert _post(client, processing).json()["outcome"] == GatewayEventOutcome.IGNORED
    payment.refresh_from_db()
    payment.invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.invoice.status == InvoiceStatus.PAID


def test_a_debit_failing_days_later_reopens_the_invoice(client):
    payment = _charged(method_type="sepa_debit")
    failed = _intent(
        payment,
        "requires_payment_method",
        last_payment_error={"code": "debit_not_authorized", "message": "The customer disputed the mandate."},
    )
    assert _post(client, _event("payment_intent.payment_failed", failed)).status_code == 200
    payment.refresh_from_db()
    invoice = Invoice.objects.get(pk=payment.invoice_id)
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "debit_not_authorized")
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.OPEN, 0)


def test_unknown_types_and_unknown_payments_are_acknowledged_and_recorded(client):
    unknown_type = _event("customer.created", {"id": "cus_x", "object": "customer"})
    unknown_payment = _event(
        "payment_intent.succeeded", {"id": "pi_nobody", "object": "payment_intent", "status": "succeeded"}
    )
    assert _post(client, unknown_type).json()["outcome"] == GatewayEventOutcome.UNHANDLED
    assert _post(client, unknown_payment).json()["outcome"] == GatewayEventOutcome.UNMATCHED
    assert set(GatewayEvent.objects.values_list("outcome", flat=True)) == {
        GatewayEventOutcome.UNHANDLED,
        GatewayEventOutcome.UNMATCHED,
    }


def test_a_3d_secure_confirmation_and_its_success_arrive_as_events(client):
    payment = _charged(status="requires_action")
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    _post(client, _event("payment_intent.succeeded", _intent(payment, "succeeded")))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED


def test_a_refund_confirmed_by_stripe_and_one_made_in_its_dashboard_are_both_recorded(client):
    # given: a paid card payment, with a refund of ours pending at Stripe
    payment = _charged(status="succeeded")
    ours = Refund.objects.create(payment=payment, amount=10, idempotency_key="k-ours", reference="re_ours")
    charge = {
        "id": payment.charge_reference,
        "object": "charge",
        "payment_intent": payment.reference,
        "amount_refunded": 1500,
        "refunds": {
            "object": "list",
            "data": [
                {"id": "re_ours", "amount": 1000, "status": "succeeded", "metadata": {"cos_refund": str(ours.pk)}},
                {"id": "re_dashboard", "amount": 500, "status": "succeeded", "metadata": {}},
            ],
        },
    }
    # when
    response = _post(client, _event("charge.refunded", charge))
    # then
    assert response.json()["outcome"] == GatewayEventOutcome.APPLIED
    ours.refresh_from_db()
    assert ours.status == RefundStatus.SUCCEEDED
    other = Refund.objects.get(reference="re_dashboard")
    assert (other.status, str(other.amount)) == (RefundStatus.SUCCEEDED, "5.00")
    payment.refresh_from_db()
    assert str(payment.amount_refunded) == "15.00"


def test_a_lost_dispute_takes_the_money_back_and_reopens_the_invoice(client):
    payment = _charged(status="succeeded")
    invoice = Invoice.objects.get(pk=payment.invoice_id)
    assert invoice.status == InvoiceStatus.PAID
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "amount": int(payment.amount * 100),
        "charge": payment.charge_reference,
        "payment_intent": payment.reference,
        "reason": "fraudulent",
        "status": "needs_response",
    }
    assert _post(client, _event("charge.dispute.created", dispute)).json()["outcome"] == GatewayEventOutcome.APPLIED
    assert Dispute.objects.get().status == DisputeStatus.OPEN
    closed = _event("charge.dispute.closed", {**dispute, "status": "lost"})
    assert _post(client, closed).json()["outcome"] == GatewayEventOutcome.APPLIED
    invoice.refresh_from_db()
    assert Dispute.objects.get().status == DisputeStatus.LOST
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.OPEN, 0)


def test_a_dispute_lost_on_a_partly_refunded_payment_takes_back_what_was_left_and_the_rest_is_owed(client):
    # given: a paid invoice whose payment was refunded by 40 already
    from decimal import Decimal

    from billing.models import CreditEntry

    payment = _charged(status="succeeded")
    Payment.objects.filter(pk=payment.pk).update(amount_refunded=Decimal("40.00"))
    dispute = {
        "id": "dp_3",
        "object": "dispute",
        "amount": int(payment.amount * 100),
        "charge": payment.charge_reference,
        "payment_intent": payment.reference,
        "reason": "fraudulent",
        "status": "needs_response",
    }
    _post(client, _event("charge.dispute.created", dispute))
    # when: the bank takes back the whole amount
    response = _post(client, _event("charge.dispute.closed", {**dispute, "status": "lost"}))
    # then: no more than the payment is ever counted as refunded, and the 40 paid out twice is owed on the account
    assert response.status_code == 200
    assert response.json()["outcome"] == GatewayEventOutcome.APPLIED
    payment.refresh_from_db()
    assert payment.amount_refunded == payment.amount
    owed = CreditEntry.objects.filter(account_id=payment.account_id, description__contains="refunded already")
    assert [entry.amount for entry in owed] == [Decimal("-40.00")]


def test_a_won_dispute_leaves_the_invoice_paid(client):
    payment = _charged(status="succeeded")
    dispute = {"id": "dp_2", "amount": 100, "charge": payment.charge_reference, "payment_intent": payment.reference}
    _post(client, _event("charge.dispute.created", {**dispute, "status": "needs_response"}))
    _post(client, _event("charge.dispute.closed", {**dispute, "status": "won"}))
    assert Dispute.objects.get().status == DisputeStatus.WON
    assert Invoice.objects.get(pk=payment.invoice_id).status == InvoiceStatus.PAID


def test_a_method_detached_at_stripe_is_removed_and_automatic_collection_stops(client):
    payment = _charged(status="succeeded")
    account = payment.account
    BillingAccount.objects.filter(pk=account.pk).update(collection=Collection.AUTOMATIC)
    method = PaymentMethod.objects.get(account=account)
    payload = _event("payment_method.detached", {"id": method.reference, "object": "payment_method"})
    assert _post(client, payload).json()["outcome"] == GatewayEventOutcome.APPLIED
    method.refresh_from_db()
    account.refresh_from_db()
    assert method.removed_at is not None
    assert account.collection == Collection.MANUAL


def test_a_failed_setup_is_recorded_and_saves_nothing(client):
    payload = _event(
        "setup_intent.setup_failed",
        {"id": "seti_x", "object": "setup_intent", "last_setup_error": {"message": "Bank account closed."}},
    )
    assert _post(client, payload).json()["outcome"] == GatewayEventOutcome.IGNORED
    assert "Bank account closed" in GatewayEvent.objects.get().note
    assert not PaymentMethod.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_one_event_at_once_apply_once():
    # given
    payment = _charged(method_type="sepa_debit")
    payload = _event("payment_intent.succeeded", _intent(payment, "succeeded"))
    signature = signed(payload)
    answers, start = [], threading.Barrier(2)

    def deliver():
        try:
            start.wait()
            answers.append(_post(Client(), payload, signature).json()["outcome"])
        finally:
            connection.close()

    # when: Stripe delivers it twice at the same moment
    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then: one applied it, the other found it
    assert sorted(answers) == sorted([GatewayEventOutcome.APPLIED, "replay"])
    invoice = Invoice.objects.get(pk=payment.invoice_id)
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, invoice.total)
    assert Event.objects.filter(name="payment.succeeded", payload__payment_id=payment.pk).count() == 1
    assert GatewayEvent.objects.get().deliveries == 2


# --- ACH Direct Debit through recorded Stripe responses ------------------------------------------------------


class RecordedStripe(stripe.HTTPClient):
    """Answers the SDK's requests with recorded Stripe responses (amounts and metadata echoed from the request,
    as Stripe does), and keeps the requests for the test to look at."""

    name = "recorded"

    def __init__(self):
        super().__init__()
        self.requests = []

    def request(self, method, url, headers, post_data=None, **kwargs):
        path = urlsplit(url).path
        params = dict(parse_qsl(post_data or "")) if isinstance(post_data, str) else dict(parse_qsl(post_data or b""))
        self.requests.append((method.upper(), path, params, dict(headers or {})))
        key = f"{method.upper()} {path}"
        body = copy.deepcopy(RECORDINGS["responses"].get(key))
        if body is None:
            return (
                json.dumps({"error": {"message": f"No recording for {key}", "type": "invalid_request_error"}}),
                404,
                {},
            )
        if "amount" in params:
            body["amount"] = int(params["amount"])
        body.setdefault("metadata", {})
        for name, value in params.items():
            if name.startswith("metadata["):
                body["metadata"][name[len("metadata[") : -1]] = value
        return json.dumps(body), 200, {"request-id": "req_recorded"}

    def close(self):
        pass


@pytest.fixture
def recorded(monkeypatch):
    client = RecordedStripe()
    monkeypatch.setattr(stripe, "RequestsClient", lambda timeout=None: client)
    return client


def _ach_event(kind: str, payment: Payment) -> bytes:
    event = copy.deepcopy(RECORDINGS["events"][kind])
    event["created"] = int(time.time())
    event["data"]["object"]["amount"] = int(payment.amount * 100)
    event["data"]["object"]["metadata"] = {"cos_payment": str(payment.pk)}
    return json.dumps(event).encode()


def _ach_account(recorded, django_capture_on_commit_callbacks):
    sub = subscription()
    account = account_for(sub)
    start = payments.payment_method_setup_start(account_id=account.pk, method_type="us_bank_account")
    # (the browser: Stripe.js collects the bank account through Financial Connections and the mandate)
    method = payments.payment_method_add(account_id=account.pk, setup_reference=start.reference)
    BillingAccount.objects.filter(pk=account.pk).update(collection=Collection.AUTOMATIC)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = activate(sub, DAY)
    return method, invoice


def test_an_ach_debit_is_saved_with_its_mandate_charged_and_paid_when_stripe_says_so(
    recorded, client, django_capture_on_commit_callbacks
):
    # given: a US bank account saved through a SetupIntent, and the first invoice charged to it
    method, invoice = _ach_account(recorded, django_capture_on_commit_callbacks)
    assert (method.type, method.last4, method.brand) == ("us_bank_account", "6789", "STRIPE TEST BANK")
    assert method.mandate_reference == "mandate_1RAch0001"
    setup = next(p for m, path, p, h in recorded.requests if path == "/v1/setup_intents" and m == "POST")
    assert setup["payment_method_types[0]"] == "us_bank_account"
    charge = next((p, h) for m, path, p, h in recorded.requests if path == "/v1/payment_intents")
    assert charge[0]["off_session"] == "true"
    assert charge[1]["Idempotency-Key"].endswith(f"-invoice-{invoice.pk}-attempt-1")
    # then: processing, not paid
    invoice.refresh_from_db()
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.status, invoice.status, invoice.amount_paid) == (
        PaymentStatus.PROCESSING,
        InvoiceStatus.PROCESSING,
        0,
    )
    # when: days later Stripe's signed event says the debit cleared
    _post(client, _ach_event("payment_intent.processing", payment))
    _post(client, _ach_event("payment_intent.succeeded", payment))
    # then
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, invoice.total)


def test_an_ach_debit_returned_by_the_bank_reopens_the_invoice_and_plans_a_retry(
    recorded, client, django_capture_on_commit_callbacks
):
    method, invoice = _ach_account(recorded, django_capture_on_commit_callbacks)
    payment = Payment.objects.get(invoice=invoice)
    _post(client, _ach_event("payment_intent.payment_failed", payment))
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "insufficient_funds")
    assert "R01" in payment.failure_message
    assert invoice.status == InvoiceStatus.OPEN
    assert payment.next_retry_at is not None
    assert reverse("stripe-webhook") == URL


def test_a_confirmation_that_expired_at_stripe_cancels_the_waiting_payment(client):
    payment = _charged(status="requires_action")
    assert _post(client, _event("payment_intent.canceled", _intent(payment, "canceled"))).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED
    assert Invoice.objects.get(pk=payment.invoice_id).status == InvoiceStatus.OPEN


def test_an_event_naming_our_payment_id_for_another_charge_or_customer_is_not_applied(client):
    # given: a charge under way; another installation sharing the Stripe account has a payment with the same id
    payment = _charged(method_type="sepa_debit")
    theirs = _intent(payment, "succeeded", id="pi_of_another_installation", customer="cus_someone_else")
    # when
    response = _post(client, _event("payment_intent.succeeded", theirs))
    # then
    assert response.json()["outcome"] == GatewayEventOutcome.UNMATCHED
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING


def test_a_pending_refund_that_fails_later_is_kept_as_credit(client):
    # given: a refund Stripe answered as pending (a bank debit is refunded by transfer, days later)
    payment = _charged(status="succeeded", method_type="sepa_debit")
    refund = Refund.objects.create(payment=payment, amount=25, idempotency_key="k-pending", reference="re_pending")
    failed = {"id": "re_pending", "object": "refund", "status": "failed", "failure_reason": "expired_or_canceled_card"}
    # when: Stripe says it failed
    response = _post(client, _event("refund.failed", failed))
    # then: the money stays with the customer, as credit; nothing counts as refunded
    assert response.json()["outcome"] == GatewayEventOutcome.APPLIED
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    assert payment.amount_refunded == 0
    assert payments.credit_balance(payment.account_id) == 25
    # and a later update changes nothing more
    assert _post(client, _event("refund.updated", failed, event_id="evt_2")).json()["outcome"] == "ignored"


def test_an_event_for_our_payment_id_with_another_amount_is_not_applied(client):
    payment = _charged(method_type="sepa_debit")
    other = _intent(payment, "succeeded", id="pi_elsewhere", amount=123)
    assert _post(client, _event("payment_intent.succeeded", other)).json()["outcome"] == GatewayEventOutcome.UNMATCHED
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING
