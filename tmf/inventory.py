"""TMF638 Service Inventory (your services on the network, their state and characteristics) and TMF678 Customer
Bill (your wholesale statements from the network operator, once issued, as bills to you; and the invoices COS issued
to your subscribers on your billing accounts)."""

from billing.choices import InvoiceStatus
from billing.models import Invoice
from cos.errors import NotFound
from provisioning.choices import ServiceStatus
from provisioning.models import ServiceInstance
from tmf.common import TmfView, href, iso, money, tmf_list, tmf_one, tmf_pages
from wholesale.choices import StatementStatus
from wholesale.models import Statement

SERVICES = "serviceInventory"
BILLS = "customerBillManagement"
SERVICE_STATES = {
    ServiceStatus.PENDING: "designed",
    ServiceStatus.PROVISIONING: "reserved",
    ServiceStatus.ACTIVE: "active",
    ServiceStatus.DEACTIVATING: "active",
    ServiceStatus.INACTIVE: "terminated",
    ServiceStatus.FAILED: "inactive",
    ServiceStatus.CANCELLED: "terminated",
}
BILL_STATES = {StatementStatus.ISSUED: "new", StatementStatus.DISPUTED: "onHold", StatementStatus.SETTLED: "settled"}


def _services(provider):
    return (
        ServiceInstance.objects.filter(provider=provider)
        .select_related("address", "ont", "subscription__product")
        .order_by("pk")
    )


def service_item(service: ServiceInstance) -> dict:
    characteristics = [
        ("serviceProfile", "string", service.service_profile),
        ("downloadMbps", "integer", service.download_mbps),
        ("uploadMbps", "integer", service.upload_mbps),
        ("ontSerial", "string", service.ont.serial if service.ont else None),
        ("cVlan", "integer", service.c_vlan),
        ("networkServiceId", "string", service.network_service_id or None),
    ]
    state = SERVICE_STATES.get(service.status, "reserved")
    item = {
        "id": str(service.pk),
        "href": href(SERVICES, "service", service.pk),
        "name": service.subscription.product.name,
        "category": service.subscription.product.category,
        "serviceType": "fibre access",
        "state": state,
        "isServiceEnabled": state == "active",
        "hasStarted": service.activated_at is not None,
        "serviceCharacteristic": [
            {"name": name, "valueType": kind, "value": value}
            for name, kind, value in characteristics
            if value is not None
        ],
        "place": [{"id": str(service.address_id), "name": service.address.label, "role": "installationAddress"}],
        "relatedEntity": [
            {"id": str(service.subscription_id), "role": "product", "@referredType": "Product", "name": "subscription"}
        ],
        "@type": "Service",
    }
    if service.ont:
        item["supportingResource"] = [{"id": service.ont.serial, "name": "ONT", "@referredType": "PhysicalResource"}]
    if service.activated_at:
        item["startDate"] = iso(service.activated_at)
    if service.deactivated_at:
        item["endDate"] = iso(service.deactivated_at)
    return item


class ServiceList(TmfView):
    def get(self, request):
        return tmf_list(request, [service_item(s) for s in _services(request.provider)])


class ServiceDetail(TmfView):
    def get(self, request, pk: str):
        service = _services(request.provider).filter(pk=int(pk)).first() if str(pk).isdigit() else None
        if service is None:
            raise NotFound(f"No service {pk} of yours.")
        return tmf_one(request, service_item(service))


def _statements(provider):
    return (
        Statement.objects.filter(provider=provider, status__in=list(BILL_STATES))
        .select_related("operator")
        .order_by("-month", "-pk")
    )


def bill_item(statement: Statement) -> dict:
    next_month = statement.month.replace(
        year=statement.month.year + (statement.month.month == 12), month=statement.month.month % 12 + 1
    )
    item = {
        "id": str(statement.pk),
        "href": href(BILLS, "customerBill", statement.pk),
        "billNo": statement.number,
        "category": "wholesale statement",
        "runType": "onCycle",
        "state": BILL_STATES[statement.status],
        "billingPeriod": {
            "startDateTime": f"{statement.month.isoformat()}T00:00:00Z",
            "endDateTime": f"{next_month.isoformat()}T00:00:00Z",
        },
        "taxExcludedAmount": money(statement.subtotal, statement.currency),
        "taxIncludedAmount": money(statement.total, statement.currency),
        "amountDue": money(statement.total, statement.currency),
        "remainingAmount": money(
            0 if statement.status == StatementStatus.SETTLED else statement.total, statement.currency
        ),
        "taxItem": [
            {
                "taxCategory": "VAT",
                "taxRate": float(statement.tax_rate),
                "taxAmount": money(statement.tax, statement.currency),
            }
        ],
        "relatedParty": [
            {
                "id": str(statement.operator_id),
                "name": statement.operator.name,
                "role": "issuer",
                "@referredType": "Organization",
            }
        ],
        "billDocument": [
            {
                "id": f"{statement.pk}-pdf",
                "name": f"{statement.number}.pdf",
                "mimeType": "application/pdf",
                "url": f"/api/v1/statements/{statement.pk}/pdf/",
                "@type": "Attachment",
            }
        ],
        "@type": "CustomerBill",
    }
    if statement.issued_on:
        item["billDate"] = f"{statement.issued_on.isoformat()}T00:00:00Z"
    if statement.due_on:
        item["paymentDueDate"] = f"{statement.due_on.isoformat()}T00:00:00Z"
    if statement.settled_at:
        item["lastUpdate"] = iso(statement.settled_at)
    return item


