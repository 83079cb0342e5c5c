"""The subscriber's billing pages in the portal: invoices, an invoice, its PDF, and billing preferences.

Everything is read through the logged-in user's customer, so another customer's invoice or account is a 404.
"""

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET

from billing.choices import InvoiceStatus
from billing.engine import money
from billing.forms import BillingPreferencesForm
from billing.models import BillingAccount, Invoice, InvoiceLine
from billing.pdf import render_invoice_pdf
from billing.preferences import billing_preferences_update
from billing.selectors import account_balance
from cos.errors import ApplicationError

# Issued documents only: a draft may still change and is never shown; a void document is shown only if it was
# issued (numbered) before it was voided.
SUBSCRIBER_STATUSES = (
    InvoiceStatus.OPEN,
    InvoiceStatus.PAID,
    InvoiceStatus.LATE,
    InvoiceStatus.PROCESSING,
    InvoiceStatus.VOID,
    InvoiceStatus.UNCOLLECTIBLE,
)
INVOICES_PER_PAGE = 25


def _customer(request):
    customer = getattr(request.user, "customer", None)
    if customer is None:
        raise Http404("This login has no subscriber account.")
    return customer


def _subscriber_invoices(customer):
    return Invoice.objects.filter(account__customer=customer, status__in=SUBSCRIBER_STATUSES).exclude(number="")


def _subscriber_invoice(customer, invoice_id: int) -> Invoice:
    return get_object_or_404(
        _subscriber_invoices(customer)
        .select_related("issuer", "account__customer", "corrects")
        .prefetch_related(Prefetch("lines", queryset=InvoiceLine.objects.order_by("id"))),
        pk=invoice_id,
    )


def _balances(accounts) -> list[tuple[str, object]]:
    """What the customer owes, per currency (amounts in two currencies do not add up), to the cent.

    The balance is quantized here because on SQLite the database's sum comes back as a float-made Decimal.
    """
    by_currency = defaultdict(list)
    for account in accounts:
        by_currency[account.currency].append(account.pk)
    return [(currency, money(account_balance(ids))) for currency, ids in sorted(by_currency.items())]


@login_required
@require_GET
def invoices(request):
    """The subscriber's issued invoices and credit notes, newest first, with what is owed and the billing accounts."""
    customer = getattr(request.user, "customer", None)
    if customer is None:
        return render(request, "billing/invoices.html", {"customer": None})
    accounts = list(BillingAccount.objects.filter(customer=customer).select_related("provider"))
    page = Paginator(
        _subscriber_invoices(customer).select_related("issuer").order_by("-issued_on", "-id"), INVOICES_PER_PAGE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "billing/invoices.html",
        {"customer": customer, "accounts": accounts, "balances": _balances(accounts), "page": page},
    )


@login_required
@require_GET
def invoice_pdf(request, invoice_id: int):
    """The invoice as a PDF download named after its number."""
    invoice = _subscriber_invoice(_customer(request), invoice_id)
    response = HttpResponse(render_invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    return response


@login_required
def preferences(request, account_id: int):
    """How one billing account is paid and where its invoices go."""
    account = get_object_or_404(
        BillingAccount.objects.select_related("provider"), pk=account_id, customer=_customer(request)
    )
    if request.method == "POST":
        form = BillingPreferencesForm(request.POST)
        if form.is_valid():
            try:
                billing_preferences_update(account_id=account.pk, actor=request.user, **form.cleaned_data)
            except ApplicationError as refused:
                for field, message in refused.extra.get("fields", {None: refused.message}).items():
                    form.add_error(field, message)
            else:
                messages.success(request, f"Your billing preferences for {account.provider.name} are saved.")
                return redirect("portal-invoices")
    else:
        form = BillingPreferencesForm(
            initial={
                "collection": account.collection,
                "delivery": account.delivery,
                "invoice_email": account.invoice_email,
            }
        )
    return render(request, "billing/preferences.html", {"account": account, "form": form})
