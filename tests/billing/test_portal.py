"""The subscriber's billing pages: invoices, what is owed, one invoice, its PDF, billing preferences."""

from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
from django.urls import reverse
from django.utils import timezone

from billing import services
from billing.choices import Collection, Delivery, InvoiceStatus
from billing.models import BillingAccount, Invoice
from billing.payments import payment_method_add
from cos.fsm import transition_apply
from cos.models import Event
from tests.billing.factories import TEST_CARD, activate, rules, subscription
from tests.cos.factories import UserFactory
from tests.marketplace.factories import world

pytestmark = pytest.mark.django_db

ACTIVATED = date(2025, 3, 10)  # 22 of 31 days of 399.00 = 283.16, + 495.00 start fee = 778.16, 25 % VAT 194.54


def _subscriber(w=None):
    """A world whose customer can log in to the portal."""
    w = w or world()
    w.customer.user = UserFactory()
    w.customer.save(update_fields=["user"])
    return w


def _issued(w, day=ACTIVATED) -> Invoice:
    """The customer's first invoice from the world's provider, issued at the activation on `day`."""
    return activate(subscription(w), day)


def _same_customer(w):
    """Another provider's world where the given world's customer also buys."""
    other = world()
    other.customer = w.customer
    return other


def _pay(invoice: Invoice, amount: Decimal | None = None) -> Invoice:
    """Record a payment on the invoice (in full when no amount is given)."""
    amount = invoice.total if amount is None else amount
    Invoice.objects.filter(pk=invoice.pk).update(amount_paid=amount)
    invoice.refresh_from_db()
    if amount == invoice.total:
        transition_apply(invoice, "mark_paid", at=timezone.now())
        invoice.save()
    return invoice


def _balance_text(body: str) -> str:
    return body.split('id="balance"')[1].split("</div>")[0]


def test_invoice_list_shows_my_issued_invoices_and_what_i_owe(client):
    # given: an open invoice partly paid, a paid one, a void one, a draft under review, and someone else's invoice
    w = _subscriber()
    open_invoice = _pay(_issued(w), Decimal("100.00"))
    paid = _pay(_issued(_same_customer(w)))
    voided = services.invoice_void(invoice_id=_issued(_same_customer(w)).pk, reason="sold in error")
    under_review = _same_customer(w)
    rules(under_review.marketplace, review_minutes=60)
    draft = _issued(under_review)
    theirs = _issued(_subscriber())
    assert draft.status == InvoiceStatus.DRAFT
    # when
    client.force_login(w.customer.user)
    body = client.get(reverse("portal-invoices")).content.decode()
    # then: issued documents with number, dates, total and status
    for invoice in (open_invoice, paid, voided):
        assert reverse("portal-invoice", args=[invoice.pk]) in body
    assert open_invoice.number in body
    assert open_invoice.issued_on.isoformat() in body
    assert open_invoice.due_on.isoformat() in body
    assert "972.70 SEK" in body
    assert ">Open<" in body
    assert ">Paid<" in body
    assert ">Void<" in body
    # never a draft, never another customer's invoice
    assert reverse("portal-invoice", args=[draft.pk]) not in body
    assert "Draft" not in body
    assert reverse("portal-invoice", args=[theirs.pk]) not in body
    # what is owed: only the unpaid rest of the open invoice (paid and void ones owe nothing)
    assert "872.70 SEK" in _balance_text(body)


def test_balance_counts_every_account_of_mine(client):
    # given: open invoices from two providers (two billing accounts)
    w = _subscriber()
    _issued(w)
    _issued(_same_customer(w))
    assert BillingAccount.objects.filter(customer=w.customer).count() == 2
    client.force_login(w.customer.user)
    # when
    body = client.get(reverse("portal-invoices")).content.decode()
    # then: 2 x 972.70
    assert "1945.40 SEK" in _balance_text(body)


def test_invoice_detail_shows_lines_and_totals(client):
    # given
    w = _subscriber()
    invoice = _pay(_issued(w), Decimal("72.70"))
    client.force_login(w.customer.user)
    # when
    response = client.get(reverse("portal-invoice", args=[invoice.pk]))
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert invoice.number in body
    assert "Start fee: Fiber 1000" in body
    assert "495.00 SEK" in body
    assert "2025-03-10 – 2025-03-31" in body
    assert "283.16 SEK" in body
    assert 'id="subtotal">778.16 SEK' in body
    assert 'id="tax">194.54 SEK' in body
    assert 'id="total">972.70 SEK' in body
    assert 'id="paid">72.70 SEK' in body
    assert 'id="open">900.00 SEK' in body
    assert "VAT 25%" not in body  # the tax is shown once, with the totals


