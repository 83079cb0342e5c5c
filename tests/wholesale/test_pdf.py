"""A statement PDF that can be sent as it is: who bills whom, where to pay, the lines by kind with subtotals, tax
and total; in a revenue share what subscribers paid, less the total, and the payout."""

from io import BytesIO

import pytest
from pypdf import PdfReader

from marketplace.models import Participation
from tests.marketplace.api.conftest import provider_client
from tests.marketplace.factories import world
from tests.wholesale.factories import dispute_of, issued_statement
from wholesale.models import Statement
from wholesale.pdf import render_statement_pdf

pytestmark = pytest.mark.django_db


def text_of(pdf: bytes) -> str:
    """The words of the PDF, one space between each (a table's cells come out a line each)."""
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(BytesIO(pdf)).pages)


def operator_with_details(statement: Statement):
    operator = statement.operator
    operator.legal_name, operator.street, operator.postal_code, operator.city = (
        "Mälarnät Stadsnät AB",
        "Stora Gatan 1",
        "72211",
        "Västerås",
    )
    operator.organisation_number, operator.vat_number = "556000-1111", "SE556000111101"
    operator.bankgiro, operator.iban, operator.bic = "5050-1055", "SE4550000000058398257466", "ESSESESS"
    operator.save()
    return operator


def test_the_statement_pdf_says_who_bills_whom_what_for_and_how_to_pay():
    # given: two services, each a month of access at 100.00 and an activation fee of 50.00
    w = world()
    statement = issued_statement(w, services=2)
    operator_with_details(statement)
    statement.refresh_from_db()

    # when
    pdf = render_statement_pdf(statement)

    # then
    assert pdf.startswith(b"%PDF")
    text = text_of(pdf)
    for expected in (
        "Mälarnät Stadsnät AB",
        "Stora Gatan 1",
        "72211 Västerås",
        "Org. no. 556000-1111",
        "VAT no. SE556000111101",
        "5050-1055",
        "SE4550000000058398257466",
        w.provider.invoice_name,
        statement.number,
        statement.month.strftime("%Y-%m"),
        statement.issued_on.isoformat(),
        statement.due_on.isoformat(),
        "Network access: 2 lines 200.00",
        "Activation fee: 2 lines 100.00",
        "Subtotal 300.00 SEK",
        "VAT 25 % 75.00 SEK",
        "Total 375.00 SEK",
    ):
        assert expected in text, expected
    assert "Amount 375.00 SEK" in text, text
    assert "Revenue share" not in text


def test_a_disputed_statement_asks_for_the_undisputed_amount():
    # given
    statement = issued_statement(world())
    dispute_of(statement, amount="50.00")
    statement.refresh_from_db()

    # when
    text = text_of(render_statement_pdf(statement))

    # then: 187.50 less 50.00 with its VAT
    assert "Due now (undisputed) 125.00 SEK" in text
    assert "Amount 125.00 SEK" in text, text


def test_a_revenue_share_statement_shows_retail_collected_less_the_total_and_the_payout():
    # given: nothing collected from subscribers in the month: the payout falls short by the total
    w = world()
    Participation.objects.filter(pk=w.participation.pk).update(settlement_model="revenue_share")
    statement = issued_statement(w)

    # when
    text = text_of(render_statement_pdf(statement))

    # then
    assert statement.payout == statement.retail_collected - statement.total
    assert f"Retail collected {statement.retail_collected} SEK" in text
    assert f"Less this statement {statement.total} SEK" in text
    assert f"Payout {statement.payout} SEK" in text
    assert f"Amount {-statement.payout} SEK" in text, text


def test_the_provider_downloads_its_statement_as_a_pdf():
    # given
    w = world()
    statement = issued_statement(w)

    # when
    response = provider_client(w.provider).get(f"/api/v1/statements/{statement.pk}/pdf/")
    as_pdf = provider_client(w.provider).get(f"/api/v1/statements/{statement.pk}/pdf/", HTTP_ACCEPT="application/pdf")
    other = provider_client(world().provider).get(
        f"/api/v1/statements/{statement.pk}/pdf/", HTTP_ACCEPT="application/pdf"
    )

    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{statement.number}.pdf"'
    assert response.content.startswith(b"%PDF")
    assert statement.number in text_of(response.content)
    assert as_pdf.status_code == 200
    assert (other.status_code, other["Content-Type"], other.json()["code"]) == (404, "application/json", "not_found")
