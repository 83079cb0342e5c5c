"""The subscriber's payment pages in the portal: payment methods per billing account (list, add, make default,
remove), an invoice with its "Pay now" form and the confirmation step a bank may ask for, the payment history and
receipts.

Everything is read through the logged-in user's customer, so another customer's account, method, invoice or
payment is a 404. Card and bank details go to the gateway: with Stripe the browser sends them to Stripe (Elements)
and COS sees only the saved method; offline (no network, test numbers) a Django form takes them.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from billing.choices import (
    GATEWAY_METHOD_TYPES,
    IN_FLIGHT_PAYMENT_STATUSES,
    PAYABLE_STATUSES,
    Collection,
    InvoiceKind,
    MethodType,
    PaymentStatus,
)
from billing.forms import (
    METHOD_DETAILS_FORMS,
    InvoicePayForm,
    ach_authorization_text,
    method_label,
    sepa_mandate_text,
)
from billing.gateways import gateway_for, offline
from billing.gateways.base import GatewayUnavailable
from billing.models import BillingAccount, Invoice, Payment, PaymentMethod
from billing.payments import (
    credit_balance,
    invoice_pay_now,
    payment_authenticate,
    payment_method_add,
    payment_method_remove,
    payment_method_set_default,
    payment_method_setup_start,
    payment_refresh,
)
from billing.pdf import invoice_document_lines, service_addresses
from billing.views import _customer, _subscriber_invoice
from cos.errors import ApplicationError

logger = logging.getLogger(__name__)
PAYMENTS_PER_PAGE = 25
GATEWAY_SILENT = "The payment provider did not answer. Nothing was changed; please try again in a minute."


def _account(request, account_id: int) -> BillingAccount:
    return get_object_or_404(
        BillingAccount.objects.select_related("provider", "customer"), pk=account_id, customer=_customer(request)
    )


def _active_methods(account_id: int):
    return PaymentMethod.objects.filter(account_id=account_id, removed_at=None).order_by("-is_default", "-id")


def _method(account: BillingAccount, method_id: int) -> PaymentMethod:
    return get_object_or_404(_active_methods(account.pk), pk=method_id)


def _payment(request, payment_id: int) -> Payment:
    return get_object_or_404(
        Payment.objects.select_related("invoice", "method"), pk=payment_id, account__customer=_customer(request)
    )


# --- payment methods -----------------------------------------------------------------------------------------


@login_required
@require_GET
def payment_methods(request, account_id: int):
    """The account's saved methods, how it pays, and its credit balance."""
    account = _account(request, account_id)
    methods = [(method, method_label(method)) for method in _active_methods(account.pk)]
    return render(
        request,
        "billing/payment_methods.html",
        {
            "account": account,
            "methods": methods,
            "credit": credit_balance(account.pk),
            "method_types": [(value, MethodType(value).label) for value in GATEWAY_METHOD_TYPES],
        },
    )


@login_required
@require_POST
def payment_method_make_default(request, account_id: int, method_id: int):
    account = _account(request, account_id)
    method = _method(account, method_id)
    try:
        payment_method_set_default(method_id=method.pk, actor=request.user)
    except ApplicationError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"{method_label(method)} is now your default payment method.")
    return redirect("portal-payment-methods", account.pk)


@login_required
@require_POST
def payment_method_delete(request, account_id: int, method_id: int):
    account = _account(request, account_id)
    method = _method(account, method_id)
    try:
        payment_method_remove(method_id=method.pk, actor=request.user)
    except GatewayUnavailable:
        messages.error(request, GATEWAY_SILENT)
    except ApplicationError as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"{method_label(method)} is removed.")
        if account.collection == Collection.AUTOMATIC and not _active_methods(account.pk).exists():
            messages.warning(request, "With no payment method left, you now pay each invoice yourself.")
    return redirect("portal-payment-methods", account.pk)


def _method_type(request) -> str:
    method_type = request.GET.get("type") or MethodType.CARD
    if method_type not in GATEWAY_METHOD_TYPES:
        raise Http404("No such payment method type.")
    return method_type


@login_required
def payment_method_new(request, account_id: int):
    """Save a card or a bank account: with Stripe, Elements in the browser confirms a SetupIntent and comes back to
    `payment_method_return`; offline, a form takes the details."""
    account = _account(request, account_id)
    method_type = _method_type(request)
    context = {
        "account": account,
        "method_type": method_type,
        "method_type_label": MethodType(method_type).label,
        "method_types": [(value, MethodType(value).label) for value in GATEWAY_METHOD_TYPES],
    }
    if gateway_for().collects_details_with == "stripe":
        return _stripe_setup_page(request, account, method_type, context)
    form_class = METHOD_DETAILS_FORMS[method_type]
    creditor = account.provider.name
    if request.method == "POST":
        form = form_class(request.POST, creditor=creditor)
        if form.is_valid():
            try:
                method = payment_method_add(
                    account_id=account.pk,
                    details=form.details(),
                    make_default=form.cleaned_data["make_default"],
                    actor=request.user,
                )
            except GatewayUnavailable:
                form.add_error(None, GATEWAY_SILENT)
            except ApplicationError as refused:
                form.add_error(None, refused.message)
            else:
                messages.success(request, f"{method_label(method)} is saved.")
                return redirect("portal-payment-methods", account.pk)
    else:
        form = form_class(creditor=creditor, initial={"account_holder_name": account.customer.display_name})
    return render(
        request,
        "billing/payment_method_add.html",
        {**context, "form": form, "test_numbers": _test_numbers(method_type)},
    )


