"""Invoice PDFs, rendered from a Django template (templates/billing/invoice_pdf.html) with xhtml2pdf."""

from io import BytesIO

from django.template.loader import render_to_string
from xhtml2pdf import pisa

from billing.choices import LineKind
from billing.models import Invoice


class InvoicePdfError(Exception):
    """xhtml2pdf could not render the invoice template."""


def invoice_document_lines(invoice: Invoice) -> list:
    """The lines a reader sees: everything but the tax line, which is shown with the totals.

    Uses the prefetched lines when there are any, so a page can render many invoices without a query each.
    """
    return [line for line in invoice.lines.all() if line.kind != LineKind.TAX]


def service_addresses(invoice: Invoice) -> list[str]:
    """Where the invoiced services are delivered (an invoice may cover several addresses of one customer)."""
    from cos.models import AddressObject

    ids = {line.subscription.address_id for line in invoice.lines.select_related("subscription") if line.subscription}
    return [address.label for address in AddressObject.objects.filter(pk__in=ids).order_by("pk")]


def render_invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice (or credit note) as a PDF that can be sent as it is: the issuer's legal details and where to pay,
    the customer's billing address and the service address, number, dates, lines, totals, the OCR reference."""
    html = render_to_string(
        "billing/invoice_pdf.html",
        {
            "invoice": invoice,
            "issuer": invoice.issuer,
            "customer": invoice.account.customer,
            "lines": invoice_document_lines(invoice),
            "service_addresses": service_addresses(invoice),
        },
    )
    out = BytesIO()
    status = pisa.CreatePDF(html, dest=out, encoding="utf-8")
    if status.err:
        raise InvoicePdfError(f"Invoice {invoice.pk} could not be rendered ({status.err} errors).")
    return out.getvalue()
