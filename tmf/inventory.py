"""TMF638 Service Inventory (your services on the network, their state and characteristics) and TMF678 Customer
Bill (your wholesale statements from the network operator, once issued, as bills to you)."""

from cos.errors import NotFound
from provisioning.choices import ServiceStatus
from provisioning.models import ServiceInstance
from tmf.common import TmfView, href, iso, money, tmf_list, tmf_one
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


class BillList(TmfView):
    def get(self, request):
        return tmf_list(request, [bill_item(s) for s in _statements(request.provider)])


class BillDetail(TmfView):
    def get(self, request, pk: str):
        statement = _statements(request.provider).filter(pk=int(pk)).first() if str(pk).isdigit() else None
        if statement is None:
            raise NotFound(f"No bill {pk} of yours.")
        return tmf_one(request, bill_item(statement))