def test_another_customers_invoice_and_account_are_not_found(client):
    # given
    mine = _subscriber()
    _issued(mine)
    other = _subscriber()
    theirs = _issued(other)
    their_account = theirs.account
    client.force_login(mine.customer.user)
    # when / then
    assert client.get(reverse("portal-invoice", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("portal-invoice-pdf", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("portal-billing-preferences", args=[their_account.pk])).status_code == 404
    response = client.post(
        reverse("portal-billing-preferences", args=[their_account.pk]),
        {"collection": Collection.AUTOMATIC, "delivery": Delivery.POST, "invoice_email": ""},
    )
    assert response.status_code == 404
    their_account.refresh_from_db()
    assert (their_account.collection, their_account.delivery) == (Collection.MANUAL, Delivery.EMAIL)


def test_my_draft_invoice_is_not_found(client):
    # given: a draft still under review
    w = _subscriber()
    rules(w.marketplace, review_minutes=60)
    draft = _issued(w)
    client.force_login(w.customer.user)
    # when / then
    assert client.get(reverse("portal-invoice", args=[draft.pk])).status_code == 404
    assert client.get(reverse("portal-invoice-pdf", args=[draft.pk])).status_code == 404


def test_anonymous_visitor_is_sent_to_log_in(client):
    invoice = _issued(_subscriber())
    for url in (
        reverse("portal-invoices"),
        reverse("portal-invoice", args=[invoice.pk]),
        reverse("portal-invoice-pdf", args=[invoice.pk]),
        reverse("portal-billing-preferences", args=[invoice.account_id]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url == f"{reverse('login')}?next={url}"


def test_login_without_a_subscriber_account_sees_no_invoices(client):
    client.force_login(UserFactory())
    response = client.get(reverse("portal-invoices"))
    assert response.status_code == 200
    assert "no subscriber account" in response.content.decode()


def test_invoice_pdf_is_a_real_pdf_named_after_the_number(client):
    from pypdf import PdfReader

    # given
    w = _subscriber()
    invoice = _issued(w)
    client.force_login(w.customer.user)
    # when
    response = client.get(reverse("portal-invoice-pdf", args=[invoice.pk]))
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert response.content.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(BytesIO(response.content)).pages)
    assert invoice.number in text
    assert w.provider.name in text
    assert w.customer.display_name in text
    assert "Storgatan 1" in text
    assert "Start fee: Fiber 1000" in text
    assert "972.70 SEK" in text


def test_automatic_collection_needs_a_payment_method(client):
    # given: no payment method on file
    w = _subscriber()
    account = _issued(w).account
    client.force_login(w.customer.user)
    # when
    response = client.post(
        reverse("portal-billing-preferences", args=[account.pk]),
        {"collection": Collection.AUTOMATIC, "delivery": Delivery.EMAIL, "invoice_email": "a@example.test"},
    )
    # then: a form error, nothing saved
    assert response.status_code == 200
    assert "Add a payment method first" in response.content.decode()
    account.refresh_from_db()
    assert account.collection == Collection.MANUAL


def test_preferences_are_saved(client):
    # given: a card on file
    w = _subscriber()
    account = _issued(w).account
    payment_method_add(account_id=account.pk, details=TEST_CARD)
    client.force_login(w.customer.user)
    form = client.get(reverse("portal-billing-preferences", args=[account.pk])).content.decode()
    assert f'value="{w.customer.email}"' in form  # today's address, prefilled
    # when
    response = client.post(
        reverse("portal-billing-preferences", args=[account.pk]),
        {"collection": Collection.AUTOMATIC, "delivery": Delivery.EMAIL, "invoice_email": " bills@example.test "},
        follow=True,
    )
    # then
    account.refresh_from_db()
    assert (account.collection, account.delivery, account.invoice_email) == (
        Collection.AUTOMATIC,
        Delivery.EMAIL,
        "bills@example.test",
    )
    assert "billing preferences for" in response.content.decode()
    assert "are saved" in response.content.decode()
    change = Event.objects.get(name="billing_account.preferences_changed")
    assert change.payload["new"]["collection"] == Collection.AUTOMATIC
    assert change.payload["actor_id"] == w.customer.user.pk


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"collection": "manual", "delivery": "email", "invoice_email": ""}, "Enter the e-mail address"),
        ({"collection": "manual", "delivery": "email", "invoice_email": "not-an-address"}, "valid email"),
        ({"collection": "by-carrier-pigeon", "delivery": "post", "invoice_email": ""}, "Select a valid choice"),
    ],
)
def test_preferences_refuse_bad_input_and_keep_what_was_saved(client, data, error):
    # given
    w = _subscriber()
    account = _issued(w).account
    before = (account.collection, account.delivery, account.invoice_email)
    client.force_login(w.customer.user)
    # when
    response = client.post(reverse("portal-billing-preferences", args=[account.pk]), data)
    # then
    assert response.status_code == 200
    assert error in response.content.decode()
    assert 'class="errorlist' in response.content.decode()
    account.refresh_from_db()
    assert (account.collection, account.delivery, account.invoice_email) == before
    assert not Event.objects.filter(name="billing_account.preferences_changed").exists()


def test_invoice_list_query_count_is_flat(client, django_assert_max_num_queries):
    # given
    w = _subscriber()
    _issued(w)
    client.force_login(w.customer.user)
    with django_assert_max_num_queries(8):
        assert client.get(reverse("portal-invoices")).status_code == 200
    # when: more invoices from more providers
    for _ in range(4):
        _issued(_same_customer(w))
    # then
    with django_assert_max_num_queries(8):
        body = client.get(reverse("portal-invoices")).content.decode()
    assert body.count("/pdf/") == 5
    assert "4863.50 SEK" in _balance_text(body)  # 5 x 972.70


def test_portal_home_leads_to_the_invoices(client):
    w = _subscriber()
    client.force_login(w.customer.user)
    body = client.get(reverse("portal")).content.decode()
    assert f'href="{reverse("portal-invoices")}"' in body