TEST_NUMBER_HEADINGS = {"Cards": MethodType.CARD, "SEPA": MethodType.SEPA_DEBIT, "ACH": MethodType.US_BANK_ACCOUNT}


def _test_numbers(method_type: str) -> str:
    """The offline gateway's test numbers for the type, as its docstring lists them (one source of truth)."""
    lines, current = [], None
    for line in (offline.__doc__ or "").splitlines():
        if line and not line[0].isspace():
            current = next((t for heading, t in TEST_NUMBER_HEADINGS.items() if line.startswith(heading)), None)
        if current == method_type and line.strip():
            lines.append(line.rstrip())
    return "\n".join(lines)


def _stripe_setup_page(request, account: BillingAccount, method_type: str, context: dict):
    if request.method != "GET":
        return redirect(f"{reverse('portal-payment-method-add', args=[account.pk])}?type={method_type}")
    setup, error = None, ""
    if not settings.STRIPE_PUBLISHABLE_KEY:
        logger.error("STRIPE_PUBLISHABLE_KEY is not set: the portal cannot take payment methods")
        error = "Payment methods cannot be added right now. Please try again later."
    else:
        try:
            setup = payment_method_setup_start(account_id=account.pk, method_type=method_type)
        except GatewayUnavailable:
            error = GATEWAY_SILENT
        except ApplicationError as refused:
            error = refused.message
    creditor = account.provider.name
    mandate = ""
    if method_type == MethodType.SEPA_DEBIT:
        mandate = sepa_mandate_text(creditor)
    elif method_type == MethodType.US_BANK_ACCOUNT:
        mandate = ach_authorization_text(creditor)
    return render(
        request,
        "billing/payment_method_add_stripe.html",
        {
            **context,
            "setup": setup,
            "error": error,
            "mandate_text": mandate,
            "holder_name": account.customer.display_name,
            "email": account.invoice_email or account.customer.email,
            "stripe_js_url": settings.STRIPE_JS_URL,
            "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            "return_url": reverse("portal-payment-method-return", args=[account.pk]),
        },
    )


@login_required
@require_GET
def payment_method_return(request, account_id: int):
    """Where the browser comes back once Stripe confirmed the SetupIntent: the method it saved is kept."""
    account = _account(request, account_id)
    setup_reference = request.GET.get("setup_intent", "")
    if not setup_reference.startswith("seti_"):
        messages.error(request, "The payment method was not saved: the confirmation is missing. Please try again.")
        return redirect("portal-payment-methods", account.pk)
    try:
        method = payment_method_add(
            account_id=account.pk,
            setup_reference=setup_reference,
            make_default=request.GET.get("default", "1") == "1",
            actor=request.user,
        )
    except GatewayUnavailable:
        messages.error(request, GATEWAY_SILENT)
    except ApplicationError as refused:
        messages.error(request, f"The payment method was not saved: {refused.message}")
    else:
        messages.success(request, f"{method_label(method)} is saved.")
    return redirect("portal-payment-methods", account.pk)


# --- an invoice and paying it --------------------------------------------------------------------------------


@login_required
@require_GET
def invoice_detail(request, invoice_id: int):
    """One invoice or credit note with its lines and totals; an open one can be paid here with a saved method."""
    invoice = _subscriber_invoice(_customer(request), invoice_id)
    context = {
        "invoice": invoice,
        "lines": invoice_document_lines(invoice),
        "service_addresses": service_addresses(invoice),
    }
    if invoice.kind == InvoiceKind.INVOICE:
        context.update(_payment_context(invoice))
    return render(request, "billing/invoice_detail.html", context)


def _payment_context(invoice: Invoice) -> dict:
    """Where paying the invoice stands: a gateway payment in flight (and what it needs), or the pay form."""
    latest = invoice.payments.exclude(gateway="").select_related("method").order_by("-id").first()
    in_flight = latest if latest is not None and latest.status in IN_FLIGHT_PAYMENT_STATUSES else None
    # A payment waiting for the subscriber's confirmation can be given up for another way (invoice_pay_now).
    waiting = in_flight is not None and in_flight.status == PaymentStatus.REQUIRES_ACTION
    payable = invoice.status in PAYABLE_STATUSES and invoice.open_amount > 0 and (in_flight is None or waiting)
    context = {
        "in_flight": in_flight,
        "last_failed": latest if payable and latest is not None and latest.status == PaymentStatus.FAILED else None,
        "payable": payable,
    }
    if payable:
        methods = _active_methods(invoice.account_id)
        context["pay_form"] = InvoicePayForm(methods=methods) if methods.exists() else None
    if waiting and in_flight.gateway == "stripe":
        context.update(
            stripe_js_url=settings.STRIPE_JS_URL,
            stripe_publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
            return_url=reverse("portal-payment-return", args=[in_flight.pk]),
        )
    return context