# The subscriber invoices COS issues for the provider's billing accounts, once finalized (a void one is withdrawn).
INVOICE_STATES = {
    InvoiceStatus.OPEN: "sent",
    InvoiceStatus.LATE: "sent",
    InvoiceStatus.PROCESSING: "sent",
    InvoiceStatus.PAID: "settled",
    InvoiceStatus.UNCOLLECTIBLE: "onHold",
}


def _invoices(provider):
    return (
        Invoice.objects.filter(account__provider=provider, status__in=list(INVOICE_STATES))
        .select_related("account__customer", "issuer")
        .order_by("-issued_on", "-pk")
    )


def invoice_item(invoice: Invoice) -> dict:
    pk = f"invoice-{invoice.pk}"
    open_amount = max(invoice.total - invoice.amount_paid, 0) if invoice.status != InvoiceStatus.PAID else 0
    state = INVOICE_STATES[invoice.status]
    if state == "sent" and invoice.amount_paid > 0:
        state = "partiallyPaid"
    customer = invoice.account.customer
    item = {
        "id": pk,
        "href": href(BILLS, "customerBill", pk),
        "billNo": invoice.number,
        "category": "subscriber credit note" if invoice.kind == "credit_note" else "subscriber invoice",
        "runType": "onCycle" if invoice.run_id else "offCycle",
        "state": state,
        "taxExcludedAmount": money(invoice.subtotal, invoice.currency),
        "taxIncludedAmount": money(invoice.total, invoice.currency),
        "amountDue": money(invoice.total, invoice.currency),
        "remainingAmount": money(open_amount, invoice.currency),
        "taxItem": [
            {
                "taxCategory": "VAT",
                "taxRate": float(invoice.tax_rate),
                "taxAmount": money(invoice.tax, invoice.currency),
            }
        ],
        "billingAccount": {
            "id": str(invoice.account_id),
            "name": customer.display_name,
            "@referredType": "BillingAccount",
        },
        "relatedParty": [
            {"id": str(customer.pk), "name": customer.display_name, "role": "customer", "@referredType": "Individual"},
            {
                "id": str(invoice.issuer_id),
                "name": invoice.issuer.name,
                "role": "issuer",
                "@referredType": "Organization",
            },
        ],
        "@type": "CustomerBill",
    }
    if invoice.issued_on:
        item["billDate"] = f"{invoice.issued_on.isoformat()}T00:00:00Z"
    if invoice.due_on:
        item["paymentDueDate"] = f"{invoice.due_on.isoformat()}T00:00:00Z"
    return item


class BillList(TmfView):
    """The wholesale statements (the operator's bills to you), then the subscriber invoices of your accounts."""

    def get(self, request):
        statements, invoices = _statements(request.provider), _invoices(request.provider)
        return tmf_pages(
            request,
            [
                (statements.count(), lambda offset, limit: [bill_item(s) for s in statements[offset : offset + limit]]),
                (invoices.count(), lambda offset, limit: [invoice_item(i) for i in invoices[offset : offset + limit]]),
            ],
        )


class BillDetail(TmfView):
    def get(self, request, pk: str):
        pk = str(pk)
        if pk.startswith("invoice-") and pk[8:].isdigit():
            invoice = _invoices(request.provider).filter(pk=int(pk[8:])).first()
            if invoice is not None:
                return tmf_one(request, invoice_item(invoice))
        statement = _statements(request.provider).filter(pk=int(pk)).first() if pk.isdigit() else None
        if statement is None:
            raise NotFound(f"No bill {pk} of yours.")
        return tmf_one(request, bill_item(statement))
