"""The billing admin: rules, accounts and invoices (billing.admin.invoices); payments and their records
(billing.admin.payments)."""

from billing.admin import invoices, payments  # noqa: F401 - registers the admin classes
