"""Statement PDFs, rendered from a Django template (templates/wholesale/statement_pdf.html) with xhtml2pdf, as
billing renders its invoices."""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from io import BytesIO

from django.template.loader import render_to_string
from xhtml2pdf import pisa

from marketplace.pricing import tax_percent
from wholesale.choices import LineKind
from wholesale.models import Statement, StatementLine
from wholesale.services import undisputed_amount


class StatementPdfError(Exception):
    """xhtml2pdf could not render the statement template."""


@dataclass
class LineGroup:
    """The statement's lines of one kind, and what they add up to."""

    kind: str
    label: str
    lines: list = field(default_factory=list)
    subtotal: Decimal = Decimal("0.00")


def statement_line_groups(statement: Statement) -> list[LineGroup]:
    """The lines by kind (access, suspended days, activation fees, adjustments), each kind with its subtotal; a
    line of days also carries its last day (`until` is exclusive)."""
    groups = {kind: LineGroup(kind, label) for kind, label in LineKind.choices}
    for line in StatementLine.objects.filter(statement=statement).select_related("address").order_by("pk"):
        line.last_day = line.until - timedelta(days=1) if line.until else None
        group = groups[line.kind]
        group.lines.append(line)
        group.subtotal += line.amount
    return [group for group in groups.values() if group.lines]


def render_statement_pdf(statement: Statement) -> bytes:
    """The statement as a PDF that can be sent as it is: the operator's legal details and where to pay, the
    provider billed, number, month and dates, the lines by kind with subtotals, tax and total; in a revenue share
    what subscribers paid, less the total, and the payout."""
    operator, provider = statement.operator, statement.provider
    undisputed = undisputed_amount(statement)
    to_pay = undisputed  # what the provider pays
    if statement.payout is not None:  # a revenue share: what the payout falls short by, if it does
        to_pay = -statement.payout if statement.payout < 0 else None
    html = render_to_string(
        "wholesale/statement_pdf.html",
        {
            "statement": statement,
            "issuer": operator,
            "provider": provider,
            "groups": statement_line_groups(statement),
            "tax_label": f"VAT {tax_percent(statement.tax_rate)} %",
            "reverse_charge": not statement.tax_rate
            and bool(provider.country and provider.country != operator.country),
            "undisputed": undisputed,
            "to_pay": to_pay,
        },
    )
    out = BytesIO()
    status = pisa.CreatePDF(html, dest=out, encoding="utf-8")
    if status.err:
        raise StatementPdfError(f"Statement {statement.pk} could not be rendered ({status.err} errors).")
    return out.getvalue()
