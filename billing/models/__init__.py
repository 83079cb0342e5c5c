from billing.models.accounts import BillingAccount, BillingConfig, BillingSchedule, Pause, RateChange, ReasonCode
from billing.models.invoices import BillingRun, Invoice, InvoiceLine, InvoiceSequence, PricingOverride
from billing.models.payments import (
    CreditEntry,
    Dispute,
    DunningSuspension,
    GatewayEvent,
    Payment,
    PaymentMethod,
    Refund,
)

__all__ = [
    "CreditEntry",
    "Dispute",
    "DunningSuspension",
    "GatewayEvent",
    "Payment",
    "PaymentMethod",
    "Refund",
    "BillingAccount",
    "BillingConfig",
    "BillingRun",
    "BillingSchedule",
    "Invoice",
    "InvoiceLine",
    "InvoiceSequence",
    "Pause",
    "PricingOverride",
    "RateChange",
    "ReasonCode",
]
