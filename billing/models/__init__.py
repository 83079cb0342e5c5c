from billing.models.accounts import BillingAccount, BillingConfig, BillingSchedule, Pause, RateChange, ReasonCode
from billing.models.invoices import BillingRun, Invoice, InvoiceLine, InvoiceSequence, PricingOverride

__all__ = [
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