def _announce(request, payment: Payment) -> None:
    """Tell the subscriber where their payment stands."""
    amount = f"{payment.amount} {payment.currency}"
    if payment.status == PaymentStatus.SUCCEEDED:
        messages.success(request, f"Thank you: {amount} is paid.")
    elif payment.status == PaymentStatus.PROCESSING:
        messages.info(request, "Your bank debit is on its way; the invoice will show as paid once it clears.")
    elif payment.status == PaymentStatus.REQUIRES_ACTION:
        messages.warning(request, f"Your bank asks you to confirm the payment of {amount}: choose Confirm payment.")
    elif payment.status == PaymentStatus.FAILED:
        messages.error(request, f"The payment failed: {payment.failure_message or payment.failure_code}")
    elif payment.status == PaymentStatus.PENDING:
        messages.info(
            request, "The payment provider has not answered yet. Your payment is being processed; check back shortly."
        )


@login_required
@require_POST
def invoice_pay(request, invoice_id: int):
    """Pay an open invoice now with one of the account's saved methods."""
    invoice = get_object_or_404(
        Invoice.objects.filter(account__customer=_customer(request), kind=InvoiceKind.INVOICE).exclude(number=""),
        pk=invoice_id,
    )
    form = InvoicePayForm(request.POST, methods=_active_methods(invoice.account_id))
    if not form.is_valid():
        messages.error(request, "Choose one of your saved payment methods.")
        return redirect("portal-invoice", invoice.pk)
    try:
        payment = invoice_pay_now(invoice_id=invoice.pk, method_id=form.cleaned_data["method"].pk, actor=request.user)
    except GatewayUnavailable:
        messages.error(request, GATEWAY_SILENT)
    except ApplicationError as refused:
        messages.error(request, refused.message)
    else:
        _announce(request, payment)
    return redirect("portal-invoice", invoice.pk)


@login_required
@require_POST
def payment_confirm(request, payment_id: int):
    """Offline gateway: the subscriber confirms the payment their bank asked about (Stripe.js does this with
    Stripe, then comes back to `payment_return`)."""
    payment = _payment(request, payment_id)
    try:
        payment = payment_authenticate(payment_id=payment.pk, success=True)
    except GatewayUnavailable:
        messages.error(request, GATEWAY_SILENT)
    except ApplicationError as refused:
        messages.error(request, refused.message)
    else:
        _announce(request, payment)
    return _back_to_invoice(payment)


@login_required
@require_GET
def payment_return(request, payment_id: int):
    """Where the browser comes back after Stripe.js confirmed a payment: the gateway is asked where it stands."""
    payment = _payment(request, payment_id)
    try:
        payment = payment_refresh(payment_id=payment.pk)
    except GatewayUnavailable:
        messages.error(request, GATEWAY_SILENT)
    except ApplicationError as refused:
        messages.error(request, refused.message)
    else:
        _announce(request, payment)
    return _back_to_invoice(payment)


def _back_to_invoice(payment: Payment):
    if payment.invoice_id:
        return redirect("portal-invoice", payment.invoice_id)
    return redirect("portal-payments")


# --- payment history and receipts ----------------------------------------------------------------------------


@login_required
@require_GET
def payments(request):
    """The customer's payments on every account, newest first, with their refunds."""
    page = Paginator(
        Payment.objects.filter(account__customer=_customer(request))
        .select_related("invoice", "method", "account__provider")
        .prefetch_related("refunds")
        .order_by("-created_at", "-id"),
        PAYMENTS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    rows = [(payment, method_label(payment.method) if payment.method else "") for payment in page.object_list]
    return render(request, "billing/payments.html", {"page": page, "rows": rows})


@login_required
@require_GET
def payment_receipt(request, payment_id: int):
    """A receipt for money received."""
    payment = get_object_or_404(
        Payment.objects.select_related("invoice__issuer", "method", "account__customer", "account__provider"),
        pk=payment_id,
        account__customer=_customer(request),
        status=PaymentStatus.SUCCEEDED,
    )
    return render(
        request,
        "billing/payment_receipt.html",
        {
            "payment": payment,
            "method": method_label(payment.method) if payment.method else payment.get_method_type_display(),
            "issuer": payment.invoice.issuer if payment.invoice else payment.account.provider,
            "paid_on": payment.received_on or timezone.localdate(payment.settled_at or payment.created_at),
            "reference": payment.charge_reference or payment.reference or payment.external_reference,
            "refunds": list(payment.refunds.order_by("id")),
        },
    )
