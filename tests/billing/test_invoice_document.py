"""An invoice that can be sent as it is: the issuer's legal name, address, organisation and VAT numbers and where
to pay; the customer's billing address and the service address; an OCR payment reference with a Luhn check digit
that a bank transfer is matched by; a credit note names the invoice it corrects."""

import re
from datetime import date
from io import BytesIO

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from billing.models import Invoice
from billing.overrides import invoice_credit
from billing.references import luhn_digit, luhn_valid, payment_reference, reference_typed
from tests.billing.factories import activate, subscription
from tests.cos.factories import UserFactory
from tests.marketplace.factories import world

pytestmark = pytest.mark.django_db


def test_the_check_digit_is_the_one_banks_compute():
    # the textbook example of the Luhn check, and a Swedish bankgiro OCR reference
    assert luhn_digit("7992739871") == "3"
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


@given(year=st.integers(2000, 2099), series=st.sampled_from(["INV", "CN"]), sequence=st.integers(1, 999_999))
def test_every_reference_passes_and_one_mistyped_digit_never_does(year, series, sequence):
    reference = payment_reference(year=year, series=series, sequence=sequence)
    assert luhn_valid(reference)
    for position in range(len(reference)):
        for digit in "0123456789":
            if digit != reference[position]:
                assert not luhn_valid(reference[:position] + digit + reference[position + 1 :])


@given(a=st.integers(1, 999_999), b=st.integers(1, 999_999))
def test_two_invoices_of_an_issuer_never_share_a_reference(a, b):
    if a != b:
        assert payment_reference(year=2026, series="INV", sequence=a) != payment_reference(
            year=2026, series="INV", sequence=b
        )


def _issuer_with_details(w):
    issuer = w.provider
    issuer.legal_name, issuer.street, issuer.postal_code, issuer.city = (
        "Ljusnet Bredband AB",
        "Kopparbergsvägen 8",
        "72213",
        "Västerås",
    )
    issuer.organisation_number, issuer.vat_number = "556677-8899", "SE556677889901"
    issuer.bankgiro, issuer.iban, issuer.bic = "5050-1055", "SE4550000000058398257466", "ESSESESS"
    issuer.save()
    return issuer


def _pdf_text(client, invoice) -> str:
    response = client.get(reverse("portal-invoice-pdf", args=[invoice.pk]))
    assert response.status_code == 200
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(response.content)).pages)


def test_the_pdf_says_who_bills_whom_for_which_address_and_how_to_pay(client):
    # given
    w = world()
    _issuer_with_details(w)
    w.customer.user = UserFactory()
    w.customer.save(update_fields=["user"])
    invoice = activate(subscription(w), date(2025, 3, 10))
    client.force_login(w.customer.user)
    # when
    text = _pdf_text(client, invoice)
    # then
    assert luhn_valid(invoice.payment_reference)
    for expected in (
        "Ljusnet Bredband AB",
        "Kopparbergsvägen 8",
        "Org. no. 556677-8899",
        "VAT no. SE556677889901",
        "Bankgiro",
        "5050-1055",
        "SE4550000000058398257466",
        f"{invoice.payment_reference} (OCR)",
        w.customer.billing_street,
        w.address.label,  # the service address
        "972.70 SEK",
    ):
        assert expected in text, expected
    page = client.get(reverse("portal-invoice", args=[invoice.pk])).content.decode()
    assert f'id="payment-reference">{invoice.payment_reference}<' in page


def test_a_credit_note_names_the_invoice_it_corrects(client, clerk, goodwill):
    # given
    w = world()
    _issuer_with_details(w)
    w.customer.user = UserFactory()
    w.customer.save(update_fields=["user"])
    invoice = activate(subscription(w), date(2025, 3, 10))
    invoice_credit(invoice_id=invoice.pk, amount="100.00", reason_code=goodwill, actor=clerk, note="outage")
    credit_note = Invoice.objects.get(corrects=invoice)
    client.force_login(w.customer.user)
    # when
    text = _pdf_text(client, credit_note)
    # then
    assert re.search(rf"Credits invoice\s+{invoice.number} of", text), text
    assert f"corrects invoice {invoice.number}" in text
    assert "How to pay" not in text


def test_finance_finds_the_invoice_by_the_reference_as_the_bank_statement_prints_it(client, clerk):
    # given: two invoices; the statement shows the reference in groups
    first = activate(subscription(world()), date(2025, 3, 10))
    activate(subscription(world()), date(2025, 3, 11))
    printed = " ".join(first.payment_reference[i : i + 4] for i in range(0, len(first.payment_reference), 4))
    assert reference_typed(printed) == first.payment_reference
    from django.contrib.auth.models import Permission

    clerk.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    client.force_login(clerk)
    # when
    page = client.get(reverse("admin:billing_invoice_changelist"), {"q": printed}).content.decode()
    # then
    assert first.number in page
    assert page.count("INV-") == page.count(first.number)
