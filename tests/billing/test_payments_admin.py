"""Payments in the admin: payments, refunds and the other money records read-only, with filters, search and a flat
query count; manual payments, refunds and gateway look-ups as actions that call the payment services."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import overrides, services
from billing.choices import (
    Collection,
    CreditKind,
    DisputeStatus,
    GatewayEventOutcome,
    InvoiceStatus,
    MethodType,
    PaymentChannel,
    PaymentStatus,
    RefundStatus,
)
from billing.models import (
    BillingAccount,
    BillingConfig,
    CreditEntry,
    Dispute,
    GatewayEvent,
    Invoice,
    Payment,
    PricingOverride,
    ReasonCode,
    Refund,
)
from billing.notices import notice_send
from billing.payments import (
    credit_balance,
    payment_method_add,
    payment_method_remove,
    payment_record,
)
from billing.refunds import payment_refund
from cos.choices import MessageKind
from tests.billing.factories import SEPA_OK, TEST_CARD, activate, rules, subscription

pytestmark = pytest.mark.django_db

MAX_QUERIES_PER_PAGE = 20
TOTAL = Decimal("957.19")  # the activation invoice of the test subscription, tax included


@pytest.fixture(autouse=True)
def _offline_gateway(settings):
    settings.PAYMENT_GATEWAY = "offline"


@pytest.fixture
def root(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.test", "pw-123456")
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def goodwill():
    return ReasonCode.objects.create(code="goodwill", label="Goodwill")


@pytest.fixture
def collected(django_capture_on_commit_callbacks):
    """Make an activation invoice that is collected automatically from a method saved with `details`."""

    def make(details=TEST_CARD) -> Invoice:
        sub = subscription()
        account = services.account_for(sub)
        BillingAccount.objects.filter(pk=account.pk).update(collection=Collection.AUTOMATIC)
        payment_method_add(account_id=account.pk, details=details)
        with django_capture_on_commit_callbacks(execute=True):
            invoice = activate(sub, date(2026, 2, 10))
        invoice.refresh_from_db()
        return invoice

    return make


def _issued() -> Invoice:
    """An open activation invoice of a customer who pays by hand (nothing on file)."""
    invoice = activate(subscription(), date(2026, 2, 10))
    assert (invoice.status, invoice.total) == (InvoiceStatus.OPEN, TOTAL)
    return invoice


def _recorded(invoice: Invoice, amount, reference: str = "BG-1") -> Payment:
    return payment_record(
        invoice_id=invoice.pk, amount=amount, method_type=MethodType.BANK_TRANSFER, external_reference=reference
    )


def _act(client, changelist: str, action: str, objects, **form):
    """Post an admin action on a list page; with a form, post it filled in (as the operator would)."""
    data = {"action": action, "_selected_action": [obj.pk for obj in objects], **form}
    if form:
        data["apply"] = "1"
    return client.post(reverse(f"admin:{changelist}_changelist"), data, follow=True)


def _messages(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


def _shown(client, changelist: str, **params) -> set[int]:
    response = client.get(reverse(f"admin:{changelist}_changelist"), params)
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


def _payments_data(count: int, actor, reason, collected) -> None:
    """`count` customers each with a card payment partly refunded, a debit in flight, an overpaid manual payment,
    a part payment, a dispute, a message and a gateway event."""
    for n in range(count):
        card = Payment.objects.get(invoice=collected(TEST_CARD))
        payment_refund(payment_id=card.pk, amount="10.00", reason_code=reason, actor=actor)
        collected(SEPA_OK)
        manual = _issued()
        _recorded(manual, "1000.00", reference=f"BG-{manual.pk}")
        _recorded(_issued(), "100.00")
        Dispute.objects.create(payment=card, reference=f"dp_{card.pk}", amount=card.amount, reason="fraudulent")
        GatewayEvent.objects.create(
            gateway="offline",
            event_id=f"evt_{card.pk}_{n}",
            type="charge.succeeded",
            payload={"id": card.reference},
            outcome=GatewayEventOutcome.APPLIED,
        )


# --- list pages --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("billing_payment", {}),
        ("billing_payment", {"status": "succeeded", "channel": "automatic"}),
        ("billing_refund", {}),
        ("billing_creditentry", {}),
        ("billing_gatewayevent", {}),
        ("billing_dispute", {}),
        ("cos_message", {}),
        ("cos_message", {"status": "sent", "kind": "invoice_issued"}),
        ("billing_billingaccount", {}),
        ("billing_billingaccount", {"method_on_file": "yes"}),
        ("billing_invoice", {}),
        ("billing_invoice", {"payment": "partly_paid", "method_on_file": "no"}),
    ],
)
def test_payment_list_pages_take_the_same_queries_for_one_row_or_many(
    model, params, root, goodwill, collected, django_assert_max_num_queries
):
    url = reverse(f"admin:{model}_changelist")
    # given: the money records of one customer
    _payments_data(1, root.user, goodwill, collected)
    with CaptureQueriesContext(connection) as few:
        assert root.get(url, params).status_code == 200
    # when: of several more
    _payments_data(3, root.user, goodwill, collected)
    # then: the page takes no more queries, and stays within the admin's budget
    with django_assert_max_num_queries(MAX_QUERIES_PER_PAGE) as many:
        response = root.get(url, params)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) > 1
    assert len(many) <= len(few)


def test_the_payment_list_shows_invoice_customer_provider_money_and_references(root, collected):
    invoice = collected(TEST_CARD)
    card = Payment.objects.get(invoice=invoice)
    manual = _recorded(_issued(), "100.00", reference="BG-77")
    body = root.get(reverse("admin:billing_payment_changelist")).content.decode()
    for shown in (
        invoice.number,
        str(invoice.account.customer),
        str(invoice.account.provider),
        f"{TOTAL} SEK",
        card.reference,
        "BG-77",
        "Bank transfer",
        "Recorded by staff",
        "Automatic collection",
        manual.invoice.number,
    ):
        assert shown in body


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": PaymentStatus.SUCCEEDED}, {"card", "manual"}),
        ({"status": PaymentStatus.PROCESSING}, {"debit"}),
        ({"method_type": MethodType.CARD}, {"card"}),
        ({"method_type": MethodType.SEPA_DEBIT}, {"debit"}),
        ({"method_type": MethodType.BANK_TRANSFER}, {"manual"}),
        ({"channel": PaymentChannel.STAFF}, {"manual"}),
        ({"channel": PaymentChannel.AUTOMATIC}, {"card", "debit"}),
        ({"created_at__year": "2025"}, {"manual"}),
    ],
)
def test_payment_filters(params, expected, root, collected):
    # given: a card payment, a SEPA debit on its way and a bank transfer recorded last year
    payments = {
        "card": Payment.objects.get(invoice=collected(TEST_CARD)),
        "debit": Payment.objects.get(invoice=collected(SEPA_OK)),
        "manual": _recorded(_issued(), "100.00"),
    }
    Payment.objects.filter(pk=payments["manual"].pk).update(created_at=datetime(2025, 6, 15, 12, tzinfo=UTC))
    # when
    shown = _shown(root, "billing_payment", **params)
    # then
    assert shown == {payments[name].pk for name in expected}


def test_payment_filter_by_provider(root, collected):
    wanted, other = Payment.objects.get(invoice=collected()), Payment.objects.get(invoice=collected())
    provider = wanted.account.provider
    page = root.get(reverse("admin:billing_payment_changelist")).content.decode()
    assert provider.name in page
    assert _shown(root, "billing_payment", account__provider__id__exact=provider.pk) == {wanted.pk}
    assert other.account.provider_id != provider.pk


@pytest.mark.parametrize("term", ["invoice", "email", "last_name", "reference", "external_reference"])
def test_payment_search(term, root, collected):
    # given: a card payment and a recorded one, of two customers
    card = Payment.objects.get(invoice=collected())
    manual = _recorded(_issued(), "100.00", reference="BG-RECEIPT-4711")
    # numbers run per issuer: each test customer's provider starts at 000001
    Invoice.objects.filter(pk=card.invoice_id).update(number="INV-2026-000777")
    card.refresh_from_db()
    wanted = manual if term == "external_reference" else card
    query = {
        "invoice": wanted.invoice.number,
        "email": wanted.account.customer.email,
        "last_name": wanted.account.customer.last_name,
        "reference": card.reference,
        "external_reference": "BG-RECEIPT-4711",
    }[term]
    # when / then
    assert _shown(root, "billing_payment", q=query) == {wanted.pk}


def test_a_payment_page_shows_its_history_and_refunds_and_cannot_be_changed(root, goodwill, collected):
    payment = Payment.objects.get(invoice=collected())
    payment_refund(payment_id=payment.pk, amount="10.00", reason_code=goodwill, actor=root.user)
    response = root.get(reverse("admin:billing_payment_change", args=[payment.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "transition history" in body.lower()
    assert "gateway: succeeded" in body
    assert "Goodwill" in body
    assert 'name="_save"' not in body
    assert "client_secret" not in body


@pytest.mark.parametrize(
    "model",
    [
        "billing_payment",
        "billing_refund",
        "billing_creditentry",
        "billing_gatewayevent",
        "billing_dispute",
        "cos_message",
    ],
)
def test_payment_records_cannot_be_added_by_hand(model, root):
    assert root.get(reverse(f"admin:{model}_add")).status_code == 403


# --- refunds, credit, gateway events, disputes, notices ----------------------------------------


def test_the_refund_list_shows_reason_actor_and_credit_note_and_filters_by_status_and_provider(
    root, goodwill, collected, django_capture_on_commit_callbacks
):
    # given: one refund paid out, one still waiting for the gateway
    first, second = Payment.objects.get(invoice=collected()), Payment.objects.get(invoice=collected())
    with django_capture_on_commit_callbacks(execute=True):
        paid_out = payment_refund(payment_id=first.pk, amount="20.00", reason_code=goodwill, actor=root.user)
    waiting = payment_refund(payment_id=second.pk, amount="30.00", reason_code=goodwill, actor=root.user)
    # when
    body = root.get(reverse("admin:billing_refund_changelist")).content.decode()
    # then
    for shown in ("Goodwill", "root", paid_out.credit_note.number, first.invoice.number, "20.00", "Succeeded"):
        assert shown in body
    assert _shown(root, "billing_refund", status=RefundStatus.SUCCEEDED) == {paid_out.pk}
    assert _shown(root, "billing_refund", status=RefundStatus.PENDING) == {waiting.pk}
    provider = second.account.provider_id
    assert _shown(root, "billing_refund", payment__account__provider__id__exact=provider) == {waiting.pk}


def test_credit_entries_filter_by_kind(root):
    # given: an overpayment, and some of it applied to the customer's next invoice
    invoice = _issued()
    _recorded(invoice, TOTAL + Decimal("42.81"))
    overpaid = CreditEntry.objects.get(kind=CreditKind.OVERPAYMENT)
    applied = CreditEntry.objects.create(
        account=invoice.account, kind=CreditKind.APPLIED, amount=Decimal("-2.81"), description="Applied"
    )
    # then
    assert _shown(root, "billing_creditentry", kind=CreditKind.OVERPAYMENT) == {overpaid.pk}
    assert _shown(root, "billing_creditentry", kind=CreditKind.APPLIED) == {applied.pk}
    assert overpaid.amount == Decimal("42.81")


def test_gateway_events_filter_by_type_and_outcome_and_search_by_event_id(root):
    def event(event_id, type_, outcome):
        return GatewayEvent.objects.create(
            gateway="offline", event_id=event_id, type=type_, payload={}, outcome=outcome
        )

    applied = event("evt_1", "payment_intent.succeeded", GatewayEventOutcome.APPLIED)
    unmatched = event("evt_2", "payment_intent.succeeded", GatewayEventOutcome.UNMATCHED)
    unhandled = event("evt_3", "customer.created", GatewayEventOutcome.UNHANDLED)
    assert _shown(root, "billing_gatewayevent", type="customer.created") == {unhandled.pk}
    assert _shown(root, "billing_gatewayevent", outcome=GatewayEventOutcome.UNMATCHED) == {unmatched.pk}
    assert _shown(root, "billing_gatewayevent", q="evt_1") == {applied.pk}


def test_disputes_filter_by_status(root, collected):
    payment = Payment.objects.get(invoice=collected())
    open_ = Dispute.objects.create(payment=payment, reference="dp_1", amount=Decimal("10.00"))
    lost = Dispute.objects.create(payment=payment, reference="dp_2", amount=Decimal("5.00"), status=DisputeStatus.LOST)
    assert _shown(root, "billing_dispute", status=DisputeStatus.OPEN) == {open_.pk}
    assert _shown(root, "billing_dispute", status=DisputeStatus.LOST) == {lost.pk}
    assert payment.invoice.number in root.get(reverse("admin:billing_dispute_changelist")).content.decode()


def test_messages_filter_by_kind(root):
    invoice = _issued()

    def told(kind):
        (message,) = notice_send(invoice.account, kind=kind, key=kind, context={"invoice": invoice})
        return message

    failed, suspended = told(MessageKind.PAYMENT_METHOD_MISSING), told(MessageKind.DUNNING_SUSPENDED)
    assert _shown(root, "cos_message", kind=MessageKind.PAYMENT_METHOD_MISSING) == {failed.pk}
    assert _shown(root, "cos_message", kind=MessageKind.DUNNING_SUSPENDED) == {suspended.pk}


# --- the refund action -------------------------------------------------------------------------


def test_refund_action_asks_for_an_amount_and_a_reason_then_refunds_through_the_gateway(
    root, goodwill, collected, django_capture_on_commit_callbacks
):
    # given: a card payment of the whole invoice
    payment = Payment.objects.get(invoice=collected())
    assert payment.status == PaymentStatus.SUCCEEDED
    # when: the action is chosen, a form asks how much and why
    form_page = _act(root, "billing_payment", "refund", [payment]).content.decode()
    assert "Amount to refund" in form_page
    assert "Reason code" in form_page
    assert not Refund.objects.exists()
    # when: it is filled in
    with django_capture_on_commit_callbacks(execute=True):
        response = _act(
            root, "billing_payment", "refund", [payment], amount="100.00", reason_code=goodwill.pk, note="outage"
        )
    # then: the refund went through the gateway, with its credit note and its audit
    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.status, refund.reason_code, refund.actor, refund.note) == (
        Decimal("100.00"),
        RefundStatus.SUCCEEDED,
        goodwill,
        root.user,
        "outage",
    )
    assert refund.credit_note.corrects == payment.invoice
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("100.00")
    assert PricingOverride.objects.get().reason_code == goodwill
    assert "refund of 100.00 SEK" in _messages(response)


def test_refund_action_refuses_more_than_was_paid_and_writes_nothing(root, goodwill, collected):
    payment = Payment.objects.get(invoice=collected())
    response = _act(root, "billing_payment", "refund", [payment], amount="5000.00", reason_code=goodwill.pk, note="")
    assert "more than can be refunded on this payment" in _messages(response)
    assert not Refund.objects.exists()
    assert not Invoice.objects.filter(corrects=payment.invoice).exists()
    assert not PricingOverride.objects.exists()


def test_refund_action_refuses_a_payment_recorded_by_hand(root, goodwill):
    payment = _recorded(_issued(), "100.00")
    response = _act(root, "billing_payment", "refund", [payment], amount="10.00", reason_code=goodwill.pk, note="")
    assert "Only a card or bank debit payment can be refunded" in _messages(response)
    assert not Refund.objects.exists()


def test_refund_action_acts_on_one_payment_at_a_time(root, goodwill, collected):
    first, second = Payment.objects.get(invoice=collected()), Payment.objects.get(invoice=collected())
    response = _act(
        root, "billing_payment", "refund", [first, second], amount="10.00", reason_code=goodwill.pk, note=""
    )
    assert "Select exactly one payment" in _messages(response)
    assert not Refund.objects.exists()


def test_the_refund_action_is_not_offered_to_staff_without_the_override_permission(
    client, django_user_model, goodwill, collected
):
    # given: finance staff who may look at payments and look them up, but not give money back
    user = django_user_model.objects.create_user("ops", "ops@example.test", "pw-123456", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="billing", codename__in=["view_payment", "change_payment"])
    )
    client.force_login(user)
    payment = Payment.objects.get(invoice=collected())
    # when
    page = client.get(reverse("admin:billing_payment_changelist")).content.decode()
    response = _act(client, "billing_payment", "refund", [payment], amount="10.00", reason_code=goodwill.pk, note="")
    # then: the action is not there, and posting it anyway does nothing
    assert 'value="look_up"' in page
    assert 'value="refund"' not in page
    assert response.status_code == 200
    assert not Refund.objects.exists()
    assert not Invoice.objects.filter(corrects=payment.invoice).exists()


# --- the look-up action ------------------------------------------------------------------------


def test_look_up_action_asks_the_gateway_where_a_debit_stands(root, collected):
    # given: a SEPA debit taken, the invoice waiting for it; and a card payment already settled
    debit = Payment.objects.get(invoice=collected(SEPA_OK))
    card = Payment.objects.get(invoice=collected(TEST_CARD))
    assert (debit.status, debit.invoice.status) == (PaymentStatus.PROCESSING, InvoiceStatus.PROCESSING)
    # when
    response = _act(root, "billing_payment", "look_up", [debit, card])
    # then: the debit has settled and paid its invoice; the card payment had nothing to look up
    debit.refresh_from_db()
    assert debit.status == PaymentStatus.SUCCEEDED
    assert Invoice.objects.get(pk=debit.invoice_id).status == InvoiceStatus.PAID
    shown = _messages(response)
    assert "the gateway says succeeded" in shown
    assert f"Payment #{card.pk}: {TOTAL} SEK (succeeded): not in flight" in shown


# --- invoices: the manual payment action and the payment filters -------------------------------


def _record(client, invoices, **form):
    return _act(client, "billing_invoice", "record_payment", invoices, **form)


def _manual_form(**changes) -> dict:
    return {
        "amount": "500.00",
        "method_type": MethodType.BANK_TRANSFER,
        "external_reference": "BG-2026-0042",
        "received_on": "2026-02-20",
        "note": "",
        **changes,
    }


def test_record_payment_asks_for_the_receipt_then_pays_the_invoice(root):
    # given
    invoice = _issued()
    # when: the action is chosen, a form asks what was received
    form_page = _record(root, [invoice]).content.decode()
    assert "Reference (bank or receipt)" in form_page
    assert not Payment.objects.exists()
    # when: the whole amount, by bank transfer
    response = _record(root, [invoice], **_manual_form(amount=str(TOTAL)))
    # then
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, TOTAL)
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.channel, payment.method_type, payment.external_reference, payment.received_on) == (
        PaymentChannel.STAFF,
        MethodType.BANK_TRANSFER,
        "BG-2026-0042",
        date(2026, 2, 20),
    )
    assert payment.recorded_by == root.user
    assert f"{invoice}: recorded {TOTAL} SEK (bank transfer, BG-2026-0042); the invoice is paid." in _messages(response)


def test_record_payment_of_part_leaves_the_rest_open(root):
    invoice = _issued()
    response = _record(root, [invoice], **_manual_form(amount="500.00", method_type=MethodType.CASH))
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.OPEN, Decimal("500.00"))
    assert "457.19 SEK is still open" in _messages(response)


def test_record_payment_of_more_than_is_open_keeps_the_rest_as_credit(root):
    invoice = _issued()
    response = _record(root, [invoice], **_manual_form(amount="1000.00", method_type=MethodType.CHEQUE))
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert credit_balance(invoice.account_id) == Decimal("42.81")
    assert "42.81 SEK more than was open went to the customer's credit balance" in _messages(response)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"external_reference": ""}, "This field is required."),
        ({"external_reference": "   "}, "This field is required."),
        ({"amount": "0"}, "Ensure this value is greater than or equal to 0.01."),
        ({"amount": "-5.00"}, "Ensure this value is greater than or equal to 0.01."),
        ({"method_type": MethodType.CARD}, "Select a valid choice."),
    ],
)
def test_record_payment_with_bad_input_shows_the_form_again_and_writes_nothing(changes, error, root):
    invoice = _issued()
    response = _record(root, [invoice], **_manual_form(**changes))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Payment.objects.exists()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.OPEN, Decimal("0.00"))


def test_record_payment_acts_on_one_invoice_at_a_time(root):
    first, second = _issued(), _issued()
    response = _record(root, [first, second], **_manual_form())
    assert "Select exactly one invoice" in _messages(response)
    assert not Payment.objects.exists()


def test_record_payment_on_a_draft_shows_the_refusal(root):
    sub = subscription()
    rules(sub.marketplace, review_minutes=60)
    draft = activate(sub, date(2026, 2, 10))
    response = _record(root, [draft], **_manual_form())
    assert "cannot take a payment: it is not an issued invoice" in _messages(response)
    assert not Payment.objects.exists()


def test_record_payment_is_not_offered_to_staff_who_may_not_add_payments(client, django_user_model):
    user = django_user_model.objects.create_user("ops", "ops@example.test", "pw-123456", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="billing", codename__in=["view_invoice", "change_invoice"])
    )
    client.force_login(user)
    invoice = _issued()
    page = client.get(reverse("admin:billing_invoice_changelist")).content.decode()
    _record(client, [invoice], **_manual_form())
    assert 'value="record_payment"' not in page
    assert not Payment.objects.exists()


def test_an_invoice_page_shows_its_payments(root):
    invoice = _issued()
    _recorded(invoice, "100.00", reference="BG-PART-1")
    _recorded(invoice, "200.00", reference="BG-PART-2")
    body = root.get(reverse("admin:billing_invoice_change", args=[invoice.pk])).content.decode()
    assert "BG-PART-1" in body
    assert "BG-PART-2" in body
    assert "Recorded by staff" in body


def test_invoice_payment_filter(root, goodwill, collected):
    # given: an unpaid invoice (with an open credit note on it), one partly paid, one paid, one with a debit on its way
    unpaid, partly, paid = _issued(), _issued(), _issued()
    override = overrides.invoice_credit(invoice_id=unpaid.pk, amount="10.00", reason_code=goodwill, actor=root.user)
    _recorded(partly, "100.00")
    _recorded(paid, TOTAL)
    processing = collected(SEPA_OK)
    assert processing.status == InvoiceStatus.PROCESSING
    # when / then
    assert _shown(root, "billing_invoice", payment="unpaid") == {unpaid.pk}
    assert _shown(root, "billing_invoice", payment="partly_paid") == {partly.pk}
    assert _shown(root, "billing_invoice", payment="paid") == {paid.pk}
    assert _shown(root, "billing_invoice", payment="processing") == {processing.pk}
    assert override.result.pk in _shown(root, "billing_invoice")


def test_invoice_filter_by_payment_method_on_file(root, collected):
    # given: an invoice of a customer with a card on file, and one of a customer without
    with_card, without = collected(TEST_CARD), _issued()
    # then
    assert _shown(root, "billing_invoice", method_on_file="yes") == {with_card.pk}
    assert _shown(root, "billing_invoice", method_on_file="no") == {without.pk}


# --- accounts ----------------------------------------------------------------------------------


def test_accounts_filter_by_payment_method_on_file_and_show_the_default(root, collected):
    # given: an account with a card on file, one whose only card was removed, and one that never had one
    with_card = collected(TEST_CARD).account
    removed = collected(TEST_CARD).account
    payment_method_remove(method_id=removed.payment_methods.get().pk)
    never = _issued().account
    # then
    assert _shown(root, "billing_billingaccount", method_on_file="yes") == {with_card.pk}
    assert _shown(root, "billing_billingaccount", method_on_file="no") == {removed.pk, never.pk}
    body = root.get(reverse("admin:billing_billingaccount_changelist")).content.decode()
    assert "visa •••• 4242 (12/2040)" in body
    assert "Default payment method" in body


def test_an_account_page_shows_its_credit_balance_and_payment_methods(root, collected):
    # given: a customer with a card on file who paid 42.81 too much by bank transfer
    invoice = collected(TEST_CARD)
    second = activate(subscription(), date(2026, 2, 10))
    account = invoice.account
    Invoice.objects.filter(pk=second.pk).update(account=account)
    _recorded(second, TOTAL + Decimal("42.81"))
    # when
    body = root.get(reverse("admin:billing_billingaccount_change", args=[account.pk])).content.decode()
    # then
    assert "Credit balance" in body
    assert "42.81 SEK" in body
    assert "payment methods (removed ones kept)" in body.lower()
    assert "4242" in body
    assert account.payment_methods.get().reference in body


def test_saving_an_account_keeps_its_gateway_customer(root, collected):
    account = collected(TEST_CARD).account
    account.refresh_from_db()
    assert account.gateway_customer
    response = root.post(
        reverse("admin:billing_billingaccount_change", args=[account.pk]),
        {
            "invoice_email": "billing@example.test",
            "delivery": "portal",
            "gateway_customer": "",
            "schedules-TOTAL_FORMS": "1",
            "schedules-INITIAL_FORMS": "1",
        },
    )
    assert response.status_code == 302
    before = account.gateway_customer
    account.refresh_from_db()
    assert (account.delivery, account.gateway_customer) == ("portal", before)
    assert account.payment_methods.filter(is_default=True, removed_at=None).exists()


# --- billing rules -----------------------------------------------------------------------------


def test_every_billing_rule_is_in_the_config_form():
    from django.contrib.admin import site

    declared = {field for _, options in site._registry[BillingConfig].fieldsets for field in options["fields"]}
    editable = {field.name for field in BillingConfig._meta.fields if field.editable and not field.auto_created}
    assert declared == editable - {"created_at", "updated_at"}


def test_the_dunning_rules_are_editable(root):
    # given
    sub = subscription()
    config = rules(sub.marketplace)
    url = reverse("admin:billing_billingconfig_change", args=[config.pk])
    page = root.get(url).content.decode()
    for field in ("retry_days", "notify_subscriber", "suspend_after_days"):
        assert f'name="{field}"' in page
    # when
    response = root.post(
        url,
        {
            "marketplace": sub.marketplace_id,
            "provider": "",
            "billing_cycle": "",
            "due_days": "14",
            "review_minutes": "0",
            "late_fee_kind": config.late_fee_kind,
            "late_fee_value": "60.00",
            "late_fee_grace_days": "5",
            "late_fee_minimum_balance": "0.00",
            "refund_on_termination": "on",
            "recovery_fee": "0.00",
            "retry_days": "2,4",
            "suspend_after_days": "21",
        },
    )
    # then
    assert response.status_code == 302
    config.refresh_from_db()
    assert (config.retry_days, config.notify_subscriber, config.suspend_after_days) == ("2,4", False, 21)
